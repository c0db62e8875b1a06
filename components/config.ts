// The stack's settings: one zod schema, parsed once, every problem reported at once.
// Each problem is one line naming the full key (`fragalysis-relocation:quiesce[1].namespace`)
// and what a valid value looks like, so an operator can fix them all in one pass.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { parseRestoreConfig, RESTORE_SECRET_KEYS, type RestoreConfig } from "./restore/config";
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
  PROJECT,
  seconds,
} from "./shared/config-parts";
import { DEFAULT_PLAN_RATES } from "./downtime-estimate";

export { ConfigError, DEFAULT_JOB_IMAGE, formatKey, PROJECT };

// Secret settings are read with requireSecret and never pass through the schema's messages.
export const SECRET_KEYS = ["awsAccessKeyId", "awsSecretAccessKey", "sshPrivateKey"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

const PREFIX = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*\/$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const ABSOLUTE_PATH = /^\/[^\0]*$/;

const s3Prefix = (example: string) =>
  z.string({ error: hint(`an S3 prefix such as "${example}"`) }).regex(PREFIX, {
    error: `a relative S3 prefix ending in '/', without leading '/', e.g. "${example}"`,
  });

const absolutePath = (example: string) =>
  z.string({ error: hint(`an absolute path such as "${example}"`) }).regex(ABSOLUTE_PATH, {
    error: `an absolute path, e.g. "${example}"`,
  });

/** Host key types that work with the Go SSH client against current OpenSSH (not ssh-rsa). */
export const HOST_KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
];
/** Survives a reboot and tmp cleaners; owned by the SSH user (root in production). */
export const DEFAULT_SCRIPT_DIR = "/var/lib/fragalysis-relocation";

const executor = z.enum(["ssh", "job"], { error: 'one of "ssh" or "job"' });

/**
 * Env-dump Jobs copy the kubectl binary out of this image (needs sh and cp). Bitnami moved its
 * versioned tags to bitnamilegacy/ in 2025 (bitnami/kubectl keeps `latest` only);
 * registry.k8s.io/kubectl has no shell.
 */
export const DEFAULT_ENV_DUMP_IMAGE = "bitnamilegacy/kubectl:1.32.4";
/** Copy Jobs of dumps take gzip from this image's static busybox: amazon/aws-cli has none. */
export const DEFAULT_GZIP_IMAGE = "busybox:1.37.0";

const statefulSetRef = z.strictObject({
  namespace: k8sName("production-stack"),
  statefulSet: k8sName("stack"),
});

/** "namespace/name" of a namespaced object, e.g. "production-stack/postgres-backup-hourly". */
const NAMESPACED = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const namespaced = (example: string) =>
  z
    .string({ error: hint(`"namespace/name" such as "${example}"`) })
    .max(317, { error: `"namespace/name", e.g. "${example}"` })
    .regex(NAMESPACED, { error: `"namespace/name" in lowercase, e.g. "${example}"` });

/** The refresh Job is named relocation-refresh-<backup name>; a Job name has at most 63. */
export const REFRESH_JOB_PREFIX = "relocation-refresh-";
const REFRESH_NAME_MAX = 63 - REFRESH_JOB_PREFIX.length;

/**
 * Make the backup fresh after the quiesce. "latest": `cronJob` runs one backup now with that
 * CronJob's own jobTemplate. "tree": `liveVolume` makes the copy read the stack's live volume
 * (the PVC's PV directory on the NFS server) instead of the replica.
 */
const refresh = z.strictObject(
  {
    cronJob: namespaced("production-stack/postgres-backup-hourly").optional(),
    liveVolume: namespaced("production-stack/media").optional(),
    /** How long a running Job of the CronJob may take to finish before ours starts. */
    waitSeconds: seconds(900, 24 * 3600),
    /** How long our backup Job may run (its activeDeadlineSeconds, and the judge's wait). */
    timeoutSeconds: seconds(3600, 24 * 3600),
  },
  {
    error: hint(
      "an object such as {cronJob: production-stack/postgres-backup-hourly} or {liveVolume: production-stack/media}",
    ),
  },
);

