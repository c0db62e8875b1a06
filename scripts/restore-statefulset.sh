#!/usr/bin/env bash
# Undoes quiesce-statefulset.sh: scales the StatefulSet back to the count it had before.
#
# Env: NAMESPACE, STATEFULSET, KUBE_CONTEXT (optional), and the count from one of (first wins):
#   ORIGINAL_REPLICAS; PULUMI_COMMAND_STDOUT (what quiesce printed, set by @pulumi/command on
#   delete); the annotation quiesce left on the object.
# A StatefulSet that no longer exists is reported and skipped, so destroy is never stuck.
set -euo pipefail

readonly ANNOTATION="relocation.fragalysis/original-replicas"
: "${NAMESPACE:?NAMESPACE is required}" "${STATEFULSET:?STATEFULSET is required}"
kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")
target="$NAMESPACE/$STATEFULSET"

log() { printf '[restore %s] %s\n' "$target" "$*" >&2; }
fail() { printf 'restore %s: %s\n' "$target" "$*" >&2; exit 1; }

original="${ORIGINAL_REPLICAS:-}"
if [[ -z "$original" && "${PULUMI_COMMAND_STDOUT:-}" =~ \"originalReplicas\":([0-9]+) ]]; then
  original="${BASH_REMATCH[1]}"
fi

if ! recorded=$("${kc[@]}" get statefulset "$STATEFULSET" \
  -o 'jsonpath={.metadata.annotations.relocation\.fragalysis/original-replicas}' 2>/dev/null); then
  log "StatefulSet no longer exists; nothing to restore"
  exit 0
fi
[[ -n "$original" ]] || original="$recorded"
[[ "$original" =~ ^[0-9]+$ ]] ||
  fail "no original replica count recorded; scale it by hand (kubectl scale statefulset --replicas=N)"

"${kc[@]}" scale statefulset "$STATEFULSET" --replicas="$original" >/dev/null
"${kc[@]}" annotate statefulset "$STATEFULSET" "$ANNOTATION-" >/dev/null
log "restored to $original replicas"
printf '{"namespace":"%s","statefulSet":"%s","restoredReplicas":%d}\n' "$NAMESPACE" "$STATEFULSET" "$original"
