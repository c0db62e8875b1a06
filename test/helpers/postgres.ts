// Scratch PostgreSQL 15 clusters for the restore drill: initdb + pg_ctl as the unprivileged
// `postgres` user (created if missing), listening only on a private Unix socket directory.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import type { RunResult } from "./run";
import { freePort, tempDir } from "./servers";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
const USER = "postgres";

export interface Cluster {
  readonly dataDir: string;
  readonly socketDir: string;
  readonly port: number;
  /** "127.0.0.1" when started with `tcp`: logins there need a password (scram-sha-256). */
  readonly tcpHost?: string;
  /** Runs a PostgreSQL client tool (psql, pg_dumpall...) as the cluster's user. */
  client(tool: string, args: string[], input?: string): Promise<RunResult>;
  /** psql -c with tuples only, unaligned: the query's rows as text. */
  query(database: string, sql: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Runs a command as the cluster's user. Not run() from ./run: pg_ctl's server keeps (or closes)
 * the stdin it inherits, and writing to it then fails with EPIPE after the test ended; here
 * stdin is /dev/null unless there is input, and a closed stdin is not an error.
 */
function asUser(cmd: string, args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/sbin/runuser", ["-u", USER, "--", cmd, ...args], {
      env: { ...process.env, PGTZ: "UTC", LC_ALL: "C.UTF-8" },
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) {
      child.stdin!.on("error", () => undefined);
      child.stdin!.end(input);
    }
  });
}

function ensureUser(): { uid: number; gid: number } {
  const id = (flag: string) =>
    Number(execFileSync("id", [flag, USER], { stdio: "pipe" }).toString());
  try {
    id("-u");
  } catch {
    execFileSync("useradd", ["--system", "--home-dir", "/nonexistent", USER], { stdio: "pipe" });
  }
  return { uid: id("-u"), gid: id("-g") };
}

function must(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

export interface ClusterOptions {
  /**
   * Also listen on 127.0.0.1, where every login needs its password (scram-sha-256, as a
   * server in a cluster is reached through its Service); the Unix socket stays `trust`.
   * @default false
   */
  readonly tcp?: boolean;
}

/** initdb + start a fresh cluster; stop() shuts it down (fast mode). */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const { uid, gid } = ensureUser();
  const root = tempDir("pg");
  chmodSync(root, 0o755); // the postgres user must reach its directories
  const dataDir = path.join(root, "data");
  const socketDir = path.join(root, "socket");
  for (const d of [dataDir, socketDir]) {
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, uid, gid);
  }
  must(
    await asUser(`${PG_BIN}/initdb`, [
      "-D",
      dataDir,
      "--auth-local=trust",
      `--auth-host=${options.tcp ? "scram-sha-256" : "trust"}`,
      "--encoding=UTF8",
      "--locale=C.UTF-8",
      "-U",
      USER,
    ]),
    "initdb",
  );
  const port = await freePort();
  must(
    await asUser(`${PG_BIN}/pg_ctl`, [
      "-D",
      dataDir,
      "-l",
      path.join(dataDir, "server.log"),
      "-w",
      "-o",
      `-p ${port} -k ${socketDir} -c listen_addresses=${options.tcp ? "127.0.0.1" : "''"}`,
      "start",
    ]),
    "pg_ctl start",
  );
  const connection = ["-h", socketDir, "-p", String(port), "-U", USER];
  const client = (tool: string, args: string[], input?: string) =>
    asUser(`${PG_BIN}/${tool}`, [...connection, ...args], input);
  return {
    dataDir,
    socketDir,
    port,
    ...(options.tcp ? { tcpHost: "127.0.0.1" } : {}),
    client,
    async query(database, sql) {
      const r = must(
        await client("psql", ["-X", "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql]),
        `psql ${sql}`,
      );
      return r.stdout;
    },
    async stop() {
      await asUser(`${PG_BIN}/pg_ctl`, ["-D", dataDir, "-m", "fast", "-w", "stop"]);
    },
  };
}
