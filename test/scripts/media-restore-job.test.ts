// The media restore Job's contract end to end, for real: a tree copied up by sync-dir.sh (2
// shards) into moto, its `backups` entry as the backup side exports it, read back by treeFor,
// turned into the Job's environment by mediaSettings, run through restore-tree.sh as the Job's
// default posture runs it (uid 0, every capability dropped but DAC_OVERRIDE and FOWNER, via
// setpriv), and its result line parsed by parseMediaResult. Only the pod's paths (DEST_DIR,
// RESULT_FILE, HOME, TMPDIR) are replaced by local ones.
import assert from "node:assert/strict";
import { copyFileSync, chmodSync, chownSync, mkdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { exportedFields, parseShardResults } from "../../components/copy-result";
import {
  MEDIA_DIR,
  ROOT_CAPABILITIES,
  mediaSettings,
  parseMediaResult,
  treeFor,
} from "../../components/restore/media-restore";
import { SCRIPTS, createBucket, writeMediaTree } from "../helpers/fixtures";
import { oneErrorLine, run } from "../helpers/run";
import { startMoto, tempDir, type Moto } from "../helpers/servers";

const BUCKET = "relocation-media-job";
const KEY = "fragalysis-relocation:restore.media[0].backup";
// setpriv needs root; the CI and sandbox machines run the tests as root.
const skip = process.getuid?.() !== 0 ? "needs root (setpriv drops capabilities)" : false;

let moto: Moto;
let source: string;
let backups: Record<string, unknown>;

/** restore-tree.sh with the Job's settings for `dest`, as root with only `caps` (setpriv). */
function restoreAsJob(dest: string, caps: string[]) {
  const entry = treeFor("stack-media", backups, KEY);
  const settings = mediaSettings(entry, { allowOverwrite: false });
  const pod = tempDir("pod-tmp");
  // The pod's own paths, here local; everything else exactly as the Job gets it.
  const local = {
    DEST_DIR: dest,
    RESULT_FILE: path.join(pod, "termination-log"),
    HOME: pod,
    TMPDIR: pod,
  };
  assert.equal(settings.DEST_DIR, MEDIA_DIR);
  for (const k of Object.keys(local)) assert.ok(k in settings, `the Job sets no ${k}`);
  const bounding = ["-all", ...caps.map((c) => `+${c}`)].join(",");
  return {
    entry,
    resultFile: local.RESULT_FILE,
    run: run(
      "setpriv",
      [
        `--bounding-set=${bounding}`,
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "bash",
        path.join(SCRIPTS, "restore", "restore-tree.sh"),
      ],
      { env: { ...moto.env, ...settings, ...local } },
    ),
  };
}

/** A volume that already holds one source file, owned by another uid, with `mode`. */
function volumeWithForeignFile(mode: number): { dest: string; rel: string } {
  const dest = tempDir("volume");
  const rel = "with space/file name.pdb";
  mkdirSync(path.join(dest, "with space"));
  copyFileSync(path.join(source, rel), path.join(dest, rel));
  chownSync(path.join(dest, rel), 1000, 1000);
  chmodSync(path.join(dest, rel), mode);
  return { dest, rel };
}

before(async () => {
  if (skip) return;
  moto = await startMoto();
  await createBucket(moto.env, BUCKET);
  source = tempDir("media-src");
  writeMediaTree(source, 1024 * 1024);
  let lines = "";
  for (const index of ["0", "1"]) {
    const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
      env: {
        ...moto.env,
        SYNC_TOOL: "aws",
        SOURCE_DIR: source,
        DEST_URI: `s3://${BUCKET}/production-stack-media/`,
        SHARD_COUNT: "2",
        SHARD_INDEX: index,
      },
    });
    assert.equal(r.code, 0, r.stderr);
    lines += r.stdout;
  }
  // What the backup stack's `backups` output holds for the tree.
  const exported = exportedFields(parseShardResults(lines, 2, "stack-media"));
  backups = { "stack-media": { ...exported, capturedAt: null, rpoSeconds: null } };
});
after(async () => {
  if (!skip) await moto.stop();
});

describe("media restore Job (restore-tree.sh with the Job's settings and capabilities)", () => {
  it(
    "uid 0 with ROOT_CAPABILITIES (DAC_OVERRIDE, FOWNER) = the tree restored, a file of another owner kept; result parses",
    {
      skip,
    },
    async () => {
      const { dest, rel } = volumeWithForeignFile(0o600);
      const job = restoreAsJob(
        dest,
        ROOT_CAPABILITIES.map((c) => c.toLowerCase()),
      );
      const r = await job.run;
      assert.equal(r.code, 0, r.stderr);
      const result = parseMediaResult(r.stdout, "stack-media", job.entry);
      assert.equal(result.kept, 1);
      assert.equal(result.downloaded, job.entry.files - 1);
      assert.equal(result.dest, dest);
      // The termination message holds the same line the program reads back.
      assert.deepEqual(
        parseMediaResult(readFileSync(job.resultFile, "utf8"), "stack-media", job.entry),
        result,
      );
      // The kept file keeps its owner (no chown) and gets the source's mtime.
      const kept = statSync(path.join(dest, rel));
      assert.equal(kept.uid, 1000);
      assert.equal(
        Math.floor(kept.mtimeMs / 1000),
        Math.floor(statSync(path.join(source, rel)).mtimeMs / 1000),
      );
      // Everything placed by the Job is root's.
      assert.equal(statSync(path.join(dest, "zero-bytes.bin")).uid, 0);
    },
  );

  it(
    "uid 0 without capabilities = fails at the (readable) file of another owner, naming the link step",
    {
      skip,
    },
    async () => {
      const { dest } = volumeWithForeignFile(0o644);
      const r = await restoreAsJob(dest, []).run;
      assert.match(oneErrorLine(r, "restore-tree.sh"), /cannot link the kept files into /);
    },
  );
});
