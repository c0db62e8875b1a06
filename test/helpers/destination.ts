// The restore side's program (index.ts on the destination file) under mocks: the backup stack it
// reads (restore.source), the dump entries of its `backups` output, what a restore Job reports
// for one, and the cluster's answers to the reads (preflight Secrets, the Jobs' uids).
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { parseRestoreConfig, type RestoreConfig } from "../../components/restore/config";
import type { MockOptions, Recorder } from "./mocks";

/** restore.source in the destination file. */
export const SOURCE = "organization/fragalysis-relocation/production";

/** A `backups` entry for a dump under `prefix`, taken at midnight, of this content. */
export const sourceDump = (prefix: string, sha256: string) => ({
  bucket: "im-fragalysis",
  key: `${prefix}backup-2026-12-07T00:00:00Z-dumpall.sql.gz`,
  size: 1024,
  sha256,
  sourceTime: "2026-12-07T00:00:00Z",
  capturedAt: "2026-12-07T00:00:00Z",
  rpoSeconds: 0,
});

/** What restore-dump.sh leaves as its result line after restoring `entry` into these databases. */
export const dumpResultLine = (entry: ReturnType<typeof sourceDump>, summary: object) =>
  JSON.stringify({
    source: `s3://${entry.bucket}/${entry.key}`,
    sha256: entry.sha256,
    size: entry.size,
    kind: "cluster",
    dumpedFrom: "15.8",
    skippedRoleLines: 3,
    summary,
  });

/** restore.databases[] for stack-db as the destination file has it (no logins, no database). */
export const STACK_DB_RESTORE = {
  backup: "stack-db",
  namespace: "production-stack",
  statefulSet: "database",
  host: "database",
  passwordSecret: { name: "database", key: "root_password" },
};

/** A preflight Secret holding every password key the destination file names ("x" each). */
export const ALL_PASSWORDS = {
  root_password: "eA==",
  user_password: "eA==",
  database_admin_user_password: "eA==",
  database_user_password: "eA==",
};

/**
 * useMocks' `state` for the restore side: the StackReference (which must name SOURCE) holds
 * `sourceOutputs`; preflight Secret "namespace-name" holds `secretData` of it; a Job gets a uid.
 */
export function destinationState(
  sourceOutputs: object,
  secretData: (secret: string) => Record<string, string> | undefined = () => ALL_PASSWORDS,
): NonNullable<MockOptions["state"]> {
  return (type, name, inputs) => {
    if (type === "pulumi:pulumi:StackReference") {
      assert.equal(inputs.name, SOURCE);
      return { outputs: sourceOutputs };
    }
    if (type === "kubernetes:core/v1:Secret" && name.startsWith("preflight-secret-")) {
      return { data: secretData(name.replace("preflight-secret-", "")) };
    }
    if (type === "kubernetes:batch/v1:Job") return jobWithUid(name, inputs);
    return {};
  };
}

/** A created Job's state: its metadata with the uid the API server gives it. */
function jobWithUid(name: string, inputs: Record<string, unknown>) {
  return { metadata: { ...(inputs.metadata as object), uid: `${name}-uid` } };
}

/**
 * useMocks' `state` for a restore Job's own resources: the Job's uid, and the provider's
 * auto-naming for the credentials Secret the fetch refers to.
 */
export const restoreJobState: NonNullable<MockOptions["state"]> = (type, name, inputs) =>
  type === "kubernetes:batch/v1:Job"
    ? jobWithUid(name, inputs)
    : type === "kubernetes:core/v1:Secret"
      ? { metadata: { ...(inputs.metadata as object), name: `${name}-1a2b3c` } }
      : {};

/** The secret access key the restore Job tests hand over; it must never show in plain text. */
export const AWS_SECRET = "wJalrXUtnFEMI-not-a-real-secret";

/** The S3 side of a restore Job's arguments (the fetch image included), as the tests hand it. */
export const restoreJobS3 = () => ({
  region: "eu-central-1",
  endpoint: "http://s3.example:9000",
  credentials: {
    accessKeyId: pulumi.secret("AKIAEXAMPLE"),
    secretAccessKey: pulumi.secret(AWS_SECRET),
  },
  image: "amazon/aws-cli:2.31.39",
});

