// PodEnvDump's resource graph under mocks: the Job executor's RBAC (exact rules and
// resourceNames), Job spec and Secret; the local executor's Commands; ordering before quiesce;
// outputs plain, credentials secret. The scripts themselves run for real in test/scripts.
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { before, describe, it } from "node:test";
import { DEFAULT_ENV_DUMP_IMAGE, DEFAULT_JOB_IMAGE, type PodRef } from "../../components/config";
import {
  MANIFEST_RESOURCES,
  PodEnvDump,
  envDumpJobCommand,
  envDumpRules,
  parseCaptureResult,
  podsByNamespace,
} from "../../components/env-dump";
import { envDumpKey, manifestKey } from "../../components/layout";
import { QuiescedStatefulSet } from "../../components/quiesced-statefulset";
import { script } from "../../components/scripts";
import { isSecret, settle, useMocks, valueOf, type Recorder } from "../helpers/mocks";

const PREFIX = "production-env/";
const KEY_ID = "AKIAEXAMPLEKEYID";
const SECRET = "wJalrXUtnFEMI-example-secret";
const PODS: PodRef[] = [
  { namespace: "production-stack", pod: "database-0" },
  { namespace: "production-stack", pod: "stack-0" },
  { namespace: "im-infra", pod: "database-0" },
  { namespace: "im-infra", pod: "keycloak-0" },
];

let rec: Recorder;

/** The engine's wire marker for a secret value. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
/** A recorded input with its secret marker removed (the value inside). */
const unwrap = (v: any) => (v && typeof v === "object" && SECRET_SIG in v ? v.value : v);
const wrappedSecret = (v: any) => Boolean(v && typeof v === "object" && SECRET_SIG in v);

before(async () => {
  rec = await useMocks({
    statefulSets: { "production-stack/stack": 1, "im-infra/keycloak": 1 },
    // The Kubernetes provider's auto-naming: metadata.name = "<resource name>-<suffix>".
    state: (type, name, inputs) => {
      const metadata = inputs.metadata as Record<string, unknown> | undefined;
      return type.startsWith("kubernetes:") && metadata && !metadata.name
        ? { metadata: { ...metadata, name: `${name}-a1b2c3` } }
        : {};
    },
    commandStdout: (name, inputs) => {
      const env = (unwrap(inputs.environment) ?? {}) as Record<string, string>;
      if (env.STATEFULSET) {
        return `{"namespace":"${env.NAMESPACE}","statefulSet":"${env.STATEFULSET}","originalReplicas":1,"quiescedAt":"2026-11-25T10:00:00Z"}`;
      }
      // im-infra's pods are "down": their earlier captures stood.
      const pods = (env.PODS ?? "").split(" ").filter(Boolean);
      const keys = name.endsWith("-manifests")
        ? [manifestKey(env.PREFIX!, env.NAMESPACE!)]
        : pods.map((p) => envDumpKey(env.PREFIX!, env.NAMESPACE!, p));
      const down = env.NAMESPACE === "im-infra";
      return `[env-dump] log line\n${JSON.stringify({ namespace: env.NAMESPACE, keys: down ? [] : keys, kept: down ? keys : [] })}`;
    },
  });
});

function dump(name: string, extra: Partial<ConstructorParameters<typeof PodEnvDump>[1]> = {}) {
  return new PodEnvDump(name, {
    pods: PODS,
    prefix: PREFIX,
    target: { bucket: "im-fragalysis", region: "eu-central-1" },
    credentials: {
      accessKeyId: pulumi.secret(KEY_ID),
      secretAccessKey: pulumi.secret(SECRET),
    },
    ...extra,
  });
}

const childrenOf = (name: string) => {
  const component = rec.byType("relocation:env:PodEnvDump").find((r) => r.name === name)!;
  return rec.resources.filter((r) => r.parent === component.urn);
};

