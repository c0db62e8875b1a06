// sync-dir.sh's NOT_BEFORE for a tree copied without refresh (backups[].maxRpoSeconds): a replica
// whose newest file is older fails before anything is listed or sent; a fresh one copies and
// reports its newest mtime, which the stack turns into the tree's loss window.
import assert from "node:assert/strict";
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { SCRIPTS, listObjects } from "../helpers/fixtures";
import { lastJson, run } from "../helpers/run";
import { useMotoBucket } from "../helpers/moto-bucket";
import { tempDir } from "../helpers/servers";

const BUCKET = "relocation-replica";
const s3 = useMotoBucket(BUCKET);

/** A two-file tree whose newest file was modified at `newest` (UTC ISO-8601). */
function replica(newest: string): string {
  const dir = tempDir("replica");
  mkdirSync(path.join(dir, "target"));
  writeFileSync(path.join(dir, "old.txt"), "old\n");
  writeFileSync(path.join(dir, "target", "new.pdb"), "ATOM\n");
  utimesSync(
    path.join(dir, "old.txt"),
    new Date("2026-11-20T08:00:00Z"),
    new Date("2026-11-20T08:00:00Z"),
  );
  const t = new Date(newest);
  utimesSync(path.join(dir, "target", "new.pdb"), t, t);
  return dir;
}

const sync = (dir: string, prefix: string, notBefore: string) =>
  run("bash", [path.join(SCRIPTS, "sync-dir.sh")], {
    env: {
      ...s3.env,
      SOURCE_DIR: dir,
      DEST_URI: `s3://${BUCKET}/${prefix}`,
      NOT_BEFORE: notBefore,
      SYNC_TOOL: "aws",
    },
  });

describe("sync-dir.sh NOT_BEFORE", () => {
  it("newest file older than NOT_BEFORE = exit 1 naming its time, nothing copied", async () => {
    const r = await sync(replica("2026-11-24T02:04:00Z"), "stale/", "2026-11-24T10:00:00Z");
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /sync-dir: ERROR: NOT_BEFORE 2026-11-24T10:00:00Z not met: the newest file in .* is from 2026-11-24T02:04:00Z; nothing copied\n$/,
    );
    assert.deepEqual(await listObjects(s3.env, BUCKET, "stale/"), []);
  });

  it("newest file within the window = copied, result names the newest mtime", async () => {
    const r = await sync(replica("2026-11-25T02:04:07Z"), "fresh/", "2026-11-24T10:00:00Z");
    assert.equal(r.code, 0, r.stderr);
    const result = lastJson<{ files: number; newest: string }>(r.stdout);
    assert.equal(result.files, 2);
    assert.equal(result.newest, "2026-11-25T02:04:07Z");
  });
});
