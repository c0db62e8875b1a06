// The restore side's settings (key `restore`, read by components/config.ts with `side: restore`):
// its own zod schema, parsed once, every problem reported at once, one line each naming the
// full key (`fragalysis-relocation:restore.databases[0].namespace`) and what a valid value is.
import { z } from "zod";
import {
  awsEndpoint,
  awsRegion,
  ConfigError,
  DEFAULT_JOB_IMAGE,
  flag,
  flagDuplicate,
  formatKey,
  hint,
  HOST,
  image,
  k8sName,
  kubeContext,
  seconds,
} from "../shared/config-parts";

/**
 * The image the `restore` container runs restore-dump.sh in: bash, gzip, GNU coreutils
 * (sha256sum, sort, stat, mktemp), awk and psql. The official Debian-based postgres image has
 * them all (mawk is in every Debian base and is the awk the scripts are tested with; the -alpine
 * tags bring busybox tools instead), and 15.8 is the major version production's database runs
 * (relocation-destination.md: postgres:15.8 until 2025-08, then rdkit-cartridge-debian, tag 15.8 in the doc).
 */
export const DEFAULT_PSQL_IMAGE = "postgres:15.8";

/** Secrets of the restore side: an access key to read the bucket, always brought by the operator. */
export const RESTORE_SECRET_KEYS = ["awsAccessKeyId", "awsSecretAccessKey"] as const;

/** A Secret's data key (Kubernetes: alphanumerics, '-', '_' and '.'). */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
/** "stack", "project/stack" or "organization/project/stack" (Pulumi's StackReference names). */
const STACK_NAME = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/;

/** "namespace/statefulSet" as the source's originalReplicas output keys it. */
const STATEFULSET_ID = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const scaleUpEntry = z.strictObject(
  {
    namespace: k8sName("production-stack"),
    statefulSet: k8sName("stack"),
    /**
     * The source's "namespace/statefulSet" whose recorded count this one gets, when the new
     * cluster names it differently. @default the same namespace/statefulSet
     */
    from: z
      .string({
        error: hint('the old cluster\'s "namespace/statefulSet", e.g. "production-stack/stack"'),
      })
      .regex(STATEFULSET_ID, {
        error: 'the old cluster\'s "namespace/statefulSet", e.g. "production-stack/stack"',
      })
      .optional(),
  },
  {
    error: hint(
      "an object such as {namespace: production-stack, statefulSet: stack} (optionally from: old-namespace/old-name)",
    ),
  },
);

/** A PostgreSQL role name (unquoted, as the scripts pass it). */
const roleName = (example: string) =>
  z
    .string({ error: hint(`a PostgreSQL role name such as "${example}"`) })
    .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, {
      error: `a PostgreSQL role name, e.g. "${example}"`,
    });

/** A Secret in the database's namespace and the data key holding a password. */
const secretRef = (example: { name: string; key: string }) =>
  z.strictObject(
    {
      name: k8sName(example.name),
      key: z
        .string({ error: hint(`a key of the Secret such as "${example.key}"`) })
        .max(253, { error: `a Secret key, e.g. "${example.key}"` })
        .regex(SECRET_KEY, {
          error: `letters, digits, '-', '_' and '.' only, e.g. "${example.key}"`,
        }),
    },
    { error: hint(`an object such as {name: ${example.name}, key: ${example.key}}`) },
  );

/**
 * The result of every login goes into the restore's termination message (4 KiB with the
 * per-database summary): a handful per server is what production needs (Django, Keycloak, the
 * backup CronJob's user).
 */
export const MAX_LOGINS = 8;

/**
 * A role that must log in after the restore with the password the application reads from its
 * Secret (relocation-destination.md "What a restore tool must check").
 */
/** A database name as the scripts pass it. */
const databaseName = () =>
  z.string({ error: hint('a database name such as "frag"') }).regex(/^[A-Za-z0-9_$.-]{1,63}$/, {
    error: "a database name of letters, digits, '_', '$', '.' and '-', e.g. \"frag\"",
  });

