// The one place that owns the S3 key layout: backup prefixes, object keys and env-dump paths.
// The IAM policy, the scripts' destinations and the stack outputs all ask this module.
import type { RelocationConfig } from "./config";

/** `s3://bucket/prefix/`, the destination URI the copy scripts take as DEST_URI. */
export function destinationUri(bucket: string, prefix: string): string {
  return `s3://${bucket}/${prefix}`;
}

/** Every prefix this stack writes under: one per backup, then the env-dump prefix. */
export function writablePrefixes(config: RelocationConfig): string[] {
  return [...config.backups.map((b) => b.prefix), config.envDump.prefix];
}

/** Where one pod's `env` output is stored. */
export function envDumpKey(prefix: string, namespace: string, pod: string): string {
  return `${prefix}${namespace}/${pod}.env`;
}

/** Where one namespace's manifest snapshot is stored. */
export function manifestKey(prefix: string, namespace: string): string {
  return `${prefix}${namespace}/manifests.yaml`;
}
