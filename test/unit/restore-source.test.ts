// The restore side reads the backup stack's `backups`, `originalReplicas` and `fingerprints`
// outputs: a missing one (fingerprints: only an invalid one) fails with one line naming the
// source stack and the output (components/restore/source.ts), through the program too
// (restoreSide under mocks, source stack without backups).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { SOURCE as STACK } from "../helpers/destination";
import { useMocks, type Recorder } from "../helpers/mocks";
import { collectUnhandledRejections, forgetLeakedPromises, rejection } from "../helpers/rejections";
import { importProgram, useDestinationConfig } from "../helpers/stack";
import { sourceOutput } from "../../components/restore/source";

let recorder: Recorder;
let outputs: { restored: pulumi.Output<unknown>; source: pulumi.Output<unknown> };

before(async () => {
  // A rejected output fails the program as `pulumi preview` sees it: a rejection nobody handles.
  collectUnhandledRejections();
  recorder = await useMocks({
    statefulSets: { "im-infra/database": 1, "production-stack/database": 1 },
    state: (type, name) => {
      // A backup stack that never ran `up` to the end: no backups, a count that is not one.
      if (type === "pulumi:pulumi:StackReference") {
        return { outputs: { originalReplicas: { "production-stack/stack": "three" } } };
      }
      if (type === "kubernetes:core/v1:Secret" && name.startsWith("preflight-secret-")) {
        return { data: { root_password: "eA==", database_admin_user_password: "eA==" } };
      }
      return {};
    },
  });
  useDestinationConfig();
  outputs = (await importProgram()) as typeof outputs;
});

after(forgetLeakedPromises);

describe("source stack outputs (program)", () => {
  it("no backups output = restored fails with one line naming the stack and the output; no Job", async () => {
    const message = await rejection(outputs.restored);
    assert.equal(
      message,
      `restore.source ${STACK}: the stack has no backups output; run \`pulumi up\` of the backup stack first, or set restore.source to the stack that ran it`,
    );
    assert.deepEqual(recorder.byType("kubernetes:batch/v1:Job"), []);
  });

  it("originalReplicas not counts = source fails with one line naming the output and the key", async () => {
    const message = await rejection(outputs.source);
    assert.ok(!message.includes("\n"), message);
    assert.match(
      message,
      new RegExp(
        `^restore\\.source ${STACK}: its originalReplicas output does not match the shared contract .*originalReplicas\\.production-stack/stack: `,
      ),
    );
  });
});

describe("sourceOutput", () => {
  const dump = {
    bucket: "im-fragalysis",
    key: "production-stack-db/backup-2026-12-07T00:00:00Z-dumpall.sql.gz",
    size: 1024,
    sha256: "a".repeat(64),
    sourceTime: "2026-12-07T00:00:00Z",
    capturedAt: "2026-12-07T00:00:00Z",
    rpoSeconds: 0,
  };

  it("a valid backups output = returned as parsed", () => {
    assert.deepEqual(sourceOutput(STACK, "backups", { "stack-db": dump }), { "stack-db": dump });
  });

  it("an entry breaking the contract = one line with every problem's path", () => {
    assert.throws(
      () => sourceOutput(STACK, "backups", { "stack-db": { ...dump, size: -1, sha256: "x" } }),
      (err: Error) => {
        assert.ok(!err.message.includes("\n"), err.message);
        assert.match(
          err.message,
          /^restore\.source organization\/fragalysis-relocation\/production: its backups output/,
        );
        assert.match(err.message, /backups\.stack-db/);
        return true;
      },
    );
  });

  it("no fingerprints output (an older backup program) = undefined, not an error", () => {
    assert.equal(sourceOutput(STACK, "fingerprints", undefined), undefined);
    assert.equal(sourceOutput(STACK, "fingerprints", null), undefined);
  });

  it("a fingerprints output breaking the contract = one line naming its path", () => {
    const fp = { at: "2026-12-07T00:03:00Z", databases: { frag: { tables: 1, rows: -1 } } };
    assert.throws(
      () => sourceOutput(STACK, "fingerprints", { "stack-db": fp }),
      /^Error: restore\.source .*: its fingerprints output does not match the shared contract .*fingerprints\.stack-db\.databases\.frag\.rows: /,
    );
  });

  it("null originalReplicas = the stack has no originalReplicas output", () => {
    assert.throws(
      () => sourceOutput(STACK, "originalReplicas", null),
      /has no originalReplicas output/,
    );
  });
});
