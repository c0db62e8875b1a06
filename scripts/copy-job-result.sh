#!/usr/bin/env bash
# Reads a finished copy Job's result back: the JSON line its script wrote to the container's
# termination message (RESULT_FILE=/dev/termination-log), taken from the succeeded pod.
#
# Env: NAMESPACE, JOB_NAME, KUBE_CONTEXT (optional).
# Stdout, last line: the script's result JSON. Fails if no succeeded pod left a result.
set -euo pipefail

: "${NAMESPACE:?NAMESPACE is required}" "${JOB_NAME:?JOB_NAME is required}"
kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")

fail() {
  printf 'copy-job-result %s/%s: ERROR: %s\n' "$NAMESPACE" "$JOB_NAME" "$*" >&2
  exit 1
}

# The legacy job-name label is set by every Kubernetes version (batch.kubernetes.io/job-name
# only from 1.27).
if ! out=$("${kc[@]}" get pods --selector "job-name=$JOB_NAME" \
  --field-selector status.phase=Succeeded \
  -o 'jsonpath={range .items[*]}{.status.containerStatuses[0].state.terminated.message}{"\n"}{end}' 2>&1); then
  fail "cannot list the Job's pods (${out//$'\n'/ })"
fi
result=$(grep '^{' <<<"$out" | tail -n 1 || true)
[[ -n "$result" ]] ||
  fail "no succeeded pod with a result; its pods may be gone (ttlSecondsAfterFinished) - replace the Job to copy again (see README, Forcing a fresh copy)"
printf '%s\n' "$result"
