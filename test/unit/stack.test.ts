// The whole program (index.ts) under mocks with the production stack file: what preview would
// register, in which order, and the stack outputs.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { sourceOutput } from "../../components/restore/source";
import { valueOf, type Recorder } from "../helpers/mocks";
import { runProductionStack } from "../helpers/refresh-mocks";
import type { BackupOutputs } from "../helpers/stack";

let recorder: Recorder;
let stack: BackupOutputs;

before(async () => {
  ({ recorder, stack } = await runProductionStack());
  await valueOf(stack.originalReplicas);
  // Refreshed dumps' copies register once their verdict is in.
  await valueOf(stack.backups);
});

describe("production stack", () => {
  it("each configured StatefulSet = one live read in preflight, by namespace/name", () => {
    const reads = recorder.resources.filter(
      (r) => r.readId !== undefined && r.type === "kubernetes:apps/v1:StatefulSet",
    );
    assert.deepEqual(reads.map((r) => r.readId).sort(), [
      "im-infra/keycloak",
      "production-stack/stack",
    ]);
    const preflight = recorder.named("preflight");
    assert.ok(reads.every((r) => r.parent === preflight.urn));
  });

  it("every resource that changes something = waits for every preflight read", () => {
    const reads = recorder.resources.filter((r) => r.readId !== undefined);
    const changing = recorder.resources.filter(
      (r) => r.custom && r.readId === undefined && !r.type.startsWith("pulumi:providers:"),
    );
    assert.ok(changing.length > 0);
    for (const r of changing) {
      for (const read of reads) {
        assert.ok(recorder.waitsFor(r, read), `${r.name} does not wait for ${read.readId}`);
      }
    }
  });

  it("Kubernetes resources = all through the one provider that kubectl's context matches", () => {
    const provider = recorder.named("cluster");
    assert.equal(provider.type, "pulumi:providers:kubernetes");
    const k8sResources = recorder.resources.filter((r) => r.type.startsWith("kubernetes:"));
    assert.ok(k8sResources.length > 0);
    for (const r of k8sResources) assert.match(r.provider, /::cluster::/, r.name);
  });

  it("quiesce = one Command per StatefulSet", () => {
    const scales = recorder
      .byType("command:local:Command")
      .filter((r) => r.name.startsWith("quiesce-"));
    assert.deepEqual(scales.map((r) => r.name).sort(), [
      "quiesce-im-infra-keycloak-scale",
      "quiesce-production-stack-stack-scale",
    ]);
  });

  it("env dumps (job executor) = one Job per namespace, each finished before any quiesce", () => {
    const jobs = recorder
      .byType("kubernetes:batch/v1:Job")
      .filter((r) => r.name.startsWith("env-dump"));
    assert.equal(jobs.length, 2);
    const scales = recorder.resources.filter((r) => /^quiesce-.*-scale$/.test(r.name));
    for (const scale of scales) {
      for (const job of jobs)
        assert.ok(recorder.waitsFor(scale, job), `${scale.name} vs ${job.name}`);
    }
    const namespace = recorder.named("jobs");
    assert.equal(namespace.type, "kubernetes:core/v1:Namespace");
    assert.ok(jobs.every((j) => recorder.waitsFor(j, namespace)));
  });

  it("env dump keys = one per configured pod, under the env prefix", async () => {
    assert.deepEqual(Object.values(await valueOf(stack.envDumpKeys)).sort(), [
      "production-env/im-infra/database-0.env",
      "production-env/im-infra/keycloak-0.env",
      "production-env/production-stack/database-0.env",
      "production-env/production-stack/stack-0.env",
    ]);
  });

  it("copies = one per backup, each after every quiesce, outputs by backup name", async () => {
    const copies = recorder.resources.filter((r) => /^backup-.*-ssh-copy$/.test(r.name));
    assert.deepEqual(copies.map((r) => r.name).sort(), [
      "backup-keycloak-db-ssh-copy",
      "backup-stack-db-ssh-copy",
      "backup-stack-media-ssh-copy",
    ]);
    const scales = recorder.resources.filter((r) => /^quiesce-.*-scale$/.test(r.name));
    for (const copy of copies) {
      for (const scale of scales)
        assert.ok(recorder.waitsFor(copy, scale), `${copy.name} vs ${scale.name}`);
    }
    const out = await valueOf(stack.backups);
    assert.deepEqual(Object.keys(out).sort(), ["keycloak-db", "stack-db", "stack-media"]);
    assert.equal(
      (out["keycloak-db"] as Record<string, unknown>).key,
      "production-keycloak-db/backup-2026-11-25T10:00:07Z-dumpall.sql.gz",
    );
    assert.equal((out["stack-media"] as Record<string, unknown>).files, 10);
  });

  it("media pre-sync = before every quiesce, waiting for none; dumps are not pre-synced", () => {
    const presyncs = recorder.resources.filter((r) => /^presync-.*-ssh-copy$/.test(r.name));
    assert.deepEqual(
      presyncs.map((r) => r.name),
      ["presync-stack-media-ssh-copy"],
    );
    const scales = recorder.resources.filter((r) => /^quiesce-.*-scale$/.test(r.name));
    for (const scale of scales) {
      assert.ok(recorder.waitsFor(scale, presyncs[0]!), `${scale.name} must wait for the pre-sync`);
      assert.ok(!recorder.waitsFor(presyncs[0]!, scale), "the pre-sync must not wait for quiesce");
    }
  });

  it("downtime = from the quiesce to the last final copy verified", async () => {
    assert.deepEqual(await valueOf(stack.downtime), {
      quiescedAt: "2026-11-25T10:00:00Z",
      lastVerifiedAt: "2026-11-25T10:04:10Z",
      seconds: 250,
    });
  });

  it("outputs = original counts by namespace/name, live counts, latest quiesce time", async () => {
    assert.deepEqual(await valueOf(stack.originalReplicas), {
      "production-stack/stack": 3,
      "im-infra/keycloak": 3,
    });
    assert.deepEqual(await valueOf(stack.liveReplicas), {
      "production-stack/stack": 3,
      "im-infra/keycloak": 1,
    });
    assert.equal(await valueOf(stack.quiescedAt), "2026-11-25T10:00:00Z");
  });

  it("side unset (backup) = the stack outputs of before the split into sides, by name", () => {
    assert.deepEqual(Object.keys(stack).sort(), [
      "backups",
      "bucket",
      "copyPolicy",
      "copyUser",
      "downtime",
      "envDumpKept",
      "envDumpKeys",
      "fingerprints",
      "liveReplicas",
      "manifestKeys",
      "originalReplicas",
      "plan",
      "prefixes",
      "quiescedAt",
      "refreshJobs",
      "rpo",
    ]);
  });

  it("side backup = none of the restore side's resources (no StackReference, no relocation:restore:*)", () => {
    const restoreSide = recorder.resources.filter(
      (r) => r.type.startsWith("relocation:restore:") || r.type === "pulumi:pulumi:StackReference",
    );
    assert.deepEqual(restoreSide, []);
  });

  it("originalReplicas = what the restore side reads (components/shared/outputs.ts)", async () => {
    const value = await valueOf(stack.originalReplicas);
    assert.deepEqual(sourceOutput("production", "originalReplicas", value), value);
  });
});
