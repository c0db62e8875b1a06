// MediaRestore against mocks: one Job in the PVC's namespace running restore-tree.sh with the
// volume mounted read-write, its settings from the source's tree entry, the access key only as
// a secretKeyRef, the uid from restore.media[].runAsUser, retries (the script resumes), the
// result read back and checked; a dump, a tree without manifests or a missing entry fails with
// one line naming the backup and the setting.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  assertRestoreJob,
  assertRestoreScripts,
  assertSecretOnlyInSecret,
  envOf,
  restoreConfig,
  restoreJobS3,
  restoreJobState,
  STACK_DB_RESTORE,
} from "../helpers/destination";
import { useMocks, valueOf, type Recorder } from "../helpers/mocks";
import { collectUnhandledRejections, forgetLeakedPromises, rejection } from "../helpers/rejections";
import { judgedSuccess } from "../helpers/judged";

let rec: Recorder;
let mod: typeof import("../../components/restore/media-restore");

const M1 = "a".repeat(64);
const M2 = "b".repeat(64);
const TREE = {
  bucket: "im-fragalysis",
  prefix: "production-stack-media/",
  files: 135000,
  bytes: 257698037760,
  manifestKey:
    "production-stack-media/.relocation-manifest/shard-0.jsonl production-stack-media/.relocation-manifest/shard-1.jsonl",
  manifestSha256: `${M1} ${M2}`,
  capturedAt: "2026-12-07T00:00:00Z",
  rpoSeconds: 0,
};
const DUMP = {
  bucket: "im-fragalysis",
  key: "production-stack-db/backup-2026-12-07T00:00:00Z-dumpall.sql.gz",
  size: 1024,
  sha256: "c".repeat(64),
  sourceTime: "2026-12-07T00:00:00Z",
  capturedAt: "2026-12-07T00:00:00Z",
  rpoSeconds: 60,
};
const result = (change: Record<string, unknown> = {}) =>
  JSON.stringify({
    prefix: "s3://im-fragalysis/production-stack-media/",
    dest: "/code/media",
    files: TREE.files,
    bytes: TREE.bytes,
    downloaded: 134000,
    kept: 1000,
    ignored: 2,
    verifiedAt: "2026-12-07T03:00:00Z",
    ...change,
  });
const KEY = "fragalysis-relocation:restore.media[0].backup";

before(async () => {
  collectUnhandledRejections();
  rec = await useMocks({
    commandStdout: (name) =>
      judgedSuccess(
        name === "fewer-result"
          ? result({ files: 3, downloaded: 3, kept: 0 })
          : name === "odd-result"
            ? result({ kept: 999 })
            : name === "cut-result"
              ? result().slice(0, 100)
              : name === "shape-result"
                ? result({ files: "135000" })
                : `progress: ...\n${result()}\n`,
      ),
    state: restoreJobState,
  });
  mod = await import("../../components/restore/media-restore");
});

after(forgetLeakedPromises);

/** restore.media[0] as the config parser fills it in. */
function media(change: Record<string, unknown> = {}) {
  return restoreConfig({
    databases: [STACK_DB_RESTORE],
    media: [{ backup: "stack-media", namespace: "production-stack", pvc: "media", ...change }],
  }).media[0]!;
}

function restore(name: string, backups: unknown, opts: Record<string, unknown> = {}) {
  return new mod.MediaRestore(name, {
    media: media(opts.media as Record<string, unknown>),
    key: KEY,
    backups,
    ...restoreJobS3(),
    ...(opts.deleteDataOnDestroy ? { deleteDataOnDestroy: true } : {}),
  });
}

