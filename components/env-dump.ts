// Records each configured pod's `env` and each namespace's manifests into S3 (SSE AES256) while
// the pods still run, BEFORE quiesce: `resources` is what QuiescedStatefulSet's runAfter waits for.
//
// Both executors run the same scripts, scripts/dump-env.sh and scripts/snapshot-manifests.sh,
// once per namespace:
//   job   (default) a batch/v1 Job per namespace in the jobs namespace. Its ServiceAccount gets a
//         Role in the pods' namespace: `get` on exactly the configured pods, `create` on
//         pods/exec for exactly those pods, and (manifests on) `list` on exactly the snapshotted
//         kinds, which resourceNames cannot narrow (RBAC applies resourceNames to get, not list).
//         An initContainer copies the static kubectl binary out of `image` (kubectl's image) into
//         an emptyDir; the scripts then run in `awsImage` (bash + the aws CLI). The access key
//         comes from a Secret in the jobs namespace, never from the pods' namespaces, so the
//         manifest snapshot does not carry it.
//   local a local.Command per namespace and script, where `pulumi up` runs (the runbook by hand).
//         The access key goes in through `environment` as Pulumi secrets; stdout (the JSON result
//         line) and stderr (log lines) are secrets in state and not streamed (`logging: none`).
// The object keys come from layout.ts (envDumpKey, manifestKey); the scripts compute the same.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_ENV_DUMP_IMAGE, DEFAULT_JOB_IMAGE, type PodRef } from "./config";
import {
  AwsCredentialsSecret,
  accessKeyEnv,
  awsEnvironment,
  awsTargetEnv,
  type S3Credentials,
  type S3Target,
} from "./credentials";
import { envDumpKey, manifestKey } from "./layout";
import { jobName } from "./job-name";
import { script } from "./scripts";
import { NON_ROOT_CONTAINER, podSecurityContext, valueEnv } from "./shared/job-pod";
import { MANAGED_BY } from "./shared/labels";

export interface PodEnvDumpArgs {
  /** The pods whose `env` to record, e.g. config.envDump.pods. */
  readonly pods: readonly PodRef[];
  /** S3 prefix for dumps and snapshots, e.g. "production-env/" (config.envDump.prefix). */
  readonly prefix: string;
  readonly target: S3Target;
  readonly credentials: S3Credentials;
  /** Where the scripts run. @default "job" */
  readonly executor?: "job" | "local";
  /** Also snapshot each namespace's manifests (Secrets included). @default true */
  readonly manifests?: boolean;
  /** job: image the kubectl binary is copied from; needs `sh` and `cp`. @default DEFAULT_ENV_DUMP_IMAGE */
  readonly image?: string;
  /** job: image the scripts run in; needs bash and the aws CLI. @default DEFAULT_JOB_IMAGE */
  readonly awsImage?: string;
  /** local: kubeconfig context for kubectl. @default the current context */
  readonly kubeContext?: string;
  /** job: existing namespace for the Jobs, ServiceAccounts, Secret, ConfigMaps. @default "fragalysis-relocation" */
  readonly jobsNamespace?: pulumi.Input<string>;
  /** Seconds one namespace's capture may take before it fails. @default 600 */
  readonly timeoutSeconds?: number;
}

/** The kinds scripts/snapshot-manifests.sh snapshots (its KINDS), with their API groups. */
export const MANIFEST_RESOURCES: readonly {
  readonly apiGroup: string;
  readonly resource: string;
}[] = [
  { apiGroup: "apps", resource: "statefulsets" },
  { apiGroup: "apps", resource: "deployments" },
  { apiGroup: "", resource: "services" },
  { apiGroup: "", resource: "configmaps" },
  { apiGroup: "", resource: "secrets" },
  { apiGroup: "", resource: "persistentvolumeclaims" },
  { apiGroup: "networking.k8s.io", resource: "ingresses" },
  { apiGroup: "", resource: "serviceaccounts" },
  { apiGroup: "rbac.authorization.k8s.io", resource: "roles" },
  { apiGroup: "rbac.authorization.k8s.io", resource: "rolebindings" },
  { apiGroup: "batch", resource: "cronjobs" },
];

