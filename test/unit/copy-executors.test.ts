// The copy executors' graphs with mocks: the SSH copy Command (runner + scripts on stdin), the Job spec
// (read-only mounts, non-root, keys by secretKeyRef), ordering after quiesce, re-run triggers,
// result parsing and the outputs. The scripts themselves run for real in test/scripts.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Backup } from "../../components/config";
import {
  copySettings,
  exportedFields,
  parseLatestResult,
  parseTreeResult,
} from "../../components/copy-result";
import { script } from "../../components/scripts";
import { backupFixture, JOBS, NFS, TARGET } from "../helpers/copy-fixtures";
import { isSecret, settle, useMocks, valueOf, type Recorder } from "../helpers/mocks";

const KEY_ID = "AKIAEXAMPLEKEYID0001";
const SECRET = "wJalrXUtnFEMI-copy-example-secret";
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH";
const SHA = "a".repeat(64);
const LATEST = (key: string) =>
  `{"bucket":"im-fragalysis","key":"${key}","size":1234,"sha256":"${SHA}","source":"/nfs/x/${key}","sourceTime":"2023-10-16T12:07:01Z"}`;
const TREE = `{"bucket":"im-fragalysis","prefix":"production-stack-media/","files":10,"bytes":2048,"uploaded":4,"skipped":6}`;

/** The engine's wire marker for a secret value. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const isWrappedSecret = (v: any) => Boolean(v && typeof v === "object" && SECRET_SIG in v);
const unwrap = (v: any) => (isWrappedSecret(v) ? v.value : v);

/** Every plain (not secret-wrapped) string in a recorded input tree. */
function plainStrings(v: unknown, out: string[] = []): string[] {
  if (isWrappedSecret(v)) return out;
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => plainStrings(x, out));
  else if (v && typeof v === "object") Object.values(v).forEach((x) => plainStrings(x, out));
  return out;
}

let rec: Recorder;
let mod: typeof import("../../components/backup-copy");
let ssh: typeof import("../../components/nfs-to-s3-copy");
let job: typeof import("../../components/copy-job");

before(async () => {
  rec = await useMocks({
    state: (type, name, inputs) => {
      const metadata = inputs.metadata as Record<string, unknown> | undefined;
      // The API server names auto-named objects and gives every object a uid.
      return type.startsWith("kubernetes:") && metadata
        ? {
            metadata: { ...metadata, name: metadata.name ?? `${name}-a1b2c3`, uid: `uid-${name}` },
          }
        : {};
    },
    commandStdout: (name, inputs) => {
      const create = String(unwrap(inputs.create) ?? "");
      if (name.endsWith("-copy") || name.endsWith("-result")) {
        const tree = create.endsWith("'sync-dir.sh'") || name.includes("media");
        return `log line\n${tree ? TREE : LATEST(`production-keycloak-db/backup-2023-10-16T12:07:01Z-dumpall.sql.gz`)}`;
      }
      return "";
    },
  });
  mod = await import("../../components/backup-copy");
  ssh = await import("../../components/nfs-to-s3-copy");
  job = await import("../../components/copy-job");
});

function copy(
  name: string,
  b: Backup,
  runAfter: pulumi.Resource[] = [],
  extra: Partial<ConstructorParameters<typeof mod.BackupCopy>[1]> = {},
) {
  return new mod.BackupCopy(name, {
    backup: b,
    target: TARGET,
    credentials: { accessKeyId: pulumi.secret(KEY_ID), secretAccessKey: pulumi.secret(SECRET) },
    nfs: NFS,
    sshPrivateKey: pulumi.secret(PRIVATE_KEY),
    jobs: JOBS,
    timeoutSeconds: 3600,
    runAfter,
    ...extra,
  });
}

