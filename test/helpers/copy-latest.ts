// The ground the copy-latest.sh tests run on: moto with one bucket, a secret key that no run may
// print, and a run of the script that checks what must hold for every run.
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before } from "node:test";
import { SCRIPTS, createBucket, snapshotTree } from "./fixtures";
import { run, type RunResult } from "./run";
import { startMoto, type Moto } from "./servers";

export interface CopyLatestBench {
  /** The aws CLI's env for moto, with `secret` as the key; filled in once moto is up. */
  readonly env: Record<string, string>;
  /** Runs the script on `source`; no secret printed and SOURCE_DIR untouched, or it fails. */
  copyLatest(
    source: string,
    settings: Record<string, string>,
    extraEnv?: Record<string, string>,
  ): Promise<RunResult>;
}

/** Registers the file's before (moto started, `bucket` created) and after (moto stopped). */
export function useCopyLatestBench(bucket: string, secret: string): CopyLatestBench {
  // One object for the whole file: its tests hold it from load time, before moto is up.
  const env: Record<string, string> = {};
  let moto: Moto;
  before(async () => {
    moto = await startMoto();
    Object.assign(env, moto.env, { AWS_SECRET_ACCESS_KEY: secret });
    await createBucket(env, bucket);
  });
  after(() => moto.stop());

  async function copyLatest(
    source: string,
    settings: Record<string, string>,
    extraEnv: Record<string, string> = {},
  ): Promise<RunResult> {
    const before = snapshotTree(source);
    const r = await run("bash", [path.join(SCRIPTS, "copy-latest.sh")], {
      env: { ...env, SOURCE_DIR: source, ...settings, ...extraEnv },
    });
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), "secret printed");
    assert.deepEqual(snapshotTree(source), before, "the run changed SOURCE_DIR");
    return r;
  }
  return { env, copyLatest };
}
