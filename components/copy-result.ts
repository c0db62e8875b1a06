// The copy scripts' interface as the program sees it: the settings each script reads and the
// JSON result it prints last, parsed into typed results. Pure; shared by both executors.
import type { Backup } from "./config";
import { awsTargetEnv, type S3Target } from "./credentials";
import { destinationUri } from "./layout";

/** What `copy-latest.sh` prints last. */
export interface LatestCopyResult {
  readonly kind: "latest";
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  /** The file copied, as the executor saw it (on the NFS server or in the Job's mount). */
  readonly source: string;
  /** The backup's time from its name, UTC ISO-8601. */
  readonly sourceTime: string;
  /** When the object was verified, UTC ISO-8601 (absent from results of older scripts). */
  readonly verifiedAt?: string;
}

/** What `sync-dir.sh` prints last. */
export interface TreeCopyResult {
  readonly kind: "tree";
  readonly bucket: string;
  readonly prefix: string;
  readonly files: number;
  readonly bytes: number;
  /** Files sent by this run. */
  readonly uploaded: number;
  /** Files already at the destination, not sent again. */
  readonly skipped: number;
  /** When the last verification finished, UTC ISO-8601 (absent from older scripts' results). */
  readonly verifiedAt?: string;
  /** How many shards copied the tree (1 when it was not split). */
  readonly shards?: number;
  /** The newest file's mtime, UTC ISO-8601 (absent from older scripts' results or empty trees). */
  readonly newest?: string;
  /**
   * The manifests next to the tree (one per shard, in shard order): key and SHA-256 of each
   * (absent from older scripts' results).
   */
  readonly manifests?: readonly Manifest[];
}

/** A tree's manifest object: JSON lines, one per file (path, size, mtime, ctime, sha256, etag). */
export interface Manifest {
  readonly key: string;
  readonly sha256: string;
}

/** What one shard of `sync-dir.sh` prints last: its part, and the whole tree's totals. */
export interface ShardResult {
  readonly bucket: string;
  readonly prefix: string;
  readonly files: number;
  readonly bytes: number;
  readonly uploaded: number;
  readonly skipped: number;
  readonly verifiedAt: string;
  readonly shard: number;
  readonly shards: number;
  readonly treeFiles: number;
  readonly treeBytes: number;
  readonly manifests?: readonly Manifest[];
}

export type CopyResult = LatestCopyResult | TreeCopyResult;

/** The script a backup kind runs. */
export function scriptFor(kind: Backup["kind"]): "copy-latest.sh" | "sync-dir.sh" {
  return kind === "latest" ? "copy-latest.sh" : "sync-dir.sh";
}

/**
 * Every script file an executor must ship for a kind (the script sources copy-common.sh;
 * sync-dir.sh runs its per-file passes from sync-dir.awk).
 */
export function scriptFiles(kind: Backup["kind"]): string[] {
  return kind === "latest"
    ? ["copy-latest.sh", "copy-common.sh"]
    : ["sync-dir.sh", "copy-common.sh", "sync-dir.awk"];
}

/**
 * The non-secret settings a backup's script reads (credentials come separately: secret stdin
 * or secretKeyRef). `sourceDir` is where the executor sees the backup's directory.
 */
export function copySettings(
  backup: Backup,
  target: S3Target,
  sourceDir: string,
): Record<string, string> {
  const env: Record<string, string> = {
    SOURCE_DIR: sourceDir,
    DEST_URI: destinationUri(target.bucket, backup.prefix),
    ...awsTargetEnv(target),
  };
  if (backup.kind === "tree" && backup.allowEmpty === true) env.ALLOW_EMPTY_TREE = "true";
  if (backup.kind === "tree" && backup.rehash === true) env.REHASH = "true";
  if (backup.kind === "latest") {
    env.PATTERN = backup.pattern;
    env.MIN_AGE_SECONDS = String(backup.minAgeSeconds);
    if (backup.select !== undefined) env.SELECT = backup.select;
    if (backup.notBefore !== undefined) env.NOT_BEFORE = backup.notBefore;
  }
  return env;
}

function lastLine(stdout: string): string {
  const lines = stdout
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "");
  return lines[lines.length - 1] ?? "";
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** The optional verifiedAt field: absent is fine (older script), malformed is an error. */
function verifiedAt(obj: Record<string, unknown>, what: string): { verifiedAt?: string } {
  const v = obj.verifiedAt;
  if (v === undefined) return {};
  if (typeof v !== "string" || !ISO_UTC.test(v)) {
    throw new Error(
      `${what}: result field "verifiedAt" must be UTC ISO-8601 like 2023-10-16T12:00:00Z, got ${JSON.stringify(v)}`,
    );
  }
  return { verifiedAt: v };
}

