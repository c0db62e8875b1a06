// scripts/restore-statefulset.sh when the cluster read fails: only NotFound is "nothing to
// restore"; every other failure (unreachable, forbidden, a scale that does not stick) fails.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { script } from "../../components/scripts";
import { run } from "../helpers/run";
import { tempDir } from "../helpers/servers";

/** A kubectl that answers `get` with the given stderr and status, and records scale calls. */
function kubectl(getStderr: string, getStatus: number, replicasAfterScale = "3"): string {
  const bin = tempDir("kubectl");
  writeFileSync(
    path.join(bin, "kubectl"),
    [
      "#!/bin/bash",
      `echo "$*" >>"${bin}/calls"`,
      `if [[ " $* " == *" scale "* ]]; then exit 0; fi`,
      `if [[ " $* " == *" annotate "* ]]; then exit 0; fi`,
      `if [[ " $* " == *"spec.replicas"* ]]; then echo -n ${JSON.stringify(replicasAfterScale)}; exit 0; fi`,
      `echo ${JSON.stringify(getStderr)} >&2`,
      `exit ${getStatus}`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return bin;
}

const restore = (bin: string, env: Record<string, string> = {}) =>
  run("/bin/bash", ["-c", script("restore-statefulset.sh").text], {
    env: {
      NAMESPACE: "production-stack",
      STATEFULSET: "stack",
      PATH: `${bin}:${process.env.PATH}`,
      ...env,
    },
  });

describe("restore-statefulset.sh read failures", () => {
  const cases = [
    {
      name: "cluster unreachable = exit 1 naming the error",
      stderr:
        "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?",
      message:
        /cannot read the StatefulSet \(The connection to the server 127\.0\.0\.1:6443 was refused/,
    },
    {
      name: "read forbidden = exit 1",
      stderr:
        'Error from server (Forbidden): statefulsets.apps "stack" is forbidden: User "x" cannot get',
      message: /cannot read the StatefulSet \(Error from server \(Forbidden\)/,
    },
    {
      name: "credentials expired = exit 1",
      stderr: "error: You must be logged in to the server (Unauthorized)",
      message: /cannot read the StatefulSet \(error: You must be logged in/,
    },
    {
      name: "kubectl fails silently = exit 1",
      stderr: "",
      message: /cannot read the StatefulSet \(kubectl failed without a message\)/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await restore(kubectl(c.stderr, 1), { ORIGINAL_REPLICAS: "3" });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr.trim().split("\n").pop()!, c.message);
      assert.equal(r.stdout, "");
    });
  }

  it("NotFound = exit 0, nothing to restore", async () => {
    const r = await restore(
      kubectl('Error from server (NotFound): statefulsets.apps "stack" not found', 1),
      { ORIGINAL_REPLICAS: "3" },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no longer exists; nothing to restore/);
  });

  it("scale that does not stick (still 0 after) = exit 1", async () => {
    const bin = kubectl("", 0, "0");
    const r = await restore(bin, { ORIGINAL_REPLICAS: "3" });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /asked for 3 replicas but the StatefulSet has 0/);
  });

  it("original count '03' (octal-looking) = refused, nothing scaled", async () => {
    const bin = kubectl("", 0);
    const r = await restore(bin, { ORIGINAL_REPLICAS: "03" });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /no original replica count recorded; .*\(got '03', not a decimal count\)/,
    );
  });
});
