// The plan's downtime estimate: a table of inputs and the seconds and sums it must give.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_PLAN_RATES,
  estimateDowntime,
  type EstimateInput,
  type PlanRates,
} from "../../components/downtime-estimate";

const MiB = 1024 * 1024;
const RATES: PlanRates = {
  dumpMiBPerSecond: 10,
  treeMiBPerSecond: 100,
  treeFilesPerSecond: 50,
  scanFilesPerSecond: 1000,
};

const cases: Array<{
  name: string;
  inputs: EstimateInput[];
  seconds: number | null;
  atLeast: number;
  hows?: string[];
}> = [
  {
    name: "a dump copied as it is: bytes / rate",
    inputs: [{ kind: "latest", name: "db", bytes: 300 * MiB }],
    seconds: 30,
    atLeast: 30,
    hows: ["copy 300.0 MiB / 10 MiB/s = 30 s"],
  },
  {
    name: "a refreshed dump: the CronJob's last run, then the copy",
    inputs: [{ kind: "latest", name: "db", bytes: 100 * MiB, refreshSeconds: 240 }],
    seconds: 250,
    atLeast: 250,
    hows: ["refresh 240 s (the CronJob's last run) + copy 100.0 MiB / 10 MiB/s = 250 s"],
  },
  {
    name: "a tree: delta bytes, delta files and the scan of the whole tree",
    inputs: [
      { kind: "tree", name: "media", deltaBytes: 1000 * MiB, deltaFiles: 500, treeFiles: 20000 },
    ],
    seconds: 40,
    atLeast: 40,
    hows: [
      "1000.0 MiB / 100 MiB/s + 500 files / 50 files/s + scan 20000 files / 1000 files/s = 40 s",
    ],
  },
  {
    name: "in parallel: the slowest backup is the window, not the sum",
    inputs: [
      { kind: "latest", name: "keycloak", bytes: 50 * MiB, refreshSeconds: 20 },
      { kind: "latest", name: "stack", bytes: 200 * MiB, refreshSeconds: 60 },
      { kind: "tree", name: "media", deltaBytes: 0, deltaFiles: 0, treeFiles: 50000 },
    ],
    seconds: 80,
    atLeast: 80,
  },
  {
    name: "an unknown refresh duration: no total, only a lower bound",
    inputs: [
      { kind: "latest", name: "stack", bytes: 100 * MiB, refreshSeconds: null },
      { kind: "tree", name: "media", deltaBytes: 0, deltaFiles: 0, treeFiles: 30000 },
    ],
    seconds: null,
    atLeast: 30,
  },
  {
    name: "a backup whose sizes were not read: unknown, the others still a lower bound",
    inputs: [
      { kind: "unread", name: "db", why: "sizes not read (unmapped)" },
      { kind: "latest", name: "keycloak", bytes: 100 * MiB },
    ],
    seconds: null,
    atLeast: 10,
    hows: ["unknown: sizes not read (unmapped)", "copy 100.0 MiB / 10 MiB/s = 10 s"],
  },
  { name: "nothing to copy", inputs: [], seconds: 0, atLeast: 0 },
];

describe("estimateDowntime", () => {
  for (const c of cases) {
    it(c.name, () => {
      const e = estimateDowntime(c.inputs, RATES);
      assert.equal(e.seconds, c.seconds);
      assert.equal(e.atLeastSeconds, c.atLeast);
      assert.deepEqual(e.rates, RATES, "the rates used are shown");
      assert.deepEqual(
        e.backups.map((b) => b.name),
        c.inputs.map((i) => i.name),
      );
      if (c.hows)
        assert.deepEqual(
          e.backups.map((b) => b.how),
          c.hows,
        );
    });
  }

  it("defaults to bench/README.md's measured rates", () => {
    assert.deepEqual(DEFAULT_PLAN_RATES, {
      dumpMiBPerSecond: 21.6,
      treeMiBPerSecond: 112.9,
      treeFilesPerSecond: 551.7,
      scanFilesPerSecond: 6584.7,
    });
    // 216 MiB at 21.6 MiB/s
    const e = estimateDowntime([{ kind: "latest", name: "db", bytes: 216 * MiB }]);
    assert.equal(e.seconds, 10);
  });
});
