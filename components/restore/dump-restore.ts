// One database restored from the first stack's dump, in the new cluster: a batch/v1 Job in the
// database's namespace (where its password Secret is). Two containers, one script
// (scripts/restore/restore-dump.sh), so each image needs only its own tools:
//   - init `fetch` (jobs.image, the aws CLI): FETCH_ONLY=true downloads the object into an
//     emptyDir and checks its size and sha256 against the `backups` output; a mismatch fails the
//     pod naming the object, before any PostgreSQL is touched;
//   - `restore` (psqlImage): SOURCE_FILE=that file, checked again (and every extension it
//     creates available on the server), then restored into the empty server (refused otherwise
//     unless allowNonEmpty) with PG* from the Secret (secretKeyRef: never in args, env values or
//     logs); a single-database dump goes into `database.name`, its owner created if missing
//     with the password of `database.ownerPasswordSecret` (secretKeyRef too); then each of
//     `logins` logs in with its application's password (secretKeyRef too); its summary goes to
//     the termination message.
// A judge (scripts/refresh-judge.sh, a local Command) waits for the Job and reads its pods'
// status: the result, or the failed container's own ERROR line (./job-outcome.ts). The provider
// does not await the Job (skipAwait): its failure would say only "BackoffLimitExceeded".
// Lifecycle: backoffLimit 0 (a restore is not retried blindly: a second run would find the
// server half restored), no TTL, a fixed name, deleteBeforeReplace. The Job holds no data:
// deleting it never touches the database. It is kept on destroy (retainOnDelete) unless
// deleteDataOnDestroy, so the record of what was restored stays in the cluster.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { DEFAULT_JOB_IMAGE } from "../config";
import { accessKeyEnv, awsTargetEnv, type S3Credentials } from "../credentials";
import { NON_ROOT_CONTAINER, podSecurityContext, valueEnv } from "../shared/job-pod";
import { dumpEntry, type DumpEntry } from "../shared/outputs";
import { DEFAULT_PSQL_IMAGE, type RestoreDatabase } from "./config";
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

/** The postgres image's own `postgres` user: psql finds a passwd entry; both containers share it. */
export const RESTORE_JOB_USER = 999;
export { RESTORE_SCRIPTS_DIR };
export const RESTORE_DUMP_DIR = "/dump";
export const RESTORE_DUMP_FILE = `${RESTORE_DUMP_DIR}/dump.sql.gz`;
/** The scripts restore-dump.sh runs, at the paths it finds them (it sources ../copy-common.sh). */
export const SCRIPT_FILES = ["copy-common.sh", "restore/restore-dump.sh", "restore/fingerprint.sh"];

/**
 * The dump entry `backup` of the source stack's `backups` output, checked against the shared
 * schema; one error line naming the backup and what is wrong otherwise.
 */
export function dumpFor(backup: string, backups: unknown): DumpEntry {
  const entry = sourceEntry(backup, backups, "restore.databases[].backup");
  if (typeof entry === "object" && entry !== null && "prefix" in entry && !("key" in entry)) {
    throw new Error(
      `${restoreOf(backup)}: backups.${backup} is a tree (files under a prefix), not a dump; name a "latest" backup`,
    );
  }
  const parsed = dumpEntry.safeParse(entry);
  if (!parsed.success) throw contractError(backup, parsed.error.issues);
  return parsed.data;
}

/** The non-secret settings both containers get (restore-dump.sh's environment). */
export function restoreSettings(
  entry: DumpEntry,
  db: Pick<RestoreDatabase, "allowNonEmpty">,
): Record<string, string> {
  return {
    SOURCE_URI: `s3://${entry.bucket}/${entry.key}`,
    EXPECTED_SHA256: entry.sha256,
    EXPECTED_SIZE: String(entry.size),
    SOURCE_FILE: RESTORE_DUMP_FILE,
    ALLOW_NON_EMPTY: String(db.allowNonEmpty),
    HOME: "/tmp",
    TMPDIR: "/tmp",
  };
}

/**
 * The `restore` container's settings for restore-dump.sh's login checks: names and tables as
 * values, each password ONLY as a secretKeyRef. Optional refs: a missing Secret or key leaves the
 * variable unset, and the script fails at once naming it, before anything changes (a required
 * ref would hold the pod in CreateContainerConfigError until the Job's deadline).
 */
