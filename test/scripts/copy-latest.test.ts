// scripts/copy-latest.sh for real: the aws CLI against moto_server, real gzip, fixture backups.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { useCopyLatestBench } from "../helpers/copy-latest";
import {
  SCRIPTS,
  backupName,
  createBucket,
  getObject,
  headObject,
  isoTime,
  listObjects,
  putObject,
  setAge,
  sha256,
  writeBackup,
  writeCorruptBackup,
} from "../helpers/fixtures";
import { lastJson, run, type RunResult } from "../helpers/run";
import { freePort, startMoto, tempDir } from "../helpers/servers";

const BUCKET = "relocation-test";
const SECRET = "never-printed-secret-0123456789abcdef";
const { env, copyLatest } = useCopyLatestBench(BUCKET, SECRET);

interface Result {
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  source: string;
  sourceTime: string;
}

/** A failed run: exit 1, and its last stderr line is its only ERROR line. */
function failure(r: RunResult): string {
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  const errors = lines.filter((l) => l.includes("ERROR:"));
  assert.equal(errors.length, 1, r.stderr);
  assert.equal(errors[0], lines[lines.length - 1]);
  assert.match(errors[0]!, /^copy-latest: ERROR: /);
  assert.equal(r.stdout.trim(), "", "nothing on stdout after a failure");
  return errors[0]!;
}

/** A successful run's result; its verifiedAt is checked here and left out (it differs per run). */
function success(r: RunResult): Result {
  assert.equal(r.code, 0, r.stderr);
  const { verifiedAt, ...result } = lastJson<Result & { verifiedAt: string }>(r.stdout);
  assert.match(verifiedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, "verifiedAt");
  assert.ok(Math.abs(Date.parse(verifiedAt) - Date.now()) < 120_000, `verifiedAt ${verifiedAt}`);
  return result;
}

/** A backup directory with three good dumps an hour apart, oldest first. */
function hourly(): { dir: string; times: string[] } {
  const dir = tempDir("hourly");
  const times = [isoTime(-3 * 3600), isoTime(-2 * 3600), isoTime(-3600)];
  for (const t of times) writeBackup(dir, t, `-- dump at ${t}\nSELECT 1;\n`);
  return { dir, times };
}

