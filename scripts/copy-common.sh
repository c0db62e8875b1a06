# shellcheck shell=bash
# Shared by copy-latest.sh and sync-dir.sh (sourced, not run): logging, the aws CLI wrapper
# with a private config file, S3 error classification and JSON output.
#
# Sourced as `. copy-common.sh <name>`: the name prefixes every message.
# Tuning (env, all optional):
#   CONCURRENCY                 parallel S3 requests of one transfer (default 10; sync-dir.sh 32)
#   MULTIPART_THRESHOLD_BYTES   files at least this big go multipart (default 64 MiB)
#   MULTIPART_CHUNKSIZE_BYTES   part size of multipart uploads (default 16 MiB)
#   RESULT_FILE                 also write the result JSON line here (a Job's termination log)
#   SSE                         server-side encryption of uploads: AES256 (default) or none
#   REQUEST_TIMEOUT_SECONDS     connect and read timeout of every S3 request (default 60)
#   KEY_WAIT_SECONDS            how long a just-created access key may be refused (default 60)
# Bytes are bytes: the sourcing script runs with LC_ALL=C, so no locale changes how a file name
# is read, compared or measured. Every stderr/stdout line is cut to MAX_LINE_BYTES (64 KiB).

ME="$1"
export LC_ALL=C
readonly MAX_LINE_BYTES=65000

