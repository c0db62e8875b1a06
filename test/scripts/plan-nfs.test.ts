// scripts/plan-nfs.sh for real: the ssh client against a real sshd (host key pinned), the plan
// scripts run there through remote-run.sh against moto, with the stdin the program builds.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { Backup } from "../../components/config";
import { parsePlanNfs, planNfsStdin, type PlannedRead } from "../../components/plan-nfs";
import { script } from "../../components/scripts";
import { backupFixture } from "../helpers/copy-fixtures";
import {
  backupName,
  isoTime,
  listObjects,
  snapshotTree,
  writeBackup,
  writeMediaTree,
} from "../helpers/fixtures";
import { run, type RunResult } from "../helpers/run";
import { useNfsBench } from "../helpers/nfs-bench";
import { tempDir } from "../helpers/servers";

const BUCKET = "relocation-plan-nfs";
const KEY_ID = "AKIAPLANNFSKEYID0001";
const SECRET = "plan-nfs-secret-only-on-stdin-0123";
const bench = useNfsBench(BUCKET);

function latest(sourceDir: string): Backup {
  return backupFixture({ sourceDir, preSync: false });
}

function tree(sourceDir: string): Backup {
  return { ...latest(sourceDir), name: "media", kind: "tree", prefix: "media/" };
}

/** Runs plan-nfs.sh as plan-read.ts does: settings in env, keys on stdin. */
async function planNfs(
  reads: PlannedRead[],
  over: { hostKey?: string; privateKey?: string } = {},
): Promise<RunResult> {
  const target = { bucket: BUCKET, region: "eu-central-1", endpoint: bench.moto.endpoint };
  const stdin = planNfsStdin(over.privateKey ?? bench.sshd.privateKey, reads, target, {
    AWS_ACCESS_KEY_ID: KEY_ID,
    AWS_SECRET_ACCESS_KEY: SECRET,
  });
  const localTmp = tempDir("plan-nfs-tmp-");
  const r = await run("bash", [script("plan-nfs.sh").path], {
    input: stdin,
    env: {
      NFS_HOST: "127.0.0.1",
      NFS_PORT: String(bench.sshd.port),
      NFS_USER: "root",
      NFS_HOST_KEY: over.hostKey ?? bench.sshd.hostKey,
      TMPDIR: localTmp,
    },
  });
  for (const text of [r.stdout, r.stderr]) {
    assert.ok(!text.includes(SECRET) && !text.includes(KEY_ID), "an S3 key was printed");
    assert.ok(!text.includes("PRIVATE KEY"), "the private key was printed");
  }
  // The key file is gone, and so is every script directory remote-run.sh made on the "server"
  // (mktemp -d in its /tmp: other processes' files there are left out).
  assert.deepEqual(readdirSync(localTmp), [], "the key's temporary directory was left behind");
  const left = readdirSync("/tmp").filter(
    (d) => /^tmp\.[A-Za-z0-9]{10}$/.test(d) && existsSync(path.join("/tmp", d, "copy-common.sh")),
  );
  assert.deepEqual(left, [], "remote-run.sh left its scripts on the server");
  return r;
}

describe("plan-nfs.sh against a real sshd", () => {
  it("logs in with the pinned host key and reads each backup's plan, changing nothing", async () => {
    const hourly = tempDir("plan-nfs-hourly-");
    const t = isoTime(-1800);
    writeBackup(hourly, t, "SELECT 1;\n", 1800);
    const media = tempDir("plan-nfs-media-");
    const files = writeMediaTree(media, 50_000);
    const before = [snapshotTree(hourly), snapshotTree(media)];

    const r = await planNfs([
      { backup: latest(hourly), dir: hourly },
      { backup: tree(media), dir: media },
    ]);
    assert.equal(r.code, 0, r.stderr);
    const parsed = parsePlanNfs(r.stdout, "root@127.0.0.1");
    assert.equal(parsed.ssh.ok, true, parsed.ssh.message);
    assert.match(parsed.ssh.message, /^nfs-check: ok: root@/);
    const db = parsed.results.get("keycloak-db");
    assert.ok(db?.ok, JSON.stringify(db));
    assert.equal((db.json as { name: string }).name, backupName(t));
    assert.equal((db.json as { inS3: string }).inS3, "absent");
    const m = parsed.results.get("media");
    assert.ok(m?.ok, JSON.stringify(m));
    assert.equal((m.json as { deltaFiles: number }).deltaFiles, files.length);

    assert.deepEqual([snapshotTree(hourly), snapshotTree(media)], before, "NFS files changed");
    assert.deepEqual(await listObjects(bench.moto.env, BUCKET, ""), [], "the plan wrote to S3");
  });

  it("a key without its final newline (as `pulumi config set --secret` stores it) = still logs in", async () => {
    const r = await planNfs([], { privateKey: bench.sshd.privateKey.replace(/\n+$/, "") });
    assert.equal(r.code, 0, r.stderr);
    const parsed = parsePlanNfs(r.stdout, "root@127.0.0.1");
    assert.equal(parsed.ssh.ok, true, parsed.ssh.message);
  });

  it("says what is wrong when the host key does not match, and reads nothing", async () => {
    const other =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const hourly = tempDir("plan-nfs-hourly-");
    const r = await planNfs([{ backup: latest(hourly), dir: hourly }], { hostKey: other });
    assert.equal(r.code, 0, r.stderr);
    const parsed = parsePlanNfs(r.stdout, "root@127.0.0.1");
    assert.equal(parsed.ssh.ok, false);
    assert.match(parsed.ssh.message, /Host key verification failed/);
    assert.equal(parsed.results.size, 0);
  });

  it("reports a backup's own failure as its line, the others still read", async () => {
    const missing = path.join(tempDir("plan-nfs-"), "no-such-dir");
    const media = tempDir("plan-nfs-media-");
    writeMediaTree(media, 1000);
    const r = await planNfs([
      { backup: latest(missing), dir: missing },
      { backup: tree(media), dir: media },
    ]);
    assert.equal(r.code, 0, r.stderr);
    const parsed = parsePlanNfs(r.stdout, "root@127.0.0.1");
    const db = parsed.results.get("keycloak-db");
    assert.ok(db && !db.ok);
    assert.match(db.error, /^copy-latest: ERROR: source directory .*no-such-dir does not exist/);
    assert.ok(parsed.results.get("media")?.ok);
    assert.ok(!existsSync(missing));
  });

  it("refuses an unpinned host key before connecting", async () => {
    const r = await planNfs([], { hostKey: "" });
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim().split("\n").pop()!, /^plan-nfs.sh: ERROR: NFS_HOST_KEY must be/);
  });
});
