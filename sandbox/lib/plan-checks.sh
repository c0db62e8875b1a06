#!/usr/bin/env bash
# The plan in preview (issue 18): one more `pulumi preview --json` before `up`, with the state of
# everything it could change taken before and after it (preview-changed-nothing). Its plan is
# checked against what `up` then did by sandbox/summary.ts (preview-shows-plan). Sourced after
# phases.sh.
set -euo pipefail

# nfs_digest: one SHA-256 over every path, type, size, mtime and ctime under the NFS root and the
# scripts directory (names as bytes, NUL-separated): a file the preview wrote, removed or touched
# changes it.
nfs_digest() {
  local dirs=("$NFS_ROOT")
  [[ ! -d "$SANDBOX_DIR/nfs-scripts" ]] || dirs+=("$SANDBOX_DIR/nfs-scripts")
  find "${dirs[@]}" -mindepth 1 -printf '%p\0%y\0%s\0%T@\0%C@\0' | LC_ALL=C sort -z | sha256sum | cut -c1-64
}

# cluster_state NAME: StatefulSets, Jobs and CronJobs (uid, annotations, spec) as the API has them.
cluster_state() {
  kc get statefulsets,jobs,cronjobs --all-namespaces -o json |
    jq -S '[.items[] | {kind, ns: .metadata.namespace, name: .metadata.name, uid: .metadata.uid,
      annotations: (.metadata.annotations // {}), spec}]' >"$SANDBOX_RUN/state-$1.json"
}

# s3_state NAME: every object's key, size, ETag and time.
s3_state() {
  aws_sandbox s3api list-objects-v2 --bucket "$SANDBOX_BUCKET" --output json |
    jq -S '[.Contents[]? | {Key, Size, ETag, LastModified}]' >"$SANDBOX_RUN/s3-state-$1.json"
}

run_preview_plan() {
  cluster_state plan-before
  s3_state plan-before
  nfs_digest >"$SANDBOX_RUN/nfs-plan-before.sha256"
  local rc=0 changed=()
  say "preview --json (the plan)"
  pl local preview --json >"$SANDBOX_RUN/preview-plan.json" 2>"$SANDBOX_RUN/preview-plan.err" || rc=$?
  cluster_state plan-after
  s3_state plan-after
  nfs_digest >"$SANDBOX_RUN/nfs-plan-after.sha256"
  cmp -s "$SANDBOX_RUN/state-plan-before.json" "$SANDBOX_RUN/state-plan-after.json" ||
    changed+=("StatefulSets/Jobs/CronJobs")
  cmp -s "$SANDBOX_RUN/s3-state-plan-before.json" "$SANDBOX_RUN/s3-state-plan-after.json" ||
    changed+=("S3 objects")
  cmp -s "$SANDBOX_RUN/nfs-plan-before.sha256" "$SANDBOX_RUN/nfs-plan-after.sha256" ||
    changed+=("NFS files")
  if ((rc != 0)); then
    check preview-changed-nothing false "preview --json exit $rc (see .sandbox/run/preview-plan.err)"
  elif ((${#changed[@]} > 0)); then
    check preview-changed-nothing false "changed by the preview: ${changed[*]}"
  else
    check preview-changed-nothing true "StatefulSets, Jobs, CronJobs, S3 objects and NFS files the same before and after"
  fi
}
