// scripts/plan-s3.sh run for real against moto with the real aws CLI: each prefix listed with
// max-keys 0, nothing written, and a bucket that cannot be read fails naming it.
import assert from "node:assert/strict";
import * as path from "node:path";
import { describe, it } from "node:test";
import { listObjects } from "../helpers/fixtures";
import { run, type RunResult } from "../helpers/run";
import { useMotoBucket } from "../helpers/moto-bucket";

const SCRIPT = path.join(__dirname, "..", "..", "scripts", "plan-s3.sh");
const BUCKET = "relocation-plan";
const s3 = useMotoBucket(BUCKET);

const plan = (env: Record<string, string>): Promise<RunResult> =>
  run("bash", [SCRIPT], { env: { ...s3.env, ...env } });
const PREFIXES = "production-stack-db/ production-env/";

describe("plan-s3.sh", () => {
  it("bucket there, managed = every prefix listable, write by policy, nothing written", async () => {
    const result = await plan({ BUCKET, PREFIXES, WRITE_PROOF: "policy" });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      bucket: BUCKET,
      prefixes: [
        { prefix: "production-stack-db/", listable: true, write: "policy" },
        { prefix: "production-env/", listable: true, write: "policy" },
      ],
    });
    assert.match(
      result.stderr,
      /ok: s3:\/\/relocation-plan\/production-env\/ reachable and listable; write: granted by copyPolicy/,
    );
    assert.deepEqual(await listObjects(s3.env, BUCKET, ""), []);
  });

  it("bring-your-own = write said to be unproven, not failed", async () => {
    const result = await plan({ BUCKET, PREFIXES, WRITE_PROOF: "none" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /write: not proven without writing/);
  });

  it("no such bucket = exit 1, the ERROR line names each prefix", async () => {
    const result = await plan({ BUCKET: "no-such-bucket", PREFIXES, WRITE_PROOF: "policy" });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr.trim().split("\n").at(-1),
      "plan-s3.sh: ERROR: 2 S3 check(s) failed: list s3://no-such-bucket/production-stack-db/;list s3://no-such-bucket/production-env/",
    );
    assert.match(result.stderr, /NoSuchBucket/);
  });

  it("WRITE_PROOF unset = one line naming it, before any request", async () => {
    const result = await plan({ BUCKET, PREFIXES, AWS_ENDPOINT_URL: "http://127.0.0.1:1" });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      'plan-s3.sh: ERROR: WRITE_PROOF must be policy or none (got "")',
    );
  });
});
