#!/usr/bin/env bash
# Scales one StatefulSet to zero and waits until its pods are gone, recording the original
# replica count first: on the object (annotation) and as the JSON last line of stdout.
#
# Env: NAMESPACE, STATEFULSET, TIMEOUT_SECONDS (default 600), KUBE_CONTEXT (optional).
# Stdout, last line: {"namespace","statefulSet","originalReplicas","quiescedAt"}.
# The annotation makes a re-run (state lost, script edited) keep the first count instead of
# recording the 0 this script itself set.
# Never strands production: a failed create leaves nothing in Pulumi state, so destroy would
# never restore. Any failure (or SIGTERM/SIGINT) after the scale-down therefore scales back to
# the original count before exiting non-zero, and says so on stderr.
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

# Set once the scale-down may have happened; undo_on_failure then puts the original count back.
scaled_down=0
undo_on_failure() {
  local status=$?
  trap - EXIT INT TERM
  if ((status != 0 && scaled_down)); then
    if "${kc[@]}" scale statefulset "$STATEFULSET" --replicas="$original" >/dev/null &&
      "${kc[@]}" annotate statefulset "$STATEFULSET" "$ANNOTATION-" >/dev/null; then
      printf 'quiesce %s: failed, so scaled back to the original %s replicas; nothing is left quiesced\n' \
        "$target" "$original" >&2
    else
      printf 'quiesce %s: failed AND could not scale back; restore by hand: kubectl --namespace %s scale statefulset %s --replicas=%s\n' \
        "$target" "$NAMESPACE" "$STATEFULSET" "$original" >&2
    fi
  fi
  exit "$status"
}
trap undo_on_failure EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

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
  scaled_down=1
  "${kc[@]}" scale statefulset "$STATEFULSET" --replicas=0 >/dev/null
  log "scaled to 0"
fi

# shellcheck disable=SC2016 # a Go template, not shell expansion
selector=$("${kc[@]}" get statefulset "$STATEFULSET" \
  -o 'go-template={{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}')
selector="${selector%,}"
[[ -n "$selector" ]] || fail "StatefulSet has no spec.selector.matchLabels; cannot find its pods"

# first_pods "a b c ...": at most 10 names and "(+N more)", so no log line grows without bound
# (the command provider hangs on a line over 64 KiB).
first_pods() {
  local -a names
  read -r -a names <<<"$1"
  if ((${#names[@]} > 10)); then
    printf '%s (+%d more)' "${names[*]:0:10}" "$((${#names[@]} - 10))"
  else
    printf '%s' "${names[*]}"
  fi
}

deadline=$((SECONDS + TIMEOUT_SECONDS))
while :; do
  pods=$("${kc[@]}" get pods --selector "$selector" \
    -o 'go-template={{range .items}}{{.metadata.name}} {{end}}')
  [[ -z "${pods// /}" ]] && break
  if ((SECONDS >= deadline)); then
    fail "timed out after ${TIMEOUT_SECONDS}s waiting for pods to stop: $(first_pods "$pods"); check them with kubectl describe pod, or raise quiesceTimeoutSeconds"
  fi
  log "waiting for pods to stop: $(first_pods "$pods")"
  sleep 2
done

quiesced_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "quiesced at $quiesced_at"
printf '{"namespace":"%s","statefulSet":"%s","originalReplicas":%d,"quiescedAt":"%s"}\n' \
  "$NAMESPACE" "$STATEFULSET" "$original" "$quiesced_at"
