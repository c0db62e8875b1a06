// Preview in bring-your-own mode (aws.manage false): plan-s3.sh reads with the handed key, says
// write is not proven without writing, and the plan output is not secret (the key is not in it).
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { isSecret, settle, valueOf, type Recorder } from "../helpers/mocks";
import { usePreviewMocks } from "../helpers/refresh-mocks";
import { type BackupOutputs, importBackupStack, useStackConfig } from "../helpers/stack";

let recorder: Recorder;
let stack: BackupOutputs;

before(async () => {
  recorder = await usePreviewMocks();
  useStackConfig("production", {
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----",
    aws: JSON.stringify({ manage: false, region: "eu-central-1" }),
    awsAccessKeyId: "AKIAHANDEDOVER",
    awsSecretAccessKey: "handed-over-secret",
  });
  stack = await importBackupStack();
  for (let i = 0; i < 20; i++) await settle();
});

describe("the plan in bring-your-own mode", () => {
  it("= plan-s3.sh reads with the handed key, WRITE_PROOF none", () => {
    const s3 = recorder.invokes.find((i) => String(i.inputs.command).includes("plan-s3.sh"));
    const env = s3!.inputs.environment as Record<string, string>;
    assert.equal(env.AWS_ACCESS_KEY_ID, "AKIAHANDEDOVER");
    assert.equal(env.AWS_SECRET_ACCESS_KEY, "handed-over-secret");
    assert.equal(env.WRITE_PROOF, "none");
  });

  it("= a plan output that is not secret and holds no part of the key", async () => {
    assert.equal(await isSecret(stack.plan!), false);
    const plan = JSON.stringify(await valueOf(stack.plan!));
    assert.ok(!/AKIAHANDEDOVER|handed-over-secret/.test(plan), plan);
    assert.match(plan, /"write":"none"/);
  });
});
