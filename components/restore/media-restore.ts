// One tree (the media) restored from the first stack's copy into a PVC of the new cluster: a
// batch/v1 Job in the PVC's namespace (a pod mounts only its own namespace's claims) running
// scripts/restore/restore-tree.sh (jobs.image, the aws CLI) with the volume mounted read-write
// at MEDIA_DIR. The script checks every file against the backup's manifests (sha256) before it
// reaches its final path and writes nothing the manifests don't list; the access key reaches it
// by secretKeyRef only. Its summary goes to the termination message, read back as for a dump.
// Lifecycle: backoffLimit MEDIA_RETRIES (restore-tree.sh is resumable: a retry keeps the
// complete downloads of the failed pod and transfers only the rest), no TTL, a fixed name,
// deleteBeforeReplace; the Job holds no data (deleting it never touches the volume) and is
// kept on destroy (retainOnDelete) unless deleteDataOnDestroy, as the record of the restore.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { DEFAULT_JOB_IMAGE } from "../config";
import { accessKeyEnv, awsTargetEnv, type S3Credentials } from "../credentials";
import { lockedContainer, podSecurityContext, valueEnv } from "../shared/job-pod";
import { manifests, treeEntry, type TreeEntry } from "../shared/outputs";
import { type RestoreMedia } from "./config";
import {
  checkedRestoreResult,
  checkedSourceEntry,
  contractError,
  parseJobResult,
  RESTORE_CONTAINER_RESOURCES,
  RESTORE_SCRIPTS_DIR,
  restoreJob,
  restoreJobInputs,
  type RestoreJobArgs,
  restoreOf,
  sourceEntry,
} from "./restore-job";

/** Where the volume is mounted: the path the stack's own containers mount it at. */
export const MEDIA_DIR = "/code/media";
/**
 * Pod retries. restore-tree.sh resumes (complete downloads stay in the volume's staging area),
 * so a retry costs only the manifests, the listing and hashing what is already in place: a
 * transient cause (an S3 outage past OUTAGE_SECONDS, an evicted pod) heals without the
 * operator, and a lasting one (a checksum mismatch, a different file in the way) fails the same
 * way each time, with the same last line. activeDeadlineSeconds bounds all attempts together.
 */
export const MEDIA_RETRIES = 2;
/**
 * The capabilities a root Job keeps (of the container defaults): a kept file of another owner is
 * read (hashed), hard-linked into staging and gets the manifest's mtime.
 */
export const ROOT_CAPABILITIES = ["DAC_OVERRIDE", "FOWNER"];
/** The scripts restore-tree.sh runs, at the paths it finds them (it sources ../copy-common.sh). */
export const MEDIA_SCRIPT_FILES = ["copy-common.sh", "restore/restore-tree.sh"];

/**
 * The tree entry `backup` of the source stack's `backups` output, checked against the shared
 * schema and required to have manifests; `key` is the setting naming it (restore.media[i].backup).
 */
export function treeFor(backup: string, backups: unknown, key: string): TreeEntry {
  const entry = sourceEntry(backup, backups, key);
  if (typeof entry === "object" && entry !== null && "key" in entry && !("prefix" in entry)) {
    throw new Error(
      `${restoreOf(backup)}: backups.${backup} is a dump (one object), not a tree; set ${key} to a tree backup (the media) or move it to restore.databases`,
    );
  }
  const parsed = treeEntry.safeParse(entry);
  if (!parsed.success) throw contractError(backup, parsed.error.issues);
  if (manifests(parsed.data).length === 0) {
    throw new Error(
      `${restoreOf(backup)}: backups.${backup} has no manifests (manifestKey, manifestSha256), so no file could be checked (a copy by an older version of this program?); copy the tree again with the backup stack (README: Forcing a fresh copy), or remove ${key}`,
    );
  }
  return parsed.data;
}

/** restore-tree.sh's non-secret settings, from the tree entry and restore.media[i]. */
export function mediaSettings(
  entry: TreeEntry,
  media: Pick<RestoreMedia, "allowOverwrite">,
): Record<string, string> {
  return {
    SOURCE_URI: `s3://${entry.bucket}/${entry.prefix}`,
    // The output's strings as they are: space-separated, shard order (manifests() checked them).
    MANIFEST_KEYS: entry.manifestKey ?? "",
    MANIFEST_SHA256S: entry.manifestSha256 ?? "",
    EXPECTED_FILES: String(entry.files),
    EXPECTED_BYTES: String(entry.bytes),
    DEST_DIR: MEDIA_DIR,
    ALLOW_OVERWRITE: String(media.allowOverwrite),
    RESULT_FILE: "/dev/termination-log",
    HOME: "/tmp",
    TMPDIR: "/tmp",
  };
}