describe("pure functions", () => {
  it("pods of two namespaces = grouped in config order, duplicates once", () => {
    assert.deepEqual(
      [...podsByNamespace([...PODS, { namespace: "im-infra", pod: "keycloak-0" }])],
      [
        ["production-stack", ["database-0", "stack-0"]],
        ["im-infra", ["database-0", "keycloak-0"]],
      ],
    );
  });

  it("rules with manifests = get/exec on exactly the pods, list on exactly the kinds", () => {
    assert.deepEqual(envDumpRules(["database-0", "stack-0"], true), [
      {
        apiGroups: [""],
        resources: ["pods"],
        verbs: ["get"],
        resourceNames: ["database-0", "stack-0"],
      },
      {
        apiGroups: [""],
        resources: ["pods/exec"],
        verbs: ["create"],
        resourceNames: ["database-0", "stack-0"],
      },
      { apiGroups: ["apps"], resources: ["statefulsets", "deployments"], verbs: ["list"] },
      {
        apiGroups: [""],
        resources: [
          "services",
          "configmaps",
          "secrets",
          "persistentvolumeclaims",
          "serviceaccounts",
        ],
        verbs: ["list"],
      },
      { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: ["list"] },
      {
        apiGroups: ["rbac.authorization.k8s.io"],
        resources: ["roles", "rolebindings"],
        verbs: ["list"],
      },
      { apiGroups: ["batch"], resources: ["cronjobs"], verbs: ["list"] },
    ]);
  });

  it("rules without manifests = only the two pod rules", () => {
    assert.deepEqual(
      envDumpRules(["keycloak-0"], false).map((r) => [r.resources, r.verbs, r.resourceNames]),
      [
        [["pods"], ["get"], ["keycloak-0"]],
        [["pods/exec"], ["create"], ["keycloak-0"]],
      ],
    );
  });

  it("MANIFEST_RESOURCES = exactly the script's KINDS (resource.group)", () => {
    const kinds = /^readonly KINDS="([^"]+)"$/m.exec(script("snapshot-manifests.sh").text)?.[1];
    assert.equal(
      kinds,
      MANIFEST_RESOURCES.map((r) => (r.apiGroup ? `${r.resource}.${r.apiGroup}` : r.resource)).join(
        ",",
      ),
    );
  });

  it("the script's key layout = layout.ts envDumpKey/manifestKey", () => {
    // The scripts build keys themselves (they also run by hand); this pins the same shape.
    assert.match(script("dump-env.sh").text, /"\$\{PREFIX\}\$\{NAMESPACE\}\/\$\{pod\}\.env"/);
    assert.equal(envDumpKey("p/", "ns", "pod-0"), "p/ns/pod-0.env");
    assert.match(
      script("snapshot-manifests.sh").text,
      /^key="\$\{PREFIX\}\$\{NAMESPACE\}\/manifests\.yaml"$/m,
    );
    assert.equal(manifestKey("p/", "ns"), "p/ns/manifests.yaml");
  });

  it("job command = both scripts, failure of either fails the Job", () => {
    assert.equal(
      envDumpJobCommand(true),
      'rc=0\nbash /scripts/dump-env.sh || rc=1\nbash /scripts/snapshot-manifests.sh || rc=1\nexit "$rc"',
    );
    assert.doesNotMatch(envDumpJobCommand(false), /snapshot/);
  });

  it("malformed script output = error naming the command", () => {
    assert.throws(() => parseCaptureResult("oops", "x-env"), /^Error: x-env: expected a JSON/);
    assert.throws(() => parseCaptureResult('{"keys":[]}', "x-env"), /x-env: result lacks/);
  });
});

