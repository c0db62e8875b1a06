#!/usr/bin/env bash
# Waits, bounded, until a refresh Job has finished (condition Complete or Failed), then prints
# its status and its pods' status for the program's verdict (components/refresh-verdict.ts).
# Only status is printed, never the spec (its env could hold values from the CronJob template).
#
# Env: NAMESPACE, JOB_NAME, TIMEOUT_SECONDS (default 3600), POLL_SECONDS (default 2),
#      KUBE_CONTEXT (optional); for the other Jobs judged the same way (the old side's
#      fingerprint, the restore side's Jobs): JUDGE_NAME (default refresh-judge) names the
#      lines, TIMEOUT_SETTING (default refresh.timeoutSeconds) the setting a timeout points
#      at, WAITING_FOR (default "the backup") what the progress lines wait for.
#      PROGRESS_SECONDS (default 30): at most one progress line per interval on stderr.
# Stdout: line 1 the Job's .status as JSON; then one line per pod, its .status as JSON.
# Failure (exit 1, one line): the Job cannot be read, or it has not finished by TIMEOUT_SECONDS
# (then nothing is kept in the state, so the next `pulumi up` judges the same Job again).
set -euo pipefail

: "${NAMESPACE:?NAMESPACE is required}" "${JOB_NAME:?JOB_NAME is required}"
TIMEOUT_SECONDS="${TIMEOUT_SECONDS:-3600}"
POLL_SECONDS="${POLL_SECONDS:-2}"
PROGRESS_SECONDS="${PROGRESS_SECONDS:-30}"
JUDGE_NAME="${JUDGE_NAME:-refresh-judge}"
TIMEOUT_SETTING="${TIMEOUT_SETTING:-refresh.timeoutSeconds}"
WAITING_FOR="${WAITING_FOR:-the backup}"
target="$NAMESPACE/$JOB_NAME"
fail() {
  printf '%s %s: ERROR: %s\n' "$JUDGE_NAME" "$target" "$*" >&2
  exit 1
}
[[ "$TIMEOUT_SECONDS" =~ ^[0-9]+$ ]] || fail "TIMEOUT_SECONDS must be a whole number"
[[ "$POLL_SECONDS" =~ ^[1-9][0-9]*$ ]] || fail "POLL_SECONDS must be a whole number >= 1"
[[ "$PROGRESS_SECONDS" =~ ^[0-9]+$ ]] || fail "PROGRESS_SECONDS must be a whole number"
kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")

start=$SECONDS
said=-1
while :; do
  done_as=$("${kc[@]}" get job "$JOB_NAME" \
    -o 'jsonpath={.status.conditions[?(@.status=="True")].type}' 2>&1) ||
    fail "cannot read the Job (${done_as//$'\n'/ }); you need get on jobs in $NAMESPACE"
  [[ " $done_as " == *" Complete "* || " $done_as " == *" Failed "* ]] && break
  if ((SECONDS - start >= TIMEOUT_SECONDS)); then
    fail "the Job has not finished after ${TIMEOUT_SECONDS}s ($TIMEOUT_SETTING); it keeps running: pulumi up again judges it when it is done"
  fi
  if ((said < 0 || SECONDS - said >= PROGRESS_SECONDS)); then
    printf '[%s %s] waiting for %s to finish (%ss)\n' "$JUDGE_NAME" "$target" "$WAITING_FOR" "$((SECONDS - start))" >&2
    said=$SECONDS
  fi
  sleep "$POLL_SECONDS"
done

status=$("${kc[@]}" get job "$JOB_NAME" -o 'jsonpath={.status}' 2>&1) ||
  fail "cannot read the Job's status (${status//$'\n'/ })"
# The legacy job-name label is set by every Kubernetes version.
pods=$("${kc[@]}" get pods --selector "job-name=$JOB_NAME" \
  -o 'jsonpath={range .items[*]}{.status}{"\n"}{end}' 2>&1) ||
  fail "cannot list the Job's pods (${pods//$'\n'/ }); you need list on pods in $NAMESPACE"
[[ -n "$status" ]] || status='{}'
printf '%s\n' "$status"
if [[ -n "$pods" ]]; then printf '%s\n' "$pods"; fi