describe("pure functions", () => {
  it("remote invocation = the runner itself as command, settings then framed scripts on stdin", () => {
    const file = { name: "copy-latest.sh", text: "echo é\n", sha256: "b".repeat(64) };
    const inv = ssh.remoteInvocation(
      "/var/lib/fragalysis-relocation/keycloak-db",
      "copy-latest.sh",
      { SOURCE_DIR: "/nfs/a b/hourly", AWS_SECRET_ACCESS_KEY: SECRET },
      [file],
    );
    assert.equal(
      inv.command,
      `bash -c ${ssh.shellQuote(script("remote-run.sh").text)} remote-run ` +
        "'/var/lib/fragalysis-relocation/keycloak-db' 'copy-latest.sh'",
    );
    // The byte count, not the character count: the runner reads bytes.
    assert.equal(
      inv.stdin,
      `SOURCE_DIR=/nfs/a b/hourly\nAWS_SECRET_ACCESS_KEY=${SECRET}\n#file copy-latest.sh 8 ${"b".repeat(64)}\necho é\n`,
    );
  });

  it("setting with a line break = rejected before anything runs", () => {
    assert.throws(
      () => ssh.settingsText({ SELECT: "a\nAWS_ENDPOINT_URL=http://evil" }),
      /setting SELECT contains a line break/,
    );
    assert.throws(() => ssh.settingsText({ "bad name": "x" }), /not NAME_LIKE_THIS/);
  });

  it("quote in a path = shell-quoted safely", () => {
    assert.equal(ssh.shellQuote("it's"), `'it'\\''s'`);
    assert.equal(ssh.remoteDir("/opt/x/", "stack-db"), "/opt/x/stack-db");
  });

  it("latest settings = pattern, min age, select and notBefore when set", () => {
    assert.deepEqual(
      copySettings(
        backupFixture({ select: "f.gz", notBefore: "2023-10-16T12:00:00Z" }),
        TARGET,
        "/s",
      ),
      {
        SOURCE_DIR: "/s",
        DEST_URI: "s3://im-fragalysis/production-keycloak-db/",
        AWS_DEFAULT_REGION: "eu-central-1",
        PATTERN: "backup-*-dumpall.sql.gz",
        MIN_AGE_SECONDS: "120",
        SELECT: "f.gz",
        NOT_BEFORE: "2023-10-16T12:00:00Z",
      },
    );
  });

  it("tree settings with an endpoint = no dump settings, endpoint passed", () => {
    assert.deepEqual(
      copySettings(
        backupFixture({ kind: "tree", prefix: "production-stack-media/" }),
        { ...TARGET, endpoint: "http://127.0.0.1:9000" },
        "/source",
      ),
      {
        SOURCE_DIR: "/source",
        DEST_URI: "s3://im-fragalysis/production-stack-media/",
        AWS_DEFAULT_REGION: "eu-central-1",
        AWS_ENDPOINT_URL: "http://127.0.0.1:9000",
      },
    );
  });

  it("job source = NFS export at /source; PVC at /source plus the path inside it", () => {
    assert.equal(job.jobSourceDir(backupFixture()), "/source");
    assert.equal(
      job.jobSourceDir(backupFixture({ pvc: "pg-bu", sourceDir: "/hourly/" })),
      "/source/hourly",
    );
    assert.deepEqual(job.sourceVolume(backupFixture(), "10.0.0.1"), {
      name: "source",
      nfs: { server: "10.0.0.1", path: backupFixture().sourceDir, readOnly: true },
    });
    assert.deepEqual(job.sourceVolume(backupFixture({ pvc: "pg-bu" }), "10.0.0.1"), {
      name: "source",
      persistentVolumeClaim: { claimName: "pg-bu", readOnly: true },
    });
  });
});

describe("result parsing", () => {
  it("latest result after log lines = typed result, exported fields", () => {
    const r = parseLatestResult(`copy-latest: log\n${LATEST("p/k")}\n`, "keycloak-db");
    assert.equal(r.kind, "latest");
    assert.deepEqual(exportedFields(r), {
      bucket: "im-fragalysis",
      key: "p/k",
      size: 1234,
      sha256: SHA,
      sourceTime: "2023-10-16T12:07:01Z",
    });
  });

  it("tree result = typed result, exported fields", () => {
    const r = parseTreeResult(TREE, "stack-media");
    assert.equal(r.uploaded + r.skipped, r.files);
    assert.deepEqual(exportedFields(r), {
      bucket: "im-fragalysis",
      prefix: "production-stack-media/",
      files: 10,
      bytes: 2048,
    });
  });

  const bad: [string, string, () => unknown, RegExp][] = [
    [
      "no JSON",
      "latest",
      () => parseLatestResult("done\n", "kc"),
      /backup kc: expected the result JSON/,
    ],
    ["array", "latest", () => parseLatestResult("[1]", "kc"), /not a JSON object/],
    [
      "sha256 not hex",
      "latest",
      () => parseLatestResult(LATEST("k").replace(SHA, "xyz"), "kc"),
      /"sha256" is not a hex SHA-256/,
    ],
    [
      "size negative",
      "latest",
      () => parseLatestResult(LATEST("k").replace("1234", "-1"), "kc"),
      /"size" must be a whole number >= 0, got -1/,
    ],
    [
      "counts disagree",
      "tree",
      () => parseTreeResult(TREE.replace('"skipped":6', '"skipped":5'), "media"),
      /uploaded 4 \+ skipped 5 != files 10/,
    ],
    ["empty stdout", "tree", () => parseTreeResult("", "media"), /backup media: expected/],
  ];
  for (const [name, kind, parse, message] of bad) {
    it(`${kind} result ${name} = error naming the backup`, () => {
      assert.throws(parse, message);
    });
  }
});