export interface PolicyRule {
  readonly apiGroups: string[];
  readonly resources: string[];
  readonly verbs: string[];
  readonly resourceNames?: string[];
}

/**
 * The Role for one namespace's capture: read exactly these pods, exec into exactly these pods
 * (SPDY exec is a POST: `create`; the scripts turn kubectl's WebSocket exec off), and, with
 * manifests, `list` the snapshotted kinds (a list cannot be narrowed by resourceNames).
 */
export function envDumpRules(pods: readonly string[], manifests: boolean): PolicyRule[] {
  const names = [...pods];
  const rules: PolicyRule[] = [
    { apiGroups: [""], resources: ["pods"], verbs: ["get"], resourceNames: names },
    { apiGroups: [""], resources: ["pods/exec"], verbs: ["create"], resourceNames: [...names] },
  ];
  if (manifests) {
    const groups = [...new Set(MANIFEST_RESOURCES.map((r) => r.apiGroup))];
    for (const group of groups) {
      rules.push({
        apiGroups: [group],
        resources: MANIFEST_RESOURCES.filter((r) => r.apiGroup === group).map((r) => r.resource),
        verbs: ["list"],
      });
    }
  }
  return rules;
}

/** Pod names per namespace, in config order, each once. */
export function podsByNamespace(pods: readonly PodRef[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of pods) {
    const list = out.get(p.namespace) ?? [];
    if (!list.includes(p.pod)) list.push(p.pod);
    out.set(p.namespace, list);
  }
  return out;
}

/** Where the Job mounts the scripts and the copied kubectl. */
export const JOB_SCRIPTS_DIR = "/scripts";
export const JOB_TOOLS_DIR = "/tools";

/** The Job's command: both scripts always run; the Job fails if either did. */
export function envDumpJobCommand(manifests: boolean): string {
  const lines = ["rc=0", `bash ${JOB_SCRIPTS_DIR}/dump-env.sh || rc=1`];
  if (manifests) lines.push(`bash ${JOB_SCRIPTS_DIR}/snapshot-manifests.sh || rc=1`);
  lines.push('exit "$rc"');
  return lines.join("\n");
}

/** The initContainer's command: copy the image's kubectl (a static binary) to the tools volume. */
export function copyKubectlCommand(): string {
  return `cp "$(command -v kubectl)" ${JOB_TOOLS_DIR}/kubectl`;
}

/** What a script printed last: the keys written and the earlier captures that stood. */
export interface CaptureResult {
  readonly namespace: string;
  readonly keys: string[];
  readonly kept: string[];
}

/** Parses a script's last stdout line; throws naming what ran if malformed. */
export function parseCaptureResult(stdout: string, what: string): CaptureResult {
  const last = stdout.trim().split("\n").pop() ?? "";
  let parsed: Partial<CaptureResult>;
  try {
    parsed = JSON.parse(last) as Partial<CaptureResult>;
  } catch {
    throw new Error(`${what}: expected a JSON result on the last stdout line, got "${last}"`);
  }
  if (!Array.isArray(parsed.keys) || !Array.isArray(parsed.kept)) {
    throw new Error(`${what}: result lacks keys/kept: ${last}`);
  }
  return parsed as CaptureResult;
}

const NON_ROOT_ID = 65532;

export class PodEnvDump extends pulumi.ComponentResource {
  /** "namespace/pod" -> object key of its env dump. Plain: keys are not secret. */
  public readonly envKeys: pulumi.Output<Record<string, string>>;
  /** namespace -> object key of its manifest snapshot ({} when manifests are off). */
  public readonly manifestKeys: pulumi.Output<Record<string, string>>;
  /**
   * Keys whose earlier capture stood because the pod (or namespace) was down on this run.
   * local executor only; a Job says so in its log, and this is undefined.
   */
  public readonly keptKeys: pulumi.Output<string[] | undefined>;
  /** What must finish before quiesce: the Jobs (job) or the Commands (local). */
  public readonly resources: pulumi.CustomResource[];

