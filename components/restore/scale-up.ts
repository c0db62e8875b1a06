// The restore side's last step: each StatefulSet of restore.scaleUp scaled to the count the backup
// stack recorded for the same "namespace/statefulSet" (its originalReplicas output; `from` names
// the old one when the new cluster's names differ), once everything in `runAfter` is done, and waited for until
// that many pods are Ready. One local.Command per StatefulSet runs scripts/restore/scale-up.sh.
//
// No `delete`: destroying the restore stack leaves the new production running at its count (the
// backup side's QuiescedStatefulSet is a change and its undo; here the change IS the result).
// A second `up` runs nothing (inputs unchanged); a re-run (script edited, count changed) finds
// the count there and writes nothing. An entry the source has no count for fails at preview.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { OperatorError } from "../operator-error";
import { script } from "../scripts";
import { type OriginalReplicas } from "../shared/outputs";

/** @default of ScaleUpArgs.timeoutSeconds (restore.scaleUpTimeoutSeconds). */
export const DEFAULT_SCALE_UP_TIMEOUT_SECONDS = 900;

export interface ScaleUpTarget {
  /** The config key naming this entry, e.g. "fragalysis-relocation:restore.scaleUp[0]". */
  readonly key: string;
  readonly namespace: string;
  readonly statefulSet: string;
  /** The source's "namespace/statefulSet" to take the count from. @default the same */
  readonly from?: string;
}

/**
 * The count for each target: the source's originalReplicas of the same "namespace/statefulSet".
 * Every target without one is a line of the one error thrown, naming its key and what the source
 * has.
 */
export function scaleUpCounts(
  targets: readonly ScaleUpTarget[],
  originalReplicas: OriginalReplicas,
  source: string,
): number[] {
  const has = Object.keys(originalReplicas).sort();
  const problems: string[] = [];
  const counts = targets.map((t) => {
    const id = t.from ?? `${t.namespace}/${t.statefulSet}`;
    if (Object.prototype.hasOwnProperty.call(originalReplicas, id)) return originalReplicas[id]!;
    problems.push(
      t.from === undefined
        ? `${t.key}: the source stack ${source} recorded no replica count for ${id} (its originalReplicas has: ${has.join(", ") || "none"}); list only StatefulSets the backup stack quiesced, under the same namespace and name (or name the old one in from), or scale this one by hand`
        : `${t.key}.from: the source stack ${source} recorded no replica count for ${id} (its originalReplicas has: ${has.join(", ") || "none"}); set from to one of them`,
    );
    return 0;
  });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return counts;
}

/** What scale-up.sh prints last (stdout). */
export const scaleUpRecord = z.object({
  namespace: z.string(),
  statefulSet: z.string(),
  replicas: z.number().int().nonnegative(),
  ready: z.number().int().nonnegative(),
  previous: z.number().int().nonnegative(),
  readyAt: z.string(),
});
export type ScaleUpRecord = z.infer<typeof scaleUpRecord>;

/** Parses the script's last stdout line; it must report `replicas` pods, all Ready. */
export function parseScaleUpRecord(stdout: string, id: string, replicas: number): ScaleUpRecord {
  const last = stdout.trim().split("\n").pop() ?? "";
  let value: unknown;
  try {
    value = JSON.parse(last);
  } catch {
    throw new Error(
      `scale-up ${id}: expected a JSON record on the last stdout line, got "${last}"`,
    );
  }
  const parsed = scaleUpRecord.safeParse(value);
  if (!parsed.success) {
    throw new Error(`scale-up ${id}: the record lacks replicas/ready/previous/readyAt: ${last}`);
  }
  const r = parsed.data;
  if (r.replicas !== replicas || r.ready !== replicas) {
    throw new Error(
      `scale-up ${id}: asked for ${replicas} Ready pods, the script reported ${r.ready} of ${r.replicas}`,
    );
  }
  return r;
}

export interface ScaleUpArgs {
  /** The StatefulSets to scale (restore.scaleUp), each with its config key. */
  readonly statefulSets: readonly ScaleUpTarget[];
  /** The source stack's originalReplicas output (checked against the shared schema). */
  readonly originalReplicas: pulumi.Input<OriginalReplicas>;
  /** The source stack's name (restore.source), for messages. */
  readonly source: string;
  /** How long each waits for its pods to be Ready. @default 900 */
  readonly timeoutSeconds?: number;
  /** kubeconfig context for kubectl. @default the current context */
  readonly kubeContext?: string;
  /** Everything that must be done first: the dump restores, the media restore, ... @default [] */
  readonly runAfter?: pulumi.Input<pulumi.Resource>[];
}

export class ScaleUp extends pulumi.ComponentResource {
  /** Per "namespace/statefulSet": the count set and the pods Ready at the end. */
  public readonly scaledUp: pulumi.Output<Record<string, { replicas: number; ready: number }>>;

  constructor(name: string, args: ScaleUpArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:restore:ScaleUp", name, {}, opts);
    const timeoutSeconds = args.timeoutSeconds ?? DEFAULT_SCALE_UP_TIMEOUT_SECONDS;
    const up = script("restore/scale-up.sh");

    const counts = pulumi.output(args.originalReplicas).apply((recorded) => {
      try {
        return scaleUpCounts(args.statefulSets, recorded as OriginalReplicas, args.source);
      } catch (err) {
        throw new OperatorError((err as Error).message, this);
      }
    });

    const results = args.statefulSets.map((t, i) => {
      const id = `${t.namespace}/${t.statefulSet}`;
      const replicas = counts.apply((c) => c[i]!);
      const scale = new command.local.Command(
        `${name}-${t.namespace}-${t.statefulSet}`,
        {
          interpreter: ["/bin/bash", "-c"],
          create: up.text,
          environment: {
            NAMESPACE: t.namespace,
            STATEFULSET: t.statefulSet,
            REPLICAS: replicas.apply(String),
            TIMEOUT_SECONDS: String(timeoutSeconds),
            ...(args.kubeContext ? { KUBE_CONTEXT: args.kubeContext } : {}),
          },
          addPreviousOutputInEnv: false,
        },
        {
          parent: this,
          dependsOn: args.runAfter ?? [],
          customTimeouts: {
            create: `${timeoutSeconds + 60}s`,
            update: `${timeoutSeconds + 60}s`,
          },
        },
      );
      return pulumi.all([scale.stdout, replicas]).apply(([out, n]) => {
        try {
          const r = parseScaleUpRecord(out, id, n);
          return [id, { replicas: r.replicas, ready: r.ready }] as const;
        } catch (err) {
          throw new OperatorError((err as Error).message, this);
        }
      });
    });
    this.scaledUp = pulumi.all(results).apply((pairs) => Object.fromEntries(pairs));
    this.registerOutputs({ scaledUp: this.scaledUp });
  }
}
