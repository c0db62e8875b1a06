#!/usr/bin/env bash
# Restores a tree that sync-dir.sh copied to S3 (the media volume) into DEST_DIR, exactly as its
# manifests list it: each file byte-exact (sha256 checked before it reaches its final path),
# with its mtime; nothing the manifests don't list; existing different files refused.
#
# Settings (environment):
#   SOURCE_URI        s3://bucket/prefix/ of the tree (the `backups` output: bucket, prefix)
#   MANIFEST_KEYS     the manifests' object keys in shard order, separated by spaces (the
#                     output's manifestKey as it is)
#   MANIFEST_SHA256S  their SHA-256s, same order (the output's manifestSha256)
#   EXPECTED_FILES, EXPECTED_BYTES  the tree's totals (the output's files and bytes)
#   DEST_DIR          where the tree goes (the new media volume's mount); must exist
#   ALLOW_OVERWRITE   true: replace existing files that differ from the manifest (default false:
#                     refused, naming them, before anything is written)
#   PROGRESS_SECONDS  interval of progress lines on stderr (default 30)
#   OUTAGE_SECONDS    stop once downloads have failed and none succeeded for this long (120)
#   HASH_CONCURRENCY  parallel hash streams (default: number of CPUs, at least 2)
#   CONCURRENCY       parallel downloads (default 32), REQUEST_TIMEOUT_SECONDS (60), RESULT_FILE
#                     and AWS_* as for copy-common.sh.
#
# How (each step logged; everything before "download" only reads):
# 1. manifests: each downloaded and its sha256 compared with MANIFEST_SHA256S before use; their
#    files and bytes must equal EXPECTED_FILES/EXPECTED_BYTES; every path must be relative
#    without '.', '..' or empty segments and not under .relocation-manifest/ or .relocation-restore/.
# 2. listing: the prefix listed once (URL-encoded keys); every manifest file must be an object
#    with the manifest's size and ETag (else the bucket changed since the backup: nothing
#    written). Other objects, the manifests included, are ignored (counted).
# 3. dest: DEST_DIR scanned; a file already there with the manifest's size and sha256 is kept;
#    one that differs is refused unless ALLOW_OVERWRITE=true; a non-directory where the manifest
#    needs a directory (or a directory where it has a file) is always refused.
# 4. download: one `aws s3 sync --size-only` of the prefix into DEST_DIR/.relocation-restore/
#    download (same filesystem: placing is a hard link, no copy), CONCURRENCY at a time. Kept
#    files are hard-linked there first and other objects get sparse placeholders of their size,
#    so the CLI transfers only what is missing. The staging area survives a failed or
#    interrupted run: complete files there are not downloaded again (the CLI writes to a
#    temporary name and renames when done, so a file under its own name is complete).
# 5. verify: each downloaded file's sha256 against the manifest (a mismatch is removed from
#    staging and fails the run naming it: it never reaches its final path); mtimes set.
# 6. place: the verified files hard-linked to their final paths in one `cp -R -l`; kept files
#    get the manifest's mtime; then every manifest file is checked at DEST_DIR (regular, size,
#    mtime) and the staging area removed.
# Result (last stdout line): {"prefix","dest","files","bytes","downloaded","kept","ignored",
#   "verifiedAt"}: downloaded = placed by this run, kept = already there with its content,
#   ignored = objects under the prefix not restored (manifests included).
# Failure: exit 1, last stderr line "restore-tree.sh: ERROR: ...".
set -euo pipefail
HERE=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/copy-common.sh
. "$HERE/../copy-common.sh" restore-tree.sh

step() { log "step $1"; }
readonly MANIFEST_DIR=".relocation-manifest" STAGE_NAME=".relocation-restore"

# --- Settings: every one checked before any request.
SOURCE_URI="${SOURCE_URI:-}"
re='^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/((.*/)?)$'
[[ "$SOURCE_URI" =~ $re ]] ||
  fail "SOURCE_URI must be the tree's prefix like s3://bucket/prefix/ (the backups output's bucket and prefix), got '$SOURCE_URI'"
