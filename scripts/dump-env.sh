#!/usr/bin/env bash
# Records `kubectl exec <pod> -- env` for running pods of one namespace into S3, encrypted
# server-side (SSE-S3, AES256), as `<PREFIX><NAMESPACE>/<pod>.env` (components/layout.ts envDumpKey).
#
# Env: NAMESPACE; PODS (space-separated pod names) or POD; BUCKET; PREFIX (ends in "/");
#      KUBE_CONTEXT (optional); AWS_* credentials, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL (optional).
# Stdout: only the last line, {"namespace","keys":[written],"kept":[earlier captures kept]}.
# Stderr: one log line per pod; never an env value.
#
# Why the env text is held in memory and not piped: with `kubectl exec | aws s3 cp -`, a failed
# exec still hands aws a short or empty stream, which it uploads as "the capture" (pipefail only
# reports the failure afterwards). A temp key renamed on success would leave debris the IAM
# policy cannot delete (no s3:DeleteObject). So the output goes into a shell variable (an env
# listing is a few KiB; nothing touches the disk), the exec's exit status and a non-empty result
# are checked, and only then is it uploaded; the object's size and encryption are read back.
#
# A pod that is gone or not Running (a second `up` after quiesce) is not an error when an
# earlier capture exists: that capture stands and is reported under "kept". Without one, or when
# the exec fails on a running pod, or kubectl cannot read the pod, the pod fails with one line
# naming it. Every pod is attempted; the exit status is 1 if any failed.
# (bash >= 4.2, as in the amazon/aws-cli image: hence ${a[@]+"${a[@]}"} for empty arrays.)
set -euo pipefail

: "${NAMESPACE:?NAMESPACE is required}" "${BUCKET:?BUCKET is required}" "${PREFIX:?PREFIX is required}"
PODS="${PODS:-${POD:-}}"
[[ -n "${PODS// /}" ]] || {
  echo "env-dump $NAMESPACE: PODS (or POD) is required" >&2
  exit 2
}

# kubectl >= 1.30 execs over WebSockets (an HTTP GET, authorized as `get` on pods/exec by API
# servers without AuthorizePodWebsocketUpgradeCreatePermission). SPDY is a POST, authorized as
# `create`: exactly what the Job's Role grants.
export KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false

kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")
s3=(aws)
if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then s3+=(--endpoint-url "$AWS_ENDPOINT_URL"); fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
errors="$work/stderr" # kubectl's and aws's own messages only; the env text stays in memory

log() { printf '[env-dump %s] %s\n' "$NAMESPACE" "$*" >&2; }
# The first line of a tool's error output, on one line.
first_error() { head -n 1 "$errors" 2>/dev/null | tr -d '\r' || true; }

# Exit 0 if the key exists, 1 if it does not, 2 (message in $errors) if S3 could not say.
# Without s3:ListBucket on the key itself (the IAM policy grants it only with an s3:prefix
# condition, which a HEAD does not carry) S3 answers 403, not 404, for a missing key.
object_exists() {
  if "${s3[@]}" s3api head-object --bucket "$BUCKET" --key "$1" >/dev/null 2>"$errors"; then
    return 0
  fi
  if grep -q -e '(404)' -e 'Not Found' -e '(403)' "$errors"; then return 1; fi
  return 2
}

# Bytes, not characters, of the text plus the newline $(...) stripped: what S3 will hold.
byte_count() {
  local LC_ALL=C
  printf '%d' "$((${#1} + 1))"
}

written=()
kept=()
failed=()

fail_pod() {
  printf 'env-dump %s/%s: %s\n' "$NAMESPACE" "$1" "$2" >&2
  failed+=("$1")
}

# A pod that cannot be exec'd into right now: keep the earlier capture if there is one.
pod_down() {
  local pod="$1" why="$2" key="$3" rc=0
  object_exists "$key" || rc=$?
  case "$rc" in
    0)
      log "$pod: $why; the earlier capture s3://$BUCKET/$key stands"
      kept+=("$key")
      ;;
    1) fail_pod "$pod" "$why and no earlier capture readable at s3://$BUCKET/$key; start the pod (or fix pods in envDump config) and run again" ;;
    *) fail_pod "$pod" "$why, and checking s3://$BUCKET/$key failed: $(first_error)" ;;
  esac
}

