// The `job` executor: a batch/v1 Job runs a backup's copy script in the cluster, reading the
// backup directory through a READ-ONLY mount of the NFS export (or of an existing PVC).
//
// How the result gets back: the script writes its JSON result line to RESULT_FILE, which is the
// container's termination message file (/dev/termination-log). Kubernetes keeps it in the pod's
// status (`state.terminated.message`, max 4 KiB; ours is ~300 bytes) for as long as the pod
// exists: until `pulumi destroy` deletes the Job (no ttlSecondsAfterFinished, see below). Pulumi waits for the Job to
// complete, then a local.Command (scripts/copy-job-result.sh) reads the message of the
// succeeded pod with kubectl, the same way the quiesce reads StatefulSets. Chosen over a result
// object in S3 because it needs no extra object next to the backups, no read access for the
// machine running Pulumi and works against any cluster `kubectl` reaches.
//
// Shards (backup.shards > 1, trees only): an Indexed Job with completions = parallelism = shards;
// each pod copies the part JOB_COMPLETION_INDEX names (sync-dir.sh SHARD_COUNT) and verifies it;
// scripts/copy-job-result.sh (with SHARDS) reads every succeeded pod's result and the program merges
// them into one (copy-result.ts mergeShardResults: one per shard, adding up to the tree).
//
// Re-running: the script's SHA-256 is in the pod template (an edit replaces the Job, which
// runs again); a failed Job is replaced on the next `up` (pulumi.com/replaceUnready) instead
// of awaited again. The ConfigMap holding the scripts is replaced on any change of content.
// Never twice, never a 404: the Job has NO ttlSecondsAfterFinished. A Job removed by its TTL is
// dropped from state by `pulumi refresh` (the next `up` copies again) and fails an in-place
// update with 404; kept until destroy, it stays what state says. Its name is fixed (job-name.ts)
// and it is deleted before its replacement is created, so a Job still running after an
// interrupted `up` is stopped (foreground deletion waits for its pods) before a new one starts.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type Backup, DEFAULT_GZIP_IMAGE } from "./config";
import {
  copySettings,
  exportedFields,
  parseCopyResult,
  parseShardResults,
  scriptFiles,
  scriptFor,
  type CopyResult,
} from "./copy-result";
import {
  accessKeyEnv,
  AwsCredentialsSecret,
  type S3Credentials,
  type S3Target,
} from "./credentials";
import { jobName } from "./job-name";
import type { LiveVolumeSource } from "./preflight";
import { script } from "./scripts";
import {
  NON_ROOT_CONTAINER,
  podSecurityContext,
  scriptsAnnotation,
  valueEnv,
} from "./shared/job-pod";
import { MANAGED_BY } from "./shared/labels";

