// sync-dir.sh split into shards for real against moto: the parts are disjoint, cover the tree,
// are balanced by bytes, merge into a single run's totals, and each verifies its own part.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { mergeShardResults, type ShardResult } from "../../components/copy-result";
import { SCRIPTS, listObjects, setAge, type TreeFile } from "../helpers/fixtures";

/** Objects under a prefix without the manifests sync-dir.sh writes next to the tree. */
const treeObjects = async (...args: Parameters<typeof listObjects>) =>
  (await listObjects(...args)).filter((o) => !o.Key.includes(".relocation-manifest/"));
import { lastJson, run, type RunResult } from "../helpers/run";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";

/** Where a tool is on PATH (synchronously: run() can race a command that exits at once). */
const which = (tool: string) =>
  execFileSync("bash", ["-c", `command -v ${tool}`])
    .toString()
    .trim();

const BUCKET = "relocation-shards";
const s3 = useMotoBucket(BUCKET);
let root: string;
let files: TreeFile[];

/** 60 files of 1-97 KiB and 3 of 300-700 KiB, names with spaces and non-ASCII. */
function writeUnevenTree(dir: string): TreeFile[] {
  const out: TreeFile[] = [];
  const add = (rel: string, size: number) => {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(size));
    setAge(file, 3600);
    out.push({ rel, size });
  };
  for (let i = 0; i < 60; i++) add(`d${i % 6}/f ${i}.bin`, (((i * 7919) % 97) + 1) * 1024);
  add("big/ä one.bin", 700 * 1024);
  add("big/two.bin", 500 * 1024);
  add("three.bin", 300 * 1024);
  return out;
}

before(() => {
  root = tempDir("shards");
  files = writeUnevenTree(root);
});

function syncDir(prefix: string, extra: Record<string, string>): Promise<RunResult> {
  return run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
    env: {
      ...s3.env,
      SYNC_TOOL: "aws",
      SOURCE_DIR: root,
      DEST_URI: `s3://${BUCKET}/${prefix}`,
      ...extra,
    },
  });
}

function ok(r: RunResult): ShardResult & { tool: string } {
  assert.equal(r.code, 0, r.stderr);
  return lastJson(r.stdout);
}

async function keys(prefix: string): Promise<string[]> {
  return (await treeObjects(s3.env, BUCKET, prefix)).map(
    (o) => `${o.Key.slice(prefix.length)} ${o.Size}`,
  );
}

const all = () => files.map((f) => `${f.rel} ${f.size}`).sort();

describe("sync-dir.sh shards", () => {
  let parts: string[][] = [];

  it("3 shards, each to a prefix of its own = disjoint parts covering the tree, balanced by bytes", async () => {
    // Shard 1 learns its number the way an Indexed Job's pod does.
    const results = await Promise.all(
      [0, 1, 2].map((i) =>
        syncDir(
          `own/${i}/`,
          i === 1
            ? { SHARD_COUNT: "3", JOB_COMPLETION_INDEX: "1" }
            : { SHARD_COUNT: "3", SHARD_INDEX: String(i) },
        ).then(ok),
      ),
    );
    parts = await Promise.all([0, 1, 2].map((i) => keys(`own/${i}/`)));
    const union = parts.flat().sort();
    assert.deepEqual(union, all(), "every file in exactly one part");
    assert.equal(new Set(union).size, files.length);
    results.forEach((r, i) => {
      assert.equal(r.shard, i);
      assert.equal(r.shards, 3);
      assert.equal(r.files, parts[i]!.length);
      assert.equal(r.treeFiles, files.length);
    });
    const bytes = results.map((r) => r.bytes);
    assert.ok(Math.max(...bytes) / Math.min(...bytes) < 1.15, `unbalanced: ${bytes.join(", ")}`);
    const total = files.reduce((n, f) => n + f.size, 0);
    assert.deepEqual(
      {
        // Each part went to a prefix of its own here; merging checks one destination.
        ...mergeShardResults(
          results.map((r) => ({ ...r, prefix: "own/" })),
          3,
          "media",
        ),
        verifiedAt: "",
      },
      {
        kind: "tree",
        bucket: BUCKET,
        prefix: "own/",
        files: files.length,
        bytes: total,
        uploaded: files.length,
        skipped: 0,
        verifiedAt: "",
        shards: 3,
      },
    );
  });

  it("3 shards at once to one prefix = merged totals equal one run of the whole tree (rclone)", async () => {
    const results = await Promise.all(
      [0, 1, 2].map((i) =>
        syncDir("together/", { SHARD_COUNT: "3", SHARD_INDEX: String(i) }).then(ok),
      ),
    );
    const merged = mergeShardResults(results, 3, "media");
    const single = ok(await syncDir("single/", { SYNC_TOOL: "rclone" }));
    assert.equal(single.tool, "rclone");
    for (const k of ["files", "bytes", "uploaded", "skipped"] as const) {
      assert.equal(merged[k], single[k], k);
    }
    assert.deepEqual(await keys("together/"), all());
    assert.deepEqual(await keys("single/"), all());
  });

  it("a shard whose part is not at the destination = its verification fails naming its files", async () => {
    // A CLI that claims success without sending anything.
    const real = which("aws");
    const bin = tempDir("bin");
    writeFileSync(
      path.join(bin, "aws"),
      `#!/bin/bash\nif [[ " $* " == *" cp --recursive "* ]]; then exit 0; fi\nexec "${real}" "$@"\n`,
      { mode: 0o755 },
    );
    const r = await syncDir("lost/", {
      SHARD_COUNT: "3",
      SHARD_INDEX: "1",
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(r.code, 1, r.stderr);
    const line = r.stderr.trim().split("\n").pop()!;
    assert.match(
      line,
      new RegExp(
        `verification failed for s3://${BUCKET}/lost/ \\(shard 1 of 0\\.\\.2\\): ${parts[1]!.length} file\\(s\\) missing: '`,
      ),
    );
    const named = line.match(/missing: '([^']+)'/)![1]!;
    assert.ok(
      parts[1]!.some((k) => k.startsWith(`${named} `)),
      `${named} is not in shard 1's part`,
    );
  });

  it("SHARD_INDEX not below SHARD_COUNT = exit 1 before anything is sent", async () => {
    const r = await syncDir("bad/", { SHARD_COUNT: "2", SHARD_INDEX: "2" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sync-dir: ERROR: SHARD_INDEX must be below SHARD_COUNT \(2\), got 2/);
    assert.deepEqual(await keys("bad/"), []);
  });
});
