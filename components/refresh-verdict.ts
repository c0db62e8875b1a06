// Whether a refresh Job really made a backup. The sql-backup image exits 0 even when the dump
// failed; it writes SUCCESS or FAILURE (n) to /dev/termination-log, so the pod's termination
// message is the only verdict. Pure: the Job's and its pods' status JSON in (as
// scripts/refresh-judge.sh prints them), the verdict out, or one line saying why not.

/** A refresh that produced a backup. */
export interface RefreshVerdict {
  /** "namespace/name" of the Job. */
  readonly job: string;
  /** The termination message, "SUCCESS". */
  readonly message: string;
  /** status.startTime of the Job (UTC ISO-8601): a dump it made is named at or after it. */
  readonly startTime: string;
  /** status.completionTime of the Job. */
  readonly completionTime: string;
}

interface Condition {
  readonly type?: string;
  readonly status?: string;
  readonly reason?: string;
  readonly message?: string;
}

interface JobStatus {
  readonly conditions?: Condition[];
  readonly startTime?: string;
  readonly completionTime?: string;
  readonly succeeded?: number;
  readonly failed?: number;
}

interface ContainerStatus {
  readonly name?: string;
  readonly state?: { terminated?: { exitCode?: number; message?: string; reason?: string } };
}

interface PodStatus {
  readonly phase?: string;
  readonly startTime?: string;
  readonly containerStatuses?: ContainerStatus[];
}

/** What the image writes when the dump worked; anything else is a failure. */
export const SUCCESS_MESSAGE = "SUCCESS";

export class RefreshFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RefreshFailed";
  }
}

function parse(line: string, what: string, job: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new RefreshFailed(
      `refresh Job ${job}: cannot read its ${what} (got "${line.slice(0, 200)}")`,
    );
  }
}

/** The pods' termination messages, newest pod last (pods sorted by their start time). */
function podMessages(pods: readonly PodStatus[], phase?: string): string[] {
  return [...pods]
    .filter((p) => phase === undefined || p.phase === phase)
    .sort((a, b) => (a.startTime ?? "").localeCompare(b.startTime ?? ""))
    .flatMap((p) => (p.containerStatuses ?? []).map((c) => c.state?.terminated?.message ?? ""))
    .map((m) => m.trim());
}

const quoted = (m: string) => (m === "" ? "no termination message" : `"${m.replace(/\s+/g, " ")}"`);

/**
 * Judges a refresh Job from `refresh-judge.sh`'s stdout: first line the Job's `.status`, then
 * one line per pod with the pod's `.status`. Returns the verdict when the Job is Complete and
 * every container of a succeeded pod left exactly SUCCESS; otherwise throws RefreshFailed with
 * one line naming the Job, what happened and what to do.
 */
export function judgeRefresh(job: string, stdout: string, waitedSeconds?: number): RefreshVerdict {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new RefreshFailed(`refresh Job ${job}: no status read back`);
  const status = (parse(lines[0]!, "status", job) ?? {}) as JobStatus;
  const pods = lines.slice(1).map((l) => parse(l, "pod status", job) as PodStatus);
  const again = `nothing was copied; see README "When a refresh fails"`;
  const isTrue = (type: string) =>
    (status.conditions ?? []).find((c) => c.type === type && c.status === "True");

  const failed = isTrue("Failed");
  if (failed) {
    const last = podMessages(pods).pop() ?? "";
    const why =
      failed.reason === "DeadlineExceeded"
        ? "ran past its deadline (activeDeadlineSeconds, refresh.timeoutSeconds)"
        : `failed (${failed.reason ?? "Failed"}${failed.message ? `: ${failed.message}` : ""})`;
    throw new RefreshFailed(`refresh Job ${job} ${why}; last pod: ${quoted(last)}; ${again}`);
  }
  if (!isTrue("Complete")) {
    const waited = waitedSeconds === undefined ? "" : ` within ${waitedSeconds}s`;
    throw new RefreshFailed(
      `refresh Job ${job} did not finish${waited} (no Complete condition); ${again}`,
    );
  }
  const messages = podMessages(pods, "Succeeded");
  if (messages.length === 0) {
    throw new RefreshFailed(
      `refresh Job ${job} is Complete but no succeeded pod is left to read its verdict from (no termination message); ${again}`,
    );
  }
  // The last succeeded pod's verdict (a Job with completions 1 has exactly one).
  const message = messages[messages.length - 1]!;
  if (message !== SUCCESS_MESSAGE) {
    throw new RefreshFailed(
      `refresh Job ${job} reported ${quoted(message)}, not ${SUCCESS_MESSAGE} (the image exits 0 either way); ${again}`,
    );
  }
  if (!status.startTime || !status.completionTime) {
    throw new RefreshFailed(`refresh Job ${job}: status lacks startTime/completionTime`);
  }
  return {
    job,
    message,
    startTime: status.startTime.replace(/\.\d+Z$/, "Z"),
    completionTime: status.completionTime.replace(/\.\d+Z$/, "Z"),
  };
}
