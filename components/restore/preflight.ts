// Reads everything the restore side needs in the new cluster before anything changes: each
// namespace, each database StatefulSet (it must run: the restore talks to its server), each
// password Secret (existence and the key only; its data never reaches an output), each
// StatefulSet to scale up and each PVC. The reads run in preview too, so a wrong name fails
// `pulumi preview` ("resource 'ns/name' does not exist"); the restore Jobs wait for `ready`.
// The backup side's components/preflight.ts is the model.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { OperatorError } from "../operator-error";
import { quantityBytes } from "./quantity";

export interface RestorePreflightArgs {
  /** Namespaces that must exist (the databases', the scale-ups'). */
  readonly namespaces: readonly string[];
  /** Database StatefulSets, with the config key that names each (for messages); must run. */
  readonly databases: readonly {
    readonly key: string;
    readonly namespace: string;
    readonly statefulSet: string;
  }[];
  /**
   * Password Secrets and the key each must hold, with the config key naming each (a Secret may
   * be listed once per key: it is read once).
   */
  readonly secrets: readonly {
    readonly key: string;
    readonly namespace: string;
    readonly name: string;
    readonly dataKey: string;
  }[];
  /** StatefulSets scaled up after the restore. @default [] */
  readonly scaleUp?: readonly { readonly namespace: string; readonly statefulSet: string }[];
  /** "namespace/name" of PVCs the restore writes into (the media volumes). @default [] */
  readonly pvcs?: readonly string[];
}

/** Why a database StatefulSet cannot serve a restore, or undefined when it can. */
export function notRunning(key: string, id: string, replicas: number): string | undefined {
  return replicas >= 1
    ? undefined
    : `${key}: StatefulSet ${id} has 0 replicas; the restore needs its PostgreSQL running: kubectl -n ${id.split("/")[0]} scale statefulset ${id.split("/")[1]} --replicas=1`;
}

export class RestorePreflight extends pulumi.ComponentResource {
  /** Replicas each StatefulSet to scale up has now, by "namespace/name". */
  public readonly scaleUpReplicas: pulumi.Output<Record<string, number>>;
  /** Capacity in bytes of each PVC, by "namespace/name" (undefined: the claim states none). */
  public readonly pvcCapacity: pulumi.Output<Record<string, number | undefined>>;
  /** Resolves (to true) once every database runs and every Secret holds its key. */
  public readonly ready: pulumi.Output<boolean>;

  constructor(name: string, args: RestorePreflightArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:restore:Preflight", name, {}, opts);
    const child = { parent: this };
    // Every read feeds `ready`: a missing object rejects it, naming the object.
    const exists = [...new Set(args.namespaces)].map((ns) =>
      k8s.core.v1.Namespace.get(`${name}-ns-${ns}`, ns, child).metadata.apply(() => true),
    );

    const running = args.databases.map((d) => {
      const id = `${d.namespace}/${d.statefulSet}`;
      const live = k8s.apps.v1.StatefulSet.get(
        `${name}-db-${d.namespace}-${d.statefulSet}`,
        id,
        child,
      );
      return live.spec.apply((spec) => {
        // A StatefulSet without spec.replicas runs the API default, 1.
        const problem = notRunning(d.key, id, spec?.replicas ?? 1);
        if (problem) throw new OperatorError(problem, this);
        return true;
      });
    });

    // One read per Secret (several keys of one Secret: a password and a login's), each key
    // named by the setting that wants it.
    const bySecret = new Map<string, RestorePreflightArgs["secrets"][number][]>();
    for (const s of args.secrets) {
      const id = `${s.namespace}/${s.name}`;
      bySecret.set(id, [...(bySecret.get(id) ?? []), s]);
    }
    const keysPresent = [...bySecret].map(([id, wants]) => {
      const { namespace, name: secretName } = wants[0]!;
      // The SDK marks a Secret's data and stringData secret in state (additionalSecretOutputs);
      // its metadata too here: a Secret made with `kubectl apply` carries its whole content in
      // the kubectl.kubernetes.io/last-applied-configuration annotation, which the read would
      // otherwise put plain into the state and `pulumi preview --diff` (seen in the sandbox).
      const read = k8s.core.v1.Secret.get(`${name}-secret-${namespace}-${secretName}`, id, {
        ...child,
        additionalSecretOutputs: ["metadata"],
      });
      // Only the key names are looked at; the result is a plain boolean, never the data.
      return pulumi.unsecret(
        read.data.apply((data) => {
          const has = Object.keys(data ?? {}).sort();
          const missing = wants.filter(
            (w) => !Object.prototype.hasOwnProperty.call(data ?? {}, w.dataKey),
          );
          if (missing.length > 0) {
            throw new OperatorError(
              missing
                .map(
                  (w) =>
                    `${w.key}: Secret ${id} has no key "${w.dataKey}" (it has: ${has.join(", ") || "none"}); set ${w.key} to the key holding the password`,
                )
                .join("\n"),
              this,
            );
          }
          return true;
        }),
      );
    });

    const scaleUp = (args.scaleUp ?? []).map((s) => {
      const id = `${s.namespace}/${s.statefulSet}`;
      const live = k8s.apps.v1.StatefulSet.get(
        `${name}-up-${s.namespace}-${s.statefulSet}`,
        id,
        child,
      );
      return live.spec.apply((spec) => [id, spec?.replicas ?? 1] as const);
    });
    this.scaleUpReplicas = pulumi.all(scaleUp).apply((pairs) => Object.fromEntries(pairs));

    const capacities: pulumi.Output<readonly [string, number | undefined]>[] = [];
    for (const id of new Set(args.pvcs ?? [])) {
      const [namespace, pvc] = id.split("/");
      const read = k8s.core.v1.PersistentVolumeClaim.get(
        `${name}-pvc-${namespace}-${pvc}`,
        id,
        child,
      );
      exists.push(read.metadata.apply(() => true));
      // What the volume holds: the bound capacity, else what the claim requests.
      capacities.push(
        pulumi.all([read.status, read.spec]).apply(([status, spec]) => {
          const q = status?.capacity?.storage ?? spec?.resources?.requests?.storage;
          return [id, q === undefined ? undefined : quantityBytes(q)] as const;
        }),
      );
    }
    this.pvcCapacity = pulumi.all(capacities).apply((pairs) => Object.fromEntries(pairs));

    this.ready = pulumi
      .all([...exists, ...running, ...keysPresent, this.scaleUpReplicas.apply(() => true)])
      .apply(() => true);
    this.registerOutputs({
      scaleUpReplicas: this.scaleUpReplicas,
      pvcCapacity: this.pvcCapacity,
      ready: this.ready,
    });
  }
}
