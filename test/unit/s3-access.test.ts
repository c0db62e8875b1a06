// S3Access graph in both modes: managed declares provider, markers, user, policy and key;
// bring-your-own registers no aws provider, resource or invoke. Every credential is secret.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, PROJECT, type RelocationConfig } from "../../components/config";
import { writablePrefixes } from "../../components/layout";
import { copyPolicyDocument } from "../../components/policy";
import { markerName, S3Access } from "../../components/s3-access";
import { readStackSettings, stackFilePath } from "../../components/stack-file";
import { isSecret, Recorder, settle, useMocks, valueOf, type Registered } from "../helpers/mocks";

let recorder: Recorder;
/** Resource name -> provider reference it was registered with. */
const providerOf = new Map<string, string>();
let invokes: string[] = [];

const production = (): RelocationConfig =>
  parseConfig({ ...readStackSettings(stackFilePath("production")), sshPrivateKey: "k" });

before(async () => {
  recorder = await useMocks({
    // Outputs the provider would compute: the key's secret, the user's auto-name.
    state: (type, name) => {
      if (type === "aws:iam/accessKey:AccessKey") return { secret: "mock-secret-access-key" };
      if (type === "aws:iam/user:User") return { name: `${name}-1a2b3c` };
      return {};
    },
  });
  // Watch the monitor too: which provider each resource names, and every invoke at all.
  const monitor = pulumi.runtime.getMonitor() as unknown as Record<string, Function>;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: Function) => {
    providerOf.set(req.getName(), req.getProvider?.() ?? "");
    return register(req, callback);
  };
  for (const method of ["invoke", "streamInvoke", "call"]) {
    const original = monitor[method];
    if (typeof original !== "function") continue;
    monitor[method] = (req: any, ...rest: unknown[]) => {
      invokes.push(req.getTok?.() ?? method);
      return original.call(monitor, req, ...rest);
    };
  }
  pulumi.runtime.setAllConfig(
    {
      [`${PROJECT}:awsAccessKeyId`]: "AKIAFROMCONFIG",
      [`${PROJECT}:awsSecretAccessKey`]: "secret-from-config",
    },
    [`${PROJECT}:awsAccessKeyId`, `${PROJECT}:awsSecretAccessKey`],
  );
});

/** Everything registered under the component named `name` (the component included). */
function treeOf(name: string): Registered[] {
  const root = recorder.named(name);
  const urns = new Set([root.urn]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const r of recorder.resources) {
      if (urns.has(r.parent) && !urns.has(r.urn)) {
        urns.add(r.urn);
        grew = true;
      }
    }
  }
  return recorder.resources.filter((r) => urns.has(r.urn));
}

async function build(name: string, args: ConstructorParameters<typeof S3Access>[1]) {
  const access = new S3Access(name, args);
  await valueOf(access.policyDocument);
  await valueOf(access.credentials.accessKeyId);
  await settle();
  return access;
}