const login = z.strictObject(
  {
    user: roleName("fragalysis"),
    database: databaseName(),
    /** Where the application reads its password (in the database's namespace). */
    passwordSecret: secretRef({ name: "database", key: "user_password" }),
    /** Tables that must exist in `database` and be readable by `user` (unquoted SQL names). */
    expectTables: z
      .array(
        z
          .string({ error: hint('a table name such as "django_migrations"') })
          .max(127, { error: 'a table name, e.g. "django_migrations"' })
          .regex(/^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$/, {
            error:
              'an unquoted lower-case table name, optionally schema-qualified, e.g. "django_migrations" or "public.django_migrations"',
          }),
        { error: hint('a list such as ["django_migrations"]') },
      )
      .default([]),
  },
  {
    error: hint(
      "an object such as {user: fragalysis, database: frag, passwordSecret: {name: database, key: user_password}}",
    ),
  },
);

/**
 * Where a single-database dump (pg_dump: the sql-backup image's output when its CronJob sets
 * DATABASE) goes: it names no database and creates no role. With a whole-server dump the dump's
 * own roles and CREATE DATABASE apply, and `name` must be one it creates.
 */
const target = z.strictObject(
  {
    name: databaseName().refine((n) => n !== "template0" && n !== "template1", {
      error: 'a database of your own, not a template, e.g. "frag"',
    }),
    /** Created if missing (LOGIN with ownerPasswordSecret's password, else NOLOGIN). */
    owner: roleName("fragalysis"),
    /** The password `owner` gets if the restore creates it: the one the application reads. */
    ownerPasswordSecret: secretRef({ name: "database", key: "user_password" }).optional(),
  },
  {
    error: hint(
      "an object such as {name: frag, owner: fragalysis, ownerPasswordSecret: {name: database, key: user_password}}",
    ),
  },
);

const database = z.strictObject(
  {
    /** The entry of the source stack's `backups` output to restore (a dump). */
    backup: z
      .string({ error: hint('the backup\'s name in the source stack, e.g. "stack-db"') })
      .min(1, { error: 'the backup\'s name in the source stack, e.g. "stack-db"' }),
    /** Where the database runs (and its password Secret is, and the restore Job runs). */
    namespace: k8sName("production-stack"),
    /** The database's StatefulSet; it must exist and run (the restore talks to its server). */
    statefulSet: k8sName("database"),
    /** The server's address as the Job in `namespace` reaches it (its Service). */
    host: z
      .string({ error: hint('a host name such as "database"') })
      .regex(HOST, { error: 'a host name or IP address, e.g. "database"' }),
    port: z
      .number({ error: hint("a TCP port, e.g. 5432") })
      .int({ error: "a TCP port from 1 to 65535, e.g. 5432" })
      .min(1, { error: "a TCP port from 1 to 65535, e.g. 5432" })
      .max(65535, { error: "a TCP port from 1 to 65535, e.g. 5432" })
      .default(5432),
    /** A superuser of that server (a whole-server dump needs one). @default "postgres" */
    user: z
      .string({ error: hint('a PostgreSQL superuser such as "postgres"') })
      .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, {
        error: 'a PostgreSQL role name, e.g. "postgres"',
      })
      .default("postgres"),
    /** The Secret (in `namespace`) and key holding that user's password; read by the pod only. */
    passwordSecret: secretRef({ name: "database", key: "root_password" }),
    /** Where a single-database dump goes (required for one). @default none */
    database: target.optional(),
    /** Restore over a server that already holds data (the dump drops its databases first). */
    allowNonEmpty: flag(false),
    /** Roles that must log in after the restore (each with its application's Secret). */
    logins: z
      .array(login, {
        error: hint(
          "a list such as [{user: fragalysis, database: frag, passwordSecret: {name: database, key: user_password}}]",
        ),
      })
      .max(MAX_LOGINS, {
        error: `at most ${MAX_LOGINS} logins per database (their results share the Job's 4 KiB termination message)`,
      })
      .default([]),
  },
  {
    error: hint(
      "an object such as {backup: stack-db, namespace: production-stack, statefulSet: database, host: database, passwordSecret: {name: database, key: root_password}}",
    ),
  },
);

