// restore-dump.sh with a single-database dump (issue 19): what the bandr sql-backup image writes
// when its CronJob sets DATABASE, `pg_dump --clean --if-exists frag`, under the same file name as
// a pg_dumpall. Real PostgreSQL 15 on both sides: the source's role fragalysis owns frag; the
// target is empty and asks for passwords over TCP (scram-sha-256), as the Job reaches it. The
// role is created with the password from the environment (never in a log, the server's
// included), frag is created owned by it, the dump's OWNER TO lines apply, and the restored
// fingerprint equals the old side's (fingerprint-old.sh with DATABASE=frag). Refusals: no
// DATABASE_NAME, a non-empty target, frag owned by another role; nothing changed by any of them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { SCRIPTS } from "../helpers/fixtures";
import { PG_BIN, type Cluster } from "../helpers/postgres";
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

const OLD_FINGERPRINT = path.join(SCRIPTS, "fingerprint-old.sh");
const BUCKET = "relocation-pgdump";
const TARGET_ADMIN = "target-admin-secret";
const OWNER_PASSWORD = "frag-owner-Secret-42";

// Production's Django database: frag owned by fragalysis, an extension, a sequence; another
// database (keycloak) on the same server that a pg_dump of frag does not hold.
const SEED = `
CREATE ROLE fragalysis LOGIN PASSWORD 'source-frag-secret';
CREATE DATABASE frag OWNER fragalysis;
CREATE DATABASE keycloak;
\\connect frag
CREATE EXTENSION pg_trgm;
CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, applied timestamptz);
INSERT INTO django_migrations (app, name, applied)
  SELECT 'viewer', 'migration_' || i, '2026-01-01T00:00:00Z' FROM generate_series(1, 40) AS i;
CREATE TABLE viewer_target (id int PRIMARY KEY, title text, data bytea);
INSERT INTO viewer_target VALUES (1, E'two\\nlines', '\\x00ff'), (2, 'Mpro', NULL);
ALTER TABLE django_migrations OWNER TO fragalysis;
ALTER TABLE viewer_target OWNER TO fragalysis;
\\connect keycloak
CREATE TABLE realm (id text PRIMARY KEY);
INSERT INTO realm VALUES ('xchem');
`;

let moto: Moto;
let source: Cluster;
let dump: Buffer;
let oldSummary: Record<string, unknown>;
const work = tempDir("restore-pgdump");

const tcpEnv = (c: Cluster) => superuserEnv(c, TARGET_ADMIN);

const upload = (key: string, body: Buffer) => uploadDump(moto.env, BUCKET, work, key, body);

/** An empty target that asks for passwords over TCP and logs every statement it runs. */
const tcpTarget = () => startPasswordTarget(TARGET_ADMIN, { logStatements: true });

/** The Job's settings for restore.databases[].database {name: frag, owner: fragalysis, ...}. */
const FRAG = {
  DATABASE_NAME: "frag",
  DATABASE_OWNER: "fragalysis",
  DATABASE_OWNER_SECRET: "Secret database key user_password",
  DATABASE_OWNER_PASSWORD: OWNER_PASSWORD,
};

function restore(target: Cluster, settings: Record<string, string>) {
  return run("bash", [RESTORE_DUMP], { env: { ...moto.env, ...tcpEnv(target), ...settings } });
}

/** What a refusal must leave as it was. */
async function state(c: Cluster) {
  return {
    databases: await c.query("postgres", "SELECT datname FROM pg_database ORDER BY 1"),
    roles: await c.query("postgres", "SELECT rolname FROM pg_roles ORDER BY 1"),
  };
}

const SECRETS = new RegExp(`${OWNER_PASSWORD}|${TARGET_ADMIN}|source-frag-secret`);

before(async () => {
  [moto, source] = await startSeededSource(BUCKET, SEED);
  // As bandr sql-backup/backup.py runs it when DATABASE is set.
  const sql = (await source.client("pg_dump", ["--clean", "--if-exists", "frag"])).stdout;
  assert.match(sql, /^-- PostgreSQL database dump$/m);
  assert.match(sql, /^ALTER TABLE public\.viewer_target OWNER TO fragalysis;$/m);
  dump = gzip(sql);
  // The old side's fingerprint as the fingerprint Job takes it from the CronJob's template.
  const fp = await run("bash", [OLD_FINGERPRINT], {
    env: {
      PATH: `${PG_BIN}:${process.env.PATH}`,
      PGHOST: source.socketDir,
      PGPORT: String(source.port),
      DATABASE: "frag",
    },
  });
  assert.equal(fp.code, 0, fp.stderr);
  assert.match(fp.stderr, /DATABASE=frag: .* fingerprinting it alone/);
  oldSummary = lastJson<{ databases: Record<string, unknown> }>(fp.stdout).databases;
  assert.deepEqual(Object.keys(oldSummary), ["frag"]);
});
after(async () => {
  await Promise.all([moto.stop(), source.stop()]);
});

