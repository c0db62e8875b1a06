// The benchmark's result: its shape, the figures of one contender, the targets of issue 20 and
// the table. Pure (no I/O), so the unit tests can check the maths.
import type { Phase, Projection } from "./projection";
import { MIB } from "./sizes";

export type { Phase } from "./projection";

export interface Measured {
  seconds: number;
  cpuSeconds: number; // user+system CPU of the whole client process tree
  peakRssMiB: number; // peak of the summed RSS of that tree
  serverCpuSeconds: number;
}

export interface Contender {
  name: string;
  fixture: string;
  files: number; // files of the fixture (the work done, whatever was skipped)
  uploaded: number; // files actually sent
  bytes: number;
  seconds: number;
  filesPerSecond: number;
  mibPerSecond: number;
  cpuSeconds: number;
  peakRssMiB: number;
  serverCpuPercent: number;
  /** sync-dir.sh's content verification finished (its verifiedAt); null: the runbook has none. */
  verified: boolean | null;
}

export function contender(
  name: string,
  fixture: string,
  files: number,
  bytes: number,
  m: Measured,
  uploaded = files,
  verified: boolean | null = null,
): Contender {
  return {
    name,
    fixture,
    files,
    uploaded,
    verified,
    bytes,
    seconds: m.seconds,
    filesPerSecond: files / m.seconds,
    mibPerSecond: bytes / MIB / m.seconds,
    cpuSeconds: m.cpuSeconds,
    peakRssMiB: m.peakRssMiB,
    serverCpuPercent: (100 * m.serverCpuSeconds) / m.seconds,
  };
}

export interface Downtime {
  fixture: string;
  fixtureFiles: number;
  fixtureBytes: number;
  tool: string; // the contender name of the two-phase's sync-dir.sh
  runbookSeconds: number;
  twoPhaseSeconds: number;
  preSyncSeconds: number; // before the quiesce: not downtime
  syncsVerified: boolean; // the pre-sync's and the final sync's content verification finished
  changedFiles: number;
  changedBytes: number; // the changed files' whole sizes: what the final sync sends
  phases: { runbook: Phase[]; twoPhase: Phase[] };
  database: { name: string; sizeMiB: number; dumpMiB: number }[];
  /** Both sequences at production's size, from the phases above (bench/projection.ts). */
  projection: Projection;
}

/** One point of the ceiling's sweep (bench/ceiling.ts): one setting, measured for a few seconds. */
export interface CeilingPoint {
  objectBytes: number;
  inFlight: number; // requests in flight, over all processes
  connections: "pool" | "per-worker"; // one shared keep-alive pool, or a connection per worker
  payload: "signed" | "unsigned"; // the body's SHA-256 in the signature, or UNSIGNED-PAYLOAD
  processes: number; // client processes at once (2: rules out a limit of one Go process)
  objects: number;
  seconds: number;
  putsPerSecond: number;
  mibPerSecond: number;
  clientCpuSeconds: number; // of the measured window only
  serverCpuSeconds: number; // -1 when unknown
  connectionsOpened: number; // more than inFlight means connections churned
}

export interface Ceiling {
  client: string;
  putsPerSecond: number; // the best small-object point
  smallObjectBytes: number;
  concurrency: number; // its requests in flight
  mibPerSecond: number; // the best large-object point
  largeObjectMiB: number;
  largeConcurrency: number;
  best: { small: CeilingPoint; large: CeilingPoint };
  sweep: CeilingPoint[]; // every point, in the order measured
  loadAverage: { before: string; after: string };
}

export interface Target {
  name: string;
  value: number;
  goal: string;
  met: boolean;
  from: string;
  /** The downtime target: the window measured at the fixture's size, beside the projected one. */
  measured?: number;
}

export interface BenchResult {
  server: { name: string; version: string };
  ceiling: Ceiling;
  fixtures: Record<string, { files: number; bytes: number; meanBytes: number }>;
  contenders: Contender[];
  rerun: { name: string; seconds: number; fullSeconds: number; fraction: number };
  downtime: Downtime;
  targets: Target[];
  machine: Record<string, string | number>;
  seconds: number;
}