describe("ssh executor graph", () => {
  let outputs: Record<string, string | number>;
  let quiesce: command.local.Command;

  before(async () => {
    quiesce = new command.local.Command("quiesce-scale", { create: "true" });
    const c = copy("keycloak-db", backupFixture(), [quiesce]);
    outputs = await valueOf(c.outputs);
    assert.equal(await isSecret(c.outputs), false, "outputs are plain");
    await settle();
  });

  it("outputs = bucket, key, size, sha256, sourceTime of the copied dump", () => {
    assert.deepEqual(outputs, {
      bucket: "im-fragalysis",
      key: "production-keycloak-db/backup-2023-10-16T12:07:01Z-dumpall.sql.gz",
      size: 1234,
      sha256: SHA,
      sourceTime: "2023-10-16T12:07:01Z",
    });
  });

  it("children = one copy Command under the executor, nothing shipped ahead", () => {
    const component = rec.named("keycloak-db");
    assert.equal(component.type, "relocation:backup:BackupCopy");
    const executor = rec.named("keycloak-db-ssh");
    assert.equal(executor.type, "relocation:backup:NfsToS3Copy");
    assert.equal(executor.parent, component.urn);
    const children = rec.resources
      .filter((r) => r.parent === executor.urn)
      .map((r) => `${r.type} ${r.name}`)
      .sort();
    assert.deepEqual(children, ["command:remote:Command keycloak-db-ssh-copy"]);
  });

  it("copy Command = runner as command text, settings, keys and scripts only in secret stdin", () => {
    const cmd = rec.named("keycloak-db-ssh-copy");
    assert.match(
      String(cmd.inputs.create),
      /^bash -c '.*' remote-run '\/var\/lib\/fragalysis-relocation\/keycloak-db' 'copy-latest.sh'$/s,
    );
    assert.ok(
      String(cmd.inputs.create).startsWith(
        `bash -c ${ssh.shellQuote(script("remote-run.sh").text)}`,
      ),
    );
    assert.ok(isWrappedSecret(cmd.inputs.stdin), "stdin is a secret");
    const stdin = String(unwrap(cmd.inputs.stdin));
    assert.match(stdin, new RegExp(`^AWS_SECRET_ACCESS_KEY=${SECRET}$`, "m"));
    assert.match(stdin, new RegExp(`^AWS_ACCESS_KEY_ID=${KEY_ID}$`, "m"));
    assert.match(stdin, /^DEST_URI=s3:\/\/im-fragalysis\/production-keycloak-db\/$/m);
    assert.match(stdin, /^TIMEOUT_SECONDS=3600$/m);
    // Both scripts travel with every run, so a server that lost them gets them back.
    for (const f of ["copy-latest.sh", "copy-common.sh"]) {
      assert.ok(stdin.includes(ssh.fileFrame(script(f))), `${f} framed on stdin`);
    }
    assert.equal(cmd.inputs.environment, undefined, "nothing through SSH Setenv");
    assert.equal(cmd.inputs.addPreviousOutputInEnv, false, "no PULUMI_COMMAND_STDOUT Setenv");
    assert.deepEqual(
      cmd.inputs.triggers,
      ["copy-latest.sh", "copy-common.sh", "remote-run.sh"].map((f) => script(f).sha256),
    );
  });

  it("copy Command = stdin, stdout and stderr secret in state; only stderr streamed", () => {
    // The real provider stores stdout/stderr plain and streams both unless told otherwise.
    const cmd = rec.named("keycloak-db-ssh-copy");
    for (const out of ["stdin", "stdout", "stderr"]) {
      assert.ok(cmd.additionalSecretOutputs.includes(out), `${out} not marked secret`);
    }
    assert.equal(cmd.inputs.logging, "stderr");
  });

  it("connection = host, port, user, pinned host key, secret private key", () => {
    for (const name of ["keycloak-db-ssh-copy"]) {
      const connection = unwrap(rec.named(name).inputs.connection) as Record<string, unknown>;
      assert.equal(connection.host, "192.168.253.39");
      assert.equal(connection.port, 22);
      assert.equal(connection.user, "root");
      assert.equal(connection.hostKey, NFS.hostKey);
      assert.ok(
        isWrappedSecret(rec.named(name).inputs.connection) ||
          isWrappedSecret(connection.privateKey),
        `${name}: private key not secret`,
      );
    }
  });

  it("copy = after quiesce", () => {
    const cmd = rec.named("keycloak-db-ssh-copy");
    assert.ok(rec.waitsFor(cmd, rec.named("quiesce-scale")));
  });

  it("no credential or key in any plain input", () => {
    for (const r of rec.resources.filter((x) => x.name.startsWith("keycloak-db"))) {
      for (const s of plainStrings(r.inputs)) {
        for (const secret of [SECRET, KEY_ID, PRIVATE_KEY]) {
          assert.ok(!s.includes(secret), `${r.name} holds a credential in plain text`);
        }
      }
    }
  });

  it("no hostKey configured = connection without one", async () => {
    new mod.BackupCopy("nohostkey", {
      backup: backupFixture({ name: "stack-db", prefix: "production-stack-db/" }),
      target: TARGET,
      credentials: { accessKeyId: pulumi.secret(KEY_ID), secretAccessKey: pulumi.secret(SECRET) },
      nfs: { ...NFS, hostKey: undefined },
      sshPrivateKey: pulumi.secret(PRIVATE_KEY),
      jobs: JOBS,
    });
    await settle();
    const connection = unwrap(rec.named("nohostkey-ssh-copy").inputs.connection) as Record<
      string,
      unknown
    >;
    assert.equal(connection.hostKey, undefined);
  });

  it("media tree over ssh = sync-dir.sh sent and run, tree outputs", async () => {
    const c = copy(
      "stack-media",
      backupFixture({
        name: "stack-media",
        kind: "tree",
        sourceDir: "/nfs/kubernetes-media-replica",
        prefix: "production-stack-media/",
      }),
    );
    assert.deepEqual(await valueOf(c.outputs), {
      bucket: "im-fragalysis",
      prefix: "production-stack-media/",
      files: 10,
      bytes: 2048,
    });
    await settle();
    const cmd = rec.named("stack-media-ssh-copy");
    assert.match(
      String(cmd.inputs.create),
      / remote-run '\/var\/lib\/fragalysis-relocation\/stack-media' 'sync-dir.sh'$/,
    );
    assert.ok(String(unwrap(cmd.inputs.stdin)).includes(ssh.fileFrame(script("sync-dir.sh"))));
  });

  it("ssh executor without a private key = error saying how to set it", () => {
    assert.throws(
      () => copy("nokey", backupFixture({ name: "nokey" }), [], { sshPrivateKey: undefined }),
      /runs over SSH but no key was given; set it with: cat key \| pulumi config set --secret sshPrivateKey/,
    );
  });
});

