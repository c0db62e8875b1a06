// The whole program (index.ts) with side: restore and the destination stack file, under mocks:
// the backup stack read through a StackReference, the restore preflight, one DumpRestore per
// database and one MediaRestore per tree after it, nothing of the backup side, and the outputs
// `restored`, `restoredMedia`, `verdict` (keycloak-db fingerprinted on the old side and equal,
// stack-db without a fingerprint, the media tree equal to its entry), `verdictOk`, `scaledUp`
// (nothing to scale in that file) and `source`.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { useMocks, valueOf, type Recorder } from "../helpers/mocks";
import { forgetLeakedPromises } from "../helpers/rejections";
import { destinationState, dumpResultLine, SOURCE, sourceDump } from "../helpers/destination";
import {
  judgedSuccess,
  STACK_MEDIA,
  STACK_MEDIA_RESULT,
  STACK_MEDIA_VOLUMES,
} from "../helpers/judged";
import { importProgram, useDestinationConfig } from "../helpers/stack";

let recorder: Recorder;
let stack: Record<string, unknown>;
/** The backup stack's outputs, as `pulumi stack output --json` of production shows them. */
export const SOURCE_OUTPUTS = {
  backups: {
    "keycloak-db": sourceDump("production-keycloak-db/", "a".repeat(64)),
    "stack-db": sourceDump("production-stack-db/", "b".repeat(64)),
    "stack-media": STACK_MEDIA,
  },
  originalReplicas: { "production-stack/stack": 1, "im-infra/keycloak": 1 },
  // Only keycloak-db was refreshed (so fingerprinted), 3 minutes after its dump began.
  fingerprints: {
    "keycloak-db": {
      at: "2026-12-07T00:03:00Z",
      databases: { postgres: { tables: 0, rows: 0, sha256: "c".repeat(64) } },
    },
  },
};
const SECRETS: Record<string, Record<string, string>> = {
  "production-stack-database": { root_password: "cGFzcw==", user_password: "cGFzcw==" },
  "im-infra-im-postgres": { database_admin_user_password: "cGFzcw==" },
  "im-infra-im-keycloak": { database_user_password: "cGFzcw==" },
};
/** What a restore Job's termination message holds for the dump it restored. */
const resultLine = (backup: "keycloak-db" | "stack-db") =>
  dumpResultLine(SOURCE_OUTPUTS.backups[backup], {
    postgres: { tables: 0, rows: 0, sha256: "c".repeat(64) },
  });

before(async () => {
  recorder = await useMocks({
    statefulSets: { "im-infra/database": 1, "production-stack/database": 1 },
    volumes: STACK_MEDIA_VOLUMES,
    commandStdout: (name) =>
      judgedSuccess(
        name.startsWith("restore-keycloak-db")
          ? resultLine("keycloak-db")
          : name.startsWith("restore-stack-media")
            ? JSON.stringify(STACK_MEDIA_RESULT)
            : resultLine("stack-db"),
      ),
    state: destinationState(SOURCE_OUTPUTS, (secret) => SECRETS[secret]),
  });
  useDestinationConfig();
  stack = await importProgram();
  await valueOf(stack.restored as never);
});

after(forgetLeakedPromises);

