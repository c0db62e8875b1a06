// Scales one StatefulSet to zero for the move and puts the ORIGINAL count back on destroy.
// A create that fails or times out leaves nothing in state (its delete never runs), so the
// script undoes its own scale-down before it fails (see quiesce-statefulset.sh).
//
// Why a Command pair and not a StatefulSetPatch: deleting a pulumi-kubernetes Patch only
// relinquishes its field manager's fields; `spec.replicas` then falls back to its default (1),
// not to the count it had. So the change and its undo are one local.Command:
//   create  = scripts/quiesce-statefulset.sh: records the count (stdout JSON + an annotation on
//             the object), scales to 0, waits until the pods are gone (bounded by timeoutSeconds);
//   delete  = scripts/restore-statefulset.sh: reads that count back from PULUMI_COMMAND_STDOUT
//             (the create's stdout kept in state) and scales to it.
// A second `pulumi up` does not run create again (inputs unchanged), so the recorded count stays;
// if it does run again (script edited, state lost) the annotation keeps the first count instead
// of the 0 it set. `deleteBeforeReplace` makes a replacement restore before it re-quiesces, so the
// new record reads the real count. Existence is checked earlier, for all StatefulSets at once, by
// the Preflight component; the script also fails naming namespace/name if one is missing.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { script } from "./scripts";

export interface QuiescedStatefulSetArgs {
  /** The StatefulSet's namespace, e.g. "production-stack". */
  readonly namespace: string;
  /** The StatefulSet's name, e.g. "stack". */
  readonly statefulSet: string;
  /** How long to wait for the pods to stop before failing. @default 600 */
  readonly timeoutSeconds?: number;
  /** kubeconfig context for kubectl. @default the current context */
  readonly kubeContext?: string;
  /** Work that needs the pods running and must finish first (env dumps, pre-syncs). @default [] */
  readonly runAfter?: pulumi.Input<pulumi.Resource>[];
}

/** What the quiesce script printed last: the record the restore reads back. */
export interface QuiesceRecord {
  readonly namespace: string;
  readonly statefulSet: string;
  readonly originalReplicas: number;
  readonly quiescedAt: string;
}

/** Parses the quiesce script's last stdout line; throws naming the StatefulSet if malformed. */
export function parseQuiesceRecord(stdout: string, target: string): QuiesceRecord {
  const last = stdout.trim().split("\n").pop() ?? "";
  let parsed: Partial<QuiesceRecord>;
  try {
    parsed = JSON.parse(last) as Partial<QuiesceRecord>;
  } catch {
    throw new Error(
      `quiesce ${target}: expected a JSON record on the last stdout line, got "${last}"`,
    );
  }
  if (!Number.isInteger(parsed.originalReplicas) || typeof parsed.quiescedAt !== "string") {
    throw new Error(`quiesce ${target}: record lacks originalReplicas/quiescedAt: ${last}`);
  }
  return parsed as QuiesceRecord;
}

export class QuiescedStatefulSet extends pulumi.ComponentResource {
  /** "namespace/name". */
  public readonly target: string;
  /** The count before the first quiesce; destroy restores exactly this. */
  public readonly originalReplicas: pulumi.Output<number>;
  /** When the last pod was gone (UTC ISO-8601). */
  public readonly quiescedAt: pulumi.Output<string>;
  /** Depend on this to run after the pods are gone. */
  public readonly scaledToZero: command.local.Command;

  constructor(name: string, args: QuiescedStatefulSetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:quiesce:QuiescedStatefulSet", name, {}, opts);
    this.target = `${args.namespace}/${args.statefulSet}`;

    const quiesce = script("quiesce-statefulset.sh");
    const restore = script("restore-statefulset.sh");
    this.scaledToZero = new command.local.Command(
      `${name}-scale`,
      {
        interpreter: ["/bin/bash", "-c"],
        create: quiesce.text,
        delete: restore.text,
        environment: {
          NAMESPACE: args.namespace,
          STATEFULSET: args.statefulSet,
          TIMEOUT_SECONDS: String(args.timeoutSeconds ?? 600),
          ...(args.kubeContext ? { KUBE_CONTEXT: args.kubeContext } : {}),
        },
        addPreviousOutputInEnv: true,
      },
      {
        parent: this,
        dependsOn: args.runAfter ?? [],
        deleteBeforeReplace: true,
        customTimeouts: { create: `${(args.timeoutSeconds ?? 600) + 60}s` },
      },
    );

    const record = this.scaledToZero.stdout.apply((out) => parseQuiesceRecord(out, this.target));
    this.originalReplicas = record.originalReplicas;
    this.quiescedAt = record.quiescedAt;

    this.registerOutputs({
      originalReplicas: this.originalReplicas,
      quiescedAt: this.quiescedAt,
    });
  }
}
