// fingerprint-old.sh against a real PostgreSQL 15 that asks for a password (scram-sha-256), with
// the sql-backup CronJob template's env names (PGHOST, PGPORT, PGADMINPASS; no PGUSER): its
// summary must equal what restore-dump.sh reports after restoring a pg_dumpall of the same
// server, the equality the restore side's verdict relies on. Bad settings: one line each. Run
// from the Job's ConfigMap layout, so the component's items are what the script sources.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { FINGERPRINT_SCRIPT_FILES } from "../../components/old-fingerprint";
import { SCRIPTS, sha256 } from "../helpers/fixtures";
import { PG_BIN, startCluster, type Cluster } from "../helpers/postgres";
import { lastJson, oneErrorLine, run } from "../helpers/run";
import { tempDir } from "../helpers/servers";

const RESTORE = path.join(SCRIPTS, "restore", "restore-dump.sh");
const SECRET = "old-admin-secret";

const SEED = `
CREATE DATABASE keycloak;
CREATE DATABASE "Odd ""DB""";
\\connect keycloak
CREATE TABLE user_entity (id int PRIMARY KEY, username text, attrs jsonb);
INSERT INTO user_entity SELECT i, 'user-' || i, jsonb_build_object('n', i) FROM generate_series(1, 120) AS i;
INSERT INTO user_entity VALUES (0, E'two\\nlines', NULL);
\\connect "Odd ""DB"""
CREATE SCHEMA "Viewer Schema";
CREATE TABLE "Viewer Schema"."T ""x""" (v text, b bytea, at timestamptz, f float8);
INSERT INTO "Viewer Schema"."T ""x""" VALUES ('a', '\\x00ff', 'infinity', 'NaN'), ('a', '\\x00ff', 'infinity', 'NaN'), (NULL, NULL, NULL, NULL);
CREATE TABLE public.empty_table (id int);
`;

let source: Cluster;
let target: Cluster;
let dumpFile: string;
const work = tempDir("fingerprint-old");
const emptyHome = tempDir("fingerprint-old-home");

/** The CronJob template's settings as sql-backup reads them: no PGUSER, the password in PGADMINPASS. */
function templateEnv(extra: Record<string, string | undefined> = {}) {
  return {
    PATH: `${PG_BIN}:${process.env.PATH}`,
    HOME: emptyHome,
    PGHOST: source.socketDir,
    PGPORT: String(source.port),
    PGADMINPASS: SECRET,
    ...extra,
  };
}

/**
 * The Job's ConfigMap volume as the kubelet lays it out with the component's items:
 * <dir>/..<ts>/<path> files, ..data -> ..<ts>, one symlink per top-level entry into ..data.
 */
function configMapLayout(): string {
  const dir = path.join(work, "relocation-scripts");
  const real = path.join(dir, "..2026_12_07_00_00_00.000000001");
  for (const file of FINGERPRINT_SCRIPT_FILES) {
    mkdirSync(path.dirname(path.join(real, file)), { recursive: true });
    writeFileSync(path.join(real, file), readFileSync(path.join(SCRIPTS, file)), { mode: 0o555 });
  }
  symlinkSync(path.basename(real), path.join(dir, "..data"));
  for (const top of new Set(FINGERPRINT_SCRIPT_FILES.map((f) => f.split("/")[0]!))) {
    symlinkSync(path.join("..data", top), path.join(dir, top));
  }
  return path.join(dir, "fingerprint-old.sh");
}
const SCRIPT = configMapLayout();

const runOld = (env: Record<string, string | undefined>) =>
  run("bash", [SCRIPT], { env, inherit: false });

before(async () => {
  [source, target] = await Promise.all([startCluster(), startCluster()]);
  const seeded = await source.client(
    "psql",
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres"],
    SEED,
  );
  assert.equal(seeded.code, 0, seeded.stderr);
  // The sql-backup image's command, as production makes its dumps.
  const dumped = await source.client("pg_dumpall", ["--clean", "--if-exists"]);
  assert.equal(dumped.code, 0, dumped.stderr);
  dumpFile = path.join(work, "dumpall.sql.gz");
  writeFileSync(dumpFile, execFileSync("gzip", ["-c"], { input: dumped.stdout }));
  // From here on the old server wants the admin password, as production's does.
  await source.query("postgres", `ALTER ROLE postgres PASSWORD '${SECRET}'`);
  writeFileSync(path.join(source.dataDir, "pg_hba.conf"), "local all all scram-sha-256\n");
  await source.query("postgres", "SELECT pg_reload_conf()");
});
after(async () => {
  await Promise.all([source.stop(), target.stop()]);
});