/** The unprivileged uid/gid the copy runs as ("nobody"): it only reads the backups. */
export const COPY_JOB_USER = 65534;
export const JOB_SOURCE_DIR = "/source";
export const JOB_SCRIPTS_DIR = "/scripts";
/** An emptyDir where the copy Job finds tools its image lacks (amazon/aws-cli has no gzip). */
export const JOB_TOOLS_DIR = "/opt/relocation/bin";
/** The image's usual directories first, so its own gzip wins where it has one. */
export const JOB_PATH = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${JOB_TOOLS_DIR}`;

/**
 * Where the script sees the backup directory inside the Job: the NFS export is mounted at
 * its root, so SOURCE_DIR is /source; a PVC is mounted at its root and sourceDir is the path
 * inside that volume ("/" for the root, "/hourly" for a subdirectory).
 */
export function jobSourceDir(backup: Backup): string {
  if (backup.pvc === undefined) return JOB_SOURCE_DIR;
  const inside = backup.sourceDir.replace(/\/+$/, "");
  return `${JOB_SOURCE_DIR}${inside}`;
}

/** The Job's source volume: the NFS export or the PVC, read-only either way. */
export function sourceVolume(backup: Backup, nfsServer: string): k8s.types.input.core.v1.Volume {
  return backup.pvc !== undefined
    ? { name: "source", persistentVolumeClaim: { claimName: backup.pvc, readOnly: true } }
    : { name: "source", nfs: { server: nfsServer, path: backup.sourceDir, readOnly: true } };
}

/**
 * The Job spec fields that split a copy into `shards` pods: an Indexed Job runs pods 0..N-1 at
 * once and each sees its number in JOB_COMPLETION_INDEX; sync-dir.sh copies that part of the
 * tree. One shard is a plain Job (no fields).
 */
export function indexedJobSpec(
  shards: number,
): Pick<k8s.types.input.batch.v1.JobSpec, "completionMode" | "completions" | "parallelism"> {
  if (!Number.isInteger(shards) || shards < 1)
    throw new Error(`shards must be >= 1, got ${shards}`);
  return shards > 1 ? { completionMode: "Indexed", completions: shards, parallelism: shards } : {};
}

/**
 * gzip for a Job whose image has none: an init container copies the static busybox of `image`
 * into an emptyDir as `gzip` (busybox runs the applet its file is named after); the copy
 * container finds it on JOB_PATH.
 */
export function gzipProvider(image: string) {
  return {
    volume: { name: "tools", emptyDir: { sizeLimit: "16Mi" } },
    mount: { name: "tools", mountPath: JOB_TOOLS_DIR, readOnly: true },
    initContainer: {
      name: "gzip",
      image,
      command: ["/bin/busybox", "cp", "/bin/busybox", `${JOB_TOOLS_DIR}/gzip`],
      volumeMounts: [{ name: "tools", mountPath: JOB_TOOLS_DIR }],
      resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } },
    },
  };
}

export interface CopyJobArgs {
  readonly backup: Backup;
  readonly target: S3Target;
  /** Put into a Secret in `namespace`; the pod reads it through secretKeyRef. */
  readonly credentials: S3Credentials;
  /** The NFS server exporting backup.sourceDir (unused with backup.pvc). */
  readonly nfsServer: string;
  /** Namespace of the Job, its Secret and ConfigMap (and of backup.pvc). @default "fragalysis-relocation" */
  readonly namespace?: pulumi.Input<string>;
  /** Image with bash, the aws CLI, coreutils and findutils. @default DEFAULT_JOB_IMAGE */
  readonly image: string;
  /** Image with a static /bin/busybox, copied in as `gzip` for dumps. @default DEFAULT_GZIP_IMAGE */
  readonly gzipImage?: string;
  /** activeDeadlineSeconds of the Job. @default 14400 */
  readonly timeoutSeconds?: number;
  /** Pod retries after a failure (the copy is idempotent). @default 2 */
  readonly backoffLimit?: number;
  /** Parallel S3 requests of the transfer. @default the script's own (10) */
  readonly concurrency?: number;
  /** kubeconfig context for reading the result back. @default the current context */
  readonly kubeContext?: string;
  /** Resources that must finish before the Job is created (the quiesce). @default [] */
  readonly runAfter?: pulumi.Input<pulumi.Resource>[];
  /** Settings known only during the run (NOT_BEFORE of a refreshed dump); override the rest. @default {} */
  readonly runSettings?: pulumi.Input<Record<string, string>>;
  /**
   * A tree with refresh.liveVolume: mount the live volume's own source (its PV's NFS export or
   * host path, read-only) at /source instead of backup.pvc or the NFS export of sourceDir.
   */
  readonly liveSource?: pulumi.Input<LiveVolumeSource>;
}

export class CopyJob extends pulumi.ComponentResource {
  public readonly result: pulumi.Output<CopyResult>;
  /** What the stack exports for this backup (see exportedFields). */
  public readonly outputs: pulumi.Output<Record<string, string | number>>;
  public readonly job: k8s.batch.v1.Job;

  constructor(name: string, args: CopyJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:backup:CopyJob", name, {}, opts);
    const { backup } = args;
    if (backup.shards > 1 && backup.kind !== "tree") {
      throw new pulumi.ResourceError(
        `backup ${backup.name}: shards > 1 splits a tree; a "latest" dump is one file, set shards: 1`,
        this,
      );
    }
    const shards = backup.shards;
    const namespace = args.namespace ?? "fragalysis-relocation";
    const timeoutSeconds = args.timeoutSeconds ?? 14400;
    const scriptName = scriptFor(backup.kind);
    const files = scriptFiles(backup.kind).map((f) => script(f));

    const secret = new AwsCredentialsSecret(
      `${name}-aws`,
      { namespace, credentials: args.credentials },
      { parent: this },
    );
    const scripts = new k8s.core.v1.ConfigMap(
      `${name}-scripts`,
      {
        metadata: { namespace, labels: MANAGED_BY },
        data: Object.fromEntries(files.map((s) => [s.name, s.text])),
      },
      { parent: this },
    );

    const settings = {
      ...copySettings(backup, args.target, jobSourceDir(backup)),
      ...(args.concurrency ? { CONCURRENCY: String(args.concurrency) } : {}),
      // Each pod takes its part from JOB_COMPLETION_INDEX, which an Indexed Job sets.
      ...(shards > 1 ? { SHARD_COUNT: String(shards) } : {}),
      RESULT_FILE: "/dev/termination-log",
      HOME: "/tmp",
      PATH: JOB_PATH,
    };
    // A dump is decompressed once (gzip -dc) to check it is complete; trees need no gzip.
    const gzip =
      backup.kind === "latest" ? gzipProvider(args.gzipImage ?? DEFAULT_GZIP_IMAGE) : undefined;

    this.job = new k8s.batch.v1.Job(
      `${name}-job`,
      {
        metadata: {
          name: jobName(`${name}-job`),
          namespace,
          labels: MANAGED_BY,
          annotations: { "pulumi.com/replaceUnready": "true" },
        },
        spec: {
          ...indexedJobSpec(shards),
          // backoffLimit counts the failed pods of all shards together.
          backoffLimit: (args.backoffLimit ?? 2) * shards,
          activeDeadlineSeconds: timeoutSeconds,
          template: {
            metadata: { labels: MANAGED_BY, annotations: scriptsAnnotation(files) },
            spec: {
              restartPolicy: "Never",
              securityContext: podSecurityContext(COPY_JOB_USER, COPY_JOB_USER),
              volumes: [
                args.liveSource === undefined
                  ? sourceVolume(backup, args.nfsServer)
                  : pulumi.output(args.liveSource).apply((live) => ({ name: "source", ...live })),
                { name: "scripts", configMap: { name: scripts.metadata.name, defaultMode: 0o555 } },
                { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
                ...(gzip ? [gzip.volume] : []),
              ],
              initContainers: gzip
                ? [{ ...gzip.initContainer, securityContext: NON_ROOT_CONTAINER }]
                : [],
              containers: [
                {
                  name: "copy",
                  image: args.image,
                  command: ["bash", `${JOB_SCRIPTS_DIR}/${scriptName}`],
                  env: pulumi.output(args.runSettings ?? {}).apply((runSettings) => [
                    // The live volume is mounted at /source whatever directory it is on its server.
                    ...valueEnv({
                      ...settings,
                      ...runSettings,
                      ...(args.liveSource === undefined ? {} : { SOURCE_DIR: JOB_SOURCE_DIR }),
                    }),
                    ...accessKeyEnv(secret.secretName),
                  ]),
                  securityContext: NON_ROOT_CONTAINER,
                  terminationMessagePolicy: "FallbackToLogsOnError",
                  volumeMounts: [
                    { name: "source", mountPath: JOB_SOURCE_DIR, readOnly: true },
                    { name: "scripts", mountPath: JOB_SCRIPTS_DIR, readOnly: true },
                    { name: "tmp", mountPath: "/tmp" },
                    ...(gzip ? [gzip.mount] : []),
                  ],
                  resources: {
                    requests: { cpu: "250m", memory: "256Mi" },
                    limits: { memory: "1Gi" },
                  },
                },
              ],
            },
          },
        },
      },
      {
        parent: this,
        dependsOn: pulumi.output(args.runAfter ?? []).apply((after) => [secret, ...after]),
        customTimeouts: { create: `${timeoutSeconds + 300}s` },
        // The old Job (maybe still running) goes before its replacement starts.
        deleteBeforeReplace: true,
      },
    );

    const reader = script("copy-job-result.sh");
    const readBack = new command.local.Command(
      `${name}-result`,
      {
        interpreter: ["/bin/bash", "-c"],
        create: reader.text,
        environment: {
          NAMESPACE: namespace,
          JOB_NAME: this.job.metadata.name,
          ...(shards > 1 ? { SHARDS: String(shards) } : {}),
          ...(args.kubeContext ? { KUBE_CONTEXT: args.kubeContext } : {}),
        },
        // A new Job (replaced) has a new uid: read its result again.
        triggers: [this.job.metadata.uid, reader.sha256],
      },
      { parent: this, dependsOn: [this.job], customTimeouts: { create: "120s" } },
    );

    this.result = pulumi.unsecret(
      readBack.stdout.apply((out) =>
        shards > 1
          ? parseShardResults(out, shards, backup.name)
          : parseCopyResult(backup.kind, out, backup.name),
      ),
    );
    this.outputs = this.result.apply(exportedFields);
    this.registerOutputs({ result: this.result, outputs: this.outputs });
  }
}
