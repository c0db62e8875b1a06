#!/usr/bin/env bash
# Copies every regular file under SOURCE_DIR (or this shard's part of it) to DEST_URI + its
# relative path, resumably, then verifies that each one is at the destination with its size.
#
# Env:
#   SOURCE_DIR        the tree to copy (e.g. /nfs/kubernetes-media-replica); only read
#   DEST_URI          s3://bucket/prefix/
#   PROGRESS_SECONDS  interval of progress lines on stderr (default 30)
#   SYNC_TOOL         auto (default: rclone if it is on PATH, else the aws CLI), aws or rclone
#   SHARD_COUNT       split the tree into this many parts (default 1) and copy only ...
#   SHARD_INDEX       ... part number SHARD_INDEX (0-based; default JOB_COMPLETION_INDEX, which
#                     an Indexed Job sets, else 0)
#   SHARD_FILE_WEIGHT_BYTES  per-file cost added to a file's size when balancing (default 16384)
#   AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
#   AWS_DEFAULT_REGION: as for the aws CLI. CONCURRENCY (parallel uploads, default 32 here),
#   multipart tuning and RESULT_FILE: see copy-common.sh.
#
# How:
# 1. Scan: `find` lists the tree once (type, size, mtime, path).
# 2. Shard (SHARD_COUNT > 1): files sorted by size (largest first, then by path, byte order) are
#    dealt greedily to the least-loaded part (size + SHARD_FILE_WEIGHT_BYTES; ties to the lowest
#    index). Every shard computes the same split from the same tree, so the parts are disjoint
#    and together cover it. (On a tree that changes between the shards' scans, as in a pre-sync
#    of a live stack, a new file may fall in no part: the final sync after quiesce sends it.)
# 3. Delta: the destination prefix is listed once; a file is sent if its key is missing, has
#    another size, or the file's mtime is later than the object's LastModified (the rule of
#    `aws s3 sync`), so a re-run or a final sync after a pre-sync sends only what changed.
#    Nothing at the destination is ever deleted.
# 4. Upload of exactly that list, CONCURRENCY at a time: with rclone (`copy --files-from-raw
#    --no-check-dest`, its own config in env only), or with the aws CLI (`s3 cp --recursive`
#    over a private tree of symbolic links to the listed files, so the CLI follows only links
#    this script made; the source tree's own links are never followed).
# 5. Verify (the same whichever tool sent): the prefix is listed again and every file of this
#    part must be there with its size; missing or different files fail the run, naming the
#    first few (and saying when a file changed while being copied).
# Links and special files: symbolic links are neither followed nor copied; they, and
# FIFOs/sockets/devices, are counted and the first few named on stderr. Empty directories have
# no S3 representation and are not recorded.
# Stdout, last line: {"bucket","prefix","files","bytes","uploaded","skipped","verifiedAt",
# "tool","shard","shards","treeFiles","treeBytes"}: files/bytes/uploaded/skipped are this
# shard's (the whole tree with one shard), skipped counts files already at the destination,
# verifiedAt is when the verification finished (UTC ISO-8601), tree* count the whole tree.
# Failure: exit 1 and one last stderr line "sync-dir: ERROR: ...".
set -euo pipefail
shopt -s lastpipe

# shellcheck disable=SC1091 # shipped next to this script by both executors
. "$(dirname -- "${BASH_SOURCE[0]}")/copy-common.sh" sync-dir

