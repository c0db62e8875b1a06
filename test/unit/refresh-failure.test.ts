// When the refresh cannot be trusted nothing is copied: a missing CronJob or PVC fails the
// preflight read (so preview fails before any change), and a Job whose pod reports FAILURE (1)
// fails the verdict with one line naming the Job, and the backup's copy is never registered.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { JOB_COMPLETE, judgeOutput, pod } from "../fixtures/refresh/shapes";
import { backupFixture, JOBS, NFS, TARGET } from "../helpers/copy-fixtures";
import { settle, useMocks, type Recorder } from "../helpers/mocks";
import { collectUnhandledRejections, forgetLeakedPromises, rejection } from "../helpers/rejections";
import { CRON_JOBS, VOLUMES } from "../helpers/refresh-mocks";

let rec: Recorder;
let preflight: typeof import("../../components/preflight");
let refresh: typeof import("../../components/backup-refresh");
let copy: typeof import("../../components/backup-copy");
let rpo: typeof import("../../components/rpo");
let unhandled: unknown[];

before(async () => {
  // A failed verdict fails the program the way `pulumi up` sees it: as a rejection no code of
  // ours handles. Here that is the expected outcome, so collect it (and assert it) instead of
  // letting the runner count it against whichever test is running.
  unhandled = collectUnhandledRejections();
  rec = await useMocks({
    statefulSets: { "production-stack/stack": 1 },
    cronJobs: CRON_JOBS,
    volumes: { ...VOLUMES, "production-stack/unbound": { pv: "", spec: {} } },
    commandStdout: (name) =>
      name.endsWith("-judge")
        ? judgeOutput(JOB_COMPLETE, [pod("Succeeded", 0, "FAILURE (1)")])
        : "",
  });
  preflight = await import("../../components/preflight");
  refresh = await import("../../components/backup-refresh");
  copy = await import("../../components/backup-copy");
  rpo = await import("../../components/rpo");
});

after(forgetLeakedPromises);

describe("refresh failures", () => {
  it("missing CronJob = the preflight read fails naming namespace/name", async () => {
    const p = new preflight.Preflight("pre-missing", {
      statefulSets: [{ namespace: "production-stack", statefulSet: "stack" }],
      cronJobs: ["im-infra/postgres-backup-daily"],
    });
    const message = await rejection(p.cronJobs.get("im-infra/postgres-backup-daily")!.spec);
    assert.match(message, /resource 'im-infra\/postgres-backup-daily' does not exist/);
  });

  it("missing PVC = the preflight read fails naming it", async () => {
    const p = new preflight.Preflight("pre-nopvc", {
      statefulSets: [],
      liveVolumes: ["production-stack/medai"],
    });
    assert.match(
      await rejection(p.liveVolumeDirs.get("production-stack/medai")!),
      /'production-stack\/medai' does not exist/,
    );
  });

  it("PV without an nfs or hostPath directory = error naming the PVC and PV", () => {
    assert.throws(
      () => preflight.volumeDirectory("production-stack/media", "pvc-1", { csi: {} } as never),
      /refresh.liveVolume production-stack\/media: its PV pvc-1 has neither spec.nfs.path nor spec.hostPath.path/,
    );
    assert.equal(
      preflight.volumeDirectory("a/b", "pv", { hostPath: { path: "/srv/media/" } }),
      "/srv/media",
    );
  });

  it("FAILURE (1) = verdict fails with one line naming the Job; the copy is never registered", async () => {
    const p = new preflight.Preflight("pre-ok", {
      statefulSets: [],
      cronJobs: ["production-stack/postgres-backup-hourly"],
    });
    const r = new refresh.BackupRefresh("refresh-stack-db", {
      backupName: "stack-db",
      cronJob: p.cronJobs.get("production-stack/postgres-backup-hourly")!,
      namespace: "production-stack",
      cronJobName: "postgres-backup-hourly",
      runAfter: [],
    });
    const backup = backupFixture({
      name: "stack-db",
      refresh: {
        cronJob: "production-stack/postgres-backup-hourly",
        waitSeconds: 900,
        timeoutSeconds: 3600,
      },
    });
    new copy.BackupCopy("backup-stack-db", {
      backup,
      target: TARGET,
      credentials: { accessKeyId: pulumi.secret("id"), secretAccessKey: pulumi.secret("key") },
      nfs: NFS,
      sshPrivateKey: pulumi.secret("k"),
      jobs: JOBS,
      runAfter: [r.judge],
      runSettings: rpo.finalCopySettings(backup, "2026-11-25T10:00:00Z", r.verdict),
    });
    const line =
      'refresh Job production-stack/relocation-refresh-stack-db reported "FAILURE (1)", not SUCCESS (the image exits 0 either way); nothing was copied; see README "When a refresh fails"';
    assert.equal(await rejection(r.verdict), line);
    await settle();
    assert.ok(rec.named("refresh-stack-db-judge"), "the judge ran");
    assert.throws(() => rec.named("backup-stack-db-ssh-copy"), /no resource named/);
    // What `pulumi up` prints: the rejection that reached the program's uncaught handler, after
    // the SDK tried to prefix 'error serializing property "stdin": ' to it.
    const reported = unhandled.filter((e) => e instanceof pulumi.ResourceError);
    assert.ok(reported.length > 0, "the failure reached the uncaught handler");
    for (const e of reported) {
      assert.equal((e as pulumi.ResourceError).message, line);
      assert.equal((e as pulumi.ResourceError).hideStack, true);
    }
  });

  it("CronJob without a jobTemplate = error naming it", () => {
    assert.throws(
      () =>
        refresh.jobFromTemplate(undefined, {
          name: "relocation-refresh-x",
          namespace: "im-infra",
          cronJob: "postgres-backup-hourly",
          timeoutSeconds: 60,
        }),
      /refresh.cronJob im-infra\/postgres-backup-hourly: the CronJob has no spec.jobTemplate/,
    );
  });
});
