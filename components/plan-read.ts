// Reads the operator's plan from the real systems, in `pulumi preview` only, changing nothing:
// invokes of `command:local:run` (which, unlike a Command, runs during preview) run the
// read-only scripts/plan-cluster.sh, scripts/plan-s3.sh and scripts/plan-nfs.sh (over SSH to
// the NFS server: copy-latest.sh and sync-dir.sh with PLAN_ONLY=true). Not run by `up`'s deployment: an
// invoke is no resource, so nothing would order it before the quiesce; `pulumi up` shows the
// plan in its own preview first.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Backup, RelocationConfig } from "./config";
import { awsTargetEnv, type S3Credentials, type S3Target } from "./credentials";
import { estimateDowntime, type EstimateInput } from "./downtime-estimate";
import { shellQuote } from "./nfs-to-s3-copy";
import {
  checksEnv,
  clusterPlanSchema,
  permissionChecks,
  planJsonLine,
  planText,
  s3PlanSchema,
  type Plan,
} from "./plan";
import {
  backupDirectory,
  backupPlanSchema,
  latestPlanSchema,
  parsePlanNfs,
  planNfsStdin,
  treePlanSchema,
  type BackupPlan,
  type PlannedRead,
  type SshPlan,
} from "./plan-nfs";
import { script } from "./scripts";

/** Where the S3 part reads, and with which key. */
export interface PlanS3 {
  readonly target: S3Target;
  readonly prefixes: readonly string[];
  /** Bring-your-own key (secret Outputs); undefined in managed mode: the aws CLI's own. */
  readonly credentials?: S3Credentials;
}

/** What the NFS part reads with: the server, the SSH key, and what the preflight read. */
export interface PlanNfs {
  readonly nfs: RelocationConfig["nfs"];
  /** sshPrivateKey (secret); undefined when no backup uses the ssh executor. */
  readonly privateKey?: pulumi.Input<string>;
  /** By "namespace/pvc": a live volume's directory on the NFS server (Preflight). */
  readonly liveVolumeDirs: ReadonlyMap<string, pulumi.Output<string>>;
  /** By "namespace/name": the image of a refresh CronJob's first container (Preflight). */
  readonly cronJobImages: ReadonlyMap<string, pulumi.Output<string | null>>;
}

/**
 * The one line naming what failed, from a failed `local.run` (its message is `exit status 1:
 * running "<command>":` and then everything the script printed): the script's ERROR line, else
 * the last line it printed.
 */
export function failureLine(message: string): string {
  const lines = message.split("\n").filter((l) => l.trim() !== "");
  const error = lines.filter((l) => / ERROR: /.test(l)).pop();
  return error ?? lines.pop() ?? "the read failed without a message";
}

/** Parses a plan script's stdout (its last line) with its schema; throws one line otherwise. */
export function parseResult<T>(name: string, schema: { parse(v: unknown): T }, stdout: string): T {
  const last = stdout.trim().split("\n").pop() ?? "";
  try {
    return schema.parse(JSON.parse(last));
  } catch (err) {
    throw new Error(
      `${name} printed no valid result line (${(err as Error).message.split("\n")[0]})`,
    );
  }
}

/** Runs one plan script; resolves its stdout, or rejects with its one failure line. */
async function runScript(
  name: string,
  environment: Record<string, string>,
  stdin?: string,
): Promise<string> {
  try {
    const result = await command.local.run({
      interpreter: ["/bin/bash", "-c"],
      // The file, not its text: a failure's message quotes the command.
      command: `bash ${shellQuote(script(name).path)}`,
      environment,
      // Keys travel here only: never in the command, the environment or the output.
      ...(stdin !== undefined ? { stdin } : {}),
      // The summary says it once; a failure's lines travel in the error.
      logging: "none",
    });
    return result.stdout;
  } catch (err) {
    throw new Error(failureLine(err instanceof Error ? err.message : String(err)));
  }
}

