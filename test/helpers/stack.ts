// Loads a stack file's settings into Pulumi's runtime config, as `pulumi up` would hand them over.
import * as pulumi from "@pulumi/pulumi";
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
