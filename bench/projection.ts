// The downtime window projected to production's size from the bench's measured phases (issue
// 20). Each phase's cost is split into fixed, per-file and per-MiB parts fitted from the two
// fixtures, scaled so it reproduces the phase as measured, then evaluated at production's
// figures. Pure, so the unit tests can check the sums by hand.
import { MIB, PRODUCTION } from "./sizes";

/** One timed phase of a downtime sequence and what it moved. */
export interface Phase {
  name: string;
  seconds: number;
  /** dump: pg_dumpall | gzip; dump-copy: one dump to S3; tree-copy: the whole tree; final-sync: the delta. */
  kind: "dump" | "dump-copy" | "tree-copy" | "final-sync";
  /** The database of a dump or dump-copy phase; "" for the media. */
  db: string;
  files: number; // files sent
  bytes: number; // bytes sent (a dump's gzip bytes for dump and dump-copy)
  treeFiles: number; // files the phase scanned (the whole tree for tree-copy and final-sync)
}

/** A copy's figures, as the fits need them (a Contender has these fields). */
export interface Run {
  name: string;
  fixture: string;
  files: number;
  bytes: number;
  seconds: number;
}

/** seconds = fixedSeconds + perFileSeconds * files + perMiBSeconds * MiB */
export interface Cost {
  fixedSeconds: number;
  perFileSeconds: number;
  perMiBSeconds: number;
  how: string;
}

const costAt = (c: Cost, files: number, bytes: number) =>
  c.fixedSeconds + c.perFileSeconds * files + (c.perMiBSeconds * bytes) / MIB;

const f1 = (n: number) => n.toFixed(1);
const ms = (s: number) => (s * 1000).toFixed(3);

/**
 * A full copy's seconds as a per-file plus a per-MiB cost, through two copies of different
 * shape (the small-files and the production-shaped fixture). undefined when the two do not
 * separate the parts (same shape) or a part comes out negative (noise larger than the part).
 */
export function fitFilesAndBytes(a: Run, b: Run): Cost | undefined {
  const [am, bm] = [a.bytes / MIB, b.bytes / MIB];
  const det = a.files * bm - b.files * am;
  if (Math.abs(det) < 1e-9 * Math.max(1, a.files * bm)) return undefined;
  const perFile = (a.seconds * bm - b.seconds * am) / det;
  const perMiB = (a.files * b.seconds - b.files * a.seconds) / det;
  if (!(perFile >= 0 && perMiB >= 0)) return undefined;
  return {
    fixedSeconds: 0,
    perFileSeconds: perFile,
    perMiBSeconds: perMiB,
    how: `${ms(perFile)} ms/file + ${ms(perMiB)} ms/MiB, fitted through ${a.name} (${a.fixture}) and ${b.fixture}`,
  };
}

/**
 * A re-run's seconds (nothing sent: scan, listing, comparison) as a fixed plus a per-file cost,
 * through the re-runs of both fixtures; with one re-run, or a negative slope, all of it per file.
 */
export function fitScan(runs: Run[]): Cost {
  const [a, b] = [...runs].sort((x, y) => x.files - y.files);
  if (!a) throw new Error("no re-run to fit the scan's cost from");
  if (b && b.files > a.files) {
    const perFile = (b.seconds - a.seconds) / (b.files - a.files);
    const fixed = a.seconds - perFile * a.files;
    if (perFile >= 0 && fixed >= 0)
      return {
        fixedSeconds: fixed,
        perFileSeconds: perFile,
        perMiBSeconds: 0,
        how: `scan ${f1(fixed)} s + ${ms(perFile)} ms/file, fitted through ${a.name} of ${a.fixture} and ${b.fixture}`,
      };
  }
  const big = b ?? a;
  return {
    fixedSeconds: 0,
    perFileSeconds: big.seconds / big.files,
    perMiBSeconds: 0,
    how:
      `scan ${ms(big.seconds / big.files)} ms/file, from ${big.name} of ${big.fixture} alone` +
      (b
        ? " (the re-runs' slope came out negative: fixed costs dominate at these sizes; an upper bound)"
        : ""),
  };
}

