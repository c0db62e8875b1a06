// How fresh each copy is: what the copy is told so it takes only fresh enough data, and the
// loss window it reports (`capturedAt`, `rpoSeconds`, the stack output `rpo`). Pure, but for
// finalCopySettings, which applies them to Outputs.
import * as pulumi from "@pulumi/pulumi";
import type { Backup } from "./config";
import type { CopyResult } from "./copy-result";
import type { RefreshVerdict } from "./refresh-verdict";

/** Per backup: when the copied data was captured and how many seconds of writes it may miss. */
export interface RpoEntry {
  /** UTC ISO-8601; null when nothing tells (a tree without refresh: see README). */
  readonly capturedAt: string | null;
  /** max(0, quiescedAt - capturedAt) in whole seconds; null when capturedAt is. */
  readonly rpoSeconds: number | null;
  /**
   * What capturedAt is: the dump's name, the live volume read after the quiesce, or the newest
   * file of a replica (its capture is no earlier, so the window reported is an upper bound).
   */
  readonly basis: "dump name" | "live volume at quiesce" | "newest file" | "unknown";
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function ms(value: string, what: string): number {
  if (!ISO.test(value)) throw new Error(`rpo: ${what} is not UTC ISO-8601: "${value}"`);
  return Date.parse(value);
}

/** UTC ISO-8601 to the second, as copy-latest.sh's NOT_BEFORE wants it. */
export function isoSeconds(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The quiesce time that counts for lost writes: the LAST StatefulSet at zero. */
export function lastQuiesce(times: readonly string[]): string {
  if (times.length === 0) throw new Error("rpo: no quiesce time");
  return times.reduce((a, b) => (ms(b, "quiescedAt") > ms(a, "quiescedAt") ? b : a));
}

/**
 * Settings for a dump's final copy that make it take only data captured late enough:
 * - refreshed: NOT_BEFORE = the refresh Job's start (every dump it made is named at or after
 *   it; the Job itself started after every quiesce) and MIN_AGE_SECONDS = 0 (the judge saw the
 *   pod finish, so the file is complete; the complete-dump check still runs);
 * - not refreshed: NOT_BEFORE = quiesce - maxRpoSeconds (or notBefore if later), so the copy
 *   fails before uploading when the newest dump (for a tree: its newest file) is older than the
 *   window allows.
 * Trees with refresh.liveVolume get SOURCE_DIR from their live volume instead.
 */
export function freshDumpSettings(
  backup: Backup,
  quiescedAt: string,
  verdict?: RefreshVerdict,
): Record<string, string> {
  if (verdict !== undefined) return { NOT_BEFORE: verdict.startTime, MIN_AGE_SECONDS: "0" };
  // A tree's NOT_BEFORE is checked by sync-dir.sh against its newest file.
  if (backup.maxRpoSeconds === undefined) {
    throw new Error(`backup ${backup.name}: neither refresh nor maxRpoSeconds is set`);
  }
  const window = isoSeconds(ms(quiescedAt, "quiescedAt") - backup.maxRpoSeconds * 1000);
  const notBefore =
    backup.notBefore !== undefined && backup.notBefore > window ? backup.notBefore : window;
  return backup.kind === "tree" ? { NOT_BEFORE: window } : { NOT_BEFORE: notBefore };
}

/** The loss window of one copy, from its result and the last quiesce time. */
export function rpoEntry(backup: Backup, result: CopyResult, quiescedAt: string): RpoEntry {
  const q = ms(quiescedAt, "quiescedAt");
  let capturedAt: string | null = null;
  let basis: RpoEntry["basis"] = "unknown";
  if (result.kind === "latest") {
    capturedAt = result.sourceTime;
    basis = "dump name";
  } else if (backup.refresh?.liveVolume !== undefined) {
    // The copy read the live volume after every writer was gone: it holds the state at quiesce.
    capturedAt = quiescedAt;
    basis = "live volume at quiesce";
  } else if (result.newest !== undefined) {
    capturedAt = result.newest;
    basis = "newest file";
  }
  const rpoSeconds =
    capturedAt === null
      ? null
      : Math.max(0, Math.round((q - ms(capturedAt, `capturedAt of ${backup.name}`)) / 1000));
  return { capturedAt, rpoSeconds, basis };
}

/** A tree's SOURCE_DIR from its live volume (refresh.liveVolume), or nothing. */
export function liveVolumeSettings(
  liveDir?: pulumi.Input<string>,
): pulumi.Output<Record<string, string>> {
  return liveDir === undefined
    ? pulumi.output<Record<string, string>>({})
    : pulumi.output(liveDir).apply((dir): Record<string, string> => ({ SOURCE_DIR: dir }));
}

/** What a backup's final copy is told at run time (see freshDumpSettings), as an Output. */
export function finalCopySettings(
  backup: Backup,
  quiescedAt: pulumi.Input<string>,
  verdict?: pulumi.Input<RefreshVerdict>,
  liveDir?: pulumi.Input<string>,
): pulumi.Output<Record<string, string>> {
  if (backup.kind === "tree" && liveDir !== undefined) return liveVolumeSettings(liveDir);
  return pulumi
    .all([quiescedAt, verdict])
    .apply(([q, v]) => freshDumpSettings(backup, q, v as RefreshVerdict | undefined));
}
