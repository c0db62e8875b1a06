// Two-phase media sync for real against moto: a pre-sync of the whole tree while it is "live",
// a few files changed and added, then the final sync sends exactly those and verifies all.
import assert from "node:assert/strict";
import { appendFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { mergeShardResults, type ShardResult } from "../../components/copy-result";
import { SCRIPTS, listObjects, writeManyFiles, type S3Object } from "../helpers/fixtures";

/** Objects under a prefix without the manifests sync-dir.sh writes next to the tree. */
const treeObjects = async (...args: Parameters<typeof listObjects>) =>
  (await listObjects(...args)).filter((o) => !o.Key.includes(".relocation-manifest/"));
import { lastJson, run } from "../helpers/run";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";

const BUCKET = "relocation-two-phase";
const s3 = useMotoBucket(BUCKET);

async function sync(
  root: string,
  prefix: string,
  extra: Record<string, string>,
): Promise<ShardResult & { tool: string }> {
  const r = await run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
    env: { ...s3.env, SOURCE_DIR: root, DEST_URI: `s3://${BUCKET}/${prefix}`, ...extra },
  });
  assert.equal(r.code, 0, r.stderr);
  return lastJson(r.stdout);
}

/** Appends to 3 files, adds 2: the delta a live stack leaves between pre-sync and quiesce. */
function change(root: string): string[] {
  const changed = ["set-1/file 0001.bin", "set-4/file 0014.bin", "set-9/file 0029.bin"];
  for (const rel of changed) appendFileSync(path.join(root, rel), "written while live\n");
  writeFileSync(path.join(root, "set-0/new upload.bin"), "new\n");
  writeFileSync(path.join(root, "brand new.txt"), "new\n");
  return [...changed, "set-0/new upload.bin", "brand new.txt"];
}

const byKey = (objects: S3Object[]) => new Map(objects.map((o) => [o.Key, o]));

for (const tool of ["aws", "rclone"]) {
  describe(`two-phase sync with ${tool}`, () => {
    it("pre-sync, 5 files changed or added, final sync = only those 5 sent, all verified", async () => {
      const root = tempDir("live");
      const files = writeManyFiles(root, 50, 4096);
      const prefix = `${tool}/`;
      const pre = await sync(root, prefix, { SYNC_TOOL: tool });
      assert.deepEqual([pre.uploaded, pre.skipped, pre.tool], [50, 0, tool]);
      const afterPre = byKey(await treeObjects(s3.env, BUCKET, prefix));
      await new Promise((r) => setTimeout(r, 1100)); // a re-upload would change LastModified

      const delta = change(root);
      const final = await sync(root, prefix, { SYNC_TOOL: tool });
      assert.equal(final.uploaded, delta.length);
      assert.equal(final.files, files.length + 2);
      assert.equal(final.skipped, files.length - 3);
      assert.ok(final.verifiedAt >= pre.verifiedAt);

      const now = await treeObjects(s3.env, BUCKET, prefix);
      assert.equal(now.length, files.length + 2);
      for (const o of now) {
        const rel = o.Key.slice(prefix.length);
        if (delta.includes(rel)) continue;
        assert.equal(o.LastModified, afterPre.get(o.Key)!.LastModified, `${rel} sent again`);
      }
      for (const rel of delta.slice(0, 3)) {
        assert.equal(byKey(now).get(prefix + rel)!.Size, 4096 + "written while live\n".length);
      }
    });
  });
}

describe("two-phase sync in 2 shards", () => {
  it("pre-sync and final sync each in 2 shards = the 5 changed files sent once in all", async () => {
    const root = tempDir("live");
    writeManyFiles(root, 40, 2048);
    const shards = (extra: Record<string, string>) =>
      Promise.all(
        [0, 1].map((i) =>
          sync(root, "sharded/", {
            SYNC_TOOL: "aws",
            SHARD_COUNT: "2",
            SHARD_INDEX: String(i),
            ...extra,
          }),
        ),
      );
    const pre = mergeShardResults(await shards({}), 2, "media");
    assert.equal(pre.uploaded, 40);
    const delta = change(root);
    const final = mergeShardResults(await shards({}), 2, "media");
    assert.equal(final.uploaded, delta.length);
    assert.equal(final.files, 42);
    assert.equal((await treeObjects(s3.env, BUCKET, "sharded/")).length, 42);
  });
});
