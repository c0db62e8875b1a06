// The whole program (index.ts) with side: restore, the destination file plus a restore.scaleUp of
// production's two quiesced StatefulSets, under mocks: each scale-up Command gets the source's
// count and starts only after every restore Job and its result read-back; output scaledUp.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { destinationState, dumpResultLine, sourceDump } from "../helpers/destination";
import { useMocks, valueOf, type Recorder } from "../helpers/mocks";
import { forgetLeakedPromises } from "../helpers/rejections";
import {
  judgedStackMedia,
  judgedSuccess,
  STACK_MEDIA,
  STACK_MEDIA_VOLUMES,
} from "../helpers/judged";
import { importProgram, useDestinationConfig } from "../helpers/stack";

let recorder: Recorder;
let stack: Record<string, unknown>;
const BACKUPS = {
  "keycloak-db": sourceDump("production-keycloak-db/", "a".repeat(64)),
  "stack-db": sourceDump("production-stack-db/", "b".repeat(64)),
  "stack-media": STACK_MEDIA,
};
const ORIGINAL = { "production-stack/stack": 2, "im-infra/keycloak": 1 };

/** What each Command prints: a restore's termination message, or scale-up.sh's record. */
function stdout(name: string, inputs: Record<string, unknown>): string {
  const env = (inputs.environment ?? {}) as Record<string, string>;
  if (name.startsWith("scale-up-")) {
    const n = Number(env.REPLICAS);
    return JSON.stringify({
      namespace: env.NAMESPACE,
      statefulSet: env.STATEFULSET,
      replicas: n,
      ready: n,
      previous: 0,
      readyAt: "2026-12-07T06:00:00Z",
    });
  }
  if (name.startsWith("restore-stack-media")) return judgedStackMedia();
  const entry = BACKUPS[name.startsWith("restore-keycloak-db") ? "keycloak-db" : "stack-db"];
  return judgedSuccess(
    dumpResultLine(entry, { postgres: { tables: 0, rows: 0, sha256: "c".repeat(64) } }),
  );
}

before(async () => {
  recorder = await useMocks({
    volumes: STACK_MEDIA_VOLUMES,
    statefulSets: {
      "im-infra/database": 1,
      "production-stack/database": 1,
      "production-stack/stack": 0,
      "im-infra/keycloak": 0,
    },
    commandStdout: stdout,
    state: destinationState({ backups: BACKUPS, originalReplicas: ORIGINAL }),
  });
  useDestinationConfig({
    scaleUp: [
      { namespace: "production-stack", statefulSet: "stack" },
      { namespace: "im-infra", statefulSet: "keycloak" },
    ],
    kubeContext: "new-cluster",
  });
  stack = await importProgram();
  await valueOf(stack.scaledUp as never);
});

after(forgetLeakedPromises);

describe("side restore with restore.scaleUp", () => {
  it("scaledUp = per StatefulSet the source's count, all Ready", async () => {
    assert.deepEqual(await valueOf(stack.scaledUp as never), {
      "production-stack/stack": { replicas: 2, ready: 2 },
      "im-infra/keycloak": { replicas: 1, ready: 1 },
    });
  });

  it("one Command per entry under the ScaleUp, with the count and the cluster's context", () => {
    const up = recorder.named("scale-up");
    const commands = recorder.resources.filter((r) => r.parent === up.urn);
    assert.deepEqual(
      commands.map((c) => [
        c.name,
        (c.inputs.environment as Record<string, string>).REPLICAS,
        (c.inputs.environment as Record<string, string>).KUBE_CONTEXT,
        (c.inputs.environment as Record<string, string>).TIMEOUT_SECONDS,
      ]),
      [
        ["scale-up-production-stack-stack", "2", "new-cluster", "900"],
        ["scale-up-im-infra-keycloak", "1", "new-cluster", "900"],
      ],
    );
  });

  it("each scale-up starts only after every restore Job (dumps and media) and its judge", () => {
    const restoresDone = recorder.resources.filter(
      (r) =>
        r.name.startsWith("restore-") && (r.name.endsWith("-job") || r.name.endsWith("-result")),
    );
    assert.equal(restoresDone.length, 6); // two dumps and the media tree
    for (const scale of recorder.resources.filter((r) => r.name.startsWith("scale-up-"))) {
      for (const done of restoresDone) {
        assert.ok(recorder.waitsFor(scale, done), `${scale.name} does not wait for ${done.name}`);
      }
    }
  });
});