require_tools aws find sort xargs cp stat date mktemp
: "${SOURCE_DIR:?SOURCE_DIR is required}" "${DEST_URI:?DEST_URI is required}"
PROGRESS_SECONDS="${PROGRESS_SECONDS:-30}"
require_uint PROGRESS_SECONDS "$PROGRESS_SECONDS"
SHARD_COUNT="${SHARD_COUNT:-1}"
SHARD_INDEX="${SHARD_INDEX:-${JOB_COMPLETION_INDEX:-0}}"
SHARD_FILE_WEIGHT_BYTES="${SHARD_FILE_WEIGHT_BYTES:-16384}"
require_uint SHARD_COUNT "$SHARD_COUNT"
require_uint SHARD_INDEX "$SHARD_INDEX"
require_uint SHARD_FILE_WEIGHT_BYTES "$SHARD_FILE_WEIGHT_BYTES"
((SHARD_COUNT >= 1)) || fail "SHARD_COUNT must be at least 1, got $SHARD_COUNT"
((SHARD_INDEX < SHARD_COUNT)) || fail "SHARD_INDEX must be below SHARD_COUNT ($SHARD_COUNT), got $SHARD_INDEX"
SYNC_TOOL="${SYNC_TOOL:-auto}"
case "$SYNC_TOOL" in
auto) if command -v rclone >/dev/null 2>&1; then tool=rclone; else tool=aws; fi ;;
aws) tool=aws ;;
rclone)
  command -v rclone >/dev/null 2>&1 || fail "SYNC_TOOL=rclone but rclone is not on PATH; install it or set SYNC_TOOL=auto"
  tool=rclone
  ;;
