// The copy scripts' interface as the program sees it: the settings each script reads and the
// JSON result it prints last, parsed into typed results. Pure; shared by both executors.
import type { Backup } from "./config";
import type { S3Target } from "./credentials";
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
}

export type CopyResult = LatestCopyResult | TreeCopyResult;

/** The script a backup kind runs. */
export function scriptFor(kind: Backup["kind"]): "copy-latest.sh" | "sync-dir.sh" {
  return kind === "latest" ? "copy-latest.sh" : "sync-dir.sh";
}

/** Every script file an executor must ship for a kind (the script sources copy-common.sh). */
export function scriptFiles(kind: Backup["kind"]): string[] {
  return [scriptFor(kind), "copy-common.sh"];
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
    AWS_DEFAULT_REGION: target.region,
  };
  if (target.endpoint) env.AWS_ENDPOINT_URL = target.endpoint;
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

function fields(stdout: string, what: string): Record<string, unknown> {
  const last = lastLine(stdout);
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
  };
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
 * for a tree {bucket, prefix, files, bytes}.
 */
export function exportedFields(result: CopyResult): Record<string, string | number> {
  if (result.kind === "latest") {
    const { bucket, key, size, sha256, sourceTime } = result;
    return { bucket, key, size, sha256, sourceTime };
  }
  const { bucket, prefix, files, bytes } = result;
  return { bucket, prefix, files, bytes };
}
