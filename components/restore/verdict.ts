// The restore verdict (issue 19): is what the new cluster holds the old side's data? Pure: each
// restored server's fingerprint summary against the one the backup stack recorded right after
// that dump (`fingerprints`), and each restored media tree's files and bytes against the backup's
// tree entry; out comes a verdict per backup and database, and `ok`.
import type { BackupsOutput, FingerprintsOutput } from "../shared/outputs";

/** One database's fingerprint summary (scripts/restore/fingerprint.sh FINGERPRINT_SUMMARY_JSON). */
export interface DatabaseSummary {
  readonly tables: number;
  readonly rows: number;
  readonly sha256: string;
}

/** What the summaries compare: the content hash covers every table's rows and name. */
export const COMPARED = ["tables", "rows", "sha256"] as const;
export type Compared = (typeof COMPARED)[number];
/** What a media tree compares. */
const COUNTS = ["files", "bytes"] as const;

/**
 * One database, by name, on the two servers. For a whole-server dump both sides fingerprint
 * every non-template database that accepts connections (`postgres` included, template0/template1
 * never), so names match up. For a single-database dump (pg_dump) only the restored database is
 * compared, with the old side's fingerprint of the same name: the old server's other databases
 * are not in the dump (`notCompared`), and the restored one must be there at dump time (else
 * `extra`, even without tables: it is the restored data, not the new server's own).
 *   equal        on both, tables, rows and sha256 equal;
 *   differs      on both, `differs` lists what is not equal;
 *   missing      on the old server at dump time, not on the restored one;
 *   extra        only on the restored server, holding tables the old one did not have;
 *   extra-empty  only on the restored server, without a table (the new server's own database,
 *                e.g. one its image created at first start): nothing of the old data is there.
 */
export type DatabaseVerdict =
  | { readonly status: "equal"; readonly tables: number; readonly rows: number }
  | {
      readonly status: "differs";
      readonly differs: Compared[];
      readonly old: DatabaseSummary;
      readonly restored: DatabaseSummary;
    }
  | { readonly status: "missing"; readonly old: DatabaseSummary }
  | { readonly status: "extra" | "extra-empty"; readonly restored: DatabaseSummary };

/**
 * One restored dump. `unverified`: nothing to compare with (`reason` says why); the restore
 * itself was checked (the object's sha256), not its data against the old server.
 */
export type DumpVerdict =
  | {
      readonly status: "equal" | "differs";
      /** "namespace/statefulSet" it was restored into. */
      readonly database: string;
      /** When the old side's fingerprint read began (UTC ISO-8601). */
      readonly fingerprintAt: string;
      readonly databases: Record<string, DatabaseVerdict>;
      /** A single-database dump: the old server's other databases, which it does not hold. */
      readonly notCompared?: string[];
    }
  | { readonly status: "unverified"; readonly database: string; readonly reason: string };

/** What a media restore reports (its counts of the tree as restored). */
export interface MediaResult {
  readonly files: number;
  readonly bytes: number;
}

/** One restored media tree against the backup's tree entry. */
export interface MediaVerdict {
  readonly status: "equal" | "differs";
  /** The tree entry's counts (the copy's), or null when the backup has no tree entry. */
  readonly expected: MediaResult | null;
  readonly restored: MediaResult;
}

export interface RestoreVerdict {
  /** Nothing differs, is missing or extra (unverified dumps do not count against it). */
  readonly ok: boolean;
  /** Backups restored without a fingerprint to compare with (the operator's decision). */
  readonly unverified: string[];
  readonly dumps: Record<string, DumpVerdict>;
  readonly media: Record<string, MediaVerdict>;
}

export interface VerdictInput {
  /** Per restored backup: the database it went into and the restore Job's summary. */
  readonly restored: Record<
    string,
    {
      readonly database: string;
      readonly summary: Record<string, DatabaseSummary>;
      /** "database": a single-database dump restored into `databaseName`. @default "cluster" */
      readonly kind?: "cluster" | "database";
      readonly databaseName?: string;
    }
  >;
  /** The source stack's `backups` output (each dump's sourceTime; the trees' counts). */
  readonly backups: BackupsOutput;
  /** The source stack's `fingerprints` output; undefined when the stack has none. */
  readonly fingerprints: FingerprintsOutput | undefined;
  /** Per restored media tree, what its restore reports. @default {} */
  readonly media?: Record<string, MediaResult>;
}

function compareDatabase(
  old: DatabaseSummary | undefined,
  restored: DatabaseSummary | undefined,
  restoredFromDump: boolean,
): DatabaseVerdict {
  if (restored === undefined) return { status: "missing", old: old! };
  if (old === undefined) {
    return {
      status: restored.tables === 0 && !restoredFromDump ? "extra-empty" : "extra",
      restored,
    };
  }
  const differs = COMPARED.filter((k) => old[k] !== restored[k]);
  return differs.length === 0
    ? { status: "equal", tables: restored.tables, rows: restored.rows }
    : { status: "differs", differs, old, restored };
}

