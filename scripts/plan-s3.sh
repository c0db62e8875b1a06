#!/usr/bin/env bash
# The S3 part of the operator's plan (run by `pulumi preview`): is the bucket reachable with the
# credentials in the environment, and may they list each prefix. Read-only: one
# `s3api list-objects-v2 --max-keys 0` per prefix (returns no keys, writes nothing).
#
# Write permission is not tried (a write would change S3). WRITE_PROOF says how it is known:
#   policy  managed mode: the IAM user `up` creates gets exactly the copyPolicy document, whose
#           grants test/scripts/iam-policy-proof.test.ts proves against an IAM-enforcing S3
#   none    bring-your-own: not proven here; the first copy's create-only write proves it
# Env: BUCKET, PREFIXES (space-separated; config allows no spaces in a prefix), WRITE_PROOF,
#   AWS_* as the aws CLI reads them (AWS_ENDPOINT_URL for an S3-compatible store).
# Stderr: one line per prefix. Stdout, one line: {"bucket","prefixes":[{prefix,listable,write}]}.
# Exit 1 if any read failed, the last stderr line "plan-s3.sh: ERROR: ..." naming each.
set -euo pipefail

readonly ME=plan-s3.sh
log() {
  local s="${*//$'\n'/ }"
  printf '%s: %s\n' "$ME" "${s:0:2000}" >&2
}
if [[ -z "${BUCKET:-}" ]]; then
  log "ERROR: BUCKET is empty; the program passes bucket.name here"
  exit 1
fi
case "${WRITE_PROOF:-}" in
  policy | none) ;;
  *)
    log "ERROR: WRITE_PROOF must be policy or none (got \"${WRITE_PROOF:-}\")"
    exit 1
    ;;
esac

failures=()
entries=()
for prefix in ${PREFIXES:-}; do
  if ! out=$(aws s3api list-objects-v2 --bucket "$BUCKET" --prefix "$prefix" --max-keys 0 \
    --output json 2>&1); then
    log "s3://$BUCKET/$prefix: cannot list it ($out); check bucket.name, aws.region and the credentials"
    failures+=("list s3://$BUCKET/$prefix")
    continue
  fi
  if [[ "$WRITE_PROOF" == policy ]]; then
    write="granted by copyPolicy to the user up creates"
  else
    write="not proven without writing (bring-your-own key); the first copy proves it"
  fi
  log "ok: s3://$BUCKET/$prefix reachable and listable; write: $write"
  entries+=("$(printf '{"prefix":"%s","listable":true,"write":"%s"}' "$prefix" "$WRITE_PROOF")")
done

if ((${#failures[@]} > 0)); then
  log "ERROR: ${#failures[@]} S3 check(s) failed: $(
    IFS=';'
    echo "${failures[*]}"
  )"
  exit 1
fi
printf '{"bucket":"%s","prefixes":[%s]}\n' "$BUCKET" "$(
  IFS=,
  echo "${entries[*]}"
)"
