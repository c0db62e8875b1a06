// What each Command of the production program prints last, as the real scripts would: the
// mocks' `commandStdout` for tests that run the whole program (index.ts).
const SHA = "a".repeat(64);

/** What each copy script prints last, as the real scripts would for the production config. */
export function copyResult(name: string, inputs: Record<string, unknown>): string {
  const env = (inputs.environment ?? {}) as Record<string, string>;
  if (env.STATEFULSET) {
    return `{"namespace":"${env.NAMESPACE}","statefulSet":"${env.STATEFULSET}","originalReplicas":3,"quiescedAt":"2026-11-25T10:00:00Z"}`;
  }
  const [, phase, backup] = /^(backup|presync)-(.+)-(ssh-copy|job-result)$/.exec(name) ?? [];
  // The final copies finish at different times; the pre-sync long before the quiesce.
  const verifiedAt =
    phase === "presync"
      ? "2026-11-25T09:30:00Z"
      : backup === "stack-media"
        ? "2026-11-25T10:04:10Z"
        : "2026-11-25T10:01:00Z";
  if (backup === "stack-media") {
    return `{"bucket":"im-fragalysis","prefix":"production-stack-media/","files":10,"bytes":2048,"uploaded":10,"skipped":0,"verifiedAt":"${verifiedAt}"}`;
  }
  if (backup) {
    const key = `production-${backup}/backup-2026-11-25T09:07:01Z-dumpall.sql.gz`;
    return `{"bucket":"im-fragalysis","key":"${key}","size":1234,"sha256":"${SHA}","source":"/nfs/${key}","sourceTime":"2026-11-25T09:07:01Z","verifiedAt":"${verifiedAt}"}`;
  }
  return "";
}
