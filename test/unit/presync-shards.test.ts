// Two-phase media sync and sharded copies with mocks: the Indexed Job's spec and result read-back,
// the merge of shard results, and the order pre-sync -> quiesce -> final copy. The scripts run
// for real in test/scripts/sync-shards.test.ts and two-phase.test.ts.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { Backup } from "../../components/config";
import { mergeShardResults, type ShardResult } from "../../components/copy-result";
import { script } from "../../components/scripts";
import { JOBS, mediaFixture, NFS } from "../helpers/copy-fixtures";
import { settle, useMocks, valueOf, type Recorder } from "../helpers/mocks";

const NOW = "2026-11-25T10:05:00Z";
const shardLine = (shard: number, shards: number, files: number, bytes: number, at = NOW) =>
  JSON.stringify({
    bucket: "im-fragalysis",
    prefix: "production-stack-media/",
    files,
    bytes,
    uploaded: 1,
    skipped: files - 1,
    verifiedAt: at,
    tool: "aws",
    shard,
    shards,
    treeFiles: 12,
    treeBytes: 6000,
  });
// Three shards of a 12-file, 6000-byte tree, printed in pod order (not shard order).
const THREE_SHARDS = [
  shardLine(2, 3, 5, 2000),
  shardLine(0, 3, 3, 2000, "2026-11-25T10:06:40Z"),
  shardLine(1, 3, 4, 2000),
].join("\n");
const TREE = `{"bucket":"im-fragalysis","prefix":"production-stack-media/","files":12,"bytes":6000,"uploaded":12,"skipped":0,"verifiedAt":"${NOW}","tool":"aws","shard":0,"shards":1,"treeFiles":12,"treeBytes":6000}`;

let rec: Recorder;
let mod: typeof import("../../components/backup-copy");
let job: typeof import("../../components/copy-job");
let quiesce: typeof import("../../components/quiesced-statefulset");

before(async () => {
  rec = await useMocks({
    state: (type, name, inputs) => {
      const metadata = inputs.metadata as Record<string, unknown> | undefined;
      return type.startsWith("kubernetes:") && metadata && !metadata.name
        ? { metadata: { ...metadata, name: `${name}-x1`, uid: `uid-${name}` } }
        : {};
    },
    commandStdout: (name, inputs) => {
      const env = (inputs.environment ?? {}) as Record<string, string>;
      if (env.STATEFULSET) {
        return `{"namespace":"${env.NAMESPACE}","statefulSet":"${env.STATEFULSET}","originalReplicas":2,"quiescedAt":"2026-11-25T10:00:00Z"}`;
      }
      if (name.endsWith("-result")) return `log\n${env.SHARDS === "3" ? THREE_SHARDS : TREE}`;
      if (name.endsWith("-copy")) return `log\n${TREE}`;
      return "";
    },
  });
  mod = await import("../../components/backup-copy");
  job = await import("../../components/copy-job");
  quiesce = await import("../../components/quiesced-statefulset");
});

function copy(
  name: string,
  b: Backup,
  extra: Partial<ConstructorParameters<typeof mod.BackupCopy>[1]> = {},
) {
  return new mod.BackupCopy(name, {
    backup: b,
    target: { bucket: "im-fragalysis", region: "eu-central-1" },
    credentials: { accessKeyId: pulumi.secret("AKIA1"), secretAccessKey: pulumi.secret("s") },
    nfs: NFS,
    sshPrivateKey: pulumi.secret("key"),
    jobs: JOBS,
    timeoutSeconds: 3600,
    ...extra,
  });
}

describe("indexedJobSpec", () => {
  it("one shard = a plain Job (no fields)", () => {
    assert.deepEqual(job.indexedJobSpec(1), {});
  });
  it("four shards = Indexed, completions = parallelism = 4", () => {
    assert.deepEqual(job.indexedJobSpec(4), {
      completionMode: "Indexed",
      completions: 4,
      parallelism: 4,
    });
  });
  it("zero shards = error", () => {
    assert.throws(() => job.indexedJobSpec(0), /shards must be >= 1, got 0/);
  });
});

