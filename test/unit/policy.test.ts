// The copy identity's policy as data: exact statements for production, and what it never grants.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig, type RelocationConfig } from "../../components/config";
import {
  bucketArn,
  copyPolicyDocument,
  partitionOf,
  policyDocumentFor,
  type PolicyDocument,
} from "../../components/policy";
import { readStackSettings, stackFilePath } from "../../components/stack-file";
import { run } from "../helpers/run";

const production = (): RelocationConfig =>
  parseConfig({ ...readStackSettings(stackFilePath("production")), sshPrivateKey: "k" });

/** Production config with one JSON-valued setting edited. */
function edited(key: string, change: (value: any) => any): RelocationConfig {
  const raw: Record<string, string> = {
    ...readStackSettings(stackFilePath("production")),
    sshPrivateKey: "k",
  };
  raw[key] = JSON.stringify(change(JSON.parse(raw[key]!)));
  return parseConfig(raw);
}

const actions = (doc: PolicyDocument) => doc.Statement.flatMap((s) => s.Action);
const resources = (doc: PolicyDocument) => doc.Statement.flatMap((s) => [s.Resource].flat());
const listPrefixes = (doc: PolicyDocument) =>
  doc.Statement.flatMap((s) => s.Condition?.StringLike?.["s3:prefix"] ?? []);

describe("production policy", () => {
  it("production config = exactly these two statements", () => {
    assert.deepEqual(copyPolicyDocument(production()), {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "ObjectsUnderPrefixes",
          Effect: "Allow",
          Action: [
            "s3:AbortMultipartUpload",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:PutObject",
          ],
          Resource: [
            "arn:aws:s3:::im-fragalysis/production-keycloak-db/*",
            "arn:aws:s3:::im-fragalysis/production-stack-db/*",
            "arn:aws:s3:::im-fragalysis/production-stack-media/*",
            "arn:aws:s3:::im-fragalysis/production-env/*",
          ],
        },
        {
          Sid: "ListUnderPrefixes",
          Effect: "Allow",
          Action: ["s3:ListBucket"],
          Resource: "arn:aws:s3:::im-fragalysis",
          Condition: {
            StringLike: {
              "s3:prefix": [
                "production-keycloak-db/*",
                "production-stack-db/*",
                "production-stack-media/*",
                "production-env/*",
              ],
            },
          },
        },
        {
          Sid: "ListIncompleteUploads",
          Effect: "Allow",
          Action: ["s3:ListBucketMultipartUploads"],
          Resource: "arn:aws:s3:::im-fragalysis",
        },
      ],
    });
  });

  it("npm run -s policy (default stack) = the same document on stdout, nothing else", async () => {
    const out = await run("node", ["--import", "tsx", "scripts/print-policy.ts"], {
      cwd: `${__dirname}/../..`,
    });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stderr, "");
    assert.deepEqual(JSON.parse(out.stdout), copyPolicyDocument(production()));
  });

  it("policy printer for a missing stack file = one stderr line, exit 1, empty stdout", async () => {
    const out = await run("node", ["--import", "tsx", "scripts/print-policy.ts", "nosuch"], {
      cwd: `${__dirname}/../..`,
    });
    assert.equal(out.code, 1);
    assert.equal(out.stdout, "");
    assert.equal(out.stderr.trim().split("\n").length, 1);
    assert.match(out.stderr, /Pulumi\.nosuch\.yaml/);
  });

  it("policy printer for the restore stack (side: restore) = one stderr line naming the side, exit 1", async () => {
    const out = await run("node", ["--import", "tsx", "scripts/print-policy.ts", "destination"], {
      cwd: `${__dirname}/../..`,
    });
    assert.equal(out.code, 1);
    assert.equal(out.stdout, "");
    assert.equal(out.stderr.trim().split("\n").length, 1);
    assert.match(
      out.stderr,
      /^policy for stack "destination": side is "restore": only a backup stack/,
    );
  });
});

