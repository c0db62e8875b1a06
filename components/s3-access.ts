// Where the backups go and who may write them: the bucket, its prefixes and a least-privilege
// identity (managed mode), or credentials someone handed over (bring-your-own mode).
//
// Managed (`aws.manage: true`): an explicit aws.Provider; the bucket is referenced by name (no
// read, no mutation: reading an existing bucket needs a dozen GetBucket* rights the operator may
// not have on a bucket owned elsewhere) or, with `createBucket`, created encrypted, private,
// versioned and protected; one zero-byte marker object per prefix so prefixes show in preview;
// an IAM user with exactly `policyDocumentFor(bucket, prefixes)` and an access key.
//
// Prefix markers: the key is exactly the prefix ("production-stack-db/"). Every object the copy
// scripts write is `<prefix><file>` with a non-empty file part, so a marker can never replace a
// backup; the only object it can overwrite is an existing zero-byte "folder" object at the same
// key (as the S3 console creates), with identical content (a new version if versioning is on).
// Markers are `retainOnDelete`: destroy leaves them, and never removes anything under a prefix.
//
// Bring-your-own (`aws.manage: false`): registers no @pulumi/aws provider, resource or invoke
// (the local sandbox has no aws plugin); bucket and prefixes are taken as given and the access
// key comes from the secret settings awsAccessKeyId / awsSecretAccessKey.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { secretSetting } from "./config";
import type { S3Credentials, S3Target } from "./credentials";
import { bucketArn, policyDocumentFor, policyJson } from "./policy";

export interface S3AccessArgs {
  /** The bucket's name, e.g. "im-fragalysis". */
  readonly bucket: string;
  /** Every prefix the copies and env dumps write under (from layout's `writablePrefixes`). */
  readonly prefixes: readonly string[];
  /** AWS region of the bucket, e.g. "eu-central-1". */
  readonly region: string;
  /** S3 (and IAM/STS) endpoint of an S3-compatible store or a test server. @default AWS's own */
  readonly endpoint?: string;
  /** Declare bucket, prefixes and identity with @pulumi/aws; false = bring your own. @default true */
  readonly manage?: boolean;
  /** Create the bucket (managed mode only) instead of referencing an existing one. @default false */
  readonly createBucket?: boolean;
  /**
   * Bring-your-own mode only: the access key to use.
   * @default the secret settings awsAccessKeyId and awsSecretAccessKey
   */
  readonly credentials?: S3Credentials;
}

/** Logical name of a prefix's marker object: "production-stack-db/" -> "<name>-prefix-production-stack-db". */
export function markerName(name: string, prefix: string): string {
  return `${name}-prefix-${prefix.replace(/\/$/, "")}`;
}

export class S3Access extends pulumi.ComponentResource {
  /** The access key the copies and env dumps use; both fields secret. */
  public readonly credentials: S3Credentials;
  /** Bucket, region and endpoint the scripts send requests to. */
  public readonly target: S3Target;
  /** The prefixes granted (and, in managed mode, declared). */
  public readonly prefixes: string[];
  /** The IAM policy document (JSON) the identity has, or in bring-your-own mode needs. */
  public readonly policyDocument: pulumi.Output<string>;
  /** The managed IAM user's name; undefined in bring-your-own mode. */
  public readonly userName: pulumi.Output<string | undefined>;

  constructor(name: string, args: S3AccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:s3:S3Access", name, {}, opts);
    const manage = args.manage ?? true;
    if (!manage && args.createBucket) {
      throw new pulumi.ResourceError(
        `${name}: bucket.create needs aws.manage: true; set bucket.create: false to use an existing bucket with your own credentials`,
        this,
      );
    }
    if (manage && args.credentials) {
      throw new pulumi.ResourceError(
        `${name}: credentials are only taken in bring-your-own mode; set aws.manage: false or drop the awsAccessKeyId/awsSecretAccessKey settings`,
        this,
      );
    }
    this.prefixes = [...args.prefixes];
    const document = policyDocumentFor(args.bucket, this.prefixes, args.region);
    this.policyDocument = pulumi.output(policyJson(document));
    this.target = {
      bucket: args.bucket,
      region: args.region,
      ...(args.endpoint ? { endpoint: args.endpoint } : {}),
    };

    if (manage) {
      const managed = this.declare(name, args, this.policyDocument);
      this.credentials = managed.credentials;
      this.userName = managed.userName;
    } else {
      const given = args.credentials ?? {
        accessKeyId: secretSetting("awsAccessKeyId"),
        secretAccessKey: secretSetting("awsSecretAccessKey"),
      };
      this.credentials = {
        accessKeyId: pulumi.secret(given.accessKeyId),
        secretAccessKey: pulumi.secret(given.secretAccessKey),
      };
      this.userName = pulumi.output(undefined);
    }

    this.registerOutputs({
      credentials: this.credentials,
      target: this.target,
      prefixes: this.prefixes,
      policyDocument: this.policyDocument,
      userName: this.userName,
    });
  }

