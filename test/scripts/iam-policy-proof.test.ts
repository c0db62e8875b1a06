// The copy identity's policy, proven against a real IAM engine: moto_server with IAM enforcement,
// a user holding exactly copyPolicyDocument(production config), and the real aws CLI.
//
// What moto 5.2.1 can and cannot prove (checked in its source and by hand):
// - It matches Action and Resource like IAM: each allowed and denied request below is decided
//   by the document's statements.
// - It ignores `StringLike` conditions (only StringEquals on sts:ExternalId is evaluated), so the
//   `s3:prefix` limit on ListBucket is NOT enforced here: a list outside the prefixes would pass.
//   That limit is pinned by the unit test of the document (test/unit/policy.test.ts).
// - Under enforcement it recomputes signatures from the decoded URL, so a request whose path or
//   query holds a percent-encoded character ("/" in a list prefix, ":" in a key) fails with
//   SignatureDoesNotMatch. Keys here therefore avoid ":" (the real dump names contain it; that is
//   moto's limit, not the policy's), and listing uses a prefix without "/".
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseConfig, type RelocationConfig } from "../../components/config";
import { writablePrefixes } from "../../components/layout";
import { copyPolicyDocument } from "../../components/policy";
import { readStackSettings, stackFilePath } from "../../components/stack-file";
import { run, type RunResult } from "../helpers/run";
import { awsEnv, startMoto, tempDir, type Moto } from "../helpers/servers";

const config: RelocationConfig = parseConfig({
  ...readStackSettings(stackFilePath("production")),
  sshPrivateKey: "not-used",
});
const BUCKET = config.bucket.name;
const OTHER_BUCKET = `${BUCKET}-other`;
const PREFIXES = writablePrefixes(config);
const USER = "fragalysis-relocation-copy";

// Requests made with moto's root credentials before enforcement starts; each is one HTTP request
// that moto counts (startMoto waits for the port with TCP only, which moto does not count):
// create-bucket x2, create-user, put-user-policy, create-access-key.
const SETUP_REQUESTS = 5;

let moto: Moto;
let work: string;
/** The copy user's aws CLI environment (its own keys, multipart from 5 MB). */
let copyEnv: Record<string, string>;

function aws(env: Record<string, string>, ...args: string[]): Promise<RunResult> {
  return run("aws", args, { env, inherit: false, timeoutMs: 60_000 });
}

async function ok(env: Record<string, string>, ...args: string[]): Promise<string> {
  const out = await aws(env, ...args);
  assert.equal(out.code, 0, `aws ${args.join(" ")} failed: ${out.stderr}`);
  return out.stdout;
}

/** HEAD of a key with the copy user's keys; fails the test if it is refused. */
async function headObject<T>(key: string): Promise<T> {
  return JSON.parse(
    await ok(copyEnv, "s3api", "head-object", "--bucket", BUCKET, "--key", key, "--output", "json"),
  ) as T;
}

async function denied(...args: string[]): Promise<void> {
  const out = await aws(copyEnv, ...args);
  assert.notEqual(out.code, 0, `aws ${args.join(" ")} was allowed`);
  assert.match(out.stderr, /AccessDenied/, `aws ${args.join(" ")}: ${out.stderr}`);
}

function file(name: string, bytes: Buffer): string {
  const p = path.join(work, name);
  writeFileSync(p, bytes);
  return p;
}

before(async () => {
  work = tempDir("iam-proof");
  moto = await startMoto({ enforceIamAfter: SETUP_REQUESTS });
  const root = moto.env;
  const policyFile = file("policy.json", Buffer.from(JSON.stringify(copyPolicyDocument(config))));
  for (const b of [BUCKET, OTHER_BUCKET]) {
    await ok(
      root,
      "s3api",
      "create-bucket",
      "--bucket",
      b,
      "--create-bucket-configuration",
      `LocationConstraint=${config.aws.region}`,
    );
  }
  await ok(root, "iam", "create-user", "--user-name", USER);
  await ok(
    root,
    "iam",
    "put-user-policy",
    "--user-name",
    USER,
    "--policy-name",
    "copy",
    "--policy-document",
    `file://${policyFile}`,
  );
  const key = JSON.parse(
    await ok(root, "iam", "create-access-key", "--user-name", USER, "--output", "json"),
  ) as { AccessKey: { AccessKeyId: string; SecretAccessKey: string } };
  copyEnv = awsEnv(moto.endpoint, key.AccessKey.AccessKeyId, key.AccessKey.SecretAccessKey);
  writeFileSync(
    copyEnv.AWS_CONFIG_FILE!,
    "[default]\ns3 =\n    multipart_threshold = 5MB\n    multipart_chunksize = 5MB\n",
  );
});