describe("job executor", () => {
  let envDump: PodEnvDump;
  before(async () => {
    envDump = dump("dumpjob", { jobsNamespace: "fragalysis-relocation" });
    await settle();
  });

  it("per namespace = ServiceAccount, Role, RoleBinding, ConfigMap, Job; one Secret; no Command", () => {
    const types = childrenOf("dumpjob").map((r) => `${r.type} ${r.name}`);
    assert.deepEqual(types.sort(), [
      "kubernetes:batch/v1:Job dumpjob-im-infra-job",
      "kubernetes:batch/v1:Job dumpjob-production-stack-job",
      "kubernetes:core/v1:ConfigMap dumpjob-im-infra-scripts",
      "kubernetes:core/v1:ConfigMap dumpjob-production-stack-scripts",
      "kubernetes:core/v1:ServiceAccount dumpjob-im-infra-sa",
      "kubernetes:core/v1:ServiceAccount dumpjob-production-stack-sa",
      "kubernetes:rbac.authorization.k8s.io/v1:Role dumpjob-im-infra-role",
      "kubernetes:rbac.authorization.k8s.io/v1:Role dumpjob-production-stack-role",
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding dumpjob-im-infra-binding",
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding dumpjob-production-stack-binding",
      "relocation:credentials:AwsCredentialsSecret dumpjob-aws",
    ]);
    assert.equal(envDump.resources.length, 2);
  });

  it("Role in the pods' namespace = exactly the rules for its pods", () => {
    const role = rec.named("dumpjob-im-infra-role").inputs as any;
    assert.equal(role.metadata.namespace, "im-infra");
    assert.deepEqual(role.rules, envDumpRules(["database-0", "keycloak-0"], true));
    assert.deepEqual(role.rules[0].resourceNames, ["database-0", "keycloak-0"]);
    assert.deepEqual(role.rules[1], {
      apiGroups: [""],
      resources: ["pods/exec"],
      verbs: ["create"],
      resourceNames: ["database-0", "keycloak-0"],
    });
    const verbs = new Set(role.rules.flatMap((r: any) => r.verbs));
    assert.deepEqual([...verbs].sort(), ["create", "get", "list"]);
  });

  it("RoleBinding = that Role to the Job's ServiceAccount in the jobs namespace", () => {
    const binding = rec.named("dumpjob-production-stack-binding").inputs as any;
    const sa = rec.named("dumpjob-production-stack-sa").inputs as any;
    assert.equal(binding.metadata.namespace, "production-stack");
    // Names as the provider auto-names them (emulated by the mocks' state).
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "dumpjob-production-stack-role-a1b2c3",
    });
    assert.deepEqual(binding.subjects, [
      {
        kind: "ServiceAccount",
        name: "dumpjob-production-stack-sa-a1b2c3",
        namespace: "fragalysis-relocation",
      },
    ]);
    assert.equal(sa.metadata.namespace, "fragalysis-relocation");
  });

  it("Job = non-root, bounded, kubectl copied in, scripts from the ConfigMap, keys by secretKeyRef", () => {
    const job = rec.named("dumpjob-production-stack-job");
    const spec = (job.inputs as any).spec;
    assert.equal((job.inputs as any).metadata.namespace, "fragalysis-relocation");
    assert.equal((job.inputs as any).metadata.annotations["pulumi.com/replaceUnready"], "true");
    assert.equal(spec.backoffLimit, 1);
    assert.equal(spec.activeDeadlineSeconds, 600);
    // No TTL (refresh would drop a removed Job and the next up dump again, after the quiesce);
    // a fixed name, deleted before its replacement: never two dumps side by side.
    assert.equal(spec.ttlSecondsAfterFinished, undefined);
    assert.equal((job.inputs as any).metadata.name, "dumpjob-production-stack-job");
    assert.equal(job.deleteBeforeReplace, true);
    const pod = spec.template.spec;
    assert.equal(pod.serviceAccountName, "dumpjob-production-stack-sa-a1b2c3");
    assert.equal(pod.restartPolicy, "Never");
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    const [init] = pod.initContainers;
    assert.equal(init.image, DEFAULT_ENV_DUMP_IMAGE);
    assert.deepEqual(init.command, ["sh", "-c", 'cp "$(command -v kubectl)" /tools/kubectl']);
    const [main] = pod.containers;
    assert.equal(main.image, DEFAULT_JOB_IMAGE);
    assert.deepEqual(main.command, ["/bin/bash", "-c", envDumpJobCommand(true)]);
    for (const c of [init, main]) {
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    }
    const env = Object.fromEntries(main.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.NAMESPACE, "production-stack");
    assert.equal(env.PODS, "database-0 stack-0");
    assert.equal(env.BUCKET, "im-fragalysis");
    assert.equal(env.PREFIX, PREFIX);
    assert.equal(env.AWS_ENDPOINT_URL, undefined);
    assert.match(env.PATH, /^\/tools:/);
    assert.deepEqual(env.AWS_SECRET_ACCESS_KEY, {
      secretKeyRef: { name: "dumpjob-aws-secret-a1b2c3", key: "AWS_SECRET_ACCESS_KEY" },
    });
    assert.deepEqual(env.AWS_ACCESS_KEY_ID.secretKeyRef.key, "AWS_ACCESS_KEY_ID");
    const configMap = rec.named("dumpjob-production-stack-scripts").inputs as any;
    const volume = pod.volumes.find((v: any) => v.name === "scripts");
    assert.equal(volume.configMap.name, "dumpjob-production-stack-scripts-a1b2c3");
    assert.deepEqual(Object.keys(configMap.data).sort(), ["dump-env.sh", "snapshot-manifests.sh"]);
    assert.equal(configMap.data["dump-env.sh"], script("dump-env.sh").text);
  });

  it("no credential value in any Job, ConfigMap, Role or ServiceAccount input", () => {
    for (const r of childrenOf("dumpjob")) {
      const text = JSON.stringify(r.inputs);
      assert.ok(!text.includes(SECRET) && !text.includes(KEY_ID), `${r.name} holds a credential`);
    }
  });

  it("the Secret's data = secret outputs", () => {
    const secret = rec.named("dumpjob-aws-secret");
    assert.equal(secret.parent, rec.named("dumpjob-aws").urn);
    assert.ok(secret.additionalSecretOutputs.includes("data"));
    assert.ok(secret.additionalSecretOutputs.includes("stringData"));
    const stringData = (secret.inputs as any).stringData;
    assert.ok(wrappedSecret(stringData) || wrappedSecret(stringData.AWS_SECRET_ACCESS_KEY));
  });

  it("Job waits for its RoleBinding and the Secret", () => {
    const job = rec.named("dumpjob-im-infra-job");
    assert.ok(rec.waitsFor(job, rec.named("dumpjob-im-infra-binding")));
    assert.ok(rec.waitsFor(job, rec.named("dumpjob-aws-secret")));
  });

  it("outputs = the layout's keys, plain", async () => {
    assert.deepEqual(await valueOf(envDump.envKeys), {
      "production-stack/database-0": "production-env/production-stack/database-0.env",
      "production-stack/stack-0": "production-env/production-stack/stack-0.env",
      "im-infra/database-0": "production-env/im-infra/database-0.env",
      "im-infra/keycloak-0": "production-env/im-infra/keycloak-0.env",
    });
    assert.deepEqual(await valueOf(envDump.manifestKeys), {
      "production-stack": "production-env/production-stack/manifests.yaml",
      "im-infra": "production-env/im-infra/manifests.yaml",
    });
    assert.equal(await isSecret(envDump.envKeys), false);
    assert.equal(await isSecret(envDump.manifestKeys), false);
    assert.equal(await valueOf(envDump.keptKeys), undefined);
  });

  it("quiesce built with runAfter: resources = its scale command waits for both Jobs", async () => {
    new QuiescedStatefulSet("quiesce-stack", {
      namespace: "production-stack",
      statefulSet: "stack",
      runAfter: envDump.resources,
    });
    new QuiescedStatefulSet("quiesce-alone", { namespace: "im-infra", statefulSet: "keycloak" });
    await settle();
    const scale = rec.named("quiesce-stack-scale");
    assert.ok(rec.waitsFor(scale, rec.named("dumpjob-production-stack-job")));
    assert.ok(rec.waitsFor(scale, rec.named("dumpjob-im-infra-job")));
    // The check can fail: a quiesce without runAfter does not wait for them.
    assert.equal(
      rec.waitsFor(rec.named("quiesce-alone-scale"), rec.named("dumpjob-im-infra-job")),
      false,
    );
  });

  it("manifests off, custom images and endpoint = no list rules, one script, images used", async () => {
    dump("dumpnoman", {
      manifests: false,
      image: "bitnamilegacy/kubectl:1.32.4",
      awsImage: "amazon/aws-cli:2.31.39",
      target: { bucket: "b-x", region: "eu-central-1", endpoint: "http://s3.local:9000" },
    });
    await settle();
    const role = rec.named("dumpnoman-im-infra-role").inputs as any;
    assert.deepEqual(role.rules, envDumpRules(["database-0", "keycloak-0"], false));
    const configMap = rec.named("dumpnoman-im-infra-scripts").inputs as any;
    assert.deepEqual(Object.keys(configMap.data), ["dump-env.sh"]);
    const pod = (rec.named("dumpnoman-im-infra-job").inputs as any).spec.template.spec;
    assert.equal(pod.initContainers[0].image, "bitnamilegacy/kubectl:1.32.4");
    assert.deepEqual(pod.containers[0].command[2], envDumpJobCommand(false));
    assert.ok(
      pod.containers[0].env.some(
        (e: any) => e.name === "AWS_ENDPOINT_URL" && e.value === "http://s3.local:9000",
      ),
    );
    // The default jobs namespace (config.jobs.namespace's default).
    assert.equal(
      (rec.named("dumpnoman-im-infra-sa").inputs as any).metadata.namespace,
      "fragalysis-relocation",
    );
  });

  it("no pods = nothing registered, empty outputs", async () => {
    const empty = dump("dumpnone", { pods: [] });
    await settle();
    assert.deepEqual(childrenOf("dumpnone"), []);
    assert.deepEqual(await valueOf(empty.envKeys), {});
    assert.deepEqual(empty.resources, []);
  });
});

