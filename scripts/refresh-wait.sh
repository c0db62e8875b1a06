#!/usr/bin/env bash
# Waits, bounded, until no Job of a CronJob is running, so the refresh never runs a second backup
# at once (`kubectl create job --from=cronjob/...` and a Job declared from the jobTemplate both
# ignore the CronJob's concurrencyPolicy; two sql-backup runs share one dumpall.sql.gz).
#
# Env: NAMESPACE, CRONJOB, WAIT_SECONDS (default 900), POLL_SECONDS (default 5),
#      KUBE_CONTEXT (optional).
# "Running": listed in the CronJob's status.active, or a Job owned by the CronJob (a scheduled
# run, or one made by hand with --from) or labelled relocation.fragalysis/refresh-of=<CRONJOB>
# that still has active pods.
# Stdout, last line: {"cronJob","waitedSeconds"}. Failure: exit 1, one line naming what runs.
set -euo pipefail

: "${NAMESPACE:?NAMESPACE is required}" "${CRONJOB:?CRONJOB is required}"
WAIT_SECONDS="${WAIT_SECONDS:-900}"
POLL_SECONDS="${POLL_SECONDS:-5}"
target="$NAMESPACE/$CRONJOB"
fail() {
  printf 'refresh-wait %s: ERROR: %s\n' "$target" "$*" >&2
  exit 1
}
[[ "$WAIT_SECONDS" =~ ^[0-9]+$ ]] || fail "WAIT_SECONDS must be a whole number, got '$WAIT_SECONDS'"
[[ "$POLL_SECONDS" =~ ^[1-9][0-9]*$ ]] || fail "POLL_SECONDS must be a whole number >= 1"
kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")

# Names of the CronJob's Jobs that still run, space-separated.
running() {
  local active jobs name kind owner label count
  active=$("${kc[@]}" get cronjob "$CRONJOB" -o 'jsonpath={.status.active[*].name}' 2>&1) ||
    fail "cannot read the CronJob (${active//$'\n'/ }); check refresh.cronJob and that you may get cronjobs there"
  jobs=$("${kc[@]}" get jobs -o 'jsonpath={range .items[*]}{.metadata.name}{"|"}{.metadata.ownerReferences[0].kind}{"|"}{.metadata.ownerReferences[0].name}{"|"}{.metadata.labels.relocation\.fragalysis/refresh-of}{"|"}{.status.active}{"\n"}{end}' 2>&1) ||
    fail "cannot list Jobs (${jobs//$'\n'/ }); you need list on jobs in $NAMESPACE"
  local names=() n
  read -r -a names <<<"$active"
  # "|" separates (a tab would merge empty fields); no name or label value can hold it.
  while IFS='|' read -r name kind owner label count; do
    [[ -n "$name" && "${count:-0}" =~ ^[1-9] ]] || continue
    if [[ "$kind/$owner" == "CronJob/$CRONJOB" || "$label" == "$CRONJOB" ]]; then
      for n in ${names[@]+"${names[@]}"}; do [[ "$n" == "$name" ]] && continue 2; done
      names+=("$name")
    fi
  done <<<"$jobs"
  printf '%s' "${names[*]-}"
}

start=$SECONDS
while :; do
  now=$(running)
  [[ -z "$now" ]] && break
  if ((SECONDS - start >= WAIT_SECONDS)); then
    fail "Job(s) $now of the CronJob still running after ${WAIT_SECONDS}s; wait for them (kubectl get jobs -n $NAMESPACE) or raise refresh.waitSeconds, then run pulumi up again"
  fi
  printf '[refresh-wait %s] waiting for running Job(s): %s\n' "$target" "$now" >&2
  sleep "$POLL_SECONDS"
done
printf '{"cronJob":"%s","waitedSeconds":%d}\n' "$target" "$((SECONDS - start))"