const count = z.number().int().nonnegative();
/** What restore-tree.sh leaves in its termination message (its RESULT_FILE line). */
export const mediaResult = z.strictObject({
  prefix: z.string().regex(/^s3:\/\//),
  dest: z.string().min(1),
  files: count,
  bytes: count,
  /** Placed by this run (verified in staging first). */
  downloaded: count,
  /** Already in the volume with the manifest's sha256. */
  kept: count,
  /** Objects under the prefix not restored (the manifests included). */
  ignored: count,
  verifiedAt: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
});
export type MediaResult = z.infer<typeof mediaResult>;

/** Parses the read-back result and checks it restored the tree the source recorded. */
export function parseMediaResult(stdout: string, backup: string, entry: TreeEntry): MediaResult {
  const result = parseJobResult(stdout, backup, "restore", mediaResult);
  const source = `s3://${entry.bucket}/${entry.prefix}`;
  const problems = [
    result.prefix === source ? "" : `prefix ${result.prefix}, the source recorded ${source}`,
    result.files === entry.files && result.bytes === entry.bytes
      ? ""
      : `${result.files} file(s), ${result.bytes} bytes, the source recorded ${entry.files}, ${entry.bytes}`,
    result.downloaded + result.kept === result.files
      ? ""
      : `downloaded ${result.downloaded} + kept ${result.kept} is not files ${result.files}`,
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new Error(
      `${restoreOf(backup)}: the Job's result does not match the source: ${problems.join("; ")}; see the pod's log (kubectl logs job/<name>)`,
    );
  }
  return result;
}

export interface MediaRestoreArgs extends RestoreJobArgs {
  /** The tree and the volume (restore.media[i]). */
  readonly media: RestoreMedia;
  /** The setting naming the backup, for messages. @default "restore.media[].backup" */
  readonly key?: string;
  /** Put into a Secret in the PVC's namespace; the script reads it through secretKeyRef. */
  readonly credentials: S3Credentials;
  /** Image of the `restore` container (bash, the aws CLI, coreutils, findutils). @default DEFAULT_JOB_IMAGE */
  readonly image?: string;
  /** activeDeadlineSeconds of the Job (all attempts). @default 14400 */
  readonly timeoutSeconds?: number;
}

export class MediaRestore extends pulumi.ComponentResource {
  /** The source entry restored (checked against the shared schema, with manifests). */
  public readonly entry: pulumi.Output<TreeEntry>;
  /** The restore's summary, read back from the Job (see mediaResult). */
  public readonly result: pulumi.Output<MediaResult>;
  public readonly job: k8s.batch.v1.Job;

  constructor(name: string, args: MediaRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:restore:MediaRestore", name, {}, opts);
    const media = args.media;
    const namespace = media.namespace;
    const key = args.key ?? "restore.media[].backup";
    const timeoutSeconds = args.timeoutSeconds ?? 14400;

    this.entry = checkedSourceEntry(
      args.backups,
      (backups) => treeFor(media.backup, backups, key),
      this,
    );

    const inputs = restoreJobInputs(
      name,
      { namespace, credentials: args.credentials, scriptFiles: MEDIA_SCRIPT_FILES },
      this,
    );
    const env = pulumi.all([this.entry, inputs.secret.secretName]).apply(([entry, secretName]) => [
      ...valueEnv({
        ...mediaSettings(entry, media),
        ...awsTargetEnv(args),
      }),
      ...accessKeyEnv(secretName),
    ]);
    const root = media.runAsUser === 0;

    // skipAwait (restoreJob): the judge waits and says why a restore failed (judgeJobResult).
    this.job = restoreJob(
      name,
      { namespace, inputs, backoffLimit: MEDIA_RETRIES, timeoutSeconds, component: args },
      {
        // The files belong to this uid/gid (no chown): restore.media[].runAsUser. No
        // fsGroup: it would re-own the whole volume at every mount, and NFS ignores it.
        securityContext: podSecurityContext(media.runAsUser, media.runAsGroup),
        volumes: [
          ...inputs.volumes,
          { name: "media", persistentVolumeClaim: { claimName: media.pvc } },
        ],
        containers: [
          {
            name: "restore",
            image: args.image ?? DEFAULT_JOB_IMAGE,
            command: ["bash", `${RESTORE_SCRIPTS_DIR}/restore/restore-tree.sh`],
            env,
            // The image's filesystem stays read-only (the script writes to /tmp and the
            // volume only). Root keeps only what the stack's root uses on these files:
            // a file already in the volume that another uid owns is hard-linked into
            // staging and gets the manifest's mtime when kept, which needs FOWNER (and
            // DAC_OVERRIDE to hash it); without them root fails there like any other uid.
            securityContext: lockedContainer(root ? ROOT_CAPABILITIES : []),
            terminationMessagePolicy: "FallbackToLogsOnError",
            volumeMounts: [...inputs.mounts, { name: "media", mountPath: MEDIA_DIR }],
            resources: RESTORE_CONTAINER_RESOURCES,
          },
        ],
      },
      this,
    );

    this.result = checkedRestoreResult(
      name,
      this.job,
      {
        backup: media.backup,
        namespace,
        timeoutSeconds,
        kubeContext: args.kubeContext,
        entry: this.entry,
      },
      (stdout, entry) => parseMediaResult(stdout, media.backup, entry),
      this,
    );
    this.registerOutputs({ entry: this.entry, result: this.result });
  }
}