# One line: control characters (newline, tab, CR...) in names shown as \n, \t, \r, \xHH.
one_line() {
  local s="$1"
  if [[ "$s" == *[[:cntrl:]]* ]]; then
    s="${s//$'\n'/\\n}" s="${s//$'\t'/\\t}" s="${s//$'\r'/\\r}"
    local out="" c i
    for ((i = 0; i < ${#s}; i++)); do
      c="${s:i:1}"
      [[ "$c" != [[:cntrl:]] ]] || printf -v c '\\x%02x' "'$c"
      out+="$c"
    done
    s="$out"
  fi
  if ((${#s} > MAX_LINE_BYTES)); then s="${s:0:MAX_LINE_BYTES} ...(cut: $((${#s} - MAX_LINE_BYTES)) more bytes)"; fi
  printf '%s' "$s"
}
log() { printf '%s: %s\n' "$ME" "$(one_line "$*")" >&2; }
# Every failure ends with exactly one line starting "<script>: ERROR:".
fail() {
  printf '%s: ERROR: %s\n' "$ME" "$(one_line "$*")" >&2
  exit 1
}

require_tools() {
  local tool missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  ((${#missing[@]} == 0)) || fail "missing tools: ${missing[*]}; install them or use an image that has them"
}

# Decimal only (bash would read 010 as octal 8 and 08 as an error), at most 18 digits (no
# overflow), and at least $3 (default 0).
require_uint() { # name value [min]
  [[ "$2" =~ ^(0|[1-9][0-9]{0,17})$ ]] ||
    fail "$1 must be a whole decimal number without leading zeros, got '$2'"
  (($2 >= ${3:-0})) || fail "$1 must be at least ${3:-0}, got $2"
}

# A UTC ISO-8601 time to the second that is a real calendar time (no 2023-02-30, no 25:00).
require_time() { # name value
  if ! [[ "$2" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || ! is_real_time "$2"; then
    fail "$1 must be a real UTC time like 2023-10-16T12:00:00Z, got '$2'"
  fi
}
is_real_time() { # ISO -> status: it names a time that exists (date round-trips it)
  [[ "$(date -u -d "${1/T/ }" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)" == "$1" ]]
}

# DEST_URI "s3://bucket/prefix/" -> DEST_BUCKET, DEST_PREFIX ("" or ending in "/").
parse_dest_uri() {
  local re='^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)$'
  [[ "$1" =~ $re ]] || fail "DEST_URI must look like s3://bucket/prefix/, got '$1'"
  DEST_BUCKET="${BASH_REMATCH[1]}"
  DEST_PREFIX="${BASH_REMATCH[2]}"
  [[ -z "$DEST_PREFIX" || "$DEST_PREFIX" == */ ]] ||
    fail "DEST_URI must end in '/' (a prefix, not an object name), got '$1'"
  # Some tools normalise "a/./b", "a/../b" or "a//b" and would write elsewhere: refused.
  local segment rest="${DEST_PREFIX%/}"
  if [[ -n "$DEST_PREFIX" ]]; then
    while :; do
      segment="${rest%%/*}"
      case "$segment" in
      "") fail "DEST_URI has an empty path segment ('//' or a leading '/'): '$1'" ;;
      . | ..) fail "DEST_URI has a '$segment' path segment, which tools resolve differently: '$1'" ;;
      esac
      [[ "$rest" == */* ]] || break
      rest="${rest#*/}"
    done
  fi
}

# A private aws CLI config in a temp dir: the operator's ~/.aws/config is never touched, and our
# transfer settings (which decide multipart ETags) are the same on every host. Credentials still
# come from the standard env vars or the shared credentials file; the region from the env or,
# if unset, the operator's config (read before switching).
# The private temp dir: TMPDIR made absolute (any spelling: relative, trailing '/', quotes,
# spaces), never inside SOURCE_DIR; children (sort, rclone) get it as their TMPDIR.
make_work_dir() {
  local base="${TMPDIR:-/tmp}"
  [[ -n "$base" ]] || base=/tmp
  base=$(cd -P -- "$base" 2>/dev/null && pwd) ||
    fail "TMPDIR '${TMPDIR:-}' is not a directory we can enter; point TMPDIR at a writable one"
  case "$base/" in "${SOURCE_DIR%/}"/*) fail "TMPDIR $base is inside SOURCE_DIR; point it elsewhere" ;; esac
  WORK_DIR=$(mktemp -d -- "$base/${ME}.XXXXXX" 2>/dev/null) ||
    fail "cannot create a temporary directory in $base; point TMPDIR at a writable one"
  trap 'stop_background; rm -rf -- "$WORK_DIR"' EXIT
  export TMPDIR="$WORK_DIR"
}

# SIGTERM/SIGINT/SIGHUP: stop the children (each started by run_child in its own process group
# under `timeout`, which passes the signal on to all of it), then fail with one line.
CHILD_PID=""
BACKGROUND_PIDS=() # started by start_background, each under `timeout` too
stop_background() {
  local pid
  for pid in "${BACKGROUND_PIDS[@]+"${BACKGROUND_PIDS[@]}"}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  BACKGROUND_PIDS=()
}
on_signal() {
  trap - TERM INT HUP
  [[ -z "$CHILD_PID" ]] || kill -TERM "$CHILD_PID" 2>/dev/null || true
  [[ -z "$CHILD_PID" ]] || wait "$CHILD_PID" 2>/dev/null || true
  stop_background
  fail "stopped by SIG$1; its child processes were stopped too. Re-run to resume"
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
trap 'on_signal HUP' HUP
# Runs a command so that a signal to this script reaches it and all its children; returns its
# status. (timeout 0 = no time limit; timeout gives the command a process group of its own.)
run_child() {
  timeout -k 10 0 "$@" &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  return "$rc"
}

setup_aws() {
  make_work_dir
  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  if [[ -z "$region" ]]; then
    region=$(aws configure get region 2>/dev/null || true)
  fi
  if [[ -z "$region" ]]; then
    region=us-east-1
    log "no AWS_DEFAULT_REGION set; using $region (S3 redirects to the bucket's region)"
  fi
  CONCURRENCY="${CONCURRENCY:-10}"
  MULTIPART_THRESHOLD_BYTES="${MULTIPART_THRESHOLD_BYTES:-67108864}"
  MULTIPART_CHUNKSIZE_BYTES="${MULTIPART_CHUNKSIZE_BYTES:-16777216}"
  REQUEST_TIMEOUT_SECONDS="${REQUEST_TIMEOUT_SECONDS:-60}"
  require_uint CONCURRENCY "$CONCURRENCY" 1
  require_uint MULTIPART_THRESHOLD_BYTES "$MULTIPART_THRESHOLD_BYTES" 1
  # S3 refuses parts below 5 MiB (except the last).
  require_uint MULTIPART_CHUNKSIZE_BYTES "$MULTIPART_CHUNKSIZE_BYTES" 5242880
  require_uint REQUEST_TIMEOUT_SECONDS "$REQUEST_TIMEOUT_SECONDS" 1
  require_uint KEY_WAIT_SECONDS "${KEY_WAIT_SECONDS:-60}"
  local section="default"
  [[ -n "${AWS_PROFILE:-}" ]] && section="profile $AWS_PROFILE"
  cat >"$WORK_DIR/aws-config" <<EOF
[$section]
region = $region
retry_mode = standard
max_attempts = 3
s3 =
  max_concurrent_requests = $CONCURRENCY
  multipart_threshold = $MULTIPART_THRESHOLD_BYTES
  multipart_chunksize = $MULTIPART_CHUNKSIZE_BYTES
EOF
  export AWS_CONFIG_FILE="$WORK_DIR/aws-config" AWS_DEFAULT_REGION="$region"
  export AWS_PAGER="" AWS_CLI_AUTO_PROMPT=off PYTHONUTF8=1
  # shellcheck disable=SC2034 # used by the sourcing script
  case "${SSE:-AES256}" in
  AES256) SSE_ARGS=(--sse AES256) PUT_SSE_ARGS=(--server-side-encryption AES256) ;;
  none) SSE_ARGS=() PUT_SSE_ARGS=() ;;
  *) fail "SSE must be AES256 or none, got '$SSE'" ;;
  esac
  # aws CLI v1 reads AWS_ENDPOINT_URL only in recent releases; pass it explicitly as well.
  # Per-request timeouts: a stuck endpoint fails the request instead of hanging the run.
  ENDPOINT_ARGS=(--cli-connect-timeout "$REQUEST_TIMEOUT_SECONDS" --cli-read-timeout "$REQUEST_TIMEOUT_SECONDS")
  local endpoint="${AWS_ENDPOINT_URL_S3:-${AWS_ENDPOINT_URL:-}}"
  if [[ -n "$endpoint" ]]; then ENDPOINT_ARGS+=(--endpoint-url "$endpoint"); fi
}

# Runs the aws CLI; on failure leaves its stderr in $WORK_DIR/aws.err and returns its status.
# An access key IAM created seconds ago is not valid everywhere yet (eventual consistency), so
# InvalidAccessKeyId is retried for up to KEY_WAIT_SECONDS (default 60) before it counts.
# (Empty arrays are expanded as ${a[@]+"${a[@]}"}: bash 4.2, as in some images, treats "${a[@]}"
# of an empty array as unset under set -u.)
s3() {
  local waited=0 rc
  while :; do
    rc=0
    run_child aws ${ENDPOINT_ARGS[@]+"${ENDPOINT_ARGS[@]}"} "$@" 2>"$WORK_DIR/aws.err" || rc=$?
    if ((rc != 0 && waited < ${KEY_WAIT_SECONDS:-60})) &&
      grep -q InvalidAccessKeyId "$WORK_DIR/aws.err"; then
      log "S3 does not accept the access key (yet); a new IAM key takes a few seconds, retrying in 5 s"
      sleep 5
      waited=$((waited + 5))
      continue
    fi
    return "$rc"
  done
}

# An aws CLI request started now and read later (its start-up, ~0.5-1 s of CPU, overlaps other
# work): stdout to $WORK_DIR/bg.NAME.out, stderr to bg.NAME.err; background_status NAME waits
# and returns its status. A failure is not reported: the caller repeats the request with s3().
declare -A BACKGROUND_PID=()
start_background() { # name aws-args...
  local name=$1
  shift
  timeout -k 10 0 aws ${ENDPOINT_ARGS[@]+"${ENDPOINT_ARGS[@]}"} "$@" \
    >"$WORK_DIR/bg.$name.out" 2>"$WORK_DIR/bg.$name.err" &
  BACKGROUND_PID["$name"]=$!
  BACKGROUND_PIDS+=("$!")
}
background_status() { # name -> its exit status (1 if never started)
  local pid="${BACKGROUND_PID["$1"]:-}" rc=0
  [[ -n "$pid" ]] || return 1
  wait "$pid" || rc=$?
  return "$rc"
}

# One line explaining the last failed aws call, credentials never included (the CLI never
# prints them; we only quote its error line).
s3_error() {
  local what="$1" err
  err=$(grep -av '^[[:space:]]*$' "$WORK_DIR/aws.err" | tail -n 1 | tr -d '\r' | cut -c1-2000)
  case "$err" in
  *InvalidAccessKeyId* | *SignatureDoesNotMatch* | *InvalidToken* | *ExpiredToken* | *"Unable to locate credentials"* | *AuthorizationHeaderMalformed* | *InvalidClientTokenId*)
    echo "S3 rejected the credentials while trying to $what ($err); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    ;;
  *AccessDenied* | *"(403)"* | *Forbidden*)
    echo "S3 refused access while trying to $what ($err); the credentials are invalid or lack permission on s3://$DEST_BUCKET/$DEST_PREFIX"
    ;;
  *NoSuchBucket*)
    echo "bucket $DEST_BUCKET does not exist ($err); create it or fix DEST_URI"
    ;;
  *"Unknown options"*)
    # Debian bookworm's awscli 2.9, for one, predates S3 conditional writes (August 2024).
    echo "this aws CLI ($(aws --version 2>&1 | cut -c1-200)) is too old for what the copy needs while trying to $what ($err); use an aws CLI released after August 2024 (for Jobs: jobs.image)"
    ;;
  *"Could not connect"* | *"Connection was closed"* | *"Read timeout"* | *"Connect timeout"* | *"connection refused"* | *"dial tcp"* | *"no such host"*)
    echo "cannot reach S3 while trying to $what ($err); check AWS_ENDPOINT_URL and the network"
    ;;
  *)
    echo "S3 request failed while trying to $what (${err:-no error text})"
    ;;
  esac
}

# A JSON string literal: quotes, backslashes and control characters escaped; UTF-8 kept.
json_str() {
  json_str_v "$1"
  printf '%s' "$JSON_STR"
}
# The same into $JSON_STR, without a subshell (per-file loops: a fork each would dominate).
json_str_v() {
  # Most names need no escaping: one pattern test instead of five substitutions.
  if [[ "$1" != *[\\\"[:cntrl:]]* ]]; then
    JSON_STR="\"$1\""
    return 0
  fi
  local s="$1" out="" c i
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  s="${s//$'\n'/\\n}"
  s="${s//$'\t'/\\t}"
  s="${s//$'\r'/\\r}"
  if [[ "$s" =~ [[:cntrl:]] ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c="${s:i:1}"
      if [[ "$c" =~ [[:cntrl:]] ]]; then
        printf -v c '\\u%04x' "'$c"
      fi
      out+="$c"
    done
    s="$out"
  fi
  JSON_STR="\"$s\""
}

# Prints the result line (last stdout line) and copies it to RESULT_FILE if set.
emit_result() {
  printf '%s\n' "$1"
  if [[ -n "${RESULT_FILE:-}" ]]; then
    printf '%s\n' "$1" >"$RESULT_FILE" || log "could not write RESULT_FILE $RESULT_FILE"
  fi
}

# The bytes a hex string spells (for digests of digests and base64 checksums).
hex_bytes() {
  local esc="" i
  for ((i = 0; i < ${#1}; i += 2)); do esc+="\\x${1:i:2}"; done
  printf '%b' "$esc"
}

# "ISO" UTC time of a file's mtime.
mtime_iso() {
  local epoch
  epoch=$(stat -c %Y -- "$1")
  TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T' "$epoch"
}