  constructor(name: string, args: PodEnvDumpArgs, opts?: pulumi.ComponentResourceOptions) {
    super("relocation:env:PodEnvDump", name, {}, opts);
    const manifests = args.manifests ?? true;
    const timeoutSeconds = args.timeoutSeconds ?? 600;
    const byNamespace = podsByNamespace(args.pods);
    const dump = script("dump-env.sh");
    const snapshot = script("snapshot-manifests.sh");

    const envKeys: Record<string, string> = {};
    const manifestKeys: Record<string, string> = {};
    for (const [ns, pods] of byNamespace) {
      for (const pod of pods) envKeys[`${ns}/${pod}`] = envDumpKey(args.prefix, ns, pod);
      if (manifests) manifestKeys[ns] = manifestKey(args.prefix, ns);
    }

    const executor = args.executor ?? "job";
    if (executor === "local") {
      const commands: command.local.Command[] = [];
      const labels: string[] = [];
      const env = awsEnvironment(args.target, args.credentials);
      const common = {
        BUCKET: args.target.bucket,
        PREFIX: args.prefix,
        ...(args.kubeContext ? { KUBE_CONTEXT: args.kubeContext } : {}),
        ...env,
      };
      const run = (suffix: string, text: string, sha: string, extra: Record<string, string>) => {
        const cmd = new command.local.Command(
          `${name}-${suffix}`,
          {
            interpreter: ["/bin/bash", "-c"],
            create: text,
            environment: { ...common, ...extra },
            triggers: [sha],
            // Whole pod environments pass through these scripts: nothing is streamed to the CLI
            // (the real provider streams every line by default); a failure still shows its output.
            logging: "none",
          },
          {
            parent: this,
            customTimeouts: { create: `${timeoutSeconds}s` },
            // The real provider keeps stdout/stderr plain, whatever went in as a secret.
            additionalSecretOutputs: ["stdout", "stderr"],
          },
        );
        commands.push(cmd);
        labels.push(`${name}-${suffix}`);
      };
      for (const [ns, pods] of byNamespace) {
        run(`${ns}-env`, dump.text, dump.sha256, { NAMESPACE: ns, PODS: pods.join(" ") });
        if (manifests) {
          run(`${ns}-manifests`, snapshot.text, snapshot.sha256, { NAMESPACE: ns });
        }
      }
      this.resources = commands;
      // Keys are not secret; stdout is (additionalSecretOutputs).
      this.keptKeys = pulumi.unsecret(
        pulumi
          .all(commands.map((c) => c.stdout))
          .apply((outs) => outs.flatMap((out, i) => parseCaptureResult(out, labels[i]!).kept)),
      );
    } else {
      this.resources = this.jobs(name, args, byNamespace, manifests, timeoutSeconds);
      this.keptKeys = pulumi.output(undefined);
    }

    // Reported only once every capture finished.
    const done = pulumi.all(this.resources.map((r) => r.id));
    this.envKeys = done.apply(() => envKeys);
    this.manifestKeys = done.apply(() => manifestKeys);
    this.registerOutputs({
      envKeys: this.envKeys,
      manifestKeys: this.manifestKeys,
      keptKeys: this.keptKeys,
    });
  }

