// The benchmark's pure parts: fixture sizes, the figures of a contender, issue 20's targets and
// the JSON shape.
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
  type Phase,
} from "../../bench/report";
import type { Projection } from "../../bench/projection";
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
const projection = (ratio: number): Projection => ({
  assumptions: {
    media: { files: 135000, bytes: 240 * 1024 * MIB, source: "notes" },
    dumps: [{ name: "stack", bytes: 3 * MIB, measuredBytes: 3 * MIB, source: "as measured" }],
    change: { files: 1350, bytes: 2.4 * 1024 * MIB, source: "the fixture's 1%" },
    method: "m",
  },
  phases: [],
  runbookSeconds: 1000,
  twoPhaseSeconds: 1000 * ratio,
  ratio,
});
const phase = (name: string, seconds: number): Phase => ({
  name,
  seconds,
  kind: "dump",
  db: "stack",
  files: 1,
  bytes: 3 * MIB,
  treeFiles: 0,
});
const down = (runbook: number, twoPhase: number, ratio = 0.1, syncsVerified = true): Downtime => ({
  fixture: "production",
  fixtureFiles: 10,
  fixtureBytes: 120 * MIB,
  tool: "sync-dir.sh, rclone",
  runbookSeconds: runbook,
  twoPhaseSeconds: twoPhase,
  preSyncSeconds: 1,
  syncsVerified,
  changedFiles: 1,
  changedBytes: 12 * MIB,
  phases: { runbook: [phase("a", runbook)], twoPhase: [phase("b", twoPhase)] },
  database: [{ name: "stack", sizeMiB: 10, dumpMiB: 3 }],
  projection: projection(ratio),
});

/**
 * A run whose figures sit exactly at issue 20's goals (ceiling: 1000 PUT/s, 200 MiB/s):
 * small 700 files/s = 0.70; production 120 MiB/s = 1.5 x the runbook's 80 and 0.60 of 200;
 * re-runs 0.05 s of 1 s on both fixtures.
 */
const atGoal = (o: {
  small?: number;
  prodMiB?: number;
  rerunSmall?: number;
  rerunProd?: number;
}) => [
  contender("runbook: aws s3 cp", "small", 700, 7 * MIB, m(10)),
  contender("sync-dir.sh, rclone", "small", o.small ?? 700, 7 * MIB, m(1), undefined, true),
  contender("sync-dir.sh, aws", "small", 700, 7 * MIB, m(5), undefined, true),
  contender("runbook: aws s3 cp", "production", 10, 120 * MIB, m(1.5)),
  contender("sync-dir.sh, rclone", "production", 10, (o.prodMiB ?? 120) * MIB, m(1), 10, true),
  contender("sync-dir.sh, rclone, re-run", "small", 700, 7 * MIB, m(o.rerunSmall ?? 0.05), 0, true),
  contender(
    "sync-dir.sh, rclone, re-run",
    "production",
    10,
    120 * MIB,
    m(o.rerunProd ?? 0.05),
    0,
    true,
  ),
];
const NAMES = [
  "small files vs the ceiling's PUT/s",
  "production-shaped MiB/s vs the runbook's",
  "production-shaped MiB/s vs the ceiling's",
  "no-change re-run vs the full copy, small fixture",
  "no-change re-run vs the full copy, production fixture",
  "downtime window vs the runbook's, projected to production",
  "content verification on in every sync-dir.sh figure",
];

test("targets: issue 20's list, each met exactly at its goal", () => {
  const t = targets(atGoal({}), ceiling, down(100, 50));
  assert.deepEqual(
    t.map((x) => x.name),
    NAMES,
  );
  assert.deepEqual(
    t.map((x) => x.value),
    [0.7, 1.5, 0.6, 0.05, 0.05, 0.1, 1],
  );
  assert.deepEqual(
    t.map((x) => x.met),
    [true, true, true, true, true, true, true],
  );
  assert.equal(t[0]!.from, "sync-dir.sh, rclone");
  assert.equal(t[1]!.from, "sync-dir.sh, rclone");
  assert.match(t[3]!.from, /sync-dir\.sh, rclone, re-run: 0\.1 s of 1\.0 s/);
  // the downtime target is the projection's ratio; the measured window stands beside it
  assert.equal(t[5]!.measured, 0.5);
  assert.match(
    t[5]!.from,
    /135000 files \/ 240\.0 GiB; measured at the production fixture: 0\.500/,
  );
  assert.equal(t[6]!.from, "6 of 6 (full copies, re-runs, the downtime's syncs)");
});

