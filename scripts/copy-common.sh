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

ME="$1"

log() { printf '%s: %s\n' "$ME" "$*" >&2; }
# Every failure ends with exactly one line starting "<script>: ERROR:".
fail() {
  printf '%s: ERROR: %s\n' "$ME" "$*" >&2
  exit 1
}

require_tools() {
  local tool missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  ((${#missing[@]} == 0)) || fail "missing tools: ${missing[*]}; install them or use an image that has them"
}

require_uint() { # name value
  [[ "$2" =~ ^[0-9]+$ ]] || fail "$1 must be a whole number, got '$2'"
}

# DEST_URI "s3://bucket/prefix/" -> DEST_BUCKET, DEST_PREFIX ("" or ending in "/").
parse_dest_uri() {
  local re='^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)$'
  [[ "$1" =~ $re ]] || fail "DEST_URI must look like s3://bucket/prefix/, got '$1'"
  DEST_BUCKET="${BASH_REMATCH[1]}"
  DEST_PREFIX="${BASH_REMATCH[2]}"
  [[ -z "$DEST_PREFIX" || "$DEST_PREFIX" == */ ]] ||
    fail "DEST_URI must end in '/' (a prefix, not an object name), got '$1'"
  [[ "$DEST_PREFIX" != /* ]] || fail "DEST_URI has an empty path segment after the bucket: '$1'"
}

# A private aws CLI config in a temp dir: the operator's ~/.aws/config is never touched, and our
# transfer settings (which decide multipart ETags) are the same on every host. Credentials still
# come from the standard env vars or the shared credentials file; the region from the env or,
# if unset, the operator's config (read before switching).
setup_aws() {
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/${ME}.XXXXXX" 2>/dev/null) ||
    fail "cannot create a temporary directory in ${TMPDIR:-/tmp}; point TMPDIR at a writable one"
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf -- '$WORK_DIR'" EXIT
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
  require_uint CONCURRENCY "$CONCURRENCY"
  require_uint MULTIPART_THRESHOLD_BYTES "$MULTIPART_THRESHOLD_BYTES"
  require_uint MULTIPART_CHUNKSIZE_BYTES "$MULTIPART_CHUNKSIZE_BYTES"
  local section="default"
  [[ -n "${AWS_PROFILE:-}" ]] && section="profile $AWS_PROFILE"
  cat >"$WORK_DIR/aws-config" <<EOF
[$section]
region = $region
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
  ENDPOINT_ARGS=()
  local endpoint="${AWS_ENDPOINT_URL_S3:-${AWS_ENDPOINT_URL:-}}"
  if [[ -n "$endpoint" ]]; then ENDPOINT_ARGS=(--endpoint-url "$endpoint"); fi
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
    aws ${ENDPOINT_ARGS[@]+"${ENDPOINT_ARGS[@]}"} "$@" 2>"$WORK_DIR/aws.err" || rc=$?
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

# One line explaining the last failed aws call, credentials never included (the CLI never
# prints them; we only quote its error line).
s3_error() {
  local what="$1" err
  err=$(grep -v '^[[:space:]]*$' "$WORK_DIR/aws.err" | tail -n 1 | tr -d '\r')
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
  printf '"%s"' "$s"
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
