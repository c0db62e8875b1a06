// The OLD side's fingerprint of a refreshed database: per database {tables, rows, sha256}, taken
// right after the refresh made its dump, while every StatefulSet is at zero (nothing writes), so
// it describes exactly the data in that dump; the restore side compares its own with it.
//
//   scripts  ConfigMap in the CronJob's namespace: fingerprint-old.sh, restore/fingerprint.sh
//            (the restore side's code) and copy-common.sh;
//   job      k8s Job `relocation-fp-<backup>` from the same jobTemplate (jobFromTemplate): its
//            image, env (PGHOST, PGUSER, the Secret's password), pod settings and volumes kept,
//            the template's mounts made read-only (it reads the server, never the backups), the
//            command replaced by the script; no TTL, a fixed name, deleteBeforeReplace;
//   judge    local.Command, scripts/refresh-judge.sh (shared/job-judge.ts: the same bounded wait
//            and status print as the refresh's, as fingerprint-judge), turned by
//            judgeFingerprint() into the fingerprint or ONE line.
// Only after the refresh's verdict (so after every quiesce); the copy does not wait for it. A
// failed fingerprint fails `up` (OperatorError) but, like every Job here, holds nothing destroy
// needs: the StatefulSets' restore never depends on it.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { jobFromTemplate, REFRESH_OF_LABEL } from "./backup-refresh";
import { FingerprintFailed, judgeFingerprint } from "./fingerprint-verdict";
import { OperatorError } from "./operator-error";
import { script, type Script } from "./scripts";
import { judgeJob } from "./shared/job-judge";
import { scriptsAnnotation, valueEnv } from "./shared/job-pod";
import { MANAGED_BY } from "./shared/labels";
import type { OldFingerprint } from "./shared/outputs";

export const FINGERPRINT_JOB_PREFIX = "relocation-fp-";
export const FINGERPRINT_OF_LABEL = "relocation.fragalysis/fingerprint-of";
/** Where the scripts are mounted in the container (apart from any path the template uses). */
export const FINGERPRINT_SCRIPTS_DIR = "/relocation-scripts";
export const FINGERPRINT_TMP_DIR = "/relocation-tmp";
/** The scripts, at the paths fingerprint-old.sh finds them (it sources the other two). */
export const FINGERPRINT_SCRIPT_FILES = [
  "fingerprint-old.sh",
  "copy-common.sh",
  "restore/fingerprint.sh",
];

/** The Job's name for a backup (REFRESH_NAME_MAX in config.ts keeps it within 63). */
export function fingerprintJobName(backupName: string): string {
  return `${FINGERPRINT_JOB_PREFIX}${backupName}`;
}

type Container = k8s.types.input.core.v1.Container;
type PodSpec = k8s.types.input.core.v1.PodSpec;

/**
 * The fingerprint Job from a CronJob's jobTemplate: jobFromTemplate's Job, minus the refresh
 * label (refresh-wait.sh would wait for it), with the template's FIRST container (the
 * sql-backup image has one) keeping its image and env but running fingerprint-old.sh; init and
 * other containers are dropped (they belong to the backup, not to a read). Pure.
 */
