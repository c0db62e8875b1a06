// The downtime window the stack reports: from the quiesce to the moment the last copy made
// after it was verified. Pure; the times come from the quiesce records and the copy results.
import * as pulumi from "@pulumi/pulumi";

/** The `downtime` stack output. */
export interface DowntimeReport {
  /** When the first StatefulSet was at zero (UTC ISO-8601): users are cut off from here. */
  readonly quiescedAt: string;
  /** When the last post-quiesce copy was verified; null if a result carries no time. */
  readonly lastVerifiedAt: string | null;
  /** Whole seconds between the two; null when lastVerifiedAt is. */
  readonly seconds: number | null;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function time(value: string, what: string): number {
  if (!ISO_UTC.test(value)) throw new Error(`downtime: ${what} is not UTC ISO-8601: "${value}"`);
  return Date.parse(value);
}

/**
 * The window from the earliest quiesce to the latest verification of the copies that ran after
 * it (pre-syncs are not passed in: they ran while the stack was up). The two ends are read on
 * different machines (quiesce: where Pulumi runs; copies: the NFS server or a pod), so clock
 * skew between them shows up in `seconds` as is, even below zero.
 */
export function downtimeReport(
  quiescedAt: readonly string[],
  verifiedAt: readonly (string | undefined)[],
): DowntimeReport {
  if (quiescedAt.length === 0) throw new Error("downtime: no quiesce time");
  quiescedAt.forEach((t) => time(t, "quiescedAt"));
  verifiedAt.forEach((t) => t === undefined || time(t, "verifiedAt"));
  const start = quiescedAt.reduce((a, b) => (Date.parse(b) < Date.parse(a) ? b : a));
  if (verifiedAt.length === 0 || verifiedAt.some((v) => v === undefined)) {
    return { quiescedAt: start, lastVerifiedAt: null, seconds: null };
  }
  const times = verifiedAt as readonly string[];
  const end = times.reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));
  return {
    quiescedAt: start,
    lastVerifiedAt: end,
    seconds: Math.round((Date.parse(end) - Date.parse(start)) / 1000),
  };
}

/** downtimeReport over Outputs: every QuiescedStatefulSet's quiescedAt, every final copy's verifiedAt. */
export function downtimeOutput(
  quiescedAt: readonly pulumi.Input<string>[],
  verifiedAt: readonly pulumi.Input<string | undefined>[],
): pulumi.Output<DowntimeReport> {
  return pulumi
    .all([pulumi.all([...quiescedAt]), pulumi.all([...verifiedAt])])
    .apply(([q, v]) => downtimeReport(q, v));
}
