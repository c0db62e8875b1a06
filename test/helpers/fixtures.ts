// Fixture backups and trees for the copy script tests, and small S3 helpers over the aws CLI.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { run } from "./run";

export const SCRIPTS = path.join(__dirname, "..", "..", "scripts");

/** `backup-2023-10-16T12:07:01Z-dumpall.sql.gz` */
export function backupName(time: string): string {
  return `backup-${time}-dumpall.sql.gz`;
}

/** UTC ISO-8601 to the second, `offsetSeconds` from now. */
export function isoTime(offsetSeconds = 0): string {
  return new Date(Date.now() + offsetSeconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export function setAge(file: string | Buffer, ageSeconds: number): void {
  const t = (Date.now() - ageSeconds * 1000) / 1000;
  utimesSync(file, t, t);
}

/** pg_dumpall's first lines (PostgreSQL 15). */
export const DUMPALL_HEADER = "--\n-- PostgreSQL database cluster dump\n--\n\n";
/** pg_dumpall's last lines (PostgreSQL 15.18: no `\unrestrict` after the cluster trailer). */
export const DUMPALL_TRAILER = "\n--\n-- PostgreSQL database cluster dump complete\n--\n\n";

/**
 * The text of a complete pg_dumpall around `content` (copy-latest.sh takes only those): a
 * string as it is, bytes as base64 lines (about as big once gzipped; a dump is text, and NUL
 * bytes near its end would make it no dump).
 */
export function dumpText(content: string | Buffer): Buffer {
  const body =
    typeof content === "string"
      ? content
      : (content.toString("base64").match(/.{1,76}/g) ?? []).join("\n");
  return Buffer.from(DUMPALL_HEADER + body + DUMPALL_TRAILER);
}

/** Writes a gzipped complete dump of `content` named after `time`, modified `ageSeconds` ago
 * (default 1 h). */
export function writeBackup(
  dir: string,
  time: string,
  content: string | Buffer,
  ageSeconds = 3600,
): string {
  const file = path.join(dir, backupName(time));
  writeFileSync(file, gzipSync(dumpText(content)));
  setAge(file, ageSeconds);
  return file;
}

/** A file named like a backup that is not gzip (truncated upload, disk full...). */
export function writeCorruptBackup(dir: string, time: string, ageSeconds = 3600): string {
  const file = path.join(dir, backupName(time));
  writeFileSync(file, gzipSync(`dump at ${time}\n`.repeat(100)).subarray(0, 50));
  setAge(file, ageSeconds);
  return file;
}

export interface TreeFile {
  readonly rel: string;
  readonly size: number;
}

/**
 * The media-like tree: names with ':', spaces and non-ASCII, an empty directory, a 0-byte
 * file, one file over the multipart threshold the tests set (8 MiB), links pointing out of
 * and within the tree. Returns the regular files (what must arrive), with sizes.
 */
export function writeMediaTree(root: string, bigBytes = 12 * 1024 * 1024): TreeFile[] {
  const files: [string, Buffer][] = [
    ["backup-2023-10-16T12:07:01Z.txt", Buffer.from("colons\n")],
    ["with space/file name.pdb", Buffer.from("ATOM      1  N   MET A   1\n".repeat(40))],
    ["ünïcødé/マップ ✓.map", randomBytes(3000)],
    ["deep/a/b/c/d.txt", Buffer.from("deep\n")],
    ["zero-bytes.bin", Buffer.alloc(0)],
    ["big/over-multipart.bin", randomBytes(bigBytes)],
  ];
  for (const [rel, data] of files) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), data);
  }
  mkdirSync(path.join(root, "empty-dir"), { recursive: true });
  symlinkSync("/etc/hostname", path.join(root, "link-out-of-tree"));
  symlinkSync("../zero-bytes.bin", path.join(root, "deep", "link-in-tree"));
  // Written an hour ago, like real media: S3's LastModified has whole seconds, and the CLI
  // re-sends a file whose mtime is later than it (one written in the second of its upload).
  ageTree(root);
  return files.map(([rel, data]) => ({ rel, size: data.length }));
}