export function fingerprintJobFromTemplate(
  template: k8s.types.output.batch.v1.JobTemplateSpec | undefined,
  args: {
    name: string;
    namespace: string;
    cronJob: string;
    timeoutSeconds: number;
    configMap: string;
    /** The scripts in the ConfigMap: their sha256s go on the pod (scriptsAnnotation). */
    scripts: readonly Script[];
  },
): k8s.types.input.batch.v1.Job {
  type Meta = { labels?: Record<string, string>; annotations?: Record<string, string> };
  const base = jobFromTemplate(template, args);
  const meta = base.metadata as Meta;
  const spec = base.spec as k8s.types.input.batch.v1.JobSpec;
  const podTemplate = spec.template as k8s.types.input.core.v1.PodTemplateSpec;
  const podMeta = (podTemplate.metadata ?? {}) as Meta;
  const pod = podTemplate.spec as PodSpec;
  const first = (template?.spec?.template?.spec?.containers ?? [])[0];
  if (!first) {
    throw new Error(
      `refresh.cronJob ${args.namespace}/${args.cronJob}: the CronJob's jobTemplate has no container to take the image and database settings from`,
    );
  }
  const withoutRefresh = (labels: Record<string, string> | undefined) => {
    const { [REFRESH_OF_LABEL]: _refresh, ...rest } = labels ?? {};
    return { ...rest, ...MANAGED_BY, [FINGERPRINT_OF_LABEL]: args.cronJob };
  };
  const container: Container = {
    name: "fingerprint",
    image: first.image,
    imagePullPolicy: first.imagePullPolicy,
    env: [
      ...(first.env ?? []),
      // Ours come last: a name the template also sets takes our value.
      ...valueEnv({ RESULT_FILE: "/dev/termination-log", TMPDIR: FINGERPRINT_TMP_DIR }),
    ],
    envFrom: first.envFrom,
    securityContext: first.securityContext,
    resources: first.resources,
    command: ["bash", `${FINGERPRINT_SCRIPTS_DIR}/fingerprint-old.sh`],
    args: [],
    // A .pgpass the template mounts stays where libpq looks; nothing of the template is written.
    volumeMounts: [
      ...(first.volumeMounts ?? []).map((m) => ({ ...m, readOnly: true })),
      { name: "relocation-scripts", mountPath: FINGERPRINT_SCRIPTS_DIR, readOnly: true },
      { name: "relocation-tmp", mountPath: FINGERPRINT_TMP_DIR },
    ],
    terminationMessagePath: "/dev/termination-log",
    // A failure's message is the log's tail, whose last line is the script's ERROR line.
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
  const annotations = { ...meta.annotations };
  delete annotations[REFRESH_OF_LABEL];
  return {
    metadata: {
      ...base.metadata,
      labels: withoutRefresh(meta.labels),
      annotations: { ...annotations, [FINGERPRINT_OF_LABEL]: `${args.namespace}/${args.cronJob}` },
    },
    spec: {
      ...spec,
      // Ours, not the backup's: the judge waits exactly this long.
      activeDeadlineSeconds: args.timeoutSeconds,
      template: {
        metadata: {
          ...podMeta,
          labels: withoutRefresh(podMeta.labels),
          annotations: { ...podMeta.annotations, ...scriptsAnnotation(args.scripts) },
        },
        spec: {
          ...pod,
          restartPolicy: "Never",
          initContainers: undefined,
          containers: [container],
          volumes: [
            ...((pod.volumes as k8s.types.input.core.v1.Volume[] | undefined) ?? []),
            {
              name: "relocation-scripts",
              configMap: {
                name: args.configMap,
                defaultMode: 0o555,
                items: FINGERPRINT_SCRIPT_FILES.map((f) => ({ key: path.basename(f), path: f })),
              },
            },
            // The fingerprint sorts each table's text here.
            { name: "relocation-tmp", emptyDir: {} },
          ],
        },
      },
    },
  };
}

export interface OldFingerprintArgs {
  readonly backupName: string;
  /** The CronJob as read by the preflight; its jobTemplate gives image, env and pod settings. */
  readonly cronJob: k8s.batch.v1.CronJob;
  readonly namespace: string;
  readonly cronJobName: string;
  /** Deadline of the Job and the judge's wait. @default 3600 */
  readonly timeoutSeconds?: number;
  readonly kubeContext?: string;
  /** The refresh's verdict: the fingerprint is taken only after a dump was made. */
  readonly after: pulumi.Output<unknown>;
}

export class OldSideFingerprint extends pulumi.ComponentResource {
  public readonly job: k8s.batch.v1.Job;
  /** The fingerprint; fails `up` with one line when there is none. */
  public readonly fingerprint: pulumi.Output<OldFingerprint>;

  constructor(name: string, args: OldFingerprintArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:refresh:OldSideFingerprint", name, {}, opts);
    const jobName = fingerprintJobName(args.backupName);
    const target = `${args.namespace}/${jobName}`;
    const timeoutSeconds = args.timeoutSeconds ?? 3600;
    const files = FINGERPRINT_SCRIPT_FILES.map((f) => script(f));

    const scripts = new k8s.core.v1.ConfigMap(
      `${name}-scripts`,
      {
        metadata: { namespace: args.namespace, labels: MANAGED_BY },
        data: Object.fromEntries(files.map((s) => [path.basename(s.name), s.text])),
      },
      { parent: this },
    );
    const spec = pulumi.all([args.cronJob.spec, scripts.metadata.name]).apply(([s, configMap]) =>
      fingerprintJobFromTemplate(s?.jobTemplate, {
        name: jobName,
        namespace: args.namespace,
        cronJob: args.cronJobName,
        timeoutSeconds,
        configMap,
        scripts: files,
      }),
    );
    // The Job is declared only once the refresh's verdict is a success (its input waits for it;
    // a failed verdict fails this input, so no Job is created).
    const gated = pulumi.all([spec, args.after]).apply(([s]) => s);
    this.job = new k8s.batch.v1.Job(
      `${name}-job`,
      {
        metadata: gated.metadata as pulumi.Input<k8s.types.input.meta.v1.ObjectMeta>,
        spec: gated.spec as pulumi.Input<k8s.types.input.batch.v1.JobSpec>,
      },
      { parent: this, dependsOn: [scripts], deleteBeforeReplace: true },
    );

    const judge = judgeJob(
      `${name}-judge`,
      this.job,
      {
        namespace: args.namespace,
        timeoutSeconds,
        kubeContext: args.kubeContext,
        judgeName: "fingerprint-judge",
        // The same key bounds the refresh and this Job (components/backup/side.ts).
        timeoutSetting: "backups[].refresh.timeoutSeconds, which bounds the fingerprint Job too",
        waitingFor: "the fingerprint",
      },
      { parent: this },
    );

    this.fingerprint = judge.stdout.apply((out) => {
      try {
        return judgeFingerprint(target, out);
      } catch (err) {
        if (err instanceof FingerprintFailed) throw new OperatorError(err.message, this);
        throw err;
      }
    });
    this.registerOutputs({ fingerprint: this.fingerprint });
  }
}
