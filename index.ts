// fragalysis-relocation: the runbook "Preparing for relocation" as one Pulumi stack.
// Read the config, build the components, export the outputs; the logic lives in components/.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BackupCopy, preSyncBackups } from "./components/backup-copy";
import { type Backup, loadConfig, secretSetting, usesJobs } from "./components/config";
import { downtimeOutput } from "./components/downtime";
import { NfsConnectivityCheck } from "./components/nfs-check";
import { PodEnvDump } from "./components/env-dump";
import { writablePrefixes } from "./components/layout";
import { Preflight } from "./components/preflight";
import { QuiescedStatefulSet } from "./components/quiesced-statefulset";
import { S3Access } from "./components/s3-access";

const config = loadConfig();

// One cluster for everything: the provider's reads and Jobs and the scripts' kubectl share kubeContext.
const cluster = new k8s.Provider("cluster", { context: config.kubeContext });

// Read every StatefulSet first: a wrong name fails preview/up before anything changes.
const preflight = new Preflight(
  "preflight",
  { statefulSets: config.quiesce },
  { providers: [cluster] },
);
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
      { ...copyArgs(b), phase: "presync", runAfter: [s3, ...nfsChecked] },
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

// Copy the backups once every StatefulSet is at zero and the access key is in place, in parallel.
const copies = config.backups.map(
  (b) =>
    new BackupCopy(
      `backup-${b.name}`,
      { ...copyArgs(b), runAfter: [...quiesced.map((q) => q.scaledToZero), s3, ...nfsChecked] },
      afterPreflight,
    ),
);

export const liveReplicas = preflight.liveReplicas;
export const originalReplicas = pulumi
  .all(quiesced.map((q) => q.originalReplicas))
  .apply((counts) => Object.fromEntries(quiesced.map((q, i) => [q.target, counts[i]])));
export const quiescedAt = pulumi
  .all(quiesced.map((q) => q.quiescedAt))
  .apply((times) => times.reduce((latest, t) => (t > latest ? t : latest)));
/** The window the stack was down for the copies: {quiescedAt, lastVerifiedAt, seconds}. */
export const downtime = downtimeOutput(
  quiesced.map((q) => q.quiescedAt),
  copies.map((c) => c.verifiedAt),
);

export const bucket = s3.target.bucket;
export const prefixes = s3.prefixes;
export const copyPolicy = s3.policyDocument;
/** The managed copy identity; null in bring-your-own mode. */
export const copyUser = s3.userName.apply((name) => name ?? null);
export const envDumpKeys = envDump.envKeys;
export const manifestKeys = envDump.manifestKeys;
export const envDumpKept = envDump.keptKeys;
/** Per backup: {bucket, key, size, sha256, sourceTime} for a dump, {bucket, prefix, files, bytes} for a tree. */
export const backups = pulumi
  .all(copies.map((c) => c.outputs))
  .apply((outs) => Object.fromEntries(config.backups.map((b, i) => [b.name, outs[i]])));
