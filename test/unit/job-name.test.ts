// Job names: fixed, valid Kubernetes names, short enough for pod names and labels.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_JOB_NAME, jobName } from "../../components/job-name";

describe("jobName", () => {
  it("short resource name = itself", () => {
    assert.equal(jobName("backup-keycloak-db-job-job"), "backup-keycloak-db-job-job");
  });

  it("long or odd resource name = <= 52 chars, a valid name, distinct per input", () => {
    const a = jobName(`presync-${"x".repeat(60)}-job-job`);
    const b = jobName(`presync-${"x".repeat(60)}-job-jo`);
    for (const n of [a, b, jobName("Env_Dump.im-infra--")]) {
      assert.ok(n.length <= MAX_JOB_NAME, n);
      assert.match(n, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    assert.notEqual(a, b);
  });
});
