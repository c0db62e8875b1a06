// Loads a stack file's settings into Pulumi's runtime config, as `pulumi up` would hand them over.
import * as pulumi from "@pulumi/pulumi";
import type { backupSide } from "../../components/backup/side";
import { PROJECT } from "../../components/config";
import { readStackSettings, stackFilePath } from "../../components/stack-file";

/** Production settings (plus overrides, e.g. secrets) as the program's runtime config. */
export function useStackConfig(stack: string, overrides: Record<string, string> = {}): void {
  const settings = { ...readStackSettings(stackFilePath(stack)), ...overrides };
  const all: Record<string, string> = {};
  for (const [key, value] of Object.entries(settings)) all[`${PROJECT}:${key}`] = value;
  const secrets = Object.keys(overrides)
    .filter((k) => /Key|Secret|Id$/.test(k))
    .map((k) => `${PROJECT}:${k}`);
  pulumi.runtime.setAllConfig(all, secrets);
}

/** The stack outputs of the backup side (index.ts exports the chosen side's). */
export type BackupOutputs = ReturnType<typeof backupSide>;

/**
 * The destination file's settings as the program's runtime config, with a test access key and,
 * when given, `restore` set to the file's with these keys replaced (e.g. a scaleUp to test).
 */
export function useDestinationConfig(restore: Record<string, unknown> = {}): void {
  const keys = { awsAccessKeyId: "AKIA", awsSecretAccessKey: "not-a-secret" };
  if (Object.keys(restore).length === 0) return useStackConfig("destination", keys);
  const file = JSON.parse(readStackSettings(stackFilePath("destination")).restore!);
  useStackConfig("destination", { restore: JSON.stringify({ ...file, ...restore }), ...keys });
}

/** Runs index.ts (config set before) and returns its outputs (the stack outputs), by name. */
export async function importProgram(): Promise<Record<string, unknown>> {
  // index.ts is `export =` (CommonJS): an ESM import sees it as `default`, as Pulumi's loader does.
  const mod = (await import("../../index")) as Record<string, unknown>;
  return (mod.default ?? mod) as Record<string, unknown>;
}

/** Runs index.ts (config set before) and returns its outputs, which must be the backup side's. */
export async function importBackupStack(): Promise<BackupOutputs> {
  const outputs = await importProgram();
  if (!("backups" in outputs && "originalReplicas" in outputs)) {
    throw new Error(`index.ts exported no backup-side outputs: ${Object.keys(outputs).join(", ")}`);
  }
  return outputs as unknown as BackupOutputs;
}
