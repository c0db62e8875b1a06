// The restore side (the new cluster): reads the backup stack's outputs, checks the cluster, and
// restores each database dump and each media tree, verified; compares them with what the old
// side recorded (the verdict); last, restore.scaleUp's StatefulSets go to the counts the source
// recorded (ScaleUp). Builds the components in order and returns the stack outputs.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { secretSetting } from "../config";
import { OperatorError } from "../operator-error";
import { formatKey } from "../shared/config-parts";
import { type RestoreConfig } from "./config";
import { DumpRestore } from "./dump-restore";
import { MediaRestore } from "./media-restore";
import { restorePlan, restorePlanText } from "./plan";
import { RestorePreflight } from "./preflight";
import { ScaleUp } from "./scale-up";
import { sourceOutput, type SourceOutput } from "./source";
import { restoreVerdict, unverifiedWarnings, verdictFailure } from "./verdict";

/** Every resource of the restore side; the stack outputs by name. */
export function restoreSide(config: RestoreConfig) {
  // One cluster (the new one) for the reads, the Jobs and the result read-back's kubectl.
  const cluster = new k8s.Provider("cluster", { context: config.kubeContext });

  // The backup stack's outputs, read at preview too: a wrong source fails before anything changes.
  const source = new pulumi.StackReference("source", { name: config.source });
  const read = <K extends SourceOutput>(name: K) =>
    source.getOutput(name).apply((value) => {
      try {
        return sourceOutput(config.source, name, value);
      } catch (err) {
        throw new OperatorError((err as Error).message, source);
      }
    });
  const backups = read("backups");
  const originalReplicas = read("originalReplicas");

  // Every namespace, database StatefulSet (running), password Secret (its key), StatefulSet
  // to scale up and media PVC, read before anything changes.
  const key = (i: number, ...rest: (string | number)[]) =>
    formatKey(["restore", "databases", i, ...rest]);
  const preflight = new RestorePreflight(
    "preflight",
    {
      namespaces: [...config.databases, ...config.scaleUp, ...config.media].map((d) => d.namespace),
      databases: config.databases.map((d, i) => ({
        key: key(i, "statefulSet"),
        namespace: d.namespace,
        statefulSet: d.statefulSet,
      })),
      secrets: config.databases.flatMap((d, i) => [
        {
          key: key(i, "passwordSecret", "key"),
          namespace: d.namespace,
          name: d.passwordSecret.name,
          dataKey: d.passwordSecret.key,
        },
        // The owner's password for a single-database dump, and each application login's: a
        // missing one fails preview, not the Job.
        ...(d.database?.ownerPasswordSecret
          ? [
              {
                key: key(i, "database", "ownerPasswordSecret", "key"),
                namespace: d.namespace,
                name: d.database.ownerPasswordSecret.name,
                dataKey: d.database.ownerPasswordSecret.key,
              },
            ]
          : []),
        ...d.logins.map((l, j) => ({
          key: key(i, "logins", j, "passwordSecret", "key"),
          namespace: d.namespace,
          name: l.passwordSecret.name,
          dataKey: l.passwordSecret.key,
        })),
      ]),
      scaleUp: config.scaleUp,
      pvcs: config.media.map((m) => `${m.namespace}/${m.pvc}`),
    },
    { providers: [cluster] },
  );
  // The Jobs start only once every database runs and every Secret holds its key.
  // The plan (shown by preview) and its problems (a tree larger than its volume fails preview):
  // the Jobs also wait for it.
  const plan = pulumi
    .all([backups, originalReplicas, preflight.scaleUpReplicas, preflight.pvcCapacity])
    .apply(([b, original, now, capacity]) => {
      const p = restorePlan({
        databases: config.databases,
        media: config.media,
        scaleUp: config.scaleUp,
        backups: b,
        originalReplicas: original,
        scaleUpNow: now,
        pvcCapacity: capacity,
      });
      if (pulumi.runtime.isDryRun()) {
        void pulumi.log.info(restorePlanText(p).join("\n"));
      }
      if (p.problems.length > 0) throw new OperatorError(p.problems.join("\n"), undefined);
      return p;
    });
  const ready = pulumi.all([preflight.ready, plan]).apply(() => preflight);

  // Bring-your-own: the operator's key that may read the bucket.
  const credentials = {
    accessKeyId: secretSetting("awsAccessKeyId"),
    secretAccessKey: secretSetting("awsSecretAccessKey"),
  };
  // One Job per database, in parallel (each its own server).
  const restores = config.databases.map(
    (d) =>
      new DumpRestore(
        `restore-${d.backup}`,
        {
          database: d,
          backups,
          region: config.aws.region,
          endpoint: config.aws.endpoint,
          credentials,
          image: config.jobs.image,
          psqlImage: config.psqlImage,
          timeoutSeconds: config.restoreTimeoutSeconds,
          kubeContext: config.kubeContext,
          deleteDataOnDestroy: config.deleteDataOnDestroy,
          runAfter: [ready],
        },
        { dependsOn: [preflight], providers: [cluster] },
      ),
  );

  // One Job per media tree, in parallel with the dumps (a volume, not a server).
  const media = config.media.map(
    (m, i) =>
      new MediaRestore(
        `restore-${m.backup}`,
        {
          media: m,
          key: formatKey(["restore", "media", i, "backup"]),
          backups,
          region: config.aws.region,
          endpoint: config.aws.endpoint,
          credentials,
          image: config.jobs.image,
          timeoutSeconds: config.restoreTimeoutSeconds,
          kubeContext: config.kubeContext,
          deleteDataOnDestroy: config.deleteDataOnDestroy,
          runAfter: [ready],
        },
        { dependsOn: [preflight], providers: [cluster] },
      ),
  );
  /** Per restored tree: the volume "namespace/pvc" and the Job's checked summary. */
  const restoredMedia = pulumi
    .all(media.map((r) => r.result))
    .apply((results) =>
      Object.fromEntries(
        config.media.map((m, i) => [m.backup, { pvc: `${m.namespace}/${m.pvc}`, ...results[i]! }]),
      ),
    );

  /** Per restored backup: the database it went into and the Job's checked summary. */
  const restored = pulumi
    .all(restores.map((r) => r.result))
    .apply((results) =>
      Object.fromEntries(
        config.databases.map((d, i) => [
          d.backup,
          { database: `${d.namespace}/${d.statefulSet}`, ...results[i]! },
        ]),
      ),
    );
  // Each restored server against the old side's fingerprint of its dump, each restored tree
  // against its entry's files and bytes (components/restore/verdict.ts). A difference fails `up` with one line; a dump without a fingerprint is only
  // warned about (unverified: the operator decides). The scale-up waits on `verdictOk`.
  const fingerprints = read("fingerprints");
  const verdict = pulumi
    .all([restored, restoredMedia, backups, fingerprints])
    .apply(([r, m, b, f]) => {
      const v = restoreVerdict({ restored: r, media: m, backups: b, fingerprints: f });
      for (const line of unverifiedWarnings(v)) void pulumi.log.warn(line);
      const failure = verdictFailure(v);
      if (failure !== undefined) throw new OperatorError(failure, undefined);
      return v;
    });
  /** true once every restored database equals its fingerprint (or is unverified); never false. */
  const verdictOk = verdict.apply((v) => v.ok);
  /** The backup stack read, and its replica counts. */
  const sourceOut = pulumi.output({ stack: config.source, originalReplicas });

  // Last: the stack's StatefulSets at the counts the old side recorded, once all else is done
  // and the verdict holds (a wrong restore never starts the stack).
  const scaleUp = new ScaleUp("scale-up", {
    statefulSets: config.scaleUp.map((s, i) => ({
      key: formatKey(["restore", "scaleUp", i]),
      ...s,
    })),
    originalReplicas,
    source: config.source,
    timeoutSeconds: config.scaleUpTimeoutSeconds,
    kubeContext: config.kubeContext,
    runAfter: [ready, ...restores, ...media, verdictOk.apply(() => preflight)],
  });

  return {
    restored,
    restoredMedia,
    verdict,
    verdictOk,
    source: sourceOut,
    scaledUp: scaleUp.scaledUp,
  };
}