describe("job executor graph", () => {
  let outputs: Record<string, string | number>;
  let spec: any;

  before(async () => {
    const quiesce = new command.local.Command("quiesce-job-scale", { create: "true" });
    const c = copy(
      "media",
      backupFixture({
        name: "stack-media",
        kind: "tree",
        executor: "job",
        sourceDir: "/nfs/kubernetes-media-replica",
        prefix: "production-stack-media/",
      }),
      [quiesce],
      { kubeContext: "stfc-prod" },
    );
    outputs = await valueOf(c.outputs);
    await settle();
    spec = rec.named("media-job-job").inputs.spec;
  });

  it("outputs = bucket, prefix, files, bytes read back from the Job", () => {
    assert.deepEqual(outputs, {
      bucket: "im-fragalysis",
      prefix: "production-stack-media/",
      files: 10,
      bytes: 2048,
    });
  });

  it("children = credentials Secret component, scripts ConfigMap, Job, result reader", () => {
    const executor = rec.named("media-job");
    assert.equal(executor.type, "relocation:backup:CopyJob");
    assert.deepEqual(
      rec.resources
        .filter((r) => r.parent === executor.urn)
        .map((r) => `${r.type} ${r.name}`)
        .sort(),
      [
        "command:local:Command media-job-result",
        "kubernetes:batch/v1:Job media-job-job",
        "kubernetes:core/v1:ConfigMap media-job-scripts",
        "relocation:credentials:AwsCredentialsSecret media-job-aws",
      ],
    );
    const data = rec.named("media-job-scripts").inputs.data as Record<string, string>;
    assert.deepEqual(Object.keys(data).sort(), ["copy-common.sh", "sync-dir.awk", "sync-dir.sh"]);
    assert.equal(data["sync-dir.sh"], script("sync-dir.sh").text);
  });

  it("Job = bounded, retried, re-run when a script changes", () => {
    assert.equal(spec.backoffLimit, 2);
    assert.equal(spec.activeDeadlineSeconds, 3600);
    assert.equal(spec.template.spec.restartPolicy, "Never");
    assert.equal(
      spec.template.metadata.annotations["relocation.fragalysis/scripts-sha256"],
      ["sync-dir.sh", "copy-common.sh", "sync-dir.awk"].map((f) => script(f).sha256).join(" "),
    );
    const meta = rec.named("media-job-job").inputs.metadata as any;
    assert.equal(meta.namespace, "fragalysis-relocation");
    assert.equal(meta.annotations["pulumi.com/replaceUnready"], "true");
  });

  it("Job = no TTL, fixed name, deleted before its replacement (never re-run by refresh, never twice)", () => {
    // A TTL-removed Job: refresh drops it and the next up copies again; an update 404s.
    assert.equal(spec.ttlSecondsAfterFinished, undefined);
    const r = rec.named("media-job-job");
    // Auto-named, a replacement would start next to a Job still running after an interrupted up.
    assert.equal((r.inputs.metadata as any).name, "media-job-job");
    assert.equal(r.deleteBeforeReplace, true);
    // The result reader reads the Job by that name.
    assert.equal(
      (unwrap(rec.named("media-job-result").inputs.environment) as any).JOB_NAME,
      "media-job-job",
    );
  });

  it("pod = non-root, read-only root, no privilege escalation, NFS mounted read-only", () => {
    const pod = spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 65534);
    const c = pod.containers[0];
    assert.equal(c.image, "amazon/aws-cli:2.31.39");
    assert.deepEqual(c.command, ["bash", "/scripts/sync-dir.sh"]);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
    const source = pod.volumes.find((v: any) => v.name === "source");
    assert.deepEqual(source.nfs, {
      server: "192.168.253.39",
      path: "/nfs/kubernetes-media-replica",
      readOnly: true,
    });
    for (const m of c.volumeMounts) {
      if (m.name !== "tmp") assert.equal(m.readOnly, true, `${m.name} mounted writable`);
    }
  });

  it("env = settings in plain values, keys only through secretKeyRef, result to termination log", () => {
    const env = Object.fromEntries(
      spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]),
    );
    assert.equal(env.SOURCE_DIR, "/source");
    assert.equal(env.DEST_URI, "s3://im-fragalysis/production-stack-media/");
    assert.equal(env.RESULT_FILE, "/dev/termination-log");
    assert.deepEqual(env.AWS_SECRET_ACCESS_KEY, {
      secretKeyRef: { name: "media-job-aws-secret-a1b2c3", key: "AWS_SECRET_ACCESS_KEY" },
    });
    assert.deepEqual(env.AWS_ACCESS_KEY_ID.secretKeyRef.key, "AWS_ACCESS_KEY_ID");
    for (const r of rec.resources.filter((x) => x.name.startsWith("media-job"))) {
      if (r.type === "kubernetes:core/v1:Secret") continue;
      for (const s of plainStrings(r.inputs)) {
        assert.ok(!s.includes(SECRET) && !s.includes(KEY_ID), `${r.name} holds a credential`);
      }
    }
  });

  it("Job = after quiesce and the Secret; reader after the Job, re-read for a new Job", () => {
    const j = rec.named("media-job-job");
    assert.ok(rec.waitsFor(j, rec.named("quiesce-job-scale")));
    assert.ok(rec.waitsFor(j, rec.named("media-job-aws-secret")));
    const reader = rec.named("media-job-result");
    assert.ok(rec.waitsFor(reader, j));
    assert.equal(reader.inputs.create, script("copy-job-result.sh").text);
    assert.deepEqual(reader.inputs.environment, {
      NAMESPACE: "fragalysis-relocation",
      JOB_NAME: "media-job-job",
      KUBE_CONTEXT: "stfc-prod",
    });
    assert.deepEqual(reader.inputs.triggers, [
      "uid-media-job-job",
      script("copy-job-result.sh").sha256,
    ]);
  });

  it("existing PVC = mounted read-only by claim, SOURCE_DIR inside it", async () => {
    copy(
      "kc-pvc",
      backupFixture({ name: "kc-pvc", executor: "job", pvc: "pg-bu", sourceDir: "/hourly" }),
    );
    await settle();
    const pod = (rec.named("kc-pvc-job-job").inputs.spec as any).template.spec;
    assert.deepEqual(
      pod.volumes.find((v: any) => v.name === "source"),
      {
        name: "source",
        persistentVolumeClaim: { claimName: "pg-bu", readOnly: true },
      },
    );
    const env = pod.containers[0].env.find((e: any) => e.name === "SOURCE_DIR");
    assert.equal(env.value, "/source/hourly");
    assert.deepEqual(pod.containers[0].command, ["bash", "/scripts/copy-latest.sh"]);
  });

  it("dump Job = gzip copied in from the gzip image (amazon/aws-cli has none), found last on PATH", async () => {
    const pod = (rec.named("kc-pvc-job-job").inputs.spec as any).template.spec;
    const [init] = pod.initContainers;
    assert.equal(init.image, "busybox:1.37.0");
    assert.deepEqual(init.command, [
      "/bin/busybox",
      "cp",
      "/bin/busybox",
      "/opt/relocation/bin/gzip",
    ]);
    assert.equal(init.securityContext.readOnlyRootFilesystem, true);
    assert.equal(init.securityContext.runAsNonRoot, true);
    const copyC = pod.containers[0];
    const path = copyC.env.find((e: any) => e.name === "PATH").value as string;
    assert.ok(path.endsWith(":/opt/relocation/bin"), path);
    assert.deepEqual(
      copyC.volumeMounts.find((m: any) => m.name === "tools"),
      { name: "tools", mountPath: "/opt/relocation/bin", readOnly: true },
    );
  });

  it("live volume = the PV's own source mounted at /source, whatever directory it is", async () => {
    for (const [id, live] of [
      [
        "media-live-nfs",
        { nfs: { server: "192.168.253.39", path: "/nfs/p/media-pvc-1", readOnly: true } },
      ],
      ["media-live-host", { hostPath: { path: "/srv/media-pvc-1", type: "Directory" } }],
    ] as const) {
      copy(
        id,
        backupFixture({
          name: id,
          kind: "tree",
          executor: "job",
          prefix: "media/",
          sourceDir: "/r",
        }),
        [],
        { liveSource: live, runSettings: { SOURCE_DIR: "/nfs/p/media-pvc-1" } },
      );
      await settle();
      const pod = (rec.named(`${id}-job-job`).inputs.spec as any).template.spec;
      assert.deepEqual(
        pod.volumes.find((v: any) => v.name === "source"),
        { name: "source", ...live },
      );
      const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value]));
      assert.equal(env.SOURCE_DIR, "/source", "the directory on the server is not the mount point");
      const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === "source");
      assert.equal(mount.readOnly, true);
    }
  });

  it("tree Job = no gzip init container (sync-dir.sh needs no gzip)", () => {
    assert.deepEqual(spec.template.spec.initContainers, []);
    assert.ok(!spec.template.spec.volumes.some((v: any) => v.name === "tools"));
  });

  it("shards > 1 on a dump = error, not silently one shard (trees: presync-shards.test.ts)", () => {
    assert.throws(
      () => copy("sharded", backupFixture({ name: "sharded", executor: "job", shards: 4 })),
      /shards > 1 splits a tree; a "latest" dump is one file, set shards: 1/,
    );
  });
});

describe("three backups", () => {
  it("three copies after one quiesce = each waits for quiesce, none for another", async () => {
    const quiesce = new command.local.Command("q3-scale", { create: "true" });
    const names = ["p-keycloak-db", "p-stack-db", "p-stack-media"];
    copy(names[0]!, backupFixture({ name: "keycloak-db" }), [quiesce]);
    copy(names[1]!, backupFixture({ name: "stack-db", prefix: "production-stack-db/" }), [quiesce]);
    copy(
      names[2]!,
      backupFixture({ name: "stack-media", kind: "tree", prefix: "production-stack-media/" }),
      [quiesce],
    );
    await settle();
    const copies = names.map((n) => rec.named(`${n}-ssh-copy`));
    for (const c of copies) {
      assert.ok(rec.waitsFor(c, rec.named("q3-scale")));
      for (const other of copies) {
        if (other !== c) assert.ok(!rec.waitsFor(c, other), `${c.name} waits for ${other.name}`);
      }
    }
  });
});