function compareDump(backup: string, input: VerdictInput): DumpVerdict {
  const { database, summary, kind, databaseName } = input.restored[backup]!;
  if (input.fingerprints === undefined) {
    return {
      status: "unverified",
      database,
      reason:
        "no fingerprint recorded: the source stack has no fingerprints output (its program predates it)",
    };
  }
  const fingerprint = input.fingerprints[backup];
  if (fingerprint === undefined) {
    return {
      status: "unverified",
      database,
      reason:
        "no fingerprint recorded: the backup stack fingerprints refreshed dumps only (refresh.cronJob)",
    };
  }
  const entry = input.backups[backup];
  const sourceTime = entry && "sourceTime" in entry ? entry.sourceTime : undefined;
  // Both are UTC ISO-8601 to the second: text order is time order. A dump made after the
  // fingerprint's read began holds writes the fingerprint never saw.
  if (sourceTime !== undefined && fingerprint.at < sourceTime) {
    return {
      status: "unverified",
      database,
      reason: `the fingerprint (read at ${fingerprint.at}) is older than the dump restored (${sourceTime}): it describes an earlier state`,
    };
  }
  const only = kind === "database" ? databaseName : undefined;
  const names =
    only !== undefined
      ? [only]
      : [...new Set([...Object.keys(fingerprint.databases), ...Object.keys(summary)])].sort();
  const databases = Object.fromEntries(
    names.map((db) => [
      db,
      compareDatabase(fingerprint.databases[db], summary[db], only !== undefined),
    ]),
  );
  const bad = Object.values(databases).some((d) => !databaseOk(d));
  const status = bad ? "differs" : "equal";
  if (only === undefined) return { status, database, fingerprintAt: fingerprint.at, databases };
  const notCompared = Object.keys(fingerprint.databases)
    .filter((db) => db !== only)
    .sort();
  return { status, database, fingerprintAt: fingerprint.at, databases, notCompared };
}

function databaseOk(d: DatabaseVerdict): boolean {
  return d.status === "equal" || d.status === "extra-empty";
}

function compareMedia(backup: string, result: MediaResult, backups: BackupsOutput): MediaVerdict {
  const entry = backups[backup];
  const restored = { files: result.files, bytes: result.bytes };
  if (entry === undefined || !("prefix" in entry)) {
    return { status: "differs", expected: null, restored };
  }
  const expected = { files: entry.files, bytes: entry.bytes };
  const equal = expected.files === restored.files && expected.bytes === restored.bytes;
  return { status: equal ? "equal" : "differs", expected, restored };
}

/** The verdict; throws nothing: a difference is in the result (`ok` false), see verdictFailure. */
export function restoreVerdict(input: VerdictInput): RestoreVerdict {
  const backupsRestored = Object.keys(input.restored).sort();
  const dumps = Object.fromEntries(backupsRestored.map((b) => [b, compareDump(b, input)]));
  const media = Object.fromEntries(
    Object.keys(input.media ?? {})
      .sort()
      .map((b) => [b, compareMedia(b, input.media![b]!, input.backups)]),
  );
  const ok =
    Object.values(dumps).every((d) => d.status !== "differs") &&
    Object.values(media).every((m) => m.status === "equal");
  const unverified = backupsRestored.filter((b) => dumps[b]!.status === "unverified");
  return { ok, unverified, dumps, media };
}

function describeDatabase(d: DatabaseVerdict): string {
  const fp = (s: DatabaseSummary) => `${s.tables} tables, ${s.rows} rows`;
  switch (d.status) {
    case "differs":
      return d.differs
        .map((k) =>
          k === "sha256"
            ? "content sha256 differs"
            : `${k} ${d.restored[k]} restored, ${d.old[k]} at dump time`,
        )
        .join(", ");
    case "missing":
      return `not on the restored server (at dump time: ${fp(d.old)})`;
    case "extra":
      return `only on the restored server (${fp(d.restored)}), not on the old one at dump time`;
    default:
      return d.status;
  }
}

/**
 * ONE line naming every backup, database and media tree that is not equal, and what differs;
 * undefined when the verdict is ok.
 */
export function verdictFailure(verdict: RestoreVerdict): string | undefined {
  if (verdict.ok) return undefined;
  const problems: string[] = [];
  for (const [backup, dump] of Object.entries(verdict.dumps)) {
    if (dump.status !== "differs") continue;
    for (const [db, d] of Object.entries(dump.databases)) {
      if (databaseOk(d)) continue;
      problems.push(`backup ${backup} (${dump.database}), database ${db}: ${describeDatabase(d)}`);
    }
  }
  for (const [backup, m] of Object.entries(verdict.media)) {
    if (m.status === "equal") continue;
    problems.push(
      m.expected === null
        ? `media backup ${backup}: the source's backups output has no tree entry for it`
        : `media backup ${backup}: ${COUNTS.filter((k) => m.expected![k] !== m.restored[k])
            .map((k) => `${k} ${m.restored[k]} restored, ${m.expected![k]} in the backup`)
            .join(", ")}`,
    );
  }
  return `restore verdict: the restored data is not the old side's: ${problems.join("; ")}; do not scale up on it: see README "The restore verdict"`;
}

/** One warning line per unverified dump (the operator decides whether to go on). */
export function unverifiedWarnings(verdict: RestoreVerdict): string[] {
  return verdict.unverified.map((backup) => {
    const d = verdict.dumps[backup]!;
    return `restore verdict: backup ${backup} (${d.database}) is unverified: ${d.status === "unverified" ? d.reason : ""}; its dump's sha256 was checked, its data was not compared with the old server`;
  });
}
