// scripts/plan-cluster.sh run for real (bash, the file the preview's local.run runs) against the
// stand-in kubectl: what it reports, that it fails naming every failed read or missing
// permission, and that it never calls anything but get and auth can-i.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { script } from "../../components/scripts";
import { parseResult } from "../../components/plan-read";
import { clusterPlanSchema } from "../../components/plan";
import { run, type RunResult } from "../helpers/run";
import { tempDir } from "../helpers/servers";

const FAKE_BIN = path.join(__dirname, "..", "fixtures", "fake-kube");

interface State {
  statefulSets: Record<string, { replicas: number; annotations?: Record<string, string> }>;
  jobs?: { namespace: string; owner?: string; startTime?: string; completionTime?: string }[];
  denied?: string[];
  unreachable?: boolean;
}

function fakeCluster(state: State): string {
  const file = path.join(tempDir("plan-kube"), "state.json");
  const full = Object.fromEntries(
    Object.entries(state.statefulSets).map(([key, s]) => [
      key,
      {
        annotations: {},
        pods: Array.from({ length: s.replicas }, (_, i) => `${key.split("/")[1]}-${i}`),
        ...s,
      },
    ]),
  );
  writeFileSync(file, JSON.stringify({ ...state, statefulSets: full }));
  return file;
}

function plan(file: string, env: Record<string, string>): Promise<RunResult> {
  return run("/bin/bash", [script("plan-cluster.sh").path], {
    env: { ...env, FAKE_KUBE_STATE: file, PATH: `${FAKE_BIN}:${process.env.PATH}` },
  });
}

/** Every kubectl call the script made, as argument lines. */
const calls = (file: string) => readFileSync(`${file}.log`, "utf8").trim().split("\n");

const CHECKS = [
  "get cronjobs im-infra refresh of keycloak-db",
  "create jobs im-infra refresh of keycloak-db",
  "get persistentvolumes - live volume of media",
  "create pods/exec im-infra env dump",
].join("\n");
const BOTH = "production-stack/stack im-infra/keycloak";

