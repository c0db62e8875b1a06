// copy-job-result.sh run for real against a stand-in kubectl that answers the pods' termination
// messages: kwok completes Job pods without running them, so this is where the read-back is pinned.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { script } from "../../components/scripts";
import { run, type RunResult } from "../helpers/run";
import { tempDir } from "../helpers/servers";

const result = (shard: number) =>
  `{"bucket":"im-fragalysis","prefix":"production-stack-media/","files":${shard + 1},"shard":${shard}}`;

/** Runs the reader as the local.Command does, with kubectl printing `messages` (one per pod). */
function readBack(messages: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const bin = tempDir("fake-kubectl");
  writeFileSync(path.join(bin, "messages"), messages.map((m) => `${m}\n`).join(""));
  writeFileSync(
    path.join(bin, "kubectl"),
    `#!/usr/bin/env bash\n[[ " $* " == *" job-name=copy-media "* ]] || exit 1\ncat "${bin}/messages"\n`,
    { mode: 0o755 },
  );
  return run("/bin/bash", ["-c", script("copy-job-result.sh").text], {
    env: {
      NAMESPACE: "fragalysis-relocation",
      JOB_NAME: "copy-media",
      PATH: `${bin}:${process.env.PATH}`,
      ...env,
    },
  });
}

describe("copy-job-result.sh", () => {
  it("one pod = its result line only, log noise dropped", async () => {
    const r = await readBack(["not json", result(0)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${result(0)}\n`);
  });

  it("a retried pod (two results) = the last one", async () => {
    const r = await readBack([result(0), result(1)]);
    assert.equal(r.stdout, `${result(1)}\n`);
  });

  it("no pod left a result = exit 1 saying how to copy again", async () => {
    const r = await readBack([]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no succeeded pod with a result; .*replace the Job to copy again/);
  });

  it("three shards, all done = the three result lines", async () => {
    const r = await readBack([result(2), result(0), result(1)], { SHARDS: "3" });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [result(2), result(0), result(1)]);
  });

  it("three shards, one missing = exit 1 naming the count", async () => {
    const r = await readBack([result(0), result(1)], { SHARDS: "3" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /2 of 3 shard\(s\) left a result/);
  });

  it("SHARDS not a number = exit 1 naming it", async () => {
    const r = await readBack([result(0)], { SHARDS: "two" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SHARDS must be a whole number/);
  });
});
