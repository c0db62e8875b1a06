// Pulumi mocks that record every resource with its parent, dependencies and options, and that
// fail on anything not mocked: a test sees exactly the graph the program would register.
import * as pulumi from "@pulumi/pulumi";
import { deserializeProperties } from "@pulumi/pulumi/runtime/rpc";

export interface Registered {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  /** URN of the parent, "" for the stack's direct children. */
  readonly parent: string;
  /** URNs this resource waits for (dependsOn and input dependencies). */
  readonly dependencies: string[];
  readonly inputs: Record<string, unknown>;
  readonly custom: boolean;
  /** Provider reference ("urn::id"), "" for the default provider. */
  readonly provider: string;
  /** Set for `.get` reads: the id read. */
  readonly readId?: string;
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
  readonly deleteBeforeReplace: boolean;
  /** Names of outputs the program marked as additional secrets. */
  readonly additionalSecretOutputs: string[];
}

export interface MockOptions {
  /** Live StatefulSets by "namespace/name" -> replicas; any other `.get` fails like the provider. */
  readonly statefulSets?: Record<string, number>;
  /** Pods that exist, "namespace/name". */
  readonly pods?: string[];
  /** Live CronJobs by "namespace/name" -> their spec.jobTemplate; any other `.get` fails. */
  readonly cronJobs?: Record<string, Record<string, unknown>>;
  /** Live volumes by "namespace/pvc" -> the bound PV's name and spec; others fail. */
  readonly volumes?: Record<string, { pv: string; spec: Record<string, unknown> }>;
  /** Outputs a Command "ran" with, by resource name; default: the mock's own per-type answer. */
  readonly commandStdout?: (name: string, inputs: Record<string, unknown>) => string;
  /**
   * Answers an invoke (today only `command:local:run`, the plan's read at preview); throw to fail
   * it. Default: planStdout (the plan scripts' results, everything allowed).
   */
  readonly invoke?: (token: string, inputs: Record<string, unknown>) => Record<string, unknown>;
  readonly preview?: boolean;
  readonly stack?: string;
  /** Extra state per resource type token. */
  readonly state?: (
    type: string,
    name: string,
    inputs: Record<string, unknown>,
  ) => Record<string, unknown>;
}

export interface Invoked {
  readonly token: string;
  readonly inputs: Record<string, unknown>;
}

export class Recorder {
  readonly resources: Registered[] = [];
  readonly invokes: Invoked[] = [];

  byType(type: string): Registered[] {
    return this.resources.filter((r) => r.type === type);
  }

  named(name: string): Registered {
    const found = this.resources.find((r) => r.name === name);
    if (!found) {
      throw new Error(
        `no resource named ${name}; have: ${this.resources.map((r) => r.name).join(", ")}`,
      );
    }
    return found;
  }

  /**
   * True if `res` cannot start before `dep` is done: through its dependencies (the SDK already
   * expands a component dependency into the component's resources), through its parents (a child
   * registers only after its parent, and a component registers only after its own dependsOn), and
   * transitively through theirs.
   */
  waitsFor(res: Registered, dep: Registered): boolean {
    const byUrn = new Map(this.resources.map((r) => [r.urn, r]));
    const seen = new Set<string>();
    const todo = [...res.dependencies, res.parent].filter(Boolean);
    while (todo.length > 0) {
      const urn = todo.pop()!;
      if (urn === dep.urn) return true;
      if (seen.has(urn)) continue;
      seen.add(urn);
      const r = byUrn.get(urn);
      if (r) todo.push(...r.dependencies, ...(r.parent ? [r.parent] : []));
    }
    return false;
  }
}

function defaultStdout(name: string, inputs: Record<string, unknown>): string {
  const env = (inputs.environment ?? {}) as Record<string, string>;
  if (env.STATEFULSET) {
    return `{"namespace":"${env.NAMESPACE}","statefulSet":"${env.STATEFULSET}","originalReplicas":3,"quiescedAt":"2026-11-25T10:00:00Z"}`;
  }
  return `{"mock":"${name}"}`;
}

/**
 * What the plan script a local.run names prints when all is well: plan-s3.sh every prefix
 * listable; plan-cluster.sh these StatefulSets' counts and every permission it is asked allowed.
 */
