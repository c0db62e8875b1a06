// A backup's plan read fails: for one copied as it is (here the media tree) the preview fails
// naming it, as up would; a refreshed dump without a usable file now (keycloak-db) does not,
// since up makes a fresh one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { previewWithNfs } from "../helpers/plan-nfs-failure";

describe("a backup's plan read fails", () => {
  it("= rejects naming the tree only, not the refreshed dump", async () => {
    const { failure } = await previewWithNfs(
      [
        "ssh\tok\tnfs-check: ok: root@nfs bash 5.2.15, aws-cli/2.31.39",
        "backup\tkeycloak-db\terror\tcopy-latest: ERROR: no file matching 'backup-*-dumpall.sql.gz' in /x",
        "backup\tstack-db\terror\tcopy-latest: ERROR: no file matching 'backup-*-dumpall.sql.gz' in /y",
        "backup\tstack-media\terror\tsync-dir: ERROR: cannot read 1 file(s) or directory(ies) as root",
        "",
      ].join("\n"),
    );
    assert.equal(
      failure?.message,
      "plan: stack-media: sync-dir: ERROR: cannot read 1 file(s) or directory(ies) as root",
    );
  });
});
