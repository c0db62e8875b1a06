// Turns what sandbox/run.sh recorded under .sandbox/run (snapshots, engine event logs, the
// checks the shell made) into the data checks and .sandbox/summary.json, prints a short
// summary, and exits 1 if any check failed. Run by run.sh while moto is still up (it reads
// object metadata and env-dump contents back from S3 with the aws CLI).
//
// Env: SANDBOX_DIR, SANDBOX_S3_ENDPOINT, SANDBOX_S3_BUCKET, SANDBOX_S3_REGION, and the dummy
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY moto accepts.
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { planFromDiagnostics, type Plan } from "../components/plan";
import { parseFingerprintsOutput } from "../components/shared/outputs";

export interface Check {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

export interface S3Object {
  readonly Key: string;
  readonly Size: number;
  readonly ETag: string;
  readonly LastModified: string;
}

/** One line of Pulumi's --event-log: only the fields the order check reads. */
interface EngineEvent {
  readonly sequence: number;
  readonly resourcePreEvent?: { metadata: { urn: string; op: string } };
  readonly resOutputsEvent?: { metadata: { urn: string; op: string } };
}

const sandboxDir = process.env.SANDBOX_DIR ?? path.join(__dirname, "..", ".sandbox");
const runDir = path.join(sandboxDir, "run");

function file(name: string): string {
  return path.join(runDir, name);
}

function readJson<T>(name: string): T | undefined {
  return existsSync(file(name)) ? (JSON.parse(readFileSync(file(name), "utf8")) as T) : undefined;
}

/** `list-objects-v2 --output json` prints nothing at all for an empty bucket. */
function listing(phase: string): S3Object[] | undefined {
  if (!existsSync(file(`s3-${phase}.json`))) return undefined;
  const text = readFileSync(file(`s3-${phase}.json`), "utf8").trim();
  if (text === "") return [];
  return ((JSON.parse(text) as { Contents?: S3Object[] }).Contents ?? []).map((o) => ({
    Key: o.Key,
    Size: o.Size,
    ETag: o.ETag,
    LastModified: o.LastModified,
  }));
}

/** "namespace/name" -> spec.replicas, from `kubectl get statefulsets -A -o json`. */
function replicas(phase: string): Record<string, number> | undefined {
  const list = readJson<{
    items: { metadata: { namespace: string; name: string }; spec: { replicas?: number } }[];
  }>(`statefulsets-${phase}.json`);
  if (!list) return undefined;
  return Object.fromEntries(
    list.items.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s.spec.replicas ?? 1]),
  );
}

function events(name: string): EngineEvent[] | undefined {
  if (!existsSync(file(name))) return undefined;
  return readFileSync(file(name), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as EngineEvent);
}

function aws(args: string[]): string {
  return execFileSync(
    "aws",
    ["--endpoint-url", process.env.SANDBOX_S3_ENDPOINT ?? "", "--output", "json", ...args],
    {
      encoding: "utf8",
      env: { ...process.env, AWS_DEFAULT_REGION: process.env.SANDBOX_S3_REGION },
    },
  );
}

type Head = { Metadata?: Record<string, string>; ServerSideEncryption?: string };
/** HEADs fetched ahead, all at once (one aws CLI each costs ~1 s of start-up). */
const heads = new Map<string, Head>();

/** Runs the aws CLI for every key at the same time and keeps each HEAD for head(). */
async function prefetchHeads(bucket: string, keys: readonly string[]): Promise<void> {
  const run = promisify(execFile);
  await Promise.all(
    [...new Set(keys)].map(async (key) => {
      const { stdout } = await run(
        "aws",
        [
          "--endpoint-url",
          process.env.SANDBOX_S3_ENDPOINT ?? "",
          "--output",
          "json",
          ...["s3api", "head-object", "--bucket", bucket, "--key", key],
        ],
        { env: { ...process.env, AWS_DEFAULT_REGION: process.env.SANDBOX_S3_REGION } },
      );
      heads.set(key, JSON.parse(stdout) as Head);
    }),
  );
}

function head(bucket: string, key: string): Head {
  return (
    heads.get(key) ?? JSON.parse(aws(["s3api", "head-object", "--bucket", bucket, "--key", key]))
  );
}

function object(bucket: string, key: string): string {
  return aws(["s3", "cp", `s3://${bucket}/${key}`, "-"]);
}