/** The runbook's row of a fixture: the name contains "runbook". */
export function runbookOf(contenders: Contender[], fixture: string): Contender {
  const r = contenders.find((c) => c.fixture === fixture && c.name.includes("runbook"));
  if (!r) throw new Error(`no runbook contender for fixture ${fixture}`);
  return r;
}

export const RERUN = ", re-run";

/** The fastest full copy of a fixture besides the runbook's (by files/s; one fixture, so by MiB/s too). */
export function bestOf(contenders: Contender[], fixture: string): Contender {
  const rest = contenders.filter(
    (c) => c.fixture === fixture && !c.name.includes("runbook") && !c.name.endsWith(RERUN),
  );
  if (rest.length === 0) throw new Error(`no contender besides the runbook for fixture ${fixture}`);
  return rest.reduce((a, b) => (b.filesPerSecond > a.filesPerSecond ? b : a));
}

/** The slowest no-change re-run of a fixture as a fraction of the same contender's full copy. */
export function rerunFraction(
  contenders: Contender[],
  fixture: string,
): { name: string; seconds: number; fullSeconds: number; fraction: number } {
  const out = contenders
    .filter((c) => c.fixture === fixture && c.name.endsWith(RERUN))
    .map((r) => {
      const full = contenders.find((c) => c.fixture === fixture && `${c.name}${RERUN}` === r.name);
      if (!full) throw new Error(`no full copy for ${r.name} on fixture ${fixture}`);
      return {
        name: r.name,
        seconds: r.seconds,
        fullSeconds: full.seconds,
        fraction: r.seconds / full.seconds,
      };
    });
  if (out.length === 0) throw new Error(`no re-run on fixture ${fixture}`);
  return out.reduce((a, b) => (b.fraction > a.fraction ? b : a));
}

/** Issue 20's targets, each a ratio within this one run. */
export function targets(
  contenders: Contender[],
  ceiling: Ceiling,
  downtime: Downtime,
  smallFixture = "small",
  prodFixture = "production",
): Target[] {
  const small = bestOf(contenders, smallFixture);
  const prod = bestOf(contenders, prodFixture);
  const prodBase = runbookOf(contenders, prodFixture);
  const smallOfCeiling = small.filesPerSecond / ceiling.putsPerSecond;
  const prodVsRunbook = prod.mibPerSecond / prodBase.mibPerSecond;
  const prodOfCeiling = prod.mibPerSecond / ceiling.mibPerSecond;
  const p = downtime.projection;
  const measured = downtime.twoPhaseSeconds / downtime.runbookSeconds;
  // Every sync-dir.sh figure (full copies, re-runs, the downtime's syncs) verified content.
  const syncs = contenders.filter((c) => c.verified !== null);
  const verified = syncs.filter((c) => c.verified).length + (downtime.syncsVerified ? 1 : 0);
  const verifiedShare = verified / (syncs.length + 1);
  const rerun = (fixture: string): Target => {
    const r = rerunFraction(contenders, fixture);
    return {
      name: `no-change re-run vs the full copy, ${fixture} fixture`,
      value: r.fraction,
      goal: "<= 0.05",
      met: r.fraction <= 0.05,
      from: `${r.name}: ${f1(r.seconds)} s of ${f1(r.fullSeconds)} s`,
    };
  };
  return [
    {
      name: "small files vs the ceiling's PUT/s",
      value: smallOfCeiling,
      goal: ">= 0.70",
      met: smallOfCeiling >= 0.7,
      from: small.name,
    },
    {
      name: "production-shaped MiB/s vs the runbook's",
      value: prodVsRunbook,
      goal: ">= 1.5x",
      met: prodVsRunbook >= 1.5,
      from: prod.name,
    },
    {
      name: "production-shaped MiB/s vs the ceiling's",
      value: prodOfCeiling,
      goal: ">= 0.60",
      met: prodOfCeiling >= 0.6,
      from: prod.name,
    },
    rerun(smallFixture),
    rerun(prodFixture),
    {
      name: "downtime window vs the runbook's, projected to production",
      value: p.ratio,
      goal: "<= 0.10",
      met: p.ratio <= 0.1,
      from: `two-phase (${downtime.tool}) at ${p.assumptions.media.files} files / ${f1(p.assumptions.media.bytes / 1024 / MIB)} GiB; measured at the ${downtime.fixture} fixture: ${measured.toFixed(3)}`,
      measured,
    },
    {
      name: "content verification on in every sync-dir.sh figure",
      value: verifiedShare,
      goal: "= 1",
      met: verifiedShare === 1,
      from: `${verified} of ${syncs.length + 1} (full copies, re-runs, the downtime's syncs)`,
    },
  ];
}