const podRef = z.strictObject({
  namespace: k8sName("production-stack"),
  pod: k8sName("stack-0"),
});

const backup = z.strictObject({
  /** Names the backup's resources and outputs. */
  name: k8sName("keycloak-db"),
  /** `latest`: the newest matching dump file; `tree`: every file under the directory. */
  kind: z.enum(["latest", "tree"], { error: 'one of "latest" (newest dump) or "tree" (sync)' }),
  sourceDir: absolutePath("/nfs/kubernetes-media-replica"),
  prefix: s3Prefix("production-stack-db/"),
  executor: executor.default("ssh"),
  pattern: z
    .string({ error: hint('a shell glob such as "backup-*-dumpall.sql.gz"') })
    .regex(/^[^/]+$/, { error: 'a file-name glob without "/", e.g. "backup-*-dumpall.sql.gz"' })
    .default("backup-*-dumpall.sql.gz"),
  select: z
    .string({ error: hint("an exact file name in sourceDir") })
    .regex(/^[^/]+$/, {
      error: 'a file name without "/", e.g. "backup-2023-10-16T12:07:01Z-dumpall.sql.gz"',
    })
    .optional(),
  minAgeSeconds: z
    .number({ error: hint("whole seconds >= 0, e.g. 120") })
    .int({ error: "whole seconds >= 0, e.g. 120" })
    .min(0, { error: "whole seconds >= 0, e.g. 120" })
    .default(120),
  notBefore: z
    .string({ error: hint('UTC ISO-8601 such as "2023-10-16T12:00:00Z"') })
    .regex(ISO_UTC, { error: 'UTC ISO-8601 to the second, e.g. "2023-10-16T12:00:00Z"' })
    .optional(),
  /** `tree` only: copy once while the stack is live, so the final copy sends only the delta. */
  preSync: flag(true),
  /** `tree` only: copy a sourceDir without regular files (refused otherwise: unmounted?). @default false */
  allowEmpty: z.boolean({ error: hint("true or false") }).optional(),
  /**
   * `tree` only: every copy reads and hashes every file, instead of trusting the previous
   * manifest for files whose size, mtime and ctime and object ETag are unchanged. @default false
   */
  rehash: z.boolean({ error: hint("true or false") }).optional(),
  /** `tree` with the `job` executor only: split the tree into this many balanced shards. */
  shards: z
    .number({ error: hint("a whole number from 1 to 64, e.g. 4") })
    .int({ error: "a whole number from 1 to 64, e.g. 4" })
    .min(1, { error: "a whole number from 1 to 64, e.g. 4" })
    .max(64, { error: "a whole number from 1 to 64, e.g. 4" })
    .default(1),
  /** `job` executor: mount this existing PVC instead of the NFS export. */
  pvc: k8sName("media-replica").optional(),
  /** Fresh data after the quiesce (see `refresh` above); unset: copy what exists. */
  refresh: refresh.optional(),
  /** Without refresh: how old the newest data may be at the quiesce; no default. */
  maxRpoSeconds: z
    .number({ error: hint("whole seconds >= 0, e.g. 3600") })
    .int({ error: "whole seconds >= 0, e.g. 3600" })
    .min(0, { error: "whole seconds >= 0, e.g. 3600" })
    .optional(),
});

