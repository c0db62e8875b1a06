// The backup side (the old cluster): the runbook "Preparing for relocation". Builds the
// components in order and returns the stack outputs; index.ts exports them unchanged.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BackupCopy, preSyncBackups } from "../backup-copy";
import { BackupRefresh } from "../backup-refresh";
import { type Backup, type RelocationConfig, secretSetting, splitRef, usesJobs } from "../config";
import { downtimeOutput } from "../downtime";
import { OldSideFingerprint } from "../old-fingerprint";
import { NfsConnectivityCheck } from "../nfs-check";
import { PodEnvDump } from "../env-dump";
import { writablePrefixes } from "../layout";
import { readPlan } from "../plan-read";
import { Preflight } from "../preflight";
import { QuiescedStatefulSet } from "../quiesced-statefulset";
import { finalCopySettings, lastQuiesce, liveVolumeSettings } from "../rpo";
import { S3Access } from "../s3-access";

/** Every resource of the backup side; the stack outputs by name. */
export function backupSide(config: RelocationConfig) {
  // One cluster for everything: the provider's reads and Jobs and the scripts' kubectl share kubeContext.
  const cluster = new k8s.Provider("cluster", { context: config.kubeContext });

  // Read every StatefulSet, refresh CronJob and live volume first: a wrong name fails preview/up
  // before anything changes.
  const preflight = new Preflight(
    "preflight",
    {
      statefulSets: config.quiesce,
      cronJobs: config.backups.flatMap((b) => b.refresh?.cronJob ?? []),
      liveVolumes: config.backups.flatMap((b) => b.refresh?.liveVolume ?? []),
    },
    { providers: [cluster] },
  );
  /** The directory a tree with refresh.liveVolume reads instead of its sourceDir (else undefined). */
  const liveDir = (b: Backup) =>
    b.refresh?.liveVolume ? preflight.liveVolumeDirs.get(b.refresh.liveVolume) : undefined;
  /** A copy Job of such a tree mounts the live volume's own source (else undefined). */
  const liveSource = (b: Backup) =>
    b.refresh?.liveVolume && b.executor === "job"
      ? preflight.liveVolumeSources.get(b.refresh.liveVolume)
      : undefined;
  const afterPreflight = { dependsOn: [preflight], providers: [cluster] };

  // Where the backups go and who may write them: a managed IAM identity, or the key you were handed.
  const s3 = new S3Access(
    "s3",
    {
      bucket: config.bucket.name,
      createBucket: config.bucket.create,
      prefixes: writablePrefixes(config),
      region: config.aws.region,
      endpoint: config.aws.endpoint,
      manage: config.aws.manage,
    },
    afterPreflight,
  );

  // Jobs (copies or env dumps in-cluster) run in a namespace of their own, created here and deleted
  // on destroy (an existing one fails with AlreadyExists), or an existing one: jobs.createNamespace false.
  const jobsNamespace =
    usesJobs(config) && config.jobs.createNamespace
      ? new k8s.core.v1.Namespace(
          "jobs",
          { metadata: { name: config.jobs.namespace } },
          { dependsOn: [preflight], provider: cluster },
        ).metadata.name
      : config.jobs.namespace;

  // Record pod environments and namespace manifests while the pods still run (before quiesce).
  const envDump = new PodEnvDump(
    "env-dump",
    {
      pods: config.envDump.pods,
      prefix: config.envDump.prefix,
      target: s3.target,
      credentials: s3.credentials,
      executor: config.envDump.executor,
      manifests: config.envDump.manifests,
      image: config.envDump.image,
      awsImage: config.jobs.image,
      kubeContext: config.kubeContext,
      jobsNamespace,
    },
    afterPreflight,
  );

  // What every copy (pre-sync or final) needs: destination, credentials and where it runs.
  const sshPrivateKey = config.backups.some((b) => b.executor === "ssh")
    ? secretSetting("sshPrivateKey")
    : undefined;
  // Host key, login, bash and the aws CLI, checked once before any ssh copy (and before the quiesce).
  const nfsChecked = sshPrivateKey
    ? [
        new NfsConnectivityCheck(
          "nfs-check",
          { nfs: config.nfs, privateKey: sshPrivateKey },
          afterPreflight,
        ).check,
      ]
    : [];
  const copyArgs = (b: Backup) => ({
    backup: b,
    target: s3.target,
    credentials: s3.credentials,
    nfs: config.nfs,
    sshPrivateKey,
    jobs: config.jobs,
    jobsNamespace,
    timeoutSeconds: config.copyTimeoutSeconds,
    kubeContext: config.kubeContext,
  });

  // Two-phase media sync: each tree is copied once while the stack is still up, so the copy after
  // the quiesce sends only what changed since (backups[].preSync, on by default for trees).
  const preSyncs = preSyncBackups(config.backups).map(
    (b) =>
      new BackupCopy(
        `presync-${b.name}`,
        // A live volume is pre-synced from itself too: its mtimes, not the replica's, then decide
        // what the final sync sends (a same-size change after the last replication is not missed).
        {
          ...copyArgs(b),
          phase: "presync",
          runAfter: [s3, ...nfsChecked],
          runSettings: liveVolumeSettings(liveDir(b)),
          liveSource: liveSource(b),
        },
        afterPreflight,
      ),
  );

  // Suspend user activity: every configured StatefulSet to zero (destroy restores the counts).
  const quiesced = config.quiesce.map(
    (s) =>
      new QuiescedStatefulSet(
        `quiesce-${s.namespace}-${s.statefulSet}`,
        {
          namespace: s.namespace,
          statefulSet: s.statefulSet,
          timeoutSeconds: config.quiesceTimeoutSeconds,
          kubeContext: config.kubeContext,
          runAfter: [...envDump.resources, ...preSyncs, ...nfsChecked],
        },
        afterPreflight,
      ),
  );

  const scaledToZero = quiesced.map((q) => q.scaledToZero);
  /** When the last StatefulSet was at zero: writes up to here must be in the copies. */
  const lastQuiescedAt = pulumi.all(quiesced.map((q) => q.quiescedAt)).apply(lastQuiesce);

  // Fresh dumps: once every StatefulSet is at zero, each refreshed dump is made again now with its
  // CronJob's own jobTemplate, and judged by its termination message (backups[].refresh.cronJob).
  const refreshes = new Map(
    config.backups.flatMap((b) => {
      if (!b.refresh?.cronJob) return [];
      const { namespace, name } = splitRef(b.refresh.cronJob);
      const refresh = new BackupRefresh(
        `refresh-${b.name}`,
        {
          backupName: b.name,
          cronJob: preflight.cronJobs.get(b.refresh.cronJob)!,
          namespace,
          cronJobName: name,
          waitSeconds: b.refresh.waitSeconds,
          timeoutSeconds: b.refresh.timeoutSeconds,
          kubeContext: config.kubeContext,
          runAfter: scaledToZero,
        },
        afterPreflight,
      );
      return [[b.name, refresh] as const];
    }),
  );

  // The old server's fingerprint per refreshed dump, after its verdict (nothing writes), beside
  // the copy: what the restore of that dump must reproduce (see "The old side's fingerprint").
  const oldSide = config.backups.flatMap((b) => {
    const refresh = refreshes.get(b.name);
    if (!refresh || !b.refresh?.cronJob) return [];
    const { namespace, name } = splitRef(b.refresh.cronJob);
    const cronJob = preflight.cronJobs.get(b.refresh.cronJob)!;
    const { timeoutSeconds } = b.refresh;
    const args = { backupName: b.name, cronJob, namespace, cronJobName: name, timeoutSeconds };
    const fp = new OldSideFingerprint(
      `fingerprint-${b.name}`,
      { ...args, kubeContext: config.kubeContext, after: refresh.verdict },
      afterPreflight,
    );
    return [fp.fingerprint.apply((f) => [b.name, f] as const)];
  });

  // Copy the backups once every StatefulSet is at zero, its refresh (if any) judged a success and
  // the access key is in place, in parallel; each takes only data captured late enough.
  const copies = config.backups.map((b) => {
    const refresh = refreshes.get(b.name);
    return new BackupCopy(
      `backup-${b.name}`,
      {
        ...copyArgs(b),
        runAfter: [...scaledToZero, ...(refresh ? [refresh.judge] : []), s3, ...nfsChecked],
        runSettings: finalCopySettings(b, lastQuiescedAt, refresh?.verdict, liveDir(b)),
        liveSource: liveSource(b),
        quiescedAt: lastQuiescedAt,
      },
      afterPreflight,
    );
  });

  /** At preview only: what `up` would do, read from the cluster now (see "The plan in preview"). */
  const plan = readPlan(
    config,
    {
      target: s3.target,
      prefixes: s3.prefixes,
      credentials: config.aws.manage ? undefined : s3.credentials,
    },
    {
      nfs: config.nfs,
      privateKey: sshPrivateKey,
      liveVolumeDirs: preflight.liveVolumeDirs,
      cronJobImages: new Map(
        [...preflight.cronJobs].map(([id, cron]) => [
          id,
          cron.spec.apply(
            (spec) => spec?.jobTemplate?.spec?.template?.spec?.containers?.[0]?.image ?? null,
          ),
        ]),
      ),
    },
  );
  const liveReplicas = preflight.liveReplicas;
  const originalReplicas = pulumi
    .all(quiesced.map((q) => q.originalReplicas))
    .apply((counts) => Object.fromEntries(quiesced.map((q, i) => [q.target, counts[i]])));
  const quiescedAt = lastQuiescedAt;
  /** The window the stack was down for the copies: {quiescedAt, lastVerifiedAt, seconds}. */
  const downtime = downtimeOutput(
    quiesced.map((q) => q.quiescedAt),
    copies.map((c) => c.verifiedAt),
  );

  const bucket = s3.target.bucket;
  const prefixes = s3.prefixes;
  const copyPolicy = s3.policyDocument;
  /** The managed copy identity; null in bring-your-own mode. */
  const copyUser = s3.userName.apply((name) => name ?? null);
  const envDumpKeys = envDump.envKeys;
  const manifestKeys = envDump.manifestKeys;
  const envDumpKept = envDump.keptKeys;
  /**
   * Per backup: {bucket, key, size, sha256, sourceTime} for a dump, {bucket, prefix, files, bytes}
   * for a tree, each with capturedAt and rpoSeconds (the writes at risk).
   */
  const backups = pulumi.all(copies.map((c) => pulumi.all([c.outputs, c.rpo]))).apply((outs) =>
    Object.fromEntries(
      config.backups.map((b, i) => {
        const [fields, rpo] = outs[i]!;
        return [b.name, { ...fields, capturedAt: rpo.capturedAt, rpoSeconds: rpo.rpoSeconds }];
      }),
    ),
  );
  /** Seconds of writes before the quiesce each copy may miss, by backup name: 0 with refresh. */
  const rpo = pulumi
    .all(copies.map((c) => c.rpo))
    .apply((entries) =>
      Object.fromEntries(config.backups.map((b, i) => [b.name, entries[i]!.rpoSeconds])),
    );
  /** The refresh Jobs' verdicts ({job, message, startTime, completionTime}), by backup name. */
  const refreshJobs = pulumi
    .all(
      [...refreshes].map(([name, r]) =>
        r.outcome.apply((o) => [name, o.ok ? o.verdict : { error: o.error }] as const),
      ),
    )
    .apply((pairs) => Object.fromEntries(pairs));
  /** The old server's fingerprint per refreshed dump: {databases: {db: {tables, rows, sha256}}, at}. */
  const fingerprints = pulumi.all(oldSide).apply((pairs) => Object.fromEntries(pairs));

  return {
    plan,
    liveReplicas,
    originalReplicas,
    quiescedAt,
    downtime,
    bucket,
    prefixes,
    copyPolicy,
    copyUser,
    envDumpKeys,
    manifestKeys,
    envDumpKept,
    backups,
    rpo,
    refreshJobs,
    fingerprints,
  };
}
