// A plan whose read fails (here: a permission the refresh needs is missing) fails preview with
// one line naming what failed: the `plan` output rejects with the script's ERROR line.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { planStdout, settle, type Recorder } from "../helpers/mocks";
import { usePreviewMocks } from "../helpers/refresh-mocks";
import { type BackupOutputs, importBackupStack, useStackConfig } from "../helpers/stack";

let recorder: Recorder;
let stack: BackupOutputs;
let failure: Promise<Error | undefined>;

// What the real local.run rejects with when the script exits 1 (provider: "%w: running %q:\n%s").
const FAILED = [
  "exit status 1: running \"bash '/x/scripts/plan-cluster.sh'\":",
  "plan-cluster.sh: NOT ALLOWED: create jobs in im-infra (needed: refresh of keycloak-db); grant it to your kubeconfig user",
  "plan-cluster.sh: ERROR: 1 cluster check(s) failed: create jobs in im-infra",
].join("\n");

before(async () => {
  // The SDK turns the provider's gRPC error into `new Error(err.details)`.
  recorder = await usePreviewMocks((_token, inputs) => {
    if (String(inputs.command).includes("plan-s3.sh")) {
      return { stdout: planStdout({}, inputs) };
    }
    throw Object.assign(new Error(FAILED), { details: FAILED });
  });
  useStackConfig("production", { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" });
  stack = await importBackupStack();
  // Held from the start, as the engine holds a stack output: the rejection is this test's subject
  // (the Output's isKnown and isSecret reject with it too).
  const plan = stack.plan as unknown as Record<"isKnown" | "isSecret", Promise<unknown>> & {
    promise(): Promise<unknown>;
  };
  for (const p of [plan.isKnown, plan.isSecret]) p.catch(() => undefined);
  failure = plan.promise().then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  for (let i = 0; i < 20; i++) await settle();
});

describe("a plan read that fails", () => {
  it("= the plan output rejects with one line naming the failure", async () => {
    assert.equal(recorder.invokes.length, 2);
    assert.equal(
      (await failure)?.message,
      "plan: plan-cluster.sh: ERROR: 1 cluster check(s) failed: create jobs in im-infra",
    );
  });
});
