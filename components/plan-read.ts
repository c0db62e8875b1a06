// Reads the operator's plan from the real systems, in `pulumi preview` only, changing nothing:
// invokes of `command:local:run` (which, unlike a Command, runs during preview) run the
// read-only scripts/plan-cluster.sh and scripts/plan-s3.sh. Not run by `up`'s deployment: an
// invoke is no resource, so nothing would order it before the quiesce; `pulumi up` shows the
// plan in its own preview first.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { RelocationConfig } from "./config";
import type { S3Credentials, S3Target } from "./credentials";
import { shellQuote } from "./nfs-to-s3-copy";
import {
  checksEnv,
  clusterPlanSchema,
  permissionChecks,
  planText,
  s3PlanSchema,
  type Plan,
} from "./plan";
import { script } from "./scripts";

/** Where the S3 part reads, and with which key. */
export interface PlanS3 {
  readonly target: S3Target;
  readonly prefixes: readonly string[];
  /** Bring-your-own key (secret Outputs); undefined in managed mode: the aws CLI's own. */
  readonly credentials?: S3Credentials;
}

/**
 * The one line naming what failed, from a failed `local.run` (its message is `exit status 1:
 * running "<command>":` and then everything the script printed): the script's ERROR line, else
 * the last line it printed.
 */
export function failureLine(message: string): string {
  const lines = message.split("\n").filter((l) => l.trim() !== "");
  const error = lines.filter((l) => / ERROR: /.test(l)).pop();
  return error ?? lines.pop() ?? "the read failed without a message";
}

/** Parses a plan script's stdout (its last line) with its schema; throws one line otherwise. */
export function parseResult<T>(name: string, schema: { parse(v: unknown): T }, stdout: string): T {
  const last = stdout.trim().split("\n").pop() ?? "";
  try {
    return schema.parse(JSON.parse(last));
  } catch (err) {
    throw new Error(
      `${name} printed no valid result line (${(err as Error).message.split("\n")[0]})`,
    );
  }
}

/** Runs one plan script; resolves its stdout, or rejects with its one failure line. */
async function runScript(name: string, environment: Record<string, string>): Promise<string> {
  try {
    const result = await command.local.run({
      interpreter: ["/bin/bash", "-c"],
      // The file, not its text: a failure's message quotes the command.
      command: `bash ${shellQuote(script(name).path)}`,
      environment,
      // The summary says it once; a failure's lines travel in the error.
      logging: "none",
    });
    return result.stdout;
  } catch (err) {
    throw new Error(failureLine(err instanceof Error ? err.message : String(err)));
  }
}

/**
 * At preview: the plan, read now, and its summary logged once; a failed read rejects with one
 * line naming every failure, which fails the preview. At `up` (and destroy): undefined.
 */
export function readPlan(c: RelocationConfig, s3: PlanS3): pulumi.Output<Plan> | undefined {
  if (!pulumi.runtime.isDryRun()) return undefined;
  // Unsecret: the key only goes to the invoke's environment (not logged, not stored), none of it
  // is in the plan, and a secret input would make the whole plan output [secret].
  const key: pulumi.Output<[string, string] | undefined> = s3.credentials
    ? pulumi.unsecret(pulumi.all([s3.credentials.accessKeyId, s3.credentials.secretAccessKey]))
    : pulumi.output(undefined);
  return key.apply(async (pair): Promise<Plan> => {
    const reads = await Promise.allSettled([
      runScript("plan-cluster.sh", {
        PLAN_STATEFULSETS: c.quiesce.map((s) => `${s.namespace}/${s.statefulSet}`).join(" "),
        PLAN_CHECKS: checksEnv(permissionChecks(c)),
        ...(c.kubeContext ? { KUBE_CONTEXT: c.kubeContext } : {}),
      }).then((out) => parseResult("plan-cluster.sh", clusterPlanSchema, out)),
      runScript("plan-s3.sh", {
        BUCKET: s3.target.bucket,
        PREFIXES: s3.prefixes.join(" "),
        WRITE_PROOF: pair ? "none" : "policy",
        AWS_DEFAULT_REGION: s3.target.region,
        ...(s3.target.endpoint ? { AWS_ENDPOINT_URL: s3.target.endpoint } : {}),
        ...(pair ? { AWS_ACCESS_KEY_ID: pair[0], AWS_SECRET_ACCESS_KEY: pair[1] } : {}),
      }).then((out) => parseResult("plan-s3.sh", s3PlanSchema, out)),
    ] as const);
    const failed = reads.flatMap((r) =>
      r.status === "rejected" ? [(r.reason as Error).message] : [],
    );
    if (failed.length > 0) throw new Error(`plan: ${failed.join("; ")}`);
    const [cluster, bucket] = reads as unknown as [
      PromiseFulfilledResult<Plan["cluster"]>,
      PromiseFulfilledResult<Plan["s3"]>,
    ];
    const result: Plan = {
      readAt: new Date().toISOString(),
      cluster: cluster.value,
      s3: bucket.value,
    };
    pulumi.log.info(planText(result));
    return result;
  });
}
