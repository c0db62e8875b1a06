#!/usr/bin/env bash
# Scales one StatefulSet of the new cluster to the count the old side recorded (the backup
# stack's originalReplicas) and waits until exactly that many of its pods exist and are Ready.
#
# Env: NAMESPACE, STATEFULSET, REPLICAS (the count), TIMEOUT_SECONDS (default 900),
#   KUBE_CONTEXT (optional).
# Stdout, last line: {"namespace","statefulSet","replicas","ready","previous","readyAt"}.
# Safe to repeat: a StatefulSet already at REPLICAS is not written to, only waited for.
# Nothing is undone on failure and nothing runs on destroy: the new production keeps running
# whatever happens to the restore stack. kubectl as in quiesce-statefulset.sh; no Secret is read.
set -euo pipefail
export LC_ALL=C

readonly ME=scale-up.sh
readonly K8S_NAME='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
target="${NAMESPACE:-}/${STATEFULSET:-}"

# One line, control characters as spaces, at most 4000 characters (cluster text included).
clean() {
  local s="${1//[[:cntrl:]]/ }"
  printf '%s' "${s:0:4000}"
}
log() { printf '%s: %s: %s\n' "$ME" "$target" "$(clean "$*")" >&2; }
# Every failure ends with exactly one line starting "scale-up.sh: ERROR:".
fail() {
  printf '%s: ERROR: %s: %s\n' "$ME" "$target" "$(clean "$*")" >&2
  exit 1
}

[[ "${NAMESPACE:-}" =~ $K8S_NAME ]] ||
  fail "NAMESPACE must be a Kubernetes namespace such as production-stack (restore.scaleUp[].namespace), got '${NAMESPACE:-}'"
[[ "${STATEFULSET:-}" =~ $K8S_NAME ]] ||
  fail "STATEFULSET must be a StatefulSet name such as stack (restore.scaleUp[].statefulSet), got '${STATEFULSET:-}'"
[[ "${REPLICAS:-}" =~ ^(0|[1-9][0-9]{0,5})$ ]] ||
  fail "REPLICAS must be the count to scale to, a whole decimal number (the source's originalReplicas), got '${REPLICAS:-}'"
TIMEOUT_SECONDS="${TIMEOUT_SECONDS:-900}"
[[ "$TIMEOUT_SECONDS" =~ ^[1-9][0-9]{0,5}$ ]] ||
  fail "TIMEOUT_SECONDS must be whole seconds from 1 (restore.scaleUpTimeoutSeconds), got '$TIMEOUT_SECONDS'"

kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")

if ! previous=$("${kc[@]}" get statefulset "$STATEFULSET" -o 'jsonpath={.spec.replicas}' 2>&1); then
  fail "cannot read the StatefulSet ($previous); check restore.scaleUp's namespace and statefulSet, and access to the cluster"
fi
# The API server defaults spec.replicas to 1.
read -r previous _ <<<"${previous:-1} "
[[ "$previous" =~ ^[0-9]+$ ]] || fail "the StatefulSet's spec.replicas is '$previous', not a count"

if [[ "$previous" == "$REPLICAS" ]]; then
  log "already at $REPLICAS replicas; not scaled"
else
  if ! out=$("${kc[@]}" scale statefulset "$STATEFULSET" --replicas="$REPLICAS" 2>&1); then
    fail "scaling from $previous to $REPLICAS failed ($out); fix access to the cluster and run up again"
  fi
  log "scaled from $previous to $REPLICAS replicas"
fi

# shellcheck disable=SC2016 # a Go template, not shell expansion
selector=$("${kc[@]}" get statefulset "$STATEFULSET" \
  -o 'go-template={{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}' 2>&1) ||
  fail "cannot read the StatefulSet's selector ($selector); fix access to the cluster and run up again"
selector="${selector%,}"
[[ -n "$selector" ]] || fail "the StatefulSet has no spec.selector.matchLabels; cannot find its pods"

# Per pod one line: name, phase, the Ready condition's status, and what is holding it back
# (terminating, containers waiting and why, unschedulable and why). Checked with kubectl 1.32.
# "ready=" keeps that field from being empty: read's tab splitting would merge empty fields.
readonly PODS_TEMPLATE='go-template={{range .items}}{{.metadata.name}}{{"\t"}}{{.status.phase}}{{"\t"}}ready={{range .status.conditions}}{{if eq .type "Ready"}}{{.status}}{{end}}{{end}}{{"\t"}}{{if .metadata.deletionTimestamp}}terminating; {{end}}{{range .status.containerStatuses}}{{if .state.waiting}}{{.name}} {{.state.waiting.reason}}{{if .state.waiting.message}}: {{.state.waiting.message}}{{end}}; {{end}}{{end}}{{range .status.conditions}}{{if eq .type "PodScheduled"}}{{if eq .status "False"}}{{.reason}}: {{.message}}; {{end}}{{end}}{{end}}{{"\n"}}{{end}}'

# Sets total, ready and says (what the first 10 pods that are not Ready say, one line).
read_pods() {
  local listing name phase cond why count=0
  listing=$("${kc[@]}" get pods --selector "$selector" -o "$PODS_TEMPLATE" 2>&1) ||
    fail "cannot list the StatefulSet's pods ($listing); fix access to the cluster and run up again"
  total=0 ready=0 says=""
  while IFS=$'\t' read -r name phase cond why; do
    [[ -n "$phase" ]] || continue # a message's own line break, not a pod
    total=$((total + 1))
    if [[ "$cond" == ready=True && "$why" != terminating* ]]; then
      ready=$((ready + 1))
    elif ((++count <= 10)); then
      why="${why%; }"
      says+="$name $phase, not Ready${why:+: ${why:0:300}}; "
    fi
  done <<<"$listing"
  ((count <= 10)) || says+="(+$((count - 10)) more not Ready); "
  says="${says%; }"
}

deadline=$((SECONDS + TIMEOUT_SECONDS))
last=""
while :; do
  read_pods
  ((total == REPLICAS && ready == REPLICAS)) && break
  state="$ready of $REPLICAS pods Ready, $total exist${says:+ ($says)}"
  if ((SECONDS >= deadline)); then
    fail "timed out after ${TIMEOUT_SECONDS}s: $state; check them with kubectl describe pod, or raise restore.scaleUpTimeoutSeconds"
  fi
  [[ "$state" == "$last" ]] || log "waiting: $state"
  last="$state"
  sleep 2
done

ready_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "$ready of $REPLICAS pods Ready at $ready_at"
printf '{"namespace":"%s","statefulSet":"%s","replicas":%d,"ready":%d,"previous":%d,"readyAt":"%s"}\n' \
  "$NAMESPACE" "$STATEFULSET" "$REPLICAS" "$ready" "$previous" "$ready_at"