const nfs = z.strictObject(
  {
    host: z
      .string({ error: hint('the NFS server\'s address, e.g. "192.168.253.39"') })
      .regex(HOST, { error: 'a host name or IP address, e.g. "192.168.253.39"' }),
    port: z
      .number({ error: hint("a TCP port, e.g. 22") })
      .int({ error: "a TCP port from 1 to 65535, e.g. 22" })
      .min(1, { error: "a TCP port from 1 to 65535, e.g. 22" })
      .max(65535, { error: "a TCP port from 1 to 65535, e.g. 22" })
      .default(22),
    user: z
      .string({ error: hint('the SSH user on the NFS server, e.g. "root"') })
      .regex(/^[a-z_][a-z0-9_-]*$/, { error: 'a Unix user name, e.g. "root"' }),
    /**
     * The server's public host key ("ssh-ed25519 AAAA..."); pins the SSH connection. ed25519 or
     * ecdsa only: with an ssh-rsa key the Go SSH client offers only SHA-1 RSA signatures, which
     * OpenSSH >= 8.8 refuses, so every login would fail.
     */
    hostKey: z
      .string({ error: hint('a public key line such as "ssh-ed25519 AAAA..."') })
      .regex(/^(ssh-|ecdsa-)[a-z0-9-]+ [A-Za-z0-9+/=]+$/, {
        error: 'a public key line "<type> <base64>", e.g. "ssh-ed25519 AAAAC3Nza..."',
        abort: true,
      })
      .refine((k) => !k.startsWith("ssh-rsa "), {
        abort: true,
        error:
          "ssh-rsa host keys fail against OpenSSH >= 8.8 (SHA-1 signatures); pin the server's ed25519 or ecdsa key instead: ssh-keyscan -t ed25519,ecdsa <host>",
      })
      .refine((k) => HOST_KEY_TYPES.includes(k.split(" ")[0]!), {
        error: `a host key type the SSH client pins: ${HOST_KEY_TYPES.join(", ")}`,
      })
      .optional(),
    /**
     * Where the scripts live on the NFS server (a 0700 directory per backup). Not under /tmp:
     * a reboot or a tmp cleaner would remove them between runs.
     */
    scriptDir: absolutePath(DEFAULT_SCRIPT_DIR).default(DEFAULT_SCRIPT_DIR),
  },
  { error: hint("an object such as {host: 192.168.253.39, user: root}") },
);

const bucket = z.strictObject(
  {
    name: z.string({ error: hint('an S3 bucket name such as "im-fragalysis"') }).regex(BUCKET, {
      error: 'an S3 bucket name (3-63 lowercase letters, digits, "." or "-"), e.g. "im-fragalysis"',
    }),
    create: flag(false),
  },
  { error: hint("an object such as {name: im-fragalysis, create: false}") },
);

const aws = z.strictObject(
  {
    manage: flag(true),
    region: awsRegion,
    endpoint: awsEndpoint,
  },
  { error: hint("an object such as {manage: true, region: eu-central-1}") },
);

const jobs = z
  .strictObject(
    {
      namespace: k8sName("fragalysis-relocation").default("fragalysis-relocation"),
      /**
       * true: the stack creates the namespace (and deletes it on destroy); one that already
       * exists fails with AlreadyExists. false: use an existing namespace (pre-created PVCs,
       * quotas, RBAC); the stack neither creates nor deletes it.
       */
      createNamespace: flag(true),
      image: image("a container image with bash and the aws CLI", DEFAULT_JOB_IMAGE),
      gzipImage: image("a container image with a static /bin/busybox", DEFAULT_GZIP_IMAGE),
    },
    { error: hint("an object such as {namespace: fragalysis-relocation}") },
  )
  .default({
    namespace: "fragalysis-relocation",
    createNamespace: true,
    image: DEFAULT_JOB_IMAGE,
    gzipImage: DEFAULT_GZIP_IMAGE,
  });

const rate = (fallback: number, unit: string) =>
  z
    .number({ error: hint(`a rate in ${unit} above 0, e.g. ${fallback}`) })
    .positive({ error: `a rate in ${unit} above 0, e.g. ${fallback}` })
    .default(fallback);

/** The copy rates the plan's downtime estimate uses; defaults: bench/README.md's figures. */
const planRates = z
  .strictObject(
    {
      dumpMiBPerSecond: rate(DEFAULT_PLAN_RATES.dumpMiBPerSecond, "MiB/s"),
      treeMiBPerSecond: rate(DEFAULT_PLAN_RATES.treeMiBPerSecond, "MiB/s"),
      treeFilesPerSecond: rate(DEFAULT_PLAN_RATES.treeFilesPerSecond, "files/s"),
      scanFilesPerSecond: rate(DEFAULT_PLAN_RATES.scanFilesPerSecond, "files/s"),
    },
    { error: hint("an object such as {dumpMiBPerSecond: 21.6, treeMiBPerSecond: 112.9}") },
  )
  .default({ ...DEFAULT_PLAN_RATES });