describe("restore-dump.sh with a single-database dump (pg_dump)", () => {
  it("empty target = role created with the env's password (logs in over TCP), frag owned by it, fingerprint equal to the old side's", async () => {
    const target = await tcpTarget();
    try {
      const settings = await upload("pgdump/backup-2026-12-07T03:00:00Z-dumpall.sql.gz", dump);
      const resultFile = path.join(work, "termination-log");
      const r = await restore(target, {
        ...settings,
        ...FRAG,
        RESULT_FILE: resultFile,
        LOGIN_COUNT: "1",
        LOGIN_0_USER: "fragalysis",
        LOGIN_0_DATABASE: "frag",
        LOGIN_0_PASSWORD: OWNER_PASSWORD,
        LOGIN_0_TABLES: "django_migrations viewer_target",
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^restore-dump.sh: check: single-database dump of frag from /m);
      assert.match(
        r.stderr,
        /^restore-dump.sh: prepare: created role fragalysis \(LOGIN, password from Secret database key user_password\)$/m,
      );
      assert.match(r.stderr, /^restore-dump.sh: step restore: psql .* -d frag as postgres$/m);
      const result = lastJson(r.stdout);
      assert.equal(result.kind, "database");
      assert.equal(result.databaseName, "frag");
      assert.equal(result.owner, "fragalysis");
      assert.equal(result.ownerRole, "created");
      assert.equal(result.databaseCreated, true);
      assert.deepEqual(result.logins, [{ user: "fragalysis", database: "frag", tables: 2 }]);
      // Only the restored database, equal to the old side's fingerprint of it.
      const summary = JSON.parse(readFileSync(resultFile, "utf8")).summary;
      assert.deepEqual(summary, oldSummary);
      assert.deepEqual(Object.keys(result.databases as object), ["frag"]);
      // The role logs in over TCP with that password and owns the database and every table.
      const login = await run(
        `${PG_BIN}/psql`,
        ["-X", "-At", "-d", "frag", "-c", "SELECT current_user, count(*) FROM django_migrations"],
        {
          env: {
            PGHOST: target.tcpHost!,
            PGPORT: String(target.port),
            PGUSER: "fragalysis",
            PGPASSWORD: OWNER_PASSWORD,
            PGPASSFILE: "/dev/null",
          },
        },
      );
      assert.equal(login.code, 0, login.stderr);
      assert.equal(login.stdout.trim(), "fragalysis|40");
      assert.equal(
        await target.query(
          "postgres",
          "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'frag'",
        ),
        "fragalysis\n",
      );
      assert.equal(
        await target.query(
          "frag",
          "SELECT string_agg(tablename || ':' || tableowner, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'",
        ),
        "django_migrations:fragalysis viewer_target:fragalysis\n",
      );
      // The password is in no output and in no server log line (log_statement = all).
      assert.doesNotMatch(r.stderr + r.stdout, SECRETS);
      const serverLog = readFileSync(path.join(target.dataDir, "server.log"), "utf8");
      assert.match(serverLog, /statement: /); // statements ARE logged
      assert.doesNotMatch(serverLog, new RegExp(OWNER_PASSWORD));
    } finally {
      await target.stop();
    }
  });

  it("no password = role created NOLOGIN, said in the log and the result", async () => {
    const target = await tcpTarget();
    try {
      const settings = await upload("pgdump/nologin-dumpall.sql.gz", dump);
      const r = await restore(target, {
        ...settings,
        DATABASE_NAME: "frag",
        DATABASE_OWNER: "fragalysis",
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /prepare: created role fragalysis NOLOGIN: no DATABASE_OWNER_PASSWORD/,
      );
      assert.equal(lastJson(r.stdout).ownerRole, "created-nologin");
      assert.equal(
        await target.query(
          "postgres",
          "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'fragalysis'",
        ),
        "f\n",
      );
    } finally {
      await target.stop();
    }
  });

  it("a whole-server dump with DATABASE_NAME it creates = restored as one, with its own roles; the owner settings unused", async () => {
    const target = await tcpTarget();
    try {
      const all = gzip((await source.client("pg_dumpall", ["--clean", "--if-exists"])).stdout);
      const settings = await upload("pgdump/cluster-frag-dumpall.sql.gz", all);
      const r = await restore(target, { ...settings, ...FRAG });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /check: DATABASE_NAME=frag is created by the whole-server dump itself, with the dump's own roles: DATABASE_OWNER and its password are not used/,
      );
      const result = lastJson(r.stdout);
      assert.equal(result.kind, "cluster");
      assert.equal(result.databaseName, undefined);
      assert.deepEqual(Object.keys(result.databases as object), ["frag", "keycloak", "postgres"]);
      // The dump's own password for fragalysis, not DATABASE_OWNER_PASSWORD.
      const login = await run(`${PG_BIN}/psql`, ["-X", "-At", "-d", "frag", "-c", "SELECT 1"], {
        env: {
          PGHOST: target.tcpHost!,
          PGPORT: String(target.port),
          PGUSER: "fragalysis",
          PGPASSWORD: "source-frag-secret",
          PGPASSFILE: "/dev/null",
        },
      });
      assert.equal(login.code, 0, login.stderr);
    } finally {
      await target.stop();
    }
  });

  describe("refusals, nothing changed", () => {
    let target: Cluster;
    before(async () => {
      target = await tcpTarget();
    });
    after(async () => {
      await target.stop();
    });

    it("no DATABASE_NAME (restore.databases[].database) = refused naming the setting", async () => {
      const settings = await upload("pgdump/nosetting-dumpall.sql.gz", dump);
      const before = await state(target);
      const r = await restore(target, settings);
      assert.equal(
        oneErrorLine(r, "restore-dump.sh"),
        `restore-dump.sh: ERROR: ${settings.SOURCE_URI} is a single-database dump (pg_dump), and DATABASE_NAME is not set: set restore.databases[].database {name, owner} (e.g. {name: frag, owner: fragalysis, ownerPasswordSecret: {name: database, key: user_password}}) to the database it restores into; nothing restored`,
      );
      assert.deepEqual(await state(target), before);
    });

    it("a Secret named but no password = refused before the download", async () => {
      const settings = await upload("pgdump/nopassword-dumpall.sql.gz", dump);
      const r = await restore(target, { ...settings, ...FRAG, DATABASE_OWNER_PASSWORD: "" });
      assert.match(
        oneErrorLine(r, "restore-dump.sh"),
        /DATABASE_OWNER_PASSWORD is not set or empty: Secret database key user_password has no password for fragalysis/,
      );
      assert.doesNotMatch(r.stderr, /step download/);
    });

    it("non-empty target = refused naming what is there, no role or database created", async () => {
      await target.query("postgres", "CREATE TABLE leftover (id int)");
      try {
        const settings = await upload("pgdump/nonempty-dumpall.sql.gz", dump);
        const before = await state(target);
        const r = await restore(target, { ...settings, ...FRAG });
        assert.match(
          oneErrorLine(r, "restore-dump.sh"),
          /the target is not empty: database postgres holds 1 user relations, e.g. public\.leftover; .*ALLOW_NON_EMPTY=true/,
        );
        assert.deepEqual(await state(target), before);
      } finally {
        await target.query("postgres", "DROP TABLE leftover");
      }
    });

    it("frag there, owned by another role = refused naming both owners", async () => {
      await target.query("postgres", "CREATE DATABASE frag");
      try {
        const settings = await upload("pgdump/owner-dumpall.sql.gz", dump);
        const before = await state(target);
        const r = await restore(target, { ...settings, ...FRAG });
        assert.match(
          oneErrorLine(r, "restore-dump.sh"),
          /database frag exists on the target, owned by postgres, not fragalysis \(DATABASE_OWNER, restore\.databases\[\]\.database\.owner\)/,
        );
        assert.deepEqual(await state(target), before);
      } finally {
        await target.query("postgres", "DROP DATABASE frag");
      }
    });

    it("a whole-server dump that does not create DATABASE_NAME = refused", async () => {
      const all = gzip((await source.client("pg_dumpall", ["--clean", "--if-exists"])).stdout);
      const settings = await upload("pgdump/cluster-dumpall.sql.gz", all);
      const before = await state(target);
      const r = await restore(target, { ...settings, ...FRAG, DATABASE_NAME: "django" });
      assert.match(
        oneErrorLine(r, "restore-dump.sh"),
        /is a whole-server dump that does not create database django \(DATABASE_NAME, restore\.databases\[\]\.database\.name\)/,
      );
      assert.deepEqual(await state(target), before);
    });
  });
});
