// The ssh executor for real: a real sshd on 127.0.0.1 runs the copy scripts exactly as the
// NfsToS3Copy Commands send them (same command text, same stdin), against moto.
import assert from "node:assert/strict";
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { Backup } from "../../components/config";
import { remoteDir, remoteInvocation, shellQuote } from "../../components/nfs-to-s3-copy";
import { script } from "../../components/scripts";
import {
  copySettings,
  parseLatestResult,
  parseTreeResult,
  scriptFiles,
  scriptFor,
} from "../../components/copy-result";
import { backupFixture } from "../helpers/copy-fixtures";
import { isoTime, listObjects, writeBackup, writeMediaTree } from "../helpers/fixtures";
import { useNfsBench } from "../helpers/nfs-bench";
import { tempDir } from "../helpers/servers";

/** Objects under a prefix without the manifests sync-dir.sh writes next to the tree. */
const treeObjects = async (...args: Parameters<typeof listObjects>) =>
  (await listObjects(...args)).filter((o) => !o.Key.includes(".relocation-manifest/"));

const BUCKET = "relocation-ssh";
const KEY_ID = "AKIASSHTESTKEYID0001";
const SECRET = "ssh-stdin-secret-never-on-a-command-line";
const bench = useNfsBench(BUCKET);

function backup(over: Partial<Backup>): Backup {
  return backupFixture({ sourceDir: "/", preSync: false, ...over });
}

/** What the NfsToS3Copy Command sends: the runner as command text, settings and scripts on stdin. */
async function deployAndRun(b: Backup, scriptDir: string) {
  const dir = remoteDir(scriptDir, b.name);
  const target = { bucket: BUCKET, region: "eu-central-1", endpoint: bench.moto.endpoint };
  const invocation = remoteInvocation(
    dir,
    scriptFor(b.kind),
    {
      ...copySettings(b, target, b.sourceDir),
      TIMEOUT_SECONDS: "300",
      AWS_ACCESS_KEY_ID: KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRET,
    },
    scriptFiles(b.kind).map((f) => script(f)),
  );
  assert.ok(!invocation.command.includes(SECRET) && !invocation.command.includes(KEY_ID));
  return { dir, invocation, result: await bench.sshd.ssh(invocation.command, invocation.stdin) };
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
    const keys = (await treeObjects(bench.moto.env, BUCKET, "production-keycloak-db/")).map(
      (o) => o.Key,
    );
    assert.deepEqual(keys, [parsed.key]);
    // The sshd logged the command it ran: the secret is not in it.
    assert.ok(!bench.sshd.log().includes(SECRET));
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
    assert.equal((await treeObjects(bench.moto.env, BUCKET, "media/")).length, files.length);
  });

  it("settings sent as SSH Setenv = refused by a Debian-like sshd (why stdin is used)", async () => {
    const r = await bench.sshd.ssh('echo "${AWS_SECRET_ACCESS_KEY:-unset} ${LANG:-unset}"', "", [
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
    const dir = remoteDir(tempDir("scripts"), "keycloak-db");
    const inv = remoteInvocation(dir, "copy-latest.sh", { LD_PRELOAD: SECRET });
    const r = await bench.sshd.ssh(inv.command, inv.stdin);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /remote-run: ERROR: unknown setting 'LD_PRELOAD' on stdin/);
    assert.ok(!r.stderr.includes(SECRET));
  });

  it("scripts gone from the server (reboot, tmp cleaner) or edited = written again, copy runs", async () => {
    const source = tempDir("nfs-hourly");
    writeBackup(source, isoTime(-3600), "-- dump\n");
    const b = backup({ sourceDir: source, prefix: "again/" });
    const scriptDir = tempDir("scripts");
    const first = await deployAndRun(b, scriptDir);
    assert.equal(first.result.code, 0, first.result.stderr);
    assert.match(first.result.stderr, /copy-latest\.sh was not on the server; copied to/);
    assert.equal(
      readFileSync(`${first.dir}/copy-latest.sh`, "utf8"),
      script("copy-latest.sh").text,
    );

    const unchanged = await deployAndRun(b, scriptDir);
    assert.equal(unchanged.result.code, 0, unchanged.result.stderr);
    assert.doesNotMatch(unchanged.result.stderr, /copied/, "nothing rewritten when intact");

    rmSync(`${first.dir}/copy-common.sh`);
    writeFileSync(`${first.dir}/copy-latest.sh`, "echo tampered; exit 1\n");
    const repaired = await deployAndRun(b, scriptDir);
    assert.equal(repaired.result.code, 0, repaired.result.stderr);
    assert.match(repaired.result.stderr, /copy-common\.sh was not on the server/);
    assert.match(repaired.result.stderr, /copy-latest\.sh differed on the server; copied again/);
    assert.equal(
      readFileSync(`${first.dir}/copy-latest.sh`, "utf8"),
      script("copy-latest.sh").text,
    );
  });

  it("script damaged on stdin (byte count or hash wrong) = refused, nothing run", async () => {
    const dir = remoteDir(tempDir("scripts"), "keycloak-db");
    const good = script("copy-latest.sh");
    const inv = remoteInvocation(dir, "copy-latest.sh", {}, [{ ...good, sha256: "0".repeat(64) }]);
    const r = await bench.sshd.ssh(inv.command, inv.stdin);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /copy-latest\.sh: content does not match its SHA-256/);
  });

  it("script directory owned by someone else = refused before any script is written", async () => {
    const scriptDir = tempDir("scripts");
    const dir = remoteDir(scriptDir, "keycloak-db");
    mkdirSync(dir);
    chownSync(dir, 65534, 65534);
    const inv = remoteInvocation(dir, "copy-latest.sh", {}, [script("copy-latest.sh")]);
    const r = await bench.sshd.ssh(inv.command, inv.stdin);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not owned by root/);
  });
});

describe("nfs-check.sh over SSH", () => {
  const check = () => `bash -c ${shellQuote(script("nfs-check.sh").text)} nfs-check`;

  it("bash and the aws CLI on the session's PATH = one ok line", async () => {
    const r = await bench.sshd.ssh(check());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^nfs-check: ok: root@\S+ bash \d+\.\d+.*aws-cli\//);
  });

  it("aws CLI missing = one line naming it and the PATH, exit 1", async () => {
    const r = await bench.sshd.ssh(
      // bash re-reads ~/.bashrc (and its PATH) when it sees SSH_CLIENT; hide it to narrow PATH.
      `env -u SSH_CLIENT PATH=/usr/bin:/bin ${check()}`,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^nfs-check: root@\S+: 'aws' is not on the SSH session's PATH/m);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  });
});
