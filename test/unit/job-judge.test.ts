// The one "judge a Job" builder (components/shared/job-judge.ts) as each of its three callers uses
// it: the refresh's judge keeps exactly the environment it had before the builder (no input
// change on existing stacks), the fingerprint's and the restore's name themselves, their setting
// and what they wait for; each runs after its Job and again when the Job or the script changes.
// The fingerprint judge's environment is also fed to the real script, whose timeout line must
// name the setting that bounds the fingerprint Job.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { judgeJobResult } from "../../components/restore/restore-job";
import { script } from "../../components/scripts";
import { judgeEnvironment } from "../../components/shared/job-judge";
import { useMocks, valueOf, type Recorder, type Registered } from "../helpers/mocks";
import { CRON_JOBS, productionStdout, VOLUMES } from "../helpers/refresh-mocks";
import { run } from "../helpers/run";
import { tempDir } from "../helpers/servers";
import { importBackupStack, useStackConfig } from "../helpers/stack";

const FAKE_KUBECTL = path.join(__dirname, "..", "fixtures", "fake-kube", "kubectl-refresh");
const JUDGE = script("refresh-judge.sh");
/** What the restore's judge prints: a Complete Job whose pod's restore container left "{}". */
const RESTORED = [
  { conditions: [{ type: "Complete", status: "True" }] },
  {
    phase: "Succeeded",
    containerStatuses: [{ name: "restore", state: { terminated: { exitCode: 0, message: "{}" } } }],
  },
]
  .map((l) => JSON.stringify(l))
  .join("\n");
let restored: string;

let recorder: Recorder;