describe("plan-cluster.sh", () => {
  it("two StatefulSets, all allowed = replicas, pods, restores and every check on one JSON line", async () => {
    const file = fakeCluster({
      statefulSets: {
        "production-stack/stack": { replicas: 3 },
        // Left at 0 by an earlier quiesce: destroy restores the recorded 2, not 0.
        "im-infra/keycloak": {
          replicas: 0,
          annotations: { "relocation.fragalysis/original-replicas": "2" },
        },
      },
    });
    const result = await plan(file, { PLAN_STATEFULSETS: BOTH, PLAN_CHECKS: CHECKS });
    assert.equal(result.code, 0, result.stderr);
    const parsed = parseResult("plan-cluster.sh", clusterPlanSchema, result.stdout);
    assert.deepEqual(parsed.statefulSets, [
      {
        namespace: "production-stack",
        name: "stack",
        replicas: 3,
        restores: 3,
        pods: ["stack-0", "stack-1", "stack-2"],
      },
      { namespace: "im-infra", name: "keycloak", replicas: 0, restores: 2, pods: [] },
    ]);
    assert.deepEqual(parsed.permissions, [
      { verb: "get", resource: "cronjobs", namespace: "im-infra", allowed: true },
      { verb: "create", resource: "jobs", namespace: "im-infra", allowed: true },
      { verb: "get", resource: "persistentvolumes", namespace: null, allowed: true },
      { verb: "create", resource: "pods/exec", namespace: "im-infra", allowed: true },
    ]);
    // A subresource goes in --subresource: "pods/exec" as the TYPE would name a pod "exec".
    assert.ok(
      calls(file).includes("auth can-i create pods --subresource=exec --namespace im-infra"),
    );
    assert.match(
      result.stderr,
      /ok: StatefulSet production-stack\/stack: 3 replicas now, destroy restores 3; pods: stack-0 stack-1 stack-2/,
    );
    assert.match(result.stderr, /ok: may get persistentvolumes cluster-wide/);
    // Read-only: nothing but get and auth can-i reached kubectl.
    for (const call of calls(file)) assert.match(call, /^(--namespace \S+ get |auth can-i )/, call);
  });

  it("a missing StatefulSet and a denied permission = exit 1, ERROR line names both, no JSON", async () => {
    const file = fakeCluster({
      statefulSets: { "production-stack/stack": { replicas: 3 } },
      denied: ["create jobs im-infra", "create pods/exec im-infra"],
    });
    const result = await plan(file, { PLAN_STATEFULSETS: BOTH, PLAN_CHECKS: CHECKS });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    const lines = result.stderr.trim().split("\n");
    assert.equal(
      lines.at(-1),
      "plan-cluster.sh: ERROR: 3 cluster check(s) failed: read StatefulSet im-infra/keycloak;create jobs in im-infra;create pods/exec in im-infra",
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith(
          "plan-cluster.sh: NOT ALLOWED: create jobs in im-infra (needed: refresh of keycloak-db)",
        ),
      ),
      result.stderr,
    );
    assert.match(result.stderr, /StatefulSet im-infra\/keycloak: cannot read it \(.*not found\)/);
  });

  it("API server unreachable = can-i's error is a failure, not a yes or no", async () => {
    const file = fakeCluster({ statefulSets: {}, unreachable: true });
    const result = await plan(file, { PLAN_STATEFULSETS: "", PLAN_CHECKS: CHECKS });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /kubectl auth can-i get cronjobs in im-infra failed: .*refused/);
    assert.match(
      result.stderr.trim().split("\n").at(-1)!,
      /^plan-cluster.sh: ERROR: 4 cluster check/,
    );
  });

  it("KUBE_CONTEXT set = every kubectl call names that context", async () => {
    const file = fakeCluster({ statefulSets: { "production-stack/stack": { replicas: 1 } } });
    const result = await plan(file, {
      PLAN_STATEFULSETS: "production-stack/stack",
      PLAN_CHECKS: CHECKS,
      KUBE_CONTEXT: "prod",
    });
    assert.equal(result.code, 0, result.stderr);
    // The stand-in logs its arguments; --context is dropped from what it parses, not from the log.
    for (const call of calls(file)) assert.match(call, /--context prod/, call);
  });

  it("refresh CronJobs = the run of each one's latest finished Job, null without one; read-only", async () => {
    const file = fakeCluster({
      statefulSets: {},
      jobs: [
        // Two finished runs of the hourly CronJob: the later one counts (3 min 20 s).
        {
          namespace: "im-infra",
          owner: "backup-hourly",
          startTime: "2026-12-07T00:51:00Z",
          completionTime: "2026-12-07T00:59:00Z",
        },
        {
          namespace: "im-infra",
          owner: "backup-hourly",
          startTime: "2026-12-07T01:51:00Z",
          completionTime: "2026-12-07T01:54:20Z",
        },
        // Still running (no completionTime), another CronJob's, a Job no CronJob owns.
        { namespace: "im-infra", owner: "backup-hourly", startTime: "2026-12-07T02:51:00Z" },
        {
          namespace: "im-infra",
          owner: "backup-daily",
          startTime: "2026-12-07T00:00:00Z",
          completionTime: "2026-12-07T03:00:00Z",
        },
        {
          namespace: "im-infra",
          startTime: "2026-12-07T00:00:00Z",
          completionTime: "2026-12-07T04:00:00Z",
        },
      ],
    });
    const result = await plan(file, {
      PLAN_STATEFULSETS: "",
      PLAN_CHECKS: "",
      PLAN_CRONJOBS: "im-infra/backup-hourly production-stack/backup-hourly",
    });
    assert.equal(result.code, 0, result.stderr);
    const parsed = parseResult("plan-cluster.sh", clusterPlanSchema, result.stdout);
    assert.deepEqual(parsed.cronJobs, [
      { namespace: "im-infra", name: "backup-hourly", lastRunSeconds: 200 },
      { namespace: "production-stack", name: "backup-hourly", lastRunSeconds: null },
    ]);
    assert.match(result.stderr, /CronJob production-stack\/backup-hourly: no finished Job/);
    for (const call of calls(file)) assert.match(call, /^--namespace \S+ get jobs /, call);
  });
});
