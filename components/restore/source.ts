// The restore side's view of the backup stack: its `backups` and `originalReplicas` outputs as
// read through a StackReference, checked against the shared schemas (components/shared/outputs.ts).
// A missing or invalid output fails with one line naming the source stack and the output.
import { type z } from "zod";
import { backupsOutput, originalReplicasOutput } from "../shared/outputs";

/** The backup side's outputs the restore side reads. */
export const SOURCE_OUTPUTS = {
  backups: backupsOutput,
  originalReplicas: originalReplicasOutput,
} as const;
export type SourceOutput = keyof typeof SOURCE_OUTPUTS;

/** `value` (what StackReference.getOutput(name) gave) checked against its schema. */
export function sourceOutput<K extends SourceOutput>(
  stack: string,
  name: K,
  value: unknown,
): z.infer<(typeof SOURCE_OUTPUTS)[K]> {
  const where = `restore.source ${stack}`;
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
  return parsed.data as z.infer<(typeof SOURCE_OUTPUTS)[K]>;
}
