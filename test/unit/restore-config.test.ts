// The restore side's settings: defaults, and each broken setting = one line with its full key.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../components/config";
import { DEFAULT_PSQL_IMAGE, parseRestoreConfig } from "../../components/restore/config";

const SECRETS = { awsAccessKeyId: "AKIAEXAMPLE", awsSecretAccessKey: "not-printed-secret" };

/** The production-shaped restore settings (Keycloak's and the stack's servers). */
function valid(): any {
  return {
    source: "organization/fragalysis-relocation/production",
    aws: { region: "eu-central-1" },
    databases: [
      {
        backup: "keycloak-db",
        namespace: "im-infra",
        statefulSet: "database",
        host: "database",
        passwordSecret: { name: "im-postgres", key: "database_admin_user_password" },
      },
      {
        backup: "stack-db",
        namespace: "production-stack",
        statefulSet: "database",
        host: "database",
        passwordSecret: { name: "database", key: "root_password" },
      },
    ],
    media: [{ backup: "stack-media", namespace: "production-stack", pvc: "media" }],
    scaleUp: [
      { namespace: "im-infra", statefulSet: "keycloak" },
      { namespace: "production-stack", statefulSet: "stack" },
    ],
  };
}

/** The stack's login (restore.databases[].logins[]). */
function login(): any {
  return {
    user: "fragalysis",
    database: "frag",
    passwordSecret: { name: "database", key: "user_password" },
  };
}

