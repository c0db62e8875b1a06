// refresh-wait.sh and refresh-judge.sh run for real (bash) against a stand-in kubectl that
// answers from a scenario (test/fixtures/fake-kube/kubectl-refresh): the wait never lets a second
// backup start while one runs, and the judge waits for the Job to finish and prints exactly the
// status lines the verdict reads. The real API server's answers are exercised by the sandbox.
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { judgeRefresh } from "../../components/refresh-verdict";
import { script } from "../../components/scripts";
import { JOB_COMPLETE, pod } from "../fixtures/refresh/shapes";
import { run, type RunResult } from "../helpers/run";
import { tempDir } from "../helpers/servers";

const FAKE = path.join(__dirname, "..", "fixtures", "fake-kube", "kubectl-refresh");

interface Ran extends RunResult {
  readonly calls: string[];
}

async function runScript(
  name: string,
  scenario: Record<string, unknown>,
  env: Record<string, string>,
): Promise<Ran> {
  const dir = tempDir("refresh");
  copyFileSync(FAKE, path.join(dir, "kubectl"));
  const file = path.join(dir, "scenario.json");
  writeFileSync(file, JSON.stringify(scenario));
  const r = await run("/bin/bash", ["-c", script(name).text], {
    env: {
      PATH: `${dir}:${process.env.PATH}`,
      FAKE_REFRESH: file,
      NAMESPACE: "production-stack",
      POLL_SECONDS: "1",
      ...env,
    },
  });
  let calls: string[] = [];
  try {
    calls = readFileSync(`${file}.log`, "utf8").trim().split("\n");
  } catch {}
  return { ...r, calls };
}

const CRON = "postgres-backup-hourly";
const jobLine = (name: string, kind: string, owner: string, label: string, active: string) =>
  `${name}|${kind}|${owner}|${label}|${active}\n`;

describe("refresh-wait.sh", () => {
  const wait = (scenario: Record<string, unknown>, env: Record<string, string> = {}) =>
    runScript("refresh-wait.sh", scenario, { CRONJOB: CRON, WAIT_SECONDS: "10", ...env });

  it("nothing running = returns at once", async () => {
    const r = await wait({
      [`cronjob/${CRON}`]: [""],
      jobs: [jobLine("postgres-backup-hourly-29001", "CronJob", CRON, "", "")],
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim());
    assert.equal(out.cronJob, `production-stack/${CRON}`);
    assert.ok(out.waitedSeconds <= 1, "no wait beyond one pair of reads");
    assert.doesNotMatch(r.stderr, /waiting/);
  });

  it("a scheduled run active for two polls = waits until it is done", async () => {
    const running = jobLine("postgres-backup-hourly-29002", "CronJob", CRON, "", "1");
    const r = await wait({
      [`cronjob/${CRON}`]: ["postgres-backup-hourly-29002", "postgres-backup-hourly-29002", ""],
      jobs: [running, running, jobLine("postgres-backup-hourly-29002", "CronJob", CRON, "", "")],
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /waiting for running Job\(s\): postgres-backup-hourly-29002/);
    assert.ok(JSON.parse(r.stdout.trim()).waitedSeconds >= 2);
    assert.equal(r.calls.filter((c) => c.includes("get cronjob")).length, 3);
  });

  it("a Job made by hand (--from, owned by the CronJob, not in status.active) = waited for too", async () => {
    const r = await wait(
      {
        [`cronjob/${CRON}`]: [""],
        jobs: [jobLine("manual-1", "CronJob", CRON, "", "1")],
      },
      { WAIT_SECONDS: "2" },
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /refresh-wait production-stack\/postgres-backup-hourly: ERROR: Job\(s\) manual-1 of the CronJob still running after 2s; .*refresh.waitSeconds/,
    );
  });

  it("an earlier refresh Job of ours still running (label) = waited for; other CronJobs' Jobs ignored", async () => {
    const r = await wait(
      {
        [`cronjob/${CRON}`]: [""],
        jobs: [
          jobLine("relocation-refresh-stack-db", "", "", CRON, "1") +
            jobLine("postgres-backup-daily-1", "CronJob", "postgres-backup-daily", "", "1"),
        ],
      },
      { WAIT_SECONDS: "1" },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Job\(s\) relocation-refresh-stack-db of the CronJob/);
    assert.doesNotMatch(r.stderr, /daily/);
  });

  it("CronJob missing = exit 1 naming namespace/name and the setting", async () => {
    const r = await wait({ jobs: [""] });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /refresh-wait production-stack\/postgres-backup-hourly: ERROR: cannot read the CronJob .*NotFound.*check refresh.cronJob/,
    );
  });
});

describe("refresh-judge.sh", () => {
  const JOB = "relocation-refresh-stack-db";
  const judge = (scenario: Record<string, unknown>, env: Record<string, string> = {}) =>
    runScript("refresh-judge.sh", scenario, { JOB_NAME: JOB, TIMEOUT_SECONDS: "10", ...env });
  const success = JSON.stringify(pod("Succeeded", 0, "SUCCESS"));

  it("running, then Complete = waits, then prints status and pods the verdict accepts", async () => {
    const r = await judge({
      [`conditions/${JOB}`]: ["", "", "SuccessCriteriaMet Complete"],
      [`status/${JOB}`]: [JSON.stringify(JOB_COMPLETE)],
      [`pods/job-name=${JOB}`]: [`${success}\n`],
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.calls.filter((c) => c.includes("conditions")).length, 3);
    assert.equal(r.stdout.trim().split("\n").length, 2);
    assert.equal(judgeRefresh(`production-stack/${JOB}`, r.stdout).message, "SUCCESS");
  });

  it("Failed = stops waiting at once and prints it", async () => {
    const r = await judge({
      [`conditions/${JOB}`]: ["FailureTarget Failed"],
      [`status/${JOB}`]: ['{"failed":1}'],
      [`pods/job-name=${JOB}`]: [""],
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.calls.filter((c) => c.includes("conditions")).length, 1);
    assert.equal(r.stdout, '{"failed":1}\n');
  });

  it("still running at TIMEOUT_SECONDS = exit 1, one line saying the next up judges it again", async () => {
    const r = await judge({ [`conditions/${JOB}`]: [""] }, { TIMEOUT_SECONDS: "1" });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /refresh-judge production-stack\/relocation-refresh-stack-db: ERROR: the Job has not finished after 1s \(refresh.timeoutSeconds\); .*pulumi up again judges it when it is done\n$/,
    );
    assert.equal(r.stdout, "");
  });

  it("Job missing = exit 1 naming it", async () => {
    const r = await judge({});
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /refresh-judge production-stack\/relocation-refresh-stack-db: ERROR: cannot read the Job/,
    );
  });
});
