#!/usr/bin/env bash
# Runs one copy script on the NFS server. Sent as the remote Command's text itself
# (bash -c "<this file>" remote-run DIR SCRIPT), so nothing on the server has to survive between
# runs: the scripts come on stdin with their SHA-256 and are (re)written into DIR when missing or
# different (a reboot, a tmp cleaner, a hand edit), then run from there.
#
# Stdin: first the settings, one NAME=value per line, so credentials never appear on a command
# line (ps), in SSH's environment (Debian's sshd accepts only LANG and LC_* through Setenv) or in
# a file; then each script as a line "#file NAME BYTES SHA256" followed by exactly BYTES bytes.
# DIR is created 0700 and must belong to the SSH user, as must its parent, so nobody else can
# swap the scripts that receive the credentials.
# DIR "-" (the plan in preview, scripts/plan-nfs.sh): a new private temporary directory, removed
# when the script ends, so a read-only run leaves no file on the server.
# TIMEOUT_SECONDS (a setting, default 14400) bounds the script; after it the script is stopped.
# Exit: the script's status; 124 with one "remote-run: ERROR:" line when it timed out; 2 on bad
# input (the value of a setting is never echoed).
set -euo pipefail
# Byte counts, not characters, while reading stdin; the caller's locale goes back for the script.
caller_lc_all="${LC_ALL-}"
LC_ALL=C

fail() {
  printf 'remote-run: ERROR: %s\n' "$*" >&2
  exit 2
}
log() { printf '[remote-run] %s\n' "$*" >&2; }

dir="${1:-}"
script="${2:-}"
temporary=false
if [[ "$dir" == - ]]; then
  dir=$(mktemp -d) || fail "cannot create a temporary directory (mktemp -d)"
  temporary=true
  trap 'rm -rf -- "$dir"' EXIT
fi
[[ "$dir" == /* ]] || fail "script directory '$dir' must be an absolute path"
case "$script" in
copy-latest.sh | sync-dir.sh) ;;
*) fail "unknown script '$script'; expected copy-latest.sh or sync-dir.sh" ;;
esac

umask 077
mkdir -p -- "$dir" || fail "cannot create the script directory $dir (set nfs.scriptDir to a directory $(id -un) owns)"
chmod 700 -- "$dir"
# (mktemp's own directory is private to us; its parent, /tmp, is not ours.)
if ! test -O "$dir" || { [[ "$temporary" == false ]] && ! test -O "$(dirname -- "$dir")"; }; then
  fail "script directory $dir (or its parent) is not owned by $(id -un); set nfs.scriptDir to a directory it owns"
fi

# install NAME BYTES SHA256: reads the file's bytes from stdin; writes it only if it differs.
install_file() {
  local name=$1 bytes=$2 sum=$3 body have
  [[ "$name" =~ ^[a-z0-9-]+\.(sh|awk)$ && "$bytes" =~ ^[0-9]+$ && "$sum" =~ ^[0-9a-f]{64}$ ]] ||
    fail "malformed #file line for '$name'"
  IFS= read -r -d '' -N "$bytes" body || [[ ${#body} -eq "$bytes" ]] ||
    fail "$name: stdin ended after ${#body} of $bytes bytes"
  have=$(sha256sum -- "$dir/$name" 2>/dev/null | cut -d' ' -f1) || have=""
  if [[ "$have" == "$sum" ]]; then return 0; fi
  [[ "$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)" == "$sum" ]] ||
    fail "$name: content does not match its SHA-256 (stdin damaged?)"
  printf '%s' "$body" >"$dir/.$name.tmp"
  mv -f -- "$dir/.$name.tmp" "$dir/$name"
  if [[ -z "$have" ]]; then log "$name was not on the server; copied to $dir"; else log "$name differed on the server; copied again"; fi
}

while IFS= read -r line || [[ -n "$line" ]]; do
  [[ -n "$line" ]] || continue
  if [[ "$line" == "#file "* ]]; then
    read -r _ f_name f_bytes f_sum <<<"$line"
    install_file "$f_name" "$f_bytes" "$f_sum"
    continue
  fi
  name="${line%%=*}"
  [[ "$line" == *=* ]] || fail "stdin line without '=' (expected NAME=value)"
  case "$name" in
  SOURCE_DIR | DEST_URI | PATTERN | SELECT | MIN_AGE_SECONDS | NOT_BEFORE | TIMEOUT_SECONDS | \
    CONCURRENCY | PROGRESS_SECONDS | SINGLE_PUT_MAX_BYTES | MULTIPART_THRESHOLD_BYTES | \
    MULTIPART_CHUNKSIZE_BYTES | SSE | ALLOW_EMPTY_TREE | OUTAGE_SECONDS | REQUEST_TIMEOUT_SECONDS | \
    HASH_CONCURRENCY | KEY_WAIT_SECONDS | SYNC_TOOL | PLAN_ONLY | AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY | AWS_SESSION_TOKEN | \
    AWS_DEFAULT_REGION | AWS_REGION | AWS_ENDPOINT_URL)
    export "$name=${line#*=}"
    ;;
  *) fail "unknown setting '$name' on stdin" ;;
  esac
done

if [[ -n "$caller_lc_all" ]]; then LC_ALL="$caller_lc_all"; else unset LC_ALL; fi
[[ -f "$dir/$script" ]] || fail "$script was neither on the server nor on stdin"
timeout_seconds="${TIMEOUT_SECONDS:-14400}"
[[ "$timeout_seconds" =~ ^[1-9][0-9]{0,8}$ ]] || fail "TIMEOUT_SECONDS must be whole decimal seconds >= 1 without leading zeros"
unset TIMEOUT_SECONDS
status=0
timeout --kill-after=60 "$timeout_seconds" bash "$dir/$script" </dev/null || status=$?
if ((status == 124)); then
  printf 'remote-run: ERROR: %s\n' "$script did not finish within ${timeout_seconds}s and was stopped; re-run to resume, or raise copyTimeoutSeconds" >&2
fi
exit "$status"
