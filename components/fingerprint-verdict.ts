// Whether the old side's fingerprint Job (components/old-fingerprint.ts) produced a fingerprint.
// Pure: scripts/refresh-judge.sh's stdout in (the Job's status, then one line per pod's status),
// the fingerprint out (the succeeded pod's termination message, checked against the shared
// contract), or ONE line naming the Job and why there is none.
import {
  byStart,
  readJudged,
  trueCondition,
  unreadable,
  type PodStatus,
} from "./shared/judged-job";
import { oldFingerprint, type OldFingerprint } from "./shared/outputs";

export class FingerprintFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FingerprintFailed";
  }
}

/** The first container's termination message of each pod in `phase`, oldest pod first. */
function messages(pods: readonly PodStatus[], phase?: string): string[] {
  return [...pods]
    .filter((p) => phase === undefined || p.phase === phase)
    .sort(byStart)
    .map((p) => (p.containerStatuses?.[0]?.state?.terminated?.message ?? "").trim());
}

/**
 * A failed pod's message is the tail of its log (FallbackToLogsOnError): the script's last
 * stderr line, `fingerprint-old.sh: ERROR: ...`, says why.
 */
function lastLine(message: string): string {
  const line = message.split("\n").pop() ?? "";
  return line === "" ? "no termination message" : `"${line.slice(0, 1000)}"`;
}

export function judgeFingerprint(job: string, stdout: string): OldFingerprint {
  const see = `see README "The old side's fingerprint"`;
  const judged = readJudged(stdout);
  if (!judged) throw new FingerprintFailed(`fingerprint Job ${job}: ${unreadable(stdout)}`);
  const { status, pods } = judged;
  const failed = trueCondition(status, "Failed");
  if (failed) {
    const last = messages(pods).pop() ?? "";
    throw new FingerprintFailed(
      `fingerprint Job ${job} failed (${failed.reason ?? "Failed"}); last pod: ${lastLine(last)}; ${see}`,
    );
  }
  if (!trueCondition(status, "Complete")) {
    throw new FingerprintFailed(`fingerprint Job ${job} did not finish (no Complete condition)`);
  }
  const message = messages(pods, "Succeeded").pop();
  if (message === undefined) {
    throw new FingerprintFailed(
      `fingerprint Job ${job} is Complete but no succeeded pod is left to read its result from; ${see}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(message.split("\n").pop() ?? "");
  } catch {
    throw new FingerprintFailed(
      `fingerprint Job ${job}: its result is not JSON (${lastLine(message)}); a termination message holds 4 KiB: see the pod's log`,
    );
  }
  const parsed = oldFingerprint.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new FingerprintFailed(
      `fingerprint Job ${job}: its result does not match the contract (components/shared/outputs.ts): ${problems.join("; ")}`,
    );
  }
  return parsed.data;
}
