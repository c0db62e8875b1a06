// The contract between the two sides: the shape of the first (backup) stack's `backups` output
// as the restore side reads it. Both sides import this schema; a change here is a change of
// both, and test/unit/outputs.test.ts checks the backup side's real output against it.
import { z } from "zod";

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "a lower-case hex SHA-256");
const isoUtc = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, "UTC ISO-8601 like 2023-10-16T12:00:00Z");
const count = z.number().int().nonnegative();
/** How old the copied data may be: both null when the capture time is unknown. */
const rpo = {
  capturedAt: isoUtc.nullable(),
  rpoSeconds: count.nullable(),
};

/** A dump (`kind: latest`): one object, restored only if its size and sha256 still match. */
export const dumpEntry = z.strictObject({
  bucket: z.string().min(1),
  key: z.string().min(1),
  size: count,
  sha256,
  /** The dump's time from its file name. */
  sourceTime: isoUtc,
  ...rpo,
});

/**
 * A tree (`kind: tree`): every file under a prefix. manifestKey/manifestSha256 (both or neither)
 * are today one string each, space-separated in shard order; manifests() splits them.
 */
export const treeEntry = z
  .strictObject({
    bucket: z.string().min(1),
    prefix: z.string().regex(/^(|.*\/)$/, "empty or ending in '/'"),
    files: count,
    bytes: count,
    manifestKey: z
      .string()
      .regex(/^\S+( \S+)*$/, "object keys separated by single spaces")
      .optional(),
    manifestSha256: z
      .string()
      .regex(/^[0-9a-f]{64}( [0-9a-f]{64})*$/, "hex SHA-256s separated by single spaces")
      .optional(),
    ...rpo,
  })
  .refine(
    (t) =>
      (t.manifestKey === undefined) === (t.manifestSha256 === undefined) &&
      (t.manifestKey ?? "").split(" ").length === (t.manifestSha256 ?? "").split(" ").length,
    { message: "manifestKey and manifestSha256 go together, one checksum per key" },
  );

/** The whole `backups` output: by backup name, a dump or a tree. */
export const backupsOutput = z.record(z.string().min(1), z.union([dumpEntry, treeEntry]));

/**
 * One database's fingerprint summary (scripts/restore/fingerprint.sh FINGERPRINT_SUMMARY_JSON):
 * its table count, row count and the sha256 of its per-table {rows, sha256} text.
 */
export const databaseFingerprint = z.strictObject({ tables: count, rows: count, sha256 });

/**
 * The old server's fingerprint for a refreshed dump, taken right after the dump while nothing
 * writes (scripts/fingerprint-old.sh): what the restore of that dump must reproduce.
 */
export const oldFingerprint = z.strictObject({
  databases: z.record(z.string(), databaseFingerprint),
  /** When the fingerprint's read began. */
  at: isoUtc,
});

/** The whole `fingerprints` output: by backup name (refreshed dumps only). */
export const fingerprintsOutput = z.record(z.string().min(1), oldFingerprint);

export type DumpEntry = z.infer<typeof dumpEntry>;
export type OldFingerprint = z.infer<typeof oldFingerprint>;
export type FingerprintsOutput = z.infer<typeof fingerprintsOutput>;
export type TreeEntry = z.infer<typeof treeEntry>;
export type BackupsOutput = z.infer<typeof backupsOutput>;

export function isDump(entry: DumpEntry | TreeEntry): entry is DumpEntry {
  return "key" in entry;
}

/** A tree's manifests as a list of {key, sha256}, in shard order (empty without manifests). */
export function manifests(tree: TreeEntry): { key: string; sha256: string }[] {
  if (tree.manifestKey === undefined || tree.manifestSha256 === undefined) return [];
  const sums = tree.manifestSha256.split(" ");
  return tree.manifestKey.split(" ").map((key, i) => ({ key, sha256: sums[i]! }));
}

/**
 * Parses the `backups` output (the object, or its JSON text from `pulumi stack output --json`);
 * throws one error listing every problem with its path.
 */
export function parseBackupsOutput(value: unknown): BackupsOutput {
  const input = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  const parsed = backupsOutput.safeParse(input);
  if (!parsed.success) {
    throw new Error(
      "the backups output does not match the contract:\n" +
        parsed.error.issues.map((i) => `  backups.${i.path.join(".")}: ${i.message}`).join("\n"),
    );
  }
  return parsed.data;
}

/** The `originalReplicas` output: replicas before the quiesce, by "namespace/statefulSet". */
export const originalReplicasOutput = z.record(
  z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    error: '"namespace/statefulSet"',
  }),
  count,
);
export type OriginalReplicas = z.infer<typeof originalReplicasOutput>;

/** Parses the `fingerprints` output (object or JSON text); one error listing every problem. */
export function parseFingerprintsOutput(value: unknown): FingerprintsOutput {
  const input = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  const parsed = fingerprintsOutput.safeParse(input);
  if (!parsed.success) {
    throw new Error(
      "the fingerprints output does not match the contract:\n" +
        parsed.error.issues
          .map((i) => `  fingerprints.${i.path.join(".")}: ${i.message}`)
          .join("\n"),
    );
  }
  return parsed.data;
}
