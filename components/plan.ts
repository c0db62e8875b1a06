// The operator's plan shown by `pulumi preview`: its shape (zod, so a script or the restore side
// can read the `plan` stack output), the permissions each configured step needs, and the
// human-readable summary. Pure: the reads themselves live in plan-read.ts.
import { z } from "zod";
import { splitRef, usesJobs, type RelocationConfig } from "./config";
import { backupPlanSchema, sshPlanSchema } from "./plan-nfs";

/** One `kubectl auth can-i`: namespace null for a cluster-scoped check. */
export interface PermissionCheck {
  readonly verb: string;
  readonly resource: string;
  readonly namespace: string | null;
  /** Which step needs it (shown when it is missing). */
  readonly why: string;
}

export const statefulSetPlanSchema = z.strictObject({
  namespace: z.string(),
  name: z.string(),
  /** spec.replicas now. */
  replicas: z.number().int().nonnegative(),
  /** What destroy scales back to: the count an earlier quiesce recorded, else replicas now. */
  restores: z.number().int().nonnegative(),
  pods: z.array(z.string()),
});

export const permissionPlanSchema = z.strictObject({
  verb: z.string(),
  resource: z.string(),
  namespace: z.string().nullable(),
  allowed: z.boolean(),
});

/** What scripts/plan-cluster.sh prints on stdout. */
export const clusterPlanSchema = z.strictObject({
  statefulSets: z.array(statefulSetPlanSchema),
  permissions: z.array(permissionPlanSchema),
  /** Per refresh CronJob: its last successful Job's run (null: none finished). */
  cronJobs: z.array(
    z.strictObject({
      namespace: z.string(),
      name: z.string(),
      lastRunSeconds: z.number().int().nullable(),
    }),
  ),
});
export type ClusterPlan = z.infer<typeof clusterPlanSchema>;

/** What scripts/plan-s3.sh prints on stdout. */
export const s3PlanSchema = z.strictObject({
  bucket: z.string(),
  prefixes: z.array(
    z.strictObject({
      prefix: z.string(),
      listable: z.boolean(),
      /** How write permission is known: the managed policy, or not without writing. */
      write: z.enum(["policy", "none"]),
    }),
  ),
});
export type S3Plan = z.infer<typeof s3PlanSchema>;

/** The estimate's result (components/downtime-estimate.ts), inputs included. */
export const downtimeEstimateSchema = z.strictObject({
  seconds: z.number().nullable(),
  atLeastSeconds: z.number(),
  backups: z.array(
    z.strictObject({ name: z.string(), seconds: z.number().nullable(), how: z.string() }),
  ),
  rates: z.strictObject({
    dumpMiBPerSecond: z.number(),
    treeMiBPerSecond: z.number(),
    treeFilesPerSecond: z.number(),
    scanFilesPerSecond: z.number(),
  }),
});

/** The `plan` stack output. */
export const planSchema = z.strictObject({
  /** When the reads were made (UTC ISO-8601). */
  readAt: z.string(),
  cluster: clusterPlanSchema,
  s3: s3PlanSchema,
  /** The SSH login to the NFS server; null when no backup's directory is read over SSH. */
  ssh: sshPlanSchema.nullable(),
  /** By backup name. */
  backups: z.record(z.string(), backupPlanSchema),
  /** Quiesce to the last verified copy, estimated (see downtime-estimate.ts). */
  downtime: downtimeEstimateSchema,
});
export type Plan = z.infer<typeof planSchema>;

/**
 * Every `kubectl auth can-i` the configured steps need (README: Prerequisites, "RBAC for
 * Jobs"), each once: a missing one would otherwise fail `up` midway, after the quiesce.
 */
export function permissionChecks(c: RelocationConfig): PermissionCheck[] {
  const out = new Map<string, PermissionCheck>();
  const add = (verbs: string[], resources: string[], namespace: string | null, why: string) => {
    for (const verb of verbs) {
      for (const resource of resources) {
        const key = `${verb} ${resource} ${namespace ?? "-"}`;
        if (!out.has(key)) out.set(key, { verb, resource, namespace, why });
      }
    }
  };
  for (const s of c.quiesce) {
    add(["get", "patch"], ["statefulsets"], s.namespace, "quiesce: read, annotate the count");
    add(["patch"], ["statefulsets/scale"], s.namespace, "quiesce: kubectl scale");
    add(["list"], ["pods"], s.namespace, "quiesce: wait for the pods to stop");
  }
  for (const b of c.backups) {
    if (b.refresh?.cronJob) {
      const { namespace } = splitRef(b.refresh.cronJob);
      const why = `refresh of ${b.name}`;
      add(["get"], ["cronjobs"], namespace, why);
      add(["create", "get", "list", "delete"], ["jobs"], namespace, why);
      add(["get", "list"], ["pods"], namespace, why);
    }
    if (b.refresh?.liveVolume) {
      const { namespace } = splitRef(b.refresh.liveVolume);
      add(["get"], ["persistentvolumeclaims"], namespace, `live volume of ${b.name}`);
      add(["get"], ["persistentvolumes"], null, `live volume of ${b.name}`);
    }
  }
  if (usesJobs(c)) {
    const ns = c.jobs.namespace;
    add(
      ["create", "get", "list", "watch", "delete"],
      ["jobs", "secrets", "configmaps", "serviceaccounts"],
      ns,
      "copy/env-dump Jobs",
    );
    add(["get", "list"], ["pods"], ns, "reading the Jobs' results");
    if (c.jobs.createNamespace) {
      add(["create", "delete"], ["namespaces"], null, "jobs.createNamespace");
    }
  }
  for (const namespace of new Set(c.envDump.pods.map((p) => p.namespace))) {
    if (c.envDump.executor === "job") {
      add(["create", "delete"], ["roles", "rolebindings"], namespace, "env-dump Job's Role");
    }
    add(["get"], ["pods"], namespace, "env dump");
    add(["create"], ["pods/exec"], namespace, "env dump");
  }
  return [...out.values()];
}

