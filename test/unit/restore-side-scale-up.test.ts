// The whole program (index.ts) with side: restore, the destination file plus a restore.scaleUp of
// production's two quiesced StatefulSets, under mocks: each scale-up Command gets the source's
// count and starts only after every restore Job and its result read-back; output scaledUp.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
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
const SOURCE = "organization/fragalysis-relocation/production";
const dump = (prefix: string, sha: string) => ({
  bucket: "im-fragalysis",
  key: `${prefix}backup-2026-12-07T00:00:00Z-dumpall.sql.gz`,
  size: 1024,
  sha256: sha,
  sourceTime: "2026-12-07T00:00:00Z",
  capturedAt: "2026-12-07T00:00:00Z",
  rpoSeconds: 0,
});
const BACKUPS = {
  "keycloak-db": dump("production-keycloak-db/", "a".repeat(64)),
  "stack-db": dump("production-stack-db/", "b".repeat(64)),
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
  const result = JSON.stringify({
    source: `s3://${entry.bucket}/${entry.key}`,
    sha256: entry.sha256,
    size: entry.size,
    kind: "cluster",
    dumpedFrom: "15.8",
    skippedRoleLines: 3,
    summary: { postgres: { tables: 0, rows: 0, sha256: "c".repeat(64) } },
  });
  return judgedSuccess(result);
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
    state: (type, name, inputs) => {
      if (type === "pulumi:pulumi:StackReference") {
        assert.equal(inputs.name, SOURCE);
        return { outputs: { backups: BACKUPS, originalReplicas: ORIGINAL } };
      }
      if (type === "kubernetes:core/v1:Secret" && name.startsWith("preflight-secret-")) {
        return {
          data: {
            root_password: "eA==",
            user_password: "eA==",
            database_admin_user_password: "eA==",
            database_user_password: "eA==",
          },
        };
      }
      if (type === "kubernetes:batch/v1:Job") {
        return { metadata: { ...(inputs.metadata as object), uid: `${name}-uid` } };
      }
      return {};
    },
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
