// Benchmark of the copies against a real S3 server (versitygw, started here on 127.0.0.1) or
// moto: the server's own ceiling, the runbook's `aws s3 cp --recursive` vs this project's
// sync-dir.sh (aws CLI, Debian's rclone, rclone built from the Go proxy) on a small-files and a
// production-shaped fixture, a re-run with nothing changed, and the downtime window with fresh
// database dumps. Not a test: it prints a table (or, with --json, one JSON object).
// See bench/README.md.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { startCluster, PG_BIN, type Cluster } from "../test/helpers/postgres";
import { startMoto, startVersitygw, tempDir, toolCacheBin } from "../test/helpers/servers";
import { measureCeiling } from "./ceiling";
import { findServerPid, measure } from "./measure";
import { parseDumpMiB, productionTarget, project, type Phase } from "./projection";
import {
  contender,
  bestOf,
  RERUN,
  rerunFraction,
  targets,
  table,
  type BenchResult,
  type Contender,
  type Downtime,
} from "./report";
import { MIB, productionFiles, productionSizes, smallFileSizes } from "./sizes";

const ROOT = path.join(__dirname, "..");
const SCRIPTS = path.join(ROOT, "scripts");

// ---------------------------------------------------------------------------------------------
// Options

export interface Options {
  server: "versitygw" | "moto";
  smallFiles: number;
  prodFraction: number;
  dbMiB: number;
  changedPercent: number;
  /** gzip MiB of each database's dump at production, for the projection; unnamed: as measured. */
  prodDumpMiB: Record<string, number>;
  ceilingSeconds: number;
  syncEnv: Record<string, string>;
  only: string[]; // contender keys; empty = all
  json: boolean;
  keep: boolean;
}

const CONTENDER_KEYS = ["runbook", "aws", "rclone-debian", "rclone-built"] as const;