describe("copy-latest.sh choice and upload", () => {
  it("three valid backups = newest uploaded with sha256 metadata, verified, JSON result", async () => {
    const { dir, times } = hourly();
    const newest = backupName(times[2]!);
    const r = await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/newest/` });
    const result = success(r);
    const local = path.join(dir, newest);
    const content = await getObject(env, BUCKET, `newest/${newest}`, path.join(tempDir("dl"), "x"));
    assert.deepEqual(result, {
      bucket: BUCKET,
      key: `newest/${newest}`,
      size: content.length,
      sha256: sha256(content),
      source: local,
      sourceTime: times[2],
    });
    const head = await headObject(env, BUCKET, `newest/${newest}`);
    assert.equal(head.Metadata.sha256, result.sha256);
    assert.equal(head.ServerSideEncryption, "AES256");
    assert.match(r.stderr, /verified: size \d+, S3's own SHA-256/);
  });

  it("newest corrupt, next too young = both skipped with reasons, third newest copied", async () => {
    const dir = tempDir("hourly");
    const [old, young, corrupt] = [isoTime(-7200), isoTime(-3600), isoTime(-1800)];
    writeBackup(dir, old, "old\n");
    writeBackup(dir, young, "young\n", 30); // modified 30 s ago: maybe still being written
    writeCorruptBackup(dir, corrupt);
    const r = await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/skips/` });
    const result = success(r);
    assert.equal(result.sourceTime, old);
    assert.match(r.stderr, new RegExp(`skip ${backupName(corrupt)}: is not valid gzip`));
    assert.match(
      r.stderr,
      new RegExp(
        `skip ${backupName(young)}: too young: modified \\d+s ago \\(< MIN_AGE_SECONDS=120\\)`,
      ),
    );
  });

  it("MIN_AGE_SECONDS=0 = a just-written backup counts", async () => {
    const dir = tempDir("hourly");
    const t = isoTime(-60);
    writeBackup(dir, t, "fresh\n", 0);
    const result = success(
      await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/fresh/`, MIN_AGE_SECONDS: "0" }),
    );
    assert.equal(result.sourceTime, t);
  });

  it("SELECT of an older file = that file, not the newest", async () => {
    const { dir, times } = hourly();
    const result = success(
      await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/select/`, SELECT: backupName(times[0]!) }),
    );
    assert.equal(result.key, `select/${backupName(times[0]!)}`);
  });

  it("names other than the pattern = ignored; PATTERN widens the choice", async () => {
    const dir = tempDir("hourly");
    writeBackup(dir, isoTime(-7200), "dump\n");
    const other = path.join(dir, `other-${isoTime(-60)}.sql.gz`);
    writeFileSync(other, "not even gzip");
    setAge(other, 3600);
    const def = success(await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/pattern/` }));
    assert.match(def.key, /^pattern\/backup-/);
    const r = await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/pattern2/`, PATTERN: "*.sql.gz" });
    assert.match(r.stderr, /skip other-.*is not valid gzip/);
    assert.match(success(r).key, /^pattern2\/backup-/);
  });

  it("file over SINGLE_PUT_MAX_BYTES = multipart upload, verified by its ETag", async () => {
    const dir = tempDir("big");
    const { randomBytes } = await import("node:crypto");
    writeBackup(dir, isoTime(-3600), randomBytes(11 * 1024 * 1024));
    const r = await copyLatest(
      dir,
      { DEST_URI: `s3://${BUCKET}/multipart/` },
      {
        SINGLE_PUT_MAX_BYTES: "1048576",
        MULTIPART_THRESHOLD_BYTES: "8388608",
        MULTIPART_CHUNKSIZE_BYTES: "5242880",
      },
    );
    const result = success(r);
    assert.match(r.stderr, /multipart/);
    assert.match(r.stderr, /ETag matches the source's MD5/);
    const head = await headObject(env, BUCKET, result.key);
    assert.match(head.ETag, /-3"$/, "uploaded in 3 parts");
    const got = await getObject(env, BUCKET, result.key, path.join(tempDir("dl"), "x"));
    assert.equal(sha256(got), result.sha256);
  });
});

describe("copy-latest.sh re-runs", () => {
  it("same content already there = success, nothing uploaded", async () => {
    const { dir } = hourly();
    const first = success(await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/rerun/` }));
    const headBefore = await headObject(env, BUCKET, first.key);
    await new Promise((r) => setTimeout(r, 1100)); // a new upload would change LastModified
    const r = await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/rerun/` });
    assert.deepEqual(success(r), first);
    assert.match(r.stderr, /already holds this file .* nothing uploaded/);
    assert.equal((await headObject(env, BUCKET, first.key)).LastModified, headBefore.LastModified);
  });

  it("same content copied by hand (no sha256 metadata) = recognised by ETag, success", async () => {
    const { dir, times } = hourly();
    const name = backupName(times[2]!);
    const cp = await run("aws", ["s3", "cp", path.join(dir, name), `s3://${BUCKET}/byhand/`], {
      env,
    });
    assert.equal(cp.code, 0, cp.stderr);
    const r = await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/byhand/` });
    assert.equal(success(r).key, `byhand/${name}`);
    assert.match(r.stderr, /already holds this file/);
  });

  it("different content at the key = exit 1, object untouched", async () => {
    const { dir, times } = hourly();
    const name = backupName(times[2]!);
    const other = path.join(tempDir("other"), "x");
    writeFileSync(other, "someone else's dump");
    await putObject(env, BUCKET, `conflict/${name}`, other, [
      "--metadata",
      `sha256=${"0".repeat(64)}`,
    ]);
    const line = failure(await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/conflict/` }));
    assert.match(line, /already exists with different content.*nothing overwritten/);
    const got = await getObject(env, BUCKET, `conflict/${name}`, path.join(tempDir("dl"), "x"));
    assert.equal(got.toString(), "someone else's dump");
  });
});