*) fail "SYNC_TOOL must be auto, aws or rclone, got '$SYNC_TOOL'" ;;
esac
CONCURRENCY="${CONCURRENCY:-32}" # many small files: requests in flight, not bandwidth, limit
parse_dest_uri "$DEST_URI"
[[ -e "$SOURCE_DIR" ]] || fail "source directory $SOURCE_DIR does not exist"
[[ -d "$SOURCE_DIR" ]] || fail "source $SOURCE_DIR is not a directory"
[[ -r "$SOURCE_DIR" && -x "$SOURCE_DIR" ]] || fail "source directory $SOURCE_DIR is not readable by $(id -un)"
# The tree's own root may be a link (a mount point alias); everything below it is not followed.
SOURCE_DIR=$(cd -P -- "$SOURCE_DIR" && pwd)
case "${RESULT_FILE:-}" in "$SOURCE_DIR"/*) fail "RESULT_FILE must not be inside SOURCE_DIR" ;; esac

setup_aws
started=$SECONDS
shard_name=""
((SHARD_COUNT == 1)) || shard_name=" (shard $SHARD_INDEX of 0..$((SHARD_COUNT - 1)))"
dest="s3://$DEST_BUCKET/$DEST_PREFIX"

# Listing records: "type<TAB>size<TAB>mtime<TAB>path<NUL>"; mtime is UTC with a fraction,
# 2024-05-01T10:00:05.7000000000, comparable as text with S3's LastModified.
readonly STAT_FORMAT='%s\t%TY-%Tm-%TdT%TH:%TM:%TS'

# 1. What is there: regular readable files (f), unreadable ones (u), links and the rest.
log "scanning $SOURCE_DIR"
TZ=UTC find "$SOURCE_DIR" -mindepth 1 \
  \( -type f -readable -printf "f\t$STAT_FORMAT\t%P\0" \) -o \
  \( -type f -printf "u\t$STAT_FORMAT\t%P\0" \) -o \
  \( ! -type d -printf '%y\t0\t-\t%P\0' \) \
  >"$WORK_DIR/manifest" 2>"$WORK_DIR/find.err" || true
tree_files=0 tree_bytes=0 unreadable=() links=() others=()
while IFS=$'\t' read -r -d '' type size mtime rel; do
  case "$type" in
  f | u)
    tree_files=$((tree_files + 1)) tree_bytes=$((tree_bytes + size))
    [[ "$type" == u ]] && unreadable+=("$rel")
    printf '%s\t%s\t%s\t%s\0' "$type" "$size" "$mtime" "$rel"
    ;;
  l) links+=("$rel") ;;
  *) others+=("$rel") ;;
  esac
done <"$WORK_DIR/manifest" >"$WORK_DIR/regular"
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
((tree_files > 0)) || log "warning: $SOURCE_DIR has no regular files"

# 2. This shard's part (the whole tree with one shard).
if ((SHARD_COUNT == 1)); then
  mv -- "$WORK_DIR/regular" "$WORK_DIR/mine"
else
  loads=()
  for ((i = 0; i < SHARD_COUNT; i++)); do loads[i]=0; done
  LC_ALL=C sort -z -t $'\t' -k2,2nr -k4 -- "$WORK_DIR/regular" |
    while IFS=$'\t' read -r -d '' type size mtime rel; do
      best=0
      for ((i = 1; i < SHARD_COUNT; i++)); do
        if ((loads[i] < loads[best])); then best=$i; fi
      done
      loads[best]=$((loads[best] + size + SHARD_FILE_WEIGHT_BYTES))
      if ((best == SHARD_INDEX)); then printf '%s\t%s\t%s\t%s\0' "$type" "$size" "$mtime" "$rel"; fi
    done >"$WORK_DIR/mine"
fi
files=0 bytes=0
while IFS=$'\t' read -r -d '' _ size _ _; do
  files=$((files + 1)) bytes=$((bytes + size))
done <"$WORK_DIR/mine"
log "$files regular file(s), $bytes bytes$shard_name of $tree_files file(s), $tree_bytes bytes in the tree, to $dest"

# The destination as "size<TAB>LastModified<TAB>key" lines into the arrays remote/remote_time.
declare -A remote=() remote_time=()
list_destination() {
  s3 s3api list-objects-v2 --bucket "$DEST_BUCKET" --prefix "$DEST_PREFIX" \
    --query 'Contents[].[Size, LastModified, Key]' --output text >"$WORK_DIR/remote" ||
    fail "$(s3_error "list $dest")"
  remote=() remote_time=()
  local size modified key
  while IFS=$'\t' read -r size modified key; do
    [[ "$size" =~ ^[0-9]+$ ]] || continue # "None" when the prefix is empty
    remote["${key#"$DEST_PREFIX"}"]="$size"
    remote_time["${key#"$DEST_PREFIX"}"]="${modified:0:19}"
  done <"$WORK_DIR/remote"
}
# For keys the text listing cannot carry (tab, newline): sets have/have_time from a HEAD.
head_remote() {
  local out
  if out=$(s3 s3api head-object --bucket "$DEST_BUCKET" --key "$DEST_PREFIX$1" \
    --query '[ContentLength, LastModified]' --output text 2>/dev/null); then
    IFS=$'\t' read -r have have_time <<<"$out"
    have_time="${have_time:0:19}"
  else
    have=missing have_time=""
  fi
}
lookup() { # rel -> have (size or "missing"), have_time
  if [[ "$1" == *$'\n'* || "$1" == *$'\t'* ]]; then
    head_remote "$1"
  else
    have="${remote["$1"]:-missing}" have_time="${remote_time["$1"]:-}"
  fi
}

# 3. What to send: missing, other size, or modified after the object was written.
list_destination
planned=0 planned_bytes=0 newline_names=0
: >"$WORK_DIR/todo.nul"
: >"$WORK_DIR/todo.abs"
while IFS=$'\t' read -r -d '' _ size mtime rel; do
  lookup "$rel"
  send=0
  if [[ "$have" == missing || "$have" != "$size" ]]; then
    send=1
  else
    seconds="${mtime%.*}" fraction="${mtime#*.}"
    if [[ "$seconds" > "$have_time" ]] || [[ "$seconds" == "$have_time" && "$fraction" =~ [1-9] ]]; then
      send=1
    fi
  fi
  if ((send)); then
    planned=$((planned + 1)) planned_bytes=$((planned_bytes + size))
    [[ "$rel" != *$'\n'* ]] || newline_names=$((newline_names + 1))
    printf '%s\0' "$rel" >>"$WORK_DIR/todo.nul"
    printf '%s\0' "$SOURCE_DIR/$rel" >>"$WORK_DIR/todo.abs"
  fi
done <"$WORK_DIR/mine"
if [[ "$tool" == rclone ]] && ((newline_names > 0)); then
  log "$newline_names file name(s) with a newline: rclone's file list cannot carry them; using the aws CLI"
  tool=aws
fi
log "to send: $planned file(s), $planned_bytes bytes; already there: $((files - planned)) file(s); tool: $tool, $CONCURRENCY in parallel"

# 4. Send the list.
stage="$WORK_DIR/stage"
prepare_aws() {
  mkdir -p -- "$stage"
  # Links to exactly the listed files, at their paths (cp --parents keeps the absolute path).
  xargs -0 -r cp -s --parents -t "$stage" -- <"$WORK_DIR/todo.abs" 2>"$WORK_DIR/stage.err" ||
    fail "cannot prepare the upload list in $stage: $(head -n 1 "$WORK_DIR/stage.err")"
}
upload_aws() {
  aws ${ENDPOINT_ARGS[@]+"${ENDPOINT_ARGS[@]}"} s3 cp --recursive --follow-symlinks --no-progress \
    ${SSE_ARGS[@]+"${SSE_ARGS[@]}"} "$stage$SOURCE_DIR/" "$dest" 2>"$WORK_DIR/sync.err"
}
prepare_rclone() {
  tr '\0' '\n' <"$WORK_DIR/todo.nul" >"$WORK_DIR/todo.lst"
  : >"$WORK_DIR/rclone.conf"
}
upload_rclone() {
  local endpoint="${AWS_ENDPOINT_URL_S3:-${AWS_ENDPOINT_URL:-}}"
  local -a settings=(RCLONE_CONFIG="$WORK_DIR/rclone.conf" RCLONE_CONFIG_DEST_TYPE=s3
    RCLONE_CONFIG_DEST_ENV_AUTH=true RCLONE_CONFIG_DEST_REGION="$AWS_DEFAULT_REGION"
    RCLONE_CONFIG_DEST_PROVIDER="$([[ -n "$endpoint" ]] && echo Other || echo AWS)")
  [[ -z "$endpoint" ]] || settings+=(RCLONE_CONFIG_DEST_ENDPOINT="$endpoint")
  [[ "${SSE:-AES256}" == none ]] || settings+=(RCLONE_CONFIG_DEST_SERVER_SIDE_ENCRYPTION=AES256)
  # The AWS SDK inside rclone cannot load AWS_CA_BUNDLE itself ("unsupported transport"):
  # rclone takes the same bundle as --ca-cert instead.
  local -a tls=()
  [[ -z "${AWS_CA_BUNDLE:-}" ]] || tls=(--ca-cert "$AWS_CA_BUNDLE")
  local target="dest:$DEST_BUCKET/${DEST_PREFIX%/}"
  # --no-check-dest: the list is already the delta; --s3-no-head: verification lists instead;
  # --retries 1: a failed run fails (a re-run resumes) instead of sending the list again.
  env -u AWS_CA_BUNDLE "${settings[@]}" rclone copy "$SOURCE_DIR" "${target%/}" --files-from-raw "$WORK_DIR/todo.lst" \
    --no-traverse --no-check-dest --s3-no-check-bucket --s3-no-head --use-mmap \
    --transfers "$CONCURRENCY" --checkers "$CONCURRENCY" --retries 1 --stats 0 -v \
    --s3-upload-cutoff "${MULTIPART_THRESHOLD_BYTES}B" --s3-chunk-size "${MULTIPART_CHUNKSIZE_BYTES}B" \
    --s3-upload-concurrency 4 ${tls[@]+"${tls[@]}"} 2>&1
}

uploaded=0 failed=0 pending="" next=$((SECONDS + PROGRESS_SECONDS)) upload_status=0
progress() {
  log "progress: $uploaded file(s) uploaded so far, $failed failed, of $planned to send$shard_name; $((SECONDS - started))s elapsed"
  next=$((SECONDS + PROGRESS_SECONDS))
}
: >"$WORK_DIR/sync.err"
if ((planned > 0)); then
  "prepare_$tool"
  set +e
  "upload_$tool" |
    while :; do
      # Wake up every 5 s even when no file finishes, so progress keeps coming during big files.
      IFS= read -r -t 5 chunk
      status=$?
      if ((status == 0)); then
        line="$pending$chunk" pending=""
        case "$line" in
        upload:* | *": Copied ("*) uploaded=$((uploaded + 1)) ;;
        "upload failed:"*) failed=$((failed + 1)) ;;
        *" ERROR : "*)
          [[ "$line" != *"Failed to copy"* ]] || failed=$((failed + 1))
          printf '%s\n' "${line#* ERROR : }" >>"$WORK_DIR/sync.err"
          ;;
        *" INFO  : "* | *" DEBUG : "*) ;;
        *) printf '%s\n' "$line" >>"$WORK_DIR/sync.err" ;; # rclone's notices and fatal errors
        esac
      elif ((status > 128)); then
        pending+="$chunk" # a timeout keeps what it read of an unfinished line
      else
        break # end of output
      fi
      ((SECONDS < next)) || progress
    done
  upload_status=${PIPESTATUS[0]}
  set -e
  failed=$((failed + $(grep -c '^upload failed:' "$WORK_DIR/sync.err" || true)))
  progress
fi
if ((upload_status != 0)) && ! [[ "$tool" == aws && "$upload_status" == 2 ]]; then
  grep -v '^Attempt ' "$WORK_DIR/sync.err" >"$WORK_DIR/aws.err" || true
  grep -q . "$WORK_DIR/aws.err" || echo "$tool exited with $upload_status" >"$WORK_DIR/aws.err"
  fail "$(s3_error "copy to $dest")$( ((failed == 0)) || printf '; first failure: %s' "$(grep -m 1 -E '^upload failed:|Failed to copy' "$WORK_DIR/sync.err" | cut -c1-300)"); $uploaded file(s) were sent, $failed failed. Re-run to resume: files already there are not sent again"
fi
if ((upload_status == 2)); then
  log "aws s3 cp skipped some files: $(grep -m 1 -i 'warning' "$WORK_DIR/sync.err" || echo 'see above')"
fi

# 5. Verify: every regular file of this part at the destination with its size.
log "verifying $dest$shard_name"
# Nothing sent: the delta's listing already showed every file there with its size (listing once).
verify_list="$WORK_DIR/mine"
if ((planned > 0)); then list_destination; else verify_list=/dev/null; fi
missing=() different=() changed=()
while IFS=$'\t' read -r -d '' _ size mtime rel; do
  lookup "$rel"
  [[ "$have" == missing || "$have" != "$size" ]] || continue
  # Changed since the scan (still being written: a live tree)? Say so rather than blame S3.
  now=$(TZ=UTC find "$SOURCE_DIR/$rel" -maxdepth 0 -printf "$STAT_FORMAT" 2>/dev/null || echo gone)
  if [[ "$now" != "$size"$'\t'"$mtime" ]]; then
    changed+=("$rel")
  elif [[ "$have" == missing ]]; then
    missing+=("$rel")
  else
    different+=("$rel ($have bytes at the destination, $size here)")
  fi
done <"$verify_list"
if ((${#missing[@]} + ${#different[@]} + ${#changed[@]} > 0)); then
  problems=()
  ((${#missing[@]} == 0)) || problems+=("${#missing[@]} file(s) missing: $(first "${missing[@]}")")
  ((${#different[@]} == 0)) || problems+=("${#different[@]} file(s) with a different size: $(first "${different[@]}")")
  ((${#changed[@]} == 0)) || problems+=("${#changed[@]} file(s) changed or removed while being copied (is something still writing to the tree?): $(first "${changed[@]}")")
  fail "verification failed for $dest$shard_name: ${problems[*]}"
fi
verified_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
elapsed=$((SECONDS - started))
log "verified: all $files file(s), $bytes bytes$shard_name, at $dest; $planned sent now, $((files - planned)) already there; ${elapsed}s"
if ((uploaded != planned && upload_status == 0)); then
  log "note: $tool reported $uploaded upload(s) for $planned listed; the verification above is what counts"
fi

emit_result "{\"bucket\":$(json_str "$DEST_BUCKET"),\"prefix\":$(json_str "$DEST_PREFIX"),\"files\":$files,\"bytes\":$bytes,\"uploaded\":$planned,\"skipped\":$((files - planned)),\"verifiedAt\":\"$verified_at\",\"tool\":\"$tool\",\"shard\":$SHARD_INDEX,\"shards\":$SHARD_COUNT,\"treeFiles\":$tree_files,\"treeBytes\":$tree_bytes}"
