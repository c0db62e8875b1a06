// The quiesce/restore pair run for real (bash, exactly the text the local.Command runs) against a
// stand-in kubectl that keeps StatefulSets in a file: up, second up, destroy as behaviour.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { script } from "../../components/scripts";
import { FAKE_KUBE_BIN, FakeKube, type FakeStatefulSet } from "../helpers/fake-kube";
import { lastJson, run, type RunResult } from "../helpers/run";
import { tempDir } from "../helpers/servers";

interface QuiesceStatefulSet extends FakeStatefulSet {
  lingerPolls?: number;
  stuck?: boolean;
}

class FakeCluster extends FakeKube<QuiesceStatefulSet> {
  constructor(statefulSets: Record<string, Partial<QuiesceStatefulSet> & { replicas: number }>) {
    super("fake-kube", statefulSets);
  }

  /** kubectl calls that changed something (annotate/scale). */
  writes(): string[] {
    return this.calls().filter((l) => /^--namespace \S+ (annotate|scale) /.test(l));
  }

  /** Runs a script the way the Command does: `bash -c <text>` with the Command's environment. */
  run(name: string, env: Record<string, string>): Promise<RunResult> {
    return this.runScript(name, env);
  }
}

const STACK = { NAMESPACE: "production-stack", STATEFULSET: "stack" };