/** Logical name of a resource from its URN (the part after the last "::"). */
export function urnName(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

/**
 * Whether every `before` step finished (its outputs event) before any `after` step started
 * (its pre event), by the engine's event sequence numbers.
 */
export function finishedBefore(
  log: readonly EngineEvent[],
  before: (name: string) => boolean,
  after: (name: string) => boolean,
): { ok: boolean; detail: string } {
  const done = log
    .filter((e) => e.resOutputsEvent && before(urnName(e.resOutputsEvent.metadata.urn)))
    .map((e) => e.sequence);
  const started = log
    .filter((e) => e.resourcePreEvent && after(urnName(e.resourcePreEvent.metadata.urn)))
    .map((e) => e.sequence);
  if (done.length === 0 || started.length === 0) {
    return {
      ok: false,
      detail: `found ${done.length} finished and ${started.length} started steps`,
    };
  }
  const lastDone = Math.max(...done);
  const firstStart = Math.min(...started);
  return {
    ok: lastDone < firstStart,
    detail: `last finished at event ${lastDone}, first started at event ${firstStart}`,
  };
}

function sameListing(a: readonly S3Object[], b: readonly S3Object[]): string[] {
  const byKey = new Map(b.map((o) => [o.Key, o]));
  const diffs: string[] = [];
  for (const o of a) {
    const other = byKey.get(o.Key);
    if (!other) diffs.push(`${o.Key} missing`);
    else if (
      other.Size !== o.Size ||
      other.ETag !== o.ETag ||
      other.LastModified !== o.LastModified
    ) {
      diffs.push(`${o.Key} changed`);
    }
    byKey.delete(o.Key);
  }
  for (const k of byKey.keys()) diffs.push(`${k} added`);
  return diffs;
}

type Outputs = {
  backups?: Record<string, Record<string, string | number>>;
  envDumpKeys?: Record<string, string>;
  manifestKeys?: Record<string, string>;
  quiescedAt?: string;
  originalReplicas?: Record<string, number>;
  rpo?: Record<string, number>;
  refreshJobs?: Record<string, unknown>;
  fingerprints?: unknown;
};

/**
 * Every item an operator decides on is in the plan, and it said what `up` then did: the counts
 * destroy restored, each dump's file (or, with refresh, the CronJob that made it), each tree's
 * files; every permission allowed, every prefix listable, the SSH login ok, a downtime estimate.
 */
function previewShowsPlan(outputs: Outputs): [boolean, string] {
  const preview = readJson<{ diagnostics?: { message?: string }[] }>("preview-plan.json");
  let plan: Plan | undefined;
  try {
    plan = planFromDiagnostics((preview?.diagnostics ?? []).map((d) => d.message ?? ""));
  } catch (err) {
    return [false, `the plan line does not parse: ${(err as Error).message.replace(/\s+/g, " ")}`];
  }
  if (!plan) return [false, "no plan line in .sandbox/run/preview-plan.json's diagnostics"];
  const problems: string[] = [];
  const original = outputs.originalReplicas ?? {};
  for (const [id, count] of Object.entries(original)) {
    const s = plan.cluster.statefulSets.find((x) => `${x.namespace}/${x.name}` === id);
    if (!s) problems.push(`${id}: not in the plan`);
    else if (s.restores !== count || s.replicas !== count || s.pods.length !== count) {
      problems.push(
        `${id}: plan ${s.replicas} now/${s.restores} restored/${s.pods.length} pods, destroy restored ${count}`,
      );
    }
  }
  const denied = plan.cluster.permissions.filter((p) => !p.allowed);
  if (plan.cluster.permissions.length === 0) problems.push("no permission checked");
  if (denied.length > 0) problems.push(`${denied.length} permission(s) denied`);
  if (plan.s3.prefixes.length === 0 || plan.s3.prefixes.some((p) => !p.listable)) {
    problems.push("a prefix not listable (or none)");
  }
  if (!plan.ssh?.ok) problems.push(`ssh: ${plan.ssh?.message ?? "not read"}`);
  if (typeof plan.downtime.atLeastSeconds !== "number") problems.push("no downtime estimate");
  const said: string[] = [];
  for (const [name, out] of Object.entries(outputs.backups ?? {})) {
    const b = plan.backups[name];
    if (!b) {
      problems.push(`${name}: not in the plan`);
      continue;
    }
    if (b.refresh) {
      // The dump `up` copies is the one the refresh made: the plan names its CronJob and image.
      const job = (outputs.refreshJobs?.[name] as { job?: string } | undefined)?.job ?? "";
      if (!b.refresh.image) problems.push(`${name}: no image for ${b.refresh.cronJob}`);
      if (job.split("/")[0] !== b.refresh.cronJob.split("/")[0]) {
        problems.push(`${name}: refresh Job ${job} is not beside ${b.refresh.cronJob}`);
      }
      said.push(`${name}: fresh dump from ${b.refresh.cronJob}`);
    } else if (typeof out.key === "string") {
      const copied = path.posix.basename(out.key);
      if (b.latest?.name !== copied)
        problems.push(`${name}: plan ${b.latest?.name}, up copied ${copied}`);
      said.push(`${name}: ${copied}`);
    }
    if (b.kind === "tree") {
      if (b.status !== "ok" || !b.tree) problems.push(`${name}: tree not read (${b.message})`);
      else if (b.tree.files !== out.files || b.tree.bytes !== out.bytes) {
        problems.push(
          `${name}: plan ${b.tree.files} files/${b.tree.bytes} B, up copied ${String(out.files)}/${String(out.bytes)}`,
        );
      } else said.push(`${name}: ${b.tree.files} files, delta ${b.tree.deltaFiles}`);
    }
  }
  const detail =
    problems.length > 0
      ? problems.join("; ")
      : `${said.join("; ")}; ${plan.cluster.permissions.length} permissions allowed; ssh ok; downtime >= ${plan.downtime.atLeastSeconds} s`;
  return [problems.length === 0, detail];
}

async function main(): Promise<number> {
  const checks: Check[] = readFileSync(file("checks.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Check);
  const add = (name: string, pass: boolean, detail: string) => checks.push({ name, pass, detail });

  const outputs = readJson<Outputs>("outputs-up.json");
  const expected = readJson<Record<string, string>>("expected-dumps.json") ?? {};
  const s3 = {
    before: listing("before"),
    up: listing("up"),
    up2: listing("up-2"),
    destroy: listing("destroy"),
    broken: listing("broken"),
  };
  const sts = {
    before: replicas("before"),
    up: replicas("up"),
    destroy: replicas("destroy"),
    broken: replicas("broken"),
  };
  const bucket = process.env.SANDBOX_S3_BUCKET ?? "";
  if (outputs && s3.up) {
    const present = new Set(s3.up.map((o) => o.Key));
    const keys = [
      ...Object.values(outputs.backups ?? {}).flatMap((b) =>
        typeof b.key === "string" ? [b.key] : [],
      ),
      ...Object.values(outputs.envDumpKeys ?? {}),
      ...Object.values(outputs.manifestKeys ?? {}),
    ].filter((k) => present.has(k));
    await prefetchHeads(bucket, keys);
  }

  if (outputs && s3.up) {
    // Every backup output names objects that exist with its size (and checksum for dumps).
    const problems: string[] = [];
    const chosen: string[] = [];
    for (const [name, out] of Object.entries(outputs.backups ?? {})) {
      if (typeof out.key === "string") {
        const obj = s3.up.find((o) => o.Key === out.key);
        if (!obj) problems.push(`${name}: ${out.key} not in S3`);
        else if (obj.Size !== out.size) problems.push(`${name}: size ${obj.Size} != ${out.size}`);
        else {
          const meta = head(bucket, out.key).Metadata ?? {};
          if (meta.sha256 !== out.sha256) problems.push(`${name}: sha256 metadata ${meta.sha256}`);
        }
        if (expected[name] && path.posix.basename(out.key) !== expected[name]) {
          chosen.push(`${name}: chose ${path.posix.basename(out.key)}, expected ${expected[name]}`);
        }
      } else {
        // The tree's own files; its manifests (one per shard) sit beside them.
        const manifestDir = `${String(out.prefix)}.relocation-manifest/`;
        const under = s3.up.filter(
          (o) => o.Key.startsWith(String(out.prefix)) && !o.Key.startsWith(manifestDir),
        );
        const bytes = under.reduce((n, o) => n + o.Size, 0);
        if (under.length !== out.files || bytes !== out.bytes) {
          problems.push(
            `${name}: S3 holds ${under.length} files/${bytes} B, outputs say ${out.files}/${out.bytes}`,
          );
        }
        const manifests = String(out.manifestKey ?? "")
          .split(" ")
          .filter(Boolean);
        const absent = manifests.filter((k) => !s3.up!.some((o) => o.Key === k));
        if (manifests.length === 0 || absent.length > 0) {
          problems.push(`${name}: manifest(s) ${absent.join(", ") || "not in the outputs"}`);
        }
      }
    }
    const count = Object.keys(outputs.backups ?? {}).length;
    add(
      "outputs-match-s3",
      count > 0 && problems.length === 0,
      problems.join("; ") || `${count} backups: keys, sizes, sha256 metadata, tree manifests match`,
    );
    add(
      "newest-complete-dump-chosen",
      Object.keys(expected).length > 0 && chosen.length === 0,
      chosen.join("; ") ||
        "the dump the refresh wrote after the quiesce, never an older, too-young or corrupt one",
    );

    // Env dumps and manifest snapshots exist, SSE-S3, and each holds its own pod's env.
    const envProblems: string[] = [];
    const envKeys = Object.entries(outputs.envDumpKeys ?? {});
    const keys = [...envKeys.map(([, k]) => k), ...Object.values(outputs.manifestKeys ?? {})];
    for (const key of keys) {
      if (!s3.up.some((o) => o.Key === key)) envProblems.push(`${key} not in S3`);
      else if (head(bucket, key).ServerSideEncryption !== "AES256")
        envProblems.push(`${key} not SSE AES256`);
    }
    for (const [pod, key] of envKeys) {
      if (
        s3.up.some((o) => o.Key === key) &&
        !object(bucket, key).includes(`SANDBOX_POD=${pod}\n`)
      ) {
        envProblems.push(`${key} lacks SANDBOX_POD=${pod}`);
      }
    }
    add(
      "env-dumps-in-s3-encrypted",
      envKeys.length > 0 && envProblems.length === 0,
      envProblems.join("; ") || `${keys.length} objects, SSE AES256, each env from its own pod`,
    );

    // Order by S3 clocks: env dumps written before quiescedAt, copies at or after it.
    if (outputs.quiescedAt) {
      const at = Date.parse(outputs.quiescedAt);
      const envSet = new Set(keys);
      // Dumps only: a tree with pre-sync may hold objects sent before the quiesce by design.
      const dumps = new Set(
        Object.values(outputs.backups ?? {}).flatMap((b) =>
          typeof b.key === "string" ? [b.key] : [],
        ),
      );
      const early = s3.up.filter((o) => dumps.has(o.Key) && Date.parse(o.LastModified) < at);
      const late = s3.up.filter((o) => envSet.has(o.Key) && Date.parse(o.LastModified) > at);
      add(
        "order-by-s3-times",
        early.length === 0 && late.length === 0,
        early.length + late.length === 0
          ? `env dumps at or before quiescedAt ${outputs.quiescedAt}, dump copies at or after it`
          : `copies before quiesce: ${early.map((o) => o.Key).join(", ")}; dumps after: ${late.map((o) => o.Key).join(", ")}`,
      );
    }
  }

  const log = events("events-up.jsonl");
  if (log) {
    const envDump = (n: string) => n.startsWith("env-dump-");
    const quiesce = (n: string) => n.startsWith("quiesce-") && n.endsWith("-scale");
    // Final copies only: a tree's pre-sync copy ("...-presync-...") runs before the quiesce.
    const copy = (n: string) =>
      n.startsWith("backup-") && /-(ssh-copy|job-job)$/.test(n) && !n.includes("presync");
    const a = finishedBefore(log, envDump, quiesce);
    add("env-dumps-before-quiesce", a.ok, `engine events: ${a.detail}`);
    const b = finishedBefore(log, quiesce, copy);
    add("quiesce-before-copies", b.ok, `engine events: ${b.detail}`);
  }

  if (sts.before && sts.up) {
    const quiesced = Object.keys(outputs?.originalReplicas ?? {});
    const wrong = Object.entries(sts.up).filter(([id, n]) =>
      quiesced.includes(id) ? n !== 0 : n !== sts.before![id],
    );
    add(
      "quiesced-to-zero-others-untouched",
      quiesced.length > 0 && wrong.length === 0,
      wrong.map(([id, n]) => `${id}=${n}`).join(", ") ||
        `${quiesced.join(", ")} at 0; the others as before`,
    );
  }
  if (s3.up && s3.up2) {
    const diffs = sameListing(s3.up, s3.up2);
    add(
      "second-up-copied-nothing",
      diffs.length === 0,
      diffs.join(", ") || `${s3.up.length} objects, same ETag and LastModified`,
    );
  }
  if (sts.before && sts.destroy) {
    const wrong = Object.entries(sts.before).filter(([id, n]) => sts.destroy![id] !== n);
    add(
      "destroy-restored-original-replicas",
      wrong.length === 0,
      wrong.map(([id, n]) => `${id}: ${sts.destroy![id]} (was ${n})`).join(", ") ||
        Object.entries(sts.destroy)
          .map(([id, n]) => `${id}=${n}`)
          .join(", "),
    );
  }
  if (s3.up && s3.destroy) {
    const missing = s3.up.filter(
      (o) => !s3.destroy!.some((d) => d.Key === o.Key && d.Size === o.Size && d.ETag === o.ETag),
    );
    add(
      "destroy-kept-every-object",
      missing.length === 0,
      missing.map((o) => o.Key).join(", ") || `${s3.destroy.length} objects still in S3`,
    );
  }
  if (sts.destroy && sts.broken && s3.destroy && s3.broken) {
    const stsDiff = Object.entries(sts.destroy).filter(([id, n]) => sts.broken![id] !== n);
    const s3Diff = sameListing(s3.destroy, s3.broken);
    add(
      "broken-stack-changed-nothing",
      stsDiff.length === 0 && s3Diff.length === 0,
      [...stsDiff.map(([id]) => `${id} changed`), ...s3Diff].join(", ") ||
        "StatefulSets and S3 as before",
    );
  }

  // Zero lost writes: every backup was captured at or after the quiesce.
  if (outputs) {
    const rpo = Object.entries(outputs.rpo ?? {});
    const perBackup = Object.entries(outputs.backups ?? {}).map(
      ([name, b]) => [name, b.rpoSeconds] as const,
    );
    const nonZero = [...rpo, ...perBackup].filter(([, s]) => s !== 0);
    add(
      "rpo-zero",
      rpo.length > 0 && rpo.length === perBackup.length && nonZero.length === 0,
      nonZero.map(([n, s]) => `${n}: ${String(s)}`).join(", ") ||
        `rpo ${JSON.stringify(outputs.rpo)}; every backup captured at or after the quiesce`,
    );
  }

  // The old side's fingerprint: one per refreshed dump, in the shared contract, with rows.
  if (outputs) {
    const refreshed = Object.keys(outputs.refreshJobs ?? {}).sort();
    let detail: string;
    let pass = false;
    try {
      const fps = parseFingerprintsOutput(outputs.fingerprints ?? null);
      const rows = (n: string) =>
        Object.values(fps[n]?.databases ?? {}).reduce((sum, d) => sum + d.rows, 0);
      pass =
        refreshed.length > 0 &&
        JSON.stringify(Object.keys(fps).sort()) === JSON.stringify(refreshed) &&
        refreshed.every((n) => rows(n) > 0);
      detail = refreshed.map((n) => `${n}: ${rows(n)} rows`).join(", ");
      detail = `${detail || "no refreshed dump"}; recorded for ${Object.keys(fps).sort().join(", ") || "none"}`;
    } catch (err) {
      detail = (err as Error).message.replace(/\s+/g, " ");
    }
    add("old-fingerprints-recorded", pass, detail);
  }

  // The plan the extra preview printed (one JSON diagnostic line) against what `up` then did.
  if (outputs) add("preview-shows-plan", ...previewShowsPlan(outputs));

  const node = readJson<{
    status: { nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string } };
  }>("node.json");
  const keyed = (list?: readonly S3Object[]) => list?.map((o) => ({ key: o.Key, size: o.Size }));
  const ids = Object.keys(sts.before ?? {});
  const summary = {
    passed: checks.every((c) => c.pass),
    containerRuntimeVersion: node?.status.nodeInfo.containerRuntimeVersion ?? null,
    kubeletVersion: node?.status.nodeInfo.kubeletVersion ?? null,
    outputsAfterUp: outputs ?? null,
    s3AfterUp: keyed(s3.up) ?? null,
    s3AfterDestroy: keyed(s3.destroy) ?? null,
    replicas: Object.fromEntries(
      ids.map((id) => [
        id,
        {
          beforeUp: sts.before?.[id] ?? null,
          afterUp: sts.up?.[id] ?? null,
          afterDestroy: sts.destroy?.[id] ?? null,
        },
      ]),
    ),
    checks,
  };
  writeFileSync(path.join(sandboxDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);

  const lines = checks.map((c) => `  ${c.pass ? "PASS" : "FAIL"} ${c.name}: ${c.detail}`);
  const failed = checks.filter((c) => !c.pass).length;
  const table = ids.map((id) => {
    const r = summary.replicas[id]!;
    return `  ${id}: ${r.beforeUp} -> ${r.afterUp} -> ${r.afterDestroy}`;
  });
  process.stdout.write(
    [
      `Sandbox checks so far: ${checks.length - failed} of ${checks.length} passed`,
      ...lines,
      "Replicas (before up -> after up -> after destroy):",
      ...table,
      `S3 objects after up: ${s3.up?.length ?? "-"}, after destroy: ${s3.destroy?.length ?? "-"}`,
      `Written: ${path.join(sandboxDir, "summary.json")}`,
      "",
    ].join("\n"),
  );
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