const f1 = (n: number) => n.toFixed(1);

const setting = (p: CeilingPoint) =>
  `${p.inFlight} in flight, ${p.connections} connections, ${p.payload} payload${p.processes > 1 ? `, ${p.processes} processes` : ""}`;

export function ceilingLine(c: Ceiling): string {
  return (
    `Ceiling (${c.client}; best of ${c.sweep.length} points, load ${c.loadAverage.before} -> ${c.loadAverage.after}): ` +
    `${f1(c.putsPerSecond)} PUT/s of ${f1(c.smallObjectBytes / 1024)} KiB (${setting(c.best.small)}); ` +
    `${f1(c.mibPerSecond)} MiB/s with ${c.largeObjectMiB} MiB objects (${setting(c.best.large)})`
  );
}

/** Every point of the ceiling's sweep; the two best in bold. */
export function sweepTable(c: Ceiling): string[] {
  const out = [
    "| ceiling point | KiB | in flight | connections | payload | processes | s | PUT/s | MiB/s | client CPU s | server CPU s | connections opened |",
    "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [i, p] of c.sweep.entries()) {
    const key = JSON.stringify(p);
    const isBest = [c.best.small, c.best.large].some((x) => JSON.stringify(x) === key);
    const b = isBest ? "**" : "";
    out.push(
      `| ${b}${i + 1}${b} | ${f1(p.objectBytes / 1024)} | ${p.inFlight} | ${p.connections} | ${p.payload} | ${p.processes} | ${f1(p.seconds)} | ${b}${f1(p.putsPerSecond)}${b} | ${b}${f1(p.mibPerSecond)}${b} | ${f1(p.clientCpuSeconds)} | ${p.serverCpuSeconds < 0 ? "-" : f1(p.serverCpuSeconds)} | ${p.connectionsOpened} |`,
    );
  }
  return out;
}

const gib = (bytes: number) => (bytes / 1024 / MIB).toFixed(1);

/** The projection's assumptions and its per-phase table (bench/projection.ts). */
export function projectionLines(p: Projection): string[] {
  const a = p.assumptions;
  const out = [
    `Downtime projected to production (${a.media.files} files, ${gib(a.media.bytes)} GiB of media; ` +
      `dumps ${a.dumps.map((x) => `${x.name} ${f1(x.bytes / MIB)} MiB (measured ${f1(x.measuredBytes / MIB)}; ${x.source})`).join(", ")}; ` +
      `change between pre-sync and quiesce ${a.change.files} files, ${gib(a.change.bytes)} GiB: ${a.change.source}):`,
    "",
    "| sequence | phase | measured s | fixture files / MiB | production files / MiB | scale | projected s | model |",
    "|---|---|---:|---:|---:|---:|---:|---|",
  ];
  // A model's words may hold a "|" (a pipeline): escaped, so the table keeps its columns.
  const cell = (t: string) => t.replace(/\|/g, "\\|");
  for (const x of p.phases) {
    out.push(
      `| ${x.sequence} | ${cell(x.name)} | ${f1(x.measuredSeconds)} | ${x.fixture.files} / ${f1(x.fixture.bytes / MIB)} | ${x.production.files} / ${f1(x.production.bytes / MIB)} | ${x.scale.toFixed(2)} | ${f1(x.seconds)} | ${cell(x.model)} |`,
    );
  }
  out.push(`| runbook | **window** | | | | | **${f1(p.runbookSeconds)}** | sum of its phases |`);
  out.push(
    `| two-phase | **window** | | | | | **${f1(p.twoPhaseSeconds)}** | slowest lane: ratio ${p.ratio.toFixed(3)} |`,
  );
  return out;
}