describe("MediaRestore", () => {
  it("children, Job, mount, env from the tree entry, key only by reference, result read back", async () => {
    const r = restore("stack-media", { "stack-db": DUMP, "stack-media": TREE });
    assert.deepEqual(await valueOf(r.result), JSON.parse(result()));
    const job = assertRestoreJob(
      rec,
      "stack-media",
      "relocation:restore:MediaRestore",
      "production-stack",
    );
    // Resumable: retried, within one deadline for all attempts.
    assert.equal(job.spec.backoffLimit, 2);

    const pod = job.spec.template.spec;
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: false,
      runAsUser: 0,
      runAsGroup: 0,
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.deepEqual(
      pod.volumes.find((v: any) => v.name === "media"),
      { name: "media", persistentVolumeClaim: { claimName: "media" } },
    );
    assert.equal(pod.initContainers, undefined);
    assert.equal(pod.containers.length, 1);
    const [main] = pod.containers;
    assert.equal(main.name, "restore");
    assert.equal(main.image, "amazon/aws-cli:2.31.39");
    assert.deepEqual(main.command, ["bash", "/scripts/restore/restore-tree.sh"]);
    // Root keeps only what adopting files of another owner needs (link, mtime, read).
    assert.deepEqual(main.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"], add: ["DAC_OVERRIDE", "FOWNER"] },
    });
    // Read-write at the path the stack mounts it; nothing else of the volume.
    assert.deepEqual(
      main.volumeMounts.find((m: any) => m.name === "media"),
      { name: "media", mountPath: "/code/media" },
    );

    const env = envOf(main.env);
    assert.equal(env.SOURCE_URI, "s3://im-fragalysis/production-stack-media/");
    assert.equal(env.MANIFEST_KEYS, TREE.manifestKey);
    assert.equal(env.MANIFEST_SHA256S, `${M1} ${M2}`);
    assert.equal(env.EXPECTED_FILES, "135000");
    assert.equal(env.EXPECTED_BYTES, "257698037760");
    assert.equal(env.DEST_DIR, "/code/media");
    assert.equal(env.ALLOW_OVERWRITE, "false");
    assert.equal(env.RESULT_FILE, "/dev/termination-log");
    assert.equal(env.AWS_ENDPOINT_URL, "http://s3.example:9000");
    assert.equal(env.AWS_DEFAULT_REGION, "eu-central-1");
    assert.deepEqual(env.AWS_ACCESS_KEY_ID, {
      secretKeyRef: { name: "stack-media-aws-secret-1a2b3c", key: "AWS_ACCESS_KEY_ID" },
    });
    assert.deepEqual(env.AWS_SECRET_ACCESS_KEY, {
      secretKeyRef: { name: "stack-media-aws-secret-1a2b3c", key: "AWS_SECRET_ACCESS_KEY" },
    });
    const awsSecret = rec.named("stack-media-aws-secret");
    assert.equal((awsSecret.inputs as any).metadata.namespace, "production-stack");

    // The scripts, at the paths restore-tree.sh sources them from, with their hash in the pod.
    assertRestoreScripts(
      rec,
      "stack-media",
      "production-stack",
      job,
      ["copy-common.sh", "restore-tree.sh"],
      ["copy-common.sh", "restore/restore-tree.sh"],
    );

    const reader = rec.named("stack-media-result");
    assert.equal((reader.inputs as any).environment.NAMESPACE, "production-stack");
    assert.equal((reader.inputs as any).environment.JOB_NAME, "stack-media-job");
    assert.ok(rec.waitsFor(reader, rec.named("stack-media-job")));

    // Nothing secret in plain inputs: the access key only in the credentials Secret.
    assertSecretOnlyInSecret(rec, "stack-media");
  });

  it("runAsUser 1000 = non-root pod; allowOverwrite = ALLOW_OVERWRITE=true; deleteDataOnDestroy = not retained", async () => {
    const r = restore(
      "uid",
      { "stack-media": TREE },
      {
        media: { runAsUser: 1000, runAsGroup: 1001, allowOverwrite: true },
        deleteDataOnDestroy: true,
      },
    );
    await valueOf(r.result);
    const job = rec.named("uid-job");
    assert.equal(job.retainOnDelete, false);
    const pod = (job.inputs as any).spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 1000);
    assert.equal(pod.securityContext.runAsGroup, 1001);
    assert.deepEqual(pod.containers[0].securityContext.capabilities, { drop: ["ALL"] });
    assert.equal(envOf(pod.containers[0].env).ALLOW_OVERWRITE, "true");
  });

  const { manifestKey: _k, manifestSha256: _s, ...bare } = TREE;
  const broken: Array<[string, unknown, RegExp]> = [
    [
      "a dump named as media = the setting and the fix",
      { "stack-media": DUMP },
      /^restore of backup stack-media: backups\.stack-media is a dump \(one object\), not a tree; set fragalysis-relocation:restore\.media\[0\]\.backup to a tree backup \(the media\) or move it to restore\.databases$/,
    ],
    [
      "a tree without manifests = nothing to check against",
      { "stack-media": bare },
      /^restore of backup stack-media: backups\.stack-media has no manifests \(manifestKey, manifestSha256\), so no file could be checked \(a copy by an older version of this program\?\); copy the tree again with the backup stack \(README: Forcing a fresh copy\), or remove fragalysis-relocation:restore\.media\[0\]\.backup$/,
    ],
    [
      "no such backup = the names it has and the setting",
      { "stack-db": DUMP },
      /^restore of backup stack-media: the source stack's backups output has no entry "stack-media" \(it has: stack-db\); set fragalysis-relocation:restore\.media\[0\]\.backup to one of them$/,
    ],
    [
      "files as a string = the field and the contract",
      { "stack-media": { ...TREE, files: "3" } },
      /^restore of backup stack-media: the source stack's output does not match the shared contract \(components\/shared\/outputs\.ts\): backups\.stack-media\.files: /,
    ],
    [
      "no backups output at all = run the backup stack first",
      undefined,
      /^restore of backup stack-media: the source stack has no backups output/,
    ],
  ];
  broken.forEach(([name, backups, pattern], i) => {
    it(`source entry: ${name}`, async () => {
      const r = restore(`broken${i}`, backups);
      assert.match(await rejection(r.entry), pattern);
      assert.match(await rejection(r.result), pattern);
    });
  });

  const results: Array<[string, RegExp]> = [
    [
      "fewer",
      /^restore of backup stack-media: the Job's result does not match the source: 3 file\(s\), 257698037760 bytes, the source recorded 135000, 257698037760; see the pod's log/,
    ],
    [
      "odd",
      /^restore of backup stack-media: the Job's result does not match the source: downloaded 134000 \+ kept 999 is not files 135000; /,
    ],
    [
      "cut",
      /^restore of backup stack-media: the Job's result is not JSON .*see the last line of the pod's log \(kubectl logs job\/<name> -c restore\)$/,
    ],
    [
      "shape",
      /^restore of backup stack-media: the Job's result does not have the expected shape: files: /,
    ],
  ];
  for (const [name, pattern] of results) {
    it(`result: ${name} = fails naming what differs`, async () => {
      const r = restore(name, { "stack-media": TREE });
      assert.match(await rejection(r.result), pattern);
    });
  }

  it("parseMediaResult: another prefix = both named", () => {
    assert.throws(
      () =>
        mod.parseMediaResult(
          result({ prefix: "s3://other/production-stack-media/" }),
          "stack-media",
          TREE,
        ),
      /does not match the source: prefix s3:\/\/other\/production-stack-media\/, the source recorded s3:\/\/im-fragalysis\/production-stack-media\/; /,
    );
  });
});
