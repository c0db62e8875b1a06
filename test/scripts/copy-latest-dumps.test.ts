// copy-latest.sh and what counts as a dump (issue 26): only a complete pg_dumpall/pg_dump (valid
// gzip is not enough), never a name dated past the copy's clock, never a file that is older than
// NOT_BEFORE by its mtime, never a symbolic link, and never bytes other than the opened file's.
// The dumps come from a real PostgreSQL 15 (pg_dumpall, pg_dump) and are checked with busybox's
// gzip applet, the gzip the Jobs run.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import {
  SCRIPTS,
  backupName,
  createBucket,
  getObject,
  headObject,
  isoTime,
  listObjects,
  setAge,
  sha256,
  writeBackup,
} from "../helpers/fixtures";
import { startCluster, type Cluster } from "../helpers/postgres";
import { lastJson, oneErrorLine, run, type RunResult } from "../helpers/run";
import { startMoto, tempDir, type Moto } from "../helpers/servers";

const BUCKET = "relocation-dumps";
let moto: Moto;
let cluster: Cluster;
/** Real pg_dumpall output (two databases besides postgres) and pg_dump of one of them. */
let dumpall: string;
let dump: string;
/** `gzip` = busybox's applet, as in the Jobs (jobs.gzipImage). */
let busyboxBin: string;

before(async () => {
  moto = await startMoto();
  await createBucket(moto.env, BUCKET);
  cluster = await startCluster();
  await cluster.query("postgres", "CREATE DATABASE keycloak");
  await cluster.query("postgres", "CREATE DATABASE frag");
  await cluster.query(
    "frag",
    "CREATE TABLE t AS SELECT i, md5(i::text) FROM generate_series(1, 200) i",
  );
  dumpall = (await cluster.client("pg_dumpall", [])).stdout;
  dump = (await cluster.client("pg_dump", ["-d", "frag"])).stdout;
  busyboxBin = tempDir("busybox");
  symlinkSync(
    execFileSync("bash", ["-c", "command -v busybox"]).toString().trim(),
    path.join(busyboxBin, "gzip"),
  );
});
after(async () => {
  await cluster?.stop();
  moto?.stop();
});

const copy = (dir: string, prefix: string, extra: Record<string, string> = {}) =>
  run("bash", [path.join(SCRIPTS, "copy-latest.sh")], {
    env: {
      ...moto.env,
      SOURCE_DIR: dir,
      DEST_URI: `s3://${BUCKET}/${prefix}`,
      PATH: `${busyboxBin}:${process.env.PATH}`,
      ...extra,
    },
  });
const chosen = (r: RunResult) => {
  assert.equal(r.code, 0, r.stderr);
  return lastJson<{ key: string; sha256: string; sourceTime: string }>(r.stdout);
};

/** A gzipped dump with this exact text, named after `time`, modified an hour ago. */
function writeDump(dir: string, time: string, text: string, ageSeconds = 3600): string {
  const file = path.join(dir, backupName(time));
  writeFileSync(file, gzipSync(text));
  setAge(file, ageSeconds);
  return file;
}