/** A uid or gid (Kubernetes: 0 to 2^31-1). */
const id = (what: string) =>
  z
    .number({ error: hint(`a ${what} from 0 to 2147483647, e.g. 0`) })
    .int({ error: `a ${what} from 0 to 2147483647, e.g. 0` })
    .min(0, { error: `a ${what} from 0 to 2147483647, e.g. 0` })
    .max(2147483647, { error: `a ${what} from 0 to 2147483647, e.g. 0` });

/**
 * The uid/gid the media restore writes as; restore-tree.sh does no chown, so it owns the files.
 * 0: production's stack and worker containers run as root (the fragalysis-stack image sets no
 * USER, fragalysis-backend's Dockerfile says USER root, and FSK's statefulset-stack/-worker
 * templates set no securityContext), upstream fills /code/media as root inside stack-0, and a
 * fresh volume's root directory is root's (fsGroup does not apply to NFS/EFS volumes).
 */
export const DEFAULT_MEDIA_USER = 0;

const media = z.strictObject(
  {
    /** The entry of the source stack's `backups` output to restore (a tree with manifests). */
    backup: z
      .string({ error: hint('the backup\'s name in the source stack, e.g. "stack-media"') })
      .min(1, { error: 'the backup\'s name in the source stack, e.g. "stack-media"' }),
    /** The PVC's namespace (the Job runs there: a pod mounts only its own namespace's PVCs). */
    namespace: k8sName("production-stack"),
    /** The new media volume's claim; it must exist. */
    pvc: k8sName("media"),
    /** Replace files in the volume that differ from the manifest (else refused, naming them). */
    allowOverwrite: flag(false),
    runAsUser: id("uid").default(DEFAULT_MEDIA_USER),
    runAsGroup: id("gid").default(DEFAULT_MEDIA_USER),
  },
  {
    error: hint("an object such as {backup: stack-media, namespace: production-stack, pvc: media}"),
  },
);

const jobs = z
  .strictObject(
    {
      namespace: k8sName("fragalysis-relocation").default("fragalysis-relocation"),
      image: image("a container image with bash and the aws CLI", DEFAULT_JOB_IMAGE),
      createNamespace: flag(true),
    },
    { error: hint("an object such as {namespace: fragalysis-relocation}") },
  )
  .default({ namespace: "fragalysis-relocation", image: DEFAULT_JOB_IMAGE, createNamespace: true });

