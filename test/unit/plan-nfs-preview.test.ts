// Preview of the production stack file with nfs.hostKey pinned and a handed S3 key: the NFS part
// of the plan is one more local.run (plan-nfs.sh) whose keys travel on stdin only, each backup
// is read in the directory up copies from, and the plan output holds per-backup entries keyed
// by name and the downtime estimate with its inputs, and no secret.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { planSchema, planText } from "../../components/plan";
import { isSecret, settle, valueOf, type Recorder } from "../helpers/mocks";
import { MEDIA_DIR, usePreviewMocks } from "../helpers/refresh-mocks";
import { type BackupOutputs, importBackupStack, useStackConfig } from "../helpers/stack";

const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nplan-nfs-ssh-secret\n";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const SECRETS = /plan-nfs-ssh-secret|AKIAPLANNFS|plan-nfs-s3-secret/;
let recorder: Recorder;
let stack: BackupOutputs;

before(async () => {
  recorder = await usePreviewMocks();
  useStackConfig("production", {
    sshPrivateKey: SSH_KEY,
    nfs: JSON.stringify({ host: "192.168.253.39", user: "root", hostKey: HOST_KEY }),
    aws: JSON.stringify({ manage: false, region: "eu-central-1" }),
    awsAccessKeyId: "AKIAPLANNFS",
    awsSecretAccessKey: "plan-nfs-s3-secret",
  });
  stack = await importBackupStack();
  for (let i = 0; i < 20; i++) await settle();
});

const nfsInvoke = () => {
  const found = recorder.invokes.filter((i) => String(i.inputs.command).includes("plan-nfs.sh"));
  assert.equal(found.length, 1, "one plan-nfs.sh invoke");
  return found[0]!.inputs;
};

describe("the plan's NFS part in preview", () => {
  it("= plan-nfs.sh with the server in its environment and every key on stdin only", () => {
    const inputs = nfsInvoke();
    assert.deepEqual(inputs.environment, {
      NFS_HOST: "192.168.253.39",
      NFS_PORT: "22",
      NFS_USER: "root",
      NFS_HOST_KEY: HOST_KEY,
    });
    assert.doesNotMatch(String(inputs.command), SECRETS);
    const stdin = String(inputs.stdin);
    assert.ok(stdin.startsWith(`#key ${Buffer.byteLength(SSH_KEY)}\n${SSH_KEY}#backup `));
    assert.match(stdin, /^AWS_SECRET_ACCESS_KEY=plan-nfs-s3-secret$/m);
    // No other invoke sees the SSH key.
    const others = recorder.invokes.filter((i) => i.inputs !== inputs);
    assert.doesNotMatch(JSON.stringify(others), /plan-nfs-ssh-secret/);
  });

  it("= each backup read read-only where up copies from: sourceDir, or the live volume's PV", () => {
    const stdin = String(nfsInvoke().stdin);
    assert.deepEqual(
      [...stdin.matchAll(/^#backup (\S+) (\S+) \d+$/gm)].map((m) => [m[1], m[2]]),
      [
        ["keycloak-db", "copy-latest.sh"],
        ["stack-db", "copy-latest.sh"],
        ["stack-media", "sync-dir.sh"],
      ],
    );
    assert.equal(stdin.match(/^PLAN_ONLY=true$/gm)?.length, 3);
    assert.match(stdin, new RegExp(`^SOURCE_DIR=${MEDIA_DIR}$`, "m"));
    assert.match(stdin, /^SOURCE_DIR=\/nfs\/kubernetes-prod\/im-infra-pg-bu-pvc-[^\n]*\/hourly$/m);
    assert.doesNotMatch(stdin, /^NOT_BEFORE=/m, "a refreshed dump's plan shows what exists now");
  });

  it("= the plan output: entries by backup name, ssh ok, the estimate; not secret, no key", async () => {
    assert.equal(await isSecret(stack.plan!), false);
    const raw = await valueOf(stack.plan!);
    assert.doesNotMatch(JSON.stringify(raw), SECRETS);
    const plan = planSchema.parse(raw);
    assert.equal(plan.ssh?.ok, true);
    assert.deepEqual(Object.keys(plan.backups), ["keycloak-db", "stack-db", "stack-media"]);
    const db = plan.backups["keycloak-db"]!;
    assert.equal(db.status, "ok");
    assert.equal(db.latest?.inS3, "absent");
    assert.deepEqual(db.refresh, {
      cronJob: "im-infra/postgres-backup-hourly",
      image: "informaticsmatters/sql-backup:15.7",
      lastRunSeconds: 240,
    });
    const media = plan.backups["stack-media"]!;
    assert.equal(media.directory, MEDIA_DIR);
    assert.equal(media.tree?.deltaFiles, 10);
    // The refresh's last run (240 s) + 100 MiB at 21.6 MiB/s (4.6 s): the slowest of the three.
    assert.equal(plan.downtime.seconds, 245);
    assert.deepEqual(
      plan.downtime.backups.map((b) => [b.name, b.seconds]),
      [
        ["keycloak-db", 245],
        ["stack-db", 245],
        ["stack-media", 0],
      ],
    );
    const text = planText(plan);
    assert.match(text, /ssh root@192\.168\.253\.39:22: nfs-check: ok/);
    assert.match(
      text,
      /keycloak-db: newest now .*\/hourly\/backup-2026-12-07T01:51:01Z-dumpall\.sql\.gz \(100\.0 MiB, 30 min old/,
    );
    assert.match(
      text,
      /fresh dump from CronJob im-infra\/postgres-backup-hourly \(image informaticsmatters\/sql-backup:15\.7, last run 240 s\)/,
    );
    assert.match(
      text,
      /stack-media: .*: 1000 files, 1\.0 GiB; in S3 with that size 990 \(990 recorded\); final sync sends at least 10 files, 10\.0 MiB/,
    );
    assert.match(text, /estimated downtime .*: 4 min/);
    assert.match(
      text,
      /stack-media: 10\.0 MiB \/ 112\.9 MiB\/s \+ 10 files \/ 551\.7 files\/s \+ scan 1000 files/,
    );
  });
});
