// What scripts/refresh-judge.sh prints for a Job (its .status, then each pod's .status), as the
// mocked stdout of the restore side's judge Commands (components/restore/job-outcome.ts reads it).

/** A Complete Job whose one succeeded pod's `container` left `message` (its result line). */
export function judgedSuccess(message: string, container = "restore"): string {
  const pod = {
    phase: "Succeeded",
    startTime: "2026-12-07T00:00:00Z",
    containerStatuses: [{ name: container, state: { terminated: { exitCode: 0, message } } }],
  };
  return `${JSON.stringify({ conditions: [{ type: "Complete", status: "True" }] })}\n${JSON.stringify(pod)}\n`;
}

/** A Failed Job whose pod's `container` (init containers first) ended with `exitCode`, `message`. */
export function judgedFailure(message: string, container = "fetch", init = true): string {
  const ended = { name: container, state: { terminated: { exitCode: 1, message } } };
  const pod = {
    phase: "Failed",
    startTime: "2026-12-07T00:00:00Z",
    ...(init ? { initContainerStatuses: [ended] } : { containerStatuses: [ended] }),
  };
  return `${JSON.stringify({ conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] })}\n${JSON.stringify(pod)}\n`;
}

/** The destination file's media tree (`stack-media`) as the source's backups output has it. */
export const STACK_MEDIA = {
  bucket: "im-fragalysis",
  prefix: "production-stack-media/",
  files: 3,
  bytes: 10,
  manifestKey: "production-stack-media/.relocation-manifest/shard-0.jsonl",
  manifestSha256: "d".repeat(64),
  capturedAt: null,
  rpoSeconds: null,
};

/** What the media Job's restore container leaves (its termination message) for STACK_MEDIA. */
export const STACK_MEDIA_RESULT = {
  prefix: "s3://im-fragalysis/production-stack-media/",
  dest: "/code/media",
  files: 3,
  bytes: 10,
  downloaded: 3,
  kept: 0,
  ignored: 1,
  verifiedAt: "2026-12-07T03:00:00Z",
};

/** STACK_MEDIA_RESULT as the judge prints it for the media Job. */
export const judgedStackMedia = () => judgedSuccess(JSON.stringify(STACK_MEDIA_RESULT));

/** The PVC the destination file's media restore mounts, for useMocks' `volumes`. */
export const STACK_MEDIA_VOLUMES = { "production-stack/media": { pv: "pv-media", spec: {} } };
