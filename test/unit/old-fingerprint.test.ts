// The old side's fingerprint in the whole program (index.ts) under mocks with the production
// stack file: one Job per refreshed dump, from the CronJob's own jobTemplate (image and env
// kept, command replaced), after that refresh's verdict, beside the copy; its judged result is
// the `fingerprints` output, in the shared contract. Plus the verdict's failures, one line each.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { FingerprintFailed, judgeFingerprint } from "../../components/fingerprint-verdict";
import { parseFingerprintsOutput } from "../../components/shared/outputs";
import { JOB_BACKOFF, JOB_COMPLETE, judgeOutput, pod } from "../fixtures/refresh/shapes";
import { valueOf, type Recorder } from "../helpers/mocks";
import {
  OLD_FINGERPRINT,
  REFRESHED,
  refreshedJobs,
  runProductionStack,
} from "../helpers/refresh-mocks";
import type { BackupOutputs } from "../helpers/stack";

let recorder: Recorder;
let stack: BackupOutputs;

before(async () => {
  ({ recorder, stack } = await runProductionStack());
  await Promise.all([valueOf(stack.rpo), valueOf(stack.fingerprints)]);
});

describe("old side's fingerprint (production stack)", () => {
  it("one Job per refreshed dump = the jobTemplate's image and env, our command, no TTL, fixed name, replaced by delete first", () => {
    const jobs = recorder
      .byType("kubernetes:batch/v1:Job")
      .filter((r) => r.name.startsWith("fingerprint-"));
    assert.deepEqual(jobs.map((j) => j.name).sort(), [
      "fingerprint-keycloak-db-job",
      "fingerprint-stack-db-job",
    ]);
    for (const { backup, namespace, job, meta, spec, template } of refreshedJobs(
      recorder,
      "fingerprint",
    )) {
      const original = template.template.spec.containers[0];
      assert.equal(meta.name, `relocation-fp-${backup}`);
      assert.equal(meta.namespace, namespace);
      assert.equal(meta.annotations["pulumi.com/skipAwait"], "true", "the judge decides");
      // Not a refresh: refresh-wait.sh must not wait for it on a later `up`.
      assert.equal(meta.labels["relocation.fragalysis/refresh-of"], undefined);
      assert.equal(meta.labels["relocation.fragalysis/fingerprint-of"], "postgres-backup-hourly");
      assert.equal(
        spec.template.metadata.labels["relocation.fragalysis/refresh-of"],
        undefined,
        "its pods are not a refresh's either",
      );
      assert.equal(spec.ttlSecondsAfterFinished, undefined);
      assert.equal(spec.activeDeadlineSeconds, 3600);
      assert.ok(job.deleteBeforeReplace);
      const pod = spec.template.spec;
      assert.equal(pod.containers.length, 1);
      const c = pod.containers[0];
      assert.equal(c.image, original.image);
      // Every env entry of the template, as is (the password's secretKeyRef included), ours after.
      assert.deepEqual(c.env.slice(0, original.env.length), original.env);
      assert.deepEqual(
        c.env.slice(original.env.length).map((e: { name: string }) => e.name),
        ["RESULT_FILE", "TMPDIR"],
      );
      assert.deepEqual(c.command, ["bash", "/relocation-scripts/fingerprint-old.sh"]);
      assert.deepEqual(c.args, []);
      assert.equal(c.terminationMessagePolicy, "FallbackToLogsOnError");
      // The backup volume is still mounted (as the template does) but read-only.
      assert.deepEqual(c.volumeMounts[0], { name: "backup", mountPath: "/backup", readOnly: true });
      assert.deepEqual(
        pod.volumes.map((v: { name: string }) => v.name),
        ["backup", "relocation-scripts", "relocation-tmp"],
      );
      assert.deepEqual(
        pod.volumes[1].configMap.items.map((i: { path: string }) => i.path),
        ["fingerprint-old.sh", "copy-common.sh", "restore/fingerprint.sh"],
      );
      assert.equal(pod.restartPolicy, "Never");
    }
  });

  it("order = that refresh's judge -> Job -> judge; the copy does not wait for it", () => {
    for (const [backup] of REFRESHED) {
      const job = recorder.named(`fingerprint-${backup}-job`);
      const judge = recorder.named(`fingerprint-${backup}-judge`);
      assert.ok(recorder.waitsFor(job, recorder.named(`refresh-${backup}-judge`)));
      assert.ok(recorder.waitsFor(judge, job));
      const copy = recorder.named(`backup-${backup}-ssh-copy`);
      assert.ok(!recorder.waitsFor(copy, job) && !recorder.waitsFor(copy, judge));
      for (const q of recorder.resources.filter((r) => /^quiesce-.*-scale$/.test(r.name)))
        assert.ok(!recorder.waitsFor(q, job), "the StatefulSets never depend on it");
    }
    assert.throws(() => recorder.named("fingerprint-stack-media-job"), "a tree has none");
  });

  it("fingerprints output = by refreshed backup, the Job's result, in the shared contract", async () => {
    const out = await valueOf(stack.fingerprints);
    const expected = JSON.parse(OLD_FINGERPRINT);
    assert.deepEqual(parseFingerprintsOutput(JSON.stringify(out)), {
      "keycloak-db": expected,
      "stack-db": expected,
    });
  });
});

describe("judgeFingerprint", () => {
  const JOB = "ns/relocation-fp-db";
  const fails = (stdout: string, pattern: RegExp) =>
    assert.throws(
      () => judgeFingerprint(JOB, stdout),
      (e: Error) =>
        e instanceof FingerprintFailed && !e.message.includes("\n") && pattern.test(e.message),
    );

  it("failed Job = the pod log's last line (the script's ERROR line)", () => {
    const log =
      "fingerprint-old.sh: logging in\nfingerprint-old.sh: ERROR: cannot log in to db:5432 as postgres (password: PGADMINPASS): FATAL: password authentication failed";
    fails(
      judgeOutput(JOB_BACKOFF, [pod("Failed", 1, log)]),
      /^fingerprint Job ns\/relocation-fp-db failed \(BackoffLimitExceeded\); last pod: "fingerprint-old.sh: ERROR: cannot log in .*PGADMINPASS/,
    );
  });

  it("a result that is not JSON, or not the contract's shape = one line naming the Job", () => {
    fails(judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0, "SUCCESS")]), /result is not JSON/);
    fails(
      judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0, '{"at":"yesterday","databases":{}}')]),
      /does not match the contract.*at:/,
    );
    fails(judgeOutput(JOB_COMPLETE, []), /no succeeded pod/);
    fails("not json\n", /cannot read its status/);
  });
});
