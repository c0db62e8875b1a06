#!/usr/bin/env bash
# Reads a finished copy Job's result back: the JSON line its script wrote to the container's
# termination message (RESULT_FILE=/dev/termination-log), taken from the succeeded pods. An
# Indexed Job (SHARDS > 1) has one result per shard; the program merges them and checks that
# every shard 0..SHARDS-1 is there.
#
# Env: NAMESPACE, JOB_NAME, SHARDS (default 1), KUBE_CONTEXT (optional).
# Stdout: SHARDS=1: the result JSON (the last one, if a pod was retried); SHARDS>1: the result
# lines, one per succeeded pod (any order). Fails if fewer than SHARDS pods left a result.
set -euo pipefail

: "${NAMESPACE:?NAMESPACE is required}" "${JOB_NAME:?JOB_NAME is required}"
SHARDS="${SHARDS:-1}"
fail() {
  printf 'copy-job-result %s/%s: ERROR: %s\n' "$NAMESPACE" "$JOB_NAME" "$*" >&2
  exit 1
}
[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || fail "SHARDS must be a whole number >= 1"
kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")

# The legacy job-name label is set by every Kubernetes version (batch.kubernetes.io/job-name
# only from 1.27).
if ! out=$("${kc[@]}" get pods --selector "job-name=$JOB_NAME" \
  --field-selector status.phase=Succeeded \
  -o 'jsonpath={range .items[*]}{.status.containerStatuses[0].state.terminated.message}{"\n"}{end}' 2>&1); then
  out="${out//$'\n'/ }"
  fail "cannot list the Job's pods (${out:0:2000})"
fi
results=$(grep '^{' <<<"$out" || true)
count=$(grep -c . <<<"$results" || true)
readonly AGAIN="pods may be gone (ttlSecondsAfterFinished) - replace the Job to copy again (see README, Forcing a fresh copy)"
if ((SHARDS == 1)); then
  ((count >= 1)) || fail "no succeeded pod with a result; its $AGAIN"
  tail -n 1 <<<"$results"
else
  ((count >= SHARDS)) || fail "$count of $SHARDS shard(s) left a result; $AGAIN"
  printf '%s\n' "$results"
fi