describe("quiesce-statefulset.sh", () => {
  it("StatefulSet at 3 = scaled to 0, pods gone, original 3 recorded on stdout and object", async () => {
    const kube = new FakeCluster({ "production-stack/stack": { replicas: 3, lingerPolls: 2 } });
    const result = await kube.run("quiesce-statefulset.sh", STACK);
    assert.equal(result.code, 0, result.stderr);
    const record = lastJson(result.stdout);
    assert.equal(record.originalReplicas, 3);
    assert.equal(record.namespace, "production-stack");
    assert.match(String(record.quiescedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const sts = kube.get("production-stack/stack");
    assert.equal(sts.replicas, 0);
    assert.deepEqual(sts.pods, []);
    assert.equal(sts.annotations["relocation.fragalysis/original-replicas"], "3");
    assert.match(result.stderr, /waiting for pods to stop: stack-0 stack-1 stack-2/);
  });

  it("second run after quiesce = still records 3, not the 0 it set, and changes nothing", async () => {
    const kube = new FakeCluster({ "production-stack/stack": { replicas: 3 } });
    assert.equal((await kube.run("quiesce-statefulset.sh", STACK)).code, 0);
    const writesAfterFirst = kube.writes().length;
    const second = await kube.run("quiesce-statefulset.sh", STACK);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(lastJson(second.stdout).originalReplicas, 3);
    assert.equal(kube.writes().length, writesAfterFirst, "no annotate/scale on the second run");
  });

  it("StatefulSet missing = fails naming namespace/name and writes nothing", async () => {
    const kube = new FakeCluster({ "production-stack/stack": { replicas: 2 } });
    const result = await kube.run("quiesce-statefulset.sh", { ...STACK, STATEFULSET: "stacks" });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^quiesce production-stack\/stacks: StatefulSet not found/m);
    assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
    assert.deepEqual(kube.writes(), []);
    assert.equal(kube.get("production-stack/stack").replicas, 2);
  });

  it("pods that never stop = times out naming the pods still running", async () => {
    const kube = new FakeCluster({ "im-infra/keycloak": { replicas: 2, stuck: true } });
    const result = await kube.run("quiesce-statefulset.sh", {
      NAMESPACE: "im-infra",
      STATEFULSET: "keycloak",
      TIMEOUT_SECONDS: "1",
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /timed out after 1s waiting for pods to stop: keycloak-0 keycloak-1;/,
    );
    // A failed create leaves nothing in Pulumi state: the script must undo its own scale-down.
    const sts = kube.get("im-infra/keycloak");
    assert.equal(sts.replicas, 2, "scaled back to the original count");
    assert.equal(sts.annotations["relocation.fragalysis/original-replicas"], undefined);
    assert.match(result.stderr, /failed, so scaled back to the original 2 replicas/);
    assert.deepEqual(
      kube.writes().map((w) => w.replace(/^--namespace \S+ /, "")),
      [
        "annotate statefulset keycloak relocation.fragalysis/original-replicas=2",
        "scale statefulset keycloak --replicas=0",
        "scale statefulset keycloak --replicas=2",
        "annotate statefulset keycloak relocation.fragalysis/original-replicas-",
      ],
    );
  });

  it("many pods that never stop = each line names at most 10 of them (no line near 64 KiB)", async () => {
    const kube = new FakeCluster({ "im-infra/keycloak": { replicas: 3000, stuck: true } });
    const result = await kube.run("quiesce-statefulset.sh", {
      NAMESPACE: "im-infra",
      STATEFULSET: "keycloak",
      TIMEOUT_SECONDS: "1",
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /waiting for pods to stop: keycloak-0 .* keycloak-9 \(\+2990 more\)/,
    );
    for (const line of result.stderr.split("\n")) assert.ok(line.length < 1000, line.slice(0, 80));
  });

  it("killed (SIGTERM) while waiting for pods that never stop = scaled back before exiting", async () => {
    const kube = new FakeCluster({ "im-infra/keycloak": { replicas: 3, stuck: true } });
    const { spawn } = await import("node:child_process");
    const child = spawn("/bin/bash", ["-c", script("quiesce-statefulset.sh").text], {
      env: {
        ...process.env,
        NAMESPACE: "im-infra",
        STATEFULSET: "keycloak",
        TIMEOUT_SECONDS: "600",
        FAKE_KUBE_STATE: kube.file,
        PATH: `${FAKE_KUBE_BIN}:${process.env.PATH}`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    while (!/waiting for pods to stop/.test(stderr)) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGTERM");
    const code = await exited;
    assert.notEqual(code, 0);
    assert.equal(kube.get("im-infra/keycloak").replicas, 3, stderr);
    assert.match(stderr, /failed, so scaled back to the original 3 replicas/);
  });

  it("cluster unreachable after the scale-down = still tries to scale back, says how by hand", async () => {
    const kube = new FakeCluster({ "im-infra/keycloak": { replicas: 2, stuck: true } });
    // kubectl stops answering once the pods are listed: neither wait nor undo can reach it.
    const bin = tempDir("broken-kube");
    writeFileSync(
      path.join(bin, "kubectl"),
      `#!/bin/bash\nif [[ "$*" == *"get pods"* ]]; then touch "$FAKE_KUBE_STATE.down"; fi\n` +
        `if [[ -e "$FAKE_KUBE_STATE.down" ]]; then echo 'Unable to connect to the server' >&2; exit 1; fi\n` +
        `exec ${path.join(FAKE_KUBE_BIN, "kubectl")} "$@"\n`,
      { mode: 0o755 },
    );
    const result = await run("/bin/bash", ["-c", script("quiesce-statefulset.sh").text], {
      env: {
        NAMESPACE: "im-infra",
        STATEFULSET: "keycloak",
        FAKE_KUBE_STATE: kube.file,
        PATH: `${bin}:${process.env.PATH}`,
      },
    });
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      /could not scale back; restore by hand: kubectl --namespace im-infra scale statefulset keycloak --replicas=2/,
    );
  });
});

describe("restore-statefulset.sh", () => {
  it("up, second up, destroy = back to the ORIGINAL 3", async () => {
    const kube = new FakeCluster({ "production-stack/stack": { replicas: 3 } });
    const first = await kube.run("quiesce-statefulset.sh", STACK);
    await kube.run("quiesce-statefulset.sh", STACK);
    // destroy: @pulumi/command hands the create's stdout (kept in state) to delete.
    const restore = await kube.run("restore-statefulset.sh", {
      ...STACK,
      PULUMI_COMMAND_STDOUT: first.stdout,
    });
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(lastJson(restore.stdout).restoredReplicas, 3);
    const sts = kube.get("production-stack/stack");
    assert.equal(sts.replicas, 3);
    assert.equal(sts.annotations["relocation.fragalysis/original-replicas"], undefined);
  });

  it("no stdout in state = count read from the annotation", async () => {
    const kube = new FakeCluster({ "im-infra/keycloak": { replicas: 5 } });
    await kube.run("quiesce-statefulset.sh", { NAMESPACE: "im-infra", STATEFULSET: "keycloak" });
    const restore = await kube.run("restore-statefulset.sh", {
      NAMESPACE: "im-infra",
      STATEFULSET: "keycloak",
    });
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(kube.get("im-infra/keycloak").replicas, 5);
  });

  it("original 0 (already scaled down before up) = restored to 0, not to a default", async () => {
    const kube = new FakeCluster({ "im-infra/keycloak": { replicas: 0 } });
    const first = await kube.run("quiesce-statefulset.sh", {
      NAMESPACE: "im-infra",
      STATEFULSET: "keycloak",
    });
    assert.equal(lastJson(first.stdout).originalReplicas, 0);
    await kube.run("restore-statefulset.sh", {
      NAMESPACE: "im-infra",
      STATEFULSET: "keycloak",
      PULUMI_COMMAND_STDOUT: first.stdout,
    });
    assert.equal(kube.get("im-infra/keycloak").replicas, 0);
  });

  it("StatefulSet deleted meanwhile = reported and skipped, destroy not stuck", async () => {
    const kube = new FakeCluster({});
    const restore = await kube.run("restore-statefulset.sh", STACK);
    assert.equal(restore.code, 0);
    assert.match(restore.stderr, /no longer exists; nothing to restore/);
  });

  it("nothing recorded anywhere = fails with the manual command", async () => {
    const kube = new FakeCluster({ "production-stack/stack": { replicas: 0 } });
    const restore = await kube.run("restore-statefulset.sh", STACK);
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /no original replica count recorded; scale it by hand/);
  });
});