describe("managed mode, existing bucket", () => {
  let access: S3Access;
  let tree: Registered[];
  const config = production();
  before(async () => {
    invokes = [];
    access = await build("s3", {
      bucket: config.bucket.name,
      prefixes: writablePrefixes(config),
      region: config.aws.region,
    });
    tree = treeOf("s3");
  });

  it("component = type relocation:s3:S3Access", () => {
    assert.equal(recorder.named("s3").type, "relocation:s3:S3Access");
  });

  it("provider = explicit aws provider in the config's region, child of the component", () => {
    const provider = recorder.named("s3-provider");
    assert.equal(provider.type, "pulumi:providers:aws");
    assert.equal(provider.parent, recorder.named("s3").urn);
    assert.equal(provider.inputs.region, "eu-central-1");
    assert.equal(provider.inputs.endpoints, undefined);
  });

  it("every aws resource = created through that provider", () => {
    const provider = recorder.named("s3-provider");
    const aws = tree.filter((r) => r.type.startsWith("aws:"));
    assert.ok(aws.length > 0);
    for (const r of aws) {
      assert.ok(providerOf.get(r.name)?.startsWith(`${provider.urn}::`), r.name);
    }
  });

  it("existing bucket = not created and not read (no bucket resource at all)", () => {
    assert.deepEqual(
      tree.filter((r) => /^aws:s3\/bucket(V2)?:/.test(r.type) || r.readId !== undefined),
      [],
    );
  });

  it("each prefix = one zero-byte marker at exactly the prefix key, retained on delete", () => {
    const markers = tree.filter((r) => r.type === "aws:s3/bucketObjectv2:BucketObjectv2");
    assert.deepEqual(
      markers.map((m) => [m.name, m.inputs.bucket, m.inputs.key, m.inputs.content]),
      [
        ["s3-prefix-production-keycloak-db", "im-fragalysis", "production-keycloak-db/", ""],
        ["s3-prefix-production-stack-db", "im-fragalysis", "production-stack-db/", ""],
        ["s3-prefix-production-stack-media", "im-fragalysis", "production-stack-media/", ""],
        ["s3-prefix-production-env", "im-fragalysis", "production-env/", ""],
      ],
    );
    for (const m of markers) {
      assert.equal(m.retainOnDelete, true, m.name);
      assert.equal(m.parent, recorder.named("s3").urn);
    }
  });

  it("identity = IAM user, inline policy = the program's document, access key after policy", () => {
    const user = recorder.named("s3-user");
    const policy = recorder.named("s3-policy");
    const key = recorder.named("s3-key");
    assert.equal(user.type, "aws:iam/user:User");
    assert.equal(user.inputs.path, "/fragalysis-relocation/");
    assert.equal(policy.type, "aws:iam/userPolicy:UserPolicy");
    assert.equal(key.type, "aws:iam/accessKey:AccessKey");
    assert.equal(policy.inputs.user, "s3-user-1a2b3c");
    assert.equal(key.inputs.user, "s3-user-1a2b3c");
    assert.deepEqual(JSON.parse(policy.inputs.policy as string), copyPolicyDocument(config));
    assert.ok(recorder.waitsFor(policy, user));
    assert.ok(recorder.waitsFor(key, user));
    assert.ok(recorder.waitsFor(key, policy));
    assert.ok(key.additionalSecretOutputs.includes("secret"));
  });

  it("managed graph = exactly provider, 4 markers, user, policy, key", () => {
    assert.deepEqual(
      tree
        .filter((r) => r.custom)
        .map((r) => r.type)
        .sort(),
      [
        "aws:iam/accessKey:AccessKey",
        "aws:iam/user:User",
        "aws:iam/userPolicy:UserPolicy",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "pulumi:providers:aws",
      ],
    );
    assert.ok(
      !tree.some(
        (r) => /Delete|Policy$/.test(r.type) && r.type !== "aws:iam/userPolicy:UserPolicy",
      ),
    );
  });

  it("credentials = the access key's id and secret, both secret Outputs", async () => {
    assert.equal(await isSecret(access.credentials.accessKeyId), true);
    assert.equal(await isSecret(access.credentials.secretAccessKey), true);
    assert.equal(await valueOf(access.credentials.accessKeyId), "s3-key-id");
    assert.equal(await valueOf(access.credentials.secretAccessKey), "mock-secret-access-key");
  });

  it("policyDocument output = plain (previewable) JSON of copyPolicyDocument", async () => {
    assert.equal(await isSecret(access.policyDocument), false);
    assert.deepEqual(JSON.parse(await valueOf(access.policyDocument)), copyPolicyDocument(config));
  });

  it("userName = the managed user's (auto) name", async () => {
    assert.equal(await valueOf(access.userName), "s3-user-1a2b3c");
  });

  it("target = bucket and region, no endpoint", () => {
    assert.deepEqual(access.target, { bucket: "im-fragalysis", region: "eu-central-1" });
  });

  it("managed mode = no invoke", () => {
    assert.deepEqual(invokes, []);
  });
});

