// What the production cluster holds for the refresh, as the mocks answer it: the two backup
// CronJobs (their jobTemplate shaped like the sql-backup charts'), the media PVC and its NFS PV;
// what the refresh, quiesce and copy Commands print on a successful run; and the mocks (up and
// preview) and the program run that the whole-program tests start from.
import { JOB_COMPLETE, judgeOutput, pod } from "../fixtures/refresh/shapes";
import { useMocks, type MockOptions, type Recorder } from "./mocks";
import { type BackupOutputs, importBackupStack, useStackConfig } from "./stack";

export const SHA = "a".repeat(64);
export const QUIESCED_AT = "2026-11-25T10:00:00Z";
/** JOB_COMPLETE's startTime: the refreshed dumps are named at or after it. */
export const REFRESH_STARTED = "2026-11-25T10:00:05Z";
/** The fingerprint Jobs' termination message (fingerprint-old.sh's result). */
export const OLD_FINGERPRINT = `{"at":"2026-11-25T10:01:20Z","databases":{"frag":{"tables":2,"rows":153,"sha256":"${"c".repeat(64)}"},"postgres":{"tables":0,"rows":0,"sha256":"${"d".repeat(64)}"}}}`;
export const MEDIA_DIR = "/nfs/kubernetes-prod/production-stack-media-pvc-0c3e";

/** A CronJob's spec.jobTemplate as the API server returns it (defaults filled in). */
export function backupTemplate(secret: string, pvc: string) {
  return {
    metadata: { labels: { app: "postgres-backup" } },
    spec: {
      backoffLimit: 6,
      completionMode: "NonIndexed",
      completions: 1,
      parallelism: 1,
      suspend: false,
      template: {
        metadata: { labels: { app: "postgres-backup" } },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "backup",
              image: "informaticsmatters/sql-backup:15.7",
              env: [
                { name: "BACKUP_TYPE", value: "hourly" },
                { name: "BACKUP_COUNT", value: "24" },
                { name: "PGHOST", value: "database" },
                {
                  name: "PGADMINPASS",
                  valueFrom: { secretKeyRef: { name: secret, key: "database_admin_password" } },
                },
              ],
              volumeMounts: [{ name: "backup", mountPath: "/backup" }],
              terminationMessagePath: "/dev/termination-log",
              terminationMessagePolicy: "File",
            },
          ],
          volumes: [{ name: "backup", persistentVolumeClaim: { claimName: pvc } }],
        },
      },
    },
  };
}

/** The StatefulSets production quiesces, with their live replica counts. */
export const PRODUCTION_STATEFULSETS = { "production-stack/stack": 3, "im-infra/keycloak": 1 };

export const CRON_JOBS: NonNullable<MockOptions["cronJobs"]> = {
  "im-infra/postgres-backup-hourly": backupTemplate("im-postgres", "pg-bu"),
  "production-stack/postgres-backup-hourly": backupTemplate("database", "database-backup"),
};

/** The backups the production stack file refreshes, each with its CronJob's namespace. */
export const REFRESHED = [
  ["keycloak-db", "im-infra"],
  ["stack-db", "production-stack"],
] as const;

export const VOLUMES: NonNullable<MockOptions["volumes"]> = {
  "production-stack/media": {
    pv: "pvc-0c3e",
    spec: { nfs: { server: "192.168.253.39", path: MEDIA_DIR } },
  },
};

/** Stdout of each Command in a successful production run (refreshed dumps, live media). */
export function productionStdout(name: string, inputs: Record<string, unknown>): string {
  const env = (inputs.environment ?? {}) as Record<string, string>;
  if (env.STATEFULSET) {
    return `{"namespace":"${env.NAMESPACE}","statefulSet":"${env.STATEFULSET}","originalReplicas":3,"quiescedAt":"${QUIESCED_AT}"}`;
  }
  if (/^refresh-.*-wait$/.test(name)) return `{"cronJob":"x","waitedSeconds":0}`;
  if (/^refresh-.*-judge$/.test(name)) {
    return judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0, "SUCCESS")]);
  }
  if (/^fingerprint-.*-judge$/.test(name)) {
    return judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0, OLD_FINGERPRINT)]);
  }
  const [, phase, backup] = /^(backup|presync)-(.+)-(ssh-copy|job-result)$/.exec(name) ?? [];
  const verifiedAt =
    phase === "presync"
      ? "2026-11-25T09:30:00Z"
      : backup === "stack-media"
        ? "2026-11-25T10:04:10Z"
        : "2026-11-25T10:01:00Z";
  if (backup === "stack-media") {
    return `{"bucket":"im-fragalysis","prefix":"production-stack-media/","files":10,"bytes":2048,"uploaded":10,"skipped":0,"verifiedAt":"${verifiedAt}"}`;
  }
  if (backup) {
    const key = `production-${backup}/backup-2026-11-25T10:00:07Z-dumpall.sql.gz`;
    return `{"bucket":"im-fragalysis","key":"${key}","size":1234,"sha256":"${SHA}","source":"/nfs/${key}","sourceTime":"2026-11-25T10:00:07Z","verifiedAt":"${verifiedAt}"}`;
  }
  return "";
}

/**
 * Mocks for the whole program (index.ts) against the production cluster as above: the two
 * quiesced StatefulSets, the backup CronJobs, the media volume, and a successful run's output.
 */
export function useProductionMocks(): Promise<Recorder> {
  return useMocks({
    statefulSets: PRODUCTION_STATEFULSETS,
    cronJobs: CRON_JOBS,
    volumes: VOLUMES,
    commandStdout: productionStdout,
  });
}

/** index.ts under useProductionMocks with the production stack file (and a test SSH key). */
export async function runProductionStack(): Promise<{ recorder: Recorder; stack: BackupOutputs }> {
  const recorder = await useProductionMocks();
  useStackConfig("production", { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" });
  return { recorder, stack: await importBackupStack() };
}

/**
 * Per refreshed backup, the Job `<prefix>-<backup>-job` the program registered (its metadata and
 * spec inputs) and the spec of the jobTemplate it was made from (its CronJob's).
 */
export function refreshedJobs(recorder: Recorder, prefix: "refresh" | "fingerprint") {
  return REFRESHED.map(([backup, namespace]) => {
    const job = recorder.named(`${prefix}-${backup}-job`);
    return {
      backup,
      namespace,
      job,
      meta: job.inputs.metadata as Record<string, any>,
      spec: job.inputs.spec as Record<string, any>,
      template: CRON_JOBS[`${namespace}/postgres-backup-hourly`]!.spec as Record<string, any>,
    };
  });
}

/**
 * Preview mocks for index.ts against the same production cluster: no Command has run, so none
 * has a stdout. `invoke` answers the plan's local.run reads (default: every script all well).
 */
export function usePreviewMocks(invoke?: MockOptions["invoke"]): Promise<Recorder> {
  return useMocks({
    preview: true,
    statefulSets: PRODUCTION_STATEFULSETS,
    cronJobs: CRON_JOBS,
    volumes: VOLUMES,
    state: (type) => (type.startsWith("command:") ? { stdout: undefined } : {}),
    invoke,
  });
}