/** The NFS part: one plan-nfs.sh run for every backup with an NFS directory. */
async function readNfs(
  c: RelocationConfig,
  nfs: PlanNfs,
  target: S3Target,
  privateKey: string | undefined,
  s3Key: Record<string, string> | undefined,
  liveDirs: Record<string, string>,
): Promise<{ ssh: SshPlan | null; entries: Record<string, BackupPlan> }> {
  const where = `${nfs.nfs.user}@${nfs.nfs.host}:${nfs.nfs.port}`;
  const entries: Record<string, BackupPlan> = {};
  const reads: PlannedRead[] = [];
  for (const b of c.backups) {
    const d = backupDirectory(
      b,
      b.refresh?.liveVolume ? liveDirs[b.refresh.liveVolume] : undefined,
    );
    entries[b.name] = {
      kind: b.kind,
      directory: "dir" in d ? d.dir : null,
      status: "dir" in d ? "not-read" : "unmapped",
      message: "dir" in d ? "" : d.unmapped,
      ...(b.refresh?.liveVolume ? { liveVolume: b.refresh.liveVolume } : {}),
    };
    if ("dir" in d) reads.push({ backup: b, dir: d.dir });
  }
  const notRead = (message: string) => {
    for (const r of reads) entries[r.backup.name] = { ...entries[r.backup.name]!, message };
  };
  if (reads.length === 0) return { ssh: null, entries };
  if (privateKey === undefined) {
    notRead(
      "not read: no sshPrivateKey (every backup uses the job executor); the plan reads NFS directories over SSH only",
    );
    return { ssh: null, entries };
  }
  if (!nfs.nfs.hostKey) {
    // Not a failure: up runs without a pinned key too (remote.Command then accepts any).
    notRead("not read: nfs.hostKey is not set");
    const message =
      "not tried: nfs.hostKey is not set; the plan logs in only with a pinned host key (ssh-keyscan -t ed25519 <host>)";
    return { ssh: { target: where, ok: false, message }, entries };
  }
  if (s3Key === undefined) {
    notRead(
      "not read: managed mode and no AWS_ACCESS_KEY_ID in Pulumi's environment to list S3 with from the NFS server (the copy user does not exist before up)",
    );
    return { ssh: null, entries };
  }
  const stdout = await runScript(
    "plan-nfs.sh",
    {
      NFS_HOST: nfs.nfs.host,
      NFS_PORT: String(nfs.nfs.port),
      NFS_USER: nfs.nfs.user,
      NFS_HOST_KEY: nfs.nfs.hostKey,
    },
    planNfsStdin(privateKey, reads, target, s3Key),
  );
  const parsed = parsePlanNfs(stdout, where);
  for (const { backup } of reads) {
    const e = entries[backup.name]!;
    const r = parsed.results.get(backup.name);
    if (!r) {
      entries[backup.name] = { ...e, message: "not read: the SSH login failed" };
    } else if (!r.ok) {
      entries[backup.name] = { ...e, status: "error", message: r.error };
    } else {
      const part =
        backup.kind === "latest"
          ? { latest: latestPlanSchema.parse(r.json) }
          : { tree: treePlanSchema.parse(r.json) };
      entries[backup.name] = { ...e, status: "ok", ...part };
    }
  }
  return { ssh: parsed.ssh, entries };
}

/** What `up` would fail on: a failed login it needs, a backup copied as it is that cannot be. */
function nfsFailures(
  c: RelocationConfig,
  ssh: SshPlan | null,
  entries: Record<string, BackupPlan>,
): string[] {
  const out: string[] = [];
  const tried = ssh !== null && !ssh.message.startsWith("not tried");
  if (ssh && tried && !ssh.ok && c.backups.some((b) => b.executor === "ssh"))
    out.push(`ssh ${ssh.target}: ${ssh.message}`);
  for (const b of c.backups) {
    const e = entries[b.name]!;
    // A refreshed dump makes its own file after the quiesce: none usable now is no failure.
    if (e.status === "error" && !b.refresh?.cronJob) out.push(`${b.name}: ${e.message}`);
  }
  return out;
}

/** The estimate's inputs from the entries: sizes read, a refreshed dump's last run. */
function estimateInputs(c: RelocationConfig, entries: Record<string, BackupPlan>): EstimateInput[] {
  return c.backups.flatMap((b: Backup): EstimateInput[] => {
    const e = entries[b.name]!;
    if (b.kind === "latest" && e.latest) {
      // A refreshed dump: the fresh one is taken to be as big as the newest now.
      const refresh = e.refresh ? { refreshSeconds: e.refresh.lastRunSeconds } : {};
      return [{ kind: "latest", name: b.name, bytes: e.latest.size, ...refresh }];
    }
    if (!e.tree) return [{ kind: "unread", name: b.name, why: `sizes not read (${e.status})` }];
    const t = e.tree;
    return [
      {
        kind: "tree",
        name: b.name,
        deltaFiles: t.deltaFiles,
        deltaBytes: t.deltaBytes,
        treeFiles: t.treeFiles,
      },
    ];
  });
}

/**
 * At preview: the plan, read now, and its summary logged once; a failed read rejects with one
 * line naming every failure, which fails the preview. At `up` (and destroy): undefined.
 */