/**
 * PATH with a stand-in `aws`: bash lines that may answer a call themselves (`$real` is the real
 * CLI), else the real aws CLI runs.
 */
async function standInAws(name: string, lines: string[]): Promise<string> {
  const real = (await run("bash", ["-c", "command -v aws"])).stdout.trim();
  const bin = tempDir(name);
  writeFileSync(
    path.join(bin, "aws"),
    ["#!/bin/bash", `real='${real}'`, ...lines, `exec "$real" "$@"`, ""].join("\n"),
    { mode: 0o755 },
  );
  return `${bin}:${process.env.PATH}`;
}

/**
 * PATH with a stand-in aws that answers a HEAD of a missing key as AWS does when ListBucket is
 * granted per prefix only (the copy policy): 403 Forbidden instead of 404. Moto always says 404.
 */
function awsAnswering403(): Promise<string> {
  return standInAws("bin403", [
    `if [[ " $* " == *" head-object "* ]]; then`,
    `  err=$(mktemp); "$real" "$@" 2>"$err"; code=$?`,
    `  if grep -q '(404)' "$err"; then`,
    `    echo 'An error occurred (403) when calling the HeadObject operation: Forbidden' >&2; exit 255`,
    "  fi",
    `  cat "$err" >&2; exit $code`,
    "fi",
  ]);
}

describe("copy-latest.sh against AWS's 403 for a missing key", () => {
  it("HEAD of a missing key answers 403 = treated as absent, uploaded create-only, verified", async () => {
    const { dir, times } = hourly();
    const r = await copyLatest(
      dir,
      { DEST_URI: `s3://${BUCKET}/forbidden-head/` },
      {
        PATH: await awsAnswering403(),
      },
    );
    const result = success(r);
    assert.equal(result.key, `forbidden-head/${backupName(times[2]!)}`);
    assert.match(r.stderr, /answered 403 .*treating it as absent/);
  });

  it("403 on HEAD but another object at the key = the create-only PUT refuses, untouched", async () => {
    const { dir, times } = hourly();
    const name = backupName(times[2]!);
    const other = path.join(tempDir("other403"), "x");
    writeFileSync(other, "someone else's dump");
    await putObject(env, BUCKET, `forbidden-conflict/${name}`, other);
    // The stand-in hides the object from HEAD only for 404s; make HEAD fail with 403 throughout.
    const PATH = await standInAws("bin403all", [
      `if [[ " $* " == *" head-object "* ]]; then`,
      `  echo 'An error occurred (403) when calling the HeadObject operation: Forbidden' >&2; exit 255`,
      "fi",
    ]);
    const r = await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/forbidden-conflict/` }, { PATH });
    assert.equal(r.code, 1, r.stderr);
    const got = await getObject(
      env,
      BUCKET,
      `forbidden-conflict/${name}`,
      path.join(tempDir("dl"), "x"),
    );
    assert.equal(got.toString(), "someone else's dump");
  });
});

describe("copy-latest.sh with an aws CLI that predates conditional writes", () => {
  it("put-object without --if-none-match = one line naming the CLI and what to use, nothing uploaded", async () => {
    const { dir } = hourly();
    // What Debian's awscli 2.9.19 answers (seen in the sandbox).
    const PATH = await standInAws("oldaws", [
      `if [[ " $* " == *" put-object "* && " $* " == *" --if-none-match "* ]]; then`,
      "  printf '\\nusage: aws [options] <command> <subcommand> [parameters]\\naws: error: Unknown options: --if-none-match, *\\n' >&2; exit 252",
      "fi",
    ]);
    const r = await copyLatest(dir, { DEST_URI: `s3://${BUCKET}/old-cli/` }, { PATH });
    assert.equal(r.code, 1, r.stderr);
    const last = r.stderr.trim().split("\n").pop()!;
    assert.match(
      last,
      /this aws CLI \(aws-cli\/[^)]*\) is too old .*Unknown options: --if-none-match.*jobs\.image/,
    );
    assert.deepEqual(await listObjects(env, BUCKET, "old-cli/"), []);
  });
});