after(async () => {
  await moto?.stop();
});

describe("copy identity under moto IAM enforcement", () => {
  // First request with the copy user's keys: it must be refused, which also proves that
  // enforcement had started (SETUP_REQUESTS is exact; one too many would let this through).
  it("first request: put outside the prefixes = AccessDenied (enforcement is on)", async () => {
    await denied("s3", "cp", file("outside.txt", Buffer.from("x")), `s3://${BUCKET}/outside.txt`);
  });

  it("put into each prefix with --sse AES256 and metadata = stored, head and get read it back", async () => {
    for (const prefix of PREFIXES) {
      const body = Buffer.from(`probe for ${prefix}\n`);
      const sha = createHash("sha256").update(body).digest("hex");
      const key = `${prefix}backup-2023-10-16T12-07-01Z-dumpall.sql.gz`;
      await ok(
        copyEnv,
        "s3",
        "cp",
        file("probe.txt", body),
        `s3://${BUCKET}/${key}`,
        "--sse",
        "AES256",
        "--metadata",
        `sha256=${sha}`,
      );
      const head = await headObject<{
        ContentLength: number;
        ServerSideEncryption: string;
        Metadata: Record<string, string>;
      }>(key);
      assert.equal(head.ContentLength, body.length, key);
      assert.equal(head.ServerSideEncryption, "AES256", key);
      assert.equal(head.Metadata.sha256, sha, key);
      const back = path.join(work, "back.txt");
      await ok(copyEnv, "s3api", "get-object", "--bucket", BUCKET, "--key", key, back);
      assert.equal(createHash("sha256").update(readFileSync(back)).digest("hex"), sha);
    }
  });

  it("12 MB file with a 5 MB threshold = multipart upload, read back byte-identical", async () => {
    const big = randomBytes(12 * 1024 * 1024);
    const key = `${PREFIXES[2]}media/big.bin`;
    await ok(copyEnv, "s3", "cp", file("big.bin", big), `s3://${BUCKET}/${key}`);
    const head = await headObject<{ ETag: string; ContentLength: number }>(key);
    assert.match(head.ETag, /-3"$/, "a multipart ETag ends in -<parts>");
    assert.equal(head.ContentLength, big.length);
    const back = path.join(work, "big.back");
    await ok(copyEnv, "s3", "cp", `s3://${BUCKET}/${key}`, back);
    assert.ok(readFileSync(back).equals(big));
  });

  it("multipart parts listed and upload aborted inside a prefix = allowed", async () => {
    const key = `${PREFIXES[0]}partial.bin`;
    const upload = (
      await ok(
        copyEnv,
        "s3api",
        "create-multipart-upload",
        "--bucket",
        BUCKET,
        "--key",
        key,
        "--query",
        "UploadId",
        "--output",
        "text",
      )
    ).trim();
    await ok(
      copyEnv,
      "s3api",
      "upload-part",
      "--bucket",
      BUCKET,
      "--key",
      key,
      "--upload-id",
      upload,
      "--part-number",
      "1",
      "--body",
      file("part.bin", Buffer.from("part")),
    );
    const parts = JSON.parse(
      await ok(
        copyEnv,
        "s3api",
        "list-parts",
        "--bucket",
        BUCKET,
        "--key",
        key,
        "--upload-id",
        upload,
        "--output",
        "json",
      ),
    ) as { Parts: unknown[] };
    assert.equal(parts.Parts.length, 1);
    // sync-dir.sh finds leftovers like this one by listing the bucket's unfinished uploads.
    const uploads = JSON.parse(
      await ok(
        copyEnv,
        "s3api",
        "list-multipart-uploads",
        "--bucket",
        BUCKET,
        "--prefix",
        "production-keycloak-db",
        "--output",
        "json",
      ),
    ) as { Uploads?: Array<{ Key: string; UploadId: string }> };
    assert.deepEqual(
      (uploads.Uploads ?? []).map((u) => [u.Key, u.UploadId]),
      [[key, upload]],
    );
    await ok(
      copyEnv,
      "s3api",
      "abort-multipart-upload",
      "--bucket",
      BUCKET,
      "--key",
      key,
      "--upload-id",
      upload,
    );
  });

  it("list with a prefix without '/' = ListBucket granted on the bucket (condition: see header)", async () => {
    const out = JSON.parse(
      await ok(
        copyEnv,
        "s3api",
        "list-objects-v2",
        "--bucket",
        BUCKET,
        "--prefix",
        "production-stack-db",
        "--output",
        "json",
      ),
    ) as { Contents?: Array<{ Key: string }> };
    assert.deepEqual(
      (out.Contents ?? []).map((c) => c.Key),
      ["production-stack-db/backup-2023-10-16T12-07-01Z-dumpall.sql.gz"],
    );
  });

  const refusals: Array<[string, string[]]> = [
    ["put at the bucket root", ["s3api", "put-object", "--bucket", BUCKET, "--key", "root.txt"]],
    [
      "put under a sibling 'production-stack-db-old/'",
      ["s3api", "put-object", "--bucket", BUCKET, "--key", "production-stack-db-old/x"],
    ],
    [
      "put into another bucket under a granted prefix",
      ["s3api", "put-object", "--bucket", OTHER_BUCKET, "--key", `${PREFIXES[1]}x`],
    ],
    [
      "get from another bucket",
      ["s3api", "get-object", "--bucket", OTHER_BUCKET, "--key", `${PREFIXES[1]}x`, "/dev/null"],
    ],
    [
      "delete an object inside a prefix",
      [
        "s3api",
        "delete-object",
        "--bucket",
        BUCKET,
        "--key",
        `${PREFIXES[1]}backup-2023-10-16T12-07-01Z-dumpall.sql.gz`,
      ],
    ],
    [
      "delete via aws s3 rm",
      ["s3", "rm", `s3://${BUCKET}/${PREFIXES[0]}backup-2023-10-16T12-07-01Z-dumpall.sql.gz`],
    ],
    [
      "delete a version inside a prefix",
      [
        "s3api",
        "delete-object",
        "--bucket",
        BUCKET,
        "--key",
        `${PREFIXES[0]}x`,
        "--version-id",
        "v1",
      ],
    ],
    [
      "make an object public (PutObjectAcl)",
      [
        "s3api",
        "put-object-acl",
        "--bucket",
        BUCKET,
        "--key",
        `${PREFIXES[0]}backup-2023-10-16T12-07-01Z-dumpall.sql.gz`,
        "--acl",
        "public-read",
      ],
    ],
    [
      "tag an object",
      [
        "s3api",
        "put-object-tagging",
        "--bucket",
        BUCKET,
        "--key",
        `${PREFIXES[0]}x`,
        "--tagging",
        "TagSet=[{Key=a,Value=b}]",
      ],
    ],
    [
      "list another bucket",
      ["s3api", "list-objects-v2", "--bucket", OTHER_BUCKET, "--prefix", "production"],
    ],
    [
      "list multipart uploads of another bucket",
      ["s3api", "list-multipart-uploads", "--bucket", OTHER_BUCKET],
    ],
    [
      "change the bucket's policy",
      ["s3api", "put-bucket-policy", "--bucket", BUCKET, "--policy", "{}"],
    ],
    [
      "create a bucket",
      [
        "s3api",
        "create-bucket",
        "--bucket",
        "made-by-copy-user",
        "--create-bucket-configuration",
        "LocationConstraint=eu-central-1",
      ],
    ],
    ["delete the bucket", ["s3api", "delete-bucket", "--bucket", OTHER_BUCKET]],
    ["IAM: create another access key", ["iam", "create-access-key", "--user-name", USER]],
  ];
  for (const [what, args] of refusals) {
    it(`${what} = AccessDenied`, async () => denied(...args));
  }

  it("after the refused deletes = every uploaded object still there", async () => {
    for (const prefix of PREFIXES) {
      await headObject(`${prefix}backup-2023-10-16T12-07-01Z-dumpall.sql.gz`);
    }
  });
});
