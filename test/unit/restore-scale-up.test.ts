// The restore side's ScaleUp under mocks: one Command per StatefulSet running scale-up.sh with the
// count the source recorded for the same "namespace/statefulSet", after everything in runAfter,
// with no delete (destroy leaves the new production running); the missing-count error; the
// script's record checked.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { script } from "../../components/scripts";
import { settle, useMocks, valueOf, type Recorder } from "../helpers/mocks";
import { collectUnhandledRejections, forgetLeakedPromises, rejection } from "../helpers/rejections";

let recorder: Recorder;
let mod: typeof import("../../components/restore/scale-up");
const SOURCE = "organization/fragalysis-relocation/production";
const RECORDED = { "production-stack/stack": 2, "im-infra/keycloak": 1 };
const key = (i: number) => `fragalysis-relocation:restore.scaleUp[${i}]`;
/** What scale-up.sh prints when it reached the count it was given; `ready` overridable. */
const readyAs: Record<string, number> = {};

before(async () => {
  collectUnhandledRejections();
  recorder = await useMocks({
    commandStdout: (name, inputs) => {
      const env = (inputs.environment ?? {}) as Record<string, string>;
      const n = Number(env.REPLICAS);
      return `scale-up.sh: log line\n${JSON.stringify({
        namespace: env.NAMESPACE,
        statefulSet: env.STATEFULSET,
        replicas: n,
        ready: readyAs[name] ?? n,
        previous: 0,
        readyAt: "2026-12-07T06:00:00Z",
      })}\n`;
    },
  });
  mod = await import("../../components/restore/scale-up");
});

after(forgetLeakedPromises);

describe("ScaleUp", () => {
  it("two StatefulSets = a Command each with the source's count, after runAfter, no delete", async () => {
    const restore = new command.local.Command("restore-stack-db", { create: "true" });
    const up = new mod.ScaleUp("scale-up", {
      statefulSets: [
        { key: key(0), namespace: "production-stack", statefulSet: "stack" },
        { key: key(1), namespace: "im-infra", statefulSet: "keycloak" },
      ],
      originalReplicas: pulumi.output(RECORDED),
      source: SOURCE,
      kubeContext: "new-cluster",
      runAfter: [pulumi.output(restore)],
    });
    assert.deepEqual(await valueOf(up.scaledUp), {
      "production-stack/stack": { replicas: 2, ready: 2 },
      "im-infra/keycloak": { replicas: 1, ready: 1 },
    });

    const component = recorder.named("scale-up");
    assert.equal(component.type, "relocation:restore:ScaleUp");
    const commands = recorder.resources.filter((r) => r.parent === component.urn);
    assert.deepEqual(
      commands.map((c) => `${c.type} ${c.name}`),
      [
        "command:local:Command scale-up-production-stack-stack",
        "command:local:Command scale-up-im-infra-keycloak",
      ],
    );
    const stack = recorder.named("scale-up-production-stack-stack");
    assert.equal(stack.inputs.create, script("restore/scale-up.sh").text);
    assert.deepEqual(stack.inputs.interpreter, ["/bin/bash", "-c"]);
    assert.equal(stack.inputs.delete, undefined, "destroy leaves the new production running");
    assert.equal(stack.inputs.update, undefined, "a changed input runs the script again");
    assert.deepEqual(stack.inputs.environment, {
      NAMESPACE: "production-stack",
      STATEFULSET: "stack",
      REPLICAS: "2",
      TIMEOUT_SECONDS: "900",
      KUBE_CONTEXT: "new-cluster",
    });
    const keycloak = recorder.named("scale-up-im-infra-keycloak");
    assert.equal((keycloak.inputs.environment as Record<string, string>).REPLICAS, "1");
    for (const c of commands) {
      assert.ok(recorder.waitsFor(c, recorder.named("restore-stack-db")), `${c.name} waits`);
    }
  });

  it("no StatefulSets = nothing created, scaledUp {}", async () => {
    const up = new mod.ScaleUp("none", {
      statefulSets: [],
      originalReplicas: RECORDED,
      source: SOURCE,
      timeoutSeconds: 60,
    });
    assert.deepEqual(await valueOf(up.scaledUp), {});
    const component = recorder.named("none");
    assert.deepEqual(
      recorder.resources.filter((r) => r.parent === component.urn),
      [],
    );
  });

  it("an entry the source has no count for = one line naming its key and what the source has; no Command", async () => {
    const up = new mod.ScaleUp("missing", {
      statefulSets: [
        { key: key(0), namespace: "production-stack", statefulSet: "stack" },
        { key: key(1), namespace: "keycloak", statefulSet: "keycloak" },
      ],
      originalReplicas: RECORDED,
      source: SOURCE,
    });
    assert.equal(
      await rejection(up.scaledUp),
      `${key(1)}: the source stack ${SOURCE} recorded no replica count for keycloak/keycloak (its originalReplicas has: im-infra/keycloak, production-stack/stack); list only StatefulSets the backup stack quiesced, under the same namespace and name (or name the old one in from), or scale this one by hand`,
    );
    await settle();
    const component = recorder.named("missing");
    const created = recorder.resources.filter((r) => r.parent === component.urn && r.urn !== "");
    assert.deepEqual(
      created.map((r) => r.name),
      [],
      "no Command registered",
    );
  });

  it("the script reports fewer Ready pods than the count = scaledUp fails naming the StatefulSet", async () => {
    readyAs["short-production-stack-stack"] = 1;
    const up = new mod.ScaleUp("short", {
      statefulSets: [{ key: key(0), namespace: "production-stack", statefulSet: "stack" }],
      originalReplicas: RECORDED,
      source: SOURCE,
    });
    assert.equal(
      await rejection(up.scaledUp),
      "scale-up production-stack/stack: asked for 2 Ready pods, the script reported 1 of 2",
    );
  });
});

