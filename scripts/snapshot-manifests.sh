#!/usr/bin/env bash
# Snapshots one namespace's manifests (the kinds in KINDS below, Secrets included) as one YAML
# List into S3, encrypted server-side (SSE-S3, AES256), as `<PREFIX><NAMESPACE>/manifests.yaml`
# (components/layout.ts manifestKey), so the new cluster can be rebuilt from S3 alone.
#
# Env: NAMESPACE, BUCKET, PREFIX (ends in "/"), KUBE_CONTEXT (optional); AWS_* credentials,
#      AWS_DEFAULT_REGION, AWS_ENDPOINT_URL (optional).
# Stdout: only the last line, {"namespace","keys":[written],"kept":[earlier snapshot kept]}.
# Stderr: log lines; never manifest content (it holds Secrets).
#
# Like dump-env.sh, the YAML is held in memory and uploaded only after kubectl succeeded, so a
# failed `get` never replaces a good snapshot with a short one. An empty list (the namespace is
# gone; every live namespace has at least its default ServiceAccount) keeps an earlier snapshot,
# or fails without one. A snapshot taken after quiesce shows replicas: 0; the quiesce step's
# annotation relocation.fragalysis/original-replicas on each StatefulSet keeps the real count.
# (bash >= 4.2: the amazon/aws-cli image's.)
set -euo pipefail

# Resource.group for each kind, so kubectl resolves exactly the groups the Job's Role grants
# `list` on. components/env-dump.ts MANIFEST_RESOURCES is the same table (a test compares them).
readonly KINDS="statefulsets.apps,deployments.apps,services,configmaps,secrets,persistentvolumeclaims,ingresses.networking.k8s.io,serviceaccounts,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,cronjobs.batch"

: "${NAMESPACE:?NAMESPACE is required}" "${BUCKET:?BUCKET is required}" "${PREFIX:?PREFIX is required}"
key="${PREFIX}${NAMESPACE}/manifests.yaml"
kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi
kc+=(--namespace "$NAMESPACE")
s3=(aws)
if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then s3+=(--endpoint-url "$AWS_ENDPOINT_URL"); fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
errors="$work/stderr" # kubectl's and aws's own messages only

log() { printf '[manifests %s] %s\n' "$NAMESPACE" "$*" >&2; }
fail() {
  printf 'manifests %s: %s\n' "$NAMESPACE" "$*" >&2
  exit 1
}
first_error() { head -n 1 "$errors" 2>/dev/null | tr -d '\r' || true; }
result() { printf '{"namespace":"%s","keys":[%s],"kept":[%s]}\n' "$NAMESPACE" "$1" "$2"; }

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
if ! yaml=$("${kc[@]}" get "$KINDS" -o yaml 2>"$errors"); then
  fail "kubectl get failed, nothing uploaded: $(first_error)"
fi
if [[ -z "$yaml" || "$yaml" =~ (^|$'\n')items:\ \[\]($'\n'|$) ]]; then
  if "${s3[@]}" s3api head-object --bucket "$BUCKET" --key "$key" >/dev/null 2>"$errors"; then
    log "no resources found (namespace gone?); the earlier snapshot s3://$BUCKET/$key stands"
    result "" "\"$key\""
    exit 0
  fi
  # 403: a missing key when s3:ListBucket is granted only per prefix (see dump-env.sh).
  grep -q -e '(404)' -e 'Not Found' -e '(403)' "$errors" ||
    fail "no resources found, and checking s3://$BUCKET/$key failed: $(first_error)"
  fail "no resources found and no earlier snapshot readable at s3://$BUCKET/$key; does the namespace exist?"
fi

bytes=$(
  LC_ALL=C
  printf '%d' "$((${#yaml} + 1))" # bytes, plus the newline $(...) stripped
)
printf '%s\n' "$yaml" |
  "${s3[@]}" s3 cp - "s3://$BUCKET/$key" --sse AES256 --content-type application/yaml \
    --only-show-errors >&2 2>"$errors" ||
  fail "upload to s3://$BUCKET/$key failed: $(first_error)"
head=$("${s3[@]}" s3api head-object --bucket "$BUCKET" --key "$key" \
  --query '[ContentLength,ServerSideEncryption]' --output text 2>"$errors") ||
  fail "uploaded but cannot read s3://$BUCKET/$key back: $(first_error)"
read -r size sse <<<"$head"
if [[ "$size" != "$bytes" || "$sse" != AES256 ]]; then
  fail "s3://$BUCKET/$key reads back as $size bytes, encryption $sse; expected $bytes bytes, AES256"
fi
log "$bytes bytes to s3://$BUCKET/$key (SSE AES256)"
result "\"$key\"" ""
