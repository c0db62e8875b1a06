// The ssh executor for real: a real sshd on 127.0.0.1 runs the copy scripts exactly as the
// NfsToS3Copy Commands send them (same command text, same stdin), against moto.
import assert from "node:assert/strict";
import { chownSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Backup } from "../../components/config";
import {
  RUNNER,
  prepareDirInvocation,
  remoteDir,
  remoteInvocation,
} from "../../components/nfs-to-s3-copy";
import {
  copySettings,
  parseLatestResult,
  parseTreeResult,
  scriptFiles,
  scriptFor,
} from "../../components/copy-result";
import {
  SCRIPTS,
  createBucket,
  isoTime,
  listObjects,
  writeBackup,
  writeMediaTree,
} from "../helpers/fixtures";

/** Objects under a prefix without the manifests sync-dir.sh writes next to the tree. */
const treeObjects = async (...args: Parameters<typeof listObjects>) =>
  (await listObjects(...args)).filter((o) => !o.Key.includes(".relocation-manifest/"));
import { startMoto, tempDir, type Moto } from "../helpers/servers";
import { startSshd, type Sshd } from "../helpers/sshd";

const BUCKET = "relocation-ssh";
const KEY_ID = "AKIASSHTESTKEYID0001";
const SECRET = "ssh-stdin-secret-never-on-a-command-line";
let moto: Moto;
let sshd: Sshd;

before(async () => {
  [moto, sshd] = await Promise.all([startMoto(), startSshd()]);
  await createBucket(moto.env, BUCKET);
});
after(async () => {
  await Promise.all([moto.stop(), sshd.stop()]);
});

function backup(over: Partial<Backup>): Backup {
  return {
    name: "keycloak-db",
    kind: "latest",
    sourceDir: "/",
    prefix: "production-keycloak-db/",
    executor: "ssh",
    pattern: "backup-*-dumpall.sql.gz",
    minAgeSeconds: 120,
    preSync: false,
    shards: 1,
    ...over,
  };
}

/** What NfsToS3Copy does, step by step, with the same pure functions and the same files. */
async function deployAndRun(b: Backup, scriptDir: string) {
  const dir = remoteDir(scriptDir, b.name);
  const prepare = prepareDirInvocation(dir);
  const made = await sshd.ssh(prepare.command, prepare.stdin);
  assert.equal(made.code, 0, made.stderr);
  for (const f of [...scriptFiles(b.kind), RUNNER]) {
    await sshd.put(path.join(SCRIPTS, f), `${dir}/${f}`);
  }
  const target = { bucket: BUCKET, region: "eu-central-1", endpoint: moto.endpoint };
  const invocation = remoteInvocation(dir, scriptFor(b.kind), {
    ...copySettings(b, target, b.sourceDir),
    TIMEOUT_SECONDS: "300",
    AWS_ACCESS_KEY_ID: KEY_ID,
    AWS_SECRET_ACCESS_KEY: SECRET,
  });
  assert.ok(!invocation.command.includes(SECRET) && !invocation.command.includes(KEY_ID));
  return { invocation, result: await sshd.ssh(invocation.command, invocation.stdin) };
}

describe("ssh executor against a real sshd", () => {
  it("latest backup over SSH = copied, result parsed, credentials only on stdin", async () => {
    const source = tempDir("nfs-hourly");
    const time = isoTime(-3600);
    writeBackup(source, time, "-- keycloak dump\n");
    const b = backup({ sourceDir: source });
    const { invocation, result } = await deployAndRun(b, tempDir("scripts"));
    assert.equal(result.code, 0, result.stderr);
    assert.match(invocation.stdin, new RegExp(`^AWS_SECRET_ACCESS_KEY=${SECRET}$`, "m"));
    assert.ok(!result.stdout.includes(SECRET) && !result.stderr.includes(SECRET));
    const parsed = parseLatestResult(result.stdout, b.name);
    assert.equal(parsed.key, `production-keycloak-db/backup-${time}-dumpall.sql.gz`);
    assert.equal(parsed.sourceTime, time);
    const keys = (await treeObjects(moto.env, BUCKET, "production-keycloak-db/")).map((o) => o.Key);
    assert.deepEqual(keys, [parsed.key]);
    // The sshd logged the command it ran: the secret is not in it.
    assert.ok(!sshd.log().includes(SECRET));
  });

  it("media tree over SSH = synced and verified", async () => {
    const source = tempDir("nfs-media");
    const files = writeMediaTree(source, 1024);
    const b = backup({ name: "stack-media", kind: "tree", sourceDir: source, prefix: "media/" });
    const { result } = await deployAndRun(b, tempDir("scripts"));
    assert.equal(result.code, 0, result.stderr);
    const parsed = parseTreeResult(result.stdout, b.name);
    assert.equal(parsed.files, files.length);
    assert.equal(parsed.uploaded, files.length);
    assert.equal((await treeObjects(moto.env, BUCKET, "media/")).length, files.length);
  });

  it("settings sent as SSH Setenv = refused by a Debian-like sshd (why stdin is used)", async () => {
    const r = await sshd.ssh('echo "${AWS_SECRET_ACCESS_KEY:-unset} ${LANG:-unset}"', "", [
      "-o",
      `SetEnv=AWS_SECRET_ACCESS_KEY=${SECRET} LANG=C.UTF-8`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "unset C.UTF-8");
  });

  it("failing copy over SSH = non-zero exit and the script's error line", async () => {
    const b = backup({ sourceDir: "/nonexistent/hourly" });
    const { result } = await deployAndRun(b, tempDir("scripts"));
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /copy-latest: ERROR: source directory \/nonexistent\/hourly does not exist/,
    );
  });

  it("unknown setting on stdin = runner refuses, value not echoed", async () => {
    const scriptDir = tempDir("scripts");
    const b = backup({});
    const dir = remoteDir(scriptDir, b.name);
    await sshd.ssh(prepareDirInvocation(dir).command, prepareDirInvocation(dir).stdin);
    await sshd.put(path.join(SCRIPTS, RUNNER), `${dir}/${RUNNER}`);
    const inv = remoteInvocation(dir, "copy-latest.sh", { LD_PRELOAD: SECRET });
    const r = await sshd.ssh(inv.command, inv.stdin);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /remote-run: ERROR: unknown setting 'LD_PRELOAD' on stdin/);
    assert.ok(!r.stderr.includes(SECRET));
  });

  it("script directory owned by someone else = preparation fails", async () => {
    const scriptDir = tempDir("scripts");
    const dir = remoteDir(scriptDir, "keycloak-db");
    mkdirSync(dir);
    chownSync(dir, 65534, 65534);
    const prepare = prepareDirInvocation(dir);
    const r = await sshd.ssh(prepare.command, prepare.stdin);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not owned by root/);
  });
});
