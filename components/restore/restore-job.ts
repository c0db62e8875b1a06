// What every restore Job shares around its pod (DumpRestore, MediaRestore): the arguments both
// components take, finding the source stack's entry for a backup, the Job's inputs (Secret,
// scripts ConfigMap) and the volumes and mounts they make, the Job itself (metadata, options),
// its `restore` container's resources, judging the finished Job (its result from the
// termination message, or why it failed) and parsing that JSON line with zod. Each failure is
// one line starting "restore of backup <name>:".
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { type z } from "zod";
import { AwsCredentialsSecret, type S3Credentials } from "../credentials";
import { jobName } from "../job-name";
import { OperatorError } from "../operator-error";
import { script, type Script } from "../scripts";
import { judgeJob } from "../shared/job-judge";
import { scriptsAnnotation } from "../shared/job-pod";
import { MANAGED_BY } from "../shared/labels";
import { jobResult } from "./job-outcome";

/** The prefix of every error about one backup's restore. */
export const restoreOf = (backup: string) => `restore of backup ${backup}`;

/**
 * The raw entry `backup` of the source stack's `backups` output (not yet checked against a
 * schema); `key` is the setting naming it, e.g. "restore.databases[].backup", for the fix.
 */
export function sourceEntry(backup: string, backups: unknown, key: string): unknown {
  const where = restoreOf(backup);
  if (typeof backups !== "object" || backups === null || Array.isArray(backups)) {
    throw new Error(
      `${where}: the source stack has no backups output (an object by backup name); run \`pulumi up\` of the backup stack first, or check restore.source`,
    );
  }
  const all = backups as Record<string, unknown>;
  if (!Object.prototype.hasOwnProperty.call(all, backup)) {
    const names = Object.keys(all).sort();
    throw new Error(
      `${where}: the source stack's backups output has no entry "${backup}" (it has: ${names.join(", ") || "none"}); set ${key} to one of them`,
    );
  }
  return all[backup];
}

/** Why `parsed` (a shared-schema parse of backups.<backup>) failed, as one line. */
export function contractError(backup: string, issues: z.core.$ZodIssue[]): Error {
  const problems = issues.map((i) => `backups.${backup}.${i.path.join(".")}: ${i.message}`);
  return new Error(
    `${restoreOf(backup)}: the source stack's output does not match the shared contract (components/shared/outputs.ts): ${problems.join("; ")}; is the backup stack at the same version of this program?`,
  );
}

/**
 * The last line of a container's termination message (judgeJobResult), parsed
 * as JSON and checked with `schema`; `container` names where its log is when it is cut short.
 */
