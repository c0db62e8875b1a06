// What both sides' config parsers share: the project's key namespace, the one-line-per-problem
// error, the key formatting and the duplicate check of their lists. Its own module so
// components/config.ts (which picks the side) and components/restore/config.ts import it
// without importing each other.
import { type z } from "zod";

export const PROJECT = "fragalysis-relocation";

/** The aws-cli image Jobs use; pinned so a re-run uses the same client. */
export const DEFAULT_JOB_IMAGE = "amazon/aws-cli:2.31.39";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `${problems.length} configuration problem(s); fix them with \`pulumi config set\` or in Pulumi.<stack>.yaml:\n` +
        problems.join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** `["quiesce", 1, "namespace"]` -> `fragalysis-relocation:quiesce[1].namespace` */
export function formatKey(path: readonly PropertyKey[]): string {
  let out = `${PROJECT}:`;
  path.forEach((part, i) => {
    if (typeof part === "number") out += `[${part}]`;
    else out += i === 0 ? String(part) : `.${String(part)}`;
  });
  return out;
}

/**
 * One item's duplicate check in a superRefine over a list: if an earlier item had `key` (in
 * `seen`, key -> index of the last item with it), adds an issue at `path` with `message(earlier)`
 * naming that item; then records `key` at `index`. Called per item, inside the loop, so that an
 * item's problems stay in the order its checks run.
 */
export function flagDuplicate(
  ctx: z.core.$RefinementCtx,
  seen: Map<string, number>,
  key: string,
  index: number,
  path: PropertyKey[],
  message: (earlier: number) => string,
): void {
  const earlier = seen.get(key);
  if (earlier !== undefined) ctx.addIssue({ code: "custom", path, message: message(earlier) });
  seen.set(key, index);
}
