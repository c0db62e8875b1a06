// One backup made NOW, after every StatefulSet is at zero, with the production CronJob's own
// jobTemplate (same image, Secret, PVC, BACKUP_COUNT): the dump then holds every write.
//
//   wait   local.Command, scripts/refresh-wait.sh: bounded wait until no Job of the CronJob runs
//          (a Job declared from the template, like `kubectl create job --from`, ignores the
//          CronJob's concurrencyPolicy, and two sql-backup runs share one dumpall.sql.gz);
//   job    k8s Job `relocation-refresh-<backup>` in the CronJob's namespace, spec = the
//          CronJob's spec.jobTemplate.spec (so `pulumi preview` shows it), labelled as ours, NOT
//          owned by the CronJob (its history limit would delete it). `pulumi.com/skipAwait`: the
//          provider's await judges only conditions, and the image exits 0 on failure, so the
//          judge below is the one place that decides;
//   judge  local.Command, scripts/refresh-judge.sh (shared/job-judge.ts): bounded wait until the Job is Complete or
//          Failed, prints its status and its pods' status; judgeRefresh() turns that into the
//          verdict or ONE line naming the Job and its message. The copy's settings are computed
//          from the verdict, so a failed verdict means the copy is never even registered.
//
// Re-running `up` after a failed verdict: the Job is in state (created) and the judge's create
// failed or its stdout holds the failure, so the same verdict fails again; nothing reruns the
// backup by itself. The operator replaces the wait and the Job (`pulumi up --replace <wait>
// --replace <job>`): a new wait, a new Job whose uid re-runs the judge (triggers), whose new
// verdict re-runs the copy. See README.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { REFRESH_JOB_PREFIX } from "./config";
import { OperatorError } from "./operator-error";
import { judgeRefresh, RefreshFailed, type RefreshVerdict } from "./refresh-verdict";
import { script } from "./scripts";
import { judgeJob } from "./shared/job-judge";
import { MANAGED_BY } from "./shared/labels";

/** The label and annotation that mark a refresh Job as this stack's, by CronJob (with MANAGED_BY). */
export const REFRESH_OF_LABEL = "relocation.fragalysis/refresh-of";
/** A finished refresh Job and its pod (with the verdict) are kept this long. */

export interface BackupRefreshArgs {
  /** The backup this refresh is for (names the Job). */
  readonly backupName: string;
  /** The CronJob as read by the preflight; its spec.jobTemplate becomes the Job. */
  readonly cronJob: k8s.batch.v1.CronJob;
  /** The CronJob's namespace: the Job runs there (its Secret and PVC are there). */
  readonly namespace: string;
  /** The CronJob's name. */
  readonly cronJobName: string;
  /** Bounded wait for a running Job of the CronJob. @default 900 */
  readonly waitSeconds?: number;
  /** Deadline of our Job and the judge's wait. @default 3600 */
  readonly timeoutSeconds?: number;
  /** kubeconfig context for kubectl. @default the current context */
  readonly kubeContext?: string;
  /** Every quiesce's scaledToZero: the backup starts only when all writers are gone. */
  readonly runAfter: pulumi.Input<pulumi.Resource>[];
}

/** What the judge found: a verdict, or the one line saying why there is none. */
export type RefreshOutcome =
  | { readonly ok: true; readonly verdict: RefreshVerdict }
  | { readonly ok: false; readonly error: string };

/** The Job's name for a backup. */
export function refreshJobName(backupName: string): string {
  return `${REFRESH_JOB_PREFIX}${backupName}`;
}

/**
 * The Job declared from a CronJob's jobTemplate: its spec as is, plus our labels and, if the
 * template sets none, a deadline; never a TTL (a Job removed by one would be dropped by
 * `pulumi refresh` and run again by the next `up`: kept until destroy, like every Job here). Pure.
 */