describe("local executor", () => {
  let envDump: PodEnvDump;
  before(async () => {
    envDump = dump("dumplocal", { executor: "local", kubeContext: "old-cluster" });
    await settle();
  });

  it("per namespace = an env Command and a manifests Command; no Job, RBAC or Secret", () => {
    const children = childrenOf("dumplocal").map((r) => `${r.type} ${r.name}`);
    assert.deepEqual(children.sort(), [
      "command:local:Command dumplocal-im-infra-env",
      "command:local:Command dumplocal-im-infra-manifests",
      "command:local:Command dumplocal-production-stack-env",
      "command:local:Command dumplocal-production-stack-manifests",
    ]);
    assert.equal(envDump.resources.length, 4);
  });

  it("env Command = the script text, its hash as trigger, parameters in environment", () => {
    const cmd = rec.named("dumplocal-production-stack-env").inputs as any;
    const env = unwrap(cmd.environment);
    assert.deepEqual(cmd.interpreter, ["/bin/bash", "-c"]);
    assert.equal(cmd.create, script("dump-env.sh").text);
    assert.deepEqual(cmd.triggers, [script("dump-env.sh").sha256]);
    assert.equal(env.NAMESPACE, "production-stack");
    assert.equal(env.PODS, "database-0 stack-0");
    assert.equal(env.KUBE_CONTEXT, "old-cluster");
    assert.equal(env.BUCKET, "im-fragalysis");
    assert.equal(env.PREFIX, PREFIX);
    assert.equal(cmd.delete, undefined, "destroy keeps the captures");
    const manifests = rec.named("dumplocal-im-infra-manifests").inputs as any;
    assert.equal(manifests.create, script("snapshot-manifests.sh").text);
    assert.equal(unwrap(manifests.environment).NAMESPACE, "im-infra");
    assert.equal(unwrap(manifests.environment).PODS, undefined);
  });

  it("credentials in environment = secret; no credential on the command text", () => {
    const inputs = rec.named("dumplocal-production-stack-env").inputs as any;
    // Sent to the engine as a secret, so state holds it encrypted.
    assert.equal(wrappedSecret(inputs.environment), true);
    assert.equal(unwrap(inputs.environment).AWS_SECRET_ACCESS_KEY, SECRET);
    assert.ok(!String(inputs.create).includes(SECRET));
  });

  it("stdout/stderr = secret in state and not streamed (the real provider does both plainly)", () => {
    for (const name of ["dumplocal-production-stack-env", "dumplocal-im-infra-manifests"]) {
      const r = rec.named(name);
      for (const out of ["stdout", "stderr"]) {
        assert.ok(r.additionalSecretOutputs.includes(out), `${name}: ${out} not secret`);
      }
      assert.equal((r.inputs as any).logging, "none", `${name} streams its output`);
    }
  });

  it("outputs = layout keys plain; keptKeys from the scripts' result lines", async () => {
    assert.equal(
      (await valueOf(envDump.envKeys))["im-infra/keycloak-0"],
      envDumpKey(PREFIX, "im-infra", "keycloak-0"),
    );
    assert.deepEqual((await valueOf(envDump.keptKeys))?.sort(), [
      envDumpKey(PREFIX, "im-infra", "database-0"),
      envDumpKey(PREFIX, "im-infra", "keycloak-0"),
      manifestKey(PREFIX, "im-infra"),
    ]);
    assert.equal(await isSecret(envDump.keptKeys), false);
    assert.equal(await isSecret(envDump.envKeys), false);
  });

  it("quiesce with runAfter: resources = waits for all four Commands", async () => {
    new QuiescedStatefulSet("quiesce-local", {
      namespace: "im-infra",
      statefulSet: "keycloak",
      runAfter: envDump.resources,
    });
    await settle();
    const scale = rec.named("quiesce-local-scale");
    for (const name of [
      "dumplocal-im-infra-env",
      "dumplocal-im-infra-manifests",
      "dumplocal-production-stack-env",
      "dumplocal-production-stack-manifests",
    ]) {
      assert.ok(rec.waitsFor(scale, rec.named(name)), name);
    }
  });
});
