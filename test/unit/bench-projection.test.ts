// The downtime projection (bench/projection.ts) on hand-made phase figures: every expected
// second below is worked out by hand in the comments, not by the code under test.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  fitFilesAndBytes,
  fitScan,
  project,
  type DowntimeRun,
  type Phase,
  type Run,
  type Target,
} from "../../bench/projection";
import { projectionLines } from "../../bench/report";
import { MIB } from "../../bench/sizes";

const close = (actual: number, expected: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) < 1e-9 * Math.max(1, expected),
    `${what}: ${actual} != ${expected}`,
  );

const run = (name: string, fixture: string, files: number, mib: number, seconds: number): Run => ({
  name,
  fixture,
  files,
  bytes: mib * MIB,
  seconds,
});

// Fixtures: small = 1000 files / 10 MiB, production = 100 files / 200 MiB.
// runbook: 0.01 s/file + 0.05 s/MiB -> small 10 + 0.5 = 10.5 s, production 1 + 10 = 11 s.
// tool full copy: 0.002 s/file + 0.01 s/MiB -> small 2 + 0.1 = 2.1 s, production 0.2 + 2 = 2.2 s.
// tool re-run: 1 s + 0.001 s/file -> small 2 s, production 1.1 s.
const TOOL = "sync-dir.sh, rclone";
const runs: Run[] = [
  run("runbook: aws s3 cp", "small", 1000, 10, 10.5),
  run("runbook: aws s3 cp", "production", 100, 200, 11),
  run(TOOL, "small", 1000, 10, 2.1),
  run(TOOL, "production", 100, 200, 2.2),
  run(`${TOOL}, re-run`, "small", 1000, 10, 2),
  run(`${TOOL}, re-run`, "production", 100, 200, 1.1),
  // another tool's re-run: not the two-phase's, so not used for its scan
  run("sync-dir.sh, aws, re-run", "production", 100, 200, 50),
];

const phase = (
  name: string,
  seconds: number,
  kind: Phase["kind"],
  db: string,
  files: number,
  mib: number,
  treeFiles = 0,
): Phase => ({ name, seconds, kind, db, files, bytes: mib * MIB, treeFiles });

const down: DowntimeRun = {
  fixture: "production",
  fixtureFiles: 100,
  fixtureBytes: 200 * MIB,
  changedFiles: 10, // 10% of the files
  changedBytes: 30 * MIB, // 15% of the bytes
  tool: TOOL,
  phases: {
    runbook: [
      phase("pg_dumpall, gzip keycloak", 10, "dump", "keycloak", 1, 20), // 0.5 s/MiB
      phase("pg_dumpall, gzip stack", 10, "dump", "stack", 1, 20),
      phase("aws s3 cp --recursive media", 22, "tree-copy", "", 100, 200, 100), // 2 x the fit's 11 s
      phase("aws s3 cp keycloak dump", 2, "dump-copy", "keycloak", 1, 20), // 0.1 s/MiB
      phase("aws s3 cp stack dump", 2, "dump-copy", "stack", 1, 20),
    ],
    twoPhase: [
      // scan 1 + 0.001 x 100 = 1.1 s, send 0.002 x 10 + 0.01 x 30 = 0.32 s: 1.42 s; measured 2 x
      phase("final media sync", 2.84, "final-sync", "", 10, 30, 100),
      phase("pg_dumpall, gzip keycloak", 20, "dump", "keycloak", 1, 20), // 1 s/MiB
      phase("copy-latest.sh keycloak dump", 5, "dump-copy", "keycloak", 1, 20), // 0.25 s/MiB
      phase("pg_dumpall, gzip stack", 20, "dump", "stack", 1, 20),
      phase("copy-latest.sh stack dump", 5, "dump-copy", "stack", 1, 20),
    ],
  },
};

// Production here: 10,000 files / 20,000 MiB; keycloak's dump 200 MiB, stack's not given.
const target: Target = {
  files: 10000,
  bytes: 20000 * MIB,
  dumpBytes: { keycloak: 200 * MIB },
  dumpSource: "kept as measured",
};

