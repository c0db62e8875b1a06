// jobs.createNamespace: false = the whole program (index.ts, mocks) uses an existing namespace
// for its Jobs and declares no Namespace, so destroy cannot delete one it did not create.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { settle, useMocks, type Recorder } from "../helpers/mocks";
import { copyResult } from "../helpers/command-results";
import { useStackConfig } from "../helpers/stack";

let recorder: Recorder;

before(async () => {
  recorder = await useMocks({
    statefulSets: { "production-stack/stack": 3, "im-infra/keycloak": 1 },
    commandStdout: copyResult,
  });
  useStackConfig("production", {
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----",
    jobs: JSON.stringify({ namespace: "relocation-existing", createNamespace: false }),
  });
  await import("../../index");
  await settle();
});

describe("jobs.createNamespace: false", () => {
  it("no Namespace resource; every Job, Secret and ServiceAccount in the existing namespace", () => {
    assert.deepEqual(recorder.byType("kubernetes:core/v1:Namespace"), []);
    const jobs = recorder.byType("kubernetes:batch/v1:Job");
    assert.ok(jobs.length > 0, "the env dumps run as Jobs");
    for (const r of [...jobs, ...recorder.byType("kubernetes:core/v1:Secret")]) {
      const meta = r.inputs.metadata as { namespace?: string };
      assert.equal(meta.namespace, "relocation-existing", r.name);
    }
  });
});
