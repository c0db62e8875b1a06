// restore-dump.sh against real servers: a real `pg_dumpall --clean --if-exists | gzip` of a
// PostgreSQL 15 source (odd names, NULLs, newlines, duplicate rows) in moto, restored with the
// real aws CLI and psql into other clusters; fingerprint.sh of the source is the reference.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { SCRIPT_FILES } from "../../components/restore/dump-restore";
import { SCRIPTS, sha256 } from "../helpers/fixtures";
import { PG_BIN, startCluster, type Cluster } from "../helpers/postgres";
import {
  gzip,
  RESTORE_DUMP,
  startSeededSource,
  superuserEnv,
  uploadDump,
} from "../helpers/restore-dump";
import { lastJson, oneErrorLine, run } from "../helpers/run";
import { tempDir, type Moto } from "../helpers/servers";

const FINGERPRINT = path.join(SCRIPTS, "restore", "fingerprint.sh");
const BUCKET = "relocation-restore";

const SEED = `
ALTER ROLE postgres PASSWORD 'source-admin-secret';
CREATE ROLE keycloak LOGIN PASSWORD 'kc';
CREATE DATABASE keycloak OWNER keycloak;
CREATE DATABASE frag;
CREATE DATABASE "Odd ""DB""";
\\connect keycloak
CREATE TABLE user_entity (id int PRIMARY KEY, username text, email text, attrs jsonb);
INSERT INTO user_entity SELECT i, 'user-' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'u' || i || '@x' END,
  jsonb_build_object('n', i) FROM generate_series(1, 200) AS i;
INSERT INTO user_entity VALUES (0, E'two\\nlines', E'tab\\there \\\\ back', NULL);
ALTER TABLE user_entity OWNER TO keycloak;
\\connect frag
CREATE SCHEMA "Viewer Schema";
CREATE TABLE "Viewer Schema"."Target ""x"" table" (title text, data bytea, added timestamptz, score float8);
INSERT INTO "Viewer Schema"."Target ""x"" table"
  SELECT 'Mpro-' || (i % 7), decode(md5(i::text), 'hex'), '2023-10-16T12:00:00Z'::timestamptz + i * interval '1 min', i / 3.0
  FROM generate_series(1, 150) AS i;
INSERT INTO "Viewer Schema"."Target ""x"" table" VALUES (NULL, NULL, NULL, NULL), (NULL, NULL, NULL, NULL),
  (E'line\\nbreak', '\\x00ff', 'infinity', 'NaN');
CREATE TABLE public.empty_table (id int);
\\connect "Odd ""DB"""
CREATE TABLE t (v text);
INSERT INTO t VALUES ('a'), ('a'), (NULL);
`;

let moto: Moto;
let source: Cluster;
let sourceFingerprint: Record<string, Record<string, { rows: number; sha256: string }>>;
let dump: Buffer;
const work = tempDir("restore-dump");

const pgEnv = (c: Cluster) => superuserEnv(c);

const upload = (key: string, body: Buffer) => uploadDump(moto.env, BUCKET, work, key, body);

function restore(target: Cluster, settings: Record<string, string>) {
  return run("bash", [RESTORE_DUMP], { env: { ...moto.env, ...pgEnv(target), ...settings } });
}

async function fingerprint(c: Cluster) {
  const r = await run("bash", [FINGERPRINT], { env: pgEnv(c) });
  assert.equal(r.code, 0, r.stderr);
  return lastJson<{ databases: typeof sourceFingerprint }>(r.stdout).databases;
}

/** What a refused run must leave alone: databases, roles and every table's rows. */
async function state(c: Cluster) {
  return {
    databases: await c.query("postgres", "SELECT datname FROM pg_database ORDER BY 1"),
    roles: await c.query("postgres", "SELECT rolname, rolpassword FROM pg_authid ORDER BY 1"),
    fingerprint: await fingerprint(c),
  };
}

