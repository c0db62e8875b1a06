#!/usr/bin/env bash
# Copies every regular file under SOURCE_DIR to DEST_URI + its relative path, resumably, then
# verifies that each one is at the destination with the same size.
#
# Env:
#   SOURCE_DIR        the tree to copy (e.g. /nfs/kubernetes-media-replica); only read
#   DEST_URI          s3://bucket/prefix/
#   PROGRESS_SECONDS  interval of progress lines on stderr (default 30)
#   AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
#   AWS_DEFAULT_REGION: as for the aws CLI. CONCURRENCY (parallel uploads, default 10),
#   multipart tuning and RESULT_FILE: see copy-common.sh.
#
# How: `aws s3 sync` (one process, CONCURRENCY parallel requests). A file is sent unless an
# object with its key exists with the same size and a LastModified not older than the file's
# mtime (the CLI's sync rule), so an interrupted run, re-run, sends only what is missing or
# changed. Nothing at the destination is ever deleted (no --delete).
# Links and special files: symbolic links are neither followed nor copied (so nothing outside
# the tree is read); they, and FIFOs/sockets/devices, are counted and the first few named on
# stderr. Empty directories have no S3 representation and are not recorded.
# Verification: after the sync, the destination prefix is listed and every regular file must
# be there with its size; any missing or different file fails the run, naming the first few.
# Stdout, last line: {"bucket","prefix","files","bytes","uploaded","skipped"} where skipped
# counts files already at the destination that were not sent again.
# Failure: exit 1 and one last stderr line "sync-dir: ERROR: ...".
set -euo pipefail
shopt -s lastpipe

# shellcheck disable=SC1091 # shipped next to this script by both executors
. "$(dirname -- "${BASH_SOURCE[0]}")/copy-common.sh" sync-dir

