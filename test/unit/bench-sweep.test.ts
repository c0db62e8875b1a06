// The ceiling's sweep rules (bench/sweep.ts): when it stops, which point is the ceiling, and how
// two client processes make one point.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  best,
  ceilingOf,
  combine,
  stoppedRising,
  sweep,
  SWEEP_RULE,
  type CeilingRun,
} from "../../bench/sweep";
import { MIB } from "../../bench/sizes";

test("stoppedRising: table of rates = outcome (rise 5%, patience 2)", () => {
  const cases: [number[], boolean, string][] = [
    [[], false, "nothing measured"],
    [[100, 90], false, "fewer points than the patience after the first"],
    [[100, 200, 300], false, "still rising"],
    [[100, 200, 205, 209], true, "two points within 5% of the best before them"],
    [[100, 200, 190, 180], true, "two points below the best"],
    [[100, 200, 190, 260], false, "a dip, then a rise: not stopped"],
    [[100, 200, 211, 200], false, "+5.5% is a rise"],
    [[100, 200, 210, 220], false, "a slow climb: 220 is +4.8% of 210 but +10% of 200"],
    [[100, 200, 190, 209], true, "+4.5% over the best before the window"],
    [[300, 100, 100], true, "the first point is the best"],
  ];
  for (const [rates, want, why] of cases) assert.equal(stoppedRising(rates), want, why);
  assert.equal(stoppedRising([100, 200, 190], { rise: 0.05, patience: 1 }), true, "patience 1");
  assert.deepEqual(SWEEP_RULE, { rise: 0.05, patience: 2 });
});

test("sweep measures levels in order and stops once the rate stops rising", async () => {
  const run = async (rates: Record<number, number>) => {
    const measured: number[] = [];
    const points = await sweep(
      [16, 32, 64, 128, 256],
      async (level) => {
        measured.push(level);
        return { level, rate: rates[level]! };
      },
      (p) => p.rate,
    );
    assert.deepEqual(
      points.map((p) => p.level),
      measured,
      "every measured point is returned",
    );
    return { measured, best: best(points, (p) => p.rate).level };
  };
  // rises to 64, flat at 128 and 256: both measured (patience 2), 64 is the best
  assert.deepEqual(await run({ 16: 900, 32: 1500, 64: 2100, 128: 2050, 256: 2000 }), {
    measured: [16, 32, 64, 128, 256],
    best: 64,
  });
  // flat from 32 (within 5%): 256 is not measured; the best is still the highest measured
  assert.deepEqual(await run({ 16: 900, 32: 2000, 64: 1990, 128: 2080, 256: 9999 }), {
    measured: [16, 32, 64, 128],
    best: 128,
  });
  // a dip at 64 does not stop it: 128 rises again
  assert.deepEqual(await run({ 16: 900, 32: 1500, 64: 1400, 128: 2200, 256: 2100 }), {
    measured: [16, 32, 64, 128, 256],
    best: 128,
  });
});

test("best: the highest rate, the first of equals; none is an error", () => {
  const ps = [{ r: 1 }, { r: 3 }, { r: 3 }, { r: 2 }];
  assert.equal(
    best(ps, (p) => p.r),
    ps[1],
  );
  assert.throws(() => best([], () => 0), /no ceiling point/);
});

const runOf = (o: Partial<CeilingRun>): CeilingRun => ({
  objects: 1000,
  bytes: 1000 * 32768,
  objectBytes: 32768,
  inFlight: 32,
  connections: "pool",
  payload: "signed",
  connectionsOpened: 32,
  seconds: 1,
  clientCpuSeconds: 0.25,
  serverCpuSeconds: 1.5,
  startUnixMs: 10_000,
  endUnixMs: 11_000,
  ...o,
});

test("combine: one process keeps its own figures; two count from the first start to the last end", () => {
  const one = combine([runOf({})]);
  assert.equal(one.putsPerSecond, 1000);
  assert.equal(one.mibPerSecond, 31.25);
  assert.equal(one.processes, 1);
  const two = combine([
    runOf({ inFlight: 16, connectionsOpened: 16 }),
    runOf({
      inFlight: 16,
      connectionsOpened: 16,
      startUnixMs: 10_500,
      endUnixMs: 12_000,
      serverCpuSeconds: 2,
    }),
  ]);
  assert.equal(two.processes, 2);
  assert.equal(two.inFlight, 32);
  assert.equal(two.seconds, 2);
  assert.equal(two.objects, 2000);
  assert.equal(two.putsPerSecond, 1000);
  assert.equal(two.clientCpuSeconds, 0.5);
  assert.equal(two.serverCpuSeconds, 2, "the server's CPU once, not summed");
  assert.equal(two.connectionsOpened, 32);
  assert.throws(() => combine([]), /no ceiling run/);
});

test("ceilingOf: the best small point by PUT/s and the best large one by MiB/s, with the whole sweep", () => {
  const small = [
    combine([runOf({ objects: 900 })]),
    combine([runOf({ objects: 1200, inFlight: 64 })]),
  ];
  const large = [
    combine([runOf({ objectBytes: 64 * MIB, objects: 4, bytes: 256 * MIB, inFlight: 4 })]),
    combine([runOf({ objectBytes: 64 * MIB, objects: 3, bytes: 192 * MIB, inFlight: 8 })]),
  ];
  const c = ceilingOf("go", [...small, ...large], 32768, 64 * MIB);
  assert.equal(c.putsPerSecond, 1200);
  assert.equal(c.concurrency, 64);
  assert.equal(c.mibPerSecond, 256);
  assert.equal(c.largeConcurrency, 4);
  assert.equal(c.largeObjectMiB, 64);
  assert.equal(c.best.small, small[1]);
  assert.equal(c.sweep.length, 4);
  assert.throws(() => ceilingOf("go", small, 32768, 64 * MIB), /no ceiling point/);
});