describe("copy-latest.sh: only a complete dump counts", () => {
  it("real pg_dumpall output (PostgreSQL 15) = complete, copied", async () => {
    assert.match(dumpall, /-- PostgreSQL database cluster dump complete\n--\n\n$/);
    const dir = tempDir("real");
    const file = writeDump(dir, isoTime(-3600), dumpall);
    assert.equal(chosen(await copy(dir, "real/")).sha256, sha256(readFileSync(file)));
  });

  it("real pg_dump output (its trailer followed by \\unrestrict) = complete, copied", async () => {
    assert.match(dump, /-- PostgreSQL database dump complete\n--\n\n\\unrestrict \w+\n\n$/);
    const dir = tempDir("single");
    const file = writeDump(dir, isoTime(-3600), dump);
    assert.equal(chosen(await copy(dir, "single/")).sha256, sha256(readFileSync(file)));
  });

  const cut = (s: string, marker: string) => s.slice(0, s.lastIndexOf(marker));
  const cases: [string, () => string, RegExp][] = [
    [
      "pg_dumpall cut mid-way, gzip closed cleanly",
      () => dumpall.slice(0, Math.floor(dumpall.length * 0.6)),
      /no '-- PostgreSQL database cluster dump complete' trailer/,
    ],
    [
      "pg_dumpall cut after a database's own trailer, before the cluster's",
      () => cut(dumpall, "--\n-- PostgreSQL database cluster dump complete"),
      /no '-- PostgreSQL database cluster dump complete' trailer/,
    ],
    [
      "pg_dump cut before its trailer",
      () => cut(dump, "--\n-- PostgreSQL database dump complete"),
      /no '-- PostgreSQL database dump complete' trailer/,
    ],
    [
      "SQL after the cluster trailer",
      () => `${dumpall}DROP DATABASE frag;\n`,
      /more SQL after its '-- PostgreSQL database cluster dump complete' trailer/,
    ],
    [
      "a trailer but no pg_dumpall header",
      () => `SELECT 1;\n--\n-- PostgreSQL database cluster dump complete\n--\n\n`,
      /no pg_dumpall or pg_dump header/,
    ],
  ];
  for (const [name, text, reason] of cases) {
    it(`${name} = valid gzip, skipped with its reason; the older complete dump copied`, async () => {
      const dir = tempDir("incomplete");
      const old = isoTime(-7200);
      writeDump(dir, old, dumpall);
      const bad = writeDump(dir, isoTime(-3600), text());
      execFileSync(path.join(busyboxBin, "gzip"), ["-t", bad]); // passes the old check
      const r = await copy(dir, `incomplete-${name.length}/`);
      assert.match(
        r.stderr,
        new RegExp(`skip ${path.basename(bad)}: is not a complete PostgreSQL dump \\(`),
      );
      assert.match(r.stderr, reason);
      assert.equal(chosen(r).sourceTime, old);
    });
  }

  it("SELECT of an incomplete dump = exit 1, one line", async () => {
    const dir = tempDir("select");
    const bad = writeDump(dir, isoTime(-3600), dumpall.slice(0, 500));
    const line = oneErrorLine(
      await copy(dir, "select/", { SELECT: path.basename(bad) }),
      "copy-latest",
    );
    assert.match(line, /SELECT .* is not usable: is not a complete PostgreSQL dump/);
  });
});

describe("copy-latest.sh: names dated in the future", () => {
  it("named a day ahead = skipped with its reason, the real newest copied (NOT_BEFORE met by it)", async () => {
    const dir = tempDir("future");
    const real = isoTime(-3600);
    writeDump(dir, real, dumpall);
    const future = writeDump(dir, isoTime(86400), dumpall);
    const r = await copy(dir, "future/", { NOT_BEFORE: isoTime(-7200) });
    assert.match(
      r.stderr,
      new RegExp(
        `skip ${path.basename(future)}: named \\S+, later than this host's clock allows .*FUTURE_SKEW_SECONDS=300`,
      ),
    );
    assert.equal(chosen(r).sourceTime, real);
  });

  it("only the future-named dump is new enough = NOT_BEFORE not met, one line", async () => {
    const dir = tempDir("future-nb");
    writeDump(dir, isoTime(-3 * 86400), dumpall);
    writeDump(dir, isoTime(86400), dumpall);
    const line = oneErrorLine(
      await copy(dir, "future-nb/", { NOT_BEFORE: isoTime(-3600) }),
      "copy-latest",
    );
    assert.match(line, /NOT_BEFORE .* not met: the newest found, .* was skipped/);
  });

  it("FUTURE_SKEW_SECONDS widens the allowance; a bad value = one line", async () => {
    const dir = tempDir("skew");
    const ahead = isoTime(600);
    writeDump(dir, ahead, dumpall);
    assert.equal(
      chosen(await copy(dir, "skew/", { FUTURE_SKEW_SECONDS: "3600" })).sourceTime,
      ahead,
    );
    const line = oneErrorLine(
      await copy(dir, "skew2/", {
        FUTURE_SKEW_SECONDS: "5m",
        AWS_ENDPOINT_URL: "http://127.0.0.1:1",
      }),
      "copy-latest",
    );
    assert.match(line, /FUTURE_SKEW_SECONDS must be a whole decimal number/);
  });
});

describe("copy-latest.sh: NOT_BEFORE judges the file's mtime too", () => {
  it("named fresh, last modified two days ago = skipped; NOT_BEFORE not met, one line", async () => {
    const dir = tempDir("mtime");
    writeDump(dir, isoTime(-3 * 86400), dumpall);
    const renamed = writeDump(dir, isoTime(-60), dumpall, 2 * 86400);
    const r = await copy(dir, "mtime/", { NOT_BEFORE: isoTime(-3600) });
    assert.match(
      r.stderr,
      new RegExp(
        `skip ${path.basename(renamed)}: last modified \\S+, before NOT_BEFORE .*predates the time in its name`,
      ),
    );
    assert.match(
      oneErrorLine(r, "copy-latest"),
      /NOT_BEFORE .* not met: the newest found, .* was skipped/,
    );
  });
});

