// The quiesce component's graph: one Command whose create/delete are the
// quiesce/restore scripts, waiting for the work that needs the pods running.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as command from "@pulumi/command";
import { script } from "../../components/scripts";
import { useMocks, valueOf, type Recorder } from "../helpers/mocks";

let recorder: Recorder;
let mod: typeof import("../../components/quiesced-statefulset");

before(async () => {
  recorder = await useMocks({
    statefulSets: { "production-stack/stack": 3, "im-infra/keycloak": 1 },
  });
  mod = await import("../../components/quiesced-statefulset");
});

describe("QuiescedStatefulSet", () => {
  it("configured StatefulSet = a quiesce/restore Command that waits for runAfter", async () => {
    const envDump = new command.local.Command("env-dump", { create: "true" });
    const q = new mod.QuiescedStatefulSet("quiesce-production-stack-stack", {
      namespace: "production-stack",
      statefulSet: "stack",
      timeoutSeconds: 900,
      runAfter: [envDump],
    });
    assert.equal(await valueOf(q.originalReplicas), 3);
    assert.equal(await valueOf(q.quiescedAt), "2026-11-25T10:00:00Z");

    const component = recorder.named("quiesce-production-stack-stack");
    assert.equal(component.type, "relocation:quiesce:QuiescedStatefulSet");

    const scale = recorder.named("quiesce-production-stack-stack-scale");
    assert.equal(scale.type, "command:local:Command");
    assert.equal(scale.parent, component.urn);
    assert.equal(scale.deleteBeforeReplace, true, "a replacement restores before it re-records");
    assert.equal(scale.inputs.create, script("quiesce-statefulset.sh").text);
    assert.equal(scale.inputs.delete, script("restore-statefulset.sh").text);
    assert.deepEqual(scale.inputs.interpreter, ["/bin/bash", "-c"]);
    assert.equal(scale.inputs.addPreviousOutputInEnv, true, "delete reads what create printed");
    assert.deepEqual(scale.inputs.environment, {
      NAMESPACE: "production-stack",
      STATEFULSET: "stack",
      TIMEOUT_SECONDS: "900",
    });
    assert.ok(recorder.waitsFor(scale, recorder.named("env-dump")), "runAfter comes first");
  });

  it("kubeContext set = passed to kubectl as KUBE_CONTEXT", async () => {
    new mod.QuiescedStatefulSet("ctx", {
      namespace: "im-infra",
      statefulSet: "keycloak",
      kubeContext: "stfc-prod",
    });
    await new Promise((r) => setTimeout(r, 50));
    const scale = recorder.named("ctx-scale");
    assert.equal((scale.inputs.environment as Record<string, string>).KUBE_CONTEXT, "stfc-prod");
    assert.equal((scale.inputs.environment as Record<string, string>).TIMEOUT_SECONDS, "600");
  });
});

describe("parseQuiesceRecord", () => {
  const cases: Array<[string, string, RegExp | number]> = [
    [
      "log lines then JSON = the JSON's count",
      'a\nb\n{"originalReplicas":2,"quiescedAt":"t"}\n',
      2,
    ],
    [
      "not JSON = error naming the StatefulSet",
      "scaled\n",
      /quiesce ns\/s: expected a JSON record/,
    ],
    ["JSON without a count = error", '{"quiescedAt":"t"}', /lacks originalReplicas/],
  ];
  for (const [condition, stdout, expected] of cases) {
    it(condition, () => {
      if (typeof expected === "number") {
        assert.equal(mod.parseQuiesceRecord(stdout, "ns/s").originalReplicas, expected);
      } else {
        assert.throws(() => mod.parseQuiesceRecord(stdout, "ns/s"), expected);
      }
    });
  }
});