function problemsOf(value: unknown, secrets: Record<string, string> = SECRETS): string[] {
  try {
    parseRestoreConfig(value, secrets);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  return [];
}

function edited(change: (c: any) => void): any {
  const c = valid();
  change(c);
  return c;
}

describe("restore config", () => {
  it("production-shaped settings = valid, defaults filled in", () => {
    const c = parseRestoreConfig(valid(), SECRETS);
    assert.equal(c.psqlImage, DEFAULT_PSQL_IMAGE);
    assert.equal(c.psqlImage, "postgres:15.8");
    assert.deepEqual(c.jobs, {
      namespace: "fragalysis-relocation",
      image: "amazon/aws-cli:2.31.39",
      createNamespace: true,
    });
    assert.equal(c.deleteDataOnDestroy, false);
    assert.equal(c.restoreTimeoutSeconds, 14400);
    assert.equal(c.scaleUpTimeoutSeconds, 900);
    assert.equal(c.databases[0]!.port, 5432);
    assert.equal(c.databases[0]!.user, "postgres");
    assert.equal(c.databases[0]!.allowNonEmpty, false);
    assert.deepEqual(c.databases[0]!.logins, []);
    assert.equal(c.databases[0]!.database, undefined);
    const target = {
      name: "frag",
      owner: "fragalysis",
      ownerPasswordSecret: { name: "database", key: "user_password" },
    };
    assert.deepEqual(
      parseRestoreConfig(
        edited((x) => (x.databases[1].database = target)),
        SECRETS,
      ).databases[1]!.database,
      target,
    );
    assert.deepEqual(
      parseRestoreConfig(
        edited((x) => (x.databases[1].logins = [login()])),
        SECRETS,
      ).databases[1]!.logins,
      [{ ...login(), expectTables: [] }],
    );
    assert.deepEqual(
      parseRestoreConfig(
        edited((x) => delete x.scaleUp),
        SECRETS,
      ).scaleUp,
      [],
    );
    assert.deepEqual(c.media, [
      {
        backup: "stack-media",
        namespace: "production-stack",
        pvc: "media",
        allowOverwrite: false,
        runAsUser: 0,
        runAsGroup: 0,
      },
    ]);
    assert.deepEqual(
      parseRestoreConfig(
        edited((x) => delete x.media),
        SECRETS,
      ).media,
      [],
    );
  });

  const cases: Array<[string, (c: any) => void, string[]]> = [
    [
      "no source = required, with an example",
      (c) => delete c.source,
      [
        'fragalysis-relocation:restore.source: required; a stack name such as "organization/fragalysis-relocation/production"',
      ],
    ],
    [
      "source with a space = invalid stack name",
      (c) => (c.source = "org/proj/prod uction"),
      [
        'fragalysis-relocation:restore.source: a Pulumi stack name "organization/project/stack", e.g. "organization/fragalysis-relocation/production"',
      ],
    ],
    [
      "no databases = at least one",
      (c) => (c.databases = []),
      ["fragalysis-relocation:restore.databases: list at least one database to restore"],
    ],
    [
      "upper-case namespace = the key and the fix",
      (c) => (c.databases[1].namespace = "Production"),
      [
        `fragalysis-relocation:restore.databases[1].namespace: lowercase letters, digits and '-' only, e.g. "production-stack"`,
      ],
    ],
    [
      "passwordSecret without key = required",
      (c) => delete c.databases[0].passwordSecret.key,
      [
        'fragalysis-relocation:restore.databases[0].passwordSecret.key: required; a key of the Secret such as "root_password"',
      ],
    ],
    [
      "allowNonEmpty as a string = true or false",
      (c) => (c.databases[0].allowNonEmpty = "yes"),
      ["fragalysis-relocation:restore.databases[0].allowNonEmpty: invalid; true or false"],
    ],
    [
      "scaleUp from not namespace/name = the key and an example",
      (c) => (c.scaleUp = [{ namespace: "a", statefulSet: "b", from: "stack" }]),
      [
        'fragalysis-relocation:restore.scaleUp[0].from: the old cluster\'s "namespace/statefulSet", e.g. "production-stack/stack"',
      ],
    ],
    [
      "scaleUpTimeoutSeconds 0 = the key and the range",
      (c) => (c.scaleUpTimeoutSeconds = 0),
      [
        "fragalysis-relocation:restore.scaleUpTimeoutSeconds: whole seconds between 1 and 86400, e.g. 900",
      ],
    ],
    [
      "the same backup twice = duplicate",
      (c) => (c.databases[1].backup = "keycloak-db"),
      [
        "fragalysis-relocation:restore.databases[1].backup: duplicate of databases[0].backup; restore each dump once",
      ],
    ],
    [
      "two dumps into one server = refused",
      (c) => (c.databases[1].namespace = "im-infra"),
      [
        "fragalysis-relocation:restore.databases[1].statefulSet: same server as databases[0] (im-infra/database); one whole-server dump per server (the second would find it non-empty)",
      ],
    ],
    [
      "a database StatefulSet in scaleUp = remove it",
      (c) => c.scaleUp.push({ namespace: "production-stack", statefulSet: "database" }),
      [
        "fragalysis-relocation:restore.scaleUp[2]: production-stack/database is databases[1].statefulSet, which must already run for its restore; remove it from scaleUp",
      ],
    ],
    [
      "media without pvc = required, with an example",
      (c) => delete c.media[0].pvc,
      ['fragalysis-relocation:restore.media[0].pvc: required; a Kubernetes name such as "media"'],
    ],
    [
      "media as an object = a list",
      (c) => (c.media = { backup: "stack-media" }),
      [
        "fragalysis-relocation:restore.media: invalid; a list such as [{backup: stack-media, namespace: production-stack, pvc: media}]",
      ],
    ],
    [
      "runAsUser negative, runAsGroup a string = both named",
      (c) => {
        c.media[0].runAsUser = -1;
        c.media[0].runAsGroup = "www-data";
      },
      [
        "fragalysis-relocation:restore.media[0].runAsUser: a uid from 0 to 2147483647, e.g. 0",
        "fragalysis-relocation:restore.media[0].runAsGroup: invalid; a gid from 0 to 2147483647, e.g. 0",
      ],
    ],
    [
      "allowOverwrite as a string = true or false",
      (c) => (c.media[0].allowOverwrite = "yes"),
      ["fragalysis-relocation:restore.media[0].allowOverwrite: invalid; true or false"],
    ],
    [
      "the same tree twice = duplicate (and the same PVC)",
      (c) => c.media.push({ backup: "stack-media", namespace: "production-stack", pvc: "media" }),
      [
        "fragalysis-relocation:restore.media[1].backup: duplicate of media[0].backup; restore each tree once",
        "fragalysis-relocation:restore.media[1].pvc: same PVC as media[0] (production-stack/media); one tree per volume (two Jobs would write the same staging area)",
      ],
    ],
    [
      "a dump named as media = name it in one list",
      (c) => c.media.push({ backup: "stack-db", namespace: "production-stack", pvc: "other" }),
      [
        "fragalysis-relocation:restore.media[1].backup: also databases[1].backup; a backup is a dump or a tree, name it in one list",
      ],
    ],
    [
      "typo in a media key = unknown setting",
      (c) => (c.media[0].allowOverwrites = true),
      [
        "fragalysis-relocation:restore.media[0].allowOverwrites: unknown setting (a typo?); remove it or see the README's restore settings",
      ],
    ],
    [
      "typo in a key = unknown setting",
      (c) => (c.databases[0].alowNonEmpty = true),
      [
        "fragalysis-relocation:restore.databases[0].alowNonEmpty: unknown setting (a typo?); remove it or see the README's restore settings",
      ],
    ],
    [
      "login without passwordSecret = required, with an example",
      (c) => (c.databases[1].logins = [{ user: "fragalysis", database: "frag" }]),
      [
        "fragalysis-relocation:restore.databases[1].logins[0].passwordSecret: required; an object such as {name: database, key: user_password}",
      ],
    ],
    [
      "login with a quoted role and an upper-case table = both named",
      (c) =>
        (c.databases[1].logins = [
          { ...login(), user: '"frag user"', expectTables: ["Django_Migrations"] },
        ]),
      [
        'fragalysis-relocation:restore.databases[1].logins[0].user: a PostgreSQL role name, e.g. "fragalysis"',
        'fragalysis-relocation:restore.databases[1].logins[0].expectTables[0]: an unquoted lower-case table name, optionally schema-qualified, e.g. "django_migrations" or "public.django_migrations"',
      ],
    ],
    [
      "logins as an object = a list",
      (c) => (c.databases[1].logins = login()),
      [
        "fragalysis-relocation:restore.databases[1].logins: invalid; a list such as [{user: fragalysis, database: frag, passwordSecret: {name: database, key: user_password}}]",
      ],
    ],
    [
      "the same login twice = duplicate",
      (c) => (c.databases[1].logins = [login(), { ...login(), expectTables: ["x"] }]),
      [
        "fragalysis-relocation:restore.databases[1].logins[1]: duplicate of logins[0] (fragalysis to frag); list each login once",
      ],
    ],
    [
      "nine logins = at most eight",
      (c) =>
        (c.databases[1].logins = Array.from({ length: 9 }, (_, i) => ({
          ...login(),
          user: `u${i}`,
        }))),
      [
        "fragalysis-relocation:restore.databases[1].logins: at most 8 logins per database (their results share the Job's 4 KiB termination message)",
      ],
    ],
    [
      "typo in a login key = unknown setting",
      (c) => (c.databases[1].logins = [{ ...login(), expectTable: ["django_migrations"] }]),
      [
        "fragalysis-relocation:restore.databases[1].logins[0].expectTable: unknown setting (a typo?); remove it or see the README's restore settings",
      ],
    ],
    [
      "database without owner = required, with an example",
      (c) => (c.databases[1].database = { name: "frag" }),
      [
        'fragalysis-relocation:restore.databases[1].database.owner: required; a PostgreSQL role name such as "fragalysis"',
      ],
    ],
    [
      "database with a template name and a quoted owner = both named",
      (c) => (c.databases[1].database = { name: "template1", owner: '"frag user"' }),
      [
        'fragalysis-relocation:restore.databases[1].database.name: a database of your own, not a template, e.g. "frag"',
        'fragalysis-relocation:restore.databases[1].database.owner: a PostgreSQL role name, e.g. "fragalysis"',
      ],
    ],
    [
      "database owner password as a value = unknown setting (a Secret reference only)",
      (c) => (c.databases[1].database = { name: "frag", owner: "fragalysis", ownerPassword: "pw" }),
      [
        "fragalysis-relocation:restore.databases[1].database.ownerPassword: unknown setting (a typo?); remove it or see the README's restore settings",
      ],
    ],
    [
      "database ownerPasswordSecret as a string = a {name, key} reference",
      (c) =>
        (c.databases[1].database = {
          name: "frag",
          owner: "fragalysis",
          ownerPasswordSecret: "user_password",
        }),
      [
        "fragalysis-relocation:restore.databases[1].database.ownerPasswordSecret: invalid; an object such as {name: database, key: user_password}",
      ],
    ],
    [
      "database as a string = an object, with an example",
      (c) => (c.databases[1].database = "frag"),
      [
        "fragalysis-relocation:restore.databases[1].database: invalid; an object such as {name: frag, owner: fragalysis, ownerPasswordSecret: {name: database, key: user_password}}",
      ],
    ],
    [
      "port 0 and a bad region = both reported at once",
      (c) => {
        c.databases[0].port = 0;
        c.aws.region = "Europe";
      },
      [
        'fragalysis-relocation:restore.aws.region: an AWS region, e.g. "eu-central-1"',
        "fragalysis-relocation:restore.databases[0].port: a TCP port from 1 to 65535, e.g. 5432",
      ],
    ],
  ];
  for (const [name, change, expected] of cases) {
    it(name, () => assert.deepEqual(problemsOf(edited(change)).sort(), expected.sort()));
  }

  it("secrets unset = one line each with the command, no secret text in any message", () => {
    assert.deepEqual(problemsOf(valid(), {}), [
      "fragalysis-relocation:awsAccessKeyId: required secret for the restore (a key that may read the bucket); set it with pulumi config set --secret awsAccessKeyId ...",
      "fragalysis-relocation:awsSecretAccessKey: required secret for the restore (a key that may read the bucket); set it with pulumi config set --secret awsSecretAccessKey ...",
    ]);
    const all = problemsOf(edited((c) => (c.databases[0].port = "x")));
    assert.ok(!all.join("\n").includes(SECRETS.awsSecretAccessKey));
  });
});
