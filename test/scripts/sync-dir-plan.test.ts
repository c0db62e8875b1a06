// scripts/sync-dir.sh with PLAN_ONLY=true (the plan in preview): the tree's size, what S3
// already has with that size, the delta; nothing hashed, uploaded or written. aws CLI + moto.
import assert from "node:assert/strict";
import { appendFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { SCRIPTS, listObjects, snapshotTree, writeMediaTree } from "../helpers/fixtures";
import { lastJson, oneErrorLine, run, type RunResult } from "../helpers/run";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";

const BUCKET = "relocation-media-plan";
const SECRET = "never-printed-secret-sync-plan-4242";
const s3 = useMotoBucket(BUCKET, { AWS_SECRET_ACCESS_KEY: SECRET, SYNC_TOOL: "aws" });

interface PlanLine {
  treeFiles: number;
  treeBytes: number;
  files: number;
  bytes: number;
  inS3Files: number;
  inS3Bytes: number;
  recordedFiles: number;
  deltaFiles: number;
  deltaBytes: number;
}

async function syncDir(source: string, settings: Record<string, string>): Promise<RunResult> {
  const before = snapshotTree(source);
  const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
    env: { ...s3.env, SOURCE_DIR: source, DEST_URI: `s3://${BUCKET}/media/`, ...settings },
  });
  assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), "secret printed");
  assert.deepEqual(snapshotTree(source), before, "the run changed SOURCE_DIR");
  return r;
}

/** A plan run: S3 exactly as before it (keys and ETags), nothing hashed. */
async function plan(source: string): Promise<PlanLine> {
  const objects = await listObjects(s3.env, BUCKET, "");
  const r = await syncDir(source, { PLAN_ONLY: "true" });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await listObjects(s3.env, BUCKET, ""), objects, "the plan wrote to S3");
  assert.doesNotMatch(r.stderr, /hashing|uploading/);
  const { treeFiles, treeBytes, files, bytes, inS3Files, inS3Bytes, recordedFiles } =
    lastJson<PlanLine>(r.stdout);
  const { deltaFiles, deltaBytes } = lastJson<PlanLine>(r.stdout);
  return {
    treeFiles,
    treeBytes,
    files,
    bytes,
    inS3Files,
    inS3Bytes,
    recordedFiles,
    deltaFiles,
    deltaBytes,
  };
}

describe("sync-dir.sh PLAN_ONLY", () => {
  it("counts the tree, what S3 has with that size, and the delta, before and after a copy", async () => {
    const dir = tempDir("plan-tree-");
    const tree = writeMediaTree(dir, 100_000);
    const total = tree.reduce((n, f) => n + f.size, 0);
    const all = { treeFiles: tree.length, treeBytes: total, files: tree.length, bytes: total };
    assert.deepEqual(await plan(dir), {
      ...all,
      inS3Files: 0,
      inS3Bytes: 0,
      recordedFiles: 0,
      deltaFiles: tree.length,
      deltaBytes: total,
    });

    const copy = await syncDir(dir, {});
    assert.equal(copy.code, 0, copy.stderr);
    assert.deepEqual(await plan(dir), {
      ...all,
      inS3Files: tree.length,
      inS3Bytes: total,
      recordedFiles: tree.length,
      deltaFiles: 0,
      deltaBytes: 0,
    });

    // One file grew, one is new: both are the delta; the rest stays recorded.
    appendFileSync(path.join(dir, "deep/a/b/c/d.txt"), "more\n");
    writeFileSync(path.join(dir, "new.txt"), "new file\n");
    const grown = await plan(dir);
    assert.equal(grown.treeFiles, tree.length + 1);
    assert.equal(grown.inS3Files, tree.length - 1);
    assert.equal(grown.recordedFiles, tree.length - 1);
    assert.equal(grown.deltaFiles, 2);
    assert.equal(grown.deltaBytes, "deep\nmore\n".length + "new file\n".length);
  });

  it("refuses a PLAN_ONLY that is not true or false", async () => {
    const dir = tempDir("plan-tree-");
    writeMediaTree(dir, 1000);
    const r = await syncDir(dir, { PLAN_ONLY: "1" });
    assert.match(oneErrorLine(r, "sync-dir"), /PLAN_ONLY must be true or false, got '1'/);
  });
});
