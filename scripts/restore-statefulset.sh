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

err_file=$(mktemp) || fail "cannot create a temporary file"
trap 'rm -f -- "$err_file"' EXIT

original="${ORIGINAL_REPLICAS:-}"
if [[ -z "$original" && "${PULUMI_COMMAND_STDOUT:-}" =~ \"originalReplicas\":([0-9]+) ]]; then
  original="${BASH_REMATCH[1]}"
fi

# Only "this StatefulSet is gone" (NotFound from the API server) is a success without scaling;
# an unreachable cluster, expired credentials, a forbidden read... fail, so destroy never
# reports success while the StatefulSet stays at 0.
if ! recorded=$("${kc[@]}" get statefulset "$STATEFULSET" \
  -o 'jsonpath={.metadata.annotations.relocation\.fragalysis/original-replicas}' 2>"$err_file"); then
  why=$(grep -av '^[[:space:]]*$' "$err_file" | tail -n 1 | cut -c1-1000 || true)
  if [[ "$why" == "Error from server (NotFound): "* ]]; then
    log "StatefulSet no longer exists; nothing to restore"
    exit 0
  fi
  fail "cannot read the StatefulSet (${why:-kubectl failed without a message}); fix access to the cluster and run destroy again"
fi
[[ -n "$original" ]] || original="$recorded"
if ! [[ "$original" =~ ^(0|[1-9][0-9]{0,5})$ ]]; then
  got=""
  [[ -z "$original" ]] || got=" (got '${original:0:40}', not a decimal count)"
  fail "no original replica count recorded; scale it by hand (kubectl scale statefulset --replicas=N)$got"
fi

"${kc[@]}" scale statefulset "$STATEFULSET" --replicas="$original" >/dev/null 2>"$err_file" ||
  fail "scaling to $original failed ($(tail -n 1 "$err_file" | cut -c1-1000)); run destroy again"
now=$("${kc[@]}" get statefulset "$STATEFULSET" -o 'jsonpath={.spec.replicas}' 2>"$err_file") ||
  fail "cannot read the StatefulSet back after scaling ($(tail -n 1 "$err_file" | cut -c1-1000)); run destroy again"
read -r now _ <<<"$now"
[[ "$now" == "$original" ]] || fail "asked for $original replicas but the StatefulSet has $now; run destroy again"
"${kc[@]}" annotate statefulset "$STATEFULSET" "$ANNOTATION-" >/dev/null
log "restored to $original replicas"
printf '{"namespace":"%s","statefulSet":"%s","restoredReplicas":%d}\n' "$NAMESPACE" "$STATEFULSET" "$original"