export function table(r: BenchResult): string {
  const out: string[] = [];
  out.push(`Server: ${r.server.name} ${r.server.version}`);
  out.push(ceilingLine(r.ceiling));
  for (const [name, f] of Object.entries(r.fixtures)) {
    out.push(
      `Fixture ${name}: ${f.files} files, ${f1(f.bytes / MIB)} MiB, mean ${f1(f.meanBytes / 1024)} KiB`,
    );
  }
  out.push("");
  out.push(...sweepTable(r.ceiling));
  out.push("");
  out.push(
    "| fixture | contender | files | MiB | s | files/s | MiB/s | vs runbook | client CPU s | peak RSS MiB | server CPU % |",
  );
  out.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const c of r.contenders) {
    const base = runbookOf(r.contenders, c.fixture);
    out.push(
      `| ${c.fixture} | ${c.name} | ${c.files} | ${f1(c.bytes / MIB)} | ${f1(c.seconds)} | ${f1(c.filesPerSecond)} | ${f1(c.mibPerSecond)} | ${(c.filesPerSecond / base.filesPerSecond).toFixed(2)}x | ${f1(c.cpuSeconds)} | ${f1(c.peakRssMiB)} | ${c.serverCpuPercent.toFixed(0)} |`,
    );
  }
  out.push("");
  out.push(
    `Re-run with nothing changed (${r.rerun.name}): ${f1(r.rerun.seconds)} s vs ${f1(r.rerun.fullSeconds)} s for the full copy = ${r.rerun.fraction.toFixed(3)}`,
  );
  out.push("");
  const d = r.downtime;
  out.push(
    `Downtime (${d.fixture} fixture, ${d.changedFiles} files changed, databases ${d.database.map((db) => `${db.name} ${f1(db.sizeMiB)} MiB -> ${f1(db.dumpMiB)} MiB gzip`).join(", ")}; pre-sync before the quiesce ${f1(d.preSyncSeconds)} s):`,
  );
  out.push("");
  out.push("| sequence | phase | s |");
  out.push("|---|---|---:|");
  for (const p of d.phases.runbook) out.push(`| runbook | ${p.name} | ${f1(p.seconds)} |`);
  out.push(`| runbook | **window** | **${f1(d.runbookSeconds)}** |`);
  for (const p of d.phases.twoPhase) out.push(`| two-phase | ${p.name} | ${f1(p.seconds)} |`);
  out.push(`| two-phase | **window** | **${f1(d.twoPhaseSeconds)}** |`);
  out.push("");
  out.push(...projectionLines(d.projection));
  out.push("");
  // Issue 14's ratio, no longer a target: kept because it costs one line.
  const smallBest = bestOf(r.contenders, "small");
  const smallBase = r.contenders.find((c) => c.fixture === "small" && c.name.includes("runbook"));
  if (smallBase)
    out.push(
      `Issue 14's small-files ratio: ${(smallBest.filesPerSecond / smallBase.filesPerSecond).toFixed(2)}x the runbook (${smallBest.name})`,
      "",
    );
  out.push("| target | value | goal | met | from |");
  out.push("|---|---:|---|---|---|");
  for (const t of r.targets) {
    out.push(
      `| ${t.name} | ${t.value.toFixed(3)} | ${t.goal} | ${t.met ? "yes" : "NO"} | ${t.from} |`,
    );
  }
  out.push("");
  out.push(
    `Machine: ${Object.entries(r.machine)
      .map(([k, v]) => `${k}=${v}`)
      .join("; ")}; bench ${f1(r.seconds)} s`,
  );
  return out.join("\n");
}
