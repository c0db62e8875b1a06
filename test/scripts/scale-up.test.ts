// scripts/restore/scale-up.sh run for real (bash, exactly the text the local.Command runs)
// against the stand-in kubectl of test/fixtures/fake-kube: scaled to the recorded count and
// waited for until every pod is Ready; a repeat writes nothing; a timeout names what the pods say.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeKube, type FakeStatefulSet } from "../helpers/fake-kube";
import { lastJson, type RunResult } from "../helpers/run";

interface UpStatefulSet extends FakeStatefulSet {
  /** Listings before the pods turn Ready. */
  readyPolls?: number;
  /** What every pod says forever ("phase\tready=...\twhy"): never Ready. */
  notReady?: string;
}

class FakeCluster extends FakeKube<UpStatefulSet> {
  constructor(statefulSets: Record<string, Partial<UpStatefulSet> & { replicas: number }>) {
    super("fake-kube-up", statefulSets);
  }

  /** kubectl calls that changed something (annotate/scale). */
  writes(): string[] {
    return this.calls().filter((l) => / (annotate|scale) /.test(l));
  }

  run(env: Record<string, string>): Promise<RunResult> {
    return this.runScript("restore/scale-up.sh", env);
  }
}

const STACK = { NAMESPACE: "production-stack", STATEFULSET: "stack", REPLICAS: "2" };
const lastLine = (text: string) => text.trim().split("\n").pop() ?? "";