before(async () => {
  [moto, source] = await startSeededSource(BUCKET, SEED);
  // The bandr sql-backup image's command, as production makes its dumps.
  dump = gzip(
    execFileSync("/usr/sbin/runuser", [
      "-u",
      "postgres",
      "--",
      `${PG_BIN}/pg_dumpall`,
      "-h",
      source.socketDir,
      "-p",
      String(source.port),
      "-U",
      "postgres",
      "--clean",
      "--if-exists",
    ]),
  );
  sourceFingerprint = await fingerprint(source);
});
after(async () => {
  await Promise.all([moto.stop(), source.stop()]);
});

describe("restore-dump.sh", () => {
  it("fingerprint of the source = every database and table, rows counted", () => {
    assert.deepEqual(Object.keys(sourceFingerprint), ['Odd "DB"', "frag", "keycloak", "postgres"]);
    assert.deepEqual(Object.keys(sourceFingerprint.frag!), [
      '"Viewer Schema"."Target ""x"" table"',
      "public.empty_table",
    ]);
    assert.equal(sourceFingerprint.frag!['"Viewer Schema"."Target ""x"" table"']!.rows, 153);
    assert.equal(sourceFingerprint.keycloak!["public.user_entity"]!.rows, 201);
    assert.equal(sourceFingerprint['Odd "DB"']!["public.t"]!.rows, 3);
    assert.deepEqual(sourceFingerprint.postgres, {});
  });

  it("empty target = restored, fingerprints equal, the restoring superuser's password kept", async () => {
    const target = await startCluster();
    try {
      await target.query("postgres", "ALTER ROLE postgres PASSWORD 'target-admin-secret'");
      const before = await target.query(
        "postgres",
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'",
      );
      const settings = await upload("dumps/backup-2026-12-07T00:00:00Z-dumpall.sql.gz", dump);
      const r = await restore(target, settings);
      assert.equal(r.code, 0, r.stderr);
      const result = lastJson<Record<string, unknown>>(r.stdout);
      assert.equal(result.source, settings.SOURCE_URI);
      assert.equal(result.sha256, settings.EXPECTED_SHA256);
      assert.equal(result.size, dump.length);
      assert.equal(result.kind, "cluster");
      assert.equal(result.skippedRoleLines, 3); // DROP ROLE IF EXISTS, CREATE ROLE, ALTER ROLE ... WITH
      assert.deepEqual(result.databases, sourceFingerprint);
      assert.deepEqual(await fingerprint(target), sourceFingerprint);
      for (const name of ["target", "download", "check", "empty", "restore", "fingerprint"])
        assert.match(r.stderr, new RegExp(`^restore-dump.sh: step ${name}`, "m"));
      assert.equal(
        await target.query(
          "postgres",
          "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'",
        ),
        before,
      );
      assert.equal(
        await target.query(
          "keycloak",
          "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'user_entity'",
        ),
        "keycloak\n",
      );
      assert.doesNotMatch(r.stderr + r.stdout, /target-admin-secret|source-admin-secret/);

      // The fingerprint ignores row order (a row moved to the end) but not a changed value.
      const table = '"Viewer Schema"."Target ""x"" table"';
      await target.query(
        "frag",
        `WITH moved AS (DELETE FROM ${table} WHERE title = 'Mpro-1' RETURNING *) INSERT INTO ${table} SELECT * FROM moved`,
      );
      assert.deepEqual(await fingerprint(target), sourceFingerprint);
      await target.query('Odd "DB"', "UPDATE t SET v = 'b' WHERE v IS NULL");
      const changed = await fingerprint(target);
      assert.equal(changed['Odd "DB"']!["public.t"]!.rows, 3);
      assert.notEqual(
        changed['Odd "DB"']!["public.t"]!.sha256,
        sourceFingerprint['Odd "DB"']!["public.t"]!.sha256,
      );
      assert.deepEqual({ ...changed, 'Odd "DB"': {} }, { ...sourceFingerprint, 'Odd "DB"': {} });
    } finally {
      await target.stop();
    }
  });

  it("FETCH_ONLY=true then SOURCE_FILE = the Job's two steps: fetch without PostgreSQL, restore without S3; summary in RESULT_FILE", async () => {
    const target = await startCluster();
    try {
      const settings = await upload("dumps/backup-2026-12-07T06:00:00Z-dumpall.sql.gz", dump);
      const file = path.join(work, "fetched", "dump.sql.gz");
      execFileSync("mkdir", ["-p", path.dirname(file)]);
      // The fetch never connects to PostgreSQL (a dead port), the restore never to S3.
      const fetched = await run("bash", [RESTORE_DUMP], {
        env: { ...moto.env, PGPORT: "1", ...settings, SOURCE_FILE: file, FETCH_ONLY: "true" },
      });
      assert.equal(fetched.code, 0, fetched.stderr);
      assert.equal(fetched.stdout, "");
      assert.match(fetched.stderr, /nothing restored \(FETCH_ONLY=true\)/);
      assert.equal(sha256(readFileSync(file)), settings.EXPECTED_SHA256);
      assert.equal(existsSync(`${file}.part`), false);

      const resultFile = path.join(work, "termination-log");
      const r = await run("bash", [RESTORE_DUMP], {
        env: {
          ...pgEnv(target),
          ...settings,
          AWS_ENDPOINT_URL: "http://127.0.0.1:1",
          SOURCE_FILE: file,
          RESULT_FILE: resultFile,
        },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(lastJson<Record<string, unknown>>(r.stdout).databases, sourceFingerprint);
      const summary = JSON.parse(readFileSync(resultFile, "utf8")) as Record<string, unknown>;
      assert.equal(summary.sha256, settings.EXPECTED_SHA256);
      assert.equal(summary.databases, undefined);
      const expected = Object.fromEntries(
        Object.entries(sourceFingerprint).map(([db, tables]) => [
          db,
          {
            tables: Object.keys(tables).length,
            rows: Object.values(tables).reduce((n, t) => n + t.rows, 0),
            sha256: sha256(JSON.stringify(tables)),
          },
        ]),
      );
      assert.deepEqual(summary.summary, expected);
      assert.ok(readFileSync(resultFile).length < 4096);
    } finally {
      await target.stop();
    }
  });

  it("FETCH_ONLY=true of an object whose sha256 differs = fails, no file left", async () => {
    const settings = await upload("dumps/backup-2026-12-07T06:30:00Z-dumpall.sql.gz", dump);
    const file = path.join(work, "fetched", "wrong.sql.gz");
    execFileSync("mkdir", ["-p", path.dirname(file)]);
    const r = await run("bash", [RESTORE_DUMP], {
      env: {
        ...moto.env,
        ...settings,
        EXPECTED_SHA256: sha256("another"),
        SOURCE_FILE: file,
        FETCH_ONLY: "true",
      },
    });
    assert.match(oneErrorLine(r, "restore-dump.sh"), /has sha256 [0-9a-f]{64}, EXPECTED_SHA256 is/);
    assert.equal(existsSync(file), false);
    assert.equal(existsSync(`${file}.part`), false);
  });

  it("in the Job's ConfigMap layout (kubelet's ..data symlinks, the component's items) = finds its sourced scripts", async () => {
    // What the kubelet makes of the ConfigMap volume with items: <dir>/..<ts>/<path> files,
    // ..data -> ..<ts>, and one symlink per top-level entry into ..data.
    const dir = path.join(work, "configmap");
    const real = path.join(dir, "..2026_12_07_00_00_00.000000001");
    for (const file of SCRIPT_FILES) {
      mkdirSync(path.dirname(path.join(real, file)), { recursive: true });
      writeFileSync(path.join(real, file), readFileSync(path.join(SCRIPTS, file)), { mode: 0o555 });
    }
    symlinkSync(path.basename(real), path.join(dir, "..data"));
    for (const top of new Set(SCRIPT_FILES.map((f) => f.split("/")[0]!))) {
      symlinkSync(path.join("..data", top), path.join(dir, top));
    }
    const settings = await upload("dumps/backup-2026-12-07T06:45:00Z-dumpall.sql.gz", dump);
    const file = path.join(work, "fetched", "layout.sql.gz");
    mkdirSync(path.dirname(file), { recursive: true });
    const r = await run("bash", [path.join(dir, "restore", "restore-dump.sh")], {
      env: { ...moto.env, ...settings, SOURCE_FILE: file, FETCH_ONLY: "true" },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(readFileSync(file)), settings.EXPECTED_SHA256);
  });

  describe("refused, target unchanged", () => {
    let target: Cluster;
    before(async () => {
      target = await startCluster();
    });
    after(async () => {
      await target.stop();
    });

    it("object whose sha256 differs = fails naming it and both hashes", async () => {
      const settings = await upload("dumps/backup-2026-12-07T01:00:00Z-dumpall.sql.gz", dump);
      const wrong = sha256("another dump");
      const before = await state(target);
      const r = await restore(target, { ...settings, EXPECTED_SHA256: wrong });
      const line = oneErrorLine(r, "restore-dump.sh");
      assert.ok(line.includes(settings.SOURCE_URI!), line);
      assert.ok(line.includes(settings.EXPECTED_SHA256!) && line.includes(wrong), line);
      assert.match(line, /nothing restored/);
      assert.deepEqual(await state(target), before);
    });

    it("SOURCE_FILE changed after the fetch = fails naming the file, nothing restored", async () => {
      const settings = await upload("dumps/backup-2026-12-07T01:15:00Z-dumpall.sql.gz", dump);
      const file = path.join(work, "tampered.sql.gz");
      const bad = Buffer.from(dump);
      bad[bad.length - 20]! ^= 0x01;
      writeFileSync(file, bad);
      const before = await state(target);
      const r = await restore(target, { ...settings, SOURCE_FILE: file });
      const line = oneErrorLine(r, "restore-dump.sh");
      assert.ok(line.includes(`${file} (from ${settings.SOURCE_URI}) has sha256`), line);
      assert.deepEqual(await state(target), before);
    });

    it("object of another size = fails naming it", async () => {
      const settings = await upload("dumps/backup-2026-12-07T01:30:00Z-dumpall.sql.gz", dump);
      const r = await restore(target, { ...settings, EXPECTED_SIZE: String(dump.length + 1) });
      assert.match(oneErrorLine(r, "restore-dump.sh"), /is \d+ bytes, EXPECTED_SIZE is \d+/);
    });

    it("truncated dump in a valid gzip = refused as incomplete", async () => {
      const sql = execFileSync("gzip", ["-dc"], { input: dump });
      const cut = gzip(sql.subarray(0, Math.floor(sql.length * 0.6)));
      const settings = await upload("dumps/backup-2026-12-07T02:00:00Z-dumpall.sql.gz", cut);
      const before = await state(target);
      const r = await restore(target, settings);
      assert.match(
        oneErrorLine(r, "restore-dump.sh"),
        /is incomplete: it does not end with '-- PostgreSQL database cluster dump complete'/,
      );
      assert.deepEqual(await state(target), before);
    });

    it("single-database dump (pg_dump) without DATABASE_NAME = refused naming the setting", async () => {
      const one = execFileSync("/usr/sbin/runuser", [
        "-u",
        "postgres",
        "--",
        `${PG_BIN}/pg_dump`,
        "-h",
        source.socketDir,
        "-p",
        String(source.port),
        "-U",
        "postgres",
        "keycloak",
      ]);
      const settings = await upload("dumps/backup-2026-12-07T02:30:00Z-dumpall.sql.gz", gzip(one));
      const r = await restore(target, settings);
      assert.match(
        oneErrorLine(r, "restore-dump.sh"),
        /is a single-database dump \(pg_dump\), and DATABASE_NAME is not set: set restore\.databases\[\]\.database/,
      );
    });

    it("dumped from a newer server than the target = refused naming both versions", async () => {
      const sql = execFileSync("gzip", ["-dc"], { input: dump }).toString("utf8");
      const newer = sql.replace(
        /^-- Dumped from database version 15\.\d+/gm,
        "-- Dumped from database version 16.2",
      );
      const settings = await upload(
        "dumps/backup-2026-12-07T02:45:00Z-dumpall.sql.gz",
        gzip(newer),
      );
      const before = await state(target);
      const r = await restore(target, settings);
      assert.match(
        oneErrorLine(r, "restore-dump.sh"),
        /dumped from PostgreSQL 16\.2.*newer than the target \(1500\d\d\)/,
      );
      assert.deepEqual(await state(target), before);
    });

    it("corrupt gzip = refused", async () => {
      const broken = Buffer.from(dump);
      broken[Math.floor(broken.length / 2)]! ^= 0xff;
      const settings = await upload("dumps/backup-2026-12-07T03:00:00Z-dumpall.sql.gz", broken);
      const r = await restore(target, settings);
      assert.match(oneErrorLine(r, "restore-dump.sh"), /is not a valid gzip file/);
    });

    it("bad settings = one line naming the setting", async () => {
      const settings = await upload("dumps/ok.sql.gz", dump);
      for (const [bad, pattern] of [
        [{ SOURCE_URI: "s3://relocation-restore/dumps/" }, /SOURCE_URI must name one object/],
        [{ EXPECTED_SHA256: "abc" }, /EXPECTED_SHA256 must be/],
        [{ EXPECTED_SIZE: "012" }, /EXPECTED_SIZE must be/],
        [{ ALLOW_NON_EMPTY: "yes" }, /ALLOW_NON_EMPTY must be true or false/],
        [{ PGPORT: "1" }, /cannot connect to the target PostgreSQL server/],
        [{ FETCH_ONLY: "true" }, /FETCH_ONLY=true needs SOURCE_FILE/],
        [{ FETCH_ONLY: "1", SOURCE_FILE: "/tmp/x" }, /FETCH_ONLY must be true or false/],
        [{ SOURCE_FILE: "dump.sql.gz" }, /SOURCE_FILE must be an absolute path/],
        [
          { SOURCE_FILE: "/nonexistent/dump.sql.gz" },
          /SOURCE_FILE \/nonexistent\/dump.sql.gz is not a readable file/,
        ],
      ] as const) {
        const r = await run("bash", [RESTORE_DUMP], {
          env: { ...moto.env, ...pgEnv(target), ...settings, ...bad },
        });
        assert.match(oneErrorLine(r, "restore-dump.sh"), pattern);
      }
    });
  });

  it("non-empty target = refused naming what is there, unchanged; ALLOW_NON_EMPTY=true = restored", async () => {
    const target = await startCluster();
    try {
      await target.query("postgres", "CREATE DATABASE frag");
      await target.query("postgres", "CREATE TABLE leftover (id int)");
      const settings = await upload("dumps/backup-2026-12-07T04:00:00Z-dumpall.sql.gz", dump);
      const before = await state(target);
      const r = await restore(target, settings);
      const line = oneErrorLine(r, "restore-dump.sh");
      assert.match(line, /the target is not empty: database frag exists \(the dump creates it\)/);
      assert.match(line, /database postgres holds 1 user relations, e\.g\. public\.leftover/);
      assert.match(line, /ALLOW_NON_EMPTY=true/);
      assert.deepEqual(await state(target), before);

      const forced = await restore(target, { ...settings, ALLOW_NON_EMPTY: "true" });
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stderr, /restoring anyway: ALLOW_NON_EMPTY=true/);
      // The dump (--clean) drops and re-creates frag and postgres: the leftover is gone.
      assert.deepEqual(
        lastJson<Record<string, unknown>>(forced.stdout).databases,
        sourceFingerprint,
      );
    } finally {
      await target.stop();
    }
  });

  it("a table in a database the dump does not know = refused naming it", async () => {
    const target = await startCluster();
    try {
      await target.query("postgres", 'CREATE DATABASE "other db"');
      await target.query("other db", 'CREATE SEQUENCE "odd seq"');
      const settings = await upload("dumps/backup-2026-12-07T05:00:00Z-dumpall.sql.gz", dump);
      const r = await restore(target, settings);
      assert.match(
        oneErrorLine(r, "restore-dump.sh"),
        /database "other db" holds 1 user relations, e\.g\. public\."odd seq"/,
      );
    } finally {
      await target.stop();
    }
  });
});