export function loginEnv(logins: RestoreDatabase["logins"]): k8s.types.input.core.v1.EnvVar[] {
  return [
    { name: "LOGIN_COUNT", value: String(logins.length) },
    ...logins.flatMap((l, i) => [
      { name: `LOGIN_${i}_USER`, value: l.user },
      { name: `LOGIN_${i}_DATABASE`, value: l.database },
      { name: `LOGIN_${i}_TABLES`, value: l.expectTables.join(" ") },
      {
        name: `LOGIN_${i}_SECRET`,
        value: `Secret ${l.passwordSecret.name} key ${l.passwordSecret.key}`,
      },
      {
        name: `LOGIN_${i}_PASSWORD`,
        valueFrom: {
          secretKeyRef: { name: l.passwordSecret.name, key: l.passwordSecret.key, optional: true },
        },
      },
    ]),
  ];
}

/**
 * The `restore` container's settings for a single-database dump (restore.databases[].database):
 * names as values, the owner's password ONLY as an optional secretKeyRef (missing: the script
 * stops before any change, naming the Secret). Nothing without the setting.
 */
export function databaseEnv(target: RestoreDatabase["database"]): k8s.types.input.core.v1.EnvVar[] {
  if (target === undefined) return [];
  const secret = target.ownerPasswordSecret;
  return [
    { name: "DATABASE_NAME", value: target.name },
    { name: "DATABASE_OWNER", value: target.owner },
    ...(secret === undefined
      ? []
      : [
          { name: "DATABASE_OWNER_SECRET", value: `Secret ${secret.name} key ${secret.key}` },
          {
            name: "DATABASE_OWNER_PASSWORD",
            valueFrom: { secretKeyRef: { name: secret.name, key: secret.key, optional: true } },
          },
        ]),
  ];
}

/** The emptyDir for the dump: its size plus room for the .part rename, in MiB. */
export function dumpVolumeLimit(size: number): string {
  return `${Math.ceil(size / 2 ** 20) + 64}Mi`;
}

const summary = z.record(
  z.string(),
  z.strictObject({
    tables: z.number().int().nonnegative(),
    rows: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
);

const resultFields = {
  source: z.string().regex(/^s3:\/\//),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().positive(),
  dumpedFrom: z.string().min(1),
  skippedRoleLines: z.number().int().nonnegative(),
  /**
   * Each configured login that worked, with how many tables its database holds. Absent only
   * from the result of a Job of a program from before logins were checked: a stack's recorded
   * restore stays readable, and says by the missing field that no login was checked.
   */
  logins: z
    .array(
      z.strictObject({
        user: z.string().min(1),
        database: z.string().min(1),
        tables: z.number().int().nonnegative(),
      }),
    )
    .optional(),
  /**
   * Per database: tables, rows and the sha256 of its fingerprint (fingerprint.sh): every
   * database of the server for a whole-server dump, the restored one for a single-database dump.
   */
  summary,
};

/**
 * What the `restore` container leaves in its termination message (restore-dump.sh RESULT_FILE):
 * a whole-server dump (`cluster`), or a single-database dump (`database`) with where it went
 * and what the script had to create for it.
 */
export const restoreResult = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("cluster"), ...resultFields }),
  z.strictObject({
    kind: z.literal("database"),
    ...resultFields,
    databaseName: z.string().min(1),
    owner: z.string().min(1),
    /** `created-nologin`: no ownerPasswordSecret, so the new role cannot log in yet. */
    ownerRole: z.enum(["existing", "created", "created-nologin"]),
    databaseCreated: z.boolean(),
  }),
]);
export type RestoreResult = z.infer<typeof restoreResult>;

/**
 * Parses the read-back result and checks it restored the object the source recorded and, when
 * it reports logins, checked the ones `logins` lists (a Job run with other settings would prove
 * other logins).
 */
export function parseRestoreResult(
  stdout: string,
  backup: string,
  entry: DumpEntry,
  logins: RestoreDatabase["logins"] = [],
  target?: RestoreDatabase["database"],
): RestoreResult {
  const result = parseJobResult(stdout, backup, "restore", restoreResult);
  if (result.kind === "database" && result.databaseName !== target?.name) {
    throw new Error(
      `${restoreOf(backup)}: the Job restored a single-database dump into ${result.databaseName}, restore.databases[].database.name is ${target?.name ?? "not set"}; it ran with other settings: delete the Job and run pulumi up again`,
    );
  }
  if (result.sha256 !== entry.sha256) {
    throw new Error(
      `${restoreOf(backup)}: the Job restored sha256 ${result.sha256}, the source recorded ${entry.sha256}`,
    );
  }
  const names = (list: readonly { user: string; database: string }[]) =>
    list.map((l) => `${l.user}@${l.database}`).join(", ") || "none";
  if (result.logins !== undefined && names(result.logins) !== names(logins)) {
    throw new Error(
      `${restoreOf(backup)}: the Job checked the logins ${names(result.logins)}, restore.databases[].logins lists ${names(logins)}; it ran with other settings: delete the Job and run pulumi up again`,
    );
  }
  return result;
}