export function parseArgs(argv: string[]): Options {
  const o: Options = {
    server: "versitygw",
    smallFiles: 20000,
    prodFraction: 0.01,
    dbMiB: 200,
    changedPercent: 1,
    prodDumpMiB: {},
    ceilingSeconds: 3,
    syncEnv: {},
    only: [],
    json: false,
    keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value; see --help`);
      return v;
    };
    const num = () => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a number >= 0`);
      return v;
    };
    if (a === "--server") {
      const s = value();
      if (s !== "versitygw" && s !== "moto")
        throw new Error(`--server must be versitygw or moto, got '${s}'`);
      o.server = s;
    } else if (a === "--small-files") o.smallFiles = Math.floor(num());
    else if (a === "--prod-fraction") o.prodFraction = num();
    else if (a === "--db-mib") o.dbMiB = num();
    else if (a === "--changed-percent") o.changedPercent = num();
    else if (a === "--ceiling-seconds") {
      o.ceilingSeconds = num();
      if (o.ceilingSeconds < 0.5) throw new Error("--ceiling-seconds needs a number >= 0.5");
    } else if (a === "--prod-dump-mib") Object.assign(o.prodDumpMiB, parseDumpMiB(value()));
    else if (a === "--sync-env") {
      for (const kv of value().split(",")) {
        const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(kv);
        if (!m) throw new Error(`--sync-env wants NAME=value[,NAME=value], got '${kv}'`);
        o.syncEnv[m[1]!] = m[2]!;
      }
    } else if (a === "--only") {
      o.only = value().split(",");
      const bad = o.only.filter((k) => !(CONTENDER_KEYS as readonly string[]).includes(k));
      if (bad.length > 0 || !o.only.includes("runbook"))
        throw new Error(`--only takes runbook (always) plus any of ${CONTENDER_KEYS.join(",")}`);
    } else if (a === "--json") o.json = true;
    else if (a === "--keep") o.keep = true;
    else if (a === "--help" || a === "-h") {
      process.stdout.write(
        "npm run bench -- [--server versitygw|moto] [--small-files 20000] [--prod-fraction 0.01]\n" +
          "  [--db-mib 200] [--changed-percent 1] [--prod-dump-mib keycloak=MiB,stack=MiB] [--ceiling-seconds 3] [--sync-env NAME=value,...] [--only runbook,aws,rclone-debian,rclone-built]\n" +
          "  [--json] [--keep]\n",
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}; see --help`);
  }
  productionFiles(o.prodFraction); // validates
  return o;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

interface Fixture {
  name: string;
  media: string;
  files: string[]; // relative paths, sorted
  bytes: number;
}

const HOUR_AGO = (Date.now() - 3600_000) / 1000;

async function writeRandom(file: string, size: number): Promise<void> {
  if (size <= 4 * MIB) return writeFileSync(file, randomBytes(size));
  const out = createWriteStream(file);
  for (let left = size; left > 0; left -= 4 * MIB) {
    if (!out.write(randomBytes(Math.min(left, 4 * MIB)))) await once(out, "drain");
  }
  out.end();
  await once(out, "close");
}

/** Files in 400 x 7 directories (like the proteins/ tree of production), written an hour ago. */
async function makeFixture(root: string, name: string, sizes: number[]): Promise<Fixture> {
  const media = path.join(root, name);
  const files: string[] = [];
  let bytes = 0;
  for (const [i, size] of sizes.entries()) {
    const rel = `proteins/p${String(i % 400).padStart(3, "0")}/d${i % 7}/file-${i}.pdb`;
    mkdirSync(path.dirname(path.join(media, rel)), { recursive: true });
    await writeRandom(path.join(media, rel), size);
    utimesSync(path.join(media, rel), HOUR_AGO, HOUR_AGO);
    files.push(rel);
    bytes += size;
  }
  return { name, media, files: files.sort(), bytes };
}

/**
 * Appends a line to every (100/percent)-th file: the delta of a live stack. `sent` is the
 * changed files' whole sizes (a sync sends a changed file whole).
 */
function changeFiles(f: Fixture, percent: number): { files: number; bytes: number; sent: number } {
  const step = Math.max(1, Math.round(100 / percent));
  let files = 0;
  let bytes = 0;
  let sent = 0;
  for (let i = 0; i < f.files.length; i += step, files++) {
    const line = `changed while live ${Date.now()}\n`;
    const file = path.join(f.media, f.files[i]!);
    appendFileSync(file, line);
    bytes += line.length;
    sent += statSync(file).size;
  }
  f.bytes += bytes;
  return { files, bytes, sent };
}

// ---------------------------------------------------------------------------------------------
// Commands

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exec(cmd: string, args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    // Keep only the tail: the runbook's CLI prints a line per file.
    child.stdout.on("data", (d) => (stdout = (stdout + d).slice(-20000)));
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-20000)));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function must(cmd: string, args: string[], env: Record<string, string>): Promise<Ran> {
  const r = await exec(cmd, args, env);
  if (r.code !== 0)
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}):\n${r.stderr.slice(-3000)}`);
  return r;
}

const lastJson = <T>(out: string): T => JSON.parse(out.trim().split("\n").pop()!) as T;

// ---------------------------------------------------------------------------------------------
// The server

interface Server {
  name: string;
  version: string;
  endpoint: string;
  env: Record<string, string>;
  pid: number;
  newBucket(): Promise<string>;
  dropBucket(bucket: string): Promise<void>;
  stop(): Promise<void>;
}

let bucketCounter = 0;

