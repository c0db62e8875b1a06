// jobs.createNamespace: false = the whole program (index.ts, mocks) uses an existing namespace
// for its Jobs and declares no Namespace, so destroy cannot delete one it did not create.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { settle, type Recorder } from "../helpers/mocks";
import { useProductionMocks } from "../helpers/refresh-mocks";
import { useStackConfig } from "../helpers/stack";

let recorder: Recorder;

before(async () => {
  recorder = await useProductionMocks();
  useStackConfig("production", {
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----",
    jobs: JSON.stringify({ namespace: "relocation-existing", createNamespace: false }),
  });
  await import("../../index");
  await settle();
});

describe("jobs.createNamespace: false", () => {
  it("no Namespace resource; every Job (but the refreshes and fingerprints) and Secret in the existing namespace", () => {
    assert.deepEqual(recorder.byType("kubernetes:core/v1:Namespace"), []);
    // A refresh or fingerprint Job runs beside its CronJob, with that namespace's Secrets and PVCs.
    const jobs = recorder
      .byType("kubernetes:batch/v1:Job")
      .filter((r) => !/^(refresh|fingerprint)-/.test(r.name));
    assert.ok(jobs.length > 0, "the env dumps run as Jobs");
    for (const r of [...jobs, ...recorder.byType("kubernetes:core/v1:Secret")]) {
      const meta = r.inputs.metadata as { namespace?: string };
      assert.equal(meta.namespace, "relocation-existing", r.name);
    }
  });
});