describe("managed mode, bucket.create and an endpoint", () => {
  let access: S3Access;
  before(async () => {
    access = await build("made", {
      bucket: "new-bucket",
      createBucket: true,
      prefixes: ["a/", "b/c/"],
      region: "eu-west-2",
      endpoint: "http://127.0.0.1:5000",
    });
  });

  it("created bucket = protected and retained on delete", () => {
    const bucket = recorder.named("made-bucket");
    assert.equal(bucket.type, "aws:s3/bucket:Bucket");
    assert.equal(bucket.inputs.bucket, "new-bucket");
    assert.equal(bucket.protect, true);
    assert.equal(bucket.retainOnDelete, true);
  });

  it("created bucket = AES256 default encryption, public access blocked, versioning on", () => {
    const sse = recorder.named("made-bucket-encryption");
    assert.equal(
      sse.type,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    );
    assert.deepEqual(sse.inputs.rules, [
      { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
    ]);
    const block = recorder.named("made-bucket-public-access");
    assert.equal(block.type, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
    for (const k of [
      "blockPublicAcls",
      "blockPublicPolicy",
      "ignorePublicAcls",
      "restrictPublicBuckets",
    ]) {
      assert.equal(block.inputs[k], true, k);
    }
    const versioning = recorder.named("made-bucket-versioning");
    assert.equal(versioning.type, "aws:s3/bucketVersioning:BucketVersioning");
    assert.deepEqual(versioning.inputs.versioningConfiguration, { status: "Enabled" });
    for (const r of [sse, block, versioning]) assert.equal(r.retainOnDelete, true, r.name);
  });

  it("prefix markers = wait for the bucket and its settings, nested prefix named by path", () => {
    const nested = recorder.named(markerName("made", "b/c/"));
    assert.equal(nested.name, "made-prefix-b/c");
    assert.equal(nested.inputs.key, "b/c/");
    assert.ok(recorder.waitsFor(nested, recorder.named("made-bucket")));
    assert.ok(recorder.waitsFor(nested, recorder.named("made-bucket-encryption")));
  });

  it("endpoint = provider sends S3, IAM and STS there, path-style", () => {
    const provider = recorder.named("made-provider");
    assert.equal(provider.inputs.region, "eu-west-2");
    assert.deepEqual(JSON.parse(provider.inputs.endpoints as string), [
      { s3: "http://127.0.0.1:5000", iam: "http://127.0.0.1:5000", sts: "http://127.0.0.1:5000" },
    ]);
    assert.equal(String(provider.inputs.s3UsePathStyle), "true");
    assert.equal(String(provider.inputs.skipRequestingAccountId), "true");
  });

  it("target = endpoint included", () => {
    assert.deepEqual(access.target, {
      bucket: "new-bucket",
      region: "eu-west-2",
      endpoint: "http://127.0.0.1:5000",
    });
  });
});

describe("bring-your-own mode", () => {
  let fromConfig: S3Access;
  let given: S3Access;
  const before0 = { count: 0 };
  before(async () => {
    invokes = [];
    before0.count = recorder.resources.length;
    fromConfig = await build("byo", {
      manage: false,
      bucket: "im-fragalysis",
      prefixes: ["production-stack-db/"],
      region: "eu-central-1",
    });
    given = await build("byo-given", {
      manage: false,
      bucket: "im-fragalysis",
      prefixes: ["production-stack-db/"],
      region: "eu-central-1",
      endpoint: "http://127.0.0.1:9000",
      credentials: {
        accessKeyId: pulumi.output("AKIAGIVEN"),
        secretAccessKey: pulumi.output("given-secret"),
      },
    });
  });

  it("bring-your-own = only the component itself, no aws resource, provider or invoke", () => {
    const added = recorder.resources.slice(before0.count);
    assert.deepEqual(
      added.map((r) => [r.type, r.name]),
      [
        ["relocation:s3:S3Access", "byo"],
        ["relocation:s3:S3Access", "byo-given"],
      ],
    );
    assert.ok(!added.some((r) => r.type.startsWith("aws:") || r.type === "pulumi:providers:aws"));
    assert.deepEqual(invokes, []);
  });

  it("no credentials given = the secret settings, still secret", async () => {
    assert.equal(await isSecret(fromConfig.credentials.accessKeyId), true);
    assert.equal(await isSecret(fromConfig.credentials.secretAccessKey), true);
    assert.equal(await valueOf(fromConfig.credentials.accessKeyId), "AKIAFROMCONFIG");
    assert.equal(await valueOf(fromConfig.credentials.secretAccessKey), "secret-from-config");
  });

  it("bring-your-own = no userName", async () => {
    assert.equal(await valueOf(fromConfig.userName), undefined);
  });

  it("plain credentials given = wrapped as secrets", async () => {
    assert.equal(await isSecret(given.credentials.accessKeyId), true);
    assert.equal(await isSecret(given.credentials.secretAccessKey), true);
    assert.equal(await valueOf(given.credentials.secretAccessKey), "given-secret");
  });

  it("bring-your-own = policy document still printed (what the handed key needs)", async () => {
    const doc = JSON.parse(await valueOf(fromConfig.policyDocument));
    assert.deepEqual(doc.Statement[0].Resource, [
      "arn:aws:s3:::im-fragalysis/production-stack-db/*",
    ]);
    assert.deepEqual(given.target.endpoint, "http://127.0.0.1:9000");
  });

  it("bring-your-own with bucket.create = error saying to set bucket.create: false", () => {
    assert.throws(
      () =>
        new S3Access("byo-create", {
          manage: false,
          createBucket: true,
          bucket: "im-fragalysis",
          prefixes: ["a/"],
          region: "eu-central-1",
        }),
      /byo-create: bucket\.create needs aws\.manage: true; set bucket\.create: false/,
    );
  });
});