function fields(stdout: string, what: string): Record<string, unknown> {
  return object(lastLine(stdout), what);
}

function object(last: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    throw new Error(`${what}: expected the result JSON on the last stdout line, got "${last}"`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${what}: the result is not a JSON object: ${last}`);
  }
  return parsed as Record<string, unknown>;
}

function need<T extends "string" | "count">(
  obj: Record<string, unknown>,
  key: string,
  type: T,
  what: string,
): T extends "string" ? string : number {
  const v = obj[key];
  const ok =
    type === "string"
      ? typeof v === "string" && v !== ""
      : Number.isSafeInteger(v) && Number(v) >= 0;
  if (!ok) {
    throw new Error(
      `${what}: result field "${key}" must be ${type === "string" ? "a non-empty string" : "a whole number >= 0"}, got ${JSON.stringify(v)}`,
    );
  }
  return v as T extends "string" ? string : number;
}

/** Parses `copy-latest.sh` output; throws naming the backup if the result is malformed. */
export function parseLatestResult(stdout: string, backupName: string): LatestCopyResult {
  const what = `backup ${backupName}`;
  const o = fields(stdout, what);
  const sha256 = need(o, "sha256", "string", what);
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new Error(`${what}: result field "sha256" is not a hex SHA-256: ${sha256}`);
  }
  return {
    kind: "latest",
    bucket: need(o, "bucket", "string", what),
    key: need(o, "key", "string", what),
    size: need(o, "size", "count", what),
    sha256,
    source: need(o, "source", "string", what),
    sourceTime: need(o, "sourceTime", "string", what),
    ...verifiedAt(o, what),
  };
}

/** The optional manifestKey/manifestSha256 pair: both or neither; malformed is an error. */
function manifests(obj: Record<string, unknown>, what: string): { manifests?: Manifest[] } {
  if (obj.manifestKey === undefined && obj.manifestSha256 === undefined) return {};
  const key = need(obj, "manifestKey", "string", what);
  const sha256 = need(obj, "manifestSha256", "string", what);
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new Error(`${what}: result field "manifestSha256" is not a hex SHA-256: ${sha256}`);
  }
  return { manifests: [{ key, sha256 }] };
}

/** Parses `sync-dir.sh` output; throws naming the backup if the result is malformed. */
export function parseTreeResult(stdout: string, backupName: string): TreeCopyResult {
  const what = `backup ${backupName}`;
  const o = fields(stdout, what);
  const prefix = o.prefix;
  if (typeof prefix !== "string") {
    throw new Error(
      `${what}: result field "prefix" must be a string, got ${JSON.stringify(prefix)}`,
    );
  }
  const result: TreeCopyResult = {
    kind: "tree",
    bucket: need(o, "bucket", "string", what),
    prefix,
    files: need(o, "files", "count", what),
    bytes: need(o, "bytes", "count", what),
    uploaded: need(o, "uploaded", "count", what),
    skipped: need(o, "skipped", "count", what),
    ...verifiedAt(o, what),
    ...(typeof o.newest === "string" && ISO_UTC.test(o.newest) ? { newest: o.newest } : {}),
    ...manifests(o, what),
  };
  if (result.uploaded + result.skipped !== result.files) {
    throw new Error(
      `${what}: result counts disagree: uploaded ${result.uploaded} + skipped ${result.skipped} != files ${result.files}`,
    );
  }
  return result;
}

export function parseCopyResult(
  kind: Backup["kind"],
  stdout: string,
  backupName: string,
): CopyResult {
  return kind === "latest"
    ? parseLatestResult(stdout, backupName)
    : parseTreeResult(stdout, backupName);
}

/**
 * What the stack exports per backup: for a dump {bucket, key, size, sha256, sourceTime},
 * for a tree {bucket, prefix, files, bytes} and, from scripts that write one, manifestKey and
 * manifestSha256 (with shards: the shards' keys and checksums, space-separated in shard order;
 * keys have no spaces, the prefix syntax excludes them).
 */
export function exportedFields(result: CopyResult): Record<string, string | number> {
  if (result.kind === "latest") {
    const { bucket, key, size, sha256, sourceTime } = result;
    return { bucket, key, size, sha256, sourceTime };
  }
  const { bucket, prefix, files, bytes } = result;
  if (!result.manifests?.length) return { bucket, prefix, files, bytes };
  return {
    bucket,
    prefix,
    files,
    bytes,
    manifestKey: result.manifests.map((m) => m.key).join(" "),
    manifestSha256: result.manifests.map((m) => m.sha256).join(" "),
  };
}

/**
 * Parses the result lines of an Indexed Job's shards (one JSON line per succeeded pod, in any
 * order, other lines ignored) and merges them (see mergeShardResults).
 */
export function parseShardResults(
  stdout: string,
  shards: number,
  backupName: string,
): TreeCopyResult {
  const what = `backup ${backupName}`;
  const lines = stdout.split("\n").filter((l) => l.trim().startsWith("{"));
  const parsed = lines.map((line): ShardResult => {
    const tree = parseTreeResult(line, backupName);
    const o = object(line.trim(), what);
    const at = verifiedAt(o, what).verifiedAt;
    if (at === undefined) throw new Error(`${what}: shard result without "verifiedAt": ${line}`);
    return {
      ...tree,
      verifiedAt: at,
      shard: need(o, "shard", "count", what),
      shards: need(o, "shards", "count", what),
      treeFiles: need(o, "treeFiles", "count", what),
      treeBytes: need(o, "treeBytes", "count", what),
    };
  });
  return mergeShardResults(parsed, shards, backupName);
}

/**
 * One result for a tree copied in `shards` parts: the parts' counts added up, verifiedAt the
 * latest. Throws unless there is exactly one result per shard 0..shards-1, all for the same
 * destination and split, and the parts add up to the tree every shard saw (no gap, no overlap).
 */
export function mergeShardResults(
  results: readonly ShardResult[],
  shards: number,
  backupName: string,
): TreeCopyResult {
  const what = `backup ${backupName}`;
  const byShard = new Map<number, ShardResult>();
  for (const r of results) {
    if (r.shards !== shards) {
      throw new Error(
        `${what}: shard ${r.shard} was run as one of ${r.shards}, expected ${shards}`,
      );
    }
    if (byShard.has(r.shard)) throw new Error(`${what}: two results for shard ${r.shard}`);
    byShard.set(r.shard, r);
  }
  const absent = [...Array(shards).keys()].filter((i) => !byShard.has(i));
  if (absent.length > 0) {
    throw new Error(
      `${what}: no result for shard(s) ${absent.join(", ")} of ${shards}; their pods may be gone (ttlSecondsAfterFinished) - replace the Job to copy again`,
    );
  }
  const all = [...byShard.values()].sort((a, b) => a.shard - b.shard);
  const first = all[0]!;
  for (const r of all) {
    if (r.bucket !== first.bucket || r.prefix !== first.prefix) {
      throw new Error(
        `${what}: shards copied to different destinations (s3://${first.bucket}/${first.prefix}, s3://${r.bucket}/${r.prefix})`,
      );
    }
    if (r.treeFiles !== first.treeFiles || r.treeBytes !== first.treeBytes) {
      throw new Error(
        `${what}: shards saw different trees (${first.treeFiles} files/${first.treeBytes} bytes in shard ${first.shard}, ${r.treeFiles}/${r.treeBytes} in shard ${r.shard}); was it still changing? Copy again after quiesce`,
      );
    }
  }
  const sum = (f: (r: ShardResult) => number) => all.reduce((n, r) => n + f(r), 0);
  const merged: TreeCopyResult = {
    kind: "tree",
    bucket: first.bucket,
    prefix: first.prefix,
    files: sum((r) => r.files),
    bytes: sum((r) => r.bytes),
    uploaded: sum((r) => r.uploaded),
    skipped: sum((r) => r.skipped),
    verifiedAt: all.map((r) => r.verifiedAt).reduce((a, b) => (b > a ? b : a)),
    shards,
    ...(all.every((r) => r.manifests?.length)
      ? { manifests: all.flatMap((r) => r.manifests!) }
      : {}),
  };
  if (merged.files !== first.treeFiles || merged.bytes !== first.treeBytes) {
    throw new Error(
      `${what}: the shards' parts (${merged.files} files, ${merged.bytes} bytes) do not add up to the tree (${first.treeFiles} files, ${first.treeBytes} bytes)`,
    );
  }
  return merged;
}
