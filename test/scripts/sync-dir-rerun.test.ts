// scripts/sync-dir.sh, issue 20: a re-run reads only what changed. Reads are counted by wrappers
// on PATH around the tools that read a file to hash it (cp for small files, dd for multipart
// ones), so no timing decides anything. Real aws CLI, rclone and moto.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { createHash } from "node:crypto";
import { SCRIPTS, getObject, putObject } from "../helpers/fixtures";
import { lastJson, run } from "../helpers/run";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";
import { wrapperBin } from "../helpers/wrapper-bin";

const BUCKET = "relocation-rerun";
// 12 MiB goes multipart (3 parts of 5 MiB): the dd path; the rest the batch copy (cp) path.
const MULTIPART = { MULTIPART_THRESHOLD_BYTES: "8388608", MULTIPART_CHUNKSIZE_BYTES: "5242880" };
const BIG = 12 * 1024 * 1024;
const s3 = useMotoBucket(BUCKET);

/**
 * Wrappers that append each file they are asked to read to `log` (NUL-separated, as the script
 * names them: relative to SOURCE_DIR), then run the real tool. cp only when it copies for
 * hashing (-R); dd's if=./<rel>.
 */
function readCounter(log: string): string {
  return wrapperBin({
    cp: [
      `if [[ " $* " == *" -R "* ]]; then`,
      `  seen=0`,
      `  for a in "$@"; do`,
      `    if ((seen)); then printf '%s\\0' "$a" >>"${log}"; fi`,
      `    [[ "$a" != -- ]] || seen=1`,
      `  done`,
      `fi`,
      `exec "$REAL" "$@"`,
    ].join("\n"),
    dd: [
      `for a in "$@"; do`,
      `  if [[ "$a" == if=./* ]]; then printf '%s\\0' "\${a#if=./}" >>"${log}"; fi`,
      `done`,
      `exec "$REAL" "$@"`,
    ].join("\n"),
  });
}

interface Result {
  uploaded: number;
  skipped: number;
  hashed: number;
  manifestKey: string;
  manifestSha256: string;
}

const md5 = (b: Buffer | string) => createHash("md5").update(b).digest("hex");

/** Keys with an unfinished multipart upload under a prefix. */
async function unfinished(prefix: string): Promise<string[]> {
  const r = await run(
    "aws",
    [
      "s3api",
      "list-multipart-uploads",
      "--bucket",
      BUCKET,
      "--prefix",
      prefix,
      "--query",
      "Uploads[].Key",
    ],
    { env: s3.env },
  );
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout.trim() || "null") as string[] | null) ?? [];
}

