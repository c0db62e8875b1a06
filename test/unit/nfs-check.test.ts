// The NFS connectivity check in the whole program (index.ts, mocks, production stack file): one
// remote Command, pinned like the copies, that every ssh copy and every quiesce waits for, so a
// wrong key or a missing aws CLI fails once, before production is scaled down.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { shellQuote } from "../../components/nfs-to-s3-copy";
import { script } from "../../components/scripts";
import { useProductionMocks } from "../helpers/refresh-mocks";
import { settle, type Recorder } from "../helpers/mocks";
import { useStackConfig } from "../helpers/stack";

let rec: Recorder;

before(async () => {
  rec = await useProductionMocks();
  useStackConfig("production", {
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----",
    nfs: JSON.stringify({
      host: "192.168.253.39",
      user: "root",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleHostKey",
    }),
  });
  await import("../../index");
  await settle();
});

describe("NFS connectivity check", () => {
  it("one check Command running scripts/nfs-check.sh with the pinned host key", () => {
    const checks = rec
      .byType("command:remote:Command")
      .filter((r) => r.name.startsWith("nfs-check"));
    assert.deepEqual(
      checks.map((r) => r.name),
      ["nfs-check-ssh"],
    );
    const check = checks[0]!;
    assert.equal(
      check.inputs.create,
      `bash -c ${shellQuote(script("nfs-check.sh").text)} nfs-check`,
    );
    const conn = check.inputs.connection as Record<string, unknown>;
    const value = (conn.value ?? conn) as Record<string, unknown>;
    assert.equal(value.hostKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleHostKey");
  });

  it("every ssh copy (pre-sync and final) and every quiesce = waits for the check", () => {
    const check = rec.named("nfs-check-ssh");
    const copies = rec.byType("command:remote:Command").filter((r) => r.name.endsWith("-ssh-copy"));
    assert.equal(copies.length, 4, copies.map((c) => c.name).join(", ")); // 3 final + 1 pre-sync
    const quiesces = rec.byType("command:local:Command").filter((r) => r.name.endsWith("-scale"));
    assert.equal(quiesces.length, 2);
    for (const r of [...copies, ...quiesces]) {
      assert.ok(rec.waitsFor(r, check), `${r.name} does not wait for the NFS check`);
    }
  });
});