test("fits: per file and per MiB through two full copies, fixed and per file through two re-runs", () => {
  const f = fitFilesAndBytes(runs[0]!, runs[1]!)!;
  close(f.perFileSeconds, 0.01, "runbook per file");
  close(f.perMiBSeconds, 0.05, "runbook per MiB");
  assert.equal(f.fixedSeconds, 0);
  const s = fitScan([runs[5]!, runs[4]!]);
  close(s.fixedSeconds, 1, "scan fixed");
  close(s.perFileSeconds, 0.001, "scan per file");
  // the same shape twice separates nothing; a negative part is noise, not a cost
  assert.equal(fitFilesAndBytes(runs[0]!, run("x", "other", 2000, 20, 21)), undefined);
  assert.equal(
    fitFilesAndBytes(run("a", "s", 1000, 10, 20), run("b", "p", 100, 200, 1)),
    undefined,
  );
  // one re-run, or a slower small tree: all of it per file of the larger
  close(fitScan([runs[4]!]).perFileSeconds, 0.002, "one re-run");
  const bigFaster = fitScan([run("r", "s", 100, 1, 3), run("r", "p", 1000, 1, 2)]);
  assert.equal(bigFaster.fixedSeconds, 0);
  assert.match(
    bigFaster.how,
    /slope came out negative: fixed costs dominate at these sizes; an upper bound/,
  );
  close(bigFaster.perFileSeconds, 0.002, "negative slope");
});

test("projection = the measured phases' models at production's figures, by hand", () => {
  const p = project(down, runs, target);
  const by = (seq: string, name: string) =>
    p.phases.find((x) => x.sequence === seq && x.name === name)!;
  // runbook: dumps 0.5 s/MiB: keycloak 200 MiB -> 100 s; stack kept at 20 MiB -> 10 s
  close(by("runbook", "pg_dumpall, gzip keycloak").seconds, 100, "runbook keycloak dump");
  close(by("runbook", "pg_dumpall, gzip stack").seconds, 10, "runbook stack dump");
  // media: (0.01 x 10,000 + 0.05 x 20,000 = 1,100 s) x 2 = 2,200 s
  const media = by("runbook", "aws s3 cp --recursive media");
  close(media.scale, 2, "media scale");
  close(media.seconds, 2200, "runbook media");
  // dump copies 0.1 s/MiB: 20 s and 2 s
  close(by("runbook", "aws s3 cp keycloak dump").seconds, 20, "runbook keycloak copy");
  close(by("runbook", "aws s3 cp stack dump").seconds, 2, "runbook stack copy");
  // 100 + 10 + 2,200 + 20 + 2
  close(p.runbookSeconds, 2332, "runbook window");
  // final sync: change = 10% of 10,000 files, 15% of 20,000 MiB = 1,000 files, 3,000 MiB;
  // scan 1 + 0.001 x 10,000 = 11 s; send 0.002 x 1,000 + 0.01 x 3,000 = 32 s: model 43 s.
  // Measured 2.84 s against a model of 1.42 s: 1.42 s lost sharing the cores with the dump
  // lanes (25 s measured each; projected keycloak 250 s, stack 25 s: the longest, 10x longer).
  // 43 + 1.42 x 10 = 57.2 s, below 43 x 2 = 86 s (the loss held for the whole sync)
  const sync = by("two-phase", "final media sync");
  close(sync.scale, 2, "final sync scale");
  close(sync.seconds, 57.2, "final sync");
  assert.match(
    sync.model,
    /shared the cores: 1\.4 s lost at the fixture x 10\.00 .* not x 2\.00 \(86\.0 s\)/,
  );
  assert.deepEqual(p.assumptions.change.files, 1000);
  assert.deepEqual(p.assumptions.change.bytes, 3000 * MIB);
  // lanes: keycloak 1 s/MiB x 200 + 0.25 s/MiB x 200 = 250 s; stack 20 + 5 = 25 s; media 86 s
  close(by("two-phase", "pg_dumpall, gzip keycloak").seconds, 200, "two-phase keycloak dump");
  close(by("two-phase", "copy-latest.sh keycloak dump").seconds, 50, "keycloak copy-latest");
  close(p.twoPhaseSeconds, 250, "two-phase window: the slowest lane");
  close(p.ratio, 250 / 2332, "ratio");
  assert.deepEqual(
    p.assumptions.dumps.map((d) => [d.name, d.bytes / MIB, d.measuredBytes / MIB]),
    [
      ["keycloak", 200, 20],
      ["stack", 20, 20],
    ],
  );
  assert.equal(p.assumptions.dumps[1]!.source, "kept as measured");
  assert.equal(p.assumptions.media.files, 10000);
  assert.match(sync.model, /fitted through sync-dir\.sh, rclone, re-run of production and small/);
  // the table carries every phase and both windows, a "|" in a model escaped
  assert.match(
    projectionLines({ ...p, phases: [{ ...media, model: "a | b" }] }).join("\n"),
    /\| 2200\.0 \| a \\\| b \|$/m,
  );
  const lines = projectionLines(p).join("\n");
  assert.match(
    lines,
    /\| runbook \| aws s3 cp --recursive media \| 22\.0 \| 100 \/ 200\.0 \| 10000 \/ 20000\.0 \| 2\.00 \| 2200\.0 \|/,
  );
  assert.match(
    lines,
    /\| two-phase \| \*\*window\*\* \| \| \| \| \| \*\*250\.0\*\* \| slowest lane: ratio 0\.107 \|/,
  );
});