# copy-common.sh's s3_error names DEST_BUCKET/DEST_PREFIX.
DEST_BUCKET="${BASH_REMATCH[1]}" DEST_PREFIX="${BASH_REMATCH[2]}"
read -r -a manifest_keys <<<"${MANIFEST_KEYS:-}"
read -r -a manifest_shas <<<"${MANIFEST_SHA256S:-}"
((${#manifest_keys[@]} > 0)) ||
  fail "MANIFEST_KEYS is required: the backups output's manifestKey (space-separated, shard order)"
((${#manifest_shas[@]} == ${#manifest_keys[@]})) ||
  fail "MANIFEST_SHA256S must give one SHA-256 per MANIFEST_KEYS entry (${#manifest_keys[@]}), got ${#manifest_shas[@]}; copy the backups output's manifestSha256"
for i in "${!manifest_keys[@]}"; do
  [[ "${manifest_keys[i]}" == "$DEST_PREFIX$MANIFEST_DIR/"* ]] ||
    fail "MANIFEST_KEYS entry '${manifest_keys[i]}' is not under $SOURCE_URI$MANIFEST_DIR/; SOURCE_URI and MANIFEST_KEYS must come from the same backups entry"
  manifest_shas[i]="${manifest_shas[i],,}"
  [[ "${manifest_shas[i]}" =~ ^[0-9a-f]{64}$ ]] ||
    fail "MANIFEST_SHA256S entry '${manifest_shas[i]}' is not a hex SHA-256; copy the backups output's manifestSha256"
done
require_uint EXPECTED_FILES "${EXPECTED_FILES:-}"
require_uint EXPECTED_BYTES "${EXPECTED_BYTES:-}"
[[ -n "${DEST_DIR:-}" ]] || fail "DEST_DIR is required: the directory to restore into (the new media volume's mount)"
[[ -d "$DEST_DIR" ]] || fail "DEST_DIR $DEST_DIR is not a directory; mount the volume or create it first"
[[ -w "$DEST_DIR" && -x "$DEST_DIR" ]] || fail "DEST_DIR $DEST_DIR is not writable by $(id -un)"
DEST_DIR=$(cd -P -- "$DEST_DIR" && pwd)
case "${ALLOW_OVERWRITE:=false}" in
true | false) ;;
*) fail "ALLOW_OVERWRITE must be true or false, got '$ALLOW_OVERWRITE'" ;;
esac
PROGRESS_SECONDS="${PROGRESS_SECONDS:-30}"
OUTAGE_SECONDS="${OUTAGE_SECONDS:-120}"
require_uint PROGRESS_SECONDS "$PROGRESS_SECONDS" 1
require_uint OUTAGE_SECONDS "$OUTAGE_SECONDS" 1
cpus=$(nproc 2>/dev/null || echo 2)
HASH_CONCURRENCY="${HASH_CONCURRENCY:-$((cpus < 2 ? 2 : cpus))}"
require_uint HASH_CONCURRENCY "$HASH_CONCURRENCY" 1
CONCURRENCY="${CONCURRENCY:-32}" # many small files: requests in flight, not bandwidth, limit
case "${RESULT_FILE:-}" in "$DEST_DIR"/*) fail "RESULT_FILE must not be inside DEST_DIR" ;; esac
require_tools aws find sort xargs cp rm mkdir stat date mktemp sha256sum split timeout mkfifo df touch truncate

# Our own temp dir (copy-common's make_work_dir guards SOURCE_DIR, which a restore has not).
make_work_dir() {
  local base
  base=$(cd -P -- "${TMPDIR:-/tmp}" 2>/dev/null && pwd) ||
    fail "TMPDIR '${TMPDIR:-}' is not a directory we can enter; point TMPDIR at a writable one"
  # Checked before mktemp: nothing may be written into DEST_DIR before the checks pass.
  case "$base/" in "$DEST_DIR"/*) fail "TMPDIR $base is inside DEST_DIR; point it elsewhere" ;; esac
  WORK_DIR=$(mktemp -d -- "$base/restore-tree.sh.XXXXXX") ||
    fail "cannot create a temporary directory in $base; point TMPDIR at a writable one"
  trap 'rm -rf -- "$WORK_DIR"' EXIT
  export TMPDIR="$WORK_DIR"
}
setup_aws
src_error() { local m; m=$(s3_error "$1"); printf '%s' "${m//DEST_URI/SOURCE_URI}"; }
started=$SECONDS
STAGE="$DEST_DIR/$STAGE_NAME"
DL="$STAGE/download"

first() { # up to 5 names, quoted, each cut to 300 bytes, and how many more
  local out="" name
  for name in "${@:1:5}"; do out+="${out:+, }'${name:0:300}'"; done
  if (($# > 5)); then out+=", ... ($(($# - 5)) more)"; fi
  printf '%s' "$out"
}

# The manifest's JSON string escapes, decoded in bash (no jq: the Job image contract stays as it
# is, and sync-dir.sh's json_str_v writes only \\ \" \n \t \r and \u00XX; the other JSON escapes
# are accepted too). A \u0000 (no file name holds NUL) or a lone surrogate is malformed.
json_unescape_v() { # JSON string body -> $RAW; status 1 if malformed
  local s="$1" out="" c code
  [[ "$s" != *[[:cntrl:]]* ]] || return 1
  while [[ "$s" == *\\* ]]; do
    out+="${s%%\\*}" s="${s#*\\}"
    c="${s:0:1}" s="${s:1}"
    case "$c" in
    '"' | \\ | /) out+="$c" ;;
    b) out+=$'\b' ;;
    f) out+=$'\f' ;;
    n) out+=$'\n' ;;
    r) out+=$'\r' ;;
    t) out+=$'\t' ;;
    u)
      [[ "${s:0:4}" =~ ^[0-9a-fA-F]{4}$ ]] || return 1
      code=$((16#${s:0:4})) s="${s:4}"
      ((code > 0)) || return 1
      if ((code >= 0xd800 && code <= 0xdbff)) && [[ "${s:0:6}" =~ ^\\u[dD][c-fC-F][0-9a-fA-F]{2}$ ]]; then
        code=$((0x10000 + ((code - 0xd800) << 10) + (16#${s:2:4} - 0xdc00))) s="${s:6}"
      elif ((code >= 0xd800 && code <= 0xdfff)); then
        return 1
      fi
      # UTF-8 by hand: bash's printf \u depends on the locale, and we run with LC_ALL=C.
      if ((code < 0x80)); then
        printf -v c '\\x%02x' "$code"
      elif ((code < 0x800)); then
        printf -v c '\\x%02x\\x%02x' $((0xc0 | code >> 6)) $((0x80 | (code & 63)))
      elif ((code < 0x10000)); then
        printf -v c '\\x%02x\\x%02x\\x%02x' $((0xe0 | code >> 12)) $((0x80 | (code >> 6 & 63))) $((0x80 | (code & 63)))
      else
        printf -v c '\\x%02x\\x%02x\\x%02x\\x%02x' $((0xf0 | code >> 18)) $((0x80 | (code >> 12 & 63))) \
          $((0x80 | (code >> 6 & 63))) $((0x80 | (code & 63)))
      fi
      printf -v c '%b' "$c"
      out+="$c"
      ;;
    *) return 1 ;;
    esac
  done
  RAW="$out$s"
}

# A relative path that stays inside DEST_DIR: no leading '/', no '.', '..' or empty segments.
safe_path() {
  [[ -n "$1" && "$1" != /* && "$1" != */ && "/$1/" != *//* && "/$1/" != */./* && "/$1/" != */../* ]]
}

# SHA-256 of the NUL-listed files (relative to dir) in HASH_CONCURRENCY streams -> "hex  path\0"
# records in out (sha256sum -z never escapes names). Unreadable files are simply absent.
hash_files() { # dir list out
  rm -f -- "$2".part.*
  [[ -s "$2" ]] || {
    : >"$3"
    return 0
  }
  split -e -n "r/$HASH_CONCURRENCY" -t '\0' -- "$2" "$2.part."
  # shellcheck disable=SC2016 # expanded by the inner bash
  run_child bash -c '
    cd -- "$1" || exit 1
    for part in "$2".part.*; do
      xargs -0 -r sha256sum -z -- <"$part" >"$part.sha" 2>>"$2.err" &
    done
    wait' _ "$1" "$2" || true
  cat -- "$2".part.*.sha >"$3" 2>/dev/null || : >"$3"
}

# --- Step manifests.
step "manifests: ${#manifest_keys[@]} from $SOURCE_URI"
declare -A entry=() # raw path -> size/mtime/sha256/etag
files=0 bytes=0
: >"$WORK_DIR/paths"
entry_re='^\{"path":"(([^"\\]|\\.)*)","size":([0-9]+),"mtime":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z)","ctime":"[^"]*","sha256":"([0-9a-f]{64})","etag":"([0-9a-f]{32}(-[0-9]+)?)"\}$'
for i in "${!manifest_keys[@]}"; do
  key="${manifest_keys[i]}"
  s3 s3api get-object --bucket "$DEST_BUCKET" --key "$key" "$WORK_DIR/manifest" >/dev/null ||
    fail "$(src_error "read the manifest s3://$DEST_BUCKET/$key")"
  got=$(sha256sum <"$WORK_DIR/manifest")
  got="${got%% *}"
  [[ "$got" == "${manifest_shas[i]}" ]] ||
    fail "the manifest s3://$DEST_BUCKET/$key has sha256 $got, MANIFEST_SHA256S says ${manifest_shas[i]}: not the manifest the backup recorded; nothing written to $DEST_DIR"
  n=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    if ! [[ "$line" =~ $entry_re ]] || ! json_unescape_v "${BASH_REMATCH[1]}"; then
      fail "line $n of the manifest s3://$DEST_BUCKET/$key is not a manifest entry: $(one_line "${line:0:300}")"
    fi
    if ! safe_path "$RAW" || [[ "$RAW" == "$MANIFEST_DIR"/* || "$RAW" == "$STAGE_NAME" || "$RAW" == "$STAGE_NAME"/* ]]; then
      fail "the manifest s3://$DEST_BUCKET/$key lists '$RAW', which would not land inside DEST_DIR as a restored file; nothing written"
    fi
    [[ -z "${entry["$RAW"]:-}" ]] || fail "the manifests list '$RAW' twice; nothing written"
    size="${BASH_REMATCH[3]}"
    entry["$RAW"]="$size/${BASH_REMATCH[4]%Z}/${BASH_REMATCH[5]}/${BASH_REMATCH[6]}"
    printf '%s\0' "$RAW" >>"$WORK_DIR/paths"
    files=$((files + 1)) bytes=$((bytes + size))
  done <"$WORK_DIR/manifest"
done
((files == EXPECTED_FILES && bytes == EXPECTED_BYTES)) ||
  fail "the manifests list $files file(s), $bytes bytes; EXPECTED_FILES/EXPECTED_BYTES say $EXPECTED_FILES, $EXPECTED_BYTES: not the tree the backup recorded (or a shard's manifest is missing from MANIFEST_KEYS); nothing written"
log "manifests: $files file(s), $bytes bytes, sha256 as recorded"

# --- Step listing: the objects, URL-encoded keys so every byte survives the text output.
step "listing: $SOURCE_URI"
s3 s3api list-objects-v2 --bucket "$DEST_BUCKET" --prefix "$DEST_PREFIX" --encoding-type url \
  --query 'Contents[].[Size, ETag, Key]' --output text >"$WORK_DIR/remote" ||
  fail "$(src_error "list $SOURCE_URI")"
declare -A object=() # rel -> size/etag
extras=() unsafe=() ignored=0
while IFS=$'\t' read -r size etag key; do
  [[ "$size" =~ ^[0-9]+$ ]] || continue # "None" when the prefix is empty
  s="${key//+/ }"
  printf -v key '%b' "${s//%/\\x}"
  rel="${key#"$DEST_PREFIX"}"
  if [[ -z "$rel" ]]; then # the prefix itself: a console "folder" if empty
    ignored=$((ignored + 1))
    ((size == 0)) || unsafe+=("$key")
    continue
  fi
  object["$rel"]="$size/${etag//\"/}"
  [[ -z "${entry["$rel"]:-}" ]] || continue
  ignored=$((ignored + 1))
  # A "folder" the S3 console made (empty, name ending in '/'): the CLI never downloads one.
  [[ "$size" != 0 || "$rel" != */ ]] || continue
  # The aws CLI writes every object of the prefix under the staging directory: a key that
  # would land outside it (or on a path no file can have) is refused.
  safe_path "$rel" || unsafe+=("$key")
  extras+=("$size/$rel")
done <"$WORK_DIR/remote"
((${#unsafe[@]} == 0)) ||
  fail "${#unsafe[@]} object key(s) under $SOURCE_URI are not plain relative paths (a '.', '..' or empty segment, or a trailing '/'): $(first "${unsafe[@]}"); the aws CLI could write them outside DEST_DIR. Remove them from the bucket; nothing written"
absent=() other=()
while IFS= read -r -d '' rel; do
  IFS=/ read -r size _ _ etag <<<"${entry["$rel"]}"
  have="${object["$rel"]:-}"
  if [[ -z "$have" ]]; then
    absent+=("$rel")
  elif [[ "$have" != "$size/$etag" ]]; then
    other+=("$rel (object: ${have%%/*} bytes, ETag ${have#*/}; manifest: $size bytes, ETag $etag)")
  fi
done <"$WORK_DIR/paths"
((${#absent[@]} == 0)) ||
  fail "${#absent[@]} manifest file(s) have no object under $SOURCE_URI: $(first "${absent[@]}"); the bucket changed since the backup, nothing written"
((${#other[@]} == 0)) ||
  fail "${#other[@]} object(s) under $SOURCE_URI differ from the manifest: $(first "${other[@]}"); the bucket changed since the backup, nothing written"
log "listing: all $files manifest file(s) present with their size and ETag; $ignored other object(s) ignored (manifests included)"

# --- Step dest: what is already there (the staging area left out).
step "dest: scanning $DEST_DIR"
cd -- "$DEST_DIR"
TZ=UTC run_child find . -mindepth 1 \( -path "./$STAGE_NAME" -prune \) -o \
  -printf '%y/%s/%TY-%Tm-%TdT%TH:%TM:%TS/%P\0' >"$WORK_DIR/dest" 2>"$WORK_DIR/find.err" ||
  fail "cannot scan DEST_DIR $DEST_DIR as $(id -un): $(head -n 1 "$WORK_DIR/find.err" | cut -c1-1000); nothing written"
declare -A here=()
while IFS=/ read -r -d '' type size mtime rel; do here["$rel"]="$type/$size/$mtime"; done <"$WORK_DIR/dest"
blocked=() different=()
declare -A dir_ok=()
: >"$WORK_DIR/candidates" && : >"$WORK_DIR/needed"
while IFS= read -r -d '' rel; do
  IFS=/ read -r size mtime sha _ <<<"${entry["$rel"]}"
  parent="${rel%/*}"
  while [[ "$parent" != "$rel" && -z "${dir_ok["$parent"]:-}" ]]; do
    if [[ -n "${here["$parent"]:-}" && "${here["$parent"]}" != d/* ]]; then
      blocked+=("$parent (a directory in the manifest)")
      break
    fi
    dir_ok["$parent"]=1
    [[ "$parent" == */* ]] || break
    parent="${parent%/*}"
  done
  case "${here["$rel"]:-}" in
  "") printf '%s\0' "$rel" >>"$WORK_DIR/needed" ;;
  d/*) blocked+=("$rel (a file in the manifest)") ;;
  "f/$size/"*) printf '%s\0' "$rel" >>"$WORK_DIR/candidates" ;;
  *) different+=("$rel") ;;
  esac
done <"$WORK_DIR/paths"
((${#blocked[@]} == 0)) ||
  fail "${#blocked[@]} path(s) in DEST_DIR $DEST_DIR are in the way of the manifest's files: $(first "${blocked[@]}"); move them away (ALLOW_OVERWRITE does not replace these); nothing written"
kept=0
: >"$WORK_DIR/kept"
if [[ -s "$WORK_DIR/candidates" ]]; then
  log "dest: hashing the files already there with the manifest's size"
  hash_files "$DEST_DIR" "$WORK_DIR/candidates" "$WORK_DIR/candidates.sha"
  declare -A sum=()
  while IFS= read -r -d '' rec; do sum["${rec:66}"]="${rec:0:64}"; done <"$WORK_DIR/candidates.sha"
  while IFS= read -r -d '' rel; do
    IFS=/ read -r _ _ sha _ <<<"${entry["$rel"]}"
    if [[ "${sum["$rel"]:-}" == "$sha" ]]; then
      kept=$((kept + 1))
      printf '%s\0' "$rel" >>"$WORK_DIR/kept"
    else
      different+=("$rel")
    fi
  done <"$WORK_DIR/candidates"
  unset sum
fi
if ((${#different[@]} > 0)); then
  [[ "$ALLOW_OVERWRITE" == true ]] ||
    fail "DEST_DIR $DEST_DIR already has ${#different[@]} file(s) that differ from the manifest: $(first "${different[@]}"); nothing written. Move them away, or set ALLOW_OVERWRITE=true to replace them"
  log "dest: ${#different[@]} different file(s) will be replaced (ALLOW_OVERWRITE=true): $(first "${different[@]}")"
  for rel in "${different[@]}"; do printf '%s\0' "$rel" >>"$WORK_DIR/needed"; done
fi
needed=$((files - kept))
needed_bytes=0
while IFS= read -r -d '' rel; do needed_bytes=$((needed_bytes + ${entry["$rel"]%%/*})); done <"$WORK_DIR/needed"
log "dest: $kept file(s) already there with their content (kept), $needed to download ($needed_bytes bytes)"

# --- Step download (the first write to DEST_DIR).
step "download: $needed file(s) into $DL"
declare -A is_needed=()
while IFS= read -r -d '' rel; do is_needed["$rel"]=1; done <"$WORK_DIR/needed"
mkdir -p -- "$DL" || fail "cannot create the staging directory $DL"
cd -- "$DL"
# A previous run's staging: only complete files the manifest still needs stay.
TZ=UTC run_child find . -mindepth 1 ! -type d -printf '%y/%s/%P\0' >"$WORK_DIR/staged" ||
  fail "cannot scan the staging directory $DL"
: >"$WORK_DIR/stale"
resumed=0 resumed_bytes=0
while IFS=/ read -r -d '' type size rel; do
  if [[ "$type" == f && -n "${is_needed["$rel"]:-}" && "$size" == "${entry["$rel"]%%/*}" ]]; then
    resumed=$((resumed + 1)) resumed_bytes=$((resumed_bytes + size))
  else
    printf '%s\0' "$rel" >>"$WORK_DIR/stale"
  fi
done <"$WORK_DIR/staged"
xargs -0 -r rm -f -- <"$WORK_DIR/stale" || fail "cannot clean the staging directory $DL"
((resumed == 0)) || log "download: $resumed file(s), $resumed_bytes bytes already in staging from an earlier run"
avail=$(df -P -B1 -- "$DEST_DIR" | tail -n 1)
read -r _ _ _ avail _ <<<"$avail"
if [[ "$avail" =~ ^[0-9]+$ ]] && ((avail < needed_bytes - resumed_bytes)); then
  fail "DEST_DIR $DEST_DIR has $avail bytes free, the download needs $((needed_bytes - resumed_bytes)); make room or grow the volume"
fi
# Kept files as hard links, other objects as sparse placeholders of their size: with
# --size-only, the CLI skips both.
(cd -- "$DEST_DIR" && xargs -0 -r cp -l --parents -t "$DL" -- <"$WORK_DIR/kept") 2>"$WORK_DIR/link.err" ||
  fail "cannot link the kept files into $DL: $(head -n 1 "$WORK_DIR/link.err" | cut -c1-500)"
for x in "${extras[@]+"${extras[@]}"}"; do
  rel="${x#*/}"
  [[ "$rel" == */* ]] && { mkdir -p -- "${rel%/*}" 2>/dev/null || continue; }
  truncate -s "${x%%/*}" -- "$rel" 2>/dev/null || true
done
to_get=$((needed - resumed))
downloaded_now=0 failed=0 pending="" outage="" download_status=0
next=$((SECONDS + PROGRESS_SECONDS))
progress() {
  log "progress: $downloaded_now file(s) downloaded, $failed failed, of $to_get to download; $((SECONDS - started))s elapsed"
  next=$((SECONDS + PROGRESS_SECONDS))
}
: >"$WORK_DIR/sync.err"
if ((to_get > 0)); then
  mkfifo -- "$WORK_DIR/download.out"
  timeout -k 10 0 aws ${ENDPOINT_ARGS[@]+"${ENDPOINT_ARGS[@]}"} s3 sync --size-only --no-progress \
    "s3://$DEST_BUCKET/$DEST_PREFIX" "$DL/" >"$WORK_DIR/download.out" 2>&1 &
  CHILD_PID=$!
  last_ok=$SECONDS
  while :; do
    # Wake up every 2 s even when no file finishes: progress and the outage bound keep going.
    status=0
    IFS= read -r -t 2 chunk || status=$?
    if ((status == 0)); then
      line="$pending$chunk" pending=""
      case "$line" in
      download:*) downloaded_now=$((downloaded_now + 1)) last_ok=$SECONDS ;;
      "download failed:"*)
        failed=$((failed + 1))
        printf '%s\n' "${line:0:2000}" >>"$WORK_DIR/sync.err"
        ;;
      *) printf '%s\n' "${line:0:2000}" >>"$WORK_DIR/sync.err" ;;
      esac
    elif ((status > 128)); then
      pending+="$chunk"
    else
      break
    fi
    ((SECONDS < next)) || progress
    if ((failed > 0 && SECONDS - last_ok >= OUTAGE_SECONDS)) && [[ -z "$outage" ]]; then
      outage="downloads failing and none succeeded for ${OUTAGE_SECONDS}s (OUTAGE_SECONDS)"
      log "stopping the download: $outage"
      kill -TERM "$CHILD_PID" 2>/dev/null || true
    fi
  done <"$WORK_DIR/download.out"
  wait "$CHILD_PID" || download_status=$?
  CHILD_PID=""
  progress
fi
first_failure() { grep -a -m 1 '^download failed:' "$WORK_DIR/sync.err" | cut -c1-300; }
[[ -z "$outage" ]] ||
  fail "S3 stopped serving $SOURCE_URI: $outage; $downloaded_now file(s) downloaded, $failed failed; first failure: $(first_failure). Re-run to resume: complete downloads in $DL are kept"
if ((download_status != 0 && download_status != 2)); then
  grep -av '^Attempt ' "$WORK_DIR/sync.err" >"$WORK_DIR/aws.err" || true
  grep -q . "$WORK_DIR/aws.err" || echo "aws exited with $download_status" >"$WORK_DIR/aws.err"
  fail "$(src_error "download $SOURCE_URI")$( ((failed == 0)) || printf '; first failure: %s' "$(first_failure)"); $downloaded_now file(s) downloaded, $failed failed. Re-run to resume: complete downloads in $DL are kept"
fi

# --- Step verify: each file to place, in staging, against the manifest.
step "verify: sha256 of $needed file(s) in staging"
hash_files "$DL" "$WORK_DIR/needed" "$WORK_DIR/needed.sha"
declare -A sum=()
while IFS= read -r -d '' rec; do sum["${rec:66}"]="${rec:0:64}"; done <"$WORK_DIR/needed.sha"
bad=() missing=()
: >"$WORK_DIR/bad" && : >"$WORK_DIR/touch"
while IFS= read -r -d '' rel; do
  IFS=/ read -r _ mtime sha _ <<<"${entry["$rel"]}"
  if [[ -z "${sum["$rel"]:-}" ]]; then
    missing+=("$rel")
  elif [[ "${sum["$rel"]}" != "$sha" ]]; then
    bad+=("$rel (sha256 ${sum["$rel"]}, manifest $sha)")
    printf '%s\0' "$rel" >>"$WORK_DIR/bad"
  else
    printf '%sZ\0%s\0' "$mtime" "$DL/$rel" >>"$WORK_DIR/touch"
  fi
done <"$WORK_DIR/needed"
# A wrong file must not stay in staging: the next run's --size-only would skip it.
xargs -0 -r rm -f -- <"$WORK_DIR/bad" || true
((${#bad[@]} == 0)) ||
  fail "${#bad[@]} downloaded file(s) differ from the manifest: $(first "${bad[@]}"); removed from staging, not placed. The object changed since the backup (or in transit): check the bucket, then re-run"
((${#missing[@]} == 0)) ||
  fail "${#missing[@]} manifest file(s) were not downloaded: $(first "${missing[@]}"); $(head -n 1 "$WORK_DIR/sync.err" | cut -c1-500). Re-run to resume"
unset sum
# Paths are absolute, so none is read as an option.
xargs -0 -r -n 2 -P "$HASH_CONCURRENCY" touch -m -d <"$WORK_DIR/touch" 2>"$WORK_DIR/touch.err" ||
  fail "cannot set mtimes in $DL: $(head -n 1 "$WORK_DIR/touch.err" | cut -c1-500)"
log "verify: $needed file(s) as the manifest says"

# --- Step place: hard links to the final paths, in one go.
step "place: $needed file(s) into $DEST_DIR"
rm -rf -- "$STAGE/ready"
mkdir -p -- "$STAGE/ready"
cd -- "$DL"
xargs -0 -r cp -l --parents -t "$STAGE/ready" -- <"$WORK_DIR/needed" 2>"$WORK_DIR/link.err" ||
  fail "cannot prepare the verified files in $STAGE/ready: $(head -n 1 "$WORK_DIR/link.err" | cut -c1-500)"
replace=()
[[ "$ALLOW_OVERWRITE" == false ]] || replace=(--remove-destination)
cp -R -l ${replace[@]+"${replace[@]}"} -- "$STAGE/ready/." "$DEST_DIR/" 2>"$WORK_DIR/link.err" ||
  fail "cannot place the verified files in $DEST_DIR: $(head -n 1 "$WORK_DIR/link.err" | cut -c1-500); re-run to resume"
# Kept files get the manifest's mtime too (a copy made by other means may have another).
: >"$WORK_DIR/touch"
while IFS= read -r -d '' rel; do
  IFS=/ read -r _ mtime _ _ <<<"${entry["$rel"]}"
  [[ "${here["$rel"]#*/*/}" == "$mtime" ]] || printf '%sZ\0%s\0' "$mtime" "$DEST_DIR/$rel" >>"$WORK_DIR/touch"
done <"$WORK_DIR/kept"
xargs -0 -r -n 2 -P "$HASH_CONCURRENCY" touch -m -d <"$WORK_DIR/touch" 2>"$WORK_DIR/touch.err" ||
  fail "cannot set mtimes in $DEST_DIR: $(head -n 1 "$WORK_DIR/touch.err" | cut -c1-500)"

# Every manifest file at its final path: a regular file with its size and mtime (the content
# is the verified inode, or a kept file hashed above).
cd -- "$DEST_DIR"
TZ=UTC run_child find . -mindepth 1 \( -path "./$STAGE_NAME" -prune \) -o \
  -printf '%y/%s/%TY-%Tm-%TdT%TH:%TM:%TS/%P\0' >"$WORK_DIR/dest" 2>"$WORK_DIR/find.err" ||
  fail "cannot scan DEST_DIR $DEST_DIR after placing: $(head -n 1 "$WORK_DIR/find.err" | cut -c1-500)"
here=()
while IFS=/ read -r -d '' type size mtime rel; do here["$rel"]="$type/$size/$mtime"; done <"$WORK_DIR/dest"
wrong=()
while IFS= read -r -d '' rel; do
  IFS=/ read -r size mtime _ _ <<<"${entry["$rel"]}"
  [[ "${here["$rel"]:-missing}" == "f/$size/$mtime" ]] || wrong+=("$rel (${here["$rel"]:-missing}, manifest f/$size/$mtime)")
done <"$WORK_DIR/paths"
((${#wrong[@]} == 0)) ||
  fail "${#wrong[@]} file(s) are not at DEST_DIR as the manifest says after placing: $(first "${wrong[@]}"); is something else writing to $DEST_DIR?"
verified_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
rm -rf -- "$STAGE"
log "restored: $files file(s), $bytes bytes at $DEST_DIR; kept $kept, downloaded $needed ($downloaded_now transferred now); ignored $ignored object(s) not in the manifest; $((SECONDS - started))s"
emit_result "{\"prefix\":$(json_str "$SOURCE_URI"),\"dest\":$(json_str "$DEST_DIR"),\"files\":$files,\"bytes\":$bytes,\"downloaded\":$needed,\"kept\":$kept,\"ignored\":$ignored,\"verifiedAt\":\"$verified_at\"}"
