// Config validation: the production file parses; each broken setting fails with its full key.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, formatKey, parseConfig, parseStackConfig } from "../../components/config";
import { readStackSettings, stackFilePath } from "../../components/stack-file";

const production = () => readStackSettings(stackFilePath("production"));
const withSecrets = (raw: Record<string, string>): Record<string, string> => ({
  ...raw,
  sshPrivateKey: "k",
});

function problemsOf(raw: Record<string, string>): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  return [];
}

/** Production settings with one JSON-valued key edited. */
function edit(key: string, change: (value: any) => any): Record<string, string> {
  const raw = withSecrets(production());
  raw[key] = JSON.stringify(change(JSON.parse(raw[key]!)));
  return raw;
}

describe("production config", () => {
  it("production file with the ssh key set = valid, runbook values", () => {
    const c = parseConfig(withSecrets(production()));
    assert.deepEqual(c.quiesce, [
      { namespace: "production-stack", statefulSet: "stack" },
      { namespace: "im-infra", statefulSet: "keycloak" },
    ]);
    assert.equal(c.nfs.host, "192.168.253.39");
    assert.equal(c.bucket.name, "im-fragalysis");
    assert.equal(c.bucket.create, false);
    assert.equal(c.aws.region, "eu-central-1");
    assert.deepEqual(
      c.backups.map((b) => [b.name, b.kind, b.prefix, b.executor]),
      [
        ["keycloak-db", "latest", "production-keycloak-db/", "ssh"],
        ["stack-db", "latest", "production-stack-db/", "ssh"],
        ["stack-media", "tree", "production-stack-media/", "ssh"],
      ],
    );
    assert.match(c.backups[0]!.sourceDir, /im-infra-pg-bu-pvc-5fad6224.*\/hourly$/);
    assert.equal(c.backups[2]!.sourceDir, "/nfs/kubernetes-media-replica");
    assert.deepEqual(
      c.envDump.pods.map((p) => `${p.namespace}/${p.pod}`),
      [
        "production-stack/database-0",
        "production-stack/stack-0",
        "im-infra/database-0",
        "im-infra/keycloak-0",
      ],
    );
    assert.equal(c.quiesceTimeoutSeconds, 600);
    // Survives a reboot and tmp cleaners (not under /tmp).
    assert.equal(c.nfs.scriptDir, "/var/lib/fragalysis-relocation");
    assert.equal(c.jobs.createNamespace, true);
    assert.deepEqual(
      c.backups.map((b) => b.refresh?.cronJob ?? b.refresh?.liveVolume),
      [
        "im-infra/postgres-backup-hourly",
        "production-stack/postgres-backup-hourly",
        "production-stack/media",
      ],
    );
    assert.deepEqual(
      [c.backups[0]!.refresh?.waitSeconds, c.backups[0]!.refresh?.timeoutSeconds],
      [900, 3600],
    );
  });

  it("ed25519 and ecdsa host keys = accepted, each problem once", () => {
    for (const key of [
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB",
      "ecdsa-sha2-nistp256 AAAAE2VjZHNh",
    ]) {
      const raw = edit("nfs", (n) => ({ ...n, hostKey: key }));
      assert.equal(parseConfig(withSecrets(raw)).nfs.hostKey, key);
    }
    const rsa = edit("nfs", (n) => ({ ...n, hostKey: "ssh-rsa AAAAB3NzaC1yc2E" }));
    assert.equal(problemsOf(rsa).length, 1, problemsOf(rsa).join("\n"));
  });

  it("jobs.createNamespace false = use the existing namespace", () => {
    const raw = {
      ...withSecrets(production()),
      jobs: JSON.stringify({ namespace: "sandbox-jobs", createNamespace: false }),
    };
    const c = parseConfig(raw);
    assert.deepEqual([c.jobs.namespace, c.jobs.createNamespace], ["sandbox-jobs", false]);
  });

  it("production file without the ssh key = one problem naming sshPrivateKey", () => {
    assert.deepEqual(
      problemsOf(production()).map((p) => p.split(":").slice(0, 2).join(":")),
      ["fragalysis-relocation:sshPrivateKey"],
    );
  });

  it("secret values never appear in messages", () => {
    const raw = { ...edit("quiesce", () => "bad"), awsSecretAccessKey: "TOPSECRETVALUE" };
    const message = problemsOf(raw).join("\n");
    assert.doesNotMatch(message, /TOPSECRETVALUE/);
  });
});