export function planStdout(
  statefulSets: Record<string, number>,
  inputs: Record<string, unknown>,
): string {
  const env = (inputs.environment ?? {}) as Record<string, string>;
  if (String(inputs.command).includes("plan-nfs.sh")) return planNfsStdout(String(inputs.stdin));
  if (String(inputs.command).includes("plan-s3.sh")) {
    return JSON.stringify({
      bucket: env.BUCKET,
      prefixes: (env.PREFIXES ?? "")
        .split(" ")
        .filter(Boolean)
        .map((prefix) => ({ prefix, listable: true, write: env.WRITE_PROOF })),
    });
  }
  const sets = (env.PLAN_STATEFULSETS ?? "").split(" ").filter(Boolean);
  const checks = (env.PLAN_CHECKS ?? "").split("\n").filter(Boolean);
  return JSON.stringify({
    statefulSets: sets.map((id) => {
      const [namespace, name] = id.split("/");
      const replicas = statefulSets[id] ?? 1;
      const pods = Array.from({ length: replicas }, (_, i) => `${name}-${i}`);
      return { namespace, name, replicas, restores: replicas, pods };
    }),
    permissions: checks.map((line) => {
      const [verb, resource, ns] = line.split(" ");
      return { verb, resource, namespace: ns === "-" ? null : ns, allowed: true };
    }),
    // Every refresh CronJob's last Job ran 4 minutes.
    cronJobs: (env.PLAN_CRONJOBS ?? "")
      .split(" ")
      .filter(Boolean)
      .map((id) => ({ namespace: id.split("/")[0], name: id.split("/")[1], lastRunSeconds: 240 })),
  });
}

/**
 * plan-nfs.sh when all is well: logged in, and per "#backup NAME SCRIPT BYTES" frame of its stdin
 * a dump of 100 MiB absent from S3, or a tree of 1000 files (1 GiB) with 10 (10 MiB) to send.
 */