describe("side restore (destination stack file)", () => {
  it("outputs = restored, restoredMedia, scaledUp, source, verdict and verdictOk only", () => {
    assert.deepEqual(Object.keys(stack).sort(), [
      "restored",
      "restoredMedia",
      "scaledUp",
      "source",
      "verdict",
      "verdictOk",
    ]);
  });

  it("no restore.scaleUp (the destination file) = a ScaleUp with no Command, scaledUp {}", async () => {
    const up = recorder.named("scale-up");
    assert.equal(up.type, "relocation:restore:ScaleUp");
    assert.deepEqual(
      recorder.resources.filter((r) => r.parent === up.urn),
      [],
    );
    assert.deepEqual(await valueOf(stack.scaledUp as never), {});
  });

  it("the backup stack = one StackReference named by restore.source", () => {
    const refs = recorder.byType("pulumi:pulumi:StackReference");
    assert.deepEqual(
      refs.map((r) => [r.name, r.readId]),
      [["source", SOURCE]],
    );
  });

  it("preflight = reads both database StatefulSets, namespaces, password Secrets and the media PVC", () => {
    const preflight = recorder.named("preflight");
    assert.equal(preflight.type, "relocation:restore:Preflight");
    const reads = recorder.resources
      .filter((r) => r.parent === preflight.urn)
      .map((r) => `${r.type.split(":")[2]} ${r.readId}`)
      .sort();
    assert.deepEqual(reads, [
      "Namespace im-infra",
      "Namespace production-stack",
      "PersistentVolumeClaim production-stack/media",
      "Secret im-infra/im-keycloak",
      "Secret im-infra/im-postgres",
      "Secret production-stack/database",
      "StatefulSet im-infra/database",
      "StatefulSet production-stack/database",
    ]);
  });

  it("one DumpRestore per database; each Job waits for every preflight read", () => {
    const restores = recorder.byType("relocation:restore:DumpRestore");
    assert.deepEqual(restores.map((r) => r.name).sort(), [
      "restore-keycloak-db",
      "restore-stack-db",
    ]);
    const reads = recorder.resources.filter(
      (r) => r.readId !== undefined && r.type.startsWith("kubernetes:"),
    );
    const dumpJobs = restores.map((r) => recorder.named(`${r.name}-job`));
    const all = recorder.byType("kubernetes:batch/v1:Job");
    assert.deepEqual(
      all.filter((j) => !dumpJobs.includes(j)).map((j) => j.name),
      ["restore-stack-media-job"],
    );
    for (const job of dumpJobs) {
      for (const read of reads) {
        assert.ok(recorder.waitsFor(job, read), `${job.name} does not wait for ${read.readId}`);
      }
    }
    const namespaces = dumpJobs.map((j) => (j.inputs.metadata as { namespace: string }).namespace);
    assert.deepEqual(namespaces.sort(), ["im-infra", "production-stack"]);
  });

  it("one MediaRestore for the tree; its Job mounts the PVC and waits for every preflight read", async () => {
    const media = recorder.byType("relocation:restore:MediaRestore");
    assert.deepEqual(
      media.map((r) => r.name),
      ["restore-stack-media"],
    );
    const job = recorder.named("restore-stack-media-job");
    const reads = recorder.resources.filter(
      (r) => r.readId !== undefined && r.type.startsWith("kubernetes:"),
    );
    for (const read of reads) {
      assert.ok(recorder.waitsFor(job, read), `the media Job does not wait for ${read.readId}`);
    }
    const spec = (job.inputs as any).spec.template.spec;
    assert.equal((job.inputs as any).metadata.namespace, "production-stack");
    assert.equal(
      spec.volumes.find((v: any) => v.name === "media").persistentVolumeClaim.claimName,
      "media",
    );
    assert.deepEqual(await valueOf(stack.restoredMedia as never), {
      "stack-media": { pvc: "production-stack/media", ...STACK_MEDIA_RESULT },
    });
  });

  it("Kubernetes resources = all through the one provider for restore.kubeContext", () => {
    const k8s = recorder.resources.filter((r) => r.type.startsWith("kubernetes:"));
    assert.ok(k8s.length > 0);
    for (const r of k8s) assert.match(r.provider, /::cluster::/, r.name);
  });

  it("none of the backup side's resources (no quiesce, copy, refresh, env dump, S3 access)", () => {
    // relocation:credentials:* is shared: each DumpRestore keeps its read key in one.
    const backupSide = recorder.resources.filter(
      (r) => /^relocation:/.test(r.type) && !/^relocation:(restore|credentials):/.test(r.type),
    );
    assert.deepEqual(
      backupSide.map((r) => `${r.type} ${r.name}`),
      [],
    );
    assert.deepEqual(
      recorder.resources.filter((r) => r.type.startsWith("aws:")),
      [],
    );
  });

  it("restored = per backup the database and the Job's checked summary; source = stack and replicas", async () => {
    const restored = (await valueOf(stack.restored as never)) as Record<
      string,
      Record<string, unknown>
    >;
    assert.deepEqual(Object.keys(restored).sort(), ["keycloak-db", "stack-db"]);
    assert.equal(restored["stack-db"]!.database, "production-stack/database");
    assert.equal(restored["keycloak-db"]!.database, "im-infra/database");
    assert.equal(restored["stack-db"]!.sha256, "b".repeat(64));
    assert.deepEqual(await valueOf(stack.source as never), {
      stack: SOURCE,
      originalReplicas: SOURCE_OUTPUTS.originalReplicas,
    });
  });

  it("verdict = keycloak-db equal to its fingerprint, stack-db unverified, stack-media equal; verdictOk true", async () => {
    assert.deepEqual(await valueOf(stack.verdict as never), {
      ok: true,
      unverified: ["stack-db"],
      dumps: {
        "keycloak-db": {
          status: "equal",
          database: "im-infra/database",
          fingerprintAt: "2026-12-07T00:03:00Z",
          databases: { postgres: { status: "equal", tables: 0, rows: 0 } },
        },
        "stack-db": {
          status: "unverified",
          database: "production-stack/database",
          reason:
            "no fingerprint recorded: the backup stack fingerprints refreshed dumps only (refresh.cronJob)",
        },
      },
      media: {
        "stack-media": {
          status: "equal",
          expected: { files: 3, bytes: 10 },
          restored: { files: 3, bytes: 10 },
        },
      },
    });
    assert.equal(await valueOf(stack.verdictOk as never), true);
  });
});
