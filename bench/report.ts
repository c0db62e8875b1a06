// The benchmark's result: its shape, the figures of one contender, the targets of issue 14 and
// the table. Pure (no I/O), so the unit tests can check the maths.
import { MIB } from "./sizes";

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
}

export function contender(
  name: string,
  fixture: string,
  files: number,
  bytes: number,
  m: Measured,
  uploaded = files,
): Contender {
  return {
    name,
    fixture,
    files,
    uploaded,
    bytes,
    seconds: m.seconds,
    filesPerSecond: files / m.seconds,
    mibPerSecond: bytes / MIB / m.seconds,
    cpuSeconds: m.cpuSeconds,
    peakRssMiB: m.peakRssMiB,
    serverCpuPercent: (100 * m.serverCpuSeconds) / m.seconds,
  };
}

export interface Phase {
  name: string;
  seconds: number;
}

export interface Downtime {
  fixture: string;
  runbookSeconds: number;
  twoPhaseSeconds: number;
  preSyncSeconds: number; // before the quiesce: not downtime
  changedFiles: number;
  phases: { runbook: Phase[]; twoPhase: Phase[] };
  database: { name: string; sizeMiB: number; dumpMiB: number }[];
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

/** The fastest non-runbook contender of a fixture (by files/s). */
export function bestOf(contenders: Contender[], fixture: string): Contender {
  const rest = contenders.filter((c) => c.fixture === fixture && !c.name.includes("runbook"));
  if (rest.length === 0) throw new Error(`no contender besides the runbook for fixture ${fixture}`);
  return rest.reduce((a, b) => (b.filesPerSecond > a.filesPerSecond ? b : a));
}

/** Issue 14's targets, each a ratio within this one run. */
export function targets(
  contenders: Contender[],
  ceiling: Ceiling,
  downtime: Downtime,
  rerunFraction: number,
  smallFixture = "small",
): Target[] {
  const base = runbookOf(contenders, smallFixture);
  const best = bestOf(contenders, smallFixture);
  const speedup = best.filesPerSecond / base.filesPerSecond;
  const ofCeiling = best.filesPerSecond / ceiling.putsPerSecond;
  const window = downtime.twoPhaseSeconds / downtime.runbookSeconds;
  return [
    {
      name: "small-files throughput vs the runbook",
      value: speedup,
      goal: ">= 3x",
      met: speedup >= 3,
      from: best.name,
    },
    {
      name: "small-files throughput vs the server's PUT ceiling",
      value: ofCeiling,
      goal: ">= 0.70",
      met: ofCeiling >= 0.7,
      from: best.name,
    },
    {
      name: "downtime window vs the runbook's",
      value: window,
      goal: "<= 0.10",
      met: window <= 0.1,
      from: `two-phase, ${downtime.fixture} fixture`,
    },
    {
      name: "re-run with nothing changed vs a full copy",
      value: rerunFraction,
      goal: "<= 0.05",
      met: rerunFraction <= 0.05,
      from: "sync-dir.sh, same tree again",
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
