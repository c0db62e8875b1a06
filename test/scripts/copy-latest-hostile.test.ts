// copy-latest.sh against hostile input, table-driven: names that tools escape, impossible times,
// octal-looking numbers, a dump rewritten between hashing and upload (single PUT and multipart)
// and the re-run that must recover from it without anyone deleting the object.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import {
  SCRIPTS,
  dumpText,
  getObject,
  headObject,
  listObjects,
  setAge,
  sha256,
  writeBackup,
} from "../helpers/fixtures";
import { lastJson, oneErrorLine, run, type RunResult } from "../helpers/run";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";

const BUCKET = "relocation-latest-hostile";
const s3 = useMotoBucket(BUCKET);

const copy = (dir: string, prefix: string, extra: Record<string, string> = {}) =>
  run("bash", [path.join(SCRIPTS, "copy-latest.sh")], {
    env: { ...s3.env, SOURCE_DIR: dir, DEST_URI: `s3://${BUCKET}/${prefix}`, ...extra },
  });
const failed = (r: RunResult) => oneErrorLine(r, "copy-latest");

describe("copy-latest.sh checksums of names tools escape", () => {
  for (const [name, dirName] of [
    ["backslash in the directory", "back\\slash"],
    ["newline in the directory", "new\nline"],
    ["leading dash", "-dir"],
  ] as const) {
    it(`${name} = the recorded sha256 is the content's`, async () => {
      const dir = path.join(tempDir("esc"), dirName);
      execFileSync("mkdir", ["-p", "--", dir]);
      const file = writeBackup(dir, "2023-10-16T12:07:01Z", "-- dump\n");
      const r = await copy(dir, `esc-${name.length}/`);
      assert.equal(r.code, 0, r.stderr);
      const result = lastJson<{ sha256: string; key: string }>(r.stdout);
      assert.equal(result.sha256, sha256(readFileSync(file)));
      assert.equal((await headObject(s3.env, BUCKET, result.key)).Metadata.sha256, result.sha256);
    });
  }
});

describe("copy-latest.sh settings refused", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "NOT_BEFORE 30 February",
      { NOT_BEFORE: "2023-02-30T00:00:00Z" },
      /NOT_BEFORE must be a real UTC time .*got '2023-02-30T00:00:00Z'/,
    ],
    [
      "NOT_BEFORE hour 24",
      { NOT_BEFORE: "2023-10-16T24:00:00Z" },
      /NOT_BEFORE must be a real UTC time/,
    ],
    [
      "NOT_BEFORE second 60",
      { NOT_BEFORE: "2023-10-16T12:00:60Z" },
      /NOT_BEFORE must be a real UTC time/,
    ],
    [
      "MIN_AGE_SECONDS 0120 (octal to bash)",
      { MIN_AGE_SECONDS: "0120" },
      /MIN_AGE_SECONDS must be a whole decimal number without leading zeros, got '0120'/,
    ],
    [
      "MIN_AGE_SECONDS 09",
      { MIN_AGE_SECONDS: "09" },
      /MIN_AGE_SECONDS must be a whole decimal number/,
    ],
    [
      "SINGLE_PUT_MAX_BYTES 0",
      { SINGLE_PUT_MAX_BYTES: "0" },
      /SINGLE_PUT_MAX_BYTES must be at least 1/,
    ],
    [
      "SINGLE_PUT_MAX_BYTES over 5 GiB",
      { SINGLE_PUT_MAX_BYTES: "6000000000" },
      /SINGLE_PUT_MAX_BYTES must be at most 5368709120/,
    ],
    [
      "KEY_WAIT_SECONDS 1.5",
      { KEY_WAIT_SECONDS: "1.5" },
      /KEY_WAIT_SECONDS must be a whole decimal number/,
    ],
    [
      "DEST_URI with '..'",
      { DEST_URI: `s3://${BUCKET}/a/../b/` },
      /DEST_URI has a '\.\.' path segment/,
    ],
  ];
  for (const [name, settings, message] of cases) {
    it(`${name} = exit 1, one line`, async () => {
      const dir = tempDir("settings");
      writeBackup(dir, "2023-10-16T12:07:01Z", "x\n");
      assert.match(
        failed(
          await copy(dir, "settings/", { AWS_ENDPOINT_URL: "http://127.0.0.1:1", ...settings }),
        ),
        message,
      );
    });
  }

  it("a dump named with an impossible time = skipped with its reason, the real one copied", async () => {
    const dir = tempDir("times");
    writeBackup(dir, "2023-10-16T12:07:01Z", "real\n");
    writeBackup(dir, "2023-13-45T99:00:00Z", "impossible\n");
    const r = await copy(dir, "times/");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /skip backup-2023-13-45T99:00:00Z-dumpall\.sql\.gz: 2023-13-45T99:00:00Z in its name is not a real time/,
    );
    assert.equal(lastJson<{ sourceTime: string }>(r.stdout).sourceTime, "2023-10-16T12:07:01Z");
  });
});