  private jobs(
    name: string,
    args: PodEnvDumpArgs,
    byNamespace: Map<string, string[]>,
    manifests: boolean,
    timeoutSeconds: number,
  ): k8s.batch.v1.Job[] {
    if (byNamespace.size === 0) return [];
    const jobsNamespace = args.jobsNamespace ?? "fragalysis-relocation";
    const dump = script("dump-env.sh");
    const snapshot = script("snapshot-manifests.sh");
    const credentials = new AwsCredentialsSecret(
      `${name}-aws`,
      { namespace: jobsNamespace, credentials: args.credentials },
      { parent: this },
    );
    const jobs: k8s.batch.v1.Job[] = [];
    for (const [ns, pods] of byNamespace) {
      const id = `${name}-${ns}`;
      const account = new k8s.core.v1.ServiceAccount(
        `${id}-sa`,
        { metadata: { namespace: jobsNamespace, labels: MANAGED_BY } },
        { parent: this },
      );
      const role = new k8s.rbac.v1.Role(
        `${id}-role`,
        { metadata: { namespace: ns, labels: MANAGED_BY }, rules: envDumpRules(pods, manifests) },
        { parent: this },
      );
      const binding = new k8s.rbac.v1.RoleBinding(
        `${id}-binding`,
        {
          metadata: { namespace: ns, labels: MANAGED_BY },
          roleRef: {
            apiGroup: "rbac.authorization.k8s.io",
            kind: "Role",
            name: role.metadata.name,
          },
          subjects: [
            { kind: "ServiceAccount", name: account.metadata.name, namespace: jobsNamespace },
          ],
        },
        { parent: this },
      );
      const scripts = new k8s.core.v1.ConfigMap(
        `${id}-scripts`,
        {
          metadata: { namespace: jobsNamespace, labels: MANAGED_BY },
          data: {
            [dump.name]: dump.text,
            ...(manifests ? { [snapshot.name]: snapshot.text } : {}),
          },
        },
        { parent: this },
      );
      const job = new k8s.batch.v1.Job(
        `${id}-job`,
        {
          metadata: {
            // Fixed name + deleteBeforeReplace: never two dumps side by side (job-name.ts).
            name: jobName(`${id}-job`),
            namespace: jobsNamespace,
            labels: MANAGED_BY,
            // A failed Job is replaced (re-run) by the next `up` instead of awaited again.
            annotations: { "pulumi.com/replaceUnready": "true" },
          },
          spec: {
            backoffLimit: 1,
            activeDeadlineSeconds: timeoutSeconds,
            // No ttlSecondsAfterFinished: a Job removed by its TTL would be dropped by
            // `pulumi refresh` and dumped again by the next `up` (after the quiesce: no pods).
            template: {
              metadata: {
                labels: MANAGED_BY,
                // An edited script changes the template, which replaces (re-runs) the Job. Not
                // scriptsAnnotation: with manifests off its value would lose the "-", and that
                // changed template would re-run every such Job.
                annotations: {
                  "relocation.fragalysis/scripts-sha256": `${dump.sha256} ${manifests ? snapshot.sha256 : "-"}`,
                },
              },
              spec: {
                serviceAccountName: account.metadata.name,
                restartPolicy: "Never",
                securityContext: podSecurityContext(NON_ROOT_ID, NON_ROOT_ID),
                volumes: [
                  {
                    name: "scripts",
                    configMap: { name: scripts.metadata.name, defaultMode: 0o555 },
                  },
                  { name: "tools", emptyDir: { sizeLimit: "256Mi" } },
                  { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
                ],
                initContainers: [
                  {
                    name: "kubectl",
                    image: args.image ?? DEFAULT_ENV_DUMP_IMAGE,
                    command: ["sh", "-c", copyKubectlCommand()],
                    securityContext: NON_ROOT_CONTAINER,
                    volumeMounts: [{ name: "tools", mountPath: JOB_TOOLS_DIR }],
                  },
                ],
                containers: [
                  {
                    name: "capture",
                    image: args.awsImage ?? DEFAULT_JOB_IMAGE,
                    command: ["/bin/bash", "-c", envDumpJobCommand(manifests)],
                    env: [
                      ...valueEnv({
                        NAMESPACE: ns,
                        PODS: pods.join(" "),
                        BUCKET: args.target.bucket,
                        PREFIX: args.prefix,
                        ...awsTargetEnv(args.target),
                      }),
                      ...accessKeyEnv(credentials.secretName),
                      ...valueEnv({
                        PATH: `${JOB_TOOLS_DIR}:/usr/local/bin:/usr/bin:/bin`,
                        HOME: "/tmp",
                      }),
                    ],
                    securityContext: NON_ROOT_CONTAINER,
                    volumeMounts: [
                      { name: "scripts", mountPath: JOB_SCRIPTS_DIR, readOnly: true },
                      { name: "tools", mountPath: JOB_TOOLS_DIR, readOnly: true },
                      { name: "tmp", mountPath: "/tmp" },
                    ],
                    resources: {
                      requests: { cpu: "50m", memory: "128Mi" },
                      limits: { memory: "512Mi" },
                    },
                  },
                ],
              },
            },
          },
        },
        {
          parent: this,
          // RBAC first: a Job that starts before its RoleBinding fails with Forbidden.
          dependsOn: [binding, credentials],
          customTimeouts: { create: `${timeoutSeconds + 120}s` },
          deleteBeforeReplace: true,
        },
      );
      jobs.push(job);
    }
    return jobs;
  }
}
