// scripts/sync-dir.sh, issue 26's tree classes: what the manifest says and what S3 holds come
// from one read of each file, and a file swapped for a FIFO after the scan fails the run at once
// (no hang, no child left). Real aws CLI, rclone and moto; the moments are set by wrappers on
// PATH (find, md5sum, sha256sum) that run the real tools, so no timing decides the outcome.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { SCRIPTS, getObject, listObjects, sha256 } from "../helpers/fixtures";
import { oneErrorLine, run, type RunResult } from "../helpers/run";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";
import { wrapperBin } from "../helpers/wrapper-bin";

const BUCKET = "relocation-one-read";
const s3 = useMotoBucket(BUCKET);

/** Pids of processes (other than ours) that carry this run's marker in their environment. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`).includes(`NSL_RUN_MARKER=${marker}`))
        found.push(Number(pid));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

async function syncDir(
  source: string,
  prefix: string,
  bin: string,
  extraEnv: Record<string, string>,
  timeoutMs = 120_000,
): Promise<RunResult & { marker: string }> {
  const marker = randomUUID();
  // A hang leaves children holding stdout/stderr open, so run() would never return: past the
  // bound, every process of the run is killed (they are ours: they carry the marker).
  const watchdog = setTimeout(() => {
    for (const pid of processesWith(marker)) process.kill(pid, "SIGKILL");
  }, timeoutMs);
  const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
    env: {
      ...s3.env,
      PATH: `${bin}:${process.env.PATH}`,
      SOURCE_DIR: source,
      DEST_URI: `s3://${BUCKET}/${prefix}`,
      NSL_RUN_MARKER: marker,
      ...extraEnv,
    },
    timeoutMs,
  });
  clearTimeout(watchdog);
  return { ...r, marker };
}

// Multipart from the first byte (threshold 1) takes the per-part MD5 path; the default the
// single-part one. (rclone still sends an 8-byte file in one PUT with --s3-upload-cutoff 1B, so
// its ETag is not a multipart one: the multipart path is the aws CLI's here.)
const PATHS = {
  "single-part": {},
  multipart: { MULTIPART_THRESHOLD_BYTES: "1", MULTIPART_CHUNKSIZE_BYTES: "5242880" },
};

for (const tool of ["aws", "rclone"]) {
  for (const [kind, tuning] of Object.entries(PATHS)) {
    if (tool === "rclone" && kind === "multipart") continue;
    describe(`sync-dir.sh one read per file (${tool}, ${kind})`, () => {
      it("a rewrite that moves no size, mtime or ctime between digests cannot reach the manifest", async () => {
        const root = tempDir("sync-dir-one-read-");
        const state = tempDir("sync-dir-one-read-state-");
        const target = path.join(root, "a.txt");
        writeFileSync(target, "AAAAAAAA");
        writeFileSync(path.join(state, "A"), "AAAAAAAA");
        writeFileSync(path.join(state, "B"), "BBBBBBBB");
        execFileSync("touch", ["-r", target, path.join(state, "ref")]);
        // md5sum marks when it finished; the first sha256sum waits for that, rewrites the file to
        // B in place (mtime restored), hashes, and writes A back: a second read of the file after
        // MD5's would see B, the upload A. find shows a.txt's ctime as unchanging, as an NFS
        // attribute cache or a write to an already dirty shared mmap page do.
        // No openssl: the copies' SHA-256 by sha256sum, whose first call opens the window.
        const bin = wrapperBin({
          openssl: "exit 127",
          md5sum: `"$REAL" "$@"; rc=$?; : >"${state}/md5-done"; exit "$rc"`,
          sha256sum: [
            `if [[ -e "${state}/flipped" ]]; then exec "$REAL" "$@"; fi`,
            `: >"${state}/flipped"`,
            `for ((i = 0; i < 1200; i++)); do [[ -e "${state}/md5-done" ]] && break; sleep 0.05; done`,
            `cat "${state}/B" >"${target}"; touch -r "${state}/ref" "${target}"`,
            `"$REAL" "$@"; rc=$?`,
            `cat "${state}/A" >"${target}"; touch -r "${state}/ref" "${target}"`,
            `exit "$rc"`,
          ].join("\n"),
          find: [
            `"$REAL" "$@" | while IFS= read -r -d '' rec; do`,
            // Only stat records (".../<ctime>/a.txt"), not plain name lists ("./a.txt").
            `  if [[ "$rec" =~ ^(.*/)[0-9]+(\\.[0-9]+)?/a\\.txt$ ]]; then rec="\${BASH_REMATCH[1]}1700000000.0000000000/a.txt"; fi`,
            `  printf '%s\\0' "$rec"`,
            `done`,
          ].join("\n"),
        });
        const prefix = `one-read-${tool}-${kind}/`;
        const r = await syncDir(root, prefix, bin, { SYNC_TOOL: tool, ...tuning });
        assert.ok(existsSync(path.join(state, "flipped")), "the rewrite window never opened");
        assert.equal(r.code, 0, r.stderr);
        // Exit 0: every manifest line describes the stored object, sha256 and ETag.
        const objects = await listObjects(s3.env, BUCKET, prefix);
        const manifest = objects.find((o) => o.Key.includes(".relocation-manifest/"))!;
        const lines = (await getObject(s3.env, BUCKET, manifest.Key, path.join(state, "m")))
          .toString()
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { path: string; sha256: string; etag: string });
        assert.equal(lines.length, 1);
        const stored = await getObject(s3.env, BUCKET, `${prefix}a.txt`, path.join(state, "o"));
        assert.equal(lines[0]!.sha256, sha256(stored), "manifest sha256 is not the object's");
        const object = objects.find((o) => o.Key === `${prefix}a.txt`)!;
        assert.equal(`"${lines[0]!.etag}"`, object.ETag);
      });

      it("a file swapped for a FIFO after the scan fails the run naming it, at once, no child left", async () => {
        const root = tempDir("sync-dir-fifo-");
        mkdirSync(path.join(root, "d"));
        writeFileSync(path.join(root, "d", "a.txt"), "AAAAAAAA");
        writeFileSync(path.join(root, "b.txt"), "BBBBBBBB");
        const state = tempDir("sync-dir-fifo-state-");
        // The scan (the first find) lists a regular file; then it becomes a FIFO nobody writes.
        const bin = wrapperBin({
          find: [
            `if [[ -e "${state}/swapped" ]]; then exec "$REAL" "$@"; fi`,
            `: >"${state}/swapped"`,
            `"$REAL" "$@" >"${state}/scan"; rc=$?`,
            `rm -f "${root}/d/a.txt" && mkfifo "${root}/d/a.txt"`,
            `cat "${state}/scan"; exit "$rc"`,
          ].join("\n"),
        });
        const r = await syncDir(
          root,
          `fifo-${tool}-${kind}/`,
          bin,
          { SYNC_TOOL: tool, ...tuning },
          30_000,
        );
        const left = processesWith(r.marker);
        for (const pid of left) process.kill(pid, "SIGKILL"); // leftovers: ours
        assert.match(oneErrorLine(r, "sync-dir"), /d\/a\.txt is no longer a regular file/);
        assert.deepEqual(left, [], "processes of the run still alive");
        assert.deepEqual(await listObjects(s3.env, BUCKET, `fifo-${tool}-${kind}/`), []);
      });
    });
  }
}