describe("what the policy grants", () => {
  const cases: Array<[string, () => void]> = [
    [
      "any config = no Delete*, ACL, tagging, versioned or bucket-settings action",
      () => {
        for (const a of actions(copyPolicyDocument(production()))) {
          // The one bucket-level read besides ListBucket: keys of unfinished uploads.
          if (a === "s3:ListBucketMultipartUploads") continue;
          assert.doesNotMatch(a, /Delete|Acl|Tagging|Version|Bucket[A-Z]|Policy|\*/, a);
        }
      },
    ],
    [
      "any config = every statement Allow, every resource inside the one bucket",
      () => {
        const doc = copyPolicyDocument(production());
        for (const s of doc.Statement) assert.equal(s.Effect, "Allow");
        for (const r of resources(doc)) {
          assert.ok(
            r === "arn:aws:s3:::im-fragalysis" || r.startsWith("arn:aws:s3:::im-fragalysis/"),
            r,
          );
          assert.notEqual(r, "arn:aws:s3:::im-fragalysis/*");
        }
      },
    ],
    [
      "list statement = s3:ListBucket only, always conditioned on the prefixes",
      () => {
        const list = copyPolicyDocument(production()).Statement.filter((s) =>
          s.Action.includes("s3:ListBucket"),
        );
        assert.equal(list.length, 1);
        assert.deepEqual(list[0]!.Action, ["s3:ListBucket"]);
        assert.ok(list[0]!.Condition?.StringLike?.["s3:prefix"]?.length);
      },
    ],
    [
      "incomplete-uploads statement = s3:ListBucketMultipartUploads only, on the bucket itself",
      () => {
        const doc = copyPolicyDocument(production());
        const uploads = doc.Statement.filter((s) =>
          s.Action.includes("s3:ListBucketMultipartUploads"),
        );
        assert.equal(uploads.length, 1);
        assert.deepEqual(uploads[0]!.Action, ["s3:ListBucketMultipartUploads"]);
        assert.equal(uploads[0]!.Resource, "arn:aws:s3:::im-fragalysis");
      },
    ],
    [
      "an extra backup prefix = granted for objects and listing",
      () => {
        const doc = copyPolicyDocument(
          edited("backups", (b) => [
            ...b,
            {
              name: "extra",
              kind: "tree",
              sourceDir: "/nfs/extra",
              prefix: "extra/",
              maxRpoSeconds: 86400,
            },
          ]),
        );
        assert.ok(resources(doc).includes("arn:aws:s3:::im-fragalysis/extra/*"));
        assert.ok(listPrefixes(doc).includes("extra/*"));
      },
    ],
    [
      "a removed backup = its prefix no longer granted",
      () => {
        const doc = copyPolicyDocument(edited("backups", (b) => b.slice(1)));
        assert.ok(!resources(doc).some((r) => r.includes("production-keycloak-db")));
        assert.ok(!listPrefixes(doc).includes("production-keycloak-db/*"));
      },
    ],
    [
      "another bucket name = every resource under that bucket instead",
      () => {
        const doc = copyPolicyDocument(edited("bucket", (b) => ({ ...b, name: "other-bucket" })));
        for (const r of resources(doc)) assert.match(r, /^arn:aws:s3:::other-bucket(\/|$)/);
      },
    ],
    [
      "env-dump prefix = granted like a backup prefix",
      () => {
        const doc = copyPolicyDocument(production());
        assert.ok(resources(doc).includes("arn:aws:s3:::im-fragalysis/production-env/*"));
        assert.ok(listPrefixes(doc).includes("production-env/*"));
      },
    ],
    [
      "prefixes end in '/' = a sibling 'production-stack-db-old/' never matches",
      () => {
        const glob = (p: string) => new RegExp(`^${p.replace(/\*/g, ".*")}$`);
        for (const p of listPrefixes(copyPolicyDocument(production()))) {
          assert.ok(!glob(p).test("production-stack-db-old/x"), p);
        }
      },
    ],
    [
      "China region = aws-cn partition",
      () => {
        assert.equal(partitionOf("cn-north-1"), "aws-cn");
        assert.equal(partitionOf("us-gov-west-1"), "aws-us-gov");
        assert.equal(bucketArn("b", "cn-north-1"), "arn:aws-cn:s3:::b");
      },
    ],
    [
      "duplicate prefix = granted once",
      () => {
        const doc = policyDocumentFor("b1", ["a/", "a/"]);
        assert.deepEqual(doc.Statement[0]!.Resource, ["arn:aws:s3:::b1/a/*"]);
      },
    ],
    [
      "no prefixes = error (an empty grant would be a broken stack, not a safe one)",
      () => assert.throws(() => policyDocumentFor("b1", []), /no prefixes/),
    ],
    [
      "prefix without trailing '/' or with a wildcard = error naming it",
      () => {
        assert.throws(() => policyDocumentFor("b1", ["a"]), /prefix "a"/);
        assert.throws(() => policyDocumentFor("b1", ["a*/"]), /prefix "a\*\/"/);
        assert.throws(() => policyDocumentFor("b1", ["/a/"]), /prefix "\/a\/"/);
      },
    ],
  ];
  for (const [name, check] of cases) it(name, check);
});
