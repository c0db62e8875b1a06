// The fixed metadata.name of a Job this stack runs, derived from its Pulumi resource name.
//
// Why fixed (not auto-named): a replacement then has to delete the old Job (and, with the
// provider's default foreground propagation, wait for its pods) BEFORE it creates the new one,
// so a Job still running after an interrupted `up` never gets a second copy beside it. An
// auto-named replacement is created first and runs next to the old one. A Job of that name left
// over from another stack fails the create with AlreadyExists instead of being adopted.
import { createHash } from "node:crypto";

/** Job names stay <= 52 characters: pods add "-<index>-<5 chars>" and labels stop at 63. */
export const MAX_JOB_NAME = 52;

export function jobName(resourceName: string): string {
  const clean = resourceName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (clean.length <= MAX_JOB_NAME) return clean;
  const hash = createHash("sha256").update(resourceName).digest("hex").slice(0, 8);
  return `${clean.slice(0, MAX_JOB_NAME - 9).replace(/-+$/, "")}-${hash}`;
}
