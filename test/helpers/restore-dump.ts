// What the restore-dump.sh tests share around the script and real PostgreSQL 15: the script,
// a dump gzipped and put in the bucket as the backups output names it, a client environment
// for a cluster's superuser, a source seeded from SQL, a target that asks for passwords.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { SCRIPTS, createBucket, putObject, sha256 } from "./fixtures";
import { PG_BIN, startCluster, type Cluster } from "./postgres";
import { startMoto, type Moto } from "./servers";

export const RESTORE_DUMP = path.join(SCRIPTS, "restore", "restore-dump.sh");

export const gzip = (sql: Buffer | string) => execFileSync("gzip", ["-c"], { input: sql });

/**
 * Puts `body` at s3://bucket/key (through a file in `dir`); returns the settings that name it
 * (as the backups output would): SOURCE_URI, EXPECTED_SHA256, EXPECTED_SIZE.
 */
export async function uploadDump(
  s3Env: Record<string, string>,
  bucket: string,
  dir: string,
  key: string,
  body: Buffer,
): Promise<Record<string, string>> {
  const file = path.join(dir, key.replace(/\//g, "_"));
  writeFileSync(file, body);
  await putObject(s3Env, bucket, key, file);
  return {
    SOURCE_URI: `s3://${bucket}/${key}`,
    EXPECTED_SHA256: sha256(body),
    EXPECTED_SIZE: String(body.length),
  };
}

/**
 * The client environment of `c`'s superuser postgres: over the Unix socket (trust), or with a
 * password over TCP, as the Job reaches a server.
 */
export function superuserEnv(c: Cluster, password?: string): Record<string, string> {
  const env = { PATH: `${PG_BIN}:${process.env.PATH}`, PGPORT: String(c.port), PGUSER: "postgres" };
  if (password === undefined) return { ...env, PGHOST: c.socketDir };
  return { ...env, PGHOST: c.tcpHost!, PGPASSWORD: password };
}

/** Runs `sql` with psql on `c` (stopping at the first error); fails if it does not all run. */
export async function seedCluster(c: Cluster, sql: string): Promise<void> {
  const seeded = await c.client(
    "psql",
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres"],
    sql,
  );
  assert.equal(seeded.code, 0, seeded.stderr);
}

/** moto with `bucket` made, and a source cluster seeded from `seed` (as seedCluster). */
export async function startSeededSource(bucket: string, seed: string): Promise<[Moto, Cluster]> {
  const [moto, source] = await Promise.all([startMoto(), startCluster()]);
  await createBucket(moto.env, bucket);
  await seedCluster(source, seed);
  return [moto, source];
}

/** An empty target reached over TCP, its superuser's password `adminPassword`. */
export async function startPasswordTarget(
  adminPassword: string,
  options: { logStatements?: boolean } = {},
): Promise<Cluster> {
  const c = await startCluster({ tcp: true });
  await c.query("postgres", `ALTER ROLE postgres PASSWORD '${adminPassword}'`);
  if (options.logStatements) {
    await c.query("postgres", "ALTER SYSTEM SET log_statement = 'all'");
    await c.query("postgres", "SELECT pg_reload_conf()");
  }
  return c;
}
