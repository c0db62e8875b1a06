// Reads every object the stack depends on before anything changes: each configured StatefulSet,
// each refresh CronJob, each live volume's PVC and its PV. The reads run in preview too, so a
// wrong namespace/name fails `pulumi preview` and `pulumi up` before any resource is touched:
// every other component is built with `dependsOn: preflight`, and a child registers only after
// its parent, so nothing else even starts until all reads succeeded.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { splitRef, type StatefulSetRef } from "./config";

export interface PreflightArgs {
  /** The StatefulSets the stack will quiesce. */
  readonly statefulSets: readonly StatefulSetRef[];
  /** "namespace/name" of each CronJob a refresh runs (backups[].refresh.cronJob). @default [] */
  readonly cronJobs?: readonly string[];
  /** "namespace/pvc" of each live volume a refresh reads (backups[].refresh.liveVolume). @default [] */
  readonly liveVolumes?: readonly string[];
}

/**
 * The directory holding a PV's data on its server: `spec.nfs.path` (production's NFS
 * provisioner), or `spec.hostPath.path` (a single-node cluster). Throws naming the PV otherwise.
 */
export function volumeDirectory(
  pvc: string,
  pvName: string,
  spec: { nfs?: { path?: string }; hostPath?: { path?: string } } | undefined,
): string {
  const dir = spec?.nfs?.path ?? spec?.hostPath?.path;
  if (!dir || !dir.startsWith("/")) {
    throw new Error(
      `refresh.liveVolume ${pvc}: its PV ${pvName} has neither spec.nfs.path nor spec.hostPath.path; the copy can only read a volume that is a directory on the NFS server`,
    );
  }
  return dir.replace(/\/+$/, "") || "/";
}

/** How a Job mounts a live volume itself (read-only): its PV's own NFS export or host path. */
export type LiveVolumeSource =
  | { nfs: { server: string; path: string; readOnly: true } }
  | { hostPath: { path: string; type: "Directory" } };

/** The PV's volume source a Job mounts to read the live volume (see volumeDirectory). */
export function liveVolumeSource(
  pvc: string,
  pvName: string,
  spec: { nfs?: { server?: string; path?: string }; hostPath?: { path?: string } } | undefined,
): LiveVolumeSource {
  const path = volumeDirectory(pvc, pvName, spec);
  if (spec?.nfs?.path) {
    if (!spec.nfs.server) {
      throw new Error(`refresh.liveVolume ${pvc}: its PV ${pvName} names no spec.nfs.server`);
    }
    return { nfs: { server: spec.nfs.server, path, readOnly: true } };
  }
  return { hostPath: { path, type: "Directory" } };
}

export class Preflight extends pulumi.ComponentResource {
  /** Replicas each StatefulSet has now, by "namespace/name" (what `up` will scale down). */
  public readonly liveReplicas: pulumi.Output<Record<string, number>>;
  /** The live CronJobs by "namespace/name"; a refresh declares its Job from their jobTemplate. */
  public readonly cronJobs: ReadonlyMap<string, k8s.batch.v1.CronJob>;
  /** By "namespace/pvc": the volume's directory on the NFS server (see volumeDirectory). */
  public readonly liveVolumeDirs: ReadonlyMap<string, pulumi.Output<string>>;
  /** By "namespace/pvc": how a copy Job mounts that volume (see liveVolumeSource). */
  public readonly liveVolumeSources: ReadonlyMap<string, pulumi.Output<LiveVolumeSource>>;

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

    // A missing CronJob fails the read ("resource 'ns/name' does not exist") in preview.
    this.cronJobs = new Map(
      [...new Set(args.cronJobs ?? [])].map((id) => {
        const { namespace, name: cron } = splitRef(id);
        const read = k8s.batch.v1.CronJob.get(`${name}-cronjob-${namespace}-${cron}`, id, {
          parent: this,
        });
        return [id, read] as const;
      }),
    );

    const volumes = [...new Set(args.liveVolumes ?? [])].map((id) => {
      const { namespace, name: pvcName } = splitRef(id);
      const pvc = k8s.core.v1.PersistentVolumeClaim.get(`${name}-pvc-${namespace}-${pvcName}`, id, {
        parent: this,
      });
      const pvName = pvc.spec.apply((spec) => {
        if (!spec?.volumeName) {
          throw new Error(
            `refresh.liveVolume ${id}: the PVC is not bound to a PV (spec.volumeName is empty)`,
          );
        }
        return spec.volumeName;
      });
      const pv = k8s.core.v1.PersistentVolume.get(`${name}-pv-${namespace}-${pvcName}`, pvName, {
        parent: this,
      });
      const dir = pulumi.all([pvName, pv.spec]).apply(([n, spec]) => volumeDirectory(id, n, spec));
      const source = pulumi
        .all([pvName, pv.spec])
        .apply(([n, spec]) => liveVolumeSource(id, n, spec));
      return { id, dir, source };
    });
    this.liveVolumeDirs = new Map(volumes.map((v) => [v.id, v.dir]));
    this.liveVolumeSources = new Map(volumes.map((v) => [v.id, v.source]));

    this.registerOutputs({ liveReplicas: this.liveReplicas });
  }
}
