// The refresh verdict over real Job/pod status shapes: only a Complete Job whose pod left exactly
// SUCCESS is a backup; the sql-backup image exits 0 on failure, so everything else is refused.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { judgeRefresh, RefreshFailed } from "../../components/refresh-verdict";
import {
  JOB_BACKOFF,
  JOB_COMPLETE,
  JOB_DEADLINE,
  JOB_RUNNING,
  judgeOutput,
  pod,
} from "../fixtures/refresh/shapes";

const JOB = "production-stack/relocation-refresh-stack-db";

describe("judgeRefresh", () => {
  const ok: Array<[string, string]> = [
    [
      "Complete, pod message SUCCESS = backup made",
      judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0, "SUCCESS")]),
    ],
    [
      "SUCCESS with a trailing newline = backup made",
      judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0, "SUCCESS\n")]),
    ],
    [
      "a failed pod retried, the retry SUCCESS = backup made",
      judgeOutput(JOB_COMPLETE, [
        pod("Succeeded", 0, "SUCCESS", "2026-11-25T10:00:40Z"),
        pod("Failed", 1, undefined, "2026-11-25T10:00:06Z"),
      ]),
    ],
  ];
  for (const [name, out] of ok) {
    it(name, () => {
      assert.deepEqual(judgeRefresh(JOB, out, 3600), {
        job: JOB,
        message: "SUCCESS",
        startTime: "2026-11-25T10:00:05Z",
        completionTime: "2026-11-25T10:01:12Z",
      });
    });
  }

  const refused: Array<[string, string, RegExp]> = [
    [
      "Complete, pod message FAILURE (1) = refused naming the Job and the message",
      judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0, "FAILURE (1)")]),
      /^refresh Job production-stack\/relocation-refresh-stack-db reported "FAILURE \(1\)", not SUCCESS .*nothing was copied/,
    ],
    [
      "Complete, no termination message = refused",
      judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0)]),
      /reported no termination message, not SUCCESS/,
    ],
    [
      "Complete, message merely starting with SUCCESS = refused",
      judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0, "SUCCESSFUL?")]),
      /reported "SUCCESSFUL\?"/,
    ],
    [
      "Job failed (BackoffLimitExceeded) = refused with the reason and the last pod's message",
      judgeOutput(JOB_BACKOFF, [pod("Failed", 1, "FAILURE (2)")]),
      /relocation-refresh-stack-db failed \(BackoffLimitExceeded: Job has reached the specified backoff limit\); last pod: "FAILURE \(2\)"/,
    ],
    [
      "Job deadline exceeded = refused naming the deadline",
      judgeOutput(JOB_DEADLINE, []),
      /ran past its deadline \(activeDeadlineSeconds, refresh.timeoutSeconds\); last pod: no termination message/,
    ],
    [
      "still running at the judge's deadline = refused as unfinished",
      judgeOutput(JOB_RUNNING, []),
      /did not finish within 3600s/,
    ],
    [
      "Complete but its pod is gone = refused, no verdict to read",
      judgeOutput(JOB_COMPLETE, []),
      /no succeeded pod is left/,
    ],
    ["nothing read back = refused", "", /no status read back/],
    [
      "not JSON = refused",
      "error: the server doesn't have a resource type\n",
      /cannot read its status/,
    ],
  ];
  for (const [name, out, expected] of refused) {
    it(name, () => {
      assert.throws(
        () => judgeRefresh(JOB, out, 3600),
        (err: unknown) => {
          assert.ok(err instanceof RefreshFailed);
          assert.match(err.message, expected);
          assert.doesNotMatch(err.message, /\n/, "one line");
          return true;
        },
      );
    });
  }
});
