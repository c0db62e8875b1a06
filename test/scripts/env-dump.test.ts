// scripts/dump-env.sh and scripts/snapshot-manifests.sh run for real: real bash, the real aws
// CLI, a real S3 server (moto on 127.0.0.1). Only kubectl is a stand-in: a small bash script on
// PATH that answers `get pod`, `exec -- env` and `get <kinds> -o yaml` from env settings. The
// real Kubernetes side (RBAC, exec over SPDY, kubectl's in-cluster config) is proven later in the
// local kwok sandbox; until then this file covers the capture/upload logic and the S3 layout.
import assert from "node:assert/strict";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { MANIFEST_RESOURCES } from "../../components/env-dump";
import { envDumpKey, manifestKey } from "../../components/layout";
import { script } from "../../components/scripts";
import { lastJson, run } from "../helpers/run";
import { startMoto, tempDir, type Moto } from "../helpers/servers";

const PREFIX = "production-env/";
const CONTEXT = "old-cluster";

/** The env a fake pod prints; SECRET marks what must never reach stdout or stderr. */
const SECRET = "Zq9-do-not-print";
const envOf = (ns: string, pod: string) =>
  `PATH=/usr/local/bin:/usr/bin\nHOSTNAME=${pod}\nPOSTGRES_PASSWORD=${ns}-${pod}-${SECRET}\nGREETING=grüß dich\n`;

const FAKE_KUBECTL = `#!/usr/bin/env bash
# Fake kubectl for tests. FAKE_RUNNING / FAKE_PENDING / FAKE_EXEC_FAIL: "ns/pod" words.
set -euo pipefail
printf '%s|%s\\n' "\${KUBECTL_REMOTE_COMMAND_WEBSOCKETS:-unset}" "$*" >>"$FAKE_LOG"
ctx="" ns=""
args=()
while (($#)); do
  case "$1" in
    --context) ctx="$2"; shift 2 ;;
    --namespace | -n) ns="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ "$ctx" == "\${FAKE_CONTEXT:-}" ]] || { echo "error: context \\"$ctx\\" does not exist" >&2; exit 1; }
has() { [[ " \${2:-} " == *" $1 "* ]]; }
case "\${args[0]} \${args[1]}" in
  "get pod")
    pod="\${args[2]}"
    if has "$ns/$pod" "\${FAKE_RUNNING:-} \${FAKE_EXEC_FAIL:-}"; then printf Running
    elif has "$ns/$pod" "\${FAKE_PENDING:-}"; then printf Pending
    else echo "Error from server (NotFound): pods \\"$pod\\" not found" >&2; exit 1; fi ;;
  "exec "*)
    pod="\${args[1]}"
    [[ "\${args[2]} \${args[3]}" == "-- env" ]] || { echo "unexpected exec $*" >&2; exit 2; }
    if has "$ns/$pod" "\${FAKE_EXEC_FAIL:-}"; then
      printf 'PATH=/usr/bin\\nPOSTGRES_PASSWORD=half-%s\\n' "${SECRET}"
      echo "error: Internal error occurred: error executing command in container" >&2; exit 1
    fi
    has "$ns/$pod" "\${FAKE_RUNNING:-}" || { echo "Error from server (NotFound): pods \\"$pod\\" not found" >&2; exit 1; }
    printf 'PATH=/usr/local/bin:/usr/bin\\nHOSTNAME=%s\\nPOSTGRES_PASSWORD=%s-%s-%s\\nGREETING=grüß dich\\n' "$pod" "$ns" "$pod" "${SECRET}" ;;
  "get "*)
    [[ "\${args[2]:-} \${args[3]:-}" == "-o yaml" ]] || { echo "unexpected get $*" >&2; exit 2; }
    if [[ "\${FAKE_GET_FAIL:-}" == 1 ]]; then echo "Error from server (Forbidden): secrets is forbidden" >&2; exit 1; fi
    if [[ "\${FAKE_EMPTY:-}" == 1 ]]; then printf 'apiVersion: v1\\nitems: []\\nkind: List\\nmetadata:\\n  resourceVersion: ""\\n'; exit 0; fi
    printf 'apiVersion: v1\\nitems:\\n- apiVersion: v1\\n  kind: Secret\\n  metadata:\\n    name: db\\n    namespace: %s\\n  data:\\n    password: %s\\nkind: List\\n' "$ns" "$(printf '%s' "${SECRET}" | base64)" ;;
  *) echo "fake kubectl: unexpected $*" >&2; exit 2 ;;
esac
`;

