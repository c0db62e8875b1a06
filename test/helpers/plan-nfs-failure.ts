// Shared by the plan-nfs failure tests: a production preview (nfs.hostKey pinned, a handed S3
// key) whose plan-nfs.sh invoke prints `nfsStdout`; resolves the plan output's rejection.
import { planStdout, settle, type Recorder } from "./mocks";
import { usePreviewMocks } from "./refresh-mocks";
import { importBackupStack, useStackConfig } from "./stack";

export const HOST_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

export async function previewWithNfs(
  nfsStdout: string,
): Promise<{ recorder: Recorder; failure: Error | undefined }> {
  const recorder = await usePreviewMocks((_token, inputs) => ({
    stdout: String(inputs.command).includes("plan-nfs.sh") ? nfsStdout : planStdout({}, inputs),
  }));
  useStackConfig("production", {
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nfailure-test\n",
    nfs: JSON.stringify({ host: "192.168.253.39", user: "root", hostKey: HOST_KEY }),
    aws: JSON.stringify({ manage: false, region: "eu-central-1" }),
    awsAccessKeyId: "AKIAFAILURE",
    awsSecretAccessKey: "failure-secret",
  });
  const stack = await importBackupStack();
  // Held from the start, as the engine holds a stack output (see plan-failure.test.ts).
  const plan = stack.plan as unknown as Record<"isKnown" | "isSecret", Promise<unknown>> & {
    promise(): Promise<unknown>;
  };
  for (const p of [plan.isKnown, plan.isSecret]) p.catch(() => undefined);
  const failure = plan.promise().then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  for (let i = 0; i < 20; i++) await settle();
  return { recorder, failure: await failure };
}
