#!/usr/bin/env bash
# Reads a finished Indexed copy Job's results back: one JSON line per shard, each written by
# its pod's script to the termination message (RESULT_FILE=/dev/termination-log), from the
# succeeded pods. The program merges them and checks that every shard 0..SHARDS-1 is there.
#
# Env: NAMESPACE, JOB_NAME, SHARDS, KUBE_CONTEXT (optional).
# Stdout: the result lines, one per succeeded pod (any order).
# Fails if fewer than SHARDS succeeded pods left a result.
set -euo pipefail

: "${NAMESPACE:?NAMESPACE is required}" "${JOB_NAME:?JOB_NAME is required}" "${SHARDS:?SHARDS is required}"
[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || { echo "copy-job-shard-results: ERROR: SHARDS must be a whole number >= 1" >&2; exit 1; }
kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")

fail() {
  printf 'copy-job-shard-results %s/%s: ERROR: %s\n' "$NAMESPACE" "$JOB_NAME" "$*" >&2
  exit 1
}

# The legacy job-name label is set by every Kubernetes version (batch.kubernetes.io/job-name
# only from 1.27).
if ! out=$("${kc[@]}" get pods --selector "job-name=$JOB_NAME" \
  --field-selector status.phase=Succeeded \
  -o 'jsonpath={range .items[*]}{.status.containerStatuses[0].state.terminated.message}{"\n"}{end}' 2>&1); then
  fail "cannot list the Job's pods (${out//$'\n'/ })"
fi
results=$(grep '^{' <<<"$out" || true)
count=$(grep -c . <<<"$results" || true)
((count >= SHARDS)) ||
  fail "$count of $SHARDS shard(s) left a result; pods may be gone (ttlSecondsAfterFinished) - replace the Job to copy again (see README, Forcing a fresh copy)"
printf '%s\n' "$results"
