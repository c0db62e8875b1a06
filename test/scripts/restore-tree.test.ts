// restore-tree.sh for real: a tree copied UP by the real sync-dir.sh (2 shards, so two real
// manifests) into moto, then restored with the real aws CLI into a fresh directory. Table of
// "condition = outcome": the restored tree equals the source (bytes, names, mtimes), and every
// refusal leaves DEST_DIR as it was.
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  SCRIPTS,
  createBucket,
  getObject,
  putObject,
  snapshotTree,
  writeManyFiles,
  writeMediaTree,
} from "../helpers/fixtures";
import { lastJson, oneErrorLine, run, type RunResult } from "../helpers/run";
import { S3Proxy } from "../helpers/s3-proxy";
import { startMoto, tempDir, type Moto } from "../helpers/servers";

const BUCKET = "relocation-restore-tree";
const MULTIPART = { MULTIPART_THRESHOLD_BYTES: "8388608", MULTIPART_CHUNKSIZE_BYTES: "5242880" };
// The names hostile-names.test.ts proves the backup side accepts (newline aside: moto refuses it).
const HOSTILE = [
  "a\tb.txt",
  "\tboth\t",
  "cr\rmid\r",
  "\rcr-first",
  `q"uo'te\``,
  "back\\slash\\",
  "%41%+plus #hash?q=1&amp;",
  "-n",
  "--help",
  " spaced ",
  "L".repeat(250),
  "ünï/マップ ✓",
  "a／b．",
];

let moto: Moto;
let env: Record<string, string>;
let source: string;

interface Backup {
  prefix: string;
  settings: Record<string, string>;
  files: number;
}

/** The tree copied up by sync-dir.sh as two shards; the settings the backups output gives. */
async function backup(prefix: string, root = source): Promise<Backup> {
  const results: Record<string, any>[] = [];
  for (const index of ["0", "1"]) {
    const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
      env: {
        ...env,
        ...MULTIPART,
        SYNC_TOOL: "aws",
        SOURCE_DIR: root,
        DEST_URI: `s3://${BUCKET}/${prefix}`,
        SHARD_COUNT: "2",
        SHARD_INDEX: index,
      },
    });
    assert.equal(r.code, 0, r.stderr);
    results.push(lastJson(r.stdout));
  }
  return {
    prefix,
    files: results[0]!.treeFiles,
    settings: {
      SOURCE_URI: `s3://${BUCKET}/${prefix}`,
      MANIFEST_KEYS: results.map((x) => x.manifestKey).join(" "),
      MANIFEST_SHA256S: results.map((x) => x.manifestSha256).join(" "),
      EXPECTED_FILES: String(results[0]!.treeFiles),
      EXPECTED_BYTES: String(results[0]!.treeBytes),
    },
  };
}

function restore(b: Backup, dest: string, extra: Record<string, string> = {}) {
  return run("bash", [path.join(SCRIPTS, "restore", "restore-tree.sh")], {
    env: { ...env, ...b.settings, DEST_DIR: dest, ...extra },
  });
}
function ok(r: RunResult): Record<string, any> {
  assert.equal(r.code, 0, r.stderr);
  return lastJson(r.stdout);
}
const failed = (r: RunResult) => oneErrorLine(r, "restore-tree.sh");
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Every regular file under root, by its name's bytes: size, mtime (ns), sha256. Links and
 * directories are not part of a tree's backup. */
function files(root: string): Map<string, string> {
  const out = execFileSync("find", [root, "-type", "f", "-printf", "%P\\0%s %T@\\0"]);
  const parts = out.toString("latin1").split("\0");
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const rel = parts[i]!;
    const data = readFileSync(path.join(root, Buffer.from(rel, "latin1").toString()));
    map.set(rel, `${parts[i + 1]} ${sha(data)}`);
  }
  return map;
}
/** Everything under root that is not a directory (a restore creates no links or leftovers). */
const nonDirs = (root: string) =>
  execFileSync("find", [root, "!", "-type", "d", "-printf", "%P\\0"])
    .toString("latin1")
    .split("\0")
    .filter(Boolean)
    .sort();
const equalTrees = (dest: string) => {
  assert.deepEqual(files(dest), files(source));
  assert.deepEqual(nonDirs(dest), [...files(source).keys()].sort());
};

