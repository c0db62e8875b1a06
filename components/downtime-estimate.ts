// The downtime the plan estimates before `up`: quiesce to the last verified copy, from the sizes
// the plan read and copy rates. Pure; the inputs are shown with the result so an operator can
// redo the sum. `up` starts every backup's copy (after its refresh) once the quiesce is done, all
// at once, so the window is the slowest backup's, not the sum.

/** Copy rates (config `planRates`); the defaults are bench/README.md's last run (2026-12-07). */
export interface PlanRates {
  /** copy-latest.sh, one dump: 83.0 MiB in 3.8 s (bench "two-phase", copy-latest.sh keycloak). */
  readonly dumpMiBPerSecond: number;
  /** sync-dir.sh bytes: 112.9 MiB/s (bench production fixture, sync-dir.sh rclone 1.76). */
  readonly treeMiBPerSecond: number;
  /** sync-dir.sh files sent: 551.7 files/s (bench small fixture, sync-dir.sh rclone 1.76). */
  readonly treeFilesPerSecond: number;
  /** sync-dir.sh scan and listing of the whole tree: 6584.7 files/s (bench small re-run). */
  readonly scanFilesPerSecond: number;
}

export const DEFAULT_PLAN_RATES: PlanRates = {
  dumpMiBPerSecond: 21.6,
  treeMiBPerSecond: 112.9,
  treeFilesPerSecond: 551.7,
  scanFilesPerSecond: 6584.7,
};

/** A dump backup: the bytes to copy and, when refreshed, the CronJob's last run (null: unknown). */
export interface DumpEstimateInput {
  readonly kind: "latest";
  readonly name: string;
  readonly bytes: number;
  /** undefined: not refreshed (the existing dump is copied); null: refreshed, duration unknown. */
  readonly refreshSeconds?: number | null;
}

/** A tree backup: what the final sync sends, and the tree it scans. */
export interface TreeEstimateInput {
  readonly kind: "tree";
  readonly name: string;
  readonly deltaFiles: number;
  readonly deltaBytes: number;
  readonly treeFiles: number;
}

/** A backup whose sizes the plan could not read: its time is unknown. */
export interface UnreadEstimateInput {
  readonly kind: "unread";
  readonly name: string;
  readonly why: string;
}

export type EstimateInput = DumpEstimateInput | TreeEstimateInput | UnreadEstimateInput;

export interface BackupEstimate {
  readonly name: string;
  /** null when a part of it is unknown. */
  readonly seconds: number | null;
  /** The sum written out, e.g. "refresh 312 s (the CronJob's last run) + copy 830.0 MiB / 21.6 MiB/s = 350 s". */
  readonly how: string;
}

export interface DowntimeEstimate {
  /** The slowest backup's seconds; null when any backup's is unknown. */
  readonly seconds: number | null;
  /** The slowest known one: the window is at least this. */
  readonly atLeastSeconds: number;
  readonly backups: BackupEstimate[];
  readonly rates: PlanRates;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

function one(b: EstimateInput, r: PlanRates): BackupEstimate {
  if (b.kind === "unread") return { name: b.name, seconds: null, how: `unknown: ${b.why}` };
  if (b.kind === "latest") {
    const copy = b.bytes / MiB / r.dumpMiBPerSecond;
    const rate = `${mib(b.bytes)} MiB / ${r.dumpMiBPerSecond} MiB/s`;
    const sum = `${rate} = ${Math.round(copy)} s`;
    if (b.refreshSeconds === undefined) {
      return { name: b.name, seconds: Math.round(copy), how: `copy ${sum}` };
    }
    if (b.refreshSeconds === null) {
      return {
        name: b.name,
        seconds: null,
        how: `refresh unknown (no finished Job of the CronJob) + copy ${sum}`,
      };
    }
    return {
      name: b.name,
      seconds: Math.round(b.refreshSeconds + copy),
      how: `refresh ${b.refreshSeconds} s (the CronJob's last run) + copy ${rate} = ${Math.round(b.refreshSeconds + copy)} s`,
    };
  }
  const bytes = b.deltaBytes / MiB / r.treeMiBPerSecond;
  const files = b.deltaFiles / r.treeFilesPerSecond;
  const scan = b.treeFiles / r.scanFilesPerSecond;
  return {
    name: b.name,
    seconds: Math.round(bytes + files + scan),
    how:
      `${mib(b.deltaBytes)} MiB / ${r.treeMiBPerSecond} MiB/s + ${b.deltaFiles} files / ` +
      `${r.treeFilesPerSecond} files/s + scan ${b.treeFiles} files / ${r.scanFilesPerSecond} ` +
      `files/s = ${Math.round(bytes + files + scan)} s`,
  };
}

/** The estimate: every backup's time, and the slowest (they run in parallel). */
export function estimateDowntime(
  inputs: readonly EstimateInput[],
  rates: PlanRates = DEFAULT_PLAN_RATES,
): DowntimeEstimate {
  const backups = inputs.map((b) => one(b, rates));
  const known = backups.flatMap((b) => (b.seconds === null ? [] : [b.seconds]));
  const atLeastSeconds = Math.max(0, ...known);
  const seconds = known.length === backups.length ? atLeastSeconds : null;
  return { seconds, atLeastSeconds, backups, rates };
}