describe("copy-latest.sh: the mtime allows the clocks' skew", () => {
  it("last modified 100 s before NOT_BEFORE (within FUTURE_SKEW_SECONDS) = copied", async () => {
    const dir = tempDir("skew");
    const fresh = writeDump(dir, isoTime(-30), dumpall, 160);
    const r = await copy(dir, "skew/", { NOT_BEFORE: isoTime(-60) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson<{ key: string }>(r.stdout).key, `skew/${path.basename(fresh)}`);
  });
});

describe("copy-latest.sh: only regular files, never through a link", () => {
  /** A complete dump outside SOURCE_DIR that a link or a swap points at. */
  function foreign(): { file: string; bytes: Buffer } {
    const file = path.join(tempDir("foreign"), "other.sql.gz");
    writeFileSync(file, gzipSync(dumpall.replace("cluster dump\n", "cluster dump\n-- FOREIGN\n")));
    setAge(file, 3600);
    return { file, bytes: readFileSync(file) };
  }

  it("a link named as the newest dump = skipped, never followed; nothing stored under its name", async () => {
    const dir = tempDir("link");
    const old = isoTime(-7200);
    writeDump(dir, old, dumpall);
    const link = path.join(dir, backupName(isoTime(-3600)));
    symlinkSync(foreign().file, link);
    const r = await copy(dir, "link/");
    assert.match(
      r.stderr,
      new RegExp(`skip ${path.basename(link)}: a symbolic link \\(never followed`),
    );
    assert.equal(chosen(r).sourceTime, old);
    assert.deepEqual(
      (await listObjects(moto.env, BUCKET, "link/")).map((o) => o.Key),
      [`link/${backupName(old)}`],
    );
    const line = oneErrorLine(
      await copy(dir, "link2/", { SELECT: path.basename(link) }),
      "copy-latest",
    );
    assert.match(line, /SELECT .* is not usable: a symbolic link/);
  });

  it("replaced by a link between the look and the open = refused (the opened file is checked)", async () => {
    const dir = tempDir("swap-open");
    const file = writeDump(dir, isoTime(-3600), dumpall);
    const other = foreign().file;
    const real = execFileSync("bash", ["-c", "command -v stat"]).toString().trim();
    const bin = tempDir("bin");
    // Right after the script looked at the dump's name, the name becomes a link to other bytes.
    writeFileSync(
      path.join(bin, "stat"),
      `#!/bin/bash\n${JSON.stringify(real)} "$@"; rc=$?\nif [[ "\${*: -1}" == ${JSON.stringify(file)} && ! -L ${JSON.stringify(file)} ]]; then mv ${JSON.stringify(file)} ${JSON.stringify(file + ".orig")}; ln -s ${JSON.stringify(other)} ${JSON.stringify(file)}; fi\nexit $rc\n`,
      { mode: 0o755 },
    );
    const r = await copy(dir, "swap-open/", { PATH: `${bin}:${busyboxBin}:${process.env.PATH}` });
    assert.match(r.stderr, /was replaced while being opened \(now regular file\); not copied/);
    assert.match(oneErrorLine(r, "copy-latest"), /none of the 1 backup\(s\) .* is usable/);
    assert.deepEqual(await listObjects(moto.env, BUCKET, "swap-open/"), []);
  });

  it("replaced by a link after the open, before the upload = only the opened file's bytes are stored", async () => {
    const dir = tempDir("swap-upload");
    const file = writeBackup(dir, isoTime(-3600), "-- the real dump\n");
    const want = readFileSync(file);
    const other = foreign().file;
    const real = execFileSync("bash", ["-c", "command -v aws"]).toString().trim();
    const bin = tempDir("bin");
    writeFileSync(
      path.join(bin, "aws"),
      `#!/bin/bash\nif [[ " $* " == *" put-object "* && ! -L ${JSON.stringify(file)} ]]; then mv ${JSON.stringify(file)} ${JSON.stringify(file + ".orig")}; ln -s ${JSON.stringify(other)} ${JSON.stringify(file)}; fi\nexec ${JSON.stringify(real)} "$@"\n`,
      { mode: 0o755 },
    );
    const prefix = "swap-upload/";
    const r = await copy(dir, prefix, { PATH: `${bin}:${busyboxBin}:${process.env.PATH}` });
    // Moving the name away changes the file's ctime: the run fails safe, reporting nothing...
    assert.match(oneErrorLine(r, "copy-latest"), /changed between hashing and upload/);
    // ...but what it stored is the file it opened, with its own checksum: never the link's bytes.
    const key = `${prefix}${path.basename(file)}`;
    const got = await getObject(moto.env, BUCKET, key, path.join(tempDir("dl"), "x"));
    assert.equal(sha256(got), sha256(want));
    assert.equal((await headObject(moto.env, BUCKET, key)).Metadata.sha256, sha256(want));
  });
});
