// Restore drill: a real PostgreSQL 15 cluster is dumped with pg_dumpall | gzip into the NFS
// backup naming scheme, copied by copy-latest.sh to S3 (moto), downloaded, restored into a
// fresh cluster with psql, and every row compared. Nothing lost.
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { parseLatestResult } from "../../components/copy-result";
import {
  SCRIPTS,
  backupName,
  createBucket,
  getObject,
  isoTime,
  setAge,
  sha256,
} from "../helpers/fixtures";
import { startCluster, type Cluster } from "../helpers/postgres";
import { run } from "../helpers/run";
import { startMoto, tempDir, type Moto } from "../helpers/servers";

const BUCKET = "relocation-drill";
let moto: Moto;
let source: Cluster;
let restored: Cluster;

const SEED = `
CREATE ROLE keycloak LOGIN PASSWORD 'drill';
CREATE DATABASE keycloak OWNER keycloak;
CREATE DATABASE frag;
\\connect keycloak
CREATE TABLE user_entity (id uuid PRIMARY KEY, username text NOT NULL, email text,
  created_timestamp bigint, attributes jsonb);
INSERT INTO user_entity
  SELECT md5(i::text)::uuid, 'user-' || i, 'u' || i || '@example.org', 1697450821000 + i,
         jsonb_build_object('n', i, 'tags', jsonb_build_array('a', 'b'))
  FROM generate_series(1, 500) AS i;
INSERT INTO user_entity VALUES
  ('00000000-0000-0000-0000-000000000001', 'Zoë O''Brien', E'tab\\tand\\nnewline', 0, '{"ünï": "✓"}');
ALTER TABLE user_entity OWNER TO keycloak;
\\connect frag
CREATE TABLE viewer_target (id serial PRIMARY KEY, title text, data bytea, added timestamptz);
INSERT INTO viewer_target (title, data, added)
  SELECT 'Mpro-x' || i, decode(md5(i::text), 'hex'), '2023-10-16T12:07:01Z'::timestamptz + i * interval '1 min'
  FROM generate_series(1, 300) AS i;
`;

/** Everything the drill compares: roles, databases and each table's rows in a fixed order. */
async function contents(c: Cluster): Promise<Record<string, string>> {
  return {
    roles: await c.query(
      "postgres",
      "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1",
    ),
    databases: await c.query(
      "postgres",
      "SELECT datname, pg_get_userbyid(datdba) FROM pg_database ORDER BY 1",
    ),
    users: await c.query("keycloak", "SELECT * FROM user_entity ORDER BY id"),
    owner: await c.query(
      "keycloak",
      "SELECT tableowner FROM pg_tables WHERE tablename = 'user_entity'",
    ),
    targets: await c.query(
      "frag",
      "SELECT id, title, encode(data, 'hex'), added FROM viewer_target ORDER BY id",
    ),
    sequence: await c.query("frag", "SELECT last_value FROM viewer_target_id_seq"),
  };
}

before(async () => {
  [moto, source, restored] = await Promise.all([startMoto(), startCluster(), startCluster()]);
  await createBucket(moto.env, BUCKET);
});
after(async () => {
  await Promise.all([moto.stop(), source.stop(), restored.stop()]);
});

describe("restore drill", () => {
  it("pg_dumpall backup copied to S3 and restored into a fresh cluster = same rows", async () => {
    const seeded = await source.client(
      "psql",
      ["-X", "-d", "postgres", "-v", "ON_ERROR_STOP=1"],
      SEED,
    );
    assert.equal(seeded.code, 0, seeded.stderr);
    const original = await contents(source);
    assert.equal(original.users!.trim().split("\n").length, 502); // 501 rows, one with a newline

    // The backup, as the cluster's CronJob writes it: pg_dumpall | gzip, named by its time.
    const hourly = tempDir("hourly");
    const time = isoTime(-3600);
    const file = path.join(hourly, backupName(time));
    const dump = await run("bash", [
      "-c",
      'set -o pipefail; runuser -u postgres -- "$0" -h "$1" -p "$2" -U postgres | gzip >"$3"',
      "/usr/lib/postgresql/15/bin/pg_dumpall",
      source.socketDir,
      String(source.port),
      file,
    ]);
    assert.equal(dump.code, 0, dump.stderr);
    setAge(file, 3600);

    const copy = await run("bash", [path.join(SCRIPTS, "copy-latest.sh")], {
      env: { ...moto.env, SOURCE_DIR: hourly, DEST_URI: `s3://${BUCKET}/production-keycloak-db/` },
    });
    assert.equal(copy.code, 0, copy.stderr);
    const result = parseLatestResult(copy.stdout, "keycloak-db");
    assert.equal(result.size, statSync(file).size);

    // Fetched back from S3, checked, restored into a cluster that has never seen the data.
    const downloaded = await getObject(moto.env, BUCKET, result.key, path.join(tempDir("dl"), "b"));
    assert.equal(sha256(downloaded), result.sha256);
    const sql = gunzipSync(downloaded).toString("utf8");
    assert.match(sql, /PostgreSQL database cluster dump/);
    // pg_dumpall re-creates the bootstrap role too; that one "already exists" error is expected.
    const restore = await restored.client("psql", ["-X", "-d", "postgres", "-q"], sql);
    assert.equal(restore.code, 0, restore.stderr);
    const errors = restore.stderr.split("\n").filter((l) => l.includes("ERROR"));
    assert.deepEqual(errors, [
      errors.find((l) => /role "postgres" already exists/.test(l)) ?? "no postgres role error",
    ]);

    assert.deepEqual(await contents(restored), original);
  });
});
