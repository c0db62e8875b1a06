// Reads the operator's plan from the real systems, in `pulumi preview` only, changing nothing:
// an invoke of `command:local:run` (which, unlike a Command, runs during preview) runs the
// read-only scripts/plan-cluster.sh. Not run by `up`'s deployment: an invoke is no resource, so
// nothing would order it before the quiesce; `pulumi up` shows it in its own preview first.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { RelocationConfig } from "./config";
import { shellQuote } from "./nfs-to-s3-copy";
import { checksEnv, clusterPlanSchema, permissionChecks, planText, type Plan } from "./plan";
import { script } from "./scripts";

/**
 * The one line naming what failed, from a failed `local.run` (its message is `exit status 1:
 * running "<command>":` and then everything the script printed): the script's ERROR line, else
 * the last line it printed.
 */
export function failureLine(message: string): string {
  const lines = message.split("\n").filter((l) => l.trim() !== "");
  const error = lines.filter((l) => / ERROR: /.test(l)).pop();
  return `plan: ${error ?? lines.pop() ?? "the read failed without a message"}`;
}

/** Parses plan-cluster.sh's stdout (its last line); throws one line if it is not the shape. */
export function parseClusterPlan(stdout: string) {
  const last = stdout.trim().split("\n").pop() ?? "";
  let json: unknown;
  try {
    json = JSON.parse(last);
  } catch {
    throw new Error(`plan: plan-cluster.sh printed no JSON result line (got "${last}")`);
  }
  const parsed = clusterPlanSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`plan: plan-cluster.sh's result has the wrong shape: ${parsed.error.message}`);
  }
  return parsed.data;
}

/**
 * At preview: the plan, read now, and its summary logged once; a failed read rejects with one
 * line naming it, which fails the preview. At `up` (and destroy): undefined, nothing is read.
 */
export function readPlan(c: RelocationConfig): pulumi.Output<Plan> | undefined {
  if (!pulumi.runtime.isDryRun()) return undefined;
  const cluster = script("plan-cluster.sh");
  const read = command.local
    .run({
      interpreter: ["/bin/bash", "-c"],
      // The file, not its text: a failure's message quotes the command.
      command: `bash ${shellQuote(cluster.path)}`,
      environment: {
        PLAN_STATEFULSETS: c.quiesce.map((s) => `${s.namespace}/${s.statefulSet}`).join(" "),
        PLAN_CHECKS: checksEnv(permissionChecks(c)),
        ...(c.kubeContext ? { KUBE_CONTEXT: c.kubeContext } : {}),
      },
      // The summary below says it once; a failure's lines travel in the error.
      logging: "none",
    })
    .then(
      (result) => {
        const plan: Plan = {
          readAt: new Date().toISOString(),
          cluster: parseClusterPlan(result.stdout),
        };
        pulumi.log.info(planText(plan));
        return plan;
      },
      (err: unknown) => {
        throw new Error(failureLine(err instanceof Error ? err.message : String(err)));
      },
    );
  return pulumi.output(read);
}