export function readPlan(
  c: RelocationConfig,
  s3: PlanS3,
  nfs: PlanNfs,
): pulumi.Output<Plan> | undefined {
  if (!pulumi.runtime.isDryRun()) return undefined;
  // Unsecret: the keys only go to the invokes' environment or stdin (not logged, not stored),
  // none of them is in the plan, and a secret input would make the whole plan output [secret].
  const key: pulumi.Output<[string, string] | undefined> = s3.credentials
    ? pulumi.unsecret(pulumi.all([s3.credentials.accessKeyId, s3.credentials.secretAccessKey]))
    : pulumi.output(undefined);
  const sshKey = pulumi.unsecret(pulumi.output(nfs.privateKey));
  const liveDirs = pulumi.all(
    Object.fromEntries([...nfs.liveVolumeDirs].map(([id, dir]) => [id, dir] as const)),
  );
  const images = pulumi.all(
    Object.fromEntries([...nfs.cronJobImages].map(([id, image]) => [id, image] as const)),
  );
  return pulumi
    .all([key, sshKey, liveDirs, images])
    .apply(async ([pair, privateKey, dirs, imgs]): Promise<Plan> => {
      // The NFS side lists S3 from the server: the handed key, or in managed mode the operator's
      // own from Pulumi's environment (the copy user does not exist before up).
      const env = process.env;
      const s3Key = pair
        ? { AWS_ACCESS_KEY_ID: pair[0], AWS_SECRET_ACCESS_KEY: pair[1] }
        : env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
          ? {
              AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
              AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
              ...(env.AWS_SESSION_TOKEN ? { AWS_SESSION_TOKEN: env.AWS_SESSION_TOKEN } : {}),
            }
          : undefined;
      const reads = await Promise.allSettled([
        runScript("plan-cluster.sh", {
          PLAN_STATEFULSETS: c.quiesce.map((s) => `${s.namespace}/${s.statefulSet}`).join(" "),
          PLAN_CHECKS: checksEnv(permissionChecks(c)),
          PLAN_CRONJOBS: [...new Set(c.backups.flatMap((b) => b.refresh?.cronJob ?? []))].join(" "),
          ...(c.kubeContext ? { KUBE_CONTEXT: c.kubeContext } : {}),
        }).then((out) => parseResult("plan-cluster.sh", clusterPlanSchema, out)),
        runScript("plan-s3.sh", {
          BUCKET: s3.target.bucket,
          PREFIXES: s3.prefixes.join(" "),
          WRITE_PROOF: pair ? "none" : "policy",
          ...awsTargetEnv(s3.target),
          ...(pair ? { AWS_ACCESS_KEY_ID: pair[0], AWS_SECRET_ACCESS_KEY: pair[1] } : {}),
        }).then((out) => parseResult("plan-s3.sh", s3PlanSchema, out)),
        readNfs(c, nfs, s3.target, privateKey, s3Key, dirs),
      ] as const);
      const failed = reads.flatMap((r) =>
        r.status === "rejected" ? [(r.reason as Error).message] : [],
      );
      const [cluster, bucket, nfsRead] = reads as unknown as [
        PromiseFulfilledResult<Plan["cluster"]>,
        PromiseFulfilledResult<Plan["s3"]>,
        PromiseFulfilledResult<Awaited<ReturnType<typeof readNfs>>>,
      ];
      if (reads[2].status === "fulfilled") {
        failed.push(...nfsFailures(c, nfsRead.value.ssh, nfsRead.value.entries));
      }
      if (failed.length > 0) throw new Error(`plan: ${failed.join("; ")}`);
      const entries = nfsRead.value.entries;
      for (const b of c.backups) {
        if (!b.refresh?.cronJob) continue;
        entries[b.name] = backupPlanSchema.parse({
          ...entries[b.name],
          refresh: {
            cronJob: b.refresh.cronJob,
            image: imgs[b.refresh.cronJob] ?? null,
            lastRunSeconds:
              cluster.value.cronJobs.find((j) => `${j.namespace}/${j.name}` === b.refresh!.cronJob)
                ?.lastRunSeconds ?? null,
          },
        });
      }
      const result: Plan = {
        readAt: new Date().toISOString(),
        cluster: cluster.value,
        s3: bucket.value,
        ssh: nfsRead.value.ssh,
        backups: entries,
        downtime: estimateDowntime(estimateInputs(c, entries), c.planRates),
      };
      pulumi.log.info(planText(result));
      pulumi.log.info(planJsonLine(result));
      return result;
    });
}
