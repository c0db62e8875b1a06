// How a judged Job is read: scripts/refresh-judge.sh's stdout (line 1 the Job's .status, then one
// line per pod's .status, as components/shared/job-judge.ts runs it) as data. Pure. Shared by the
// verdicts that read the pods' termination messages (fingerprint-verdict.ts,
// restore/job-outcome.ts); each words its own failures.

export interface Terminated {
  readonly exitCode?: number;
  readonly reason?: string;
  readonly message?: string;
}
export interface ContainerStatus {
  readonly name?: string;
  readonly state?: { readonly terminated?: Terminated };
}
export interface PodStatus {
  readonly phase?: string;
  readonly startTime?: string;
  readonly initContainerStatuses?: readonly ContainerStatus[];
  readonly containerStatuses?: readonly ContainerStatus[];
}
export interface JobStatus {
  readonly conditions?: readonly { type?: string; status?: string; reason?: string }[];
}
export interface JudgedJob {
  readonly status: JobStatus;
  readonly pods: PodStatus[];
}

/** The judge's stdout as the Job's and its pods' status; undefined when a line is not JSON. */
export function readJudged(stdout: string): JudgedJob | undefined {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  try {
    return {
      status: (JSON.parse(lines[0] ?? "") ?? {}) as JobStatus,
      pods: lines.slice(1).map((l) => JSON.parse(l) as PodStatus),
    };
  } catch {
    return undefined;
  }
}

/** Why readJudged found nothing, quoting the start of what the judge printed. */
export function unreadable(stdout: string): string {
  return `cannot read its status (got "${stdout.slice(0, 200).replace(/\s+/g, " ").trim()}")`;
}

/** The Job's condition `type` when it is True (Complete, Failed). */
export function trueCondition(status: JobStatus, type: string) {
  return (status.conditions ?? []).find((c) => c.type === type && c.status === "True");
}

/** Pods oldest first, by start time (a pod not started yet sorts first). */
export const byStart = (a: PodStatus, b: PodStatus) =>
  (a.startTime ?? "").localeCompare(b.startTime ?? "");