require_tools aws find stat date mktemp
: "${SOURCE_DIR:?SOURCE_DIR is required}" "${DEST_URI:?DEST_URI is required}"
PROGRESS_SECONDS="${PROGRESS_SECONDS:-30}"
require_uint PROGRESS_SECONDS "$PROGRESS_SECONDS"
parse_dest_uri "$DEST_URI"
[[ -e "$SOURCE_DIR" ]] || fail "source directory $SOURCE_DIR does not exist"
[[ -d "$SOURCE_DIR" ]] || fail "source $SOURCE_DIR is not a directory"
[[ -r "$SOURCE_DIR" && -x "$SOURCE_DIR" ]] || fail "source directory $SOURCE_DIR is not readable by $(id -un)"
# The tree's own root may be a link (a mount point alias); everything below it is not followed.
SOURCE_DIR=$(cd -P -- "$SOURCE_DIR" && pwd)
case "${RESULT_FILE:-}" in "$SOURCE_DIR"/*) fail "RESULT_FILE must not be inside SOURCE_DIR" ;; esac

setup_aws
started=$SECONDS

# 1. What is there: regular readable files (f), unreadable ones (u), links and the rest.
log "scanning $SOURCE_DIR"
find "$SOURCE_DIR" -mindepth 1 \
  \( -type f -readable -printf 'f\t%s\t%P\0' \) -o \
  \( -type f -printf 'u\t%s\t%P\0' \) -o \
  \( ! -type d -printf '%y\t0\t%P\0' \) \
  >"$WORK_DIR/manifest" 2>"$WORK_DIR/find.err" || true
files=0 bytes=0 unreadable=() links=() others=()
while IFS=$'\t' read -r -d '' type size rel; do
  case "$type" in
  f | u)
    files=$((files + 1)) bytes=$((bytes + size))
    [[ "$type" == u ]] && unreadable+=("$rel")
    ;;
  l) links+=("$rel") ;;
  *) others+=("$rel") ;;
  esac
done <"$WORK_DIR/manifest"
first() { # up to 5 names, quoted
  local out="" name
  for name in "${@:1:5}"; do out+="${out:+, }'$name'"; done
  if (($# > 5)); then out+=", ..."; fi
  printf '%s' "$out"
}
((${#links[@]} == 0)) || log "not copied: ${#links[@]} symbolic link(s) (not followed): $(first "${links[@]}")"
((${#others[@]} == 0)) || log "not copied: ${#others[@]} FIFO/socket/device file(s): $(first "${others[@]}")"
((${#unreadable[@]} == 0)) || log "cannot read ${#unreadable[@]} file(s) as $(id -un): $(first "${unreadable[@]}")"
find_errors=$(grep -c . "$WORK_DIR/find.err" || true)
((find_errors == 0)) || log "find could not read $find_errors path(s): $(head -n 1 "$WORK_DIR/find.err")"
log "$files regular file(s), $bytes bytes to copy to s3://$DEST_BUCKET/$DEST_PREFIX"
((files > 0)) || log "warning: $SOURCE_DIR has no regular files"

# 2. Send what is missing or changed.
uploaded=0 failed=0 pending="" next=$((SECONDS + PROGRESS_SECONDS))
progress() {
  log "progress: $uploaded file(s) uploaded so far, $failed failed, of $files in the tree; $((SECONDS - started))s elapsed"
  next=$((SECONDS + PROGRESS_SECONDS))
}
set +e
aws ${ENDPOINT_ARGS[@]+"${ENDPOINT_ARGS[@]}"} s3 sync "$SOURCE_DIR/" "s3://$DEST_BUCKET/$DEST_PREFIX" \
  --no-follow-symlinks --no-progress ${SSE_ARGS[@]+"${SSE_ARGS[@]}"} 2>"$WORK_DIR/sync.err" |
  while :; do
    # Wake up every 5 s even when no file finishes, so progress keeps coming during big files.
    IFS= read -r -t 5 chunk
    status=$?
    if ((status == 0)); then
      line="$pending$chunk" pending=""
      case "$line" in
      upload:*) uploaded=$((uploaded + 1)) ;;
      "upload failed:"*) failed=$((failed + 1)) ;;
      esac
    elif ((status > 128)); then
      pending+="$chunk" # a timeout keeps what it read of an unfinished line
    else
      break # end of output
    fi
    ((SECONDS < next)) || progress
  done
sync_status=${PIPESTATUS[0]}
set -e
failed=$((failed + $(grep -c '^upload failed:' "$WORK_DIR/sync.err" || true)))
progress
if ((sync_status != 0 && sync_status != 2)); then
  cp "$WORK_DIR/sync.err" "$WORK_DIR/aws.err"
  grep -q . "$WORK_DIR/aws.err" || echo "aws s3 sync exited with $sync_status" >"$WORK_DIR/aws.err"
  fail "$(s3_error "sync to s3://$DEST_BUCKET/$DEST_PREFIX"); $uploaded file(s) were sent, $failed failed. Re-run to resume: files already there are not sent again"
fi
if ((sync_status == 2)); then
  log "aws s3 sync skipped some files: $(grep -m 1 -i 'warning' "$WORK_DIR/sync.err" || echo 'see above')"
fi

# 3. Verify: every regular file at the destination with its size.
log "verifying s3://$DEST_BUCKET/$DEST_PREFIX"
s3 s3api list-objects-v2 --bucket "$DEST_BUCKET" --prefix "$DEST_PREFIX" \
  --query 'Contents[].[Size, Key]' --output text >"$WORK_DIR/remote" ||
  fail "$(s3_error "list s3://$DEST_BUCKET/$DEST_PREFIX")"
declare -A remote=()
while IFS=$'\t' read -r size key; do
  [[ "$size" =~ ^[0-9]+$ ]] || continue # "None" when the prefix is empty
  remote["${key#"$DEST_PREFIX"}"]="$size"
done <"$WORK_DIR/remote"

remote_size() { # rel -> size printed, for keys the text listing cannot carry (tab, newline)
  s3 s3api head-object --bucket "$DEST_BUCKET" --key "$DEST_PREFIX$1" \
    --query ContentLength --output text 2>/dev/null || echo missing
}
missing=() different=()
while IFS=$'\t' read -r -d '' type size rel; do
  [[ "$type" == f || "$type" == u ]] || continue
  if [[ "$rel" == *$'\n'* || "$rel" == *$'\t'* ]]; then
    have=$(remote_size "$rel")
  else
    have="${remote["$rel"]:-missing}"
  fi
  if [[ "$have" == missing ]]; then
    missing+=("$rel")
  elif [[ "$have" != "$size" ]]; then
    different+=("$rel ($have bytes at the destination, $size here)")
  fi
done <"$WORK_DIR/manifest"
if ((${#missing[@]} + ${#different[@]} > 0)); then
  problems=()
  ((${#missing[@]} == 0)) || problems+=("${#missing[@]} file(s) missing: $(first "${missing[@]}")")
  ((${#different[@]} == 0)) || problems+=("${#different[@]} file(s) with a different size: $(first "${different[@]}")")
  fail "verification failed for s3://$DEST_BUCKET/$DEST_PREFIX: ${problems[*]}"
fi
log "verified: all $files file(s), $bytes bytes, at s3://$DEST_BUCKET/$DEST_PREFIX; $uploaded sent now, $((files - uploaded)) already there; $((SECONDS - started))s"

emit_result "{\"bucket\":$(json_str "$DEST_BUCKET"),\"prefix\":$(json_str "$DEST_PREFIX"),\"files\":$files,\"bytes\":$bytes,\"uploaded\":$uploaded,\"skipped\":$((files - uploaded))}"