before(async () => {
  recorder = await useMocks({
    statefulSets: { "production-stack/stack": 3, "im-infra/keycloak": 1 },
    cronJobs: CRON_JOBS,
    volumes: VOLUMES,
    commandStdout: (name, inputs) =>
      name === "restore-stack-db-result" ? RESTORED : productionStdout(name, inputs),
  });
  useStackConfig("production", { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" });
  const stack = await importBackupStack();
  await Promise.all([valueOf(stack.rpo), valueOf(stack.fingerprints)]);

  // A restore Job judged as DumpRestore and MediaRestore do.
  const parent = new pulumi.ComponentResource("test:restore:Parent", "restore-parent");
  const job = new k8s.batch.v1.Job(
    "restore-stack-db-job",
    { metadata: { name: "restore-stack-db", namespace: "dest-stack" } },
    { parent },
  );
  restored = await valueOf(
    judgeJobResult(
      "restore-stack-db-result",
      job,
      {
        backup: "stack-db",
        namespace: "dest-stack",
        container: "restore",
        timeoutSeconds: 14400,
        timeoutSetting: "restore.restoreTimeoutSeconds",
        kubeContext: "new-cluster",
      },
      parent,
    ),
  );
});

const env = (r: Registered) => r.inputs.environment as Record<string, string>;

/** The judge, checked for what every caller shares: the script, its Job, its triggers. */
function judgeOf(name: string, jobName: string): Registered {
  const judge = recorder.named(name);
  const job = recorder.named(jobName);
  assert.equal(judge.type, "command:local:Command");
  assert.deepEqual(judge.inputs.interpreter, ["/bin/bash", "-c"]);
  assert.equal(judge.inputs.create, JUDGE.text);
  assert.ok(recorder.waitsFor(judge, job), `${name} waits for ${jobName}`);
  assert.equal(judge.parent, job.parent, "the judge and its Job have the same parent");
  assert.equal((judge.inputs.triggers as unknown[])[1], JUDGE.sha256, "an edited script re-runs");
  return judge;
}

describe("judgeJob per caller (production stack under mocks)", () => {
  it("refresh judge = exactly NAMESPACE, JOB_NAME, TIMEOUT_SECONDS (the environment it had before)", () => {
    for (const [backup, namespace] of [
      ["stack-db", "production-stack"],
      ["keycloak-db", "im-infra"],
    ]) {
      const judge = judgeOf(`refresh-${backup}-judge`, `refresh-${backup}-job`);
      assert.deepEqual(env(judge), {
        NAMESPACE: namespace,
        JOB_NAME: `relocation-refresh-${backup}`,
        TIMEOUT_SECONDS: "3600",
      });
    }
  });

  it("fingerprint judge = its own name, the setting that bounds it and what it waits for", () => {
    const judge = judgeOf("fingerprint-stack-db-judge", "fingerprint-stack-db-job");
    assert.deepEqual(env(judge), {
      NAMESPACE: "production-stack",
      JOB_NAME: "relocation-fp-stack-db",
      TIMEOUT_SECONDS: "3600",
      JUDGE_NAME: "fingerprint-judge",
      TIMEOUT_SETTING: "backups[].refresh.timeoutSeconds, which bounds the fingerprint Job too",
      WAITING_FOR: "the fingerprint",
    });
  });

  it("restore judge = restore-judge, its setting, the Job's deadline + 120 s, a 5 s poll, the context", () => {
    const judge = judgeOf("restore-stack-db-result", "restore-stack-db-job");
    assert.deepEqual(env(judge), {
      NAMESPACE: "dest-stack",
      JOB_NAME: "restore-stack-db",
      TIMEOUT_SECONDS: String(14400 + 120),
      POLL_SECONDS: "5",
      JUDGE_NAME: "restore-judge",
      TIMEOUT_SETTING: "restore.restoreTimeoutSeconds",
      WAITING_FOR: "the restore of stack-db",
      KUBE_CONTEXT: "new-cluster",
    });
    assert.equal(restored, "{}", "its stdout is read by jobResult");
  });
});

describe("judgeEnvironment", () => {
  it("unset or empty kubeContext = no KUBE_CONTEXT; set = passed on", () => {
    const base = { namespace: "ns", timeoutSeconds: 60 };
    assert.equal(judgeEnvironment("j", base).KUBE_CONTEXT, undefined);
    assert.equal(judgeEnvironment("j", { ...base, kubeContext: "" }).KUBE_CONTEXT, undefined);
    assert.equal(judgeEnvironment("j", { ...base, kubeContext: "old" }).KUBE_CONTEXT, "old");
  });
});

describe("the fingerprint judge's environment, run by the real script", () => {
  /** refresh-judge.sh with the fingerprint judge's recorded environment, against a fake kubectl. */
  async function runJudge(scenario: Record<string, string[]>, timeoutSeconds: string) {
    const dir = tempDir("job-judge");
    copyFileSync(FAKE_KUBECTL, path.join(dir, "kubectl"));
    const file = path.join(dir, "scenario.json");
    writeFileSync(file, JSON.stringify(scenario));
    return run("/bin/bash", ["-c", JUDGE.text], {
      env: {
        PATH: `${dir}:${process.env.PATH}`,
        FAKE_REFRESH: file,
        ...env(recorder.named("fingerprint-stack-db-judge")),
        POLL_SECONDS: "1",
        TIMEOUT_SECONDS: timeoutSeconds,
      },
    });
  }
  const JOB = "relocation-fp-stack-db";

  it("running, then Complete = one progress line that says it waits for the fingerprint", async () => {
    const r = await runJudge(
      {
        [`conditions/${JOB}`]: ["", "SuccessCriteriaMet Complete"],
        [`status/${JOB}`]: ['{"succeeded":1}'],
        [`pods/job-name=${JOB}`]: [""],
      },
      "3600",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '{"succeeded":1}\n');
    assert.match(
      r.stderr,
      /^\[fingerprint-judge production-stack\/relocation-fp-stack-db\] waiting for the fingerprint to finish \(\d+s\)\n$/,
    );
  });

  it("still running at the timeout = the ERROR line names the setting that bounds the fingerprint Job", async () => {
    // TIMEOUT_SECONDS 0: the first read that finds it unfinished is already past the bound.
    const r = await runJudge({ [`conditions/${JOB}`]: [""] }, "0");
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `fingerprint-judge production-stack/${JOB}: ERROR: the Job has not finished after 0s (backups[].refresh.timeoutSeconds, which bounds the fingerprint Job too); it keeps running: pulumi up again judges it when it is done\n`,
    );
  });
});
