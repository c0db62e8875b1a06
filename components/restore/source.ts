// The restore side's view of the backup stack: its `backups`, `originalReplicas` and
// `fingerprints` outputs as read through a StackReference, checked against the shared schemas
// (components/shared/outputs.ts). A missing or invalid output fails with one line naming the
// source stack and the output; an OPTIONAL one may be missing (then undefined).
import { type z } from "zod";
import { backupsOutput, fingerprintsOutput, originalReplicasOutput } from "../shared/outputs";

/** The backup side's outputs the restore side reads. */
export const SOURCE_OUTPUTS = {
  backups: backupsOutput,
  originalReplicas: originalReplicasOutput,
  fingerprints: fingerprintsOutput,
} as const;
export type SourceOutput = keyof typeof SOURCE_OUTPUTS;

/**
 * Outputs a source stack may lack: `fingerprints` came with a later version of the backup
 * program, and without it the restore verdict says "unverified" instead of failing.
 */
export const OPTIONAL_OUTPUTS = ["fingerprints"] as const satisfies readonly SourceOutput[];
type OptionalOutput = (typeof OPTIONAL_OUTPUTS)[number];
/** What `sourceOutput` gives for an output: undefined only for an optional one that is absent. */
export type SourceValue<K extends SourceOutput> =
  z.infer<(typeof SOURCE_OUTPUTS)[K]> | (K extends OptionalOutput ? undefined : never);

/** `value` (what StackReference.getOutput(name) gave) checked against its schema. */
export function sourceOutput<K extends SourceOutput>(
  stack: string,
  name: K,
  value: unknown,
): SourceValue<K> {
  const where = `restore.source ${stack}`;
  if (
    (value === undefined || value === null) &&
    (OPTIONAL_OUTPUTS as readonly string[]).includes(name)
  ) {
    return undefined as SourceValue<K>;
  }
  if (value === undefined || value === null) {
    throw new Error(
      `${where}: the stack has no ${name} output; run \`pulumi up\` of the backup stack first, or set restore.source to the stack that ran it`,
    );
  }
  const parsed = SOURCE_OUTPUTS[name].safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${[name, ...i.path.map(String)].join(".")}: ${i.message}`,
    );
    throw new Error(
      `${where}: its ${name} output does not match the shared contract (components/shared/outputs.ts): ${problems.join("; ")}; is the backup stack at the same version of this program?`,
    );
  }
  return parsed.data as SourceValue<K>;
}