export interface DumpRestoreArgs extends RestoreJobArgs {
  /** The database to restore into (restore.databases[i]). */
  readonly database: RestoreDatabase;
  /** Put into a Secret in the database's namespace; the fetch reads it through secretKeyRef. */
  readonly credentials: S3Credentials;
  /** Image of the `fetch` init container (bash, the aws CLI). @default DEFAULT_JOB_IMAGE */
  readonly image?: string;
  /** Image of the `restore` container (bash, gzip, coreutils, awk, psql). @default DEFAULT_PSQL_IMAGE */
  readonly psqlImage?: string;
  /** activeDeadlineSeconds of the Job. @default 14400 */
  readonly timeoutSeconds?: number;
}

export class DumpRestore extends pulumi.ComponentResource {
  /** The source entry restored (checked against the shared schema). */
  public readonly entry: pulumi.Output<DumpEntry>;
  /** The restore's summary, read back from the Job (see restoreResult). */
  public readonly result: pulumi.Output<RestoreResult>;
  public readonly job: k8s.batch.v1.Job;

  constructor(name: string, args: DumpRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:restore:DumpRestore", name, {}, opts);
    const db = args.database;
    const namespace = db.namespace;
    const timeoutSeconds = args.timeoutSeconds ?? 14400;

    this.entry = checkedSourceEntry(args.backups, (backups) => dumpFor(db.backup, backups), this);

    const inputs = restoreJobInputs(
      name,
      { namespace, credentials: args.credentials, scriptFiles: SCRIPT_FILES },
      this,
    );

    const aws = awsTargetEnv(args);
    const env = (extra: Record<string, string>) =>
      this.entry.apply((entry) => valueEnv({ ...restoreSettings(entry, db), ...extra }));
    const run = ["bash", `${RESTORE_SCRIPTS_DIR}/restore/restore-dump.sh`];

    // skipAwait (restoreJob): the judge below waits and says why a restore failed (file top).
    this.job = restoreJob(
      name,
      { namespace, inputs, backoffLimit: 0, timeoutSeconds, component: args },
      {
        securityContext: podSecurityContext(RESTORE_JOB_USER, RESTORE_JOB_USER, RESTORE_JOB_USER),
        volumes: [
          ...inputs.volumes,
          {
            name: "dump",
            emptyDir: { sizeLimit: this.entry.apply((e) => dumpVolumeLimit(e.size)) },
          },
        ],
        initContainers: [
          {
            name: "fetch",
            image: args.image ?? DEFAULT_JOB_IMAGE,
            command: run,
            env: pulumi
              .all([env({ FETCH_ONLY: "true", ...aws }), inputs.secret.secretName])
              .apply(([plain, secretName]) => [...plain, ...accessKeyEnv(secretName)]),
            // Both images allow a read-only filesystem: the scripts write only to /tmp, /dump.
            securityContext: NON_ROOT_CONTAINER,
            // Its log's tail ends with restore-dump.sh's ERROR line: the judge reports it.
            terminationMessagePolicy: "FallbackToLogsOnError",
            volumeMounts: [...inputs.mounts, { name: "dump", mountPath: RESTORE_DUMP_DIR }],
            resources: {
              requests: { cpu: "250m", memory: "256Mi" },
              limits: { memory: "1Gi" },
            },
          },
        ],
        containers: [
          {
            name: "restore",
            image: args.psqlImage ?? DEFAULT_PSQL_IMAGE,
            command: run,
            env: env({
              RESULT_FILE: "/dev/termination-log",
              PGHOST: db.host,
              PGPORT: String(db.port),
              PGUSER: db.user,
              PGCONNECT_TIMEOUT: "30",
            }).apply((plain) => [
              ...plain,
              {
                name: "PGPASSWORD",
                valueFrom: {
                  secretKeyRef: { name: db.passwordSecret.name, key: db.passwordSecret.key },
                },
              },
              ...loginEnv(db.logins),
              ...databaseEnv(db.database),
            ]),
            securityContext: NON_ROOT_CONTAINER,
            terminationMessagePolicy: "FallbackToLogsOnError",
            volumeMounts: [
              ...inputs.mounts,
              { name: "dump", mountPath: RESTORE_DUMP_DIR, readOnly: true },
            ],
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
        backup: db.backup,
        namespace,
        timeoutSeconds,
        kubeContext: args.kubeContext,
        entry: this.entry,
      },
      (stdout, entry) => parseRestoreResult(stdout, db.backup, entry, db.logins, db.database),
      this,
    );
    this.registerOutputs({ entry: this.entry, result: this.result });
  }
}
