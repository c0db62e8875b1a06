// `pulumi preview` of the restore stack (index.ts, the destination file plus a restore.scaleUp
// whose second entry the source stack has no count for, under preview mocks): the program fails
// with one line naming restore.scaleUp[1] and what the source has, before anything changes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { ALL_PASSWORDS, SOURCE, sourceDump } from "../helpers/destination";
import { useMocks, type Recorder } from "../helpers/mocks";
import { collectUnhandledRejections, forgetLeakedPromises, rejection } from "../helpers/rejections";
import { importProgram, useDestinationConfig } from "../helpers/stack";

/** The backup stack's outputs: production quiesced the stack and Keycloak in im-infra. */
const SOURCE_OUTPUTS = {
  backups: {
    "keycloak-db": sourceDump("production-keycloak-db/", "a".repeat(64)),
    "stack-db": sourceDump("production-stack-db/", "b".repeat(64)),
  },
  originalReplicas: { "production-stack/stack": 1, "im-infra/keycloak": 1 },
};
let recorder: Recorder;
let outputs: Record<string, pulumi.Output<unknown>>;

before(async () => {
  // A rejected output fails the program as `pulumi preview` sees it: a rejection nobody handles.
  collectUnhandledRejections();
  recorder = await useMocks({
    preview: true,
    statefulSets: {
      "im-infra/database": 1,
      "production-stack/database": 1,
      "production-stack/stack": 0,
      // The new cluster runs Keycloak in a namespace of its own; production had it in im-infra.
      "keycloak/keycloak": 0,
    },
    state: (type, name) => {
      if (type === "pulumi:pulumi:StackReference") return { outputs: SOURCE_OUTPUTS };
      if (type === "kubernetes:core/v1:Secret" && name.startsWith("preflight-secret-")) {
        return { data: ALL_PASSWORDS };
      }
      return {};
    },
  });
  useDestinationConfig({
    scaleUp: [
      { namespace: "production-stack", statefulSet: "stack" },
      { namespace: "keycloak", statefulSet: "keycloak" },
    ],
  });
  outputs = (await importProgram()) as typeof outputs;
});

after(forgetLeakedPromises);

describe("restore.scaleUp entry without a source count (preview)", () => {
  it("scaledUp fails with one line naming restore.scaleUp[1] and listing the source's counts", async () => {
    assert.equal(
      await rejection(outputs.scaledUp!),
      `fragalysis-relocation:restore.scaleUp[1]: the source stack ${SOURCE} recorded no replica count for keycloak/keycloak (its originalReplicas has: im-infra/keycloak, production-stack/stack); list only StatefulSets the backup stack quiesced, under the same namespace and name (or name the old one in from), or scale this one by hand`,
    );
  });

  it("no scale-up Command is registered", () => {
    const up = recorder.named("scale-up");
    const commands = recorder.resources.filter((r) => r.parent === up.urn && r.urn !== "");
    assert.deepEqual(
      commands.map((c) => c.name),
      [],
    );
  });
});
