// scripts/sync-dir.sh for real: the aws CLI against moto_server on fixture trees, including an
// S3 outage in the middle of a run.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, existsSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
  SCRIPTS,
  listObjects,
  putObject,
  snapshotTree,
  writeManyFiles,
  writeMediaTree,
  type TreeFile,
} from "../helpers/fixtures";
import { lastJson, run, type RunResult } from "../helpers/run";
import { S3Proxy } from "../helpers/s3-proxy";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";

/** Where a tool is on PATH (synchronously: run() can race a command that exits at once). */
const which = (tool: string) =>
  execFileSync("bash", ["-c", `command -v ${tool}`])
    .toString()
    .trim();

const BUCKET = "relocation-media";
const SECRET = "never-printed-secret-fedcba9876543210";
// Small multipart settings so the 12 MiB fixture file goes multipart (3 parts).
const MULTIPART = { MULTIPART_THRESHOLD_BYTES: "8388608", MULTIPART_CHUNKSIZE_BYTES: "5242880" };
const s3 = useMotoBucket(BUCKET, { AWS_SECRET_ACCESS_KEY: SECRET });

interface Result {
  bucket: string;
  prefix: string;
  files: number;
  bytes: number;
  uploaded: number;
  skipped: number;
  verifiedAt: string;
  tool: string;
  shard: number;
  shards: number;
  treeFiles: number;
  treeBytes: number;
}

/** The counts every result has, without the time and the tool. */
function counts(r: Result) {
  const { bucket, prefix, files, bytes, uploaded, skipped } = r;
  return { bucket, prefix, files, bytes, uploaded, skipped };
}

async function syncDir(
  source: string,
  prefix: string,
  extraEnv: Record<string, string> = {},
): Promise<RunResult> {
  const before = snapshotTree(source);
  const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
    env: {
      ...s3.env,
      ...MULTIPART,
      SYNC_TOOL: "aws", // the Job image's tool; rclone has its own cases below
      SOURCE_DIR: source,
      DEST_URI: `s3://${BUCKET}/${prefix}`,
      ...extraEnv,
    },
  });
  assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), "secret printed");
  assert.deepEqual(snapshotTree(source), before, "the run changed SOURCE_DIR");
  return r;
}

function success(r: RunResult): Result {
  assert.equal(r.code, 0, r.stderr);
  return lastJson<Result>(r.stdout);
}

function failure(r: RunResult): string {
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.match(lines[lines.length - 1]!, /^sync-dir: ERROR: /);
  assert.equal(lines.filter((l) => l.includes("ERROR:")).length, 1, r.stderr);
  return lines[lines.length - 1]!;
}

/** Objects under a prefix as "relative key size", sorted. */
async function stored(prefix: string): Promise<string[]> {
  return (await treeObjects(prefix)).map((o) => `${o.Key.slice(prefix.length)} ${o.Size}`);
}

/** The tree's objects under a prefix, without the manifests. */
async function treeObjects(prefix: string) {
  return (await listObjects(s3.env, BUCKET, prefix)).filter(
    (o) => !o.Key.startsWith(`${prefix}.relocation-manifest/`),
  );
}

const expected = (files: TreeFile[]) => files.map((f) => `${f.rel} ${f.size}`).sort();

