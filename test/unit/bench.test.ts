// The benchmark's pure parts: fixture sizes, the figures of a contender, the targets' maths and
// the JSON shape issue 14 asks for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseArgs } from "../../bench/run";
import {
  contender,
  targets,
  table,
  type BenchResult,
  type Ceiling,
  type CeilingPoint,
  type Downtime,
} from "../../bench/report";
import {
  KIB,
  MIB,
  PRODUCTION,
  PRODUCTION_MEAN_BYTES,
  normalQuantile,
  productionFiles,
  productionSizes,
  smallFileSizes,
} from "../../bench/sizes";

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test("normalQuantile matches known points of the standard normal", () => {
  assert.ok(Math.abs(normalQuantile(0.5)) < 1e-9);
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
  assert.ok(Math.abs(normalQuantile(0.001) + 3.090232) < 1e-5);
  assert.throws(() => normalQuantile(0), /0 < p < 1/);
});

test("the production-shaped fixture has production's mean and a long tail, at any scale", () => {
  for (const n of [135, 1350, 13500]) {
    const sizes = productionSizes(n);
    assert.equal(sizes.length, n);
    const mean = sum(sizes) / n;
    assert.ok(Math.abs(mean / PRODUCTION_MEAN_BYTES - 1) < 0.01, `mean ${mean} at n=${n}`);
    assert.ok(median(sizes) < mean / 2, "most files are well below the mean");
    assert.ok(Math.max(...sizes) > 10 * mean, "a tail of big files");
    assert.ok(Math.min(...sizes) >= KIB);
  }
  // 1% of production: 1% of its files and ~1% of its bytes.
  const n = productionFiles(0.01);
  assert.equal(n, PRODUCTION.files / 100);
  assert.ok(Math.abs(sum(productionSizes(n)) / (PRODUCTION.bytes / 100) - 1) < 0.01);
  assert.deepEqual(productionSizes(500), productionSizes(500), "deterministic");
  assert.throws(() => productionFiles(0), /--prod-fraction/);
});

test("the small-files fixture is 1-64 KiB", () => {
  const sizes = smallFileSizes(5000);
  assert.ok(sizes.every((s) => s >= KIB && s < 64 * KIB));
  assert.ok(Math.abs(sum(sizes) / sizes.length / (32.5 * KIB) - 1) < 0.03);
});

const m = (seconds: number) => ({
  seconds,
  cpuSeconds: 1,
  peakRssMiB: 50,
  serverCpuSeconds: seconds / 2,
});

test("a contender's rates come from the fixture's files and bytes over its seconds", () => {
  const c = contender("x", "small", 1000, 64 * MIB, m(4), 900);
  assert.equal(c.filesPerSecond, 250);
  assert.equal(c.mibPerSecond, 16);
  assert.equal(c.uploaded, 900);
  assert.equal(c.serverCpuPercent, 50);
});

const point = (objectBytes: number, putsPerSecond: number): CeilingPoint => ({
  objectBytes,
  inFlight: 32,
  connections: "pool",
  payload: "signed",
  processes: 1,
  objects: putsPerSecond * 3,
  seconds: 3,
  putsPerSecond,
  mibPerSecond: (putsPerSecond * objectBytes) / MIB,
  clientCpuSeconds: 0.5,
  serverCpuSeconds: 4,
  connectionsOpened: 32,
});
const best = { small: point(33000, 1000), large: point(64 * MIB, 200 / 64) };
const ceiling: Ceiling = {
  client: "go",
  putsPerSecond: 1000,
  smallObjectBytes: 33000,
  concurrency: 32,
  mibPerSecond: 200,
  largeObjectMiB: 64,
  largeConcurrency: 32,
  best,
  sweep: [point(33000, 900), best.small, best.large],
  loadAverage: { before: "1.00 1.00 1.00", after: "2.00 1.00 1.00" },
};
const down = (runbook: number, twoPhase: number): Downtime => ({
  fixture: "production",
  runbookSeconds: runbook,
  twoPhaseSeconds: twoPhase,
  preSyncSeconds: 1,
  changedFiles: 10,
  phases: {
    runbook: [{ name: "a", seconds: runbook }],
    twoPhase: [{ name: "b", seconds: twoPhase }],
  },
  database: [{ name: "stack", sizeMiB: 10, dumpMiB: 3 }],
});