let moto: Moto;
let bin: string;
let log: string;
const bucket = "im-fragalysis";

async function aws(...args: string[]) {
  const r = await run("aws", args, { env: moto.env });
  if (r.code !== 0) throw new Error(`aws ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function exists(key: string): Promise<boolean> {
  const r = await run("aws", ["s3api", "head-object", "--bucket", bucket, "--key", key], {
    env: moto.env,
  });
  return r.code === 0;
}

function runScript(name: string, env: Record<string, string | undefined>) {
  return run("bash", [script(name).path], {
    env: {
      ...moto.env,
      PATH: `${bin}:${process.env.PATH}`,
      FAKE_LOG: log,
      FAKE_CONTEXT: CONTEXT,
      KUBE_CONTEXT: CONTEXT,
      BUCKET: bucket,
      PREFIX,
      ...env,
    },
  });
}

/** Neither stream may carry a captured value. */
function assertNoValues(r: { stdout: string; stderr: string }) {
  assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), "a value leaked");
  const encoded = Buffer.from(SECRET).toString("base64");
  assert.ok(!r.stdout.includes(encoded) && !r.stderr.includes(encoded), "a Secret leaked");
}

before(async () => {
  moto = await startMoto();
  bin = tempDir("fake-kubectl");
  log = path.join(bin, "calls.log");
  writeFileSync(path.join(bin, "kubectl"), FAKE_KUBECTL);
  chmodSync(path.join(bin, "kubectl"), 0o755);
  await aws(
    "s3api",
    "create-bucket",
    "--bucket",
    bucket,
    "--create-bucket-configuration",
    "LocationConstraint=eu-central-1",
  );
});

after(async () => {
  await moto?.stop();
});

describe("dump-env.sh", () => {
  const production = [
    ["production-stack", "database-0"],
    ["production-stack", "stack-0"],
    ["im-infra", "database-0"],
    ["im-infra", "keycloak-0"],
  ] as const;
  const running = production.map(([ns, pod]) => `${ns}/${pod}`).join(" ");

  it("four running pods = each env at the layout's key, SSE AES256, values on no stream", async () => {
    writeFileSync(log, "");
    for (const ns of ["production-stack", "im-infra"]) {
      const pods = production.filter(([n]) => n === ns).map(([, p]) => p);
      const r = await runScript("dump-env.sh", {
        NAMESPACE: ns,
        PODS: pods.join(" "),
        FAKE_RUNNING: running,
      });
      assert.equal(r.code, 0, r.stderr);
      assertNoValues(r);
      assert.equal(r.stdout.trim().split("\n").length, 1, "stdout holds only the result line");
      assert.deepEqual(lastJson(r.stdout), {
        namespace: ns,
        keys: pods.map((p) => envDumpKey(PREFIX, ns, p)),
        kept: [],
      });
    }
    for (const [ns, pod] of production) {
      const key = envDumpKey(PREFIX, ns, pod);
      const head = JSON.parse(await aws("s3api", "head-object", "--bucket", bucket, "--key", key));
      assert.equal(head.ServerSideEncryption, "AES256", key);
      const body = await aws("s3", "cp", `s3://${bucket}/${key}`, "-");
      assert.equal(body, envOf(ns, pod), key);
      assert.equal(head.ContentLength, Buffer.byteLength(envOf(ns, pod)), key);
    }
    const calls = readFileSync(log, "utf8").trim().split("\n");
    const execs = calls.filter((c) => c.includes("exec "));
    assert.equal(execs.length, 4);
    for (const c of execs) {
      // SPDY (a POST: RBAC verb `create`) and the configured context on every call.
      assert.match(c, /^false\|--context old-cluster --namespace [a-z-]+ exec [a-z0-9-]+ -- env$/);
    }
  });

  it("POD instead of PODS = that one pod captured", async () => {
    const r = await runScript("dump-env.sh", {
      NAMESPACE: "im-infra",
      POD: "keycloak-0",
      FAKE_RUNNING: running,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lastJson(r.stdout).keys, [envDumpKey(PREFIX, "im-infra", "keycloak-0")]);
  });

  it("missing pod = fails naming it, nothing written for it, the others captured", async () => {
    const r = await runScript("dump-env.sh", {
      NAMESPACE: "other-ns",
      PODS: "web-0 ghost-0",
      FAKE_RUNNING: "other-ns/web-0",
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^env-dump other-ns\/ghost-0: pod not found and no earlier capture readable/m,
    );
    assert.match(r.stderr, /other-ns: 1 of 2 pod\(s\) failed: ghost-0$/m);
    assert.doesNotMatch(r.stdout, /\{/, "no result line on failure");
    assertNoValues(r);
    assert.equal(await exists(envDumpKey(PREFIX, "other-ns", "ghost-0")), false);
    assert.equal(await exists(envDumpKey(PREFIX, "other-ns", "web-0")), true);
  });

  it("exec fails after printing part of the env = fails naming the pod, no object", async () => {
    const r = await runScript("dump-env.sh", {
      NAMESPACE: "broken-ns",
      PODS: "database-0",
      FAKE_EXEC_FAIL: "broken-ns/database-0",
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^env-dump broken-ns\/database-0: kubectl exec failed, nothing uploaded/m,
    );
    assertNoValues(r);
    assert.equal(await exists(envDumpKey(PREFIX, "broken-ns", "database-0")), false);
  });

  it("exec fails on a pod captured earlier = fails, the earlier capture untouched", async () => {
    const key = envDumpKey(PREFIX, "production-stack", "stack-0");
    const r = await runScript("dump-env.sh", {
      NAMESPACE: "production-stack",
      PODS: "stack-0",
      FAKE_EXEC_FAIL: "production-stack/stack-0",
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /env-dump production-stack\/stack-0: kubectl exec failed/);
    assert.equal(
      await aws("s3", "cp", `s3://${bucket}/${key}`, "-"),
      envOf("production-stack", "stack-0"),
    );
  });

  it("re-run after quiesce with earlier captures = ok, reported as kept, objects unchanged", async () => {
    for (const [extra, label] of [
      [{}, "pod gone"],
      [{ FAKE_PENDING: "production-stack/database-0 production-stack/stack-0" }, "Pending"],
    ] as const) {
      const r = await runScript("dump-env.sh", {
        NAMESPACE: "production-stack",
        PODS: "database-0 stack-0",
        ...extra,
      });
      assert.equal(r.code, 0, `${label}: ${r.stderr}`);
      assertNoValues(r);
      const keys = ["database-0", "stack-0"].map((p) => envDumpKey(PREFIX, "production-stack", p));
      assert.deepEqual(lastJson(r.stdout), { namespace: "production-stack", keys: [], kept: keys });
      assert.match(r.stderr, /database-0: .*the earlier capture s3:\/\/.*database-0\.env stands/);
      assert.equal(
        await aws("s3", "cp", `s3://${bucket}/${keys[0]}`, "-"),
        envOf("production-stack", "database-0"),
      );
    }
  });

  it("re-run with the pod down and no earlier capture = fails naming the pod", async () => {
    const r = await runScript("dump-env.sh", {
      NAMESPACE: "fresh-ns",
      PODS: "database-0",
      FAKE_PENDING: "fresh-ns/database-0",
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^env-dump fresh-ns\/database-0: pod is Pending, not Running and no earlier capture readable/m,
    );
    assert.equal(await exists(envDumpKey(PREFIX, "fresh-ns", "database-0")), false);
  });

  it("kubectl cannot read the pod (wrong context) = fails naming the pod, even with a capture", async () => {
    const r = await runScript("dump-env.sh", {
      NAMESPACE: "production-stack",
      PODS: "stack-0",
      FAKE_RUNNING: running,
      KUBE_CONTEXT: "no-such-context",
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^env-dump production-stack\/stack-0: cannot read the pod: error: context/m,
    );
  });

  it("S3 refuses the upload (no such bucket) = fails naming the pod", async () => {
    const r = await runScript("dump-env.sh", {
      NAMESPACE: "im-infra",
      PODS: "keycloak-0",
      FAKE_RUNNING: running,
      BUCKET: "no-such-bucket",
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^env-dump im-infra\/keycloak-0: upload to s3:\/\/no-such-bucket\//m);
    assertNoValues(r);
  });
});

describe("snapshot-manifests.sh", () => {
  it("namespace with resources = YAML at manifestKey, SSE AES256, content on no stream", async () => {
    writeFileSync(log, "");
    const r = await runScript("snapshot-manifests.sh", { NAMESPACE: "production-stack" });
    assert.equal(r.code, 0, r.stderr);
    assertNoValues(r);
    const key = manifestKey(PREFIX, "production-stack");
    assert.deepEqual(lastJson(r.stdout), { namespace: "production-stack", keys: [key], kept: [] });
    assert.equal(r.stdout.trim().split("\n").length, 1);
    const head = JSON.parse(await aws("s3api", "head-object", "--bucket", bucket, "--key", key));
    assert.equal(head.ServerSideEncryption, "AES256");
    assert.match(await aws("s3", "cp", `s3://${bucket}/${key}`, "-"), /kind: Secret/);
    const kinds = MANIFEST_RESOURCES.map((r) =>
      r.apiGroup ? `${r.resource}.${r.apiGroup}` : r.resource,
    );
    assert.equal(
      readFileSync(log, "utf8").trim(),
      `unset|--context ${CONTEXT} --namespace production-stack get ${kinds.join(",")} -o yaml`,
    );
  });

  it("kubectl get fails = fails naming the namespace, earlier snapshot untouched", async () => {
    const key = manifestKey(PREFIX, "production-stack");
    const before = await aws("s3", "cp", `s3://${bucket}/${key}`, "-");
    const r = await runScript("snapshot-manifests.sh", {
      NAMESPACE: "production-stack",
      FAKE_GET_FAIL: "1",
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^manifests production-stack: kubectl get failed, nothing uploaded/m);
    assert.equal(await aws("s3", "cp", `s3://${bucket}/${key}`, "-"), before);
  });

  it("namespace gone with an earlier snapshot = ok, reported as kept", async () => {
    const key = manifestKey(PREFIX, "production-stack");
    const r = await runScript("snapshot-manifests.sh", {
      NAMESPACE: "production-stack",
      FAKE_EMPTY: "1",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lastJson(r.stdout), { namespace: "production-stack", keys: [], kept: [key] });
    assert.match(await aws("s3", "cp", `s3://${bucket}/${key}`, "-"), /kind: Secret/);
  });

  it("namespace gone without an earlier snapshot = fails naming the namespace", async () => {
    const r = await runScript("snapshot-manifests.sh", { NAMESPACE: "gone-ns", FAKE_EMPTY: "1" });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^manifests gone-ns: no resources found and no earlier snapshot readable/m,
    );
    assert.equal(await exists(manifestKey(PREFIX, "gone-ns")), false);
  });
});

describe("a brand-new access key", () => {
  it("key S3 does not accept (yet) = retried within KEY_WAIT_SECONDS, then the pod fails", async () => {
    // IAM keys take seconds to work everywhere; an enforcing moto answers InvalidAccessKeyId.
    const strict = await startMoto({ enforceIamAfter: 1 });
    try {
      const mb = await run("aws", ["s3", "mb", `s3://${bucket}`], { env: strict.env });
      assert.equal(mb.code, 0, mb.stderr);
      const r = await runScript("dump-env.sh", {
        ...strict.env,
        AWS_ACCESS_KEY_ID: "AKIANOTVALIDYET00000",
        NAMESPACE: "im-infra",
        PODS: "keycloak-0",
        FAKE_RUNNING: "im-infra/keycloak-0",
        KEY_WAIT_SECONDS: "5",
      });
      assert.equal(r.code, 1);
      assert.equal(r.stderr.match(/does not accept the access key \(yet\)/g)?.length, 1, r.stderr);
      assert.match(r.stderr, /keycloak-0/);
      assertNoValues(r);
    } finally {
      await strict.stop();
    }
  });
});