/** Production's figures the phases are projected to. */
export interface Target {
  files: number;
  bytes: number;
  /** gzip bytes of each database's dump; a database not named keeps the size measured here. */
  dumpBytes: Record<string, number>;
  dumpSource: string;
}

export const PRODUCTION_TARGET: Target = {
  files: PRODUCTION.files,
  bytes: PRODUCTION.bytes,
  dumpBytes: {},
  dumpSource:
    "no public figure of the dumps' sizes (shared/notes/fragalysis-production.md): each kept at the size measured here; set --prod-dump-mib",
};

/** `--prod-dump-mib`'s value, "keycloak=MiB,stack=MiB" (the dumps' gzip sizes), as MiB by name. */
export function parseDumpMiB(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kv of value.split(",")) {
    const m = /^(keycloak|stack)=(\d+(?:\.\d+)?)$/.exec(kv);
    if (!m)
      throw new Error(`--prod-dump-mib wants keycloak=MiB,stack=MiB (gzip sizes), got '${kv}'`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Production's target with the dumps' sizes given in MiB (the others kept as measured). */
export function productionTarget(dumpMiB: Record<string, number>): Target {
  return {
    ...PRODUCTION_TARGET,
    dumpBytes: Object.fromEntries(Object.entries(dumpMiB).map(([k, v]) => [k, v * MIB])),
  };
}

export interface ProjectedPhase {
  sequence: "runbook" | "two-phase";
  name: string;
  kind: Phase["kind"];
  db: string;
  measuredSeconds: number;
  fixture: { files: number; bytes: number; treeFiles: number };
  production: { files: number; bytes: number; treeFiles: number };
  model: string; // the cost's parts and where they come from
  scale: number; // measured seconds / the model at the fixture's figures
  /**
   * scale * the model at production's figures; for a two-phase phase slower than its model
   * (scale > 1: it shared the cores with the other lanes) at most the model plus the seconds it
   * lost, stretched as the other lanes are (see project()).
   */
  seconds: number;
}

export interface Projection {
  assumptions: {
    media: { files: number; bytes: number; source: string };
    dumps: { name: string; bytes: number; measuredBytes: number; source: string }[];
    change: { files: number; bytes: number; source: string };
    method: string;
  };
  phases: ProjectedPhase[];
  runbookSeconds: number;
  twoPhaseSeconds: number;
  ratio: number;
}

/** What the projection reads of the downtime run. */
export interface DowntimeRun {
  fixture: string;
  fixtureFiles: number;
  fixtureBytes: number;
  changedFiles: number;
  changedBytes: number; // the changed files' whole sizes: what the final sync sends
  tool: string; // the contender name of the two-phase's sync-dir.sh
  phases: { runbook: Phase[]; twoPhase: Phase[] };
}

const RERUN = ", re-run";

/** A phase's cost: `cost` alone, or for a final sync a scan of the tree plus sending the delta. */
interface Model {
  cost: Cost; // counts files and bytes sent; for a final sync, the tree's files scanned
  send?: Cost; // a final sync's sending of its delta
}

const modelHow = (m: Model) => (m.send ? `${m.cost.how}; plus sending ${m.send.how}` : m.cost.how);

/** Seconds of a phase at some figures. */
const modelAt = (m: Model, files: number, bytes: number, treeFiles: number) =>
  m.send
    ? costAt(m.cost, treeFiles, 0) + costAt(m.send, files, bytes)
    : costAt(m.cost, files, bytes);

/** The cost model of one phase, from this run's contenders where a fit needs them. */
function modelOf(p: Phase, d: DowntimeRun, runs: Run[]): Model {
  const perMiBOnly = (why: string): Cost => ({
    fixedSeconds: 0,
    perFileSeconds: 0,
    perMiBSeconds: p.bytes > 0 ? p.seconds / (p.bytes / MIB) : 0,
    how: `${p.bytes > 0 ? ms(p.seconds / (p.bytes / MIB)) : "0"} ms/MiB of this phase (${why})`,
  });
  // The fit through a contender's full copies of both fixtures, or why there is none, and its
  // full copy of the downtime's fixture for a per-MiB fallback.
  const fullCopies = (pick: (r: Run) => boolean, who: string) => {
    const rows = runs.filter((r) => pick(r) && !r.name.endsWith(RERUN));
    const a = rows.find((r) => r.fixture !== d.fixture);
    const b = rows.find((r) => r.fixture === d.fixture);
    const fit = a && b ? fitFilesAndBytes(a, b) : undefined;
    const why = !(a && b)
      ? `no full copies of both fixtures by ${who}`
      : `the fit through ${who}'s full copies of both fixtures has a negative part: fixed costs dominate at these sizes`;
    return { fit, why, here: b };
  };
  switch (p.kind) {
    case "dump":
      return { cost: perMiBOnly("pg_dumpall and gzip in proportion to their output") };
    case "dump-copy":
      return { cost: perMiBOnly("one size measured, its fixed cost scales too: an upper bound") };
    case "tree-copy": {
      const f = fullCopies((r) => r.name.includes("runbook"), "the runbook");
      return { cost: f.fit ?? perMiBOnly(f.why) };
    }
    case "final-sync": {
      const own = runs.filter((r) => r.name === `${d.tool}${RERUN}`);
      const reruns = own.length > 0 ? own : runs.filter((r) => r.name.endsWith(RERUN));
      const scan: Cost =
        reruns.length > 0
          ? fitScan(reruns)
          : {
              fixedSeconds: 0,
              perFileSeconds: p.seconds / Math.max(1, p.treeFiles),
              perMiBSeconds: 0,
              how: "all of this phase per tree file (no re-run measured)",
            };
      const f = fullCopies((r) => r.name === d.tool, d.tool);
      const here = f.here;
      // Without a fit, a full copy's MiB/s (its scan included: an upper bound) prices the bytes.
      const send: Cost =
        f.fit ??
        (here && here.bytes > 0
          ? {
              fixedSeconds: 0,
              perFileSeconds: 0,
              perMiBSeconds: here.seconds / (here.bytes / MIB),
              how: `${ms(here.seconds / (here.bytes / MIB))} ms/MiB of its full copy of ${here.fixture} (${f.why})`,
            }
          : {
              fixedSeconds: 0,
              perFileSeconds: 0,
              perMiBSeconds: 0,
              how: `nothing: all in the scan (${f.why})`,
            });
      return { cost: scan, send };
    }
  }
}

/**
 * Projects the runbook sequence and the two-phase window to `target`. The runbook's phases
 * run one after another (sum); the two-phase's run at once, one lane per database (its dump,
 * then its copy) and one for the media (the final sync): the slowest lane is the window.
 */
export function project(
  d: DowntimeRun,
  runs: Run[],
  target: Target = PRODUCTION_TARGET,
): Projection {
  const fileShare = d.changedFiles / d.fixtureFiles;
  const byteShare = d.changedBytes / d.fixtureBytes;
  const change = {
    files: Math.round(target.files * fileShare),
    bytes: Math.round(target.bytes * byteShare),
    source: `the fixture's change scaled: ${d.changedFiles} of ${d.fixtureFiles} files, ${f1(d.changedBytes / MIB)} of ${f1(d.fixtureBytes / MIB)} MiB (no figure of a day's uploads is known)`,
  };
  const measuredDump = new Map<string, number>();
  for (const p of [...d.phases.runbook, ...d.phases.twoPhase])
    if (p.kind === "dump" && !measuredDump.has(p.db)) measuredDump.set(p.db, p.bytes);
  const dumpBytes = (db: string) => target.dumpBytes[db] ?? measuredDump.get(db) ?? 0;

  const phases: ProjectedPhase[] = [];
  for (const [sequence, list] of [
    ["runbook", d.phases.runbook],
    ["two-phase", d.phases.twoPhase],
  ] as const) {
    for (const p of list) {
      const production =
        p.kind === "dump" || p.kind === "dump-copy"
          ? { files: p.files, bytes: dumpBytes(p.db), treeFiles: 0 }
          : p.kind === "tree-copy"
            ? { files: target.files, bytes: target.bytes, treeFiles: target.files }
            : { files: change.files, bytes: change.bytes, treeFiles: target.files };
      const m = modelOf(p, d, runs);
      const atFixture = modelAt(m, p.files, p.bytes, p.treeFiles);
      const scale = atFixture > 0 ? p.seconds / atFixture : 1;
      phases.push({
        sequence,
        name: p.name,
        kind: p.kind,
        db: p.db,
        measuredSeconds: p.seconds,
        fixture: { files: p.files, bytes: p.bytes, treeFiles: p.treeFiles },
        production,
        model: modelHow(m),
        scale,
        seconds: scale * modelAt(m, production.files, production.bytes, production.treeFiles),
      });
    }
  }
  const twoPhase = phases.filter((p) => p.sequence === "two-phase");
  shareCores(twoPhase);
  const runbookSeconds = phases
    .filter((p) => p.sequence === "runbook")
    .reduce((s, p) => s + p.seconds, 0);
  const twoPhaseSeconds = Math.max(0, ...laneSeconds(twoPhase, (p) => p.seconds).values());
  return {
    assumptions: {
      media: {
        files: target.files,
        bytes: target.bytes,
        source:
          "production media, about 135,000 files / 240 GiB (shared/notes/fragalysis-production.md)",
      },
      dumps: [...measuredDump].map(([name, measuredBytes]) => ({
        name,
        bytes: dumpBytes(name),
        measuredBytes,
        source: name in target.dumpBytes ? "--prod-dump-mib" : target.dumpSource,
      })),
      change,
      method:
        "each phase: a cost model (dumps and dump copies per MiB of gzip; the runbook's tree copy per file + per MiB fitted " +
        "through its full copies of both fixtures; the final sync a scan per tree file fitted through the re-runs plus " +
        "sending per file + per MiB fitted through the tool's full copies), scaled by measured / model at the fixture, " +
        "evaluated at production's figures (a two-phase phase slowed by sharing the cores with the other lanes: its model " +
        "plus the seconds it lost, stretched as the other lanes are, at most the scaled figure); runbook = sum of its phases, " +
        "two-phase = slowest lane (each database's dump then copy, the media's final sync)",
    },
    phases,
    runbookSeconds,
    twoPhaseSeconds,
    ratio: runbookSeconds > 0 ? twoPhaseSeconds / runbookSeconds : 0,
  };
}

/**
 * The two-phase's lanes run at once on the same cores, so a phase there can be slower than its
 * model (scale > 1) for sharing them. That loss lasts while the other lanes run, and their length
 * does not follow this phase's figures: multiplying all of a long final sync by it would charge
 * the dumps' competition for the whole sync. So such a phase is its model at production plus the
 * seconds it lost at the fixture, times the other lanes' projected / measured length, and never
 * more than scale x the model (the loss held for the whole phase).
 */
function shareCores(twoPhase: ProjectedPhase[]): void {
  const measured = laneSeconds(twoPhase, (p) => p.measuredSeconds);
  const projected = laneSeconds(twoPhase, (p) => p.seconds);
  for (const p of twoPhase) {
    if (!(p.scale > 1)) continue;
    const others = [...measured.keys()].filter((lane) => lane !== p.db);
    const otherMeasured = Math.max(0, ...others.map((lane) => measured.get(lane)!));
    if (otherMeasured <= 0) continue; // alone: its slowness is its own, scaled as it is
    const otherProjected = Math.max(0, ...others.map((lane) => projected.get(lane)!));
    const stretch = otherProjected / otherMeasured;
    const model = p.seconds / p.scale;
    const lost = p.measuredSeconds - p.measuredSeconds / p.scale;
    const shared = model + lost * stretch;
    if (shared >= p.seconds) continue;
    p.model += `; shared the cores: ${f1(lost)} s lost at the fixture x ${stretch.toFixed(2)} (the other lanes' projected / measured length) added to the model, not x ${p.scale.toFixed(2)} (${f1(p.seconds)} s)`;
    p.seconds = shared;
  }
}

/** Each two-phase lane's seconds (a database's dump then copy, or the media's ""): `pick` summed. */
function laneSeconds(
  twoPhase: ProjectedPhase[],
  pick: (p: ProjectedPhase) => number,
): Map<string, number> {
  const sums = new Map<string, number>();
  for (const p of twoPhase) sums.set(p.db, (sums.get(p.db) ?? 0) + pick(p));
  return sums;
}
