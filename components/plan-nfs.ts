// The NFS part of the plan: which NFS directory each backup reads, the stdin scripts/plan-nfs.sh
// gets (the SSH key, then per backup remote-run.sh's settings with PLAN_ONLY=true and the S3 key),
// and its output turned into per-backup entries. Pure; plan-read.ts runs it.
import { z } from "zod";
import type { Backup } from "./config";
import { copySettings, scriptFiles, scriptFor } from "./copy-result";
import type { S3Target } from "./credentials";
import { fileFrame, settingsText } from "./nfs-to-s3-copy";
import { script } from "./scripts";

/** copy-latest.sh's PLAN_ONLY line. */
export const latestPlanSchema = z.strictObject({
  name: z.string(),
  key: z.string(),
  size: z.number().int().nonnegative(),
  mtime: z.string(),
  ageSeconds: z.number().int(),
  sourceTime: z.string(),
  inS3: z.enum(["absent", "same", "different", "torn"]),
});

/** sync-dir.sh's PLAN_ONLY line. */
export const treePlanSchema = z.strictObject({
  bucket: z.string(),
  prefix: z.string(),
  treeFiles: z.number().int().nonnegative(),
  treeBytes: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  inS3Files: z.number().int().nonnegative(),
  inS3Bytes: z.number().int().nonnegative(),
  recordedFiles: z.number().int().nonnegative(),
  deltaFiles: z.number().int().nonnegative(),
  deltaBytes: z.number().int().nonnegative(),
  newest: z.string(),
});

/** One backup in the plan, keyed by its name. */
export const backupPlanSchema = z.strictObject({
  kind: z.enum(["latest", "tree"]),
  /** The NFS directory read; null when the source maps to none (see `status`). */
  directory: z.string().nullable(),
  /** ok: read; error: the script failed (message); unmapped / not-read: why it was not read. */
  status: z.enum(["ok", "error", "unmapped", "not-read"]),
  message: z.string(),
  latest: latestPlanSchema.optional(),
  tree: treePlanSchema.optional(),
  /** refresh.cronJob: a fresh dump is made after the quiesce by this CronJob's jobTemplate. */
  refresh: z
    .strictObject({
      cronJob: z.string(),
      image: z.string().nullable(),
      /** completionTime - startTime of its last finished Job; null: unknown. */
      lastRunSeconds: z.number().nullable(),
    })
    .optional(),
  /** refresh.liveVolume: the final copy reads this live volume's directory. */
  liveVolume: z.string().optional(),
});
export type BackupPlan = z.infer<typeof backupPlanSchema>;

export const sshPlanSchema = z.strictObject({
  /** user@host:port */
  target: z.string(),
  ok: z.boolean(),
  /** nfs-check.sh's ok line, or what is wrong. */
  message: z.string(),
});
export type SshPlan = z.infer<typeof sshPlanSchema>;

/** Where a backup's data is on the NFS server: a directory, or why there is none. */
export type Directory = { dir: string } | { unmapped: string };

/**
 * The NFS directory a backup's final copy reads: the live volume's (refresh.liveVolume, from the
 * preflight's PVC->PV read), else sourceDir (ssh: a path on the server; job: the NFS export the
 * Job mounts). A Job mounting `pvc` reads a PVC this plan does not map to a directory.
 */
export function backupDirectory(b: Backup, liveDir: string | undefined): Directory {
  if (b.refresh?.liveVolume) {
    return liveDir !== undefined
      ? { dir: liveDir }
      : { unmapped: `live volume ${b.refresh.liveVolume} has no directory read` };
  }
  if (b.executor === "job" && b.pvc !== undefined) {
    return {
      unmapped: `the copy Job mounts PVC ${b.pvc}; the plan reads no PVC's directory, so this backup is not read`,
    };
  }
  return { dir: b.sourceDir };
}

export interface PlannedRead {
  readonly backup: Backup;
  readonly dir: string;
}

/**
 * plan-nfs.sh's stdin: "#key BYTES" and the key, then per backup "#backup NAME SCRIPT BYTES" and
 * remote-run.sh's stdin. The plan shows the newest existing dump, so a refreshed dump gets no
 * NOT_BEFORE (that is set at `up`, after the refresh).
 */
export function planNfsStdin(
  privateKey: string,
  reads: readonly PlannedRead[],
  target: S3Target,
  s3Key: Record<string, string>,
): string {
  let out = `#key ${Buffer.byteLength(privateKey, "utf8")}\n${privateKey}`;
  for (const { backup, dir } of reads) {
    const settings = {
      ...copySettings(backup, target, dir),
      PLAN_ONLY: "true",
      TIMEOUT_SECONDS: "600",
      ...s3Key,
    };
    const payload =
      settingsText(settings) +
      scriptFiles(backup.kind)
        .map((f) => fileFrame(script(f)))
        .join("");
    out += `#backup ${backup.name} ${scriptFor(backup.kind)} ${Buffer.byteLength(payload, "utf8")}\n${payload}`;
  }
  return out;
}

export interface NfsReadResult {
  readonly ssh: SshPlan;
  /** By backup name: the script's plan line, or its error. */
  readonly results: ReadonlyMap<string, { ok: true; json: unknown } | { ok: false; error: string }>;
}

/** plan-nfs.sh's stdout lines (see the script's header). */
export function parsePlanNfs(stdout: string, target: string): NfsReadResult {
  let ssh: SshPlan = { target, ok: false, message: "plan-nfs.sh printed no ssh line" };
  const results = new Map<string, { ok: true; json: unknown } | { ok: false; error: string }>();
  for (const line of stdout.split("\n")) {
    const f = line.split("\t");
    if (f[0] === "ssh" && f.length >= 3) {
      ssh = { target, ok: f[1] === "ok", message: f.slice(2).join(" ") };
    } else if (f[0] === "backup" && f.length >= 4) {
      const rest = f.slice(3).join("\t");
      if (f[2] === "ok") {
        try {
          results.set(f[1]!, { ok: true, json: JSON.parse(rest) });
        } catch {
          results.set(f[1]!, { ok: false, error: `not a plan line: ${rest.slice(0, 300)}` });
        }
      } else {
        results.set(f[1]!, { ok: false, error: rest });
      }
    }
  }
  return { ssh, results };
}