for (const tool of ["aws", "rclone"]) {
  describe(`sync-dir.sh re-run reads only what changed (${tool})`, () => {
    const root = tempDir(`sync-dir-rerun-${tool}-`);
    const work = tempDir(`sync-dir-rerun-work-${tool}-`);
    const prefix = `rerun-${tool}/`;
    const log = path.join(work, "reads");
    const bin = readCounter(log);

    /** One run; returns its result, the files it read (sorted) and the manifest's bytes. */
    async function syncDir(extra: Record<string, string> = {}) {
      writeFileSync(log, "");
      const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
        env: {
          ...s3.env,
          ...MULTIPART,
          PATH: `${bin}:${process.env.PATH}`,
          SYNC_TOOL: tool,
          SOURCE_DIR: root,
          DEST_URI: `s3://${BUCKET}/${prefix}`,
          ...extra,
        },
      });
      assert.equal(r.code, 0, r.stderr);
      const result = lastJson<Result>(r.stdout);
      const reads = readFileSync(log, "latin1").split("\0").filter(Boolean).sort();
      const manifest = await getObject(s3.env, BUCKET, result.manifestKey, path.join(work, "m"));
      return { result, reads, manifest, stderr: r.stderr };
    }

    const ALL = ["a.txt", "big.bin", "d/b.txt", "d/c.txt", "d/e f.txt"];
    let first: Awaited<ReturnType<typeof syncDir>>;

    before(() => {
      mkdirSync(path.join(root, "d"));
      writeFileSync(path.join(root, "a.txt"), "alpha");
      writeFileSync(path.join(root, "d", "b.txt"), "BBBBBBBB");
      writeFileSync(path.join(root, "d", "c.txt"), "gamma");
      writeFileSync(path.join(root, "d", "e f.txt"), "epsilon");
      writeFileSync(path.join(root, "big.bin"), Buffer.alloc(BIG, 7));
    });

    it("first run = every file read once", async () => {
      first = await syncDir();
      assert.deepEqual(first.reads, ALL);
      assert.equal(first.result.hashed, ALL.length);
      assert.equal(first.result.uploaded, ALL.length);
    });

    it("no change = no file read or sent, manifest byte-identical", async () => {
      const again = await syncDir();
      assert.deepEqual(again.reads, []);
      assert.equal(again.result.hashed, 0);
      assert.equal(again.result.uploaded, 0);
      assert.equal(again.result.skipped, ALL.length);
      assert.ok(again.manifest.equals(first.manifest), "the manifest changed");
      assert.equal(again.result.manifestSha256, first.result.manifestSha256);
      assert.match(again.stderr, /manifest .* unchanged/);
    });

    it("same size, mtime restored, a new file = exactly those read (ctime gives it away)", async () => {
      const b = path.join(root, "d", "b.txt");
      const ref = path.join(work, "ref");
      execFileSync("touch", ["-r", b, ref]);
      const mtimeBefore = statSync(b, { bigint: true }).mtimeNs;
      writeFileSync(b, "XXXXXXXX"); // same 8 bytes
      execFileSync("touch", ["-r", ref, b]);
      assert.equal(statSync(b, { bigint: true }).mtimeNs, mtimeBefore, "mtime not restored");
      writeFileSync(path.join(root, "d", "c.txt"), "gamma, longer"); // an ordinary edit
      writeFileSync(path.join(root, "new.txt"), "new");
      const changed = await syncDir();
      assert.deepEqual(changed.reads, ["d/b.txt", "d/c.txt", "new.txt"]);
      assert.equal(changed.result.hashed, 3);
      assert.equal(changed.result.uploaded, 3);
      const entry = changed.manifest
        .toString()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { path: string; etag: string })
        .find((e) => e.path === "d/b.txt")!;
      assert.equal(entry.etag, md5("XXXXXXXX"));
      const stored = await getObject(s3.env, BUCKET, `${prefix}d/b.txt`, path.join(work, "b"));
      assert.equal(stored.toString(), "XXXXXXXX");
    });

    it("REHASH=true = every file read again, nothing sent, same manifest", async () => {
      const current = await syncDir();
      assert.deepEqual(current.reads, []);
      const full = await syncDir({ REHASH: "true" });
      assert.deepEqual(full.reads, [...ALL, "new.txt"].sort());
      assert.equal(full.result.hashed, ALL.length + 1);
      assert.equal(full.result.uploaded, 0);
      assert.ok(full.manifest.equals(current.manifest), "the manifest changed");
    });

    it("an unfinished multipart upload of a recorded file = aborted by a no-change re-run", async () => {
      const created = await run(
        "aws",
        ["s3api", "create-multipart-upload", "--bucket", BUCKET, "--key", `${prefix}a.txt`],
        { env: s3.env },
      );
      assert.equal(created.code, 0, created.stderr);
      assert.deepEqual(await unfinished(prefix), [`${prefix}a.txt`]);
      const r = await syncDir();
      assert.deepEqual(r.reads, []);
      assert.equal(r.result.uploaded, 0);
      assert.deepEqual(await unfinished(prefix), []);
      assert.match(r.stderr, /aborted 1 incomplete multipart upload/);
    });

    it("a manifest without its recorded SHA-256 = not trusted, every file read again", async () => {
      const current = await syncDir();
      const sha = createHash("sha256").update(current.manifest).digest("hex");
      // One byte more (a corrupted or edited copy) under the SHA-256 of what was stored.
      const forged = path.join(work, "forged");
      writeFileSync(forged, Buffer.concat([current.manifest, Buffer.from("\n")]));
      await putObject(s3.env, BUCKET, current.result.manifestKey, forged, [
        "--metadata",
        `sha256=${sha}`,
      ]);
      const r = await syncDir();
      assert.deepEqual(r.reads, [...ALL, "new.txt"].sort());
      assert.equal(r.result.uploaded, 0);
      assert.match(
        r.stderr,
        /does not have its recorded SHA-256 .*: not used, its files are read again/,
      );
      assert.ok(r.manifest.equals(current.manifest), "the manifest was not restored");
    });
  });
}
