// The program with every refresh switched off (maxRpoSeconds instead): nothing of the refresh is
// read or created, each dump copy is bounded by its window, and the loss window is reported.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { readStackSettings, stackFilePath } from "../../components/stack-file";
import { useMocks, valueOf, type Recorder, type Registered } from "../helpers/mocks";
import { productionStdout } from "../helpers/refresh-mocks";
import { type BackupOutputs, importBackupStack, useStackConfig } from "../helpers/stack";

let recorder: Recorder;
let stack: BackupOutputs;

before(async () => {
  // The hourly dump from 09:07:01, 53 min before the quiesce at 10:00:00.
  recorder = await useMocks({
    statefulSets: { "production-stack/stack": 3, "im-infra/keycloak": 1 },
    commandStdout: (name, inputs) =>
      productionStdout(name, inputs).replaceAll("2026-11-25T10:00:07Z", "2026-11-25T09:07:01Z"),
  });
  const backups = JSON.parse(readStackSettings(stackFilePath("production")).backups!) as Array<
    Record<string, unknown>
  >;
  const off = backups.map(({ refresh: _, ...b }) => ({ ...b, maxRpoSeconds: 7200 }));
  useStackConfig("production", {
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----",
    backups: JSON.stringify(off),
  });
  stack = await importBackupStack();
  await valueOf(stack.backups);
});

/** The settings lines of a Command's stdin (the scripts framed after them cut off). */
const stdinOf = (r: Registered) => {
  const v = r.inputs.stdin as unknown;
  const text = typeof v === "string" ? v : String((v as { value?: unknown })?.value ?? "");
  return text.split(/^#file /m)[0]!;
};

describe("refresh switched off", () => {
  it("= no CronJob, PVC or PV read, no refresh Command or Job", () => {
    const reads = recorder.resources.filter((r) => r.readId !== undefined);
    assert.ok(reads.every((r) => r.type === "kubernetes:apps/v1:StatefulSet"));
    assert.deepEqual(
      recorder.resources.filter((r) => r.name.startsWith("refresh-")).map((r) => r.name),
      [],
    );
    assert.equal(recorder.byType("relocation:refresh:BackupRefresh").length, 0);
  });

  it("dump copy = NOT_BEFORE quiesce minus maxRpoSeconds, the config's minimum age", () => {
    const stdin = stdinOf(recorder.named("backup-stack-db-ssh-copy"));
    assert.match(stdin, /^NOT_BEFORE=2026-11-25T08:00:00Z$/m);
    assert.match(stdin, /^MIN_AGE_SECONDS=120$/m);
  });

  it("media = the replica (sourceDir), in both phases; only the final one bounded by the window", () => {
    for (const name of ["presync-stack-media-ssh-copy", "backup-stack-media-ssh-copy"]) {
      assert.match(stdinOf(recorder.named(name)), /^SOURCE_DIR=\/nfs\/kubernetes-media-replica$/m);
    }
    assert.match(
      stdinOf(recorder.named("backup-stack-media-ssh-copy")),
      /^NOT_BEFORE=2026-11-25T08:00:00Z$/m,
    );
    assert.doesNotMatch(stdinOf(recorder.named("presync-stack-media-ssh-copy")), /NOT_BEFORE/);
  });

  it("rpo = seconds since each dump's time; unknown (null) for the replica", async () => {
    assert.deepEqual(await valueOf(stack.rpo), {
      "keycloak-db": 3179,
      "stack-db": 3179,
      "stack-media": null,
    });
    assert.deepEqual(await valueOf(stack.refreshJobs), {});
  });
});