const envDump = z.strictObject(
  {
    executor: z.enum(["job", "local"], { error: 'one of "job" or "local"' }).default("job"),
    prefix: s3Prefix("production-env/"),
    pods: z.array(podRef, {
      error: hint("a list such as [{namespace: im-infra, pod: keycloak-0}]"),
    }),
    manifests: flag(true),
    image: image(
      "a container image with kubectl, sh and cp (its kubectl is copied)",
      DEFAULT_ENV_DUMP_IMAGE,
    ),
  },
  { error: hint("an object such as {prefix: production-env/, pods: [...]}") },
);

const schema = z
  .strictObject({
    quiesce: z
      .array(statefulSetRef, {
        error: hint("a list such as [{namespace: im-infra, statefulSet: keycloak}]"),
      })
      .min(1, { error: "list at least one StatefulSet to scale to zero" }),
    quiesceTimeoutSeconds: seconds(600, 3600),
    kubeContext,
    nfs,
    bucket,
    aws,
    backups: z
      .array(backup, { error: hint("a list of backups such as [{name, kind, sourceDir, prefix}]") })
      .min(1, { error: "list at least one backup to copy" }),
    copyTimeoutSeconds: seconds(4 * 3600, 24 * 3600),
    jobs,
    envDump,
    planRates,
  })
  .superRefine((c, ctx) => {
    if (c.bucket.create && !c.aws.manage) {
      ctx.addIssue({
        code: "custom",
        path: ["bucket", "create"],
        message:
          "needs aws.manage: true (bring-your-own mode declares no AWS resource); set it to false",
      });
    }
    const seen = new Map<string, number>();
    c.quiesce.forEach((s, i) => {
      const id = `${s.namespace}/${s.statefulSet}`;
      flagDuplicate(
        ctx,
        seen,
        id,
        i,
        ["quiesce", i],
        (j) => `duplicate of quiesce[${j}] (${id}); list each StatefulSet once`,
      );
    });
    const names = new Map<string, number>();
    const prefixes = new Map<string, number>();
    c.backups.forEach((b, i) => {
      flagDuplicate(
        ctx,
        names,
        b.name,
        i,
        ["backups", i, "name"],
        (j) => `duplicate of backups[${j}].name; names must be unique`,
      );
      flagDuplicate(
        ctx,
        prefixes,
        b.prefix,
        i,
        ["backups", i, "prefix"],
        (j) =>
          `same prefix as backups[${j}]; give each backup its own prefix so nothing is overwritten`,
      );
      if (b.prefix === c.envDump.prefix) {
        ctx.addIssue({
          code: "custom",
          path: ["backups", i, "prefix"],
          message: "same as envDump.prefix; env dumps need a prefix of their own",
        });
      }
      if (b.kind === "tree" && (b.select !== undefined || b.notBefore !== undefined)) {
        ctx.addIssue({
          code: "custom",
          path: ["backups", i, b.select !== undefined ? "select" : "notBefore"],
          message: 'only for kind "latest"; remove it from this "tree" backup',
        });
      }
      if (b.kind === "latest" && b.rehash !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["backups", i, "rehash"],
          message: 'only for kind "tree" (a dump is always read whole); remove it from this backup',
        });
      }
      if (b.shards > 1 && (b.kind !== "tree" || b.executor !== "job")) {
        ctx.addIssue({
          code: "custom",
          path: ["backups", i, "shards"],
          message: 'shards > 1 needs kind "tree" and executor "job"; set shards: 1',
        });
      }
      refreshProblems(b).forEach(([key, message]) =>
        ctx.addIssue({ code: "custom", path: ["backups", i, ...key], message }),
      );
      if (b.pvc !== undefined && b.executor !== "job") {
        ctx.addIssue({
          code: "custom",
          path: ["backups", i, "pvc"],
          message: 'only for executor "job"; remove it or set executor: job',
        });
      }
    });
  });

type BackupEntry = z.infer<typeof backup>;