export function jobFromTemplate(
  template: k8s.types.output.batch.v1.JobTemplateSpec | undefined,
  args: { name: string; namespace: string; cronJob: string; timeoutSeconds: number },
): k8s.types.input.batch.v1.Job {
  if (!template?.spec?.template) {
    throw new Error(
      `refresh.cronJob ${args.namespace}/${args.cronJob}: the CronJob has no spec.jobTemplate.spec.template`,
    );
  }
  const spec = template.spec;
  const labels = {
    ...(template.metadata?.labels ?? {}),
    ...MANAGED_BY,
    [REFRESH_OF_LABEL]: args.cronJob,
  };
  return {
    metadata: {
      name: args.name,
      namespace: args.namespace,
      labels,
      annotations: {
        ...(template.metadata?.annotations ?? {}),
        "relocation.fragalysis/refresh-of": `${args.namespace}/${args.cronJob}`,
        // The judge waits and decides; the provider's await would trust the exit code.
        "pulumi.com/skipAwait": "true",
      },
    },
    spec: {
      ...spec,
      // The API server generates these for a new Job; copying them would pin the old ones.
      selector: undefined,
      manualSelector: undefined,
      activeDeadlineSeconds: spec.activeDeadlineSeconds ?? args.timeoutSeconds,
      ttlSecondsAfterFinished: undefined,
      template: {
        ...spec.template,
        metadata: {
          ...(spec.template.metadata ?? {}),
          labels: { ...(spec.template.metadata?.labels ?? {}), [REFRESH_OF_LABEL]: args.cronJob },
        },
      },
    } as k8s.types.input.batch.v1.JobSpec,
  };
}

export class BackupRefresh extends pulumi.ComponentResource {
  /** The Job that makes the backup. */
  public readonly job: k8s.batch.v1.Job;
  /** The judge; depend on it (or on `verdict`) to run after a successful refresh. */
  public readonly judge: command.local.Command;
  /** The verdict; fails (one line) when the refresh did not make a backup. */
  public readonly verdict: pulumi.Output<RefreshVerdict>;
  /** The verdict or the reason there is none; never fails. */
  public readonly outcome: pulumi.Output<RefreshOutcome>;

  constructor(name: string, args: BackupRefreshArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:refresh:BackupRefresh", name, {}, opts);
    const jobName = refreshJobName(args.backupName);
    const target = `${args.namespace}/${jobName}`;
    const waitSeconds = args.waitSeconds ?? 900;
    const timeoutSeconds = args.timeoutSeconds ?? 3600;
    const context: Record<string, string> = args.kubeContext
      ? { KUBE_CONTEXT: args.kubeContext }
      : {};

    const waiter = script("refresh-wait.sh");
    const wait = new command.local.Command(
      `${name}-wait`,
      {
        interpreter: ["/bin/bash", "-c"],
        create: waiter.text,
        environment: {
          NAMESPACE: args.namespace,
          CRONJOB: args.cronJobName,
          WAIT_SECONDS: String(waitSeconds),
          ...context,
        },
      },
      {
        parent: this,
        dependsOn: args.runAfter,
        customTimeouts: { create: `${waitSeconds + 60}s` },
      },
    );

    const spec = args.cronJob.spec.apply((s) =>
      jobFromTemplate(s?.jobTemplate, {
        name: jobName,
        namespace: args.namespace,
        cronJob: args.cronJobName,
        timeoutSeconds,
      }),
    );
    this.job = new k8s.batch.v1.Job(
      `${name}-job`,
      {
        metadata: spec.metadata as pulumi.Input<k8s.types.input.meta.v1.ObjectMeta>,
        spec: spec.spec as pulumi.Input<k8s.types.input.batch.v1.JobSpec>,
      },
      { parent: this, dependsOn: [wait], deleteBeforeReplace: true },
    );

    this.judge = judgeJob(
      `${name}-judge`,
      this.job,
      { namespace: args.namespace, timeoutSeconds, kubeContext: args.kubeContext },
      { parent: this },
    );

    // Two views of the judgement: `outcome` never fails (for outputs), `verdict` fails the
    // `up` with the one line, as written (OperatorError), wherever it is used; only the copy's settings use it,
    // so the copy is never registered after a failed refresh.
    this.outcome = this.judge.stdout.apply((out): RefreshOutcome => {
      try {
        return { ok: true, verdict: judgeRefresh(target, out, timeoutSeconds) };
      } catch (err) {
        if (err instanceof RefreshFailed) return { ok: false, error: err.message };
        throw err;
      }
    });
    this.verdict = this.outcome.apply((o) => {
      if (!o.ok) throw new OperatorError(o.error, this);
      return o.verdict;
    });
    this.registerOutputs({ outcome: this.outcome });
  }
}
