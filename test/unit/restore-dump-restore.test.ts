// DumpRestore against mocks: the Job in the database's namespace with its two containers (fetch
// with the aws CLI image, restore with the psql image), the settings taken from the source's
// `backups` entry, the passwords only as secretKeyRefs, the result read back and checked; a
// source entry that breaks the shared contract fails with one line naming the backup.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  assertRestoreJob,
  assertRestoreScripts,
  assertSecretOnlyInSecret,
  envOf,
  type EnvEntry,
  restoreConfig,
  restoreJobS3,
  restoreJobState,
  STACK_DB_RESTORE,
} from "../helpers/destination";
import { useMocks, valueOf, type Recorder } from "../helpers/mocks";
import { collectUnhandledRejections, forgetLeakedPromises, rejection } from "../helpers/rejections";

let rec: Recorder;
let mod: typeof import("../../components/restore/dump-restore");

const SHA = "a".repeat(64);
const ENTRY = {
  bucket: "im-fragalysis",
  key: "production-stack-db/backup-2026-12-07T00:00:00Z-dumpall.sql.gz",
  size: 734003200,
  sha256: SHA,
  sourceTime: "2026-12-07T00:00:00Z",
  capturedAt: "2026-12-07T00:00:00Z",
  rpoSeconds: 60,
};
const TREE = {
  bucket: "im-fragalysis",
  prefix: "production-stack-media/",
  files: 3,
  bytes: 10,
  capturedAt: null,
  rpoSeconds: null,
};
const SUMMARY = {
  frag: { tables: 2, rows: 153, sha256: "b".repeat(64) },
  postgres: { tables: 0, rows: 0, sha256: "c".repeat(64) },
};
const LOGINS = [
  { user: "fragalysis", database: "frag", tables: 42 },
  { user: "admin", database: "postgres", tables: 0 },
];
const resultLine = (sha: string, logins: object[] = []) =>
  JSON.stringify({
    source: `s3://${ENTRY.bucket}/${ENTRY.key}`,
    sha256: sha,
    size: ENTRY.size,
    kind: "cluster",
    dumpedFrom: "15.8 (Debian 15.8-1.pgdg120+1)",
    skippedRoleLines: 3,
    logins,
    summary: SUMMARY,
  });
/** A single-database dump's result (restore-dump.sh with DATABASE_NAME=frag). */
const databaseLine = () =>
  JSON.stringify({
    ...JSON.parse(resultLine(SHA)),
    kind: "database",
    summary: { frag: SUMMARY.frag },
    databaseName: "frag",
    owner: "fragalysis",
    ownerRole: "created",
    databaseCreated: true,
  });
// What scripts/refresh-judge.sh prints: the Job's status, then each pod's.
const judged = (complete: boolean, pod: object) =>
  `${JSON.stringify({ conditions: [{ type: complete ? "Complete" : "Failed", status: "True" }] })}\n${JSON.stringify(pod)}\n`;
const succeeded = (message: string) =>
  judged(true, {
    phase: "Succeeded",
    startTime: "2026-12-07T00:00:00Z",
    initContainerStatuses: [{ name: "fetch", state: { terminated: { exitCode: 0 } } }],
    containerStatuses: [{ name: "restore", state: { terminated: { exitCode: 0, message } } }],
  });
const FETCH_ERROR = `restore-dump.sh: ERROR: /dump/dump.sql.gz has sha256 ${"e".repeat(64)}, EXPECTED_SHA256 is ${SHA}; not the object the backup recorded, nothing restored`;

before(async () => {
  collectUnhandledRejections();
  rec = await useMocks({
    commandStdout: (name) =>
      name === "other-sha-result"
        ? succeeded(resultLine("d".repeat(64)))
        : name === "old-job-result"
          ? succeeded(JSON.stringify({ ...JSON.parse(resultLine(SHA)), logins: undefined }))
          : name === "pgdump-result" || name === "pgdump-unset-result"
            ? succeeded(databaseLine())
            : name === "logins-result"
              ? succeeded(resultLine(SHA, LOGINS))
              : name === "cut-result"
                ? succeeded(resultLine(SHA).slice(0, 300))
                : name === "corrupt-result"
                  ? judged(false, {
                      phase: "Failed",
                      initContainerStatuses: [
                        {
                          name: "fetch",
                          state: {
                            terminated: { exitCode: 1, message: `step fetch\n${FETCH_ERROR}\n` },
                          },
                        },
                      ],
                      containerStatuses: [{ name: "restore", state: { waiting: {} } }],
                    })
                  : succeeded(`some log\n${resultLine(SHA)}\n`),
    state: restoreJobState,
  });
  mod = await import("../../components/restore/dump-restore");
});

after(forgetLeakedPromises);

function database(change: Record<string, unknown> = {}) {
  return restoreConfig({ databases: [{ ...STACK_DB_RESTORE, ...change }] }).databases[0]!;
}