  /** Managed mode: provider, bucket (referenced or created), prefix markers, user, policy, key. */
  private declare(
    name: string,
    args: S3AccessArgs,
    policy: pulumi.Output<string>,
  ): { credentials: S3Credentials; userName: pulumi.Output<string | undefined> } {
    const provider = new aws.Provider(
      `${name}-provider`,
      {
        region: args.region,
        ...(args.endpoint
          ? {
              endpoints: [{ s3: args.endpoint, iam: args.endpoint, sts: args.endpoint }],
              s3UsePathStyle: true,
              skipCredentialsValidation: true,
              skipMetadataApiCheck: true,
              skipRegionValidation: true,
              skipRequestingAccountId: true,
            }
          : {}),
      },
      { parent: this },
    );
    const child = { parent: this, provider };

    // The name markers and settings hang off: the created bucket's output (so they wait for
    // it), or just the given name.
    let bucketName: pulumi.Input<string> = args.bucket;
    let bucketReady: pulumi.Resource[] = [];
    if (args.createBucket) {
      // Kept on destroy twice over: protect refuses a delete; retainOnDelete leaves the bucket
      // if someone unprotects it. Its settings are retained too, so destroy never turns
      // encryption, versioning or the public access block off.
      const bucket = new aws.s3.Bucket(
        `${name}-bucket`,
        { bucket: args.bucket },
        { ...child, protect: true, retainOnDelete: true },
      );
      bucketName = bucket.bucket;
      const keep = { ...child, retainOnDelete: true };
      const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
        `${name}-bucket-encryption`,
        {
          bucket: bucket.bucket,
          rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
        },
        keep,
      );
      const publicAccess = new aws.s3.BucketPublicAccessBlock(
        `${name}-bucket-public-access`,
        {
          bucket: bucket.bucket,
          blockPublicAcls: true,
          blockPublicPolicy: true,
          ignorePublicAcls: true,
          restrictPublicBuckets: true,
          skipDestroy: true,
        },
        keep,
      );
      const versioning = new aws.s3.BucketVersioning(
        `${name}-bucket-versioning`,
        { bucket: bucket.bucket, versioningConfiguration: { status: "Enabled" } },
        keep,
      );
      bucketReady = [encryption, publicAccess, versioning];
    }

    for (const prefix of args.prefixes) {
      new aws.s3.BucketObjectv2(
        markerName(name, prefix),
        { bucket: bucketName, key: prefix, content: "", contentType: "application/x-directory" },
        { ...child, retainOnDelete: true, dependsOn: bucketReady },
      );
    }

    const user = new aws.iam.User(
      `${name}-user`,
      {
        path: "/fragalysis-relocation/",
        tags: {
          "managed-by": "fragalysis-relocation",
          purpose: `copy backups to ${bucketArn(args.bucket, args.region)}`,
        },
      },
      child,
    );
    const userPolicy = new aws.iam.UserPolicy(`${name}-policy`, { user: user.name, policy }, child);
    // The key waits for the policy, so whatever uses the key runs with the policy in place.
    const key = new aws.iam.AccessKey(
      `${name}-key`,
      { user: user.name },
      {
        ...child,
        dependsOn: [userPolicy],
        additionalSecretOutputs: ["secret", "sesSmtpPasswordV4"],
      },
    );
    return {
      credentials: {
        accessKeyId: pulumi.secret(key.id),
        secretAccessKey: pulumi.secret(key.secret),
      },
      userName: user.name,
    };
  }
}