describe("sync-dir.sh", () => {
  it("media tree = every regular file at prefix + path with its size; links not copied", async () => {
    const root = tempDir("media");
    const files = writeMediaTree(root);
    const started = new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const r = await syncDir(root, "media/");
    const result = success(r);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    assert.match(result.verifiedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(result.verifiedAt >= started, `verifiedAt ${result.verifiedAt} before ${started}`);
    assert.deepEqual(
      { tool: result.tool, shard: result.shard, shards: result.shards },
      { tool: "aws", shard: 0, shards: 1 },
    );
    assert.deepEqual([result.treeFiles, result.treeBytes], [files.length, bytes]);
    assert.deepEqual(counts(result), {
      bucket: BUCKET,
      prefix: "media/",
      files: files.length,
      bytes,
      uploaded: files.length,
      skipped: 0,
    });
    assert.deepEqual(await stored("media/"), expected(files));
    assert.match(
      r.stderr,
      /not copied: 2 symbolic link\(s\) \(not followed\): 'deep\/link-in-tree', 'link-out-of-tree'|not copied: 2 symbolic link\(s\) \(not followed\): 'link-out-of-tree', 'deep\/link-in-tree'/,
    );
    assert.match(r.stderr, /verified: all 6 file\(s\)/);
    const big = (await listObjects(s3.env, BUCKET, "media/big/"))[0]!;
    assert.match(big.ETag, /-3"$/, "the 12 MiB file went up in 3 parts");
  });

  it("re-run = nothing sent again, all skipped, still verified", async () => {
    const root = tempDir("media");
    const files = writeMediaTree(root, 1024);
    success(await syncDir(root, "rerun/"));
    const before = await listObjects(s3.env, BUCKET, "rerun/");
    await new Promise((r) => setTimeout(r, 1100)); // a re-upload would change LastModified
    const result = success(await syncDir(root, "rerun/"));
    assert.equal(result.uploaded, 0);
    assert.equal(result.skipped, files.length);
    assert.equal(
      (result as unknown as { hashed: number }).hashed,
      0,
      "the manifest spared the reads",
    );
    assert.deepEqual(await listObjects(s3.env, BUCKET, "rerun/"), before);
  });

  it("changed and new files = only those sent; objects not in the source kept", async () => {
    const root = tempDir("media");
    const files = writeMediaTree(root, 1024);
    success(await syncDir(root, "delta/"));
    const leftover = path.join(tempDir("x"), "old");
    writeFileSync(leftover, "from an earlier copy");
    await putObject(s3.env, BUCKET, "delta/removed-since.txt", leftover);
    appendFileSync(path.join(root, "deep/a/b/c/d.txt"), "grown\n");
    writeFileSync(path.join(root, "new file.txt"), "new\n");
    const result = success(await syncDir(root, "delta/"));
    assert.equal(result.uploaded, 2);
    assert.equal(result.skipped, files.length - 1);
    const now = await stored("delta/");
    assert.ok(now.includes("removed-since.txt 20"), "sync deleted an object at the destination");
    assert.ok(now.includes("deep/a/b/c/d.txt 11"));
    assert.ok(now.includes("new file.txt 4"));
  });

  it("empty source = refused (an unmounted export looks like this)", async () => {
    const line = failure(await syncDir(tempDir("empty"), "empty-refused/"));
    assert.match(
      line,
      /has no regular files; an NFS export that failed to mount .*ALLOW_EMPTY_TREE=true/,
    );
    assert.deepEqual(await listObjects(s3.env, BUCKET, "empty-refused/"), []);
  });

  it("empty source with ALLOW_EMPTY_TREE=true = success with zero files, a warning", async () => {
    const r = await syncDir(tempDir("empty"), "empty/", { ALLOW_EMPTY_TREE: "true" });
    assert.deepEqual(counts(success(r)), {
      bucket: BUCKET,
      prefix: "empty/",
      files: 0,
      bytes: 0,
      uploaded: 0,
      skipped: 0,
    });
    assert.match(r.stderr, /warning: .* has no regular files/);
  });

  it("a name that is not UTF-8 = exit 1 naming it, before any upload", async () => {
    const root = tempDir("media");
    writeFileSync(path.join(root, "fine.txt"), "ok\n");
    writeFileSync(Buffer.from(path.join(root, "bad-\xff-name.txt"), "latin1"), "latin-1 name\n");
    const line = failure(await syncDir(root, "badname/"));
    assert.match(
      line,
      /1 file name\(s\) are not valid UTF-8.*'bad-\\xff-name\.txt'|1 file name\(s\) are not valid UTF-8.*'bad-.-name\.txt'/,
    );
    assert.deepEqual(await listObjects(s3.env, BUCKET, "badname/"), []);
  });

  it("sync that misses a file and mangles another = verification fails naming both", async () => {
    // A stand-in for a CLI that reports success but loses data: it runs the real aws, excluding
    // one file from the sync and replacing another object afterwards.
    const real = which("aws");
    const bin = tempDir("bin");
    writeFileSync(
      path.join(bin, "aws"),
      [
        "#!/bin/bash",
        `if [[ " $* " == *" cp --recursive "* ]]; then`,
        `  "${real}" "$@" --exclude missing.txt || exit`,
        `  exec "${real}" s3 cp /etc/hostname s3://${BUCKET}/verify/resized.txt --quiet`,
        "fi",
        `exec "${real}" "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const root = tempDir("media");
    writeFileSync(path.join(root, "missing.txt"), "never sent\n");
    writeFileSync(path.join(root, "resized.txt"), "x".repeat(500));
    writeFileSync(path.join(root, "fine.txt"), "ok\n");
    const line = failure(await syncDir(root, "verify/", { PATH: `${bin}:${process.env.PATH}` }));
    assert.match(line, /verification failed for s3:\/\/relocation-media\/verify\/: /);
    assert.match(line, /1 file\(s\) missing: 'missing\.txt'/);
    assert.match(
      line,
      /1 file\(s\) with a different size: 'resized\.txt \(\d+ bytes at the destination, 500 here\)'/,
    );
  });

  it("missing source = exit 1, one clear line", async () => {
    assert.match(
      failure(await syncDir(tempDir("x"), "none/", { SOURCE_DIR: "/nonexistent/media" })),
      /source directory \/nonexistent\/media does not exist/,
    );
  });

  it("progress = lines at intervals, far fewer than files", async () => {
    const root = tempDir("many");
    const files = writeManyFiles(root, 120, 2048);
    // 60 requests per connection at >= 50 ms each: the upload lasts >= 3 s on any machine.
    const slow = await S3Proxy.start(s3.moto.port, { delayMs: 50 });
    try {
      const r = await syncDir(root, "progress/", {
        AWS_ENDPOINT_URL: slow.endpoint,
        PROGRESS_SECONDS: "1",
        CONCURRENCY: "2",
      });
      success(r);
      const elapsed = [...r.stderr.matchAll(/progress: .*; (\d+)s elapsed/g)].map((m) => +m[1]);
      assert.ok(elapsed.length >= 3, r.stderr);
      assert.ok(elapsed.length < files.length / 4, `${elapsed.length} progress lines`);
      // Lines while uploading are PROGRESS_SECONDS apart; the closing one may come sooner.
      for (let i = 1; i < elapsed.length - 1; i++) {
        assert.ok(elapsed[i] - elapsed[i - 1] >= 1, `progress at ${elapsed.join(", ")} s`);
      }
    } finally {
      await slow.down();
    }
  });
});

/** PATH with every directory holding `tool` replaced by a copy (of links) without it. */
function pathWithout(tool: string): string {
  return process.env
    .PATH!.split(":")
    .map((dir) => {
      if (!existsSync(path.join(dir, tool))) return dir;
      const copy = tempDir(`no-${tool}`);
      for (const f of readdirSync(dir)) {
        if (f !== tool) symlinkSync(path.join(dir, f), path.join(copy, f));
      }
      return copy;
    })
    .join(":");
}

describe("sync-dir.sh with rclone", () => {
  it("media tree = same objects, same result JSON as the aws CLI, multipart over the threshold", async () => {
    const root = tempDir("media");
    const files = writeMediaTree(root);
    const r = await syncDir(root, "rclone-media/", { SYNC_TOOL: "rclone" });
    const result = success(r);
    assert.equal(result.tool, "rclone");
    assert.deepEqual(counts(result), {
      bucket: BUCKET,
      prefix: "rclone-media/",
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      uploaded: files.length,
      skipped: 0,
    });
    assert.match(result.verifiedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(await stored("rclone-media/"), expected(files));
    assert.match(r.stderr, /verified: all 6 file\(s\)/);
    assert.match(r.stderr, /not copied: 2 symbolic link\(s\)/);
    const big = (await listObjects(s3.env, BUCKET, "rclone-media/big/"))[0]!;
    assert.match(big.ETag, /-3"$/, "the 12 MiB file went up in 3 parts of 5 MiB");
    // The aws CLI, run after, finds nothing to send: both tools leave the same objects.
    const again = success(await syncDir(root, "rclone-media/", { SYNC_TOOL: "aws" }));
    assert.deepEqual([again.uploaded, again.skipped], [0, files.length]);
  });

  it("rclone missing a file and another object resized = the same verification failure", async () => {
    const real = which("rclone");
    const bin = tempDir("bin");
    writeFileSync(
      path.join(bin, "rclone"),
      [
        "#!/bin/bash",
        "args=()",
        'while (($#)); do args+=("$1"); if [[ "$1" == --files-from-raw ]]; then list="$2"; fi; shift; done',
        `grep -vx missing.txt "$list" >"$list.kept"; mv "$list.kept" "$list"`,
        `"${real}" "\${args[@]}" || exit`,
        `exec aws s3 cp /etc/hostname s3://${BUCKET}/rclone-verify/resized.txt --quiet`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const root = tempDir("media");
    writeFileSync(path.join(root, "missing.txt"), "never sent\n");
    writeFileSync(path.join(root, "resized.txt"), "x".repeat(500));
    writeFileSync(path.join(root, "fine.txt"), "ok\n");
    const line = failure(
      await syncDir(root, "rclone-verify/", {
        SYNC_TOOL: "rclone",
        PATH: `${bin}:${process.env.PATH}`,
      }),
    );
    assert.match(line, /verification failed for s3:\/\/relocation-media\/rclone-verify\/: /);
    assert.match(line, /1 file\(s\) missing: 'missing\.txt'/);
    assert.match(
      line,
      /1 file\(s\) with a different size: 'resized\.txt \(\d+ bytes at the destination, 500 here\)'/,
    );
  });

  it("auto without rclone on PATH = the aws CLI, same result", async () => {
    const root = tempDir("media");
    const files = writeManyFiles(root, 5, 1000);
    const r = await syncDir(root, "fallback/", { SYNC_TOOL: "auto", PATH: pathWithout("rclone") });
    const result = success(r);
    assert.equal(result.tool, "aws");
    assert.equal(result.uploaded, files.length);
    assert.match(r.stderr, /tool: aws/);
    assert.deepEqual(await stored("fallback/"), expected(files));
  });

  it("auto with rclone on PATH = rclone", async () => {
    const root = tempDir("media");
    writeManyFiles(root, 3, 1000);
    assert.equal(success(await syncDir(root, "auto/", { SYNC_TOOL: "auto" })).tool, "rclone");
  });

  it("SYNC_TOOL=rclone without rclone on PATH = exit 1 saying what to do", async () => {
    const line = failure(
      await syncDir(tempDir("media"), "norclone/", {
        SYNC_TOOL: "rclone",
        PATH: pathWithout("rclone"),
      }),
    );
    assert.match(
      line,
      /SYNC_TOOL=rclone but rclone is not on PATH; install it or set SYNC_TOOL=auto/,
    );
  });

  it("manifest answered with another ETag than its bytes' MD5 = exit 1 naming it", async () => {
    const root = tempDir("media");
    writeManyFiles(root, 3, 1000);
    // A stand-in aws: the manifest's put-object is stored, but S3's answer names other content.
    const bin = tempDir("etag-bin");
    writeFileSync(
      path.join(bin, "aws"),
      [
        "#!/bin/bash",
        `if [[ " $* " == *" put-object "* && " $* " == *".relocation-manifest/"* ]]; then`,
        `  '${which("aws")}' "$@" >/dev/null || exit; echo '"0123456789abcdef0123456789abcdef"'; exit 0`,
        "fi",
        `exec '${which("aws")}' "$@"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const line = failure(await syncDir(root, "etag/", { PATH: `${bin}:${process.env.PATH}` }));
    assert.match(
      line,
      /the manifest s3:\/\/relocation-media\/etag\/\.relocation-manifest\/shard-0-of-1\.jsonl does not hold what was sent \(ETag "0123456789abcdef0123456789abcdef"\); re-run/,
    );
  });

  it("no awk on PATH = exit 1 naming it, before any request", async () => {
    const root = tempDir("media");
    writeManyFiles(root, 3, 1000);
    // No S3 at this endpoint: a request would fail with another line.
    const r = await syncDir(root, "noawk/", {
      PATH: pathWithout("awk"),
      AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    });
    assert.match(failure(r), /missing tools: awk; install them or use an image that has them/);
  });
});

describe("sync-dir.sh interrupted by an S3 outage", () => {
  it("outage mid-run = exit 1; re-run after = the rest sent, nothing sent twice, all verified", async () => {
    const root = tempDir("many");
    const files = writeManyFiles(root, 400);
    // >= 20 ms a request, one at a time: 400 files last >= 8 s, far past the first progress line.
    const outage = await S3Proxy.start(s3.moto.port, { delayMs: 20 });
    const settings = {
      ...s3.env,
      SOURCE_DIR: root,
      DEST_URI: `s3://${BUCKET}/outage/`,
      AWS_ENDPOINT_URL: outage.endpoint,
      SYNC_TOOL: "aws",
      CONCURRENCY: "1",
      PROGRESS_SECONDS: "1",
      AWS_MAX_ATTEMPTS: "1", // fail fast once the server is gone instead of retrying each file
    };

    // First run: stop S3 once some files (but not all) are in.
    const child = spawn("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
      env: { ...process.env, ...settings },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    let stopped = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => {
      stderr += d;
      const counts = [...stderr.matchAll(/progress: (\d+) file\(s\) uploaded/g)];
      const done = Number(counts[counts.length - 1]?.[1] ?? 0);
      if (!stopped && done >= 1) {
        stopped = true;
        void outage.down();
      }
    });
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    assert.ok(stopped, `the run finished before the outage:\n${stderr}`);
    assert.equal(code, 1, stderr);
    assert.equal(stdout, "");
    assert.match(stderr.trim().split("\n").pop()!, /^sync-dir: ERROR: .*Re-run to resume/);

    const present = await listObjects(s3.env, BUCKET, "outage/"); // straight to moto
    assert.ok(present.length > 0 && present.length < files.length, `${present.length} present`);

    // S3 is back (same endpoint, same objects); re-run.
    await new Promise((r) => setTimeout(r, 1100)); // a re-upload would change LastModified
    await outage.up();
    try {
      const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], { env: settings });
      const result = success(r);
      assert.equal(result.files, files.length);
      assert.equal(result.skipped, present.length, "files already there were sent again");
      assert.equal(result.uploaded, files.length - present.length);
      const after = await treeObjects("outage/");
      assert.deepEqual(
        after.map((o) => `${o.Key.slice("outage/".length)} ${o.Size}`),
        expected(files),
      );
      // Objects stored before the outage were not written again.
      const byKey = new Map(after.map((o) => [o.Key, o]));
      for (const o of present) assert.deepEqual(byKey.get(o.Key), o);
    } finally {
      await outage.down();
    }
  });
});
