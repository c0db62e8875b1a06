// The restore side's preflight: reads (never changes) each namespace, database StatefulSet,
// password Secret, StatefulSet to scale up and PVC; a wrong name, a stopped database or a
// missing Secret key rejects `ready` with one line naming it, and no Secret data leaks.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { useMocks, valueOf, type Recorder } from "../helpers/mocks";
import { collectUnhandledRejections, forgetLeakedPromises, rejection } from "../helpers/rejections";

let rec: Recorder;
let mod: typeof import("../../components/restore/preflight");
const PASSWORD = "c3VwZXItc2VjcmV0"; // base64 of the password the Secret holds
const NAMESPACES = new Set(["im-infra", "production-stack"]);
const SECRETS: Record<string, Record<string, string>> = {
  "production-stack/database": { root_password: PASSWORD, user_password: PASSWORD },
  "im-infra/im-postgres": { database_admin_user_password: PASSWORD },
};

before(async () => {
  // A failed read fails the program as `pulumi preview` sees it: a rejection nobody handles.
  collectUnhandledRejections();
  rec = await useMocks({
    statefulSets: {
      "production-stack/database": 1,
      "im-infra/database": 1,
      "im-infra/stopped-db": 0,
      "production-stack/stack": 0,
      "im-infra/keycloak": 0,
    },
    // Namespaces, Secrets and PVCs: the mock answers reads by resource name (`<pre>-ns-<ns>`...).
    state: (type, name) => {
      const read = name.replace(/^[a-z0-9]+-(ns|secret|pvc)-/, "");
      if (type === "kubernetes:core/v1:Namespace") {
        if (!NAMESPACES.has(read)) throw new Error(`resource '${read}' does not exist`);
      }
      if (type === "kubernetes:core/v1:Secret") {
        const id = [...Object.keys(SECRETS)].find((k) => k.replace("/", "-") === read);
        if (!id) throw new Error(`resource '${read}' does not exist`);
        return { data: SECRETS[id] };
      }
      if (type === "kubernetes:core/v1:PersistentVolumeClaim") {
        throw new Error(`resource '${read}' does not exist`);
      }
      return {};
    },
  });
  mod = await import("../../components/restore/preflight");
});

after(forgetLeakedPromises);

const DATABASES = [
  {
    key: "fragalysis-relocation:restore.databases[0]",
    namespace: "im-infra",
    statefulSet: "database",
  },
  {
    key: "fragalysis-relocation:restore.databases[1]",
    namespace: "production-stack",
    statefulSet: "database",
  },
];
const SECRET_REFS = [
  {
    key: "fragalysis-relocation:restore.databases[0].passwordSecret",
    namespace: "im-infra",
    name: "im-postgres",
    dataKey: "database_admin_user_password",
  },
  {
    key: "fragalysis-relocation:restore.databases[1].passwordSecret",
    namespace: "production-stack",
    name: "database",
    dataKey: "root_password",
  },
];

