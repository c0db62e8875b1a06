// The backups output contract: what the backup side exports (exportedFields + the RPO fields, as
// index.ts merges them) parses; what the restore side could not use is refused with its path.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exportedFields, parseLatestResult, parseTreeResult } from "../../components/copy-result";
import {
  isDump,
  manifests,
  parseBackupsOutput,
  parseFingerprintsOutput,
} from "../../components/shared/outputs";

const SHA = (c: string) => c.repeat(64);
const RPO = { capturedAt: "2026-12-07T00:00:00Z", rpoSeconds: 0 };

// The backup side's own result parsers and field export, so a change there shows up here.
const dump = {
  ...exportedFields(
    parseLatestResult(
      `{"kind":"latest","bucket":"im-fragalysis","key":"db/backup-2026-12-07T00:00:00Z-dumpall.sql.gz","size":1234,"sha256":"${SHA("a")}","source":"/nfs/db/backup-2026-12-07T00:00:00Z-dumpall.sql.gz","sourceTime":"2026-12-07T00:00:00Z"}`,
      "database",
    ),
  ),
  ...RPO,
};
const tree = {
  ...exportedFields(
    parseTreeResult(
      `{"bucket":"im-fragalysis","prefix":"media/","files":10,"bytes":2048,"uploaded":4,"skipped":6,"manifestKey":"media/.relocation-manifest/shard-0-of-1.jsonl","manifestSha256":"${SHA("b")}"}`,
      "media",
    ),
  ),
  capturedAt: null,
  rpoSeconds: null,
};

describe("backups output contract", () => {
  it("the backup side's dump and tree entries = parsed, kinds told apart", () => {
    const out = parseBackupsOutput(JSON.stringify({ database: dump, media: tree }));
    assert.ok(isDump(out.database!));
    assert.equal(isDump(out.media!), false);
    assert.deepEqual(out.database, dump);
    assert.deepEqual(manifests(out.media as Parameters<typeof manifests>[0]), [
      { key: "media/.relocation-manifest/shard-0-of-1.jsonl", sha256: SHA("b") },
    ]);
  });

  it("sharded manifests = one {key, sha256} per shard, in order", () => {
    const out = parseBackupsOutput({
      media: {
        ...tree,
        manifestKey: "m/a.jsonl m/b.jsonl",
        manifestSha256: `${SHA("1")} ${SHA("2")}`,
      },
    });
    assert.deepEqual(manifests(out.media as Parameters<typeof manifests>[0]), [
      { key: "m/a.jsonl", sha256: SHA("1") },
      { key: "m/b.jsonl", sha256: SHA("2") },
    ]);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["dump sha256 not hex", { ...dump, sha256: "xyz" }, /backups\.database.*SHA-256/],
    ["dump size as a string", { ...dump, size: "1234" }, /backups\.database/],
    ["dump without key or prefix", { ...dump, key: undefined }, /backups\.database/],
    ["unknown field", { ...dump, extra: 1 }, /backups\.database/],
    ["manifestKey without its sha256", { ...tree, manifestSha256: undefined }, /go together/],
    ["two keys, one checksum", { ...tree, manifestKey: "a b" }, /one checksum per key/],
    ["capturedAt not UTC ISO-8601", { ...dump, capturedAt: "yesterday" }, /UTC ISO-8601/],
  ];
  for (const [name, entry, pattern] of bad) {
    it(`${name} = refused naming the entry`, () => {
      assert.throws(() => parseBackupsOutput({ database: entry }), pattern);
    });
  }
});

describe("fingerprints output contract", () => {
  const fp = {
    at: "2026-12-07T00:01:00Z",
    databases: { frag: { tables: 2, rows: 153, sha256: SHA("c") } },
  };

  it("the old side's result = parsed as is (JSON text too)", () => {
    assert.deepEqual(parseFingerprintsOutput(JSON.stringify({ "stack-db": fp })), {
      "stack-db": fp,
    });
  });

  const bad: [string, unknown, RegExp][] = [
    [
      "rows negative",
      { ...fp, databases: { frag: { tables: 2, rows: -1, sha256: SHA("c") } } },
      /fingerprints\.db\.databases\.frag\.rows/,
    ],
    [
      "per-table detail instead of the summary",
      { ...fp, databases: { frag: { "public.t": { rows: 1, sha256: SHA("c") } } } },
      /fingerprints\.db\.databases\.frag/,
    ],
    ["no at", { databases: fp.databases }, /fingerprints\.db\.at/],
  ];
  for (const [name, entry, pattern] of bad) {
    it(`${name} = refused naming the entry`, () => {
      assert.throws(() => parseFingerprintsOutput({ db: entry }), pattern);
    });
  }
});
