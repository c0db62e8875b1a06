#!/usr/bin/env bash
# Runs one copy script on the NFS server with its settings read from stdin, one NAME=value per
# line, so credentials never appear on a command line (ps), in SSH's environment (Debian's sshd
# accepts only LANG and LC_* through Setenv) or in a file.
#
# Usage: bash remote-run.sh copy-latest.sh|sync-dir.sh <settings
# TIMEOUT_SECONDS (a setting, default 14400) bounds the script; after it the script is stopped.
# Exit: the script's status; 124 with one "remote-run: ERROR:" line when it timed out.
set -euo pipefail

fail() {
  printf 'remote-run: ERROR: %s\n' "$*" >&2
  exit 2
}

dir=$(dirname -- "${BASH_SOURCE[0]}")
script="${1:-}"
case "$script" in
copy-latest.sh | sync-dir.sh) ;;
*) fail "unknown script '$script'; expected copy-latest.sh or sync-dir.sh" ;;
esac

while IFS= read -r line || [[ -n "$line" ]]; do
  [[ -n "$line" ]] || continue
  name="${line%%=*}"
  [[ "$line" == *=* ]] || fail "stdin line without '=' (expected NAME=value)"
  case "$name" in
  SOURCE_DIR | DEST_URI | PATTERN | SELECT | MIN_AGE_SECONDS | NOT_BEFORE | TIMEOUT_SECONDS | \
    CONCURRENCY | PROGRESS_SECONDS | SINGLE_PUT_MAX_BYTES | MULTIPART_THRESHOLD_BYTES | \
    MULTIPART_CHUNKSIZE_BYTES | SSE | ALLOW_EMPTY_TREE | OUTAGE_SECONDS | REQUEST_TIMEOUT_SECONDS | \
    HASH_CONCURRENCY | KEY_WAIT_SECONDS | SYNC_TOOL | AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY | AWS_SESSION_TOKEN | \
    AWS_DEFAULT_REGION | AWS_REGION | AWS_ENDPOINT_URL)
    export "$name=${line#*=}"
    ;;
  *) fail "unknown setting '$name' on stdin" ;; # the value is never echoed
  esac
done

timeout_seconds="${TIMEOUT_SECONDS:-14400}"
[[ "$timeout_seconds" =~ ^[1-9][0-9]{0,8}$ ]] || fail "TIMEOUT_SECONDS must be whole decimal seconds >= 1 without leading zeros"
unset TIMEOUT_SECONDS
status=0
timeout --kill-after=60 "$timeout_seconds" bash "$dir/$script" </dev/null || status=$?
if ((status == 124)); then
  fail "$script did not finish within ${timeout_seconds}s and was stopped; re-run to resume, or raise copyTimeoutSeconds"
fi
exit "$status"