/** `count` small files in `dirs` subdirectories (for runs long enough to interrupt). */
export function writeManyFiles(root: string, count: number, bytes = 16 * 1024): TreeFile[] {
  const out: TreeFile[] = [];
  for (let i = 0; i < count; i++) {
    const rel = `set-${i % 10}/file ${String(i).padStart(4, "0")}.bin`;
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), randomBytes(bytes));
    out.push({ rel, size: bytes });
  }
  ageTree(root);
  return out;
}

/** Names, types, modes, sizes and mtimes of everything under `root` (links not followed, any
 * bytes in names): to prove that a run wrote nothing there. */
export function snapshotTree(root: string): string[] {
  const out = execFileSync("find", [root, "-printf", "%P %y %m %s %T@\\0"]);
  return out.toString("latin1").split("\0").sort();
}

/** Sets every file's mtime under `root` to `ageSeconds` ago (fixtures are "old" media). */
function ageTree(root: string, ageSeconds = 3600): void {
  const out = execFileSync("find", [root, "-type", "f", "-print0"]).toString("latin1");
  for (const file of out.split("\0").filter(Boolean))
    setAge(Buffer.from(file, "latin1"), ageSeconds);
}

export interface S3Object {
  readonly Key: string;
  readonly Size: number;
  readonly LastModified: string;
  readonly ETag: string;
}

/** Every object under a prefix (aws CLI, JSON output). */
export async function listObjects(
  env: Record<string, string>,
  bucket: string,
  prefix: string,
): Promise<S3Object[]> {
  const r = await run(
    "aws",
    ["s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix, "--output", "json"],
    { env },
  );
  if (r.code !== 0) throw new Error(`list-objects-v2 failed: ${r.stderr}`);
  if (r.stdout.trim() === "") return [];
  return ((JSON.parse(r.stdout) as { Contents?: S3Object[] }).Contents ?? []).sort((a, b) =>
    a.Key < b.Key ? -1 : 1,
  );
}

export async function createBucket(env: Record<string, string>, bucket: string): Promise<void> {
  const r = await run("aws", ["s3api", "create-bucket", "--bucket", bucket], {
    env: {
      ...env,
      // us-east-1 needs no location constraint; moto accepts the bucket in any region then.
      AWS_DEFAULT_REGION: "us-east-1",
    },
  });
  if (r.code !== 0) throw new Error(`create-bucket ${bucket} failed: ${r.stderr}`);
}

export async function headObject(
  env: Record<string, string>,
  bucket: string,
  key: string,
): Promise<Record<string, any>> {
  const r = await run("aws", ["s3api", "head-object", "--bucket", bucket, "--key", key], { env });
  if (r.code !== 0) throw new Error(`head-object ${key} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, any>;
}

/** Downloads an object into a file and returns its bytes. */
export async function getObject(
  env: Record<string, string>,
  bucket: string,
  key: string,
  file: string,
): Promise<Buffer> {
  const r = await run("aws", ["s3api", "get-object", "--bucket", bucket, "--key", key, file], {
    env,
  });
  if (r.code !== 0) throw new Error(`get-object ${key} failed: ${r.stderr}`);
  return readFileSync(file);
}

/** Puts bytes at a key (to prepare conflicts and leftovers). */
export async function putObject(
  env: Record<string, string>,
  bucket: string,
  key: string,
  file: string,
  extra: string[] = [],
): Promise<void> {
  const r = await run(
    "aws",
    ["s3api", "put-object", "--bucket", bucket, "--key", key, "--body", file, ...extra],
    { env },
  );
  if (r.code !== 0) throw new Error(`put-object ${key} failed: ${r.stderr}`);
}