test("targets: each just past its goal = not met, the others unchanged", () => {
  const cases: Array<{ name: string; run: () => ReturnType<typeof targets>; miss: number[] }> = [
    {
      name: "small 699 files/s",
      run: () => targets(atGoal({ small: 699 }), ceiling, down(100, 50)),
      miss: [0],
    },
    // 119 MiB/s: 1.4875 x the runbook and 0.595 of the ceiling
    {
      name: "production 119 MiB/s",
      run: () => targets(atGoal({ prodMiB: 119 }), ceiling, down(100, 50)),
      miss: [1, 2],
    },
    // 130 MiB/s against a 240 MiB/s ceiling: 1.625 x the runbook but 0.54 of the ceiling
    {
      name: "production 130 MiB/s, ceiling 240",
      run: () =>
        targets(atGoal({ prodMiB: 130 }), { ...ceiling, mibPerSecond: 240 }, down(100, 50)),
      miss: [2],
    },
    {
      name: "small re-run 0.051",
      run: () => targets(atGoal({ rerunSmall: 0.051 }), ceiling, down(100, 50)),
      miss: [3],
    },
    {
      name: "production re-run 0.051",
      run: () => targets(atGoal({ rerunProd: 0.051 }), ceiling, down(100, 50)),
      miss: [4],
    },
    // measured 0.05 (met if it counted) but projected 0.1001
    {
      name: "projected 0.1001",
      run: () => targets(atGoal({}), ceiling, down(100, 5, 0.1001)),
      miss: [5],
    },
    {
      name: "the downtime's syncs unverified",
      run: () => targets(atGoal({}), ceiling, down(100, 50, 0.1, false)),
      miss: [6],
    },
  ];
  for (const c of cases) {
    const met = c.run().map((x) => x.met);
    assert.deepEqual(
      met,
      NAMES.map((_, i) => !c.miss.includes(i)),
      c.name,
    );
  }
  const unverified = atGoal({});
  unverified[2] = { ...unverified[2]!, verified: false };
  const v = targets(unverified, ceiling, down(100, 50))[6]!;
  assert.equal(v.value, 5 / 6);
  assert.equal(v.met, false);
  const noProdRunbook = atGoal({}).filter(
    (c) => !(c.fixture === "production" && c.name.includes("runbook")),
  );
  assert.throws(
    () => targets(noProdRunbook, ceiling, down(1, 1)),
    /no runbook contender for fixture production/,
  );
  assert.throws(
    () => targets(atGoal({}).slice(0, 6), ceiling, down(1, 1)),
    /no re-run on fixture production/,
  );
});

test("the result has the JSON shape issue 20 asks for, and the table shows every contender", () => {
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
    targets: targets(
      [
        ...rows,
        contender("runbook: aws s3 cp", "production", 10, MIB, m(2)),
        contender("sync", "production", 10, MIB, m(1), 10, true),
        contender("sync, re-run", "small", 10, MIB, m(0.1), 0, true),
        contender("sync, re-run", "production", 10, MIB, m(0.1), 0, true),
      ],
      ceiling,
      down(20, 3),
    ),
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
  for (const k of ["assumptions", "phases", "runbookSeconds", "twoPhaseSeconds", "ratio"])
    assert.ok(k in j.downtime.projection, `downtime.projection.${k}`);
  assert.equal(j.targets.length, 7);
  for (const t of j.targets)
    assert.deepEqual(
      ["name", "value", "goal", "met", "from"].filter((k) => !(k in t)),
      [],
      t.name,
    );
  const text = table(r);
  assert.match(text, /\| small \| sync \| 10 \| 1\.0 \| 1\.0 \| 10\.0 \| 1\.0 \| 2\.00x \|/);
  assert.match(text, /\| two-phase \| \*\*window\*\* \| \*\*3\.0\*\* \|/);
  assert.match(text, /Downtime projected to production \(135000 files, 240\.0 GiB of media;/);
  assert.match(text, /Issue 14's small-files ratio: 2\.00x the runbook \(sync\)/);
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
  assert.deepEqual(o.prodDumpMiB, {}, "the projection keeps the measured dumps unless told");
  assert.deepEqual(parseArgs(["--prod-dump-mib", "keycloak=50,stack=2048.5"]).prodDumpMiB, {
    keycloak: 50,
    stack: 2048.5,
  });
  for (const bad of ["stack", "stack=-1", "django=5", "stack=5MiB"])
    assert.throws(
      () => parseArgs(["--prod-dump-mib", bad]),
      /--prod-dump-mib wants keycloak=MiB,stack=MiB \(gzip sizes\), got/,
      bad,
    );
});