test("a two-phase phase that shared the cores: never more than its scaled model", () => {
  // keycloak's dump 1000x the measured 20 MiB: its lane 1.25 s/MiB x 20,000 = 25,000 s, 1,000x
  // its measured 25 s; 43 + 1.42 x 1,000 = 1,463 s > 43 x 2 = 86 s: the scaled model stands
  const big = project(down, runs, { ...target, dumpBytes: { keycloak: 20000 * MIB } });
  const sync = big.phases.find((x) => x.kind === "final-sync")!;
  close(sync.seconds, 86, "final sync, loss held for all of it");
  assert.doesNotMatch(sync.model, /shared the cores/);
  // a phase faster than its model (scale <= 1) is scaled as it is
  const fast = {
    ...down,
    phases: {
      ...down.phases,
      twoPhase: down.phases.twoPhase.map((x) =>
        x.kind === "final-sync" ? { ...x, seconds: 0.71 } : x,
      ),
    },
  };
  close(
    project(fast, runs, target).phases.find((x) => x.kind === "final-sync")!.seconds,
    21.5,
    "half the model",
  );
});

test("projection without the fits it needs = per MiB of the phase itself, said in the model", () => {
  // no runbook copy of the small fixture, no re-run, no full copy of the tool on the small one
  const only = runs.filter((r) => r.fixture === "production" && !r.name.endsWith("re-run"));
  const p = project(down, only, target);
  const media = p.phases.find((x) => x.kind === "tree-copy")!;
  // 22 s for 200 MiB = 0.11 s/MiB x 20,000 MiB = 2,200 s (the same here by construction)
  close(media.seconds, 2200, "media per MiB");
  assert.match(
    media.model,
    /ms\/MiB of this phase \(no full copies of both fixtures by the runbook\)/,
  );
  // final sync: the scan all per tree file (no re-run): 2.84 s / 100 files
  const sync = p.phases.find((x) => x.kind === "final-sync")!;
  close(sync.seconds, 284, "final sync per tree file");
  assert.match(sync.model, /no re-run measured/);
  close(p.twoPhaseSeconds, 284, "the media lane is now the slowest");
  // the send priced by the tool's full copy of production, 2.2 s / 200 MiB = 11 ms/MiB:
  // model at the fixture 2.84 + 0.011 x 30 = 3.17 s, at production 284 + 0.011 x 3,000 = 317 s,
  // scaled by 2.84 / 3.17: 284 s
  assert.match(
    sync.model,
    /sending 11\.000 ms\/MiB of its full copy of production \(no full copies of both/,
  );
  // a small copy slower than the fixed-cost-free fit allows: the reason is the negative part
  const slowSmall = [run("runbook: aws s3 cp", "small", 1000, 10, 200), ...only];
  const m2 = project(down, slowSmall, target).phases.find((x) => x.kind === "tree-copy")!;
  close(m2.seconds, 2200, "media per MiB, fit refused");
  assert.match(m2.model, /has a negative part: fixed costs dominate at these sizes/);
});
