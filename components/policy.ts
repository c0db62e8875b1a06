// The copy identity's IAM policy as data: a pure function of the config, used by the stack
// (S3Access), printed by `npm run -s policy` for review, and proven against moto's IAM engine.
import type { RelocationConfig } from "./config";
import { writablePrefixes } from "./layout";

/** One IAM policy statement (the subset of the grammar this project writes). */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow";
  readonly Action: string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string[]>>;
}

export interface PolicyDocument {
  readonly Version: "2012-10-17";
  readonly Statement: PolicyStatement[];
}

/**
 * Object actions, each on `<bucket>/<prefix>*` only:
 * - PutObject also authorises CreateMultipartUpload, UploadPart, CompleteMultipartUpload, and
 *   metadata / `--sse AES256` headers on the upload;
 * - GetObject also authorises HeadObject;
 * - AbortMultipartUpload / ListMultipartUploadParts let the CLI clean up and resume its own
 *   multipart uploads (an abort discards unfinished parts, never a stored object).
 * Deliberately absent: every Delete*, Put*Acl, Put*Tagging, GetObjectVersion, bucket settings.
 */
export const OBJECT_ACTIONS = [
  "s3:AbortMultipartUpload",
  "s3:GetObject",
  "s3:ListMultipartUploadParts",
  "s3:PutObject",
] as const;

/** Bucket actions, limited by the `s3:prefix` condition to keys under the prefixes. */
export const LIST_ACTIONS = ["s3:ListBucket"] as const;

/**
 * Bucket actions granted without a condition: ListBucketMultipartUploads lets sync-dir.sh find
 * the incomplete multipart uploads a killed or cut-off upload left (billed, invisible to object
 * listings) and abort them. `s3:prefix` is documented as a condition key of ListBucket; this
 * grant does not rely on it for this action. What it shows beyond the prefixes: the keys and
 * upload IDs of other unfinished uploads in this bucket, never content; aborting them stays
 * refused (AbortMultipartUpload is granted under the prefixes only).
 */
export const UPLOAD_LIST_ACTIONS = ["s3:ListBucketMultipartUploads"] as const;

/** `aws`, `aws-cn` or `aws-us-gov`: the ARN partition of a region. */
export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

/** `arn:aws:s3:::bucket`. */
export function bucketArn(bucket: string, region = "eu-central-1"): string {
  return `arn:${partitionOf(region)}:s3:::${bucket}`;
}

/**
 * The least-privilege policy for the copy and env-dump identity: write, read back and list
 * exactly the given prefixes of one bucket, and nothing else. Prefixes end in "/" (the config
 * schema enforces it), so `a/*` never matches the sibling prefix `a-old/`.
 */
export function policyDocumentFor(
  bucket: string,
  prefixes: readonly string[],
  region = "eu-central-1",
): PolicyDocument {
  if (prefixes.length === 0) throw new Error("policyDocumentFor: no prefixes to grant");
  for (const p of prefixes) {
    if (!p.endsWith("/") || p.startsWith("/") || p.includes("*") || p.includes("?")) {
      throw new Error(
        `policyDocumentFor: prefix "${p}" must end in "/", not start with "/", and hold no "*" or "?"`,
      );
    }
  }
  const unique = [...new Set(prefixes)];
  const arn = bucketArn(bucket, region);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ObjectsUnderPrefixes",
        Effect: "Allow",
        Action: [...OBJECT_ACTIONS],
        Resource: unique.map((p) => `${arn}/${p}*`),
      },
      {
        Sid: "ListUnderPrefixes",
        Effect: "Allow",
        Action: [...LIST_ACTIONS],
        Resource: arn,
        Condition: { StringLike: { "s3:prefix": unique.map((p) => `${p}*`) } },
      },
      {
        Sid: "ListIncompleteUploads",
        Effect: "Allow",
        Action: [...UPLOAD_LIST_ACTIONS],
        Resource: arn,
      },
    ],
  };
}

/** The policy the stack attaches to its copy identity, from the stack's config. */
export function copyPolicyDocument(config: RelocationConfig): PolicyDocument {
  return policyDocumentFor(config.bucket.name, writablePrefixes(config), config.aws.region);
}

/** The document as IAM and reviewers see it (2-space JSON). */
export function policyJson(document: PolicyDocument): string {
  return JSON.stringify(document, null, 2);
}
