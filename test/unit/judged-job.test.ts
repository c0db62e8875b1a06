// The reading of refresh-judge.sh's stdout that the fingerprint's and the restore's verdicts share
// (components/shared/judged-job.ts): each keeps its own words, both read the same way.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FingerprintFailed, judgeFingerprint } from "../../components/fingerprint-verdict";
import { JobFailed, jobResult } from "../../components/restore/job-outcome";
import { readJudged, trueCondition } from "../../components/shared/judged-job";

const JOB = "ns/j";
const complete = { conditions: [{ type: "Complete", status: "True" }] };
const succeeded = (startTime: string, message: string) => ({
  phase: "Succeeded",
  startTime,
  containerStatuses: [{ name: "restore", state: { terminated: { exitCode: 0, message } } }],
});
const lines = (...objects: object[]) => objects.map((o) => JSON.stringify(o)).join("\n");
const fingerprint = (at: string) => `{"at":"${at}","databases":{}}`;

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FingerprintFailed || err instanceof JobFailed);
    return err.message;
  }
  assert.fail("expected a failure");
}

describe("readJudged", () => {
  it("a pod line that is not JSON = unreadable, quoted the same way by both verdicts", () => {
    const out = `${JSON.stringify(complete)}\nerror: the server\n  has asked for credentials\n`;
    assert.equal(readJudged(out), undefined);
    const got = `cannot read its status (got "${JSON.stringify(complete)} error: the server has asked for credentials")`;
    assert.equal(
      messageOf(() => judgeFingerprint(JOB, out)),
      `fingerprint Job ${JOB}: ${got}`,
    );
    assert.equal(
      messageOf(() => jobResult(out, JOB, "restore")),
      `Job ${JOB}: ${got}`,
    );
  });

  it("pods listed newest first = both take the newest succeeded pod's message", () => {
    const newer = "2026-12-07T00:00:09Z";
    const older = "2026-12-07T00:00:01Z";
    const out = lines(
      complete,
      succeeded(newer, fingerprint(newer)),
      succeeded(older, fingerprint(older)),
    );
    assert.equal(judgeFingerprint(JOB, out).at, newer);
    assert.equal(jobResult(out, JOB, "restore"), fingerprint(newer));
  });

  it("a condition whose status is not True = not that condition (neither finished)", () => {
    const status = { conditions: [{ type: "Complete", status: "False" }] };
    assert.equal(trueCondition(status, "Complete"), undefined);
    const out = lines(status, succeeded("2026-12-07T00:00:01Z", fingerprint("x")));
    assert.match(
      messageOf(() => judgeFingerprint(JOB, out)),
      /did not finish/,
    );
    assert.match(
      messageOf(() => jobResult(out, JOB, "restore")),
      /did not finish/,
    );
  });
});
