// The tree result's manifest fields (key + SHA-256) as parsed, merged over shards and exported,
// and the allowEmpty and rehash settings passed to sync-dir.sh.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  copySettings,
  exportedFields,
  parseShardResults,
  parseTreeResult,
} from "../../components/copy-result";
import { mediaFixture, TARGET } from "../helpers/copy-fixtures";

const SHA = (c: string) => c.repeat(64);
const tree = (extra: string) =>
  `{"bucket":"im-fragalysis","prefix":"media/","files":10,"bytes":2048,"uploaded":4,"skipped":6${extra}}`;
const MANIFEST = `,"manifestKey":"media/.relocation-manifest/shard-0-of-1.jsonl","manifestSha256":"${SHA("b")}"`;

describe("tree result manifest", () => {
  it("manifest fields = parsed and exported", () => {
    const r = parseTreeResult(tree(MANIFEST), "media");
    assert.deepEqual(exportedFields(r), {
      bucket: "im-fragalysis",
      prefix: "media/",
      files: 10,
      bytes: 2048,
      manifestKey: "media/.relocation-manifest/shard-0-of-1.jsonl",
      manifestSha256: SHA("b"),
    });
  });

  it("no manifest fields (older script) = exported without them", () => {
    assert.deepEqual(Object.keys(exportedFields(parseTreeResult(tree(""), "media"))), [
      "bucket",
      "prefix",
      "files",
      "bytes",
    ]);
  });

  const bad: [string, string, RegExp][] = [
    ["key without checksum", `,"manifestKey":"k"`, /"manifestSha256" must be a non-empty string/],
    ["checksum without key", `,"manifestSha256":"${SHA("b")}"`, /"manifestKey" must be/],
    ["checksum not hex", `,"manifestKey":"k","manifestSha256":"xyz"`, /not a hex SHA-256/],
  ];
  for (const [name, extra, message] of bad) {
    it(`${name} = error naming the backup`, () => {
      assert.throws(
        () => parseTreeResult(tree(extra), "media"),
        (e: Error) => {
          assert.match(e.message, /^backup media: /);
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }

  it("two shards = both manifests, in shard order, space-separated", () => {
    const shard = (i: number, c: string) =>
      `{"bucket":"b","prefix":"m/","files":1,"bytes":5,"uploaded":1,"skipped":0,"verifiedAt":"2026-01-01T00:00:0${i}Z","shard":${i},"shards":2,"treeFiles":2,"treeBytes":10,"manifestKey":"m/.relocation-manifest/shard-${i}-of-2.jsonl","manifestSha256":"${SHA(c)}"}`;
    const merged = parseShardResults(`${shard(1, "d")}\n${shard(0, "c")}\n`, 2, "media");
    const out = exportedFields(merged);
    assert.equal(
      out.manifestKey,
      "m/.relocation-manifest/shard-0-of-2.jsonl m/.relocation-manifest/shard-1-of-2.jsonl",
    );
    assert.equal(out.manifestSha256, `${SHA("c")} ${SHA("d")}`);
  });
});

describe("allowEmpty setting", () => {
  it("allowEmpty true = ALLOW_EMPTY_TREE=true; default = not set (the script refuses)", () => {
    const on = copySettings(mediaFixture({ allowEmpty: true }), TARGET, "/src");
    assert.equal(on.ALLOW_EMPTY_TREE, "true");
    const off = copySettings(mediaFixture(), TARGET, "/src");
    assert.equal(off.ALLOW_EMPTY_TREE, undefined);
  });
});

describe("rehash setting", () => {
  it("rehash true = REHASH=true; default = not set (the previous manifest vouches)", () => {
    assert.equal(copySettings(mediaFixture({ rehash: true }), TARGET, "/src").REHASH, "true");
    assert.equal(copySettings(mediaFixture({ rehash: false }), TARGET, "/src").REHASH, undefined);
    assert.equal(copySettings(mediaFixture(), TARGET, "/src").REHASH, undefined);
  });
});