export const restoreSchema = z
  .strictObject(
    {
      /** The first (backup) stack, read with a StackReference: its `backups` output. */
      source: z
        .string({
          error: hint('a stack name such as "organization/fragalysis-relocation/production"'),
        })
        .regex(STACK_NAME, {
          error:
            'a Pulumi stack name "organization/project/stack", e.g. "organization/fragalysis-relocation/production"',
        }),
      aws: z.strictObject(
        {
          region: awsRegion,
          endpoint: awsEndpoint,
        },
        { error: hint("an object such as {region: eu-central-1}") },
      ),
      kubeContext,
      jobs,
      psqlImage: image(
        "a Debian-based image with bash, gzip, coreutils and psql",
        DEFAULT_PSQL_IMAGE,
      ),
      databases: z
        .array(database, {
          error: hint("a list such as [{backup: stack-db, namespace: production-stack, ...}]"),
        })
        .min(1, { error: "list at least one database to restore" }),
      /** Trees (the media) restored into PVCs of the new cluster. */
      media: z
        .array(media, {
          error: hint(
            "a list such as [{backup: stack-media, namespace: production-stack, pvc: media}]",
          ),
        })
        .default([]),
      /** StatefulSets scaled up last, each to the source's originalReplicas of the same name. */
      scaleUp: z
        .array(scaleUpEntry, {
          error: hint("a list such as [{namespace: production-stack, statefulSet: stack}]"),
        })
        .default([]),
      /** How long one restore Job may run. */
      restoreTimeoutSeconds: seconds(14400, 86400),
      /**
       * How long each scale-up may wait for its pods to be Ready: the stack's first start pulls
       * its image and migrates Django, Keycloak loads its realm.
       */
      scaleUpTimeoutSeconds: seconds(900, 86400),
      /** false: destroy leaves every resource that could hold or lead to data in the cluster. */
      deleteDataOnDestroy: flag(false),
    },
    { error: hint("an object such as {source: ..., aws: {...}, databases: [...]}") },
  )
  .superRefine((c, ctx) => {
    const backups = new Map<string, number>();
    const servers = new Map<string, number>();
    c.databases.forEach((d, i) => {
      flagDuplicate(
        ctx,
        backups,
        d.backup,
        i,
        ["databases", i, "backup"],
        (j) => `duplicate of databases[${j}].backup; restore each dump once`,
      );
      const id = `${d.namespace}/${d.statefulSet}`;
      flagDuplicate(
        ctx,
        servers,
        id,
        i,
        ["databases", i, "statefulSet"],
        (j) =>
          `same server as databases[${j}] (${id}); one whole-server dump per server (the second would find it non-empty)`,
      );
      const logins = new Map<string, number>();
      d.logins.forEach((l, j) => {
        flagDuplicate(
          ctx,
          logins,
          `${l.user}@${l.database}`,
          j,
          ["databases", i, "logins", j],
          (k) => `duplicate of logins[${k}] (${l.user} to ${l.database}); list each login once`,
        );
      });
    });
    const trees = new Map<string, number>();
    const volumes = new Map<string, number>();
    c.media.forEach((m, i) => {
      flagDuplicate(
        ctx,
        trees,
        m.backup,
        i,
        ["media", i, "backup"],
        (j) => `duplicate of media[${j}].backup; restore each tree once`,
      );
      if (backups.has(m.backup)) {
        ctx.addIssue({
          code: "custom",
          path: ["media", i, "backup"],
          message: `also databases[${backups.get(m.backup)}].backup; a backup is a dump or a tree, name it in one list`,
        });
      }
      const id = `${m.namespace}/${m.pvc}`;
      flagDuplicate(
        ctx,
        volumes,
        id,
        i,
        ["media", i, "pvc"],
        (j) =>
          `same PVC as media[${j}] (${id}); one tree per volume (two Jobs would write the same staging area)`,
      );
    });
    const seen = new Map<string, number>();
    c.scaleUp.forEach((s, i) => {
      const id = `${s.namespace}/${s.statefulSet}`;
      flagDuplicate(
        ctx,
        seen,
        id,
        i,
        ["scaleUp", i],
        (j) => `duplicate of scaleUp[${j}] (${id}); list each StatefulSet once`,
      );
      if (servers.has(id)) {
        ctx.addIssue({
          code: "custom",
          path: ["scaleUp", i],
          message: `${id} is databases[${servers.get(id)}].statefulSet, which must already run for its restore; remove it from scaleUp`,
        });
      }
    });
  });

export type RestoreConfig = z.infer<typeof restoreSchema>;
export type RestoreDatabase = RestoreConfig["databases"][number];
export type RestoreMedia = RestoreConfig["media"][number];

/**
 * Validates the restore side's settings (the decoded value of its config key, `keyPath` its
 * path for messages) and that its secrets are set; throws one ConfigError with every problem.
 * Secrets are checked for presence only (`secrets`: the raw settings), so no secret text ever
 * reaches a message.
 */
export function parseRestoreConfig(
  value: unknown,
  secrets: Record<string, string | undefined>,
  keyPath: readonly PropertyKey[] = ["restore"],
): RestoreConfig {
  const problems: string[] = [];
  const result = restoreSchema.safeParse(value);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          problems.push(
            `${formatKey([...keyPath, ...issue.path, key])}: unknown setting (a typo?); remove it or see the README's restore settings`,
          );
        }
      } else {
        problems.push(`${formatKey([...keyPath, ...issue.path])}: ${issue.message}`);
      }
    }
  }
  // Bring-your-own, as the backup side's aws.manage: false: the key is handed to the operator.
  for (const key of RESTORE_SECRET_KEYS) {
    if (!secrets[key]) {
      problems.push(
        `${formatKey([key])}: required secret for the restore (a key that may read the bucket); set it with pulumi config set --secret ${key} ...`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data!;
}