test("targets: 3x the runbook, 70% of the ceiling, a tenth of the window, 5% re-run", () => {
  const rows = [
    contender("runbook: aws s3 cp", "small", 1000, MIB, m(10)), // 100 files/s
    contender("sync-dir.sh, rclone", "small", 1000, MIB, m(1.25)), // 800 files/s
    contender("sync-dir.sh, aws", "small", 1000, MIB, m(5)),
    contender("sync-dir.sh, rclone", "production", 10, MIB, m(0.01)), // other fixture: ignored
  ];
  const t = targets(rows, ceiling, down(100, 10), 0.05);
  const by = Object.fromEntries(t.map((x) => [x.name, x]));
  assert.equal(by["small-files throughput vs the runbook"]!.value, 8);
  assert.equal(by["small-files throughput vs the runbook"]!.met, true);
  assert.equal(by["small-files throughput vs the runbook"]!.from, "sync-dir.sh, rclone");
  assert.equal(by["small-files throughput vs the server's PUT ceiling"]!.value, 0.8);
  assert.equal(by["small-files throughput vs the server's PUT ceiling"]!.met, true);
  assert.equal(by["downtime window vs the runbook's"]!.value, 0.1);
  assert.equal(by["downtime window vs the runbook's"]!.met, true);
  assert.equal(by["re-run with nothing changed vs a full copy"]!.met, true);
  const slow = targets(
    rows.slice(0, 1).concat(contender("s", "small", 1000, MIB, m(5))),
    ceiling,
    down(100, 10.5),
    0.051,
  );
  assert.deepEqual(
    slow.map((x) => x.met),
    [false, false, false, false],
  );
  assert.throws(() => targets(rows.slice(1), ceiling, down(1, 1), 0), /no runbook/);
});

test("the result has the JSON shape issue 14 asks for, and the table shows every contender", () => {
  const rows = [
    contender("runbook: aws s3 cp", "small", 10, MIB, m(2)),
    contender("sync", "small", 10, MIB, m(1)),
  ];
  const r: BenchResult = {
    server: { name: "versitygw", version: "v1.8.0" },
    ceiling,
    fixtures: { small: { files: 10, bytes: MIB, meanBytes: MIB / 10 } },
    contenders: rows,
    rerun: { name: "sync, re-run", seconds: 0.1, fullSeconds: 1, fraction: 0.1 },
    downtime: down(20, 3),
    targets: targets(rows, ceiling, down(20, 3), 0.1),
    machine: { nproc: 2 },
    seconds: 5,
  };
  const j = JSON.parse(JSON.stringify(r));
  assert.deepEqual(Object.keys(j.server), ["name", "version"]);
  assert.equal(typeof j.ceiling.putsPerSecond, "number");
  assert.equal(typeof j.ceiling.mibPerSecond, "number");
  assert.ok(j.contenders.some((c: { name: string }) => c.name.includes("runbook")));
  for (const c of j.contenders) {
    for (const k of [
      "name",
      "files",
      "bytes",
      "seconds",
      "filesPerSecond",
      "mibPerSecond",
      "cpuSeconds",
      "peakRssMiB",
    ])
      assert.equal(typeof c[k] === "number" || typeof c[k] === "string", true, k);
  }
  for (const k of ["runbookSeconds", "twoPhaseSeconds"])
    assert.equal(typeof j.downtime[k], "number");
  assert.ok(Array.isArray(j.downtime.phases.twoPhase));
  const text = table(r);
  assert.match(text, /\| small \| sync \| 10 \| 1\.0 \| 1\.0 \| 10\.0 \| 1\.0 \| 2\.00x \|/);
  assert.match(text, /\| two-phase \| \*\*window\*\* \| \*\*3\.0\*\* \|/);
  assert.equal(j.ceiling.sweep.length, 3, "the whole sweep is in the JSON");
  assert.match(
    text,
    /Ceiling \(go; best of 3 points, load 1\.00 1\.00 1\.00 -> 2\.00 1\.00 1\.00\): 1000\.0 PUT\/s/,
  );
  // the sweep's rows, the best of each size in bold
  assert.match(text, /\| 1 \| 32\.2 \| 32 \| pool \| signed \| 1 \| 3\.0 \| 900\.0 \|/);
  assert.match(
    text,
    /\| \*\*2\*\* \| 32\.2 \| 32 \| pool \| signed \| 1 \| 3\.0 \| \*\*1000\.0\*\* \|/,
  );
  assert.match(text, /\| \*\*3\*\* \| 65536\.0 \| .* \| \*\*200\.0\*\* \|/);
});

test("bench options: defaults, validation with the option's name", () => {
  const o = parseArgs([]);
  assert.equal(o.server, "versitygw");
  assert.equal(o.smallFiles, 20000);
  assert.equal(parseArgs(["--server", "moto"]).server, "moto");
  assert.throws(() => parseArgs(["--server", "minio"]), /--server must be versitygw or moto/);
  assert.deepEqual(parseArgs(["--sync-env", "CONCURRENCY=64,X_Y=a=b"]).syncEnv, {
    CONCURRENCY: "64",
    X_Y: "a=b",
  });
  assert.throws(() => parseArgs(["--sync-env", "bad"]), /--sync-env/);
  assert.throws(() => parseArgs(["--prod-fraction", "2"]), /--prod-fraction/);
  assert.throws(() => parseArgs(["--only", "aws"]), /--only/);
  assert.equal(o.ceilingSeconds, 3);
  assert.equal(parseArgs(["--ceiling-seconds", "1.5"]).ceilingSeconds, 1.5);
  assert.throws(() => parseArgs(["--ceiling-seconds", "0.1"]), /--ceiling-seconds/);
});