describe("copy-latest.sh failures", () => {
  const cases: {
    name: string;
    setup: (dir: string) => Record<string, string>;
    message: RegExp;
  }[] = [
    {
      name: "no file matches",
      setup: () => ({}),
      message: /no file matching 'backup-\*-dumpall\.sql\.gz' in /,
    },
    {
      name: "every match corrupt",
      setup: (dir) => {
        writeCorruptBackup(dir, isoTime(-3600));
        return {};
      },
      message: /none of the 1 backup\(s\) matching .* is usable/,
    },
    {
      name: "NOT_BEFORE after the newest",
      setup: (dir) => {
        writeBackup(dir, "2023-10-16T12:07:01Z", "old\n");
        return { NOT_BEFORE: "2023-10-16T13:00:00Z" };
      },
      message:
        /NOT_BEFORE 2023-10-16T13:00:00Z not met: the newest backup found is backup-2023-10-16T12:07:01Z-dumpall\.sql\.gz from 2023-10-16T12:07:01Z/,
    },
    {
      name: "NOT_BEFORE met only by a corrupt backup",
      setup: (dir) => {
        writeBackup(dir, "2023-10-16T12:07:01Z", "old\n");
        writeCorruptBackup(dir, "2023-10-16T13:07:01Z");
        return { NOT_BEFORE: "2023-10-16T13:00:00Z" };
      },
      message:
        /not met: the newest found, backup-2023-10-16T13:07:01Z-dumpall\.sql\.gz, was skipped .* the next, backup-2023-10-16T12:07:01Z/,
    },
    {
      name: "NOT_BEFORE malformed",
      setup: () => ({ NOT_BEFORE: "2023-10-16 13:00" }),
      message: /NOT_BEFORE must be a real UTC time/,
    },
    {
      name: "SELECT names a missing file",
      setup: (dir) => {
        writeBackup(dir, isoTime(-3600), "x\n");
        return { SELECT: "backup-1999-01-01T00:00:00Z-dumpall.sql.gz" };
      },
      message: /SELECT: backup-1999-01-01T00:00:00Z-dumpall\.sql\.gz is not in /,
    },
    {
      name: "SELECT names a corrupt file",
      setup: (dir) => {
        writeCorruptBackup(dir, "2023-10-16T12:07:01Z");
        return { SELECT: backupName("2023-10-16T12:07:01Z") };
      },
      message: /SELECT .* is not usable: is not valid gzip/,
    },
    {
      name: "source directory missing",
      setup: () => ({ SOURCE_DIR: "/nonexistent/hourly" }),
      message: /source directory \/nonexistent\/hourly does not exist/,
    },
    {
      name: "DEST_URI without trailing slash",
      setup: () => ({ DEST_URI: `s3://${BUCKET}/prefix` }),
      message: /DEST_URI must end in '\/'/,
    },
    {
      name: "bucket missing",
      setup: (dir) => {
        writeBackup(dir, isoTime(-3600), "x\n");
        return { DEST_URI: "s3://no-such-bucket/p/" };
      },
      message: /bucket no-such-bucket does not exist/,
    },
  ];
  for (const c of cases) {
    it(`${c.name} = exit 1, one clear line`, async () => {
      const dir = tempDir("hourly");
      const settings = { DEST_URI: `s3://${BUCKET}/fail/`, ...c.setup(dir) };
      const r = await run("bash", [path.join(SCRIPTS, "copy-latest.sh")], {
        env: { ...env, SOURCE_DIR: dir, ...settings },
      });
      assert.match(failure(r), c.message);
    });
  }

  it("S3 endpoint down = exit 1, cannot reach S3", async () => {
    const { dir } = hourly();
    const port = await freePort();
    const r = await copyLatest(
      dir,
      { DEST_URI: `s3://${BUCKET}/down/` },
      { AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_MAX_ATTEMPTS: "1" },
    );
    assert.match(failure(r), /cannot reach S3 .* check AWS_ENDPOINT_URL/);
  });

  it("wrong credentials (IAM enforced) = exit 1, names the credentials", async () => {
    // One unauthenticated request (create-bucket), then every request is checked.
    const strict = await startMoto({ enforceIamAfter: 1 });
    try {
      await createBucket(strict.env, BUCKET);
      const { dir } = hourly();
      const r = await copyLatest(
        dir,
        { DEST_URI: `s3://${BUCKET}/creds/` },
        {
          ...strict.env,
          AWS_ACCESS_KEY_ID: "AKIAWRONGWRONGWRONG0",
          AWS_SECRET_ACCESS_KEY: SECRET,
          KEY_WAIT_SECONDS: "5",
        },
      );
      assert.match(failure(r), /credentials/);
      // A brand-new IAM key may need seconds to work: the key is retried, within KEY_WAIT_SECONDS.
      assert.equal(r.stderr.match(/does not accept the access key \(yet\)/g)?.length, 1, r.stderr);
    } finally {
      await strict.stop();
    }
  });

  it("unreadable backup (run as nobody) = skipped with reason", async () => {
    const { chmodSync, copyFileSync, mkdtempSync } = await import("node:fs");
    // Everything nobody touches lives in a root-owned 0755 directory under /run, and the scripts
    // are copied there: the clone may sit where nobody cannot enter (/root, a 0700 home), and
    // TMPDIR may be private too. Nothing outside that directory changes mode.
    const base = mkdtempSync("/run/fragalysis-nobody-");
    chmodSync(base, 0o755);
    const scripts = path.join(base, "scripts");
    mkdirSync(scripts, { mode: 0o755 });
    for (const f of ["copy-latest.sh", "copy-common.sh"]) {
      copyFileSync(path.join(SCRIPTS, f), path.join(scripts, f));
      chmodSync(path.join(scripts, f), 0o644);
    }
    const dir = path.join(base, "hourly");
    mkdirSync(dir, { mode: 0o755 });
    const t = isoTime(-3600);
    const file = writeBackup(dir, t, "secret dump\n");
    chmodSync(file, 0o600);
    // nobody cannot reach root's aws CLI; no S3 call happens when nothing is usable, so a stub
    // that fails loudly stands in for it.
    const bin = path.join(base, "bin");
    mkdirSync(bin);
    chmodSync(bin, 0o777);
    writeFileSync(path.join(bin, "aws"), "#!/bin/sh\necho 'aws called' >&2; exit 99\n", {
      mode: 0o755,
    });
    const r = await run(
      "/usr/sbin/runuser",
      ["-u", "nobody", "--", "bash", path.join(scripts, "copy-latest.sh")],
      {
        env: {
          ...env,
          PATH: `${bin}:/usr/bin:/bin`,
          SOURCE_DIR: dir,
          DEST_URI: `s3://${BUCKET}/nobody/`,
          HOME: bin,
          TMPDIR: bin,
        },
      },
    );
    try {
      assert.doesNotMatch(r.stderr, /aws called/);
      assert.match(r.stderr, /skip .*: not readable by nobody/);
      assert.match(failure(r), /none of the 1 backup/);
    } finally {
      const { rmSync } = await import("node:fs");
      rmSync(base, { recursive: true, force: true });
    }
  });
});
