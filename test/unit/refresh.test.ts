// The refresh in the whole program (index.ts) under mocks with the production stack file: a
// fresh dump per refreshed backup after EVERY quiesce and before ITS copy, from the CronJob's own
// jobTemplate in the CronJob's namespace; the copies told to take only that dump; media read
// from the live volume; every loss window 0.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { valueOf, type Recorder, type Registered } from "../helpers/mocks";
import {
  MEDIA_DIR,
  QUIESCED_AT,
  REFRESH_STARTED,
  REFRESHED,
  refreshedJobs,
  runProductionStack,
} from "../helpers/refresh-mocks";
import type { BackupOutputs } from "../helpers/stack";

let recorder: Recorder;
let stack: BackupOutputs;

before(async () => {
  ({ recorder, stack } = await runProductionStack());
  await valueOf(stack.rpo);
});

/** The settings lines of a Command's stdin, secret or not (the scripts framed after them cut off). */
function stdinOf(r: Registered): string {
  const v = r.inputs.stdin as unknown;
  const text = typeof v === "string" ? v : String((v as { value?: unknown })?.value ?? "");
  return text.split(/^#file /m)[0]!;
}

describe("refresh (production stack)", () => {
  it("preflight = reads both CronJobs, the media PVC and its PV, before anything changes", () => {
    const preflight = recorder.named("preflight");
    const reads = recorder.resources.filter((r) => r.readId !== undefined);
    assert.deepEqual(
      reads
        .filter((r) => !r.type.endsWith("StatefulSet"))
        .map((r) => [r.type, r.readId])
        .sort(),
      [
        ["kubernetes:batch/v1:CronJob", "im-infra/postgres-backup-hourly"],
        ["kubernetes:batch/v1:CronJob", "production-stack/postgres-backup-hourly"],
        ["kubernetes:core/v1:PersistentVolume", "pvc-0c3e"],
        ["kubernetes:core/v1:PersistentVolumeClaim", "production-stack/media"],
      ],
    );
    assert.ok(reads.every((r) => r.parent === preflight.urn));
    const job = recorder.named("refresh-stack-db-job");
    for (const read of reads) assert.ok(recorder.waitsFor(job, read), `${read.readId}`);
  });

  it("one Job per refreshed backup = in the CronJob's namespace, from its jobTemplate, marked ours", () => {
    const jobs = recorder
      .byType("kubernetes:batch/v1:Job")
      .filter((r) => r.name.startsWith("refresh-"));
    assert.deepEqual(jobs.map((j) => j.name).sort(), [
      "refresh-keycloak-db-job",
      "refresh-stack-db-job",
    ]);
    for (const { backup, namespace, job, meta, spec, template } of refreshedJobs(
      recorder,
      "refresh",
    )) {
      assert.equal(meta.namespace, namespace);
      assert.equal(meta.name, `relocation-refresh-${backup}`);
      assert.equal(meta.labels["relocation.fragalysis/refresh-of"], "postgres-backup-hourly");
      assert.equal(meta.labels["app.kubernetes.io/managed-by"], "fragalysis-relocation");
      assert.equal(meta.annotations["pulumi.com/skipAwait"], "true");
      assert.equal(
        meta.ownerReferences,
        undefined,
        "not owned by the CronJob (its history limit would delete it)",
      );
      assert.deepEqual(spec.template.spec, template.template.spec, "the CronJob's own pod spec");
      assert.equal(spec.backoffLimit, template.backoffLimit);
      assert.equal(spec.activeDeadlineSeconds, 3600);
      // No TTL: a Job removed by one is dropped by `pulumi refresh` and re-run by the next `up`.
      assert.equal(spec.ttlSecondsAfterFinished, undefined);
      assert.match(job.provider, /::cluster::/);
      assert.ok(job.deleteBeforeReplace);
    }
  });

  it("order = every quiesce -> wait (no run of the CronJob active) -> Job -> judge -> that backup's copy", () => {
    const scales = recorder.resources.filter((r) => /^quiesce-.*-scale$/.test(r.name));
    assert.equal(scales.length, 2);
    for (const [backup] of REFRESHED) {
      const wait = recorder.named(`refresh-${backup}-wait`);
      const job = recorder.named(`refresh-${backup}-job`);
      const judge = recorder.named(`refresh-${backup}-judge`);
      const copy = recorder.named(`backup-${backup}-ssh-copy`);
      for (const scale of scales)
        assert.ok(recorder.waitsFor(wait, scale), `${wait.name} vs ${scale.name}`);
      assert.ok(recorder.waitsFor(job, wait), "the Job starts only after the wait");
      assert.ok(recorder.waitsFor(judge, job));
      assert.ok(recorder.waitsFor(copy, judge), "nothing is copied before the verdict");
      assert.equal(
        (wait.inputs.environment as Record<string, string>).CRONJOB,
        "postgres-backup-hourly",
      );
    }
    // One refresh per backup: a copy does not wait for the other backup's refresh.
    assert.ok(
      !recorder.waitsFor(
        recorder.named("backup-keycloak-db-ssh-copy"),
        recorder.named("refresh-stack-db-judge"),
      ),
    );
    // The media has no Job: its refresh is reading the live volume.
    assert.throws(() => recorder.named("refresh-stack-media-job"));
  });

  it("dump copies = told to take only a dump named at or after the refresh's start, no minimum age", () => {
    for (const [backup] of REFRESHED) {
      const stdin = stdinOf(recorder.named(`backup-${backup}-ssh-copy`));
      assert.match(stdin, new RegExp(`^NOT_BEFORE=${REFRESH_STARTED}$`, "m"));
      assert.match(stdin, /^MIN_AGE_SECONDS=0$/m);
      assert.equal(
        stdin.match(/^MIN_AGE_SECONDS=/gm)?.length,
        1,
        "one value, not the config's 120 too",
      );
    }
  });

  it("media = pre-sync and final sync both read the live volume's directory, not the replica", () => {
    for (const name of ["presync-stack-media-ssh-copy", "backup-stack-media-ssh-copy"]) {
      const stdin = stdinOf(recorder.named(name));
      assert.match(stdin, new RegExp(`^SOURCE_DIR=${MEDIA_DIR}$`, "m"), name);
      assert.doesNotMatch(stdin, /kubernetes-media-replica/, name);
    }
  });

  it("outputs = rpo 0 for all three, capturedAt per backup, the verdicts by backup", async () => {
    assert.deepEqual(await valueOf(stack.rpo), {
      "keycloak-db": 0,
      "stack-db": 0,
      "stack-media": 0,
    });
    const out = (await valueOf(stack.backups)) as Record<string, Record<string, unknown>>;
    assert.equal(out["stack-db"]!.capturedAt, "2026-11-25T10:00:07Z");
    assert.equal(out["stack-media"]!.capturedAt, QUIESCED_AT);
    assert.equal(out["stack-media"]!.rpoSeconds, 0);
    const verdicts = (await valueOf(stack.refreshJobs)) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(verdicts).sort(), ["keycloak-db", "stack-db"]);
    assert.equal(verdicts["stack-db"]!.job, "production-stack/relocation-refresh-stack-db");
    assert.equal(verdicts["stack-db"]!.message, "SUCCESS");
  });

  it("downtime = still from the quiesce to the last copy (the refresh is inside the window)", async () => {
    const d = await valueOf(stack.downtime);
    assert.equal(d.quiescedAt, QUIESCED_AT);
    assert.equal(d.lastVerifiedAt, "2026-11-25T10:04:10Z");
  });
});