describe("fingerprint-old.sh", () => {
  it("template env (PGADMINPASS, no PGUSER) = summary equal to restore-dump.sh's after restoring the dump", async () => {
    const resultFile = path.join(work, "old-result.json");
    const r = await runOld(templateEnv({ RESULT_FILE: resultFile }));
    assert.equal(r.code, 0, r.stderr);
    const old = lastJson<{ at: string; databases: Record<string, unknown> }>(r.stdout);
    assert.equal(readFileSync(resultFile, "utf8").trim(), r.stdout.trim().split("\n").pop());
    assert.match(old.at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.deepEqual(Object.keys(old.databases), ['Odd "DB"', "keycloak", "postgres"]);
    assert.match(r.stderr, /logged in to .* as postgres \(password: PGADMINPASS\)/);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET));
    assert.ok(readFileSync(resultFile).length < 4096, "fits a termination message");

    const body = readFileSync(dumpFile);
    const restoredFile = path.join(work, "restore-result.json");
    const restored = await run("bash", [RESTORE], {
      env: {
        PATH: `${PG_BIN}:${process.env.PATH}`,
        PGHOST: target.socketDir,
        PGPORT: String(target.port),
        PGUSER: "postgres",
        SOURCE_URI: "s3://relocation/production-db/dumpall.sql.gz",
        EXPECTED_SHA256: sha256(body),
        EXPECTED_SIZE: String(body.length),
        SOURCE_FILE: dumpFile,
        RESULT_FILE: restoredFile,
      },
    });
    assert.equal(restored.code, 0, restored.stderr);
    const summary = (JSON.parse(readFileSync(restoredFile, "utf8")) as { summary: unknown })
      .summary;
    assert.deepEqual(summary, old.databases);
  });

  it("PGPASSWORD, when set, is used rather than PGADMINPASS", async () => {
    const r = await runOld(templateEnv({ PGPASSWORD: SECRET, PGADMINPASS: "wrong" }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\(password: PGPASSWORD\)/);
  });

  it("wrong or missing password = one line naming where the password came from, no secret", async () => {
    const wrong = oneErrorLine(
      await runOld(templateEnv({ PGADMINPASS: "not-the-password" })),
      "fingerprint-old.sh",
    );
    assert.match(wrong, /cannot log in to .* as postgres \(password: PGADMINPASS\): .*password/);
    assert.doesNotMatch(wrong, /not-the-password/);
    const none = oneErrorLine(
      await runOld(templateEnv({ PGADMINPASS: "-" })),
      "fingerprint-old.sh",
    );
    assert.match(none, /password: none of PGPASSWORD, PGADMINPASS, PGPASSFILE or ~\/\.pgpass/);
  });

  it("DATABASE set (the image then runs pg_dump of it) = that database alone, as in the full run; one it lacks = one line", async () => {
    const all = lastJson<{ databases: Record<string, unknown> }>(
      (await runOld(templateEnv())).stdout,
    );
    const r = await runOld(templateEnv({ DATABASE: "keycloak" }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /DATABASE=keycloak: the backup image dumps only that database/);
    assert.deepEqual(lastJson<{ databases: unknown }>(r.stdout).databases, {
      keycloak: all.databases.keycloak,
    });
    const line = oneErrorLine(
      await runOld(templateEnv({ DATABASE: "frag" })),
      "fingerprint-old.sh",
    );
    assert.match(
      line,
      /DATABASE is 'frag' \(the backup CronJob's setting: it dumps only that database\), but .* has no such database$/,
    );
  });

  it("no PGHOST = one line naming it, before any login", async () => {
    const line = oneErrorLine(
      await runOld(templateEnv({ PGHOST: undefined })),
      "fingerprint-old.sh",
    );
    assert.match(line, /PGHOST is not set: the backup CronJob's jobTemplate container/);
  });
});
