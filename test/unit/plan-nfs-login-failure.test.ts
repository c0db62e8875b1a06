// A failed SSH login in the plan (the ssh executor needs it at up) fails the preview with one
// line naming it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { previewWithNfs } from "../helpers/plan-nfs-failure";

describe("the plan's SSH login fails", () => {
  it("= the plan output rejects naming the login and what ssh said", async () => {
    const { failure } = await previewWithNfs(
      "ssh\terror\tssh root@192.168.253.39:22: Host key verification failed.\n",
    );
    assert.equal(
      failure?.message,
      "plan: ssh root@192.168.253.39:22: ssh root@192.168.253.39:22: Host key verification failed.",
    );
  });
});