async function startServer(kind: Options["server"]): Promise<Server> {
  if (kind === "versitygw") {
    const gw = await startVersitygw();
    const version = execFileSync(path.join(toolCacheBin(), "versitygw"), ["--version"])
      .toString()
      .match(/Version\s*:\s*(\S+)/)?.[1];
    // versitygw signs for us-east-1 (its default --region).
    const env = { ...gw.env, AWS_DEFAULT_REGION: "us-east-1" };
    return {
      name: "versitygw",
      version: version ?? "unknown",
      endpoint: gw.endpoint,
      env,
      pid: gw.pid,
      async newBucket() {
        const b = `bench-${++bucketCounter}`;
        await must("aws", ["s3api", "create-bucket", "--bucket", b], env);
        return b;
      },
      // The POSIX backend keeps a bucket as a directory: removing it frees the disk at once.
      async dropBucket(b) {
        rmSync(path.join(gw.dataDir, b), { recursive: true, force: true });
      },
      async stop() {
        await gw.stop();
        rmSync(gw.dataDir, { recursive: true, force: true });
      },
    };
  }
  const moto = await startMoto();
  const version = execFileSync("bash", [
    "-c",
    "pip show moto 2>/dev/null | sed -n 's/^Version: //p'",
  ])
    .toString()
    .trim();
  const env = { ...moto.env, AWS_DEFAULT_REGION: "us-east-1" };
  return {
    name: "moto",
    version,
    endpoint: moto.endpoint,
    env,
    pid: findServerPid("moto_server", moto.port),
    async newBucket() {
      const b = `bench-${++bucketCounter}`;
      await must("aws", ["s3api", "create-bucket", "--bucket", b], env);
      return b;
    },
    // moto keeps every object in memory: a reset frees them.
    async dropBucket() {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${moto.endpoint}/moto-api/reset`, { method: "POST" }, (res) => {
          res.resume();
          res.once("end", () => resolve());
        });
        req.once("error", reject);
        req.end();
      });
    },
    stop: () => moto.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// Contenders

interface Ctx {
  server: Server;
  options: Options;
  /** PATH prefixes that put one rclone first. */
  rcloneDirs: Record<"debian" | "built", string>;
}

/** A directory holding only a link named rclone to `binary`. */
function rcloneShim(root: string, name: string, binary: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  symlinkSync(binary, path.join(dir, "rclone"));
  return dir;
}

async function runbookCopy(ctx: Ctx, src: string, bucket: string, prefix: string): Promise<void> {
  // The runbook's command as written: default CLI settings (awsEnv's config file is empty),
  // a progress line per file (exec keeps only the tail).
  await must("aws", ["s3", "cp", "--recursive", src, `s3://${bucket}/${prefix}`], ctx.server.env);
}

interface SyncResult {
  uploaded: number;
  files: number;
  bytes: number;
  verifiedAt: string;
}

function syncDir(
  ctx: Ctx,
  tool: "aws" | "rclone-debian" | "rclone-built",
  src: string,
  uri: string,
) {
  const env: Record<string, string> = {
    ...ctx.server.env,
    SOURCE_DIR: src,
    DEST_URI: uri,
    PROGRESS_SECONDS: "3600",
    SYNC_TOOL: tool === "aws" ? "aws" : "rclone",
    ...ctx.options.syncEnv,
  };
  if (tool !== "aws")
    env.PATH = `${ctx.rcloneDirs[tool === "rclone-debian" ? "debian" : "built"]}:${process.env.PATH}`;
  return must("bash", [path.join(SCRIPTS, "sync-dir.sh")], env).then((r) =>
    lastJson<SyncResult>(r.stdout),
  );
}

const NAMES: Record<(typeof CONTENDER_KEYS)[number], string> = {
  runbook: "runbook: aws s3 cp --recursive (default settings)",
  aws: "sync-dir.sh, aws CLI",
  "rclone-debian": "sync-dir.sh, rclone 1.60 (Debian)",
  "rclone-built": "sync-dir.sh, rclone 1.76 (built)",
};

async function contenders(
  ctx: Ctx,
  f: Fixture,
  log: (m: string) => void,
): Promise<{ rows: Contender[]; rerun?: Contender }> {
  const rows: Contender[] = [];
  let rerun: Contender | undefined;
  const keys = CONTENDER_KEYS.filter(
    (k) => ctx.options.only.length === 0 || ctx.options.only.includes(k),
  );
  for (const key of keys) {
    const bucket = await ctx.server.newBucket();
    let verified = false;
    log(`${f.name}: ${NAMES[key]}`);
    const m = await measure(ctx.server.pid, async () => {
      if (key === "runbook") {
        await runbookCopy(ctx, f.media, bucket, "media/");
        return f.files.length;
      }
      const r = await syncDir(ctx, key, f.media, `s3://${bucket}/media/`);
      verified = r.verifiedAt !== "";
      return r.uploaded;
    });
    const row = contender(
      NAMES[key],
      f.name,
      f.files.length,
      f.bytes,
      m,
      m.value,
      key === "runbook" ? null : verified,
    );
    rows.push(row);
    log(
      `${f.name}: ${row.name}: ${row.seconds.toFixed(1)} s, ${row.filesPerSecond.toFixed(0)} files/s`,
    );
    if (key !== "runbook" && (rerun === undefined || key === "rclone-built")) {
      // The same sync again, nothing changed: what a re-run (or a final sync of an idle tree) costs.
      const again = await measure(ctx.server.pid, () =>
        syncDir(ctx, key, f.media, `s3://${bucket}/media/`),
      );
      if (again.value.uploaded !== 0)
        throw new Error(`re-run of ${row.name} sent ${again.value.uploaded} files; expected none`);
      rerun = contender(
        `${NAMES[key]}${RERUN}`,
        f.name,
        f.files.length,
        f.bytes,
        again,
        0,
        again.value.verifiedAt !== "",
      );
    }
    await ctx.server.dropBucket(bucket);
  }
  return { rows, rerun };
}

// ---------------------------------------------------------------------------------------------
// Downtime: fresh dumps (pg_dumpall | gzip, as production's backup image) + media, after quiesce

interface Db {
  name: string;
  cluster: Cluster;
  sizeMiB: number;
}

async function makeDatabase(name: string, mib: number): Promise<Db> {
  const cluster = await startCluster();
  // ~110 bytes per row on disk: two md5 hex strings, an id and a timestamp.
  const rows = Math.max(1, Math.round((mib * MIB) / 110));
  await cluster.query(
    "postgres",
    `CREATE TABLE media_log AS SELECT g AS id, md5(g::text) AS path, md5((g * 7)::text) AS sha, now() - g * interval '1 second' AS added FROM generate_series(1, ${rows}) g`,
  );
  const size = Number(await cluster.query("postgres", "SELECT pg_database_size('postgres')"));
  return { name, cluster, sizeMiB: size / MIB };
}

/** One backup as production's image makes it: dump to dumpall.sql.gz, copy to backup-<time>Z-..., delete. */
async function dump(db: Db, dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const tmp = path.join(dir, "dumpall.sql.gz");
  const final = path.join(dir, `backup-${stamp}-dumpall.sql.gz`);
  await must(
    "bash",
    [
      "-c",
      'set -o pipefail; runuser -u postgres -- "$PG/pg_dumpall" -h "$SOCK" -p "$PORT" -U postgres | gzip >"$TMP" && cp "$TMP" "$FINAL" && rm "$TMP" && stat -c %s "$FINAL"',
    ],
    {
      PG: PG_BIN,
      SOCK: db.cluster.socketDir,
      PORT: String(db.cluster.port),
      TMP: tmp,
      FINAL: final,
    },
  ).then((r) => r.stdout);
  return Number(execFileSync("stat", ["-c", "%s", final]).toString());
}

type Moved = Omit<Phase, "name" | "seconds">;

/** Times `work` as a phase; `moved` says what it moved (from its value, for a dump's size). */
async function timed<T>(
  phases: Phase[],
  name: string,
  moved: (v: T) => Moved,
  work: () => Promise<T>,
): Promise<T> {
  const t0 = process.hrtime.bigint();
  const v = await work();
  phases.push({ name, seconds: Number(process.hrtime.bigint() - t0) / 1e9, ...moved(v) });
  return v;
}

const dumpMoved =
  (kind: "dump" | "dump-copy", db: string) =>
  (bytes: number): Moved => ({ kind, db, files: 1, bytes, treeFiles: 0 });

/** The backup file a dump() left in dir. */
const newestBackup = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.startsWith("backup-"))
    .sort()
    .pop()!;

function copyLatest(ctx: Ctx, dir: string, uri: string, notBefore: string): Promise<Ran> {
  return must("bash", [path.join(SCRIPTS, "copy-latest.sh")], {
    ...ctx.server.env,
    SOURCE_DIR: dir,
    DEST_URI: uri,
    MIN_AGE_SECONDS: "0",
    NOT_BEFORE: notBefore,
  });
}

const isoSeconds = () =>
  new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");

async function downtime(
  ctx: Ctx,
  f: Fixture,
  dbs: Db[],
  tool: "aws" | "rclone-debian" | "rclone-built",
  root: string,
  log: (m: string) => void,
): Promise<Omit<Downtime, "projection">> {
  const dumpMiB: Record<string, number> = {};
  // Runbook, made as fresh: after the quiesce, each dump, then the media, then each dump's copy.
  log("downtime: runbook sequence");
  const rb: Phase[] = [];
  const rbBucket = await ctx.server.newBucket();
  const rbStart = process.hrtime.bigint();
  const rbDirs: string[] = [];
  for (const db of dbs) {
    const dir = path.join(root, "runbook", db.name);
    rbDirs.push(dir);
    await timed(rb, `pg_dumpall, gzip ${db.name}`, dumpMoved("dump", db.name), () => dump(db, dir));
  }
  const tree: Moved = {
    kind: "tree-copy",
    db: "",
    files: f.files.length,
    bytes: f.bytes,
    treeFiles: f.files.length,
  };
  await timed(
    rb,
    `aws s3 cp --recursive media (${f.files.length} files)`,
    () => tree,
    () => runbookCopy(ctx, f.media, rbBucket, "media/"),
  );
  for (const [i, db] of dbs.entries()) {
    const file = newestBackup(rbDirs[i]!);
    const bytes = statSync(path.join(rbDirs[i]!, file)).size;
    await timed(
      rb,
      `aws s3 cp ${db.name} dump`,
      () => dumpMoved("dump-copy", db.name)(bytes),
      () =>
        must(
          "aws",
          [
            "s3",
            "cp",
            "--only-show-errors",
            path.join(rbDirs[i]!, file),
            `s3://${rbBucket}/${db.name}/`,
          ],
          ctx.server.env,
        ),
    );
  }
  const runbookSeconds = Number(process.hrtime.bigint() - rbStart) / 1e9;
  await ctx.server.dropBucket(rbBucket);

  // Two-phase: pre-sync while the stack is up, then (after the quiesce) dumps+copies and the
  // final media sync, all at once.
  log(`downtime: two-phase (${tool})`);
  const bucket = await ctx.server.newBucket();
  const t0 = process.hrtime.bigint();
  const pre = await syncDir(ctx, tool, f.media, `s3://${bucket}/media/`);
  const preSyncSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const changed = changeFiles(f, ctx.options.changedPercent);
  const quiescedAt = isoSeconds();
  const tp: Phase[] = [];
  const start = process.hrtime.bigint();
  const [final] = await Promise.all([
    timed(
      tp,
      `final media sync (${changed.files} changed of ${f.files.length})`,
      (r) => ({
        kind: "final-sync",
        db: "",
        files: r.uploaded,
        bytes: changed.sent,
        treeFiles: f.files.length,
      }),
      () => syncDir(ctx, tool, f.media, `s3://${bucket}/media/`),
    ),
    ...dbs.map(async (db) => {
      const dir = path.join(root, "two-phase", db.name);
      const bytes = await timed(tp, `pg_dumpall, gzip ${db.name}`, dumpMoved("dump", db.name), () =>
        dump(db, dir),
      );
      dumpMiB[db.name] = bytes / MIB;
      await timed(
        tp,
        `copy-latest.sh ${db.name} dump`,
        () => dumpMoved("dump-copy", db.name)(bytes),
        () => copyLatest(ctx, dir, `s3://${bucket}/${db.name}/`, quiescedAt),
      );
    }),
  ]);
  const twoPhaseSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (final.uploaded !== changed.files)
    throw new Error(`final sync sent ${final.uploaded} files, ${changed.files} were changed`);
  await ctx.server.dropBucket(bucket);
  return {
    fixture: f.name,
    fixtureFiles: f.files.length,
    fixtureBytes: f.bytes,
    tool: NAMES[tool],
    runbookSeconds,
    twoPhaseSeconds,
    preSyncSeconds,
    syncsVerified: pre.verifiedAt !== "" && final.verifiedAt !== "",
    changedFiles: changed.files,
    changedBytes: changed.sent,
    phases: { runbook: rb, twoPhase: tp },
    database: dbs.map((db) => ({
      name: db.name,
      sizeMiB: db.sizeMiB,
      dumpMiB: dumpMiB[db.name] ?? 0,
    })),
  };
}

// ---------------------------------------------------------------------------------------------

async function machine(): Promise<Record<string, string | number>> {
  const first = async (cmd: string, args: string[]) =>
    (await exec(cmd, args, {}).catch(() => ({ stdout: "absent", stderr: "" }) as Ran)).stdout.split(
      "\n",
    )[0] ?? "";
  const aws = await exec("aws", ["--version"], {});
  return {
    nproc: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "",
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    loadAverageAtStart: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" "),
    aws: (aws.stdout + aws.stderr).trim().split(" ")[0] ?? "",
    rcloneDebian: await first("/usr/bin/rclone", ["version"]),
    rcloneBuilt: await first(path.join(toolCacheBin(), "rclone"), ["version"]),
    node: process.version,
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
  const started = Date.now();
  const info = await machine();
  const built = path.join(toolCacheBin(), "rclone");
  const wantBuilt = options.only.length === 0 || options.only.includes("rclone-built");
  if (wantBuilt && !existsSync(built))
    throw new Error(
      `rclone not found at ${built}; build it with: bash sandbox/toolchain.sh rclone`,
    );
  const root = tempDir("bench");
  const prodSizes = productionSizes(productionFiles(options.prodFraction));
  log(
    `generating fixtures: ${options.smallFiles} small files; ${prodSizes.length} production-shaped files`,
  );
  const small = await makeFixture(root, "small", smallFileSizes(options.smallFiles));
  const prod = await makeFixture(root, "production", prodSizes);
  log(`generating 2 databases of ${options.dbMiB} MiB`);
  const dbs = await Promise.all([
    makeDatabase("keycloak", options.dbMiB),
    makeDatabase("stack", options.dbMiB),
  ]);
  const server = await startServer(options.server);
  const ctx: Ctx = {
    server,
    options,
    rcloneDirs: {
      debian: rcloneShim(root, "rclone-debian", "/usr/bin/rclone"),
      built: wantBuilt ? rcloneShim(root, "rclone-built", built) : "",
    },
  };
  try {
    const meanSmall = small.bytes / Math.max(1, small.files.length);
    log(`ceiling of ${server.name} ${server.version}`);
    const ceil = await measureCeiling(server, Math.round(meanSmall), options.ceilingSeconds, log);
    const s = await contenders(ctx, small, log);
    const p = await contenders(ctx, prod, log);
    const all = [...s.rows, ...p.rows];
    const best = bestOf(p.rows, "production");
    const tool = (Object.entries(NAMES).find(([, n]) => n === best.name)?.[0] ?? "rclone-built") as
      "aws" | "rclone-debian" | "rclone-built";
    const measuredDown = await downtime(ctx, prod, dbs, tool, root, log);
    for (const r of [s.rerun, p.rerun]) if (r) all.push(r);
    const down: Downtime = {
      ...measuredDown,
      projection: project(measuredDown, all, productionTarget(options.prodDumpMiB)),
    };
    const worst = [small.name, prod.name]
      .map((fx) => ({ fx, r: rerunFraction(all, fx) }))
      .reduce((a, b) => (b.r.fraction > a.r.fraction ? b : a));
    const result: BenchResult = {
      server: { name: server.name, version: server.version },
      ceiling: ceil,
      fixtures: Object.fromEntries(
        [small, prod].map((f) => [
          f.name,
          { files: f.files.length, bytes: f.bytes, meanBytes: f.bytes / f.files.length },
        ]),
      ),
      contenders: all,
      rerun: { ...worst.r, name: `${worst.r.name} (${worst.fx})` },
      downtime: down,
      targets: targets(all, ceil, down),
      machine: {
        ...info,
        loadAverageAtEnd: os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(" "),
      },
      seconds: (Date.now() - started) / 1000,
    };
    process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${table(result)}\n`);
  } finally {
    await server.stop();
    for (const db of dbs) await db.cluster.stop();
    if (!options.keep) rmSync(root, { recursive: true, force: true });
    else log(`fixtures kept in ${root}`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench: ERROR: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
