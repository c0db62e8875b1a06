// The restore side's plan (shown by preview): what goes where, a tree larger than its volume as
// a problem naming the setting, and Kubernetes quantities read as bytes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { restoreSchema } from "../../components/restore/config";
import { restorePlan, restorePlanText } from "../../components/restore/plan";
import { formatBytes, quantityBytes } from "../../components/restore/quantity";
import { SOURCE, STACK_DB_RESTORE } from "../helpers/destination";

const config = restoreSchema.parse({
  source: SOURCE,
  aws: { region: "eu-central-1" },
  databases: [
    {
      ...STACK_DB_RESTORE,
      logins: [
        {
          user: "fragalysis",
          database: "frag",
          passwordSecret: { name: "database", key: "user_password" },
        },
      ],
    },
  ],
  media: [{ backup: "stack-media", namespace: "production-stack", pvc: "media" }],
  scaleUp: [
    { namespace: "production-stack", statefulSet: "stack" },
    { namespace: "new-infra", statefulSet: "keycloak", from: "im-infra/keycloak" },
  ],
});
const BACKUPS = {
  "stack-db": {
    bucket: "im-fragalysis",
    key: "production-stack-db/backup-2026-12-07T00:00:00Z-dumpall.sql.gz",
    size: 3 * 2 ** 20,
    sha256: "ab".repeat(32),
    sourceTime: "2026-12-07T00:00:00Z",
    capturedAt: "2026-12-07T00:00:00Z",
    rpoSeconds: 0,
  },
  "stack-media": {
    bucket: "im-fragalysis",
    prefix: "production-stack-media/",
    files: 135000,
    bytes: 240 * 2 ** 30,
    capturedAt: null,
    rpoSeconds: null,
  },
};
const input = (capacity: number | undefined) => ({
  databases: config.databases,
  media: config.media,
  scaleUp: config.scaleUp,
  backups: BACKUPS,
  originalReplicas: { "production-stack/stack": 3, "im-infra/keycloak": 1 },
  scaleUpNow: { "production-stack/stack": 0, "new-infra/keycloak": 0 },
  pvcCapacity: { "production-stack/media": capacity },
});

describe("restorePlan", () => {
  it("a volume large enough = no problem; the plan says what goes where and the counts", () => {
    const plan = restorePlan(input(250 * 2 ** 30));
    assert.deepEqual(plan.problems, []);
    assert.deepEqual(plan.scaleUp, [
      { statefulSet: "production-stack/stack", from: "production-stack/stack", now: 0, to: 3 },
      { statefulSet: "new-infra/keycloak", from: "im-infra/keycloak", now: 0, to: 1 },
    ]);
    assert.deepEqual(restorePlanText(plan), [
      "restore plan (nothing has changed yet):",
      "  dump stack-db: s3://im-fragalysis/production-stack-db/backup-2026-12-07T00:00:00Z-dumpall.sql.gz, 3.0 MiB, sha256 abababababab… -> production-stack/database (database:5432 as postgres), into an empty server; then logins fragalysis@frag",
      "  media stack-media: 135000 files, 240.0 GiB -> PVC production-stack/media (capacity 250.0 GiB)",
      "  scale up production-stack/stack: 0 replicas now -> 3, after the restores and the verdict",
      "  scale up new-infra/keycloak: 0 replicas now -> 1 (the count im-infra/keycloak had), after the restores and the verdict",
    ]);
  });

  it("the doc's 200 GiB volume for a 240 GiB tree = one problem naming restore.media[0].pvc", () => {
    const plan = restorePlan(input(quantityBytes("200Gi")));
    assert.deepEqual(plan.problems, [
      "fragalysis-relocation:restore.media[0].pvc: PVC production-stack/media holds 200.0 GiB, the tree stack-media is 240.0 GiB (135000 files); give the volume room for the tree plus the filesystem's overhead, or restore into a larger PVC",
    ]);
  });

  it("exactly the tree's bytes = fits; capacity not stated = no problem, said in the plan", () => {
    assert.deepEqual(restorePlan(input(240 * 2 ** 30)).problems, []);
    const plan = restorePlan(input(undefined));
    assert.deepEqual(plan.problems, []);
    assert.match(restorePlanText(plan)[2]!, /PVC production-stack\/media \(capacity not stated\)$/);
  });
});

describe("quantityBytes", () => {
  const cases: Array<[string, number | undefined]> = [
    ["200Gi", 200 * 2 ** 30],
    ["1.5Ti", 1.5 * 2 ** 40],
    ["500M", 5e8],
    ["1e9", 1e9],
    ["12", 12],
    ["0.5Ki", 512],
    ["100m", 0.1],
    ["10 Gi", undefined],
    ["Gi", undefined],
    ["-1Gi", undefined],
    ["1GB", undefined],
  ];
  for (const [text, bytes] of cases) {
    it(`${JSON.stringify(text)} = ${bytes}`, () => assert.equal(quantityBytes(text), bytes));
  }
  it("formatBytes: binary units, one decimal above bytes", () => {
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(1536), "1.5 KiB");
  });
});
