// What both sides' config parsers share: the project's key namespace, the one-line-per-problem
// error, the key formatting, the schema parts both use (names, seconds, flags, images, the AWS
// region and endpoint, the kube context) and the duplicate check of their lists. Its own module
// so components/config.ts (which picks the side) and components/restore/config.ts import it
// without importing each other.
import { z } from "zod";

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

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const HOST = /^[A-Za-z0-9.:-]+$/;

/** A value that is absent gets "required", anything else the hint. */
export function hint(text: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? `required; ${text}` : `invalid; ${text}`;
}

export const k8sName = (example: string) =>
  z
    .string({ error: hint(`a Kubernetes name such as "${example}"`) })
    .max(63, { error: `at most 63 characters, e.g. "${example}"` })
    .regex(K8S_NAME, { error: `lowercase letters, digits and '-' only, e.g. "${example}"` });

export const seconds = (fallback: number, max: number) =>
  z
    .number({ error: hint(`whole seconds between 1 and ${max}, e.g. ${fallback}`) })
    .int({ error: `whole seconds between 1 and ${max}, e.g. ${fallback}` })
    .min(1, { error: `whole seconds between 1 and ${max}, e.g. ${fallback}` })
    .max(max, { error: `whole seconds between 1 and ${max}, e.g. ${fallback}` })
    .default(fallback);

export const flag = (fallback: boolean) =>
  z.boolean({ error: hint("true or false") }).default(fallback);

/** A container image setting; `what` says what the image must hold. */
export const image = (what: string, fallback: string) =>
  z
    .string({ error: hint(what) })
    .min(1, { error: what })
    .default(fallback);

export const awsRegion = z
  .string({ error: hint('an AWS region such as "eu-central-1"') })
  .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'an AWS region, e.g. "eu-central-1"' });

export const awsEndpoint = z
  .url({ error: 'an http(s) URL of an S3-compatible endpoint, e.g. "http://127.0.0.1:5000"' })
  .optional();

export const kubeContext = z
  .string({ error: hint("a kubeconfig context name") })
  .min(1, { error: "a kubeconfig context name" })
  .optional();

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