describe("mergeShardResults", () => {
  const part = (shard: number, files: number, bytes: number, over: Partial<ShardResult> = {}) => ({
    bucket: "b",
    prefix: "m/",
    files,
    bytes,
    uploaded: files,
    skipped: 0,
    verifiedAt: `2026-11-25T10:0${shard}:00Z`,
    shard,
    shards: 2,
    treeFiles: 5,
    treeBytes: 500,
    ...over,
  });

  it("two parts adding up to the tree = summed counts, latest verifiedAt", () => {
    assert.deepEqual(mergeShardResults([part(1, 3, 260), part(0, 2, 240)], 2, "media"), {
      kind: "tree",
      bucket: "b",
      prefix: "m/",
      files: 5,
      bytes: 500,
      uploaded: 5,
      skipped: 0,
      verifiedAt: "2026-11-25T10:01:00Z",
      shards: 2,
    });
  });

  const bad: [string, ShardResult[], RegExp][] = [
    ["a shard missing", [part(0, 2, 240)], /no result for shard\(s\) 1 of 2/],
    ["a shard twice", [part(0, 2, 240), part(0, 2, 240)], /two results for shard 0/],
    [
      "a part of another split",
      [part(0, 2, 240), part(1, 3, 260, { shards: 3 })],
      /one of 3, expected 2/,
    ],
    [
      "parts short of the tree (a gap)",
      [part(0, 2, 240), part(1, 2, 200)],
      /do not add up to the tree \(5 files, 500 bytes\)/,
    ],
    ["parts beyond the tree (an overlap)", [part(0, 3, 300), part(1, 3, 260)], /do not add up/],
    [
      "shards that saw different trees",
      [part(0, 2, 240), part(1, 3, 260, { treeFiles: 6 })],
      /saw different trees/,
    ],
    [
      "another destination",
      [part(0, 2, 240), part(1, 3, 260, { prefix: "x/" })],
      /different destinations/,
    ],
  ];
  for (const [name, parts, message] of bad) {
    it(`${name} = error naming the backup`, () => {
      assert.throws(
        () => mergeShardResults(parts, 2, "media"),
        (e: Error) => {
          assert.match(e.message, /^backup media: /);
          assert.match(e.message, message);
          return true;
        },
      );
    });
  }
});

describe("sharded media Job", () => {
  let spec: any;
  let result: any;

  before(async () => {
    const c = copy("sharded", mediaFixture({ executor: "job", shards: 3 }));
    result = await valueOf(c.result);
    await settle();
    spec = rec.named("sharded-job-job").inputs.spec;
  });

  it("Job = Indexed, completions = parallelism = 3, retries scaled per shard", () => {
    assert.equal(spec.completionMode, "Indexed");
    assert.equal(spec.completions, 3);
    assert.equal(spec.parallelism, 3);
    assert.equal(spec.backoffLimit, 6);
    assert.equal(spec.activeDeadlineSeconds, 3600);
  });

  it("pod = SHARD_COUNT set, index from JOB_COMPLETION_INDEX (not fixed in the spec)", () => {
    const c = spec.template.spec.containers[0];
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.SHARD_COUNT, "3");
    assert.equal(env.SHARD_INDEX, undefined, "every pod gets the same template");
    assert.equal(env.JOB_COMPLETION_INDEX, undefined, "Kubernetes sets it per pod");
    assert.deepEqual(c.command, ["bash", "/scripts/sync-dir.sh"]);
    assert.match(
      script("sync-dir.sh").text,
      /SHARD_INDEX="\$\{SHARD_INDEX:-\$\{JOB_COMPLETION_INDEX:-0\}\}"/,
    );
  });

  it("pod = same guarantees as one shard: non-root, read-only source, limits", () => {
    const pod = spec.template.spec;
    const c = pod.containers[0];
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 65534);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(pod.volumes.find((v: any) => v.name === "source").nfs.readOnly, true);
    assert.equal(c.volumeMounts.find((m: any) => m.name === "source").readOnly, true);
    assert.deepEqual(c.resources.limits, { memory: "1Gi" });
  });

  it("read-back = every shard's result (SHARDS set), merged into one result", () => {
    const reader = rec.named("sharded-job-result");
    assert.equal(reader.inputs.create, script("copy-job-result.sh").text);
    assert.equal((reader.inputs.environment as any).SHARDS, "3");
    assert.ok(rec.waitsFor(reader, rec.named("sharded-job-job")));
    assert.deepEqual(result, {
      kind: "tree",
      bucket: "im-fragalysis",
      prefix: "production-stack-media/",
      files: 12,
      bytes: 6000,
      uploaded: 3,
      skipped: 9,
      verifiedAt: "2026-11-25T10:06:40Z",
      shards: 3,
    });
  });

  it("one shard = plain Job, single result reader", async () => {
    copy("single", mediaFixture({ name: "single", executor: "job" }));
    await settle();
    const s = rec.named("single-job-job").inputs.spec as any;
    assert.equal(s.completionMode, undefined);
    assert.equal(s.parallelism, undefined);
    assert.equal(s.backoffLimit, 2);
    const env = s.template.spec.containers[0].env.map((e: any) => e.name);
    assert.ok(!env.includes("SHARD_COUNT"));
    assert.equal(rec.named("single-job-result").inputs.create, script("copy-job-result.sh").text);
  });
});

