// restore-dump.sh's destination checks against real servers (issue 19, relocation-destination.md
// "What a restore tool must check"): every CREATE EXTENSION of a real pg_dumpall available on
// the target before anything changes, and after the restore the application roles log in over
// TCP with their passwords (scram-sha-256), their databases holding the expected tables.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { SCRIPTS, sha256 } from "../helpers/fixtures";
import type { Cluster } from "../helpers/postgres";
import {
  gzip,
  RESTORE_DUMP,
  startSeededSource,
  startPasswordTarget,
  superuserEnv,
  uploadDump,
} from "../helpers/restore-dump";
import { lastJson, oneErrorLine, run } from "../helpers/run";
import { tempDir, type Moto } from "../helpers/servers";

const FINGERPRINT = path.join(SCRIPTS, "restore", "fingerprint.sh");
const BUCKET = "relocation-checks";
const TARGET_ADMIN = "target-admin-secret";

// Production's shape: the stack's role owns frag (Django's tables), Keycloak's its own database,
// the backup CronJob's superuser `admin`. A COPY row that reads like an extension must not count.
const SEED = `
ALTER ROLE postgres PASSWORD 'source-admin-secret';
CREATE ROLE fragalysis LOGIN PASSWORD 'frag-user-secret';
CREATE ROLE keycloak LOGIN PASSWORD 'kc-db-secret';
CREATE ROLE admin LOGIN SUPERUSER PASSWORD 'root-secret';
CREATE DATABASE frag OWNER fragalysis;
CREATE DATABASE keycloak OWNER keycloak;
\\connect frag
CREATE EXTENSION "uuid-ossp";
CREATE EXTENSION pg_trgm;
CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, applied timestamptz);
INSERT INTO django_migrations (app, name, applied)
  SELECT 'viewer', 'migration_' || i, '2026-01-01T00:00:00Z' FROM generate_series(1, 40) AS i;
CREATE TABLE notes (v text);
INSERT INTO notes VALUES ('CREATE EXTENSION IF NOT EXISTS evil WITH SCHEMA public;');
ALTER TABLE django_migrations OWNER TO fragalysis;
ALTER TABLE notes OWNER TO fragalysis;
CREATE TABLE private_t (id int);
REVOKE ALL ON private_t FROM PUBLIC;
\\connect keycloak
CREATE TABLE realm (id text PRIMARY KEY);
INSERT INTO realm VALUES ('xchem');
ALTER TABLE realm OWNER TO keycloak;
`;

let moto: Moto;
let source: Cluster;
let dump: Buffer;
let sourceFingerprint: unknown;
const work = tempDir("restore-checks");

/** The target as the Job reaches it: over TCP, the superuser with its password. */
const tcpEnv = (c: Cluster) => superuserEnv(c, TARGET_ADMIN);

const upload = (key: string, body: Buffer) => uploadDump(moto.env, BUCKET, work, key, body);

/** Settings of logins: [user, database, password, tables?]. */
function logins(list: Array<[string, string, string, string?]>): Record<string, string> {
  const env: Record<string, string> = { LOGIN_COUNT: String(list.length) };
  list.forEach(([user, database, password, tables], i) => {
    env[`LOGIN_${i}_USER`] = user;
    env[`LOGIN_${i}_DATABASE`] = database;
    env[`LOGIN_${i}_PASSWORD`] = password;
    env[`LOGIN_${i}_SECRET`] = `Secret s${i} key k${i}`;
    if (tables !== undefined) env[`LOGIN_${i}_TABLES`] = tables;
  });
  return env;
}

const tcpTarget = () => startPasswordTarget(TARGET_ADMIN);

function restore(target: Cluster, settings: Record<string, string>) {
  return run("bash", [RESTORE_DUMP], { env: { ...moto.env, ...tcpEnv(target), ...settings } });
}

async function fingerprint(c: Cluster): Promise<unknown> {
  const r = await run("bash", [FINGERPRINT], { env: tcpEnv(c) });
  assert.equal(r.code, 0, r.stderr);
  return lastJson(r.stdout).databases;
}