/** What is wrong with a backup's refresh/maxRpoSeconds pair, as [key path, message]. */
function refreshProblems(b: BackupEntry): Array<[string[], string]> {
  const out: Array<[string[], string]> = [];
  const r = b.refresh;
  if (r === undefined) {
    if (b.maxRpoSeconds === undefined) {
      out.push([
        ["maxRpoSeconds"],
        "required without refresh: how many seconds of writes before the quiesce this backup may miss (e.g. 3600), or set refresh so it misses none",
      ]);
    }
    return out;
  }
  if (b.maxRpoSeconds !== undefined) {
    out.push([["maxRpoSeconds"], "not used with refresh (its window is 0); remove it"]);
  }
  if (b.kind === "latest") {
    if (r.cronJob === undefined) {
      out.push([
        ["refresh", "cronJob"],
        'required for a "latest" backup: the CronJob that makes this dump, e.g. "production-stack/postgres-backup-hourly"',
      ]);
    }
    if (r.liveVolume !== undefined) {
      out.push([["refresh", "liveVolume"], 'only for kind "tree"; use refresh.cronJob for a dump']);
    }
    if (b.name.length > REFRESH_NAME_MAX) {
      out.push([
        ["name"],
        `at most ${REFRESH_NAME_MAX} characters with refresh.cronJob (the Job is named ${REFRESH_JOB_PREFIX}<name>)`,
      ]);
    }
    for (const key of ["select", "notBefore"] as const) {
      if (b[key] !== undefined) {
        out.push([
          [key],
          "not with refresh.cronJob (the copy takes the dump the refresh made); remove it",
        ]);
      }
    }
  } else {
    if (r.liveVolume === undefined) {
      out.push([
        ["refresh", "liveVolume"],
        'required for a "tree" backup: the stack\'s PVC, e.g. "production-stack/media"',
      ]);
    }
    if (r.cronJob !== undefined) {
      out.push([
        ["refresh", "cronJob"],
        'only for kind "latest"; use refresh.liveVolume for a tree',
      ]);
    }
    if (r.liveVolume !== undefined && b.pvc !== undefined) {
      out.push([
        ["pvc"],
        "not with refresh.liveVolume (the Job mounts the live volume's own PV source); remove it",
      ]);
    }
  }
  return out;
}

/** The "namespace/name" reference split in two. */
export function splitRef(ref: string): { namespace: string; name: string } {
  const [namespace, name] = ref.split("/") as [string, string];
  return { namespace, name };
}

export type RelocationConfig = z.infer<typeof schema>;
export type Backup = RelocationConfig["backups"][number];
export type StatefulSetRef = RelocationConfig["quiesce"][number];
export type PodRef = RelocationConfig["envDump"]["pods"][number];

const STRING_KEYS = new Set(["kubeContext"]);

function decode(value: string): unknown {
  // Pulumi hands structured values over as JSON text; plain strings stay strings.
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** What Pulumi's config map holds, reduced to this project's keys without the namespace. */
export function projectSettings(all: Record<string, string>): Record<string, string> {
  const own: Record<string, string> = {};
  for (const [key, value] of Object.entries(all)) {
    if (key.startsWith(`${PROJECT}:`)) own[key.slice(PROJECT.length + 1)] = value;
  }
  return own;
}

/**
 * Validates the raw settings (key without namespace -> Pulumi's string value).
 * Secret keys are checked for presence only, so no secret text ever reaches a message.
 */
export function parseConfig(raw: Record<string, string>): RelocationConfig {
  const problems: string[] = [];
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if ((SECRET_KEYS as readonly string[]).includes(key)) continue;
    // A string setting that merely looks like JSON (a context named "123") stays a string.
    plain[key] = STRING_KEYS.has(key) ? value : decode(value);
  }
  const result = schema.safeParse(plain);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          problems.push(
            `${formatKey([...issue.path, key])}: unknown setting (a typo?); remove it or see the README's config table`,
          );
        }
      } else {
        problems.push(`${formatKey(issue.path)}: ${issue.message}`);
      }
    }
  }
  if (result.success) problems.push(...missingSecrets(result.data, raw));
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data!;
}

/** True if anything runs as a Kubernetes Job (and so needs the jobs namespace). */
export function usesJobs(c: RelocationConfig): boolean {
  return c.envDump.executor === "job" || c.backups.some((b) => b.executor === "job");
}