describe("RestorePreflight", () => {
  it("everything present = one read each under the component, ready, scale-up counts, no Secret data in outputs", async () => {
    const p = new mod.RestorePreflight("good", {
      namespaces: ["im-infra", "production-stack", "im-infra"],
      databases: DATABASES,
      secrets: SECRET_REFS,
      scaleUp: [
        { namespace: "im-infra", statefulSet: "keycloak" },
        { namespace: "production-stack", statefulSet: "stack" },
      ],
    });
    assert.equal(await valueOf(p.ready), true);
    assert.deepEqual(await valueOf(p.scaleUpReplicas), {
      "im-infra/keycloak": 0,
      "production-stack/stack": 0,
    });
    const component = rec.named("good");
    assert.equal(component.type, "relocation:restore:Preflight");
    const expected: Array<[string, string, string]> = [
      ["good-ns-im-infra", "kubernetes:core/v1:Namespace", "im-infra"],
      ["good-ns-production-stack", "kubernetes:core/v1:Namespace", "production-stack"],
      ["good-db-im-infra-database", "kubernetes:apps/v1:StatefulSet", "im-infra/database"],
      [
        "good-db-production-stack-database",
        "kubernetes:apps/v1:StatefulSet",
        "production-stack/database",
      ],
      ["good-secret-im-infra-im-postgres", "kubernetes:core/v1:Secret", "im-infra/im-postgres"],
      [
        "good-secret-production-stack-database",
        "kubernetes:core/v1:Secret",
        "production-stack/database",
      ],
      ["good-up-im-infra-keycloak", "kubernetes:apps/v1:StatefulSet", "im-infra/keycloak"],
      [
        "good-up-production-stack-stack",
        "kubernetes:apps/v1:StatefulSet",
        "production-stack/stack",
      ],
    ];
    const children = rec.resources.filter((r) => r.parent === component.urn);
    assert.deepEqual(
      children.map((r) => [r.name, r.type, r.readId]).sort(),
      expected.map((e) => [...e]).sort(),
    );
    for (const s of children.filter((r) => r.type === "kubernetes:core/v1:Secret")) {
      // metadata too: kubectl apply's last-applied annotation holds the Secret's content.
      assert.deepEqual([...new Set(s.additionalSecretOutputs)].sort(), [
        "data",
        "metadata",
        "stringData",
      ]);
    }
    // The component's outputs are a boolean and counts: the password never reaches them.
    assert.doesNotMatch(JSON.stringify(await valueOf(p.scaleUpReplicas)), new RegExp(PASSWORD));
  });

  const failing: Array<
    [string, Partial<import("../../components/restore/preflight").RestorePreflightArgs>, RegExp]
  > = [
    [
      "missing namespace = the read fails naming it",
      { namespaces: ["new-stack"] },
      /resource 'new-stack' does not exist/,
    ],
    [
      "missing database StatefulSet = the read fails naming namespace/name",
      {
        databases: [{ key: "k", namespace: "production-stack", statefulSet: "postgres" }],
      },
      /resource 'production-stack\/postgres' does not exist/,
    ],
    [
      "database StatefulSet at 0 replicas = its key and the scale command",
      {
        databases: [
          {
            key: "fragalysis-relocation:restore.databases[0]",
            namespace: "im-infra",
            statefulSet: "stopped-db",
          },
        ],
      },
      /^fragalysis-relocation:restore\.databases\[0\]: StatefulSet im-infra\/stopped-db has 0 replicas; .*kubectl -n im-infra scale statefulset stopped-db --replicas=1$/,
    ],
    [
      "missing Secret = the read fails naming it",
      { secrets: [{ ...SECRET_REFS[1]!, name: "db-admin" }] },
      /resource 'production-stack-db-admin' does not exist/,
    ],
    [
      "Secret without the key = its key names the keys it has, no value",
      { secrets: [{ ...SECRET_REFS[1]!, dataKey: "password" }] },
      /^fragalysis-relocation:restore\.databases\[1\]\.passwordSecret: Secret production-stack\/database has no key "password" \(it has: root_password, user_password\); set .* to the key holding the password$/,
    ],
    [
      "missing scale-up StatefulSet = the read fails",
      { scaleUp: [{ namespace: "production-stack", statefulSet: "worker" }] },
      /resource 'production-stack\/worker' does not exist/,
    ],
    [
      "missing PVC = the read fails",
      { pvcs: ["production-stack/media"] },
      /resource 'production-stack-media' does not exist/,
    ],
  ];
  failing.forEach(([name, args, pattern], i) => {
    it(name, async () => {
      const p = new mod.RestorePreflight(`bad${i}`, {
        namespaces: [],
        databases: [],
        secrets: [],
        ...args,
      });
      const message = await rejection(p.ready);
      assert.match(message, pattern);
      assert.doesNotMatch(message, new RegExp(PASSWORD));
    });
  });

  it("two keys of one Secret (a password and a login's) = one read; each missing key named by its setting", async () => {
    const login = (key: string, dataKey: string) => ({
      key,
      namespace: "production-stack",
      name: "database",
      dataKey,
    });
    const ok = new mod.RestorePreflight("both", {
      namespaces: ["production-stack"],
      databases: [DATABASES[1]!],
      secrets: [
        SECRET_REFS[1]!,
        login(
          "fragalysis-relocation:restore.databases[1].logins[0].passwordSecret.key",
          "user_password",
        ),
      ],
    });
    assert.equal(await valueOf(ok.ready), true);
    const reads = rec.resources.filter(
      (r) => r.name.startsWith("both-secret-") && r.type === "kubernetes:core/v1:Secret",
    );
    assert.deepEqual(
      reads.map((r) => r.readId),
      ["production-stack/database"],
    );

    const bad = new mod.RestorePreflight("nokey", {
      namespaces: ["production-stack"],
      databases: [DATABASES[1]!],
      secrets: [
        SECRET_REFS[1]!,
        login("fragalysis-relocation:restore.databases[1].logins[0].passwordSecret.key", "nope"),
      ],
    });
    const message = await rejection(bad.ready);
    assert.equal(
      message,
      'fragalysis-relocation:restore.databases[1].logins[0].passwordSecret.key: Secret production-stack/database has no key "nope" (it has: root_password, user_password); set fragalysis-relocation:restore.databases[1].logins[0].passwordSecret.key to the key holding the password',
    );
  });
});