describe("scaleUpCounts", () => {
  const t = (i: number, id: string) => ({
    key: key(i),
    namespace: id.split("/")[0]!,
    statefulSet: id.split("/")[1]!,
  });
  const from = (i: number, id: string, old: string) => ({ ...t(i, id), from: old });
  const cases: Array<
    [
      string,
      (ReturnType<typeof t> & { from?: string })[],
      Record<string, number>,
      number[] | RegExp,
    ]
  > = [
    [
      "every entry recorded = the recorded counts in order",
      [t(0, "im-infra/keycloak"), t(1, "production-stack/stack")],
      RECORDED,
      [1, 2],
    ],
    ["a recorded 0 = 0 (production had it stopped)", [t(0, "a/b")], { "a/b": 0 }, [0]],
    [
      "from = the old name's count (a new cluster with other names)",
      [from(0, "dest-production-stack/stack", "production-stack/stack"), t(1, "im-infra/keycloak")],
      RECORDED,
      [2, 1],
    ],
    [
      "from naming what the source did not record = the .from key and what it has",
      [from(0, "production-stack/stack", "production-stack/worker")],
      RECORDED,
      /^Error: fragalysis-relocation:restore\.scaleUp\[0\]\.from: .* no replica count for production-stack\/worker \(its originalReplicas has: im-infra\/keycloak, production-stack\/stack\); set from to one of them$/,
    ],
    [
      "same name, other namespace = missing",
      [t(0, "keycloak/keycloak")],
      RECORDED,
      /^Error: fragalysis-relocation:restore\.scaleUp\[0\]: .* no replica count for keycloak\/keycloak \(its originalReplicas has: im-infra\/keycloak, production-stack\/stack\);/,
    ],
    [
      "source recorded nothing = has: none",
      [t(0, "a/b")],
      {},
      /no replica count for a\/b \(its originalReplicas has: none\)/,
    ],
    [
      "two missing = one line each",
      [t(0, "a/b"), t(1, "production-stack/stack"), t(2, "c/d")],
      RECORDED,
      /^[^\n]*scaleUp\[0\]: [^\n]* a\/b [^\n]*\n[^\n]*scaleUp\[2\]: [^\n]* c\/d [^\n]*$/,
    ],
  ];
  for (const [condition, targets, recorded, expected] of cases) {
    it(condition, () => {
      if (Array.isArray(expected)) {
        assert.deepEqual(mod.scaleUpCounts(targets, recorded, SOURCE), expected);
      } else {
        assert.throws(() => mod.scaleUpCounts(targets, recorded, SOURCE), expected);
      }
    });
  }
});

describe("parseScaleUpRecord", () => {
  const line = (o: Record<string, unknown>) =>
    JSON.stringify({
      namespace: "n",
      statefulSet: "s",
      replicas: 2,
      ready: 2,
      previous: 0,
      readyAt: "t",
      ...o,
    });
  const cases: Array<[string, string, RegExp | null]> = [
    ["log lines then the record = parsed", `a\nb\n${line({})}\n`, null],
    [
      "not JSON = names the StatefulSet",
      "scaled\n",
      /^Error: scale-up n\/s: expected a JSON record/,
    ],
    ["no ready = lacks", line({ ready: undefined }), /lacks replicas\/ready/],
    ["another count = asked for 2", line({ replicas: 3, ready: 3 }), /asked for 2 Ready pods/],
  ];
  for (const [condition, stdout, expected] of cases) {
    it(condition, () => {
      if (expected === null) assert.equal(mod.parseScaleUpRecord(stdout, "n/s", 2).ready, 2);
      else assert.throws(() => mod.parseScaleUpRecord(stdout, "n/s", 2), expected);
    });
  }
});
