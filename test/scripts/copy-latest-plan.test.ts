// scripts/copy-latest.sh with PLAN_ONLY=true (the plan in preview): the same choice and checks
// as a copy, the key's state in S3, and nothing written anywhere. aws CLI against moto, real gzip.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { useCopyLatestBench } from "../helpers/copy-latest";
import {
  backupName,
  isoTime,
  listObjects,
  putObject,
  writeBackup,
  writeCorruptBackup,
} from "../helpers/fixtures";
import { lastJson, oneErrorLine } from "../helpers/run";
import { tempDir } from "../helpers/servers";

const BUCKET = "relocation-plan";
const SECRET = "never-printed-secret-plan-0123456789";
const { env, copyLatest } = useCopyLatestBench(BUCKET, SECRET);

interface PlanLine {
  name: string;
  key: string;
  size: number;
  mtime: string;
  ageSeconds: number;
  sourceTime: string;
  inS3: string;
}

async function plan(source: string, prefix: string): Promise<PlanLine> {
  const objects = await listObjects(env, BUCKET, "");
  const r = await copyLatest(source, { PLAN_ONLY: "true", DEST_URI: `s3://${BUCKET}/${prefix}/` });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await listObjects(env, BUCKET, ""), objects, "the plan wrote to S3");
  return lastJson<PlanLine>(r.stdout);
}

describe("copy-latest.sh PLAN_ONLY", () => {
  it("names the backup up would copy, skipping what up skips, and uploads nothing", async () => {
    const dir = tempDir("plan-latest-");
    const good = isoTime(-7200);
    writeBackup(dir, good, "CREATE TABLE t ();\n", 7200);
    writeCorruptBackup(dir, isoTime(-3600), 3600); // newer, but not a complete dump
    const p = await plan(dir, "absent");
    assert.equal(p.name, backupName(good));
    assert.equal(p.key, `absent/${backupName(good)}`);
    assert.equal(p.sourceTime, good);
    assert.equal(p.inS3, "absent");
    assert.ok(p.ageSeconds >= 7190 && p.ageSeconds < 7300, `ageSeconds ${p.ageSeconds}`);
    assert.match(p.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The same choice a real copy makes.
    const copy = await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/absent/` });
    assert.equal(copy.code, 0, copy.stderr);
    assert.equal(lastJson<{ key: string }>(copy.stdout).key, p.key);
    assert.equal((await listObjects(env, BUCKET, "absent/"))[0]!.Size, p.size);
  });

  it("says when the key already holds the file, or something else", async () => {
    const dir = tempDir("plan-latest-");
    const t = isoTime(-3600);
    writeBackup(dir, t, "SELECT 1;\n");
    const copy = await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/same/` });
    assert.equal(copy.code, 0, copy.stderr);
    assert.equal((await plan(dir, "same")).inS3, "same");

    const other = path.join(tempDir("plan-other-"), "other");
    writeFileSync(other, "not the dump");
    await putObject(env, BUCKET, `different/${backupName(t)}`, other);
    assert.equal((await plan(dir, "different")).inS3, "different");
    // Same size, other bytes: only the hash tells.
    const sameSize = path.join(tempDir("plan-other-"), "same-size");
    writeFileSync(sameSize, Buffer.alloc((await plan(dir, "x")).size, 7));
    await putObject(env, BUCKET, `samesize/${backupName(t)}`, sameSize);
    assert.equal((await plan(dir, "samesize")).inS3, "different");
  });

  it("refuses a PLAN_ONLY that is not true or false, before reading anything", async () => {
    const dir = tempDir("plan-latest-");
    const r = await copyLatest(dir, { PLAN_ONLY: "yes", DEST_URI: `s3://${BUCKET}/p/` });
    assert.match(oneErrorLine(r, "copy-latest"), /PLAN_ONLY must be true or false, got 'yes'/);
  });
});
