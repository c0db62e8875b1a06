// One backup copied from the NFS server to S3 by the executor its config names: `ssh` runs the
// script on the NFS server (NfsToS3Copy), `job` in a Kubernetes Job (CopyJob). Same script,
// same result, same outputs either way.
import * as pulumi from "@pulumi/pulumi";
import type { Backup, RelocationConfig } from "./config";
import { CopyJob } from "./copy-job";
import type { CopyResult } from "./copy-result";
import type { S3Credentials, S3Target } from "./credentials";
import { NfsToS3Copy, type NfsSettings } from "./nfs-to-s3-copy";

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
}

export class BackupCopy extends pulumi.ComponentResource {
  public readonly result: pulumi.Output<CopyResult>;
  /** Dump: {bucket, key, size, sha256, sourceTime}; tree: {bucket, prefix, files, bytes}. */
  public readonly outputs: pulumi.Output<Record<string, string | number>>;

  constructor(name: string, args: BackupCopyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:backup:BackupCopy", name, {}, opts);
    const { backup } = args;
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
          timeoutSeconds: args.timeoutSeconds,
          kubeContext: args.kubeContext,
          runAfter: args.runAfter,
        },
        { parent: this },
      );
    }
    this.result = executor.result;
    this.outputs = executor.outputs;
    this.registerOutputs({ result: this.result, outputs: this.outputs });
  }
}