describe("copy-latest.sh: dump rewritten between hashing and upload", () => {
  for (const [kind, bytes, extra] of [
    ["single PUT", 64 * 1024, {}],
    [
      "multipart",
      11 * 1024 * 1024,
      {
        SINGLE_PUT_MAX_BYTES: "1048576",
        MULTIPART_THRESHOLD_BYTES: "8388608",
        MULTIPART_CHUNKSIZE_BYTES: "5242880",
      },
    ],
  ] as const) {
    it(`${kind} = exit 1, no result; re-run replaces the torn object and records the right sha256`, async () => {
      const dir = tempDir("torn");
      const file = writeBackup(dir, "2023-10-16T12:07:01Z", randomBytes(bytes));
      const replacement = path.join(tempDir("repl"), "r.gz");
      // A same-size valid dump is not needed: the wrapper swaps the bytes after the check passed.
      writeFileSync(
        replacement,
        Buffer.concat([
          readFileSync(file).subarray(0, 10),
          randomBytes(readFileSync(file).length - 10),
        ]),
      );
      const real = execFileSync("bash", ["-c", "command -v aws"]).toString().trim();
      const bin = tempDir("bin");
      // Before the upload (put-object or s3 cp), the dump's content changes in place, same size.
      writeFileSync(
        path.join(bin, "aws"),
        `#!/bin/bash\nif [[ " $* " == *" put-object "* || " $* " == *" s3 cp "* ]] && [[ ! -e ${JSON.stringify(replacement + ".done")} ]]; then cat ${JSON.stringify(replacement)} >${JSON.stringify(file)}; touch ${JSON.stringify(replacement + ".done")}; fi\nexec ${JSON.stringify(real)} "$@"\n`,
        { mode: 0o755 },
      );
      const prefix = `torn-${bytes}/`;
      const r1 = await copy(dir, prefix, { ...extra, PATH: `${bin}:${process.env.PATH}` });
      assert.match(failed(r1), /changed between hashing and upload/);
      assert.equal(r1.stdout.trim(), "");
      // What the failed run left under the key fails the rule a restore applies (README): its
      // bytes do not hash to its x-amz-meta-sha256. (The copy identity cannot delete it.) Moto
      // keeps a single PUT whose body misses its x-amz-checksum-sha256 (real S3 refuses it);
      // then the aws CLI's download already refuses it for that checksum.
      for (const o of await listObjects(s3.env, BUCKET, prefix)) {
        const meta = (await headObject(s3.env, BUCKET, o.Key)).Metadata as { sha256?: string };
        let left: Buffer;
        try {
          left = await getObject(s3.env, BUCKET, o.Key, path.join(tempDir("left"), "x"));
        } catch (e) {
          assert.match(String(e), /did not match calculated checksum/);
          continue;
        }
        assert.notEqual(sha256(left), meta.sha256, `${o.Key} would pass for the backup`);
      }
      // The file is now stable (but not gzip any more: put a good dump of its own in place).
      const good = gzipSync(dumpText(randomBytes(bytes)));
      writeFileSync(file, good);
      setAge(file, 3600);
      const r2 = await copy(dir, prefix, extra);
      assert.equal(r2.code, 0, r2.stderr);
      assert.match(r2.stderr, /torn upload/);
      const result = lastJson<{ key: string; sha256: string }>(r2.stdout);
      assert.equal(result.sha256, sha256(good));
      const got = await getObject(s3.env, BUCKET, result.key, path.join(tempDir("dl"), "x"));
      assert.equal(sha256(got), sha256(good));
      assert.equal((await headObject(s3.env, BUCKET, result.key)).Metadata.sha256, sha256(good));
    });
  }
});