describe("scale-up.sh", () => {
  it("StatefulSet at 0, count 2 = scaled to 2, waits until both pods are Ready, record on stdout", async () => {
    const kube = new FakeCluster({ "production-stack/stack": { replicas: 0, readyPolls: 2 } });
    const result = await kube.run({ ...STACK, KUBE_CONTEXT: "new-cluster" });
    assert.equal(result.code, 0, result.stderr);
    const record = lastJson(result.stdout);
    assert.equal(record.namespace, "production-stack");
    assert.equal(record.statefulSet, "stack");
    assert.equal(record.replicas, 2);
    assert.equal(record.ready, 2);
    assert.equal(record.previous, 0);
    assert.match(String(record.readyAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(kube.get("production-stack/stack").replicas, 2);
    assert.deepEqual(kube.writes(), [
      "--context new-cluster --namespace production-stack scale statefulset stack --replicas=2",
    ]);
    assert.match(result.stderr, /scaled from 0 to 2 replicas/);
    // Logged once while the pods start (not once per poll), then Ready.
    const waiting = result.stderr.split("\n").filter((l) => l.includes("waiting:"));
    assert.deepEqual(waiting, [
      "scale-up.sh: production-stack/stack: waiting: 0 of 2 pods Ready, 2 exist (stack-0 Pending, not Ready: app ContainerCreating; stack-1 Pending, not Ready: app ContainerCreating)",
    ]);
    assert.match(result.stderr, /2 of 2 pods Ready at /);
  });

  it("second run with the count already there = no scale, no write, same record", async () => {
    const kube = new FakeCluster({ "production-stack/stack": { replicas: 0 } });
    assert.equal((await kube.run(STACK)).code, 0);
    const writesAfterFirst = kube.writes().length;
    const second = await kube.run(STACK);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(kube.writes().length, writesAfterFirst, "no scale/annotate on the second run");
    assert.match(second.stderr, /already at 2 replicas; not scaled/);
    const record = lastJson(second.stdout);
    assert.deepEqual([record.replicas, record.ready, record.previous], [2, 2, 2]);
  });

  it("count 0 (production had it stopped) = scaled to 0, done when no pod is left", async () => {
    const kube = new FakeCluster({ "im-infra/keycloak": { replicas: 1 } });
    const result = await kube.run({
      NAMESPACE: "im-infra",
      STATEFULSET: "keycloak",
      REPLICAS: "0",
    });
    assert.equal(result.code, 0, result.stderr);
    const record = lastJson(result.stdout);
    assert.deepEqual([record.replicas, record.ready, record.previous], [0, 0, 1]);
    assert.deepEqual(kube.get("im-infra/keycloak").pods, []);
  });

  it("pods never Ready = times out with one line naming the StatefulSet and what its pods say", async () => {
    const kube = new FakeCluster({
      "production-stack/stack": {
        replicas: 0,
        notReady:
          "Pending\tready=\tUnschedulable: 0/1 nodes are available: 1 Insufficient memory.; ",
      },
    });
    const result = await kube.run({ ...STACK, TIMEOUT_SECONDS: "1" });
    assert.equal(result.code, 1);
    assert.equal(
      lastLine(result.stderr),
      "scale-up.sh: ERROR: production-stack/stack: timed out after 1s: 0 of 2 pods Ready, 2 exist (stack-0 Pending, not Ready: Unschedulable: 0/1 nodes are available: 1 Insufficient memory.; stack-1 Pending, not Ready: Unschedulable: 0/1 nodes are available: 1 Insufficient memory.); check them with kubectl describe pod, or raise restore.scaleUpTimeoutSeconds",
    );
    assert.equal(result.stdout, "", "no record on failure");
    // Nothing is undone: the new production is left at the count, for the operator to look at.
    assert.equal(kube.get("production-stack/stack").replicas, 2);
  });

  it("many pods never Ready = the timeout line names 10 of them and the count of the rest", async () => {
    const kube = new FakeCluster({
      "production-stack/stack": {
        replicas: 0,
        notReady: "Running\tready=False\tapp CrashLoopBackOff; ",
      },
    });
    const result = await kube.run({ ...STACK, REPLICAS: "3000", TIMEOUT_SECONDS: "1" });
    assert.equal(result.code, 1);
    const line = lastLine(result.stderr);
    assert.match(line, /0 of 3000 pods Ready, 3000 exist \(stack-0 Running, not Ready: app Crash/);
    assert.match(
      line,
      /stack-9 Running, not Ready: app CrashLoopBackOff; \(\+2990 more not Ready\)\);/,
    );
    for (const l of result.stderr.split("\n")) assert.ok(l.length <= 4200, l.slice(0, 80));
  });

  it("StatefulSet missing = one ERROR line naming it and the setting; nothing written", async () => {
    const kube = new FakeCluster({ "production-stack/stack": { replicas: 0 } });
    const result = await kube.run({ ...STACK, STATEFULSET: "stacks" });
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.match(
      result.stderr,
      /^scale-up\.sh: ERROR: production-stack\/stacks: cannot read the StatefulSet \(Error from server \(NotFound\): statefulsets\.apps "stacks" not found\); check restore\.scaleUp's namespace and statefulSet/,
    );
    assert.deepEqual(kube.writes(), []);
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ["REPLICAS not a count", { REPLICAS: "three" }, /REPLICAS must be the count .* got 'three'/],
    ["REPLICAS with a leading zero", { REPLICAS: "02" }, /REPLICAS must be .* got '02'/],
    ["REPLICAS missing", { REPLICAS: "" }, /REPLICAS must be .* got ''/],
    ["TIMEOUT_SECONDS 0", { TIMEOUT_SECONDS: "0" }, /TIMEOUT_SECONDS must be whole seconds/],
    ["NAMESPACE with a capital", { NAMESPACE: "Prod" }, /NAMESPACE must be a Kubernetes namespace/],
  ];
  for (const [condition, env, expected] of bad) {
    it(`${condition} = one ERROR line naming the setting; kubectl never called`, async () => {
      const kube = new FakeCluster({ "production-stack/stack": { replicas: 0 } });
      const result = await kube.run({ ...STACK, ...env });
      assert.equal(result.code, 1);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.match(result.stderr, /^scale-up\.sh: ERROR: /);
      assert.match(result.stderr, expected);
      assert.throws(() => kube.calls(), /ENOENT/, "no kubectl call at all");
    });
  }
});
