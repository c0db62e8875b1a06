// bench/reproject.ts on the saved result of a real bench run (test/fixtures/bench/, the run in
// bench/README.md "Last run"): the projection again from its measured phases, by hand below.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseDumpMiB } from "../../bench/projection";
import { readResult, reproject } from "../../bench/reproject";
import { tempDir } from "../helpers/servers";

const SAVED = path.join(__dirname, "..", "fixtures", "bench", "run-2026-12-07.json");

const close = (actual: number, expected: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) < 1e-9 * Math.max(1, expected),
    `${what}: ${actual} != ${expected}`,
  );

const nearly = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-6 * expected, `${what}: ${actual} != ${expected}`);

test("the saved run re-projected: the final sync pays what it lost beside the dumps once", () => {
  const saved = readResult(SAVED);
  const again = reproject(saved);
  const sync = (r: typeof saved) =>
    r.downtime.projection.phases.find((p) => p.kind === "final-sync")!;
  const old = sync(saved);
  // The saved run multiplied the whole production sync by the scale it had beside the dumps.
  const model = old.seconds / old.scale;
  const lost = old.measuredSeconds - old.measuredSeconds / old.scale;
  // The dump lanes keep their measured size: stretched x 1 (to ~1e-7: they are projected at
  // the runbook's dumps' sizes, a few bytes off the two-phase's own fresh dumps).
  nearly(sync(again).seconds, model + lost, "final sync");
  assert.ok(sync(again).seconds < old.seconds / 4, `${sync(again).seconds} vs ${old.seconds}`);
  // Every other phase and the runbook's window as saved.
  for (const p of again.downtime.projection.phases.filter((x) => x.kind !== "final-sync")) {
    const before = saved.downtime.projection.phases.find(
      (x) => x.sequence === p.sequence && x.name === p.name,
    )!;
    close(p.seconds, before.seconds, p.name);
  }
  close(
    again.downtime.projection.runbookSeconds,
    saved.downtime.projection.runbookSeconds,
    "runbook",
  );
  const lanes = new Map<string, number>();
  for (const p of again.downtime.projection.phases.filter((x) => x.sequence === "two-phase"))
    lanes.set(p.db, (lanes.get(p.db) ?? 0) + p.seconds);
  close(again.downtime.projection.twoPhaseSeconds, Math.max(...lanes.values()), "slowest lane");
  const downtimeTarget = again.targets.find((t) => t.name.startsWith("downtime"))!;
  close(downtimeTarget.value, again.downtime.projection.ratio, "the target is the new ratio");
  assert.equal(downtimeTarget.met, again.downtime.projection.ratio <= 0.1);
  // The measured figures are untouched.
  assert.deepEqual(again.contenders, saved.contenders);
  assert.deepEqual(again.ceiling, saved.ceiling);
});

test("re-projected with larger dumps: their lanes grow with them, and so does the loss", () => {
  const saved = readResult(SAVED);
  const measured = saved.downtime.database.find((d) => d.name === "keycloak")!.dumpMiB;
  const r = reproject(saved, { keycloak: 2 * measured });
  const phases = r.downtime.projection.phases.filter((p) => p.sequence === "two-phase");
  // keycloak's lane (dump, copy: each per MiB) doubles; stack's stays: the longest other lane
  // is 2x its measured length.
  const keycloak = phases.filter((p) => p.db === "keycloak");
  for (const p of keycloak) close(p.seconds, 2 * p.measuredSeconds, p.name);
  const sync = phases.find((p) => p.kind === "final-sync")!;
  const old = saved.downtime.projection.phases.find((p) => p.kind === "final-sync")!;
  const lost = old.measuredSeconds - old.measuredSeconds / old.scale;
  nearly(sync.seconds, old.seconds / old.scale + 2 * lost, "final sync");
  assert.match(sync.model, /x 2\.00 \(the other lanes' projected \/ measured length\)/);
});

test("a saved file with npm's header lines is read; a bad dump size is named", () => {
  const file = path.join(tempDir("reproject-"), "bench.json");
  writeFileSync(
    file,
    `\n> fragalysis-relocation@0.1.0 bench\n> node bench/run.ts --json\n\n${readFileSync(SAVED, "utf8")}`,
  );
  assert.equal(readResult(file).contenders.length, readResult(SAVED).contenders.length);
  writeFileSync(file, "no json here\n");
  assert.throws(() => readResult(file), /holds no JSON line/);
  assert.deepEqual(parseDumpMiB("keycloak=12.5,stack=800"), { keycloak: 12.5, stack: 800 });
  assert.throws(
    () => parseDumpMiB("stack=big"),
    /--prod-dump-mib wants keycloak=MiB,stack=MiB \(gzip sizes\), got 'stack=big'/,
  );
});
