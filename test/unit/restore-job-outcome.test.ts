// jobResult: how a restore Job ended, read from refresh-judge.sh's output: the result its
// container left, or one line naming the container that failed and its script's ERROR line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JobFailed, jobResult, reasonLine } from "../../components/restore/job-outcome";

const JOB = "dest-im-infra/restore-keycloak-db-job";
const status = (type: string, reason?: string) =>
  JSON.stringify({ conditions: [{ type, status: "True", ...(reason ? { reason } : {}) }] });
const pod = (phase: string, startTime: string, init: object[], main: object[]) =>
  JSON.stringify({ phase, startTime, initContainerStatuses: init, containerStatuses: main });
const ended = (name: string, exitCode: number, message?: string) => ({
  name,
  state: { terminated: { exitCode, ...(message === undefined ? {} : { message }) } },
});

function failure(fn: () => unknown): JobFailed {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof JobFailed);
    return err;
  }
  assert.fail("expected JobFailed");
}

describe("jobResult", () => {
  it("Complete = the named container's message of the newest succeeded pod", () => {
    const out = [
      status("Complete"),
      pod("Succeeded", "2026-12-07T00:00:05Z", [], [ended("restore", 0, '{"new":1}')]),
      pod("Succeeded", "2026-12-07T00:00:01Z", [], [ended("restore", 0, '{"old":1}')]),
    ].join("\n");
    assert.equal(jobResult(out, JOB, "restore"), '{"new":1}');
  });

  it("Failed in the init container = its name, exit code and ERROR line (not the later log lines)", () => {
    const message = "step fetch\nrestore-dump.sh: ERROR: sha256 differs; nothing restored\nbye\n";
    const out = [
      status("Failed", "BackoffLimitExceeded"),
      pod(
        "Failed",
        "t",
        [ended("fetch", 1, message)],
        [{ name: "restore", state: { waiting: {} } }],
      ),
    ].join("\n");
    const err = failure(() => jobResult(out, JOB, "restore"));
    assert.equal(
      err.message,
      `Job ${JOB} failed in container fetch (exit 1): restore-dump.sh: ERROR: sha256 differs; nothing restored`,
    );
    assert.equal(err.container, "fetch");
  });

  it("Failed with no container that ended badly (deadline) = the reason and where to look", () => {
    const out = [status("Failed", "DeadlineExceeded"), pod("Failed", "t", [], [])].join("\n");
    assert.match(
      failure(() => jobResult(out, JOB, "restore")).message,
      /^Job dest-im-infra\/restore-keycloak-db-job failed \(DeadlineExceeded\) without a container that says why \(kubectl -n dest-im-infra describe job restore-keycloak-db-job\)$/,
    );
  });

  it("Complete but no pod left = says so; not JSON status = says what it got", () => {
    assert.match(
      failure(() => jobResult(status("Complete"), JOB, "restore")).message,
      /is Complete but no succeeded pod's restore container left a result/,
    );
    assert.match(
      failure(() => jobResult("kubectl: forbidden", JOB, "restore")).message,
      /cannot read its status \(got "kubectl: forbidden"\)/,
    );
  });

  it("reasonLine: the last ERROR line, else the last line, else says there is none", () => {
    assert.equal(reasonLine("a\nx.sh: ERROR: one\nx.sh: ERROR: two\ntail\n"), "x.sh: ERROR: two");
    assert.equal(reasonLine("a\nlast\n\n"), "last");
    assert.equal(reasonLine(""), "no termination message");
  });
});