function restore(name: string, backups: unknown, opts: Record<string, unknown> = {}) {
  return new mod.DumpRestore(name, {
    database: database(opts.database as Record<string, unknown>),
    backups,
    ...restoreJobS3(),
    psqlImage: "postgres:15.8",
    ...(opts.deleteDataOnDestroy ? { deleteDataOnDestroy: true } : {}),
  });
}

describe("DumpRestore", () => {
  it("children, Job, containers, env from the source entry, secrets only by reference, result read back", async () => {
    const r = restore("stack-db", { "stack-db": ENTRY, media: TREE });
    assert.deepEqual(await valueOf(r.result), JSON.parse(resultLine(SHA)));
    const job = assertRestoreJob(
      rec,
      "stack-db",
      "relocation:restore:DumpRestore",
      "production-stack",
    );
    assert.equal(job.spec.backoffLimit, 0);
    const pod = job.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 999);
    assert.deepEqual(
      pod.volumes.find((v: any) => v.name === "dump").emptyDir,
      { sizeLimit: "764Mi" }, // 700 MiB + 64
    );

    const [fetch] = pod.initContainers;
    assert.equal(fetch.name, "fetch");
    assert.equal(fetch.image, "amazon/aws-cli:2.31.39");
    assert.deepEqual(fetch.command, ["bash", "/scripts/restore/restore-dump.sh"]);
    const fetchEnv = envOf(fetch.env);
    assert.equal(fetchEnv.FETCH_ONLY, "true");
    assert.equal(fetchEnv.SOURCE_URI, `s3://im-fragalysis/${ENTRY.key}`);
    assert.equal(fetchEnv.EXPECTED_SHA256, SHA);
    assert.equal(fetchEnv.EXPECTED_SIZE, "734003200");
    assert.equal(fetchEnv.SOURCE_FILE, "/dump/dump.sql.gz");
    assert.equal(fetchEnv.AWS_ENDPOINT_URL, "http://s3.example:9000");
    assert.equal(fetchEnv.AWS_DEFAULT_REGION, "eu-central-1");
    const awsSecret = rec.named("stack-db-aws-secret");
    assert.equal(awsSecret.parent, rec.named("stack-db-aws").urn);
    assert.equal((awsSecret.inputs as any).metadata.namespace, "production-stack");
    assert.deepEqual(fetchEnv.AWS_SECRET_ACCESS_KEY, {
      secretKeyRef: { name: "stack-db-aws-secret-1a2b3c", key: "AWS_SECRET_ACCESS_KEY" },
    });
    assert.equal(fetch.securityContext.readOnlyRootFilesystem, true);
    assert.equal(fetch.terminationMessagePolicy, "FallbackToLogsOnError");

    const [main] = pod.containers;
    assert.equal(main.name, "restore");
    assert.equal(main.image, "postgres:15.8");
    assert.deepEqual(main.command, fetch.command);
    const env = envOf(main.env);
    assert.equal(env.FETCH_ONLY, undefined);
    assert.equal(env.AWS_SECRET_ACCESS_KEY, undefined);
    assert.equal(env.SOURCE_FILE, "/dump/dump.sql.gz");
    assert.equal(env.EXPECTED_SHA256, SHA);
    assert.equal(env.ALLOW_NON_EMPTY, "false");
    assert.equal(env.RESULT_FILE, "/dev/termination-log");
    assert.equal(env.PGHOST, "database");
    assert.equal(env.PGPORT, "5432");
    assert.equal(env.PGUSER, "postgres");
    assert.deepEqual(env.PGPASSWORD, { secretKeyRef: { name: "database", key: "root_password" } });
    assert.equal(main.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(
      main.volumeMounts.find((m: any) => m.name === "dump"),
      { name: "dump", mountPath: "/dump", readOnly: true },
    );

    // The scripts, at the paths restore-dump.sh sources them from, with their hash in the pod.
    assertRestoreScripts(
      rec,
      "stack-db",
      "production-stack",
      job,
      ["copy-common.sh", "fingerprint.sh", "restore-dump.sh"],
      ["copy-common.sh", "restore/restore-dump.sh", "restore/fingerprint.sh"],
    );

    const reader = rec.named("stack-db-result").inputs as any;
    assert.match(reader.create, /^# Waits, bounded, until a refresh Job has finished/m);
    assert.equal(reader.environment.NAMESPACE, "production-stack");
    assert.equal(reader.environment.JOB_NAME, "stack-db-job");
    assert.equal(reader.environment.TIMEOUT_SECONDS, String(14400 + 120));
    assert.equal(reader.environment.TIMEOUT_SETTING, "restore.restoreTimeoutSeconds");
    assert.equal(reader.environment.JUDGE_NAME, "restore-judge");
    assert.ok(rec.waitsFor(rec.named("stack-db-result"), rec.named("stack-db-job")));

    // Nothing secret in plain inputs: the access key only in the credentials Secret.
    assertSecretOnlyInSecret(rec, "stack-db");
  });

  it("logins = names as values, each password only as an optional secretKeyRef, none in fetch; results read back", async () => {
    const logins = [
      {
        user: "fragalysis",
        database: "frag",
        passwordSecret: { name: "database", key: "user_password" },
        expectTables: ["django_migrations", "public.auth_user"],
      },
      {
        user: "admin",
        database: "postgres",
        passwordSecret: { name: "database", key: "root_password" },
      },
    ];
    const r = restore("logins", { "stack-db": ENTRY }, { database: { logins } });
    assert.deepEqual((await valueOf(r.result)).logins, LOGINS);
    const pod = (rec.named("logins-job").inputs as any).spec.template.spec;
    const main = pod.containers[0].env as EnvEntry[];
    const env = envOf(main);
    assert.equal(env.LOGIN_COUNT, "2");
    assert.equal(env.LOGIN_0_USER, "fragalysis");
    assert.equal(env.LOGIN_0_DATABASE, "frag");
    assert.equal(env.LOGIN_0_TABLES, "django_migrations public.auth_user");
    assert.equal(env.LOGIN_0_SECRET, "Secret database key user_password");
    assert.equal(env.LOGIN_1_TABLES, "");
    for (const [i, key] of [
      [0, "user_password"],
      [1, "root_password"],
    ] as const) {
      const password = main.find((e) => e.name === `LOGIN_${i}_PASSWORD`)!;
      assert.equal(password.value, undefined);
      assert.deepEqual(password.valueFrom, {
        secretKeyRef: { name: "database", key, optional: true },
      });
    }
    // The superuser's stays required: without it nothing can be restored.
    assert.deepEqual(env.PGPASSWORD, { secretKeyRef: { name: "database", key: "root_password" } });
    const fetch = envOf(pod.initContainers[0].env as EnvEntry[]);
    assert.deepEqual(
      Object.keys(fetch).filter((n) => n.startsWith("LOGIN_")),
      [],
    );
  });

  it("a result without logins (a Job from before they were checked) = read, no logins field", async () => {
    const r = restore("old-job", { "stack-db": ENTRY });
    assert.equal((await valueOf(r.result)).logins, undefined);
  });

  it("a result with other logins than configured = fails naming both lists", async () => {
    const r = restore(
      "other-logins",
      { "stack-db": ENTRY },
      {
        database: {
          logins: [
            { user: "keycloak", database: "keycloak", passwordSecret: { name: "kc", key: "pw" } },
          ],
        },
      },
    );
    assert.equal(
      await rejection(r.result),
      "restore of backup stack-db: the Job checked the logins none, restore.databases[].logins lists keycloak@keycloak; it ran with other settings: delete the Job and run pulumi up again",
    );
  });

  it("database = names as values, the owner's password only as an optional secretKeyRef, none in fetch; the database result read back", async () => {
    const target = {
      name: "frag",
      owner: "fragalysis",
      ownerPasswordSecret: { name: "database", key: "user_password" },
    };
    const r = restore("pgdump", { "stack-db": ENTRY }, { database: { database: target } });
    const result = await valueOf(r.result);
    assert.equal(result.kind, "database");
    assert.deepEqual(result.summary, { frag: SUMMARY.frag });
    if (result.kind === "database") assert.equal(result.ownerRole, "created");
    const pod = (rec.named("pgdump-job").inputs as any).spec.template.spec;
    const main = pod.containers[0].env as EnvEntry[];
    const env = envOf(main);
    assert.equal(env.DATABASE_NAME, "frag");
    assert.equal(env.DATABASE_OWNER, "fragalysis");
    assert.equal(env.DATABASE_OWNER_SECRET, "Secret database key user_password");
    const password = main.find((e) => e.name === "DATABASE_OWNER_PASSWORD")!;
    assert.equal(password.value, undefined);
    assert.deepEqual(password.valueFrom, {
      secretKeyRef: { name: "database", key: "user_password", optional: true },
    });
    const fetch = envOf(pod.initContainers[0].env as EnvEntry[]);
    assert.deepEqual(
      Object.keys(fetch).filter((n) => n.startsWith("DATABASE_")),
      [],
    );
  });

  it("database without ownerPasswordSecret = no password variable at all (the script makes the role NOLOGIN)", () => {
    assert.deepEqual(mod.databaseEnv({ name: "frag", owner: "fragalysis" }), [
      { name: "DATABASE_NAME", value: "frag" },
      { name: "DATABASE_OWNER", value: "fragalysis" },
    ]);
    assert.deepEqual(mod.databaseEnv(undefined), []);
  });

  it("a single-database result while database is not set = fails: the Job ran with other settings", async () => {
    const r = restore("pgdump-unset", { "stack-db": ENTRY });
    assert.equal(
      await rejection(r.result),
      "restore of backup stack-db: the Job restored a single-database dump into frag, restore.databases[].database.name is not set; it ran with other settings: delete the Job and run pulumi up again",
    );
  });

  it("a whole-server result with database set = read (the dump's own CREATE DATABASE applied)", async () => {
    const r = restore(
      "cluster-with-target",
      { "stack-db": ENTRY },
      { database: { database: { name: "frag", owner: "fragalysis" } } },
    );
    assert.equal((await valueOf(r.result)).kind, "cluster");
  });

  it("no logins = LOGIN_COUNT=0 and nothing else", async () => {
    const r = restore("no-logins", { "stack-db": ENTRY });
    await valueOf(r.result);
    const env = (rec.named("no-logins-job").inputs as any).spec.template.spec.containers[0]
      .env as EnvEntry[];
    assert.deepEqual(
      env.filter((e) => e.name.startsWith("LOGIN_")),
      [{ name: "LOGIN_COUNT", value: "0" }],
    );
  });

  it("allowNonEmpty: true = ALLOW_NON_EMPTY=true; deleteDataOnDestroy = the Job is deleted on destroy", async () => {
    const r = restore(
      "forced",
      { "stack-db": ENTRY },
      { database: { allowNonEmpty: true }, deleteDataOnDestroy: true },
    );
    await valueOf(r.result);
    const job = rec.named("forced-job");
    assert.equal(job.retainOnDelete, false);
    const env = envOf((job.inputs as any).spec.template.spec.containers[0].env);
    assert.equal(env.ALLOW_NON_EMPTY, "true");
  });

  const broken: Array<[string, unknown, RegExp]> = [
    [
      "size as a string = the backup, the field and the contract",
      { "stack-db": { ...ENTRY, size: "734003200" } },
      /^restore of backup stack-db: the source stack's output does not match the shared contract \(components\/shared\/outputs\.ts\): backups\.stack-db\.size: .*; is the backup stack at the same version of this program\?$/,
    ],
    [
      "sha256 not hex = the field named",
      { "stack-db": { ...ENTRY, sha256: "xyz" } },
      /^restore of backup stack-db: .*backups\.stack-db\.sha256: a lower-case hex SHA-256/,
    ],
    [
      "no such backup = the names it has",
      { "keycloak-db": ENTRY, media: TREE },
      /^restore of backup stack-db: the source stack's backups output has no entry "stack-db" \(it has: keycloak-db, media\); set restore\.databases\[\]\.backup to one of them$/,
    ],
    [
      "a tree = not a dump",
      { "stack-db": TREE },
      /^restore of backup stack-db: backups\.stack-db is a tree \(files under a prefix\), not a dump/,
    ],
    [
      "no backups output at all = run the backup stack first",
      undefined,
      /^restore of backup stack-db: the source stack has no backups output/,
    ],
  ];
  broken.forEach(([name, backups, pattern], i) => {
    it(`source entry: ${name}`, async () => {
      const r = restore(`broken${i}`, backups);
      assert.match(await rejection(r.entry), pattern);
      assert.equal(await rejection(r.result).then((m) => pattern.test(m)), true);
    });
  });

  it("a result for another object = fails naming both hashes", async () => {
    const r = restore("other-sha", { "stack-db": ENTRY });
    assert.match(
      await rejection(r.result),
      new RegExp(
        `^restore of backup stack-db: the Job restored sha256 d{64}, the source recorded ${SHA}$`,
      ),
    );
  });

  it("a failed fetch (altered object) = fails with its ERROR line and how to run it again", async () => {
    const r = restore("corrupt", { "stack-db": ENTRY });
    const message = await rejection(r.result);
    assert.equal(
      message,
      `restore of backup stack-db: Job production-stack/corrupt-job failed in container fetch (exit 1): ${FETCH_ERROR}; once the cause is fixed, run it again: kubectl -n production-stack delete job corrupt-job, then pulumi up --refresh`,
    );
  });

  it("a result cut short (termination message limit) = fails pointing at the pod's log", async () => {
    const r = restore("cut", { "stack-db": ENTRY });
    assert.match(
      await rejection(r.result),
      /^restore of backup stack-db: the Job's result is not JSON .*a termination message holds 4 KiB: see the last line of the pod's log/,
    );
  });

  it("dumpVolumeLimit: a zero-byte and a 1-byte dump still get 64 MiB of room", () => {
    assert.equal(mod.dumpVolumeLimit(0), "64Mi");
    assert.equal(mod.dumpVolumeLimit(1), "65Mi");
    assert.equal(mod.dumpVolumeLimit(2 ** 30), "1088Mi");
  });
});