const SECRETS =
  /frag-user-secret|kc-db-secret|root-secret|wrong-secret|any-secret|target-admin-secret/;

before(async () => {
  [moto, source] = await startSeededSource(BUCKET, SEED);
  const sql = (await source.client("pg_dumpall", ["--clean", "--if-exists"])).stdout;
  // The real dump writes both forms the parser must read.
  assert.match(sql, /^CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;$/m);
  assert.match(sql, /^CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;$/m);
  dump = gzip(sql);
  const fp = await run("bash", [FINGERPRINT], { env: superuserEnv(source) });
  assert.equal(fp.code, 0, fp.stderr);
  sourceFingerprint = lastJson(fp.stdout).databases;
});
after(async () => {
  await Promise.all([moto.stop(), source.stop()]);
});

describe("restore-dump.sh destination checks", () => {
  it("extensions available, logins with the right passwords = restored; logins in the result and RESULT_FILE", async () => {
    const target = await tcpTarget();
    try {
      const settings = await upload("dumps/ok-dumpall.sql.gz", dump);
      const resultFile = path.join(work, "termination-log");
      const r = await restore(target, {
        ...settings,
        RESULT_FILE: resultFile,
        ...logins([
          ["fragalysis", "frag", "frag-user-secret", "django_migrations public.notes"],
          ["keycloak", "keycloak", "kc-db-secret"],
          ["admin", "postgres", "root-secret"],
        ]),
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /extensions, all available: pg_trgm uuid-ossp$/m);
      assert.match(
        r.stderr,
        /^restore-dump.sh: logins: fragalysis logs in to database frag, which holds 3 tables, django_migrations, public.notes among them$/m,
      );
      const expected = [
        { user: "fragalysis", database: "frag", tables: 3 },
        { user: "keycloak", database: "keycloak", tables: 1 },
        { user: "admin", database: "postgres", tables: 0 },
      ];
      assert.deepEqual(lastJson(r.stdout).logins, expected);
      assert.deepEqual(JSON.parse(readFileSync(resultFile, "utf8")).logins, expected);
      assert.deepEqual(lastJson(r.stdout).databases, sourceFingerprint);
      assert.doesNotMatch(r.stderr + r.stdout, SECRETS);
    } finally {
      await target.stop();
    }
  });

  it("an extension the target lacks (quoted, and rdkit) = refused naming them before any change", async () => {
    const target = await tcpTarget();
    try {
      const sql = execFileSync("gzip", ["-dc"], { input: dump }).toString("utf8");
      const lacking = sql.replace(
        /^\\connect frag$/m,
        '\\connect frag\nCREATE EXTENSION IF NOT EXISTS "no_such_ext" WITH SCHEMA public;\nCREATE EXTENSION rdkit;',
      );
      assert.notEqual(lacking, sql);
      const settings = await upload("dumps/lacking-dumpall.sql.gz", gzip(lacking));
      const before = await target.query("postgres", "SELECT datname FROM pg_database ORDER BY 1");
      const roles = await target.query("postgres", "SELECT rolname FROM pg_roles ORDER BY 1");
      const r = await restore(target, settings);
      assert.equal(
        oneErrorLine(r, "restore-dump.sh"),
        `restore-dump.sh: ERROR: ${settings.SOURCE_URI} needs extensions the target does not have (pg_available_extensions): no_such_ext, rdkit; run the database on an image that provides them (e.g. informaticsmatters/rdkit-cartridge-debian for rdkit), nothing restored`,
      );
      assert.doesNotMatch(r.stderr, /step empty/);
      assert.equal(
        await target.query("postgres", "SELECT datname FROM pg_database ORDER BY 1"),
        before,
      );
      assert.equal(
        await target.query("postgres", "SELECT rolname FROM pg_roles ORDER BY 1"),
        roles,
      );
    } finally {
      await target.stop();
    }
  });

  it("wrong password, missing role, missing and unreadable table = restored, but one line naming each", async () => {
    const target = await tcpTarget();
    try {
      const settings = await upload("dumps/logins-dumpall.sql.gz", dump);
      const r = await restore(target, {
        ...settings,
        ...logins([
          ["fragalysis", "frag", "wrong-secret"],
          ["nobody", "frag", "any-secret"],
          ["keycloak", "keycloak", "kc-db-secret", " django_migrations  "],
          ["fragalysis", "frag", "frag-user-secret", "django_migrations private_t"],
          ["keycloak", "no_db", "kc-db-secret"],
        ]),
      });
      assert.equal(
        oneErrorLine(r, "restore-dump.sh"),
        "restore-dump.sh: ERROR: restored, but: " +
          'fragalysis cannot log in to database frag: password authentication failed for user "fragalysis" (password from Secret s0 key k0); ' +
          'nobody cannot log in to database frag: password authentication failed for user "nobody" (password from Secret s1 key k1); ' +
          "database keycloak as keycloak has no table django_migrations; " +
          "database frag as fragalysis cannot read table private_t; " +
          'keycloak cannot log in to database no_db: database "no_db" does not exist (password from Secret s4 key k4); ' +
          "set the role's password or the Secret so they match (or restore the missing tables); the data is restored: do not start the application on it before this holds",
      );
      assert.doesNotMatch(r.stderr + r.stdout, SECRETS);
      // The data is there, as the line says.
      assert.deepEqual(await fingerprint(target), sourceFingerprint);
    } finally {
      await target.stop();
    }
  });

  it("bad login settings = one line naming the setting, before any download", async () => {
    const target = await tcpTarget();
    try {
      const settings = {
        SOURCE_URI: `s3://${BUCKET}/dumps/never-read.sql.gz`,
        EXPECTED_SHA256: sha256("x"),
        EXPECTED_SIZE: "1",
      };
      const ok = logins([["fragalysis", "frag", "frag-user-secret", "django_migrations"]]);
      const globbed = path.join(work, "globbed");
      mkdirSync(globbed, { recursive: true });
      writeFileSync(path.join(globbed, "auth_user"), "");
      for (const [bad, pattern] of [
        [{ LOGIN_COUNT: "two" }, /^restore-dump.sh: ERROR: LOGIN_COUNT must be a whole decimal/],
        [
          { LOGIN_0_PASSWORD: "" },
          /^restore-dump.sh: ERROR: LOGIN_0_PASSWORD is not set or empty: Secret s0 key k0 has no password for fragalysis \(is the Secret there, with that key\?\); set it before the restore, nothing restored$/,
        ],
        [{ LOGIN_COUNT: "2" }, /^restore-dump.sh: ERROR: LOGIN_1_USER must be a PostgreSQL role/],
        [{ LOGIN_0_DATABASE: "frag db" }, /LOGIN_0_DATABASE must be a database name/],
        [{ LOGIN_0_TABLES: "Django_Migrations" }, /LOGIN_0_TABLES must list unquoted lower-case/],
        // Not a glob: the working directory holds a name that would pass.
        [{ LOGIN_0_TABLES: "django_migrations *" }, /LOGIN_0_TABLES must list .*, got '\*'$/],
      ] as const) {
        const r = await run("bash", [RESTORE_DUMP], {
          env: { ...moto.env, ...tcpEnv(target), ...settings, ...ok, ...bad },
          cwd: globbed,
        });
        assert.match(oneErrorLine(r, "restore-dump.sh"), pattern);
        assert.doesNotMatch(r.stderr, /step /);
        assert.doesNotMatch(r.stderr, SECRETS);
      }
      // The fetch (FETCH_ONLY=true) gets no login settings and checks none.
      const fetchSettings = await upload("dumps/fetch-dumpall.sql.gz", dump);
      const file = path.join(work, "fetched.sql.gz");
      const fetched = await run("bash", [RESTORE_DUMP], {
        env: {
          ...moto.env,
          ...fetchSettings,
          ...ok,
          LOGIN_0_PASSWORD: "",
          SOURCE_FILE: file,
          FETCH_ONLY: "true",
        },
      });
      assert.equal(fetched.code, 0, fetched.stderr);
    } finally {
      await target.stop();
    }
  });
});