describe("invalid config = one line naming the full key", () => {
  const cases: Array<[string, () => Record<string, string>, string, RegExp]> = [
    [
      "namespace with capitals",
      () => edit("quiesce", (q) => [q[0], { ...q[1], namespace: "Im_Infra" }]),
      "quiesce[1].namespace",
      /lowercase/,
    ],
    [
      "statefulSet missing",
      () => edit("quiesce", () => [{ namespace: "x" }]),
      "quiesce[0].statefulSet",
      /required/,
    ],
    [
      "typo in a quiesce entry",
      () => edit("quiesce", (q) => [{ ...q[0], statefullSet: "x" }]),
      "quiesce[0].statefullSet",
      /unknown setting/,
    ],
    ["empty quiesce list", () => edit("quiesce", () => []), "quiesce", /at least one/],
    [
      "duplicate StatefulSet",
      () => edit("quiesce", (q) => [q[0], q[0]]),
      "quiesce[1]",
      /duplicate/,
    ],
    [
      "unknown top-level key",
      () => ({ ...withSecrets(production()), quiesceTimeout: "5" }),
      "quiesceTimeout",
      /unknown setting/,
    ],
    [
      "timeout not a number",
      () => ({ ...withSecrets(production()), quiesceTimeoutSeconds: "soon" }),
      "quiesceTimeoutSeconds",
      /whole seconds/,
    ],
    [
      "timeout zero",
      () => ({ ...withSecrets(production()), quiesceTimeoutSeconds: "0" }),
      "quiesceTimeoutSeconds",
      /between 1 and 3600/,
    ],
    ["nfs host missing", () => edit("nfs", ({ host, ...rest }) => rest), "nfs.host", /required/],
    [
      "nfs port out of range",
      () => edit("nfs", (n) => ({ ...n, port: 70000 })),
      "nfs.port",
      /1 to 65535/,
    ],
    [
      "bad host key",
      () => edit("nfs", (n) => ({ ...n, hostKey: "not a key" })),
      "nfs.hostKey",
      /ssh-ed25519/,
    ],
    [
      "ssh-rsa host key",
      () => edit("nfs", (n) => ({ ...n, hostKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7" })),
      "nfs.hostKey",
      /ssh-rsa host keys fail against OpenSSH >= 8\.8.*ed25519 or ecdsa key.*ssh-keyscan/,
    ],
    [
      "host key of a type the client cannot pin",
      () => edit("nfs", (n) => ({ ...n, hostKey: "ssh-dss AAAAB3NzaC1kc3MAAACBAP" })),
      "nfs.hostKey",
      /ssh-ed25519, ecdsa-sha2-nistp256/,
    ],
    [
      "jobs.createNamespace not a boolean",
      () => ({ ...withSecrets(production()), jobs: JSON.stringify({ createNamespace: "no" }) }),
      "jobs.createNamespace",
      /true or false/,
    ],
    [
      "bucket with capitals",
      () => edit("bucket", (b) => ({ ...b, name: "IM_Fragalysis" })),
      "bucket.name",
      /bucket name/,
    ],
    [
      "region malformed",
      () => edit("aws", (a) => ({ ...a, region: "europe" })),
      "aws.region",
      /eu-central-1/,
    ],
    [
      "endpoint not a URL",
      () => edit("aws", (a) => ({ ...a, endpoint: "localhost" })),
      "aws.endpoint",
      /URL/,
    ],
    [
      "prefix with leading slash",
      () => edit("backups", (b) => [{ ...b[0], prefix: "/keycloak/" }, b[1], b[2]]),
      "backups[0].prefix",
      /relative S3 prefix/,
    ],
    [
      "prefix without trailing slash",
      () => edit("backups", (b) => [b[0], { ...b[1], prefix: "stack-db" }, b[2]]),
      "backups[1].prefix",
      /ending in '\/'/,
    ],
    [
      "relative source dir",
      () => edit("backups", (b) => [b[0], b[1], { ...b[2], sourceDir: "media" }]),
      "backups[2].sourceDir",
      /absolute path/,
    ],
    [
      "unknown kind",
      () => edit("backups", (b) => [{ ...b[0], kind: "newest" }, b[1], b[2]]),
      "backups[0].kind",
      /latest/,
    ],
    [
      "unknown executor",
      () => edit("backups", (b) => [{ ...b[0], executor: "kubectl" }, b[1], b[2]]),
      "backups[0].executor",
      /"ssh" or "job"/,
    ],
    [
      "two backups share a prefix",
      () => edit("backups", (b) => [b[0], { ...b[1], prefix: b[0].prefix }, b[2]]),
      "backups[1].prefix",
      /own prefix/,
    ],
    [
      "duplicate backup names",
      () => edit("backups", (b) => [b[0], { ...b[1], name: b[0].name }, b[2]]),
      "backups[1].name",
      /unique/,
    ],
    [
      "notBefore not UTC",
      () => edit("backups", (b) => [{ ...b[0], notBefore: "2023-10-16 12:00" }, b[1], b[2]]),
      "backups[0].notBefore",
      /ISO-8601/,
    ],
    [
      "select on a tree",
      () => edit("backups", (b) => [b[0], b[1], { ...b[2], select: "x" }]),
      "backups[2].select",
      /only for kind "latest"/,
    ],
    [
      "allowEmpty not a boolean",
      () => edit("backups", (b) => [b[0], b[1], { ...b[2], allowEmpty: "yes" }]),
      "backups[2].allowEmpty",
      /true or false/,
    ],
    [
      "rehash not a boolean",
      () => edit("backups", (b) => [b[0], b[1], { ...b[2], rehash: "yes" }]),
      "backups[2].rehash",
      /true or false/,
    ],
    [
      "rehash on a dump",
      () => edit("backups", (b) => [{ ...b[0], rehash: true }, b[1], b[2]]),
      "backups[0].rehash",
      /only for kind "tree"/,
    ],
    [
      "shards with ssh",
      () => edit("backups", (b) => [b[0], b[1], { ...b[2], shards: 4 }]),
      "backups[2].shards",
      /executor "job"/,
    ],
    [
      "dump without refresh and without maxRpoSeconds",
      () => edit("backups", (b) => [{ ...b[0], refresh: undefined }, b[1], b[2]]),
      "backups[0].maxRpoSeconds",
      /required without refresh: .*seconds of writes before the quiesce.*or set refresh/,
    ],
    [
      "tree without refresh and without maxRpoSeconds",
      () => edit("backups", (b) => [b[0], b[1], { ...b[2], refresh: undefined }]),
      "backups[2].maxRpoSeconds",
      /required without refresh/,
    ],
    [
      "maxRpoSeconds beside refresh",
      () => edit("backups", (b) => [{ ...b[0], maxRpoSeconds: 60 }, b[1], b[2]]),
      "backups[0].maxRpoSeconds",
      /not used with refresh/,
    ],
    [
      "dump refresh without cronJob",
      () => edit("backups", (b) => [{ ...b[0], refresh: {} }, b[1], b[2]]),
      "backups[0].refresh.cronJob",
      /required for a "latest" backup/,
    ],
    [
      "tree refresh with a cronJob instead of liveVolume",
      () =>
        edit("backups", (b) => [
          b[0],
          b[1],
          { ...b[2], refresh: { cronJob: "production-stack/media-replicator" } },
        ]),
      "backups[2].refresh.liveVolume",
      /required for a "tree" backup/,
    ],
    [
      "cronJob not namespace/name",
      () =>
        edit("backups", (b) => [
          { ...b[0], refresh: { cronJob: "postgres-backup-hourly" } },
          b[1],
          b[2],
        ]),
      "backups[0].refresh.cronJob",
      /"namespace\/name"/,
    ],
    [
      "unknown refresh key",
      () => edit("backups", (b) => [{ ...b[0], refresh: { cronjob: "im-infra/x" } }, b[1], b[2]]),
      "backups[0].refresh.cronjob",
      /unknown setting/,
    ],
    [
      "select beside refresh.cronJob",
      () => edit("backups", (b) => [{ ...b[0], select: "backup-x.sql.gz" }, b[1], b[2]]),
      "backups[0].select",
      /not with refresh.cronJob/,
    ],
    [
      "liveVolume beside a pvc (the Job mounts the live volume itself)",
      () =>
        edit("backups", (b) => [b[0], b[1], { ...b[2], executor: "job", pvc: "media-replica" }]),
      "backups[2].pvc",
      /not with refresh.liveVolume/,
    ],
    [
      "name too long for the refresh Job",
      () => edit("backups", (b) => [{ ...b[0], name: "k".repeat(50) }, b[1], b[2]]),
      "backups[0].name",
      /at most 44 characters with refresh.cronJob/,
    ],
    [
      "env dump pod missing name",
      () => edit("envDump", (e) => ({ ...e, pods: [{ namespace: "im-infra" }] })),
      "envDump.pods[0].pod",
      /required/,
    ],
    [
      "env dump executor unknown",
      () => edit("envDump", (e) => ({ ...e, executor: "ssh" })),
      "envDump.executor",
      /"job" or "local"/,
    ],
    [
      "bring-your-own without keys",
      () => edit("aws", (a) => ({ ...a, manage: false })),
      "awsAccessKeyId",
      /required secret/,
    ],
    [
      "bucket created in bring-your-own mode",
      () => {
        const raw = edit("aws", (a) => ({ ...a, manage: false }));
        raw.bucket = JSON.stringify({ name: "im-fragalysis", create: true });
        return { ...raw, awsAccessKeyId: "id", awsSecretAccessKey: "secret" };
      },
      "bucket.create",
      /needs aws.manage: true/,
    ],
    [
      "backups not JSON",
      () => ({ ...withSecrets(production()), backups: "keycloak" }),
      "backups",
      /list of backups/,
    ],
  ];

  for (const [condition, raw, key, message] of cases) {
    it(`${condition} = error at ${key}`, () => {
      const problems = problemsOf(raw());
      const line = problems.find((p) => p.startsWith(`${formatKey([])}${key}: `));
      assert.ok(line, `no problem for ${key}; got:\n${problems.join("\n")}`);
      assert.match(line, message);
      assert.ok(!line.includes("\n"), "one line per problem");
    });
  }

  it("no refresh, maxRpoSeconds set = valid", () => {
    const raw = edit("backups", (b) =>
      b.map((x: any) => ({ ...x, refresh: undefined, maxRpoSeconds: 3600 })),
    );
    assert.deepEqual(problemsOf(raw), []);
  });

  it("several problems = all reported at once, one line each", () => {
    const raw = edit("nfs", (n) => ({ ...n, port: 0, user: "Root" }));
    raw.quiesceTimeoutSeconds = "-1";
    const err = (() => {
      try {
        parseConfig(raw);
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("expected an error");
    })();
    assert.deepEqual(err.problems.map((p) => p.slice(0, p.indexOf(": "))).sort(), [
      "fragalysis-relocation:nfs.port",
      "fragalysis-relocation:nfs.user",
      "fragalysis-relocation:quiesceTimeoutSeconds",
    ]);
    assert.match(err.message, /^3 configuration problem\(s\)/);
  });
});

describe("side = which half of the move a stack runs", () => {
  const destination = () => readStackSettings(stackFilePath("destination"));
  const restoreSecrets = { awsAccessKeyId: "AKIA", awsSecretAccessKey: "TOPSECRETVALUE" };
  function stackProblems(raw: Record<string, string>): string[] {
    try {
      parseStackConfig(raw);
    } catch (err) {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      return err.problems;
    }
    return [];
  }
  const keys = (problems: string[]) => problems.map((p) => p.split(": ")[0]);

  it("side unset = backup, the production file as parseConfig reads it", () => {
    const c = parseStackConfig(withSecrets(production()));
    assert.equal(c.side, "backup");
    assert.deepEqual(c.side === "backup" && c.backup, parseConfig(withSecrets(production())));
  });

  it("side backup set explicitly = the same", () => {
    const c = parseStackConfig({ ...withSecrets(production()), side: "backup" });
    assert.equal(c.side, "backup");
  });

  it("side neither backup nor restore = one line naming side and both values", () => {
    const problems = stackProblems({ ...withSecrets(production()), side: "Restore" });
    assert.deepEqual(keys(problems), ["fragalysis-relocation:side"]);
    assert.match(problems[0]!, /"backup" .* or "restore"/);
  });

  it("side backup with a restore key = error at restore, naming side: restore", () => {
    const raw = { ...withSecrets(production()), restore: destination().restore! };
    const problems = stackProblems(raw);
    assert.deepEqual(keys(problems), ["fragalysis-relocation:restore"]);
    assert.match(problems[0]!, /restore-side setting; set side: restore/);
  });

  it("destination file with the read key set = valid restore side, upstream's names", () => {
    const c = parseStackConfig({ ...destination(), ...restoreSecrets });
    assert.equal(c.side, "restore");
    if (c.side !== "restore") return;
    assert.equal(c.restore.source, "organization/fragalysis-relocation/production");
    assert.deepEqual(
      c.restore.databases.map((d) => [
        d.backup,
        `${d.namespace}/${d.statefulSet}`,
        d.host,
        d.user,
        `${d.passwordSecret.name}.${d.passwordSecret.key}`,
      ]),
      [
        [
          "keycloak-db",
          "im-infra/database",
          "database",
          "admin",
          "im-postgres.database_admin_user_password",
        ],
        ["stack-db", "production-stack/database", "database", "postgres", "database.root_password"],
      ],
    );
    assert.deepEqual(c.restore.scaleUp, []);
    assert.deepEqual(
      c.restore.media.map((m) => [m.backup, `${m.namespace}/${m.pvc}`, m.runAsUser, m.runAsGroup]),
      [["stack-media", "production-stack/media", 0, 0]],
    );
  });

  it("destination file's backups = entries the production stack writes (media: a tree)", () => {
    const c = parseStackConfig({ ...destination(), ...restoreSecrets });
    const backups = parseConfig(withSecrets(production())).backups;
    const written = backups.map((b) => b.name);
    if (c.side !== "restore") assert.fail("not a restore stack");
    for (const d of c.restore.databases) assert.ok(written.includes(d.backup), d.backup);
    for (const m of c.restore.media) {
      const b = backups.find((x) => x.name === m.backup);
      assert.equal(b?.kind, "tree", m.backup);
    }
  });

  it("side restore with backup-side keys = one line per key naming it, nothing else parsed away", () => {
    const raw = { ...withSecrets(production()), ...destination(), ...restoreSecrets };
    const problems = stackProblems(raw);
    assert.deepEqual(keys(problems).sort(), [
      "fragalysis-relocation:aws",
      "fragalysis-relocation:backups",
      "fragalysis-relocation:bucket",
      "fragalysis-relocation:envDump",
      "fragalysis-relocation:nfs",
      "fragalysis-relocation:quiesce",
      "fragalysis-relocation:sshPrivateKey",
    ]);
    for (const p of problems) assert.match(p, /a backup-side setting, not used with side: restore/);
  });

  it("side restore with an unknown key = unknown setting (a typo?)", () => {
    const problems = stackProblems({ ...destination(), ...restoreSecrets, restor: "{}" });
    assert.deepEqual(problems, [
      "fragalysis-relocation:restor: unknown setting (a typo?); remove it or see the README's restore settings",
    ]);
  });

  it("side restore without the restore key = required, no backup-side key required", () => {
    const problems = stackProblems({ side: "restore", ...restoreSecrets });
    assert.deepEqual(keys(problems), ["fragalysis-relocation:restore"]);
    assert.match(problems[0]!, /required/);
  });

  it("side restore without the read key = both secrets named, values never printed", () => {
    const problems = stackProblems(destination());
    assert.deepEqual(keys(problems), [
      "fragalysis-relocation:awsAccessKeyId",
      "fragalysis-relocation:awsSecretAccessKey",
    ]);
    const withBad = stackProblems({ ...destination(), ...restoreSecrets, quiesce: "bad" });
    assert.ok(!withBad.join("\n").includes("TOPSECRETVALUE"));
  });

  it("side restore with a broken restore setting = its full key, with the backup-side keys' lines", () => {
    const restore = JSON.parse(destination().restore!);
    restore.databases[1].namespace = "Production_Stack";
    const raw = {
      ...destination(),
      ...restoreSecrets,
      restore: JSON.stringify(restore),
      nfs: "{}",
    };
    assert.deepEqual(keys(stackProblems(raw)), [
      "fragalysis-relocation:nfs",
      "fragalysis-relocation:restore.databases[1].namespace",
    ]);
  });
});
