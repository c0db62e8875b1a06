// `pulumi preview` with the production stack file: Commands do not run, so their stdout is
// unknown; the refresh Jobs (from the CronJobs' templates, read in preview) and every copy must
// still be shown, the copies with settings that are not known yet.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { settle, type Recorder } from "../helpers/mocks";
import { usePreviewMocks } from "../helpers/refresh-mocks";
import { useStackConfig } from "../helpers/stack";

let recorder: Recorder;

before(async () => {
  recorder = await usePreviewMocks();
  useStackConfig("production", { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" });
  await import("../../index");
  for (let i = 0; i < 20; i++) await settle();
});

describe("refresh in preview", () => {
  it("= both refresh Jobs, in their CronJobs' namespaces, and all three copies are shown", () => {
    for (const [backup, namespace] of [
      ["keycloak-db", "im-infra"],
      ["stack-db", "production-stack"],
    ]) {
      const job = recorder.named(`refresh-${backup}-job`);
      assert.equal((job.inputs.metadata as Record<string, unknown>).namespace, namespace);
      assert.ok(recorder.named(`backup-${backup}-ssh-copy`));
    }
    assert.ok(recorder.named("backup-stack-media-ssh-copy"));
  });
});