/**
 * The restore settings as the config parser fills them in, for a restore Job test: SOURCE, the
 * tests' region and access key, and the `databases` (and `media`) given.
 */
export function restoreConfig(lists: {
  readonly databases: object[];
  readonly media?: object[];
}): RestoreConfig {
  return parseRestoreConfig(
    { source: SOURCE, aws: { region: "eu-central-1" }, ...lists },
    { awsAccessKeyId: "AKIA", awsSecretAccessKey: AWS_SECRET },
  );
}

/** A container env entry: a value, or a reference to a Secret's key. */
export type EnvEntry = {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
};

/** A container's env by name: the value, or the secretKeyRef it reads. */
export const envOf = (list: EnvEntry[]) =>
  Object.fromEntries(list.map((e) => [e.name, e.value ?? e.valueFrom]));

/**
 * Asserts what every restore Job component `name` registers around its Job (restore-job.ts):
 * the credentials Secret, the Job, its result read-back and the scripts ConfigMap as children;
 * the Job named after it in `namespace`, replaced by delete first, kept on destroy, awaited by
 * the judge, not the provider, within one deadline and never reaped. Returns the Job's inputs.
 */
export function assertRestoreJob(
  rec: Recorder,
  name: string,
  type: string,
  namespace: string,
): any {
  const component = rec.named(name);
  assert.equal(component.type, type);
  const children = rec.resources.filter((x) => x.parent === component.urn);
  assert.deepEqual(children.map((x) => [x.name, x.type]).sort(), [
    [`${name}-aws`, "relocation:credentials:AwsCredentialsSecret"],
    [`${name}-job`, "kubernetes:batch/v1:Job"],
    [`${name}-result`, "command:local:Command"],
    [`${name}-scripts`, "kubernetes:core/v1:ConfigMap"],
  ]);

  const jobRes = rec.named(`${name}-job`);
  assert.equal(jobRes.deleteBeforeReplace, true);
  assert.equal(jobRes.retainOnDelete, true);
  const job = jobRes.inputs as any;
  assert.equal(job.metadata.name, `${name}-job`);
  assert.equal(job.metadata.namespace, namespace);
  // The judge waits, not the provider (whose failure would not say why).
  assert.equal(job.metadata.annotations["pulumi.com/skipAwait"], "true");
  assert.equal(job.spec.ttlSecondsAfterFinished, undefined);
  assert.equal(job.spec.activeDeadlineSeconds, 14400);
  return job;
}

/**
 * Asserts the scripts ConfigMap of restore Job component `name` in `namespace`: each script under
 * its base name (`keys`, sorted), mounted in the pod of `job` (its inputs) at its path under
 * scripts/ (`paths`, in order), and the pod annotated with one sha256 per script.
 */
export function assertRestoreScripts(
  rec: Recorder,
  name: string,
  namespace: string,
  job: any,
  keys: readonly string[],
  paths: readonly string[],
): void {
  const cm = rec.named(`${name}-scripts`).inputs as any;
  assert.deepEqual(Object.keys(cm.data).sort(), keys);
  assert.equal(cm.metadata.namespace, namespace);
  assert.deepEqual(
    job.spec.template.spec.volumes
      .find((v: any) => v.name === "scripts")
      .configMap.items.map((i: any) => i.path),
    paths,
  );
  assert.match(
    job.spec.template.metadata.annotations["relocation.fragalysis/scripts-sha256"],
    new RegExp(`^[0-9a-f]{64}( [0-9a-f]{64}){${paths.length - 1}}$`),
  );
}

/** Asserts that AWS_SECRET shows in no plain input of component `name`'s resources but its Secret. */
export function assertSecretOnlyInSecret(rec: Recorder, name: string): void {
  for (const x of rec.resources.filter((y) => y.name.startsWith(name))) {
    if (x.name === `${name}-aws-secret`) continue;
    assert.doesNotMatch(JSON.stringify(x.inputs), new RegExp(AWS_SECRET), x.name);
  }
}