/** PLAN_CHECKS for scripts/plan-cluster.sh: "verb resource namespace why", one a line. */
export function checksEnv(checks: readonly PermissionCheck[]): string {
  return checks.map((k) => `${k.verb} ${k.resource} ${k.namespace ?? "-"} ${k.why}`).join("\n");
}

/**
 * The plan as one diagnostic line, for scripts: a stack output is known at preview but
 * `pulumi preview --json` shows no stack outputs, only diagnostics. Read it back with
 * planFromDiagnostics (e.g. `pulumi preview --json | jq '.diagnostics'`).
 */
export const PLAN_JSON_PREFIX = "plan (JSON): ";

export function planJsonLine(plan: Plan): string {
  return `${PLAN_JSON_PREFIX}${JSON.stringify(plan)}`;
}

/** The plan from the messages of `pulumi preview --json`'s diagnostics; undefined if none. */
export function planFromDiagnostics(messages: readonly string[]): Plan | undefined {
  const line = messages.map((m) => m.trim()).find((m) => m.startsWith(PLAN_JSON_PREFIX));
  return line === undefined
    ? undefined
    : planSchema.parse(JSON.parse(line.slice(PLAN_JSON_PREFIX.length)));
}

/** The summary printed once at preview: a few lines an operator reads before deciding. */
export function planText(plan: Plan): string {
  const lines = [`The plan (read ${plan.readAt}, nothing changed):`];
  for (const s of plan.cluster.statefulSets) {
    const pods = s.pods.length > 0 ? s.pods.slice(0, 10).join(" ") : "none";
    const more = s.pods.length > 10 ? ` (+${s.pods.length - 10} more)` : "";
    lines.push(
      `  quiesce ${s.namespace}/${s.name}: ${s.replicas} replica${s.replicas === 1 ? "" : "s"} now, destroy restores ${s.restores}; pods: ${pods}${more}`,
    );
  }
  const allowed = plan.cluster.permissions.filter((p) => p.allowed).length;
  lines.push(`  kubectl auth can-i: ${allowed} of ${plan.cluster.permissions.length} allowed`);
  const write =
    plan.s3.prefixes[0]?.write === "policy"
      ? "write granted by copyPolicy to the user up creates"
      : "write not proven without writing (your key; the first copy proves it)";
  lines.push(
    `  s3://${plan.s3.bucket}: ${plan.s3.prefixes.length} prefixes reachable and listable; ${write}`,
  );
  if (plan.ssh) {
    lines.push(`  ssh ${plan.ssh.target}: ${plan.ssh.ok ? "" : "FAILED: "}${plan.ssh.message}`);
  }
  for (const [name, b] of Object.entries(plan.backups)) lines.push(`  ${backupLine(name, b)}`);
  const d = plan.downtime;
  const total = d.seconds === null ? `at least ${duration(d.atLeastSeconds)}` : duration(d.seconds);
  lines.push(`  estimated downtime (quiesce to last verified copy, backups in parallel): ${total}`);
  for (const b of d.backups) lines.push(`    ${b.name}: ${b.how}`);
  return lines.join("\n");
}

const MiB = 1024 * 1024;
const size = (bytes: number) =>
  bytes >= 1024 * MiB
    ? `${(bytes / 1024 / MiB).toFixed(1)} GiB`
    : `${(bytes / MiB).toFixed(1)} MiB`;

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** One backup's line: what `up` would copy, or why it was not read. */
function backupLine(name: string, b: z.infer<typeof backupPlanSchema>): string {
  const where = b.directory ?? "(no NFS directory)";
  const refresh = b.refresh
    ? `; after the quiesce a fresh dump from CronJob ${b.refresh.cronJob} (image ${b.refresh.image ?? "unknown"}, last run ${b.refresh.lastRunSeconds === null ? "unknown" : `${b.refresh.lastRunSeconds} s`})`
    : "";
  if (b.latest) {
    const l = b.latest;
    const now = b.refresh ? "newest now" : "copies";
    return `${name}: ${now} ${where}/${l.name} (${size(l.size)}, ${duration(l.ageSeconds)} old, complete dump); s3 key ${l.key}: ${l.inS3}${refresh}`;
  }
  if (b.tree) {
    const t = b.tree;
    const live = b.liveVolume ? ` (live volume ${b.liveVolume})` : "";
    return `${name}: ${where}${live}: ${t.treeFiles} files, ${size(t.treeBytes)}; in S3 with that size ${t.inS3Files} (${t.recordedFiles} recorded); final sync sends at least ${t.deltaFiles} files, ${size(t.deltaBytes)}`;
  }
  return `${name}: ${b.status === "error" ? "FAILED" : "not read"}: ${b.message}${refresh}`;
}
