// The restore side's plan, shown by `pulumi preview` before anything changes: which object goes
// into which server (size, sha256, the logins checked after), which tree into which volume (files,
// bytes against the volume's capacity), which StatefulSets go from what count to what. Pure:
// the source's outputs and the preflight's reads in, the plan and its problems out. A problem (a
// tree larger than its volume) fails the preview, naming the setting.
import { type BackupsOutput, isDump, type OriginalReplicas } from "../shared/outputs";
import { formatKey } from "../shared/config-parts";
import { type RestoreConfig } from "./config";
import { formatBytes } from "./quantity";

export interface RestorePlanInput {
  readonly databases: RestoreConfig["databases"];
  readonly media: RestoreConfig["media"];
  readonly scaleUp: RestoreConfig["scaleUp"];
  readonly backups: BackupsOutput;
  readonly originalReplicas: OriginalReplicas;
  /** Replicas each scaleUp StatefulSet has now, by "namespace/name" (the preflight's read). */
  readonly scaleUpNow: Record<string, number>;
  /** Capacity in bytes of each media PVC, by "namespace/name"; undefined when it says none. */
  readonly pvcCapacity: Record<string, number | undefined>;
}

export interface RestorePlan {
  readonly databases: {
    backup: string;
    object: string | null;
    size: number | null;
    sha256: string | null;
    into: string;
    logins: string[];
  }[];
  readonly media: {
    backup: string;
    pvc: string;
    files: number | null;
    bytes: number | null;
    capacity: number | null;
  }[];
  readonly scaleUp: { statefulSet: string; from: string; now: number | null; to: number | null }[];
  /** Why the restore cannot work as configured (each one line naming the setting). */
  readonly problems: string[];
}

export function restorePlan(input: RestorePlanInput): RestorePlan {
  const problems: string[] = [];
  const databases = input.databases.map((d) => {
    const entry = input.backups[d.backup];
    const dump = entry !== undefined && isDump(entry) ? entry : undefined;
    return {
      backup: d.backup,
      object: dump ? `s3://${dump.bucket}/${dump.key}` : null,
      size: dump?.size ?? null,
      sha256: dump?.sha256 ?? null,
      into: `${d.namespace}/${d.statefulSet} (${d.host}:${d.port} as ${d.user})`,
      logins: d.logins.map((l) => `${l.user}@${l.database}`),
    };
  });
  const media = input.media.map((m, i) => {
    const entry = input.backups[m.backup];
    const tree = entry !== undefined && !isDump(entry) ? entry : undefined;
    const pvc = `${m.namespace}/${m.pvc}`;
    const capacity = input.pvcCapacity[pvc] ?? null;
    if (tree && capacity !== null && tree.bytes > capacity) {
      problems.push(
        `${formatKey(["restore", "media", i, "pvc"])}: PVC ${pvc} holds ${formatBytes(capacity)}, the tree ${m.backup} is ${formatBytes(tree.bytes)} (${tree.files} files); give the volume room for the tree plus the filesystem's overhead, or restore into a larger PVC`,
      );
    }
    return {
      backup: m.backup,
      pvc,
      files: tree?.files ?? null,
      bytes: tree?.bytes ?? null,
      capacity,
    };
  });
  const scaleUp = input.scaleUp.map((s) => {
    const id = `${s.namespace}/${s.statefulSet}`;
    const from = s.from ?? id;
    return {
      statefulSet: id,
      from,
      now: input.scaleUpNow[id] ?? null,
      to: input.originalReplicas[from] ?? null,
    };
  });
  return { databases, media, scaleUp, problems };
}

const n = (v: number | null, what: string) => (v === null ? `? ${what}` : `${v} ${what}`);

/** The plan as lines for the preview's diagnostics. */
export function restorePlanText(plan: RestorePlan): string[] {
  const lines = ["restore plan (nothing has changed yet):"];
  for (const d of plan.databases) {
    lines.push(
      `  dump ${d.backup}: ${d.object ?? "(not a dump in the source: see the error)"}` +
        (d.size === null ? "" : `, ${formatBytes(d.size)}, sha256 ${d.sha256!.slice(0, 12)}…`) +
        ` -> ${d.into}, into an empty server` +
        (d.logins.length > 0 ? `; then logins ${d.logins.join(", ")}` : ""),
    );
  }
  for (const m of plan.media) {
    lines.push(
      `  media ${m.backup}: ${n(m.files, "files")}, ${m.bytes === null ? "? bytes" : formatBytes(m.bytes)} -> PVC ${m.pvc}` +
        (m.capacity === null ? " (capacity not stated)" : ` (capacity ${formatBytes(m.capacity)})`),
    );
  }
  for (const s of plan.scaleUp) {
    lines.push(
      `  scale up ${s.statefulSet}: ${n(s.now, "replicas now")} -> ${n(s.to, "")}`.trimEnd() +
        (s.from === s.statefulSet ? "" : ` (the count ${s.from} had)`) +
        ", after the restores and the verdict",
    );
  }
  for (const p of plan.problems) lines.push(`  PROBLEM ${p}`);
  return lines;
}
