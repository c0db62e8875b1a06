// Reads every configured StatefulSet before anything changes. The reads run in preview too, so a
// wrong namespace/name fails `pulumi preview` and `pulumi up` before any resource is touched:
// every other component is built with `dependsOn: preflight`, and a child registers only after
// its parent, so nothing else even starts until all reads succeeded.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StatefulSetRef } from "./config";

export interface PreflightArgs {
  /** The StatefulSets the stack will quiesce. */
  readonly statefulSets: readonly StatefulSetRef[];
}

export class Preflight extends pulumi.ComponentResource {
  /** Replicas each StatefulSet has now, by "namespace/name" (what `up` will scale down). */
  public readonly liveReplicas: pulumi.Output<Record<string, number>>;

  constructor(name: string, args: PreflightArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:preflight:Preflight", name, {}, opts);
    const reads = args.statefulSets.map((s) => {
      const id = `${s.namespace}/${s.statefulSet}`;
      const live = k8s.apps.v1.StatefulSet.get(`${name}-${s.namespace}-${s.statefulSet}`, id, {
        parent: this,
      });
      // A StatefulSet without spec.replicas runs the API default, 1.
      return live.spec.apply((spec) => [id, spec?.replicas ?? 1] as const);
    });
    this.liveReplicas = pulumi.all(reads).apply((pairs) => Object.fromEntries(pairs));
    this.registerOutputs({ liveReplicas: this.liveReplicas });
  }
}
