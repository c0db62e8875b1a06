// `pulumi preview` of the production stack file: the plan is read once with one local.run invoke
// (the read-only plan-cluster.sh, no secret in its inputs), becomes the `plan` stack output in
// the shape the schema promises, and adds no resource.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { loadConfig } from "../../components/config";
import {
  checksEnv,
  permissionChecks,
  planFromDiagnostics,
  planJsonLine,
  planSchema,
  planText,
} from "../../components/plan";
import { failureLine } from "../../components/plan-read";
import { settle, valueOf, type Recorder } from "../helpers/mocks";
import { usePreviewMocks } from "../helpers/refresh-mocks";
import { type BackupOutputs, importBackupStack, useStackConfig } from "../helpers/stack";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY----- plan-test-secret";
let recorder: Recorder;
let stack: BackupOutputs;

before(async () => {
  recorder = await usePreviewMocks();
  useStackConfig("production", { sshPrivateKey: KEY });
  stack = await importBackupStack();
  for (let i = 0; i < 20; i++) await settle();
});

describe("the plan in preview", () => {
  it("= two local.runs: plan-cluster.sh, plan-s3.sh; no secret in either", () => {
    assert.deepEqual(
      recorder.invokes.map((i) => [i.token, String(i.inputs.command).replace(/'.*\//, "'")]),
      [
        ["command:local:run", "bash 'plan-cluster.sh'"],
        ["command:local:run", "bash 'plan-s3.sh'"],
      ],
    );
    assert.ok(!JSON.stringify(recorder.invokes).includes("plan-test-secret"));
  });

  it("= plan-cluster.sh gets both StatefulSets and every needed check", () => {
    const env = recorder.invokes[0]!.inputs.environment as Record<string, string>;
    assert.equal(env.PLAN_STATEFULSETS, "production-stack/stack im-infra/keycloak");
    assert.equal(env.PLAN_CHECKS, checksEnv(permissionChecks(loadConfig())));
  });

  it("managed mode = plan-s3.sh gets bucket, every prefix, WRITE_PROOF policy and no key", () => {
    const env = recorder.invokes[1]!.inputs.environment as Record<string, string>;
    assert.deepEqual(env, {
      BUCKET: "im-fragalysis",
      PREFIXES:
        "production-keycloak-db/ production-stack-db/ production-stack-media/ production-env/",
      WRITE_PROOF: "policy",
      AWS_DEFAULT_REGION: "eu-central-1",
    });
  });

  it("= the plan output, valid against the schema, with the replicas now and their pods", async () => {
    const plan = planSchema.parse(await valueOf(stack.plan!));
    assert.deepEqual(
      plan.cluster.statefulSets.map((s) => [`${s.namespace}/${s.name}`, s.replicas, s.pods.length]),
      [
        ["production-stack/stack", 3, 3],
        ["im-infra/keycloak", 1, 1],
      ],
    );
    assert.ok(plan.cluster.permissions.every((p) => p.allowed));
    assert.equal(plan.s3.prefixes.length, 4);
    assert.match(
      planText(plan),
      /quiesce production-stack\/stack: 3 replicas now, destroy restores 3; pods: stack-0 stack-1 stack-2/,
    );
  });

  it("= the same plan as one diagnostic line that `pulumi preview --json` carries", async () => {
    const plan = planSchema.parse(await valueOf(stack.plan!));
    const line = planJsonLine(plan);
    assert.doesNotMatch(line, /\n/);
    const messages = ["info: something else\n", planText(plan), `${line}\n`];
    assert.deepEqual(planFromDiagnostics(messages), plan);
    assert.equal(planFromDiagnostics(["no plan here"]), undefined);
  });

  it("= no resource named or typed for the plan (a read only)", () => {
    assert.deepEqual(
      recorder.resources.filter((r) => /plan/i.test(r.name) || /plan/i.test(r.type)),
      [],
    );
  });
});

describe("permissionChecks", () => {
  const config = () => loadConfig();
  const has = (verb: string, resource: string, namespace: string | null) =>
    permissionChecks(config()).some(
      (c) => c.verb === verb && c.resource === resource && c.namespace === namespace,
    );
  for (const [verb, resource, namespace] of [
    ["patch", "statefulsets/scale", "im-infra"],
    ["get", "cronjobs", "production-stack"],
    ["create", "jobs", "im-infra"],
    ["list", "pods", "production-stack"],
    ["get", "persistentvolumeclaims", "production-stack"],
    ["get", "persistentvolumes", null],
    ["create", "pods/exec", "im-infra"],
  ] as const) {
    it(`production, ${verb} ${resource} in ${namespace ?? "the cluster"} = checked`, () => {
      assert.ok(has(verb, resource, namespace));
    });
  }
  it("production: every check once", () => {
    const keys = permissionChecks(config()).map((c) => `${c.verb} ${c.resource} ${c.namespace}`);
    assert.equal(new Set(keys).size, keys.length);
  });
});

describe("failureLine", () => {
  it("a local.run error with the script's ERROR line = that line alone", () => {
    const message = [
      "exit status 1: running \"bash '/x/scripts/plan-cluster.sh'\":",
      "plan-cluster.sh: ok: may get cronjobs in im-infra",
      "plan-cluster.sh: NOT ALLOWED: create jobs in im-infra (needed: refresh of keycloak-db); grant it",
      "plan-cluster.sh: ERROR: 1 cluster check(s) failed: create jobs in im-infra",
    ].join("\n");
    assert.equal(
      failureLine(message),
      "plan-cluster.sh: ERROR: 1 cluster check(s) failed: create jobs in im-infra",
    );
  });
  it("an error without one (bash missing) = its last line", () => {
    assert.equal(
      failureLine('fork/exec /bin/bash: no such file or directory: running "bash x":\n'),
      'fork/exec /bin/bash: no such file or directory: running "bash x":',
    );
  });
});
