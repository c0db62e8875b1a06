// How a restore Job ended, from scripts/refresh-judge.sh's stdout (line 1 the Job's .status,
// then one line per pod's .status). Pure. The restore Jobs are not awaited by the provider
// (pulumi.com/skipAwait): its own failure says only "BackoffLimitExceeded", while the reason is
// in the failed container's termination message, the tail of its log (FallbackToLogsOnError)
// whose last line is the script's `<script>: ERROR: ...`. So the judge waits and this reads it
// (the lines read as ../shared/judged-job.ts reads them, as the old side's fingerprint does).
import { byStart, readJudged, trueCondition, unreadable } from "../shared/judged-job";

/** A Job that did not leave a result: one line, naming the Job and why. */
export class JobFailed extends Error {
  constructor(
    message: string,
    /** The container that failed, when one did (e.g. "fetch"). */
    public readonly container?: string,
  ) {
    super(message);
    this.name = "JobFailed";
  }
}

/** The line of a termination message that says why: the script's ERROR line, else the last. */
export function reasonLine(message: string): string {
  const lines = message
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const line = [...lines].reverse().find((l) => /: ERROR: /.test(l)) ?? lines.pop() ?? "";
  return line === "" ? "no termination message" : line.slice(0, 2000);
}

/**
 * The termination message `container` left in the newest succeeded pod of a Complete Job
 * (`job` is "namespace/name", for messages). A Failed Job throws JobFailed naming the container
 * that failed and its ERROR line; a Job that is neither throws too.
 */
export function jobResult(stdout: string, job: string, container: string): string {
  const judged = readJudged(stdout);
  if (!judged) throw new JobFailed(`Job ${job}: ${unreadable(stdout)}`);
  const { status, pods } = judged;
  const failed = trueCondition(status, "Failed");
  if (failed) {
    // The newest pod's first container that ended non-zero (init containers run first).
    for (const pod of [...pods].sort(byStart).reverse()) {
      const statuses = [...(pod.initContainerStatuses ?? []), ...(pod.containerStatuses ?? [])];
      const bad = statuses.find((c) => (c.state?.terminated?.exitCode ?? 0) !== 0);
      if (bad) {
        const t = bad.state!.terminated!;
        throw new JobFailed(
          `Job ${job} failed in container ${bad.name ?? "?"} (exit ${t.exitCode}): ${reasonLine(t.message ?? "")}`,
          bad.name,
        );
      }
    }
    throw new JobFailed(
      `Job ${job} failed (${failed.reason ?? "Failed"}) without a container that says why (kubectl -n ${job.split("/")[0]} describe job ${job.split("/")[1]})`,
    );
  }
  if (!trueCondition(status, "Complete")) throw new JobFailed(`Job ${job} did not finish`);
  const pod = pods
    .filter((p) => p.phase === "Succeeded")
    .sort(byStart)
    .pop();
  const message = pod?.containerStatuses
    ?.find((c) => c.name === container)
    ?.state?.terminated?.message?.trim();
  if (!message) {
    throw new JobFailed(
      `Job ${job} is Complete but no succeeded pod's ${container} container left a result (pods gone?)`,
    );
  }
  return message;
}