describe("two-phase media sync", () => {
  let presync: InstanceType<typeof mod.BackupCopy>;
  let final: InstanceType<typeof mod.BackupCopy>;

  before(async () => {
    // As index.ts wires it: pre-sync -> quiesce (runAfter) -> final copy (runAfter scaledToZero).
    presync = copy("presync-stack-media", mediaFixture(), { phase: "presync" });
    const q = new quiesce.QuiescedStatefulSet("quiesce-stack", {
      namespace: "production-stack",
      statefulSet: "stack",
      runAfter: [presync],
    });
    final = copy("backup-stack-media", mediaFixture(), { runAfter: [q.scaledToZero] });
    await valueOf(final.outputs);
    await settle();
  });

  it("pre-sync copy = before the quiesce; final copy = after it", () => {
    const scale = rec.named("quiesce-stack-scale");
    const pre = rec.named("presync-stack-media-ssh-copy");
    const fin = rec.named("backup-stack-media-ssh-copy");
    assert.ok(rec.waitsFor(scale, pre), "quiesce does not wait for the pre-sync");
    assert.ok(rec.waitsFor(fin, scale), "final copy does not wait for the quiesce");
    assert.ok(!rec.waitsFor(pre, scale), "pre-sync waits for the quiesce");
  });

  it("pre-sync = same script and destination, scripts in a directory of its own", () => {
    const pre = rec.named("presync-stack-media-ssh-copy");
    const fin = rec.named("backup-stack-media-ssh-copy");
    assert.match(
      String(pre.inputs.create),
      / remote-run '\/var\/lib\/fragalysis-relocation\/stack-media-presync' 'sync-dir.sh'$/,
    );
    assert.match(
      String(fin.inputs.create),
      / remote-run '\/var\/lib\/fragalysis-relocation\/stack-media' 'sync-dir.sh'$/,
    );
  });

  it("verifiedAt = the result's time", async () => {
    assert.equal(await valueOf(final.verifiedAt), NOW);
    assert.equal(await valueOf(presync.verifiedAt), NOW);
  });

  it("pre-sync of a dump = error", () => {
    assert.throws(
      () => copy("presync-db", mediaFixture({ name: "db", kind: "latest" }), { phase: "presync" }),
      /only a "tree" backup can be pre-synced/,
    );
  });

  it("preSyncBackups = trees with preSync on; dumps and preSync: false left out", () => {
    const backups = [
      mediaFixture({ name: "a" }),
      mediaFixture({ name: "b", preSync: false }),
      mediaFixture({ name: "c", kind: "latest" }),
    ];
    assert.deepEqual(
      mod.preSyncBackups(backups).map((b) => b.name),
      ["a"],
    );
  });
});