export function parseJobResult<T extends z.ZodType>(
  stdout: string,
  backup: string,
  container: string,
  schema: T,
): z.infer<T> {
  const where = restoreOf(backup);
  let value: unknown;
  try {
    value = JSON.parse(stdout.trim().split("\n").pop() ?? "");
  } catch {
    throw new Error(
      `${where}: the Job's result is not JSON (${stdout.trim().slice(0, 200)}); a termination message holds 4 KiB: see the last line of the pod's log (kubectl logs job/<name> -c ${container})`,
    );
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new Error(
      `${where}: the Job's result does not have the expected shape: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
}

/**
 * The finished Job's result: a judge (../shared/job-judge.ts) waits for the Job, bounded by
 * `timeoutSeconds` + 120 s, and prints its and its pods' status; the result is
 * the termination message `container` left in the newest succeeded pod (./job-outcome.ts). A
 * failed Job rejects with one line: the container that failed, its script's ERROR line, and how
 * to run it again. The judge runs again whenever the Job is replaced (its uid) or it changes.
 * The Job itself must carry `pulumi.com/skipAwait` (the provider's own failure would say only
 * "BackoffLimitExceeded") and FallbackToLogsOnError on its containers.
 */
export function judgeJobResult(
  name: string,
  job: k8s.batch.v1.Job,
  args: {
    readonly backup: string;
    readonly namespace: string;
    readonly container: string;
    /** The Job's activeDeadlineSeconds and the setting that holds it (named on a timeout). */
    readonly timeoutSeconds: number;
    readonly timeoutSetting: string;
    readonly kubeContext?: string;
  },
  parent: pulumi.Resource,
): pulumi.Output<string> {
  const stdout = judgeJob(
    name,
    job,
    {
      namespace: args.namespace,
      // The Job's own deadline ends it first; the judge then reads why.
      timeoutSeconds: args.timeoutSeconds + 120,
      pollSeconds: 5,
      judgeName: "restore-judge",
      timeoutSetting: args.timeoutSetting,
      waitingFor: `the restore of ${args.backup}`,
      kubeContext: args.kubeContext,
    },
    { parent },
  ).stdout;
  return pulumi.all([stdout, job.metadata.name]).apply(([out, jobName]) => {
    try {
      return jobResult(out, `${args.namespace}/${jobName}`, args.container);
    } catch (err) {
      throw new OperatorError(
        `${restoreOf(args.backup)}: ${(err as Error).message}; once the cause is fixed, run it again: kubectl -n ${args.namespace} delete job ${jobName}, then pulumi up --refresh`,
        parent,
      );
    }
  });
}

/** The arguments both restore components (DumpRestoreArgs, MediaRestoreArgs) take alike. */
export interface RestoreJobArgs {
  /** The source stack's `backups` output (e.g. StackReference.getOutput("backups")). */
  readonly backups: pulumi.Input<unknown>;
  /** Region and, for S3-compatible stores, the endpoint of the bucket the entry names. */
  readonly region: string;
  /** @default AWS's own endpoint for the region */
  readonly endpoint?: string;
  /** kubeconfig context for reading the result back. @default the current context */
  readonly kubeContext?: string;
  /** false: destroy leaves the Job (its record) in the cluster. @default false */
  readonly deleteDataOnDestroy?: boolean;
  /** Resources that must finish before the Job is created (the preflight). @default [] */
  readonly runAfter?: pulumi.Input<pulumi.Resource>[];
}

/** `check`'s value; what it throws reaches the operator as written (an OperatorError of `parent`). */
function forOperator<T>(parent: pulumi.Resource, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw new OperatorError((err as Error).message, parent);
  }
}

/**
 * A restore Job's source entry: its backup's entry of the source stack's `backups` output, as
 * `check` (dumpFor, treeFor) finds and checks it; a failure reaches the operator as written.
 */
export function checkedSourceEntry<E>(
  backups: pulumi.Input<unknown>,
  check: (backups: unknown) => E,
  parent: pulumi.Resource,
): pulumi.Output<E> {
  return (pulumi.output(backups) as pulumi.Output<unknown>).apply((value) =>
    forOperator(parent, () => check(value)),
  );
}

/**
 * A restore Job's result: its `restore` container's termination message, read back by the
 * judge `${name}-result` (judgeJobResult; a timeout names restore.restoreTimeoutSeconds) and
 * checked by `check` against the source entry; a failure reaches the operator as written.
 */
export function checkedRestoreResult<E, R>(
  name: string,
  job: k8s.batch.v1.Job,
  args: {
    readonly backup: string;
    readonly namespace: string;
    /** The Job's activeDeadlineSeconds. */
    readonly timeoutSeconds: number;
    readonly kubeContext?: string;
    /** The source entry restored (checkedSourceEntry). */
    readonly entry: pulumi.Output<E>;
  },
  check: (stdout: string, entry: pulumi.Unwrap<E>) => R,
  parent: pulumi.Resource,
): pulumi.Output<R> {
  const stdout = judgeJobResult(
    `${name}-result`,
    job,
    {
      backup: args.backup,
      namespace: args.namespace,
      container: "restore",
      timeoutSeconds: args.timeoutSeconds,
      timeoutSetting: "restore.restoreTimeoutSeconds",
      kubeContext: args.kubeContext,
    },
    parent,
  );
  return pulumi
    .all([stdout, args.entry])
    .apply(([out, entry]) => forOperator(parent, () => check(out, entry)));
}

/**
 * What the `restore` container of a restore Job (the one that writes the target and leaves the
 * result) may use, in both kinds: the dump's psql and the media's download and hashing.
 */
export const RESTORE_CONTAINER_RESOURCES = {
  requests: { cpu: "500m", memory: "512Mi" },
  limits: { memory: "2Gi" },
};

/** Where a restore Job's containers find the scripts (each at its path under scripts/). */
export const RESTORE_SCRIPTS_DIR = "/scripts";

/**
 * A restore Job's metadata: a fixed name (job-name.ts) and `pulumi.com/skipAwait`, so the judge
 * (judgeJobResult) waits and says why a restore failed, not the provider.
 */
function restoreJobMetadata(name: string, namespace: string): k8s.types.input.meta.v1.ObjectMeta {
  return {
    name: jobName(`${name}-job`),
    namespace,
    labels: MANAGED_BY,
    annotations: { "pulumi.com/skipAwait": "true" },
  };
}

/** What a restore Job's pod mounts and reads, made before the Job (its inputs). */
export interface RestoreJobInputs {
  /** The scripts, in the order given (their sha256s go into the pod's annotation). */
  readonly files: Script[];
  /** The read key, for the pod's secretKeyRefs (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). */
  readonly secret: AwsCredentialsSecret;
  /** The scripts, each under its base name (mounted at its path below the scripts dir). */
  readonly scripts: k8s.core.v1.ConfigMap;
  /** The pod's first volumes: `scripts` (the ConfigMap, each key at its path) and `tmp`. */
  readonly volumes: k8s.types.input.core.v1.Volume[];
  /** Their mounts in each container: the scripts read-only at RESTORE_SCRIPTS_DIR, /tmp. */
  readonly mounts: k8s.types.input.core.v1.VolumeMount[];
}

/** The credentials Secret and the scripts ConfigMap of a restore Job in `namespace`. */
export function restoreJobInputs(
  name: string,
  args: {
    readonly namespace: string;
    readonly credentials: S3Credentials;
    /** Paths under scripts/, e.g. "restore/restore-dump.sh". */
    readonly scriptFiles: readonly string[];
  },
  parent: pulumi.Resource,
): RestoreJobInputs {
  const files = args.scriptFiles.map((f) => script(f));
  const secret = new AwsCredentialsSecret(
    `${name}-aws`,
    { namespace: args.namespace, credentials: args.credentials },
    { parent },
  );
  const scripts = new k8s.core.v1.ConfigMap(
    `${name}-scripts`,
    {
      metadata: { namespace: args.namespace, labels: MANAGED_BY },
      data: Object.fromEntries(files.map((s) => [path.basename(s.name), s.text])),
    },
    { parent },
  );
  const volumes = [
    {
      name: "scripts",
      configMap: {
        name: scripts.metadata.name,
        defaultMode: 0o555,
        items: files.map((s) => ({ key: path.basename(s.name), path: s.name })),
      },
    },
    // No limit: the dump's fingerprint sorts each table's text here.
    { name: "tmp", emptyDir: {} },
  ];
  const mounts = [
    { name: "scripts", mountPath: RESTORE_SCRIPTS_DIR, readOnly: true },
    { name: "tmp", mountPath: "/tmp" },
  ];
  return { files, secret, scripts, volumes, mounts };
}

/**
 * A restore Job `${name}-job` running `pod` (its volumes starting with inputs.volumes): its
 * metadata (restoreJobMetadata), `backoffLimit` retries within one deadline of `timeoutSeconds`
 * for all attempts, no TTL, pods never restarted in place and carrying the scripts' hash (an
 * edited script replaces the Job), and restoreJobOptions.
 */
export function restoreJob(
  name: string,
  args: {
    readonly namespace: string;
    readonly inputs: RestoreJobInputs;
    readonly backoffLimit: number;
    /** The Job's activeDeadlineSeconds. */
    readonly timeoutSeconds: number;
    /** The component's own arguments. */
    readonly component: Pick<RestoreJobArgs, "runAfter" | "deleteDataOnDestroy">;
  },
  pod: Omit<k8s.types.input.core.v1.PodSpec, "restartPolicy">,
  parent: pulumi.Resource,
): k8s.batch.v1.Job {
  return new k8s.batch.v1.Job(
    `${name}-job`,
    {
      metadata: restoreJobMetadata(name, args.namespace),
      spec: {
        backoffLimit: args.backoffLimit,
        activeDeadlineSeconds: args.timeoutSeconds,
        template: {
          metadata: { labels: MANAGED_BY, annotations: scriptsAnnotation(args.inputs.files) },
          spec: { restartPolicy: "Never", ...pod },
        },
      },
    },
    restoreJobOptions(parent, args.inputs, args.timeoutSeconds, args.component),
  );
}

/**
 * The options every restore Job has: it starts after `runAfter` and its inputs, may run its
 * deadline plus 5 minutes, goes before its replacement starts (never two at once on one
 * server or volume), and is kept on destroy (the record of what was restored) unless
 * deleteDataOnDestroy.
 */
function restoreJobOptions(
  parent: pulumi.Resource,
  inputs: RestoreJobInputs,
  timeoutSeconds: number,
  args: Pick<RestoreJobArgs, "runAfter" | "deleteDataOnDestroy">,
): pulumi.CustomResourceOptions {
  return {
    parent,
    dependsOn: pulumi
      .output(args.runAfter ?? [])
      .apply((after) => [inputs.secret, inputs.scripts, ...after]),
    customTimeouts: { create: `${timeoutSeconds + 300}s` },
    deleteBeforeReplace: true,
    retainOnDelete: !(args.deleteDataOnDestroy ?? false),
  };
}