/** Which secrets this configuration needs, and the command that sets each. */
export function missingSecrets(c: RelocationConfig, raw: Record<string, string>): string[] {
  const needed = new Map<SecretKey, string>();
  if (c.backups.some((b) => b.executor === "ssh")) {
    needed.set(
      "sshPrivateKey",
      "the SSH private key for nfs.user (cat key | pulumi config set --secret sshPrivateKey)",
    );
  }
  if (!c.aws.manage) {
    needed.set(
      "awsAccessKeyId",
      "the access key id for the bucket (pulumi config set --secret awsAccessKeyId ...)",
    );
    needed.set(
      "awsSecretAccessKey",
      "the secret access key (pulumi config set --secret awsSecretAccessKey ...)",
    );
  }
  const out: string[] = [];
  for (const [key, what] of needed) {
    if (!raw[key]) out.push(`${formatKey([key])}: required secret; set ${what}`);
  }
  return out;
}

/** Which half of the move a stack runs: the old cluster's (quiesce, copy) or the new one's. */
export const SIDES = ["backup", "restore"] as const;
export type Side = (typeof SIDES)[number];

/** The stack's side and that side's settings. */
export type StackConfig =
  | { readonly side: "backup"; readonly backup: RelocationConfig }
  | { readonly side: "restore"; readonly restore: RestoreConfig };

/** Keys of the backup side (settings and secrets), to name them in a restore stack. */
const BACKUP_KEYS: ReadonlySet<string> = new Set([...Object.keys(schema.shape), ...SECRET_KEYS]);

/** The problems of a ConfigError thrown by `parse`, or rethrows anything else. */
function problemsOf(parse: () => void): string[] {
  try {
    parse();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/**
 * Validates the raw settings of either side: `side` (default "backup") picks the schema. A
 * stack file holds one side only, so the other side's settings are errors, each naming its key.
 */
export function parseStackConfig(raw: Record<string, string>): StackConfig {
  const { side = "backup", ...rest } = raw;
  if (!(SIDES as readonly string[]).includes(side)) {
    throw new ConfigError([
      `${formatKey(["side"])}: invalid; "backup" (the old cluster: quiesce and copy) or "restore" (the new cluster: restore the copies)`,
    ]);
  }
  const problems: string[] = [];
  if (side === "backup") {
    const { restore, ...own } = rest;
    if (restore !== undefined) {
      problems.push(
        `${formatKey(["restore"])}: a restore-side setting; set side: restore, or remove it from this backup stack`,
      );
    }
    let backup: RelocationConfig | undefined;
    problems.push(...problemsOf(() => (backup = parseConfig(own))));
    if (problems.length > 0) throw new ConfigError(problems);
    return { side: "backup", backup: backup! };
  }
  const { restore: value, ...others } = rest;
  for (const key of Object.keys(others)) {
    if ((RESTORE_SECRET_KEYS as readonly string[]).includes(key)) continue;
    problems.push(
      BACKUP_KEYS.has(key)
        ? `${formatKey([key])}: a backup-side setting, not used with side: restore; remove it from this stack (one side per stack)`
        : `${formatKey([key])}: unknown setting (a typo?); remove it or see the README's restore settings`,
    );
  }
  let restore: RestoreConfig | undefined;
  problems.push(
    ...problemsOf(
      () => (restore = parseRestoreConfig(value === undefined ? undefined : decode(value), others)),
    ),
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return { side: "restore", restore: restore! };
}

/** Reads and validates the stack's config; stops the program before any resource on error. */
export function loadStackConfig(): StackConfig {
  return parseStackConfig(projectSettings(pulumi.runtime.allConfig()));
}

/** A secret setting as a Pulumi secret Output (never a plain string). */
export function secretSetting(key: SecretKey): pulumi.Output<string> {
  return new pulumi.Config(PROJECT).requireSecret(key);
}

/** The backup side's settings; a restore stack has none (tools and tests of the backup side). */
export function loadConfig(): RelocationConfig {
  const c = loadStackConfig();
  if (c.side === "backup") return c.backup;
  throw new ConfigError([`${formatKey(["side"])}: is "restore"; this needs a backup stack`]);
}