let main: Backup;
before(async () => {
  moto = await startMoto();
  env = moto.env;
  await createBucket(env, BUCKET);
  source = tempDir("restore-src");
  writeMediaTree(source, 9 * 1024 * 1024);
  HOSTILE.forEach((name, i) => {
    const file = path.join(source, "hostile", name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `content ${i} of ${JSON.stringify(name)}\n`);
    utimesSync(file, 1_600_000_000 + i, 1_600_000_000.25 + i);
  });
  main = await backup("media/");
  // An object the manifests don't list (a file deleted after an earlier sync, say).
  const extra = path.join(tempDir("extra"), "x");
  writeFileSync(extra, "not in the manifest\n");
  await putObject(env, BUCKET, "media/extra/not-listed.txt", extra);
  // "Folders" as the S3 console makes them: empty objects whose key ends in '/'.
  writeFileSync(extra, "");
  await putObject(env, BUCKET, "media/", extra);
  await putObject(env, BUCKET, "media/console-folder/", extra);
});
after(() => moto.stop());

describe("restore-tree.sh", () => {
  it("empty DEST = the source tree (bytes, names, mtimes); extra object, folders, manifests ignored", async () => {
    const dest = tempDir("dest");
    const r = ok(await restore(main, dest));
    equalTrees(dest);
    assert.equal(existsSync(path.join(dest, "extra")), false);
    assert.equal(existsSync(path.join(dest, "console-folder")), false);
    assert.deepEqual(
      { ...r, verifiedAt: "" },
      {
        prefix: `s3://${BUCKET}/media/`,
        dest,
        files: main.files,
        bytes: Number(main.settings.EXPECTED_BYTES),
        downloaded: main.files,
        kept: 0,
        ignored: 5,
        verifiedAt: "",
      },
    );
    assert.match(r.verifiedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("manifest sha256 other than the output's = fails naming it, DEST untouched", async () => {
    const dest = tempDir("dest");
    writeFileSync(path.join(dest, "already-here"), "x");
    const before = snapshotTree(dest);
    const [k0, k1] = main.settings.MANIFEST_KEYS!.split(" ");
    const [s0] = main.settings.MANIFEST_SHA256S!.split(" ");
    const line = failed(await restore(main, dest, { MANIFEST_SHA256S: `${s0} ${"0".repeat(64)}` }));
    assert.ok(line.includes(`s3://${BUCKET}/${k1}`), line);
    assert.ok(!line.includes(k0!), line);
    assert.deepEqual(snapshotTree(dest), before);
  });

  it("TMPDIR inside DEST_DIR = refused, nothing written", async () => {
    const dest = tempDir("dest");
    mkdirSync(path.join(dest, "tmp"));
    const before = snapshotTree(dest);
    const line = failed(await restore(main, dest, { TMPDIR: path.join(dest, "tmp") }));
    assert.match(line, /TMPDIR .* is inside DEST_DIR/);
    assert.deepEqual(snapshotTree(dest), before);
  });

  it("totals other than the output's = fails before anything is written", async () => {
    const dest = tempDir("dest");
    const before = snapshotTree(dest);
    const line = failed(await restore(main, dest, { EXPECTED_FILES: String(main.files + 1) }));
    assert.match(line, /EXPECTED_FILES\/EXPECTED_BYTES say/);
    assert.deepEqual(snapshotTree(dest), before);
  });

  it("object changed in the bucket since the backup = fails naming the file, nothing placed", async () => {
    const b = await backup("changed/");
    const victim = "with space/file name.pdb";
    const size = readFileSync(path.join(source, victim)).length;
    const other = path.join(tempDir("other"), "x");
    writeFileSync(other, Buffer.alloc(size, "Z"));
    await putObject(env, BUCKET, `changed/${victim}`, other);
    const dest = tempDir("dest");
    const before = snapshotTree(dest);
    const line = failed(await restore(b, dest));
    assert.match(
      line,
      /1 object\(s\) under .* differ from the manifest: 'with space\/file name\.pdb/,
    );
    assert.equal(existsSync(path.join(dest, victim)), false);
    assert.deepEqual(snapshotTree(dest), before);
  });

  it("downloaded content other than the manifest's sha256 = fails naming it, not at its final path", async () => {
    // A manifest (recorded as such) whose sha256 for one file is not the object's: the check
    // after the download, not the listing's ETag, must catch it.
    const [key0, key1] = main.settings.MANIFEST_KEYS!.split(" ");
    const [, sha1] = main.settings.MANIFEST_SHA256S!.split(" ");
    const text = (await getObject(env, BUCKET, key0!, path.join(tempDir("m"), "m"))).toString();
    const lines = text.trimEnd().split("\n");
    const victim = JSON.parse(lines[0]!) as { path: string; sha256: string };
    lines[0] = lines[0]!.replace(victim.sha256, "f".repeat(64));
    const forged = path.join(tempDir("m"), "forged");
    writeFileSync(forged, lines.join("\n") + "\n");
    const forgedKey = "media/.relocation-manifest/forged-0-of-2.jsonl";
    await putObject(env, BUCKET, forgedKey, forged);
    const dest = tempDir("dest");
    const r = await restore(main, dest, {
      MANIFEST_KEYS: `${forgedKey} ${key1}`,
      MANIFEST_SHA256S: `${sha(readFileSync(forged))} ${sha1}`,
    });
    const line = failed(r);
    assert.ok(line.includes("downloaded file(s) differ from the manifest"), line);
    assert.ok(line.includes(`'${victim.path}`), line);
    assert.equal(existsSync(path.join(dest, victim.path)), false);
    assert.equal(
      existsSync(path.join(dest, ".relocation-restore", "download", victim.path)),
      false,
    );
    // Nothing reached a final path.
    assert.deepEqual(
      nonDirs(dest).filter((p) => !p.startsWith(".relocation-restore/")),
      [],
    );
  });

  it("existing different file = refused naming it, DEST untouched; ALLOW_OVERWRITE=true = replaced", async () => {
    const dest = tempDir("dest");
    mkdirSync(path.join(dest, "deep", "a", "b", "c"), { recursive: true });
    writeFileSync(path.join(dest, "deep", "a", "b", "c", "d.txt"), "mine\n"); // same size 5
    writeFileSync(path.join(dest, "zero-bytes.bin"), "not empty");
    const before = snapshotTree(dest);
    const line = failed(await restore(main, dest));
    assert.match(line, /already has 2 file\(s\) that differ from the manifest/);
    assert.ok(line.includes("'deep/a/b/c/d.txt'") && line.includes("'zero-bytes.bin'"), line);
    assert.match(line, /ALLOW_OVERWRITE=true/);
    assert.deepEqual(snapshotTree(dest), before);
    const r = ok(await restore(main, dest, { ALLOW_OVERWRITE: "true" }));
    equalTrees(dest);
    assert.equal(r.downloaded, main.files);
  });

  it("a file where the manifest needs a directory = refused even with ALLOW_OVERWRITE", async () => {
    const dest = tempDir("dest");
    writeFileSync(path.join(dest, "deep"), "a file\n");
    const before = snapshotTree(dest);
    const line = failed(await restore(main, dest, { ALLOW_OVERWRITE: "true" }));
    assert.match(
      line,
      /in the way of the manifest's files: 'deep \(a directory in the manifest\)'/,
    );
    assert.deepEqual(snapshotTree(dest), before);
  });

  it("partial DEST = re-run downloads only the missing and fixes a kept file's mtime", async () => {
    const dest = tempDir("dest");
    ok(await restore(main, dest));
    const gone = ["big/over-multipart.bin", "hostile/-n", "hostile/ünï/マップ ✓"];
    for (const rel of gone) rmSync(path.join(dest, rel));
    utimesSync(path.join(dest, "zero-bytes.bin"), 0, 0);
    const r = await restore(main, dest);
    const result = ok(r);
    assert.equal(result.downloaded, gone.length);
    assert.equal(result.kept, main.files - gone.length);
    assert.match(r.stderr, /kept \d+, downloaded 3 \(3 transferred now\)/);
    equalTrees(dest);
  });

  it("interrupted download (SIGTERM) = re-run completes, resuming what staging holds", async () => {
    const { b, root, dest } = await manyFiles("many/");
    const r1 = await paced(b, dest, {}, (child) => child.kill("SIGTERM"));
    assert.equal(r1.code, 1, r1.stderr);
    assert.match(r1.stderr.trim().split("\n").pop()!, /stopped by SIGTERM/);
    assert.deepEqual(
      nonDirs(dest).filter((p) => !p.startsWith(".relocation-restore/")),
      [],
      "nothing placed by the interrupted run",
    );
    const r = await restore(b, dest);
    const result = ok(r);
    assert.equal(result.downloaded, 80);
    const resumed = Number(/(\d+) file\(s\), \d+ bytes already in staging/.exec(r.stderr)?.[1]);
    assert.ok(resumed >= 1, r.stderr);
    assert.match(r.stderr, new RegExp(`\\(${80 - resumed} transferred now\\)`));
    assert.deepEqual(files(dest), files(root));
    assert.equal(existsSync(path.join(dest, ".relocation-restore")), false);
  });

  it("S3 gone mid-download = stops within OUTAGE_SECONDS + a few s, nothing placed", async () => {
    const { b, dest } = await manyFiles("outage/");
    const r = await paced(b, dest, { OUTAGE_SECONDS: "3" }, (_child, proxy) => void proxy.down());
    assert.match(
      oneErrorLine(r, "restore-tree.sh"),
      /S3 stopped serving .* downloads failing and none succeeded for 3s \(OUTAGE_SECONDS\)/,
    );
    assert.ok(r.seconds < 25, `took ${r.seconds}s after the outage`);
    assert.deepEqual(
      nonDirs(dest).filter((p) => !p.startsWith(".relocation-restore/")),
      [],
    );
  });

  it("manifest path leaving DEST_DIR = refused naming it, nothing written", async () => {
    const [key0] = main.settings.MANIFEST_KEYS!.split(" ");
    const text = (await getObject(env, BUCKET, key0!, path.join(tempDir("m"), "m"))).toString();
    const entry = JSON.parse(text.split("\n")[0]!) as { path: string };
    const forged = path.join(tempDir("m"), "forged");
    writeFileSync(forged, text.replace(JSON.stringify(entry.path), '"../escaped"'));
    const forgedKey = "media/.relocation-manifest/escape-0-of-1.jsonl";
    await putObject(env, BUCKET, forgedKey, forged);
    const dest = tempDir("dest");
    const before = snapshotTree(dest);
    const line = failed(
      await restore(main, dest, {
        MANIFEST_KEYS: forgedKey,
        MANIFEST_SHA256S: sha(readFileSync(forged)),
      }),
    );
    assert.match(line, /lists '\.\.\/escaped', which would not land inside DEST_DIR/);
    assert.deepEqual(snapshotTree(dest), before);
  });

  it("object key with a '..' segment under the prefix = refused naming it, nothing written", async () => {
    const body = path.join(tempDir("dots"), "x");
    writeFileSync(body, "sneaky\n");
    const key = "media/x/../../sneaky";
    await putObject(env, BUCKET, key, body);
    const dest = tempDir("dest");
    const before = snapshotTree(dest);
    try {
      const line = failed(await restore(main, dest));
      assert.ok(line.includes(`'${key}'`) && line.includes("not plain relative paths"), line);
      assert.deepEqual(snapshotTree(dest), before);
    } finally {
      await run("aws", ["s3api", "delete-object", "--bucket", BUCKET, "--key", key], { env });
    }
  });
});

/** 80 small files copied up under prefix, and an empty DEST. */
async function manyFiles(prefix: string) {
  const root = tempDir("many");
  writeManyFiles(root, 80, 1024);
  return { b: await backup(prefix, root), root, dest: tempDir("dest") };
}

/**
 * A restore through a proxy that delays every chunk (so it lasts whatever the machine's speed);
 * `act` runs once a progress line counts a download. Returns how it ended and how long after.
 */
async function paced(
  b: Backup,
  dest: string,
  extra: Record<string, string>,
  act: (child: ChildProcess, proxy: S3Proxy) => void,
): Promise<RunResult & { seconds: number }> {
  const proxy = await S3Proxy.start(moto.port, { delayMs: 20 });
  const child = spawn("bash", [path.join(SCRIPTS, "restore", "restore-tree.sh")], {
    env: {
      ...process.env,
      ...env,
      ...b.settings,
      DEST_DIR: dest,
      CONCURRENCY: "1",
      PROGRESS_SECONDS: "1",
      AWS_ENDPOINT_URL: proxy.endpoint,
      ...extra,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let acted = 0;
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => {
    stderr += d;
    if (!acted && /progress: [1-9]\d* file\(s\) downloaded/.test(stderr)) {
      acted = Date.now();
      act(child, proxy);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  await proxy.down().catch(() => {});
  assert.ok(acted, `finished before the interruption:\n${stderr}`);
  return { code, stdout, stderr, seconds: (Date.now() - acted) / 1000 };
}
