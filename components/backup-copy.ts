// One backup copied from the NFS server to S3 by the executor its config names: `ssh` runs the
// script on the NFS server (NfsToS3Copy), `job` in a Kubernetes Job (CopyJob, split into an
// Indexed Job by backup.shards). Same script, same result, same outputs either way.
//
// Two-phase media sync: a `tree` backup with preSync gets a second BackupCopy with phase
// "presync" that runs BEFORE the quiesce (the program puts it in the quiesce's runAfter), while
// the stack is live; the final copy after the quiesce then sends only what changed since.
import * as pulumi from "@pulumi/pulumi";
import type { Backup, RelocationConfig } from "./config";
import { CopyJob } from "./copy-job";
import type { CopyResult } from "./copy-result";
import type { S3Credentials, S3Target } from "./credentials";
import type { LiveVolumeSource } from "./preflight";
import { NfsToS3Copy, type NfsSettings } from "./nfs-to-s3-copy";
import { rpoEntry, type RpoEntry } from "./rpo";

export interface BackupCopyArgs {
  readonly backup: Backup;
  readonly target: S3Target;
  readonly credentials: S3Credentials;
  /** The NFS server: the ssh executor connects to it, Jobs mount its export. */
  readonly nfs: NfsSettings;
  /** SSH private key for nfs.user (secret). Required when backup.executor is "ssh". */
  readonly sshPrivateKey?: pulumi.Input<string>;
  /** Namespace and image of Jobs (config jobs). */
  readonly jobs: RelocationConfig["jobs"];
  /** The jobs namespace as a resource output, so Jobs wait for it. @default jobs.namespace */
  readonly jobsNamespace?: pulumi.Input<string>;
  /** How long one copy may take (config copyTimeoutSeconds). @default 14400 */
  readonly timeoutSeconds?: number;
  /** kubeconfig context (job executor reads its result with kubectl). @default current context */
  readonly kubeContext?: string;
  /** Resources that must finish before the copy: the quiesce's scaledToZero. @default [] */
  readonly runAfter?: pulumi.Input<pulumi.Resource>[];
  /**
   * "final": the copy after the quiesce. "presync": the same copy of a tree while the stack is
   * still up (its scripts live apart from the final copy's, under `<name>-presync`).
   * @default "final"
   */
  readonly phase?: "presync" | "final";
  /**
   * Settings known only during the run, overriding the config's: NOT_BEFORE/MIN_AGE_SECONDS of
   * a refreshed or windowed dump, SOURCE_DIR of a live volume (see rpo.ts). @default {}
   */
  readonly runSettings?: pulumi.Input<Record<string, string>>;
  /** Job executor, refresh.liveVolume: how the Job mounts the live volume. @default none */
  readonly liveSource?: pulumi.Input<LiveVolumeSource>;
  /** The last quiesce time; with it the copy reports capturedAt and rpoSeconds. @default unset */
  readonly quiescedAt?: pulumi.Input<string>;
}

/** The backups that get a pre-sync before the quiesce: trees with preSync on (the default). */
export function preSyncBackups(backups: readonly Backup[]): Backup[] {
  return backups.filter((b) => b.kind === "tree" && b.preSync);
}

export class BackupCopy extends pulumi.ComponentResource {
  public readonly result: pulumi.Output<CopyResult>;
  /** Dump: {bucket, key, size, sha256, sourceTime}; tree: {bucket, prefix, files, bytes}. */
  public readonly outputs: pulumi.Output<Record<string, string | number>>;
  /** When the copy was verified (UTC ISO-8601); undefined for results of older scripts. */
  public readonly verifiedAt: pulumi.Output<string | undefined>;
  /** The loss window (needs args.quiescedAt; otherwise capturedAt and rpoSeconds are null). */
  public readonly rpo: pulumi.Output<RpoEntry>;

  constructor(name: string, args: BackupCopyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:backup:BackupCopy", name, {}, opts);
    const phase = args.phase ?? "final";
    if (phase === "presync" && args.backup.kind !== "tree") {
      throw new pulumi.ResourceError(
        `backup ${args.backup.name}: only a "tree" backup can be pre-synced; a dump is copied once, after the quiesce`,
        this,
      );
    }
    const backup =
      phase === "presync" ? { ...args.backup, name: `${args.backup.name}-presync` } : args.backup;
    let executor: NfsToS3Copy | CopyJob;
    if (backup.executor === "ssh") {
      if (args.sshPrivateKey === undefined) {
        throw new pulumi.ResourceError(
          `backup ${backup.name} runs over SSH but no key was given; set it with: cat key | pulumi config set --secret sshPrivateKey`,
          this,
        );
      }
      executor = new NfsToS3Copy(
        `${name}-ssh`,
        {
          backup,
          target: args.target,
          credentials: args.credentials,
          nfs: args.nfs,
          privateKey: args.sshPrivateKey,
          timeoutSeconds: args.timeoutSeconds,
          runAfter: args.runAfter,
          runSettings: args.runSettings,
        },
        { parent: this },
      );
    } else {
      executor = new CopyJob(
        `${name}-job`,
        {
          backup,
          target: args.target,
          credentials: args.credentials,
          nfsServer: args.nfs.host,
          namespace: args.jobsNamespace ?? args.jobs.namespace,
          image: args.jobs.image,
          gzipImage: args.jobs.gzipImage,
          timeoutSeconds: args.timeoutSeconds,
          kubeContext: args.kubeContext,
          runAfter: args.runAfter,
          runSettings: args.runSettings,
          liveSource: args.liveSource,
        },
        { parent: this },
      );
    }
    this.result = executor.result;
    this.verifiedAt = executor.result.apply((r) => r.verifiedAt);
    const unknown: RpoEntry = { capturedAt: null, rpoSeconds: null, basis: "unknown" };
    this.rpo =
      args.quiescedAt === undefined
        ? pulumi.output(unknown)
        : pulumi
            .all([executor.result, args.quiescedAt])
            .apply(([r, q]) => rpoEntry(args.backup, r, q));
    this.outputs = executor.outputs;
    this.registerOutputs({
      result: this.result,
      outputs: this.outputs,
      verifiedAt: this.verifiedAt,
      rpo: this.rpo,
    });
  }
}