export function planNfsStdout(stdin: string): string {
  const lines = ["ssh\tok\tnfs-check: ok: root@nfs bash 5.2.15, aws-cli/2.31.39"];
  for (const m of stdin.matchAll(/^#backup (\S+) (\S+) \d+$/gm)) {
    const [, name, script] = m;
    const json =
      script === "copy-latest.sh"
        ? {
            name: "backup-2026-12-07T01:51:01Z-dumpall.sql.gz",
            key: `${name}/backup-2026-12-07T01:51:01Z-dumpall.sql.gz`,
            size: 100 * 1024 * 1024,
            mtime: "2026-12-07T01:52:10Z",
            ageSeconds: 1800,
            sourceTime: "2026-12-07T01:51:01Z",
            inS3: "absent",
          }
        : {
            bucket: "im-fragalysis",
            prefix: `${name}/`,
            treeFiles: 1000,
            treeBytes: 1024 * 1024 * 1024,
            files: 1000,
            bytes: 1024 * 1024 * 1024,
            inS3Files: 990,
            inS3Bytes: 1014 * 1024 * 1024,
            recordedFiles: 990,
            deltaFiles: 10,
            deltaBytes: 10 * 1024 * 1024,
            newest: "2026-12-07T01:00:00Z",
          };
    lines.push(`backup\t${name}\tok\t${JSON.stringify(json)}`);
  }
  return lines.join("\n") + "\n";
}

/** Installs the mocks; call before importing or constructing anything under test. */
export async function useMocks(options: MockOptions = {}): Promise<Recorder> {
  const recorder = new Recorder();
  const statefulSets = options.statefulSets ?? {};
  const pods = new Set(options.pods ?? []);
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        const extra = options.state?.(args.type, args.name, inputs) ?? {};
        if (args.id && args.type === "kubernetes:apps/v1:StatefulSet") {
          if (!(args.id in statefulSets)) throw new Error(`resource '${args.id}' does not exist`);
          const [namespace, name] = args.id.split("/");
          return {
            id: args.id,
            state: {
              metadata: { namespace, name },
              spec: { replicas: statefulSets[args.id], selector: { matchLabels: { app: name } } },
              ...extra,
            },
          };
        }
        if (args.id && args.type === "kubernetes:batch/v1:CronJob") {
          const template = options.cronJobs?.[args.id];
          if (!template) throw new Error(`resource '${args.id}' does not exist`);
          const [namespace, name] = args.id.split("/");
          return {
            id: args.id,
            state: {
              metadata: { namespace, name },
              spec: { schedule: "51 * * * *", jobTemplate: template },
            },
          };
        }
        if (args.id && args.type === "kubernetes:core/v1:PersistentVolumeClaim") {
          const volume = options.volumes?.[args.id];
          if (!volume) throw new Error(`resource '${args.id}' does not exist`);
          const [namespace, name] = args.id.split("/");
          return {
            id: args.id,
            state: { metadata: { namespace, name }, spec: { volumeName: volume.pv } },
          };
        }
        if (args.id && args.type === "kubernetes:core/v1:PersistentVolume") {
          const volume = Object.values(options.volumes ?? {}).find((v) => v.pv === args.id);
          if (!volume) throw new Error(`resource '${args.id}' does not exist`);
          return { id: args.id, state: { metadata: { name: args.id }, spec: volume.spec } };
        }
        if (args.id && args.type === "kubernetes:core/v1:Pod") {
          if (!pods.has(args.id)) throw new Error(`resource '${args.id}' does not exist`);
          const [namespace, name] = args.id.split("/");
          return { id: args.id, state: { metadata: { namespace, name }, ...extra } };
        }
        if (args.type.startsWith("command:")) {
          const stdout = (options.commandStdout ?? defaultStdout)(args.name, inputs);
          return { id: `${args.name}-id`, state: { ...inputs, stdout, stderr: "", ...extra } };
        }
        return { id: `${args.name}-id`, state: { ...inputs, ...extra } };
      },
      call(args) {
        const inputs = args.inputs as Record<string, unknown>;
        recorder.invokes.push({ token: args.token, inputs });
        if (options.invoke) return options.invoke(args.token, inputs);
        if (args.token === "command:local:run") {
          return { stdout: planStdout(statefulSets, inputs), stderr: "" };
        }
        throw new Error(`unexpected invoke ${args.token}: mock it explicitly`);
      },
    },
    "fragalysis-relocation",
    options.stack ?? "test",
    options.preview ?? false,
  );

  const monitor = pulumi.runtime.getMonitor() as unknown as Record<string, Function>;
  const record = (req: any, readId?: string) =>
    recorder.resources.push({
      type: req.getType(),
      name: req.getName(),
      urn: "",
      parent: req.getParent(),
      provider: req.getProvider?.() ?? "",
      dependencies: req.getDependenciesList?.() ?? [],
      inputs: {},
      custom: readId !== undefined || Boolean(req.getCustom?.()),
      readId,
      protect: Boolean(req.getProtect?.()),
      retainOnDelete: Boolean(req.getRetainondelete?.()),
      deleteBeforeReplace: Boolean(req.getDeletebeforereplace?.()),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList?.() ?? [],
    });
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: Function) => {
    const index = recorder.resources.length;
    record(req);
    return register(req, (err: unknown, res: any) => {
      if (res) complete(index, res.getUrn(), req.getObject());
      callback(err, res);
    });
  };
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = (req: any, callback: Function) => {
    const index = recorder.resources.length;
    record(req, req.getId());
    return read(req, (err: unknown, res: any) => {
      if (res) complete(index, res.getUrn(), req.getProperties());
      callback(err, res);
    });
  };
  function complete(index: number, urn: string, inputs: any) {
    const r = recorder.resources[index] as { -readonly [K in keyof Registered]: Registered[K] };
    r.urn = urn;
    r.inputs = inputs ? deserializeProperties(inputs) : {};
  }
  return recorder;
}

/** The value of an Output (unknown values never resolve, so only for non-preview tests). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<pulumi.Unwrap<T>> {
  return new Promise((resolve) => output.apply((v) => resolve(v as pulumi.Unwrap<T>)));
}

/** Whether an Output is marked secret. */
export function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(output);
}

/** Lets every pending registration finish. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
