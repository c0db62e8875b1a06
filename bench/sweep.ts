// How the ceiling's sweep decides: measure in-flight levels in order until the rate stops
// rising, then take the best point measured. Pure, so the unit tests pin the rules.
import type { Ceiling, CeilingPoint } from "./report";

export interface SweepRule {
  /** a point rises when it beats the best rate before it by more than this fraction */
  rise: number;
  /** stop after this many points in a row that did not rise */
  patience: number;
}

// 5%: below that, two runs of one point on a shared 2-core machine differ by as much. Two
// points: one flat point between rising ones is noise more often than a plateau.
export const SWEEP_RULE: SweepRule = { rise: 0.05, patience: 2 };

/**
 * True when none of the last `patience` rates beat the best rate before them by `rise`. Against
 * the best before the window, not a moving best: a slow climb of a few % a point still rises.
 */
export function stoppedRising(rates: number[], rule: SweepRule = SWEEP_RULE): boolean {
  if (rates.length <= rule.patience) return false;
  const bestBefore = Math.max(...rates.slice(0, rates.length - rule.patience));
  return rates.slice(rates.length - rule.patience).every((r) => r <= bestBefore * (1 + rule.rise));
}

/** Measures `levels` in order, stopping once the rate has stopped rising. */
export async function sweep<P>(
  levels: number[],
  measure: (level: number) => Promise<P>,
  rate: (p: P) => number,
  rule: SweepRule = SWEEP_RULE,
): Promise<P[]> {
  const points: P[] = [];
  for (const level of levels) {
    points.push(await measure(level));
    if (stoppedRising(points.map(rate), rule)) break;
  }
  return points;
}

/** The point with the highest rate (the first of equals). */
export function best<P>(points: P[], rate: (p: P) => number): P {
  if (points.length === 0) throw new Error("no ceiling point was measured");
  return points.reduce((a, b) => (rate(b) > rate(a) ? b : a));
}

/** What one bench/ceiling process prints (bench/ceiling/main.go's result). */
export interface CeilingRun {
  objects: number;
  bytes: number;
  objectBytes: number;
  inFlight: number;
  connections: CeilingPoint["connections"];
  payload: CeilingPoint["payload"];
  connectionsOpened: number;
  seconds: number;
  clientCpuSeconds: number;
  serverCpuSeconds: number;
  startUnixMs: number;
  endUnixMs: number;
}

/**
 * One point from the processes that ran it at once: their objects over the wall time from the
 * first start to the last end; CPU and connections summed. The server's CPU is counted once
 * (each process saw the same server): the largest of their windows.
 */
export function combine(runs: CeilingRun[]): CeilingPoint {
  if (runs.length === 0) throw new Error("no ceiling run to combine");
  const sum = (f: (r: CeilingRun) => number) => runs.reduce((n, r) => n + f(r), 0);
  const seconds =
    runs.length === 1
      ? runs[0]!.seconds
      : (Math.max(...runs.map((r) => r.endUnixMs)) - Math.min(...runs.map((r) => r.startUnixMs))) /
        1000;
  const objects = sum((r) => r.objects);
  const bytes = sum((r) => r.bytes);
  return {
    objectBytes: runs[0]!.objectBytes,
    inFlight: sum((r) => r.inFlight),
    connections: runs[0]!.connections,
    payload: runs[0]!.payload,
    processes: runs.length,
    objects,
    seconds,
    putsPerSecond: objects / seconds,
    mibPerSecond: bytes / (1 << 20) / seconds,
    clientCpuSeconds: sum((r) => r.clientCpuSeconds),
    serverCpuSeconds: Math.max(...runs.map((r) => r.serverCpuSeconds)),
    connectionsOpened: sum((r) => r.connectionsOpened),
  };
}

/** The ceiling: the best small-object point by PUT/s, the best large-object one by MiB/s. */
export function ceilingOf(
  client: string,
  points: CeilingPoint[],
  smallBytes: number,
  largeBytes: number,
): Omit<Ceiling, "loadAverage"> {
  const small = best(
    points.filter((p) => p.objectBytes === smallBytes),
    (p) => p.putsPerSecond,
  );
  const large = best(
    points.filter((p) => p.objectBytes === largeBytes),
    (p) => p.mibPerSecond,
  );
  return {
    client,
    putsPerSecond: small.putsPerSecond,
    smallObjectBytes: smallBytes,
    concurrency: small.inFlight,
    mibPerSecond: large.mibPerSecond,
    largeObjectMiB: largeBytes / (1 << 20),
    largeConcurrency: large.inFlight,
    best: { small, large },
    sweep: points,
  };
}
