// `pulumi up`/destroy (not a preview): the plan is not read at all (no invoke, no output), so
// the deployment spends nothing on it and nothing can race the quiesce.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { useMocks, valueOf, type Recorder } from "../helpers/mocks";
import { CRON_JOBS, VOLUMES, productionStdout } from "../helpers/refresh-mocks";
import { type BackupOutputs, importBackupStack, useStackConfig } from "../helpers/stack";

let recorder: Recorder;
let stack: BackupOutputs;

before(async () => {
  recorder = await useMocks({
    statefulSets: { "production-stack/stack": 3, "im-infra/keycloak": 1 },
    cronJobs: CRON_JOBS,
    volumes: VOLUMES,
    commandStdout: productionStdout,
  });
  useStackConfig("production", { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" });
  stack = await importBackupStack();
  await valueOf(stack.backups);
});

describe("the plan outside preview", () => {
  it("= no invoke and no plan output", () => {
    assert.deepEqual(recorder.invokes, []);
    assert.equal(stack.plan, undefined);
  });
});
