// The one "judge a Job" step both sides use: a local Command running scripts/refresh-judge.sh,
// a bounded wait until a Job is Complete or Failed, whose stdout (the Job's status, then each
// pod's) a pure verdict reads (refresh-verdict.ts, fingerprint-verdict.ts,
// restore/job-outcome.ts). Used for the refresh Job, the old side's fingerprint Job and the
// restore side's Jobs, each of which carries `pulumi.com/skipAwait` so that this is what decides.
import * as command from "@pulumi/command";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { script } from "../scripts";

export interface JudgeJobArgs {
  /** The Job's namespace. */
  readonly namespace: string;
  /** How long the judge waits for the Job to finish (TIMEOUT_SECONDS); it then fails. */
  readonly timeoutSeconds: number;
  /** Names the judge's progress and ERROR lines. @default "refresh-judge" (the script's) */
  readonly judgeName?: string;
  /** The setting a timeout points at. @default "refresh.timeoutSeconds" (the script's) */
  readonly timeoutSetting?: string;
  /** What the progress lines say they wait for. @default "the backup" (the script's) */
  readonly waitingFor?: string;
  /** Seconds between two reads of the Job. @default 2 (the script's) */
  readonly pollSeconds?: number;
  /** kubeconfig context for kubectl. @default the current context */
  readonly kubeContext?: string;
}

/**
 * The judge's environment. A setting left out is not set at all (the script's default applies),
 * so the refresh's judge keeps the environment it had before the other judges shared it: a
 * changed input would re-run the judge of an existing stack. Pure.
 */
export function judgeEnvironment(
  jobName: pulumi.Input<string>,
  args: JudgeJobArgs,
): Record<string, pulumi.Input<string>> {
  const optional: [string, string | number | undefined][] = [
    ["POLL_SECONDS", args.pollSeconds],
    ["JUDGE_NAME", args.judgeName],
    ["TIMEOUT_SETTING", args.timeoutSetting],
    ["WAITING_FOR", args.waitingFor],
    ["KUBE_CONTEXT", args.kubeContext || undefined],
  ];
  return {
    NAMESPACE: args.namespace,
    JOB_NAME: jobName,
    TIMEOUT_SECONDS: String(args.timeoutSeconds),
    ...Object.fromEntries(
      optional.filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]),
    ),
  };
}

/**
 * The judge of `job`, named `name`, after it. It runs again when the Job is replaced (its uid)
 * or the script changes. Pulumi gives it 120 s beyond its own wait (one more poll and the status
 * reads), so a timeout ends with the script's own line, naming `timeoutSetting`.
 */
export function judgeJob(
  name: string,
  job: k8s.batch.v1.Job,
  args: JudgeJobArgs,
  opts: pulumi.CustomResourceOptions & { readonly parent: pulumi.Resource },
): command.local.Command {
  const judge = script("refresh-judge.sh");
  return new command.local.Command(
    name,
    {
      interpreter: ["/bin/bash", "-c"],
      create: judge.text,
      environment: judgeEnvironment(job.metadata.name, args),
      triggers: [job.metadata.uid, judge.sha256],
    },
    { dependsOn: [job], customTimeouts: { create: `${args.timeoutSeconds + 120}s` }, ...opts },
  );
}
