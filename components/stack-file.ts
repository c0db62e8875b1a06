// Reads a stack file (Pulumi.<stack>.yaml) into the same key -> string map Pulumi hands the
// program, so tools outside `pulumi` (the policy printer, tests) validate config identically.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { PROJECT, projectSettings } from "./config";

export function stackFilePath(stack: string): string {
  return path.join(__dirname, "..", `Pulumi.${stack}.yaml`);
}

/** This project's settings from a stack file, values encoded as Pulumi encodes them. */
export function readStackSettings(file: string): Record<string, string> {
  let doc: { config?: Record<string, unknown> } | null;
  try {
    doc = parse(readFileSync(file, "utf8")) as typeof doc;
  } catch (err) {
    throw new Error(
      `${file}: cannot read the stack file (${(err as Error).message.split("\n")[0]})`,
    );
  }
  const all: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc?.config ?? {})) {
    const full = key.includes(":") ? key : `${PROJECT}:${key}`;
    if (value !== null && typeof value === "object" && "secure" in value) {
      all[full] = "[secret]"; // present, encrypted: its value is not needed outside Pulumi
    } else {
      all[full] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return projectSettings(all);
}
