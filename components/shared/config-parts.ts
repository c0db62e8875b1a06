// What both sides' config parsers share: the project's key namespace, the one-line-per-problem
// error and the key formatting. Its own module so components/config.ts (which picks the side)
// and components/restore/config.ts import it without importing each other.

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
