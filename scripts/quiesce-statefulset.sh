#!/usr/bin/env bash
# Scales one StatefulSet to zero and waits until its pods are gone, recording the original
# replica count first: on the object (annotation) and as the JSON last line of stdout.
#
# Env: NAMESPACE, STATEFULSET, TIMEOUT_SECONDS (default 600), KUBE_CONTEXT (optional).
# Stdout, last line: {"namespace","statefulSet","originalReplicas","quiescedAt"}.
# The annotation makes a re-run (state lost, script edited) keep the first count instead of
# recording the 0 this script itself set.
set -euo pipefail

readonly ANNOTATION="relocation.fragalysis/original-replicas"
: "${NAMESPACE:?NAMESPACE is required}" "${STATEFULSET:?STATEFULSET is required}"
TIMEOUT_SECONDS="${TIMEOUT_SECONDS:-600}"
kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")
target="$NAMESPACE/$STATEFULSET"

log() { printf '[quiesce %s] %s\n' "$target" "$*" >&2; }
fail() { printf 'quiesce %s: %s\n' "$target" "$*" >&2; exit 1; }

fields='{.spec.replicas} {.metadata.annotations.relocation\.fragalysis/original-replicas}'
if ! out=$("${kc[@]}" get statefulset "$STATEFULSET" -o "jsonpath=$fields" 2>&1); then
  fail "StatefulSet not found or unreadable (${out//$'\n'/ }); check the quiesce setting's namespace and statefulSet"
fi
read -r current recorded <<<"$out"
[[ "$current" =~ ^[0-9]+$ ]] || fail "StatefulSet has no spec.replicas ($out)"

if [[ "${recorded:-}" =~ ^[0-9]+$ ]]; then
  original="$recorded"
  log "original count $original already recorded on the object (now $current); keeping it"
else
  original="$current"
  "${kc[@]}" annotate statefulset "$STATEFULSET" "$ANNOTATION=$original" >/dev/null
  log "recorded original count $original"
fi

if [[ "$current" != 0 ]]; then
  "${kc[@]}" scale statefulset "$STATEFULSET" --replicas=0 >/dev/null
  log "scaled to 0"
fi

# shellcheck disable=SC2016 # a Go template, not shell expansion
selector=$("${kc[@]}" get statefulset "$STATEFULSET" \
  -o 'go-template={{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}')
selector="${selector%,}"
[[ -n "$selector" ]] || fail "StatefulSet has no spec.selector.matchLabels; cannot find its pods"

deadline=$((SECONDS + TIMEOUT_SECONDS))
while :; do
  pods=$("${kc[@]}" get pods --selector "$selector" \
    -o 'go-template={{range .items}}{{.metadata.name}} {{end}}')
  [[ -z "${pods// /}" ]] && break
  if ((SECONDS >= deadline)); then
    fail "timed out after ${TIMEOUT_SECONDS}s waiting for pods to stop: ${pods% }; check them with kubectl describe pod, or raise quiesceTimeoutSeconds"
  fi
  log "waiting for pods to stop: ${pods% }"
  sleep 2
done

quiesced_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "quiesced at $quiesced_at"
printf '{"namespace":"%s","statefulSet":"%s","originalReplicas":%d,"quiescedAt":"%s"}\n' \
  "$NAMESPACE" "$STATEFULSET" "$original" "$quiesced_at"