capture() {
  local pod="$1" key="$2" phase text bytes head size sse
  if ! phase=$("${kc[@]}" get pod "$pod" -o 'jsonpath={.status.phase}' 2>"$errors"); then
    if grep -q -e 'NotFound' -e 'not found' "$errors"; then
      pod_down "$pod" "pod not found" "$key"
    else
      fail_pod "$pod" "cannot read the pod: $(first_error)"
    fi
    return 0
  fi
  if [[ "$phase" != Running ]]; then
    pod_down "$pod" "pod is ${phase:-in an unknown phase}, not Running" "$key"
    return 0
  fi

  if ! text=$("${kc[@]}" exec "$pod" -- env 2>"$errors"); then
    fail_pod "$pod" "kubectl exec failed, nothing uploaded: $(first_error)"
    return 0
  fi
  if [[ -z "$text" ]]; then
    fail_pod "$pod" "kubectl exec printed nothing, nothing uploaded"
    return 0
  fi
  bytes=$(byte_count "$text")

  if ! printf '%s\n' "$text" |
    "${s3[@]}" s3 cp - "s3://$BUCKET/$key" --sse AES256 --content-type text/plain \
      --only-show-errors >&2 2>"$errors"; then
    fail_pod "$pod" "upload to s3://$BUCKET/$key failed: $(first_error)"
    return 0
  fi
  if ! head=$("${s3[@]}" s3api head-object --bucket "$BUCKET" --key "$key" \
    --query '[ContentLength,ServerSideEncryption]' --output text 2>"$errors"); then
    fail_pod "$pod" "uploaded but cannot read s3://$BUCKET/$key back: $(first_error)"
    return 0
  fi
  read -r size sse <<<"$head"
  if [[ "$size" != "$bytes" || "$sse" != AES256 ]]; then
    fail_pod "$pod" "s3://$BUCKET/$key reads back as $size bytes, encryption $sse; expected $bytes bytes, AES256"
    return 0
  fi
  log "$pod: $bytes bytes to s3://$BUCKET/$key (SSE AES256)"
  written+=("$key")
}

# A key IAM created seconds ago is not valid everywhere yet (eventual consistency): wait up to
# KEY_WAIT_SECONDS (default 60) while S3 answers InvalidAccessKeyId; other answers go on, and the
# real calls report them.
wait_for_key() {
  local waited=0
  while ! "${s3[@]}" s3api list-objects-v2 --bucket "$BUCKET" --prefix "$PREFIX" --max-keys 1 \
    >/dev/null 2>"$errors"; do
    grep -q InvalidAccessKeyId "$errors" && ((waited < ${KEY_WAIT_SECONDS:-60})) || return 0
    log "S3 does not accept the access key (yet); a new IAM key takes a few seconds, retrying in 5 s"
    sleep 5
    waited=$((waited + 5))
  done
}

wait_for_key
read -r -a pods <<<"$PODS"
for pod in "${pods[@]}"; do
  capture "$pod" "${PREFIX}${NAMESPACE}/${pod}.env"
done

if ((${#failed[@]} > 0)); then
  printf 'env-dump %s: %d of %d pod(s) failed: %s\n' \
    "$NAMESPACE" "${#failed[@]}" "${#pods[@]}" "${failed[*]}" >&2
  exit 1
fi

json_list() {
  local out="" item
  for item in "$@"; do out+="${out:+,}\"$item\""; done
  printf '[%s]' "$out"
}
log "${#written[@]} written, ${#kept[@]} kept"
printf '{"namespace":"%s","keys":%s,"kept":%s}\n' \
  "$NAMESPACE" "$(json_list ${written[@]+"${written[@]}"})" "$(json_list ${kept[@]+"${kept[@]}"})"
