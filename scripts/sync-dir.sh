#!/usr/bin/env bash
# Copies every regular file under SOURCE_DIR (or this shard's part of it) to DEST_URI + its
# relative path, resumably, verifies each object's size and content, and writes a manifest.
#
# Env:
#   SOURCE_DIR        the tree to copy (e.g. /nfs/kubernetes-media-replica); only read
#   DEST_URI          s3://bucket/prefix/ (no '.', '..' or empty segments)
#   ALLOW_EMPTY_TREE  true: a tree without regular files is copied (as nothing); default false:
#                     refused, since an NFS export that failed to mount looks exactly like that
#   PROGRESS_SECONDS  interval of progress lines on stderr (default 30)
#   OUTAGE_SECONDS    stop once uploads have failed and none succeeded for this long (default 120)
#   HASH_CONCURRENCY  parallel hash streams (default: number of CPUs, at least 2)
#   SYNC_TOOL         auto (default: rclone if it is on PATH, else the aws CLI), aws or rclone
#   SHARD_COUNT       split the tree into this many parts (default 1) and copy only ...
#   SHARD_INDEX       ... part number SHARD_INDEX (0-based; default JOB_COMPLETION_INDEX, which
#                     an Indexed Job sets, else 0)
#   SHARD_FILE_WEIGHT_BYTES  per-file cost added to a file's size when balancing (default 16384)
#   NOT_BEFORE        UTC ISO-8601: fail before uploading if the newest file is older (a replica
#                     too stale for the backup's maxRpoSeconds)
#   PLAN_ONLY         true: steps 1-3 without hashing (scan, one listing, the manifests), print
#                     the plan line (see Stdout) and stop: no hash, no upload, no manifest write
#   REHASH            true: no previous manifest vouches for anything, every file is read and
#                     hashed again (default false; see step 3 for what that can miss)
#   AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
#   AWS_DEFAULT_REGION: as for the aws CLI. CONCURRENCY (parallel uploads, default 32 here),
#   REQUEST_TIMEOUT_SECONDS, multipart tuning and RESULT_FILE: see copy-common.sh.
#
# How:
# 1. Scan: `find` lists the tree once (size, mtime, ctime, path; NUL-separated, bytes as bytes).
#    Refused before any request: unreadable files or directories (as this user), names that
#    are not UTF-8 (S3 keys are UTF-8: they cannot be stored exactly), keys over 1024 bytes, a
#    top-level ".relocation-manifest" (the manifests' place), an empty tree (see above).
# 2. Shard (SHARD_COUNT > 1): files sorted by size (largest first, then by path, byte order) are
#    dealt greedily to the least-loaded part (size + SHARD_FILE_WEIGHT_BYTES; ties to the lowest
#    index). Every shard computes the same split from the same tree.
# 3. Delta: the destination prefix is listed once (URL-encoded keys: any bytes survive) with
#    sizes and ETags, and the previous manifests are read (each only if its bytes have the
#    SHA-256 stored with it). A file is skipped without reading it, its manifest line reused,
#    when a previous manifest has it with the same size, mtime (ns) and ctime (ns) and the
#    object still has that size and the ETag recorded there. What that misses: a write that
#    leaves size, mtime and ctime as they were. ctime cannot be set from user space (a write
#    that restores size and mtime still moves it), so only a clock set back, a filesystem
#    without ctime, or a raw write to the block device could; REHASH=true reads every file
#    anyway. (This shard's manifest and the unfinished multipart uploads are asked for in the
#    background while the prefix is listed: each aws CLI start costs ~0.5-1 s of CPU.) Every
#    other file is hashed, both digests from
#    one read (MD5, per part above MULTIPART_THRESHOLD_BYTES as S3 computes ETags, and SHA-256;
#    nothing opened that blocks; a file no longer regular fails the run; see "Hash" below):
#    it is skipped if the object has its size and that ETag, otherwise sent. A same-size object with other content has
#    another ETag: it is sent again. Nothing at the destination is ever deleted.
# 4. Upload of exactly that list, CONCURRENCY at a time: with rclone (`copy --files-from-raw
#    --no-check-dest`, no name encoding, its own config in env only), or with the aws CLI (`s3 cp
#    --recursive` over a private tree of symbolic links to the listed files). Names with CR or
#    newline go with the aws CLI (rclone's list is line-based). If uploads keep failing with
#    none succeeding for OUTAGE_SECONDS the upload is stopped and the run fails.
# 5. Verify: the prefix is listed again; every file of this part must be there with its size
#    and the ETag its content gives (S3 computes ETags from the bytes it stored). A file that
#    changed between hashing and upload fails here, is never recorded, and is sent again by a
#    re-run. Then the manifest (JSON lines, one per file, byte order of paths: path, size,
#    mtime, ctime, sha256, etag) is stored at prefix + .relocation-manifest/shard-I-of-N.jsonl,
#    unless the stored one is already identical, and checked by its ETag.
# Links and special files: symbolic links are neither followed nor copied; they, and
# FIFOs/sockets/devices, are counted and the first few named on stderr. Empty directories have
# no S3 representation and are not recorded.
# Stdout, last line: {"bucket","prefix","files","bytes","uploaded","skipped","verifiedAt",
# "tool","shard","shards","treeFiles","treeBytes","hashed","manifestKey","manifestSha256","newest"}:
# newest is the tree's newest mtime (UTC, to the second; "" without files),
# files/bytes/uploaded/skipped are this shard's (the whole tree with one shard), skipped counts
# files already at the destination, hashed the files read to hash them, verifiedAt is when the
# verification finished (UTC ISO-8601), tree* count the whole tree.
# With PLAN_ONLY=true instead: {"bucket","prefix","treeFiles","treeBytes","files","bytes",
# "inS3Files","inS3Bytes","recordedFiles","deltaFiles","deltaBytes","newest"}: inS3 are files
# with an object of their size, recorded those a manifest vouches for (not hashed by up), delta
# the files with no object of their size (the least up sends; the inS3 files not recorded are
# hashed by up and sent too if their content differs).
# Failure: exit 1 and one last stderr line "sync-dir: ERROR: ..."; SIGTERM stops the children.
set -euo pipefail
shopt -s lastpipe

# shellcheck disable=SC1091 # shipped next to this script by both executors
. "$(dirname -- "${BASH_SOURCE[0]}")/copy-common.sh" sync-dir

require_tools aws awk find sort xargs cp stat date mktemp md5sum sha256sum split grep timeout mkfifo dd tee
SYNC_AWK="$(dirname -- "${BASH_SOURCE[0]}")/sync-dir.awk"
[[ -r "$SYNC_AWK" ]] || fail "$SYNC_AWK is missing: ship it next to sync-dir.sh"
[[ -n "${SOURCE_DIR:-}" ]] || fail "SOURCE_DIR is required"
[[ -n "${DEST_URI:-}" ]] || fail "DEST_URI is required"
PROGRESS_SECONDS="${PROGRESS_SECONDS:-30}"
OUTAGE_SECONDS="${OUTAGE_SECONDS:-120}"
require_uint PROGRESS_SECONDS "$PROGRESS_SECONDS" 1
require_uint OUTAGE_SECONDS "$OUTAGE_SECONDS" 1
cpus=$(nproc 2>/dev/null || echo 2)
HASH_CONCURRENCY="${HASH_CONCURRENCY:-$((cpus < 2 ? 2 : cpus))}"
require_uint HASH_CONCURRENCY "$HASH_CONCURRENCY" 1
case "${ALLOW_EMPTY_TREE:-false}" in
true | false) ;;
*) fail "ALLOW_EMPTY_TREE must be true or false, got '$ALLOW_EMPTY_TREE'" ;;
esac
case "${PLAN_ONLY:-false}" in
true | false) ;;
*) fail "PLAN_ONLY must be true or false, got '$PLAN_ONLY'" ;;
esac
REHASH="${REHASH:-false}"
case "$REHASH" in
true | false) ;;
*) fail "REHASH must be true (read every file again) or false (the default), got '$REHASH'" ;;
esac
SHARD_COUNT="${SHARD_COUNT:-1}"
SHARD_INDEX="${SHARD_INDEX:-${JOB_COMPLETION_INDEX:-0}}"
SHARD_FILE_WEIGHT_BYTES="${SHARD_FILE_WEIGHT_BYTES:-16384}"
require_uint SHARD_COUNT "$SHARD_COUNT" 1
[[ -z "${NOT_BEFORE:-}" ]] || require_time NOT_BEFORE "$NOT_BEFORE"
require_uint SHARD_INDEX "$SHARD_INDEX"
require_uint SHARD_FILE_WEIGHT_BYTES "$SHARD_FILE_WEIGHT_BYTES"
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

# Listing records: "type/size/mtime/ctime/path<NUL>" ('/' separates: the fields before the path
# cannot hold one, and read gives the last field the rest untouched, tabs and spaces included,
# which IFS=<TAB> would strip from its ends); mtime is UTC with a
# fraction (2024-05-01T10:00:05.7000000000), ctime seconds.fraction (changes on every write,
# and no one can set it back).
readonly STAT_FORMAT='%s/%TY-%Tm-%TdT%TH:%TM:%TS/%C@'
readonly MANIFEST_DIR=".relocation-manifest"
manifest_key="$DEST_PREFIX$MANIFEST_DIR/shard-$SHARD_INDEX-of-$SHARD_COUNT.jsonl"

# Runs one pass of sync-dir.awk over INPUT (NAME=value settings for it after that); its summary
# line (stdout) into $PASS_OUT. The lists it writes are emptied first (awk creates a file only
# when it writes to it).
sync_pass() { # pass input [NAME=value ...]
  local pass=$1 input=$2 list
  local -a lists
  shift 2
  case "$pass" in
  scan) lists=(regular scan.links scan.others scan.unreadable scan.too_long scan.reserved) ;;
  shard) lists=(mine) ;;
  listing) lists=(remote manifest-keys) ;;
  delta) lists=(known) ;;
  todo) lists=(not-hashed todo.nul todo.abs todo.lst) ;;
  uploads) lists=(abort-list) ;;
  verify) lists=(manifest.jsonl.unsorted verify.changed verify.missing verify.different verify.other-content) ;;
  *) lists=() ;;
  esac
  for list in "${lists[@]+"${lists[@]}"}"; do : >"$WORK_DIR/$list"; done
  run_child env PASS="$pass" WORK_DIR="$WORK_DIR" SOURCE_DIR="$SOURCE_DIR" DEST_PREFIX="$DEST_PREFIX" \
    MANIFEST_DIR="$MANIFEST_DIR" "$@" LC_ALL=C awk -f "$SYNC_AWK" -- "$input" \
    >"$WORK_DIR/pass.out" 2>"$WORK_DIR/awk.err" ||
    fail "the $pass pass over the file list failed: $(head -c 500 "$WORK_DIR/awk.err")"
  PASS_OUT=$(<"$WORK_DIR/pass.out")
}

first() { # up to 5 names, quoted, each cut to 300 bytes, and how many more
  local out="" name
  for name in "${@:1:5}"; do out+="${out:+, }'${name:0:300}'"; done
  if (($# > 5)); then out+=", ... ($(($# - 5)) more)"; fi
  printf '%s' "$out"
}

# 1. What is there: regular readable files (f), unreadable ones (u), links and the rest.
log "scanning $SOURCE_DIR"
find_status=0
TZ=UTC run_child find "$SOURCE_DIR" -mindepth 1 \
  \( -type f -readable -printf "f/$STAT_FORMAT/%P\0" \) -o \
  \( -type f -printf "u/$STAT_FORMAT/%P\0" \) -o \
  \( -type d ! -readable -printf 'D/0/-/-/%P\0' \) -o \
  \( -type d ! -executable -printf 'D/0/-/-/%P\0' \) -o \
  \( ! -type d -printf '%y/0/-/-/%P\0' \) \
  >"$WORK_DIR/scan" 2>"$WORK_DIR/find.err" || find_status=$?
sync_pass scan "$WORK_DIR/scan"
read -r tree_files tree_bytes newest <<<"$PASS_OUT"
mapfile -d '' links <"$WORK_DIR/scan.links"
mapfile -d '' others <"$WORK_DIR/scan.others"
mapfile -d '' unreadable <"$WORK_DIR/scan.unreadable"
((${#links[@]} == 0)) || log "not copied: ${#links[@]} symbolic link(s) (not followed): $(first "${links[@]}")"
((${#others[@]} == 0)) || log "not copied: ${#others[@]} FIFO/socket/device file(s): $(first "${others[@]}")"
((${#unreadable[@]} == 0)) ||
  fail "cannot read ${#unreadable[@]} file(s) or directory(ies) as $(id -un) (uid $(id -u)): $(first "${unreadable[@]}"); fix their permissions, nothing was copied"
find_errors=$(grep -ac . "$WORK_DIR/find.err" || true)
((find_errors == 0 && find_status == 0)) ||
  fail "find could not read $find_errors path(s) under $SOURCE_DIR as $(id -un): $(head -n 1 "$WORK_DIR/find.err" | cut -c1-1000); nothing was copied"
# S3 keys are UTF-8: a name in other bytes cannot be stored as it is (the records' other
# fields are ASCII, so a record that is not UTF-8 is a name that is not).
[[ -n "$(printf 'x\xff\0' | LC_ALL=C.UTF-8 grep -zavx '.*' 2>/dev/null | tr -d '\0')" ]] ||
  fail "the C.UTF-8 locale is missing, so file names cannot be checked; use an image that has it"
not_utf8=()
while IFS=/ read -r -d '' _ _ _ _ rel; do not_utf8+=("$rel"); done < <(LC_ALL=C.UTF-8 grep -zavx '.*' "$WORK_DIR/regular" || true)
((${#not_utf8[@]} == 0)) ||
  fail "${#not_utf8[@]} file name(s) are not valid UTF-8, which S3 keys must be: $(first "${not_utf8[@]}"); rename them (e.g. convmv -f latin1 -t utf8), nothing was copied"
mapfile -d '' too_long <"$WORK_DIR/scan.too_long"
mapfile -d '' reserved <"$WORK_DIR/scan.reserved"
((${#too_long[@]} == 0)) ||
  fail "${#too_long[@]} file(s) would get an S3 key over 1024 bytes: $(first "${too_long[@]}"); shorten their paths or the prefix, nothing was copied"
((${#reserved[@]} == 0)) ||
  fail "the tree has a top-level $MANIFEST_DIR, where the manifests are stored: $(first "${reserved[@]}"); rename it, nothing was copied"
if ((tree_files == 0)); then
  [[ "${ALLOW_EMPTY_TREE:-false}" == true ]] ||
    fail "$SOURCE_DIR has no regular files; an NFS export that failed to mount looks exactly like this. Check the mount, or allow an empty tree (ALLOW_EMPTY_TREE=true) if it really is empty"
  log "warning: $SOURCE_DIR has no regular files (ALLOW_EMPTY_TREE=true)"
fi
newest="${newest:+${newest%.*}Z}"
if [[ -n "${NOT_BEFORE:-}" && "$newest" < "$NOT_BEFORE" ]]; then
  fail "NOT_BEFORE $NOT_BEFORE not met: the newest file in $SOURCE_DIR is from ${newest:-nowhere (no files)}; nothing copied"
fi

# 2. This shard's part (the whole tree with one shard).
if ((SHARD_COUNT == 1)); then
  mv -- "$WORK_DIR/regular" "$WORK_DIR/mine"
  files=$tree_files bytes=$tree_bytes
else
  sort -z -T "$WORK_DIR" -t / -k2,2nr -k5 -o "$WORK_DIR/regular.sorted" -- "$WORK_DIR/regular"
  sync_pass shard "$WORK_DIR/regular.sorted" SHARD_COUNT="$SHARD_COUNT" SHARD_INDEX="$SHARD_INDEX" \
    SHARD_FILE_WEIGHT_BYTES="$SHARD_FILE_WEIGHT_BYTES"
  read -r files bytes <<<"$PASS_OUT"
fi
log "$files regular file(s), $bytes bytes$shard_name of $tree_files file(s), $tree_bytes bytes in the tree, to $dest"

# The destination into $WORK_DIR/remote (size/etag/rel records) and the manifests' keys into
# manifest-keys. Keys come URL-encoded (%XX, '+' for a space in AWS's encoding), so every byte
# survives the text output.
list_destination() {
  s3 s3api list-objects-v2 --bucket "$DEST_BUCKET" --prefix "$DEST_PREFIX" --encoding-type url \
    --query 'Contents[].[Size, ETag, Key]' --output text >"$WORK_DIR/listing" ||
    fail "$(s3_error "list $dest")"
  sync_pass listing "$WORK_DIR/listing"
}

# 3. What to send.
# Asked now, so their aws CLI start-up overlaps the listing: this shard's own manifest (read
# below when the listing has it) and, unless this is a plan, the unfinished multipart uploads
# (used after the upload step when nothing was sent: this run then made none).
start_background manifest s3api get-object --bucket "$DEST_BUCKET" --key "$manifest_key" \
  "$WORK_DIR/bg.manifest.jsonl" --query 'Metadata.sha256' --output text
if [[ "${PLAN_ONLY:-false}" == false ]]; then
  start_background uploads s3api list-multipart-uploads --bucket "$DEST_BUCKET" \
    --prefix "$DEST_PREFIX" --encoding-type url --query 'Uploads[].[UploadId, Key]' --output text
fi
list_destination
# Previous manifests (of any shard split: a file may have moved between shards), each used only
# if its bytes have the SHA-256 stored with it (a manifest vouches for what is not read again).
# REHASH=true: none used, every file is read. One sed pass turns the lines into
# "json-path<TAB>size mtime ctime etag sha256" (bash's own regex matching cost ~0.3 ms a line).
old_manifest_sha=""
: >"$WORK_DIR/prev.tsv"
mapfile -d '' manifest_objects <"$WORK_DIR/manifest-keys"
for key in "${manifest_objects[@]+"${manifest_objects[@]}"}"; do
  if [[ "$key" == "$manifest_key" ]] && background_status manifest; then
    mv -- "$WORK_DIR/bg.manifest.jsonl" "$WORK_DIR/prev.jsonl"
    stored_sha=$(<"$WORK_DIR/bg.manifest.out")
  else
    stored_sha=$(s3 s3api get-object --bucket "$DEST_BUCKET" --key "$key" "$WORK_DIR/prev.jsonl" \
      --query 'Metadata.sha256' --output text) ||
      fail "$(s3_error "read the manifest s3://$DEST_BUCKET/$key")"
  fi
  got_sha=$(sha256sum <"$WORK_DIR/prev.jsonl" | cut -c1-64)
  [[ "$key" != "$manifest_key" ]] || old_manifest_sha=$got_sha
  if [[ "$stored_sha" != "$got_sha" ]]; then
    log "warning: the manifest s3://$DEST_BUCKET/$key does not have its recorded SHA-256 (${stored_sha:0:64} recorded, $got_sha read): not used, its files are read again"
    continue
  fi
  [[ "$REHASH" == false ]] || continue
  sed -nE 's/^\{"path":("([^"\\]|\\.)*"),"size":([0-9]+),"mtime":"([^"]*)Z","ctime":"([^"]*)","sha256":"([0-9a-f]{64})","etag":"([^"]*)"\}$/\1\t\3 \4 \5 \7 \6/p' \
    -- "$WORK_DIR/prev.jsonl" >>"$WORK_DIR/prev.tsv"
done
streams=$(((HASH_CONCURRENCY + 1) / 2)) # a small-file batch runs MD5 and SHA-256 side by side
sync_pass delta "$WORK_DIR/mine" STREAMS="$streams" MULTIPART_THRESHOLD_BYTES="$MULTIPART_THRESHOLD_BYTES" \
  MULTIPART_CHUNKSIZE_BYTES="$MULTIPART_CHUNKSIZE_BYTES"
read -r hashed hashed_bytes in_s3 in_s3_bytes prev_entries <<<"$PASS_OUT"
((${#manifest_objects[@]} == 0)) || log "read ${#manifest_objects[@]} previous manifest(s): $prev_entries entries$([[ "$REHASH" == false ]] || echo ", not used (REHASH=true)")"

# The plan (PLAN_ONLY): the delta as far as sizes and manifests tell, nothing read or written.
if [[ "${PLAN_ONLY:-false}" == true ]]; then
  log "plan: $files file(s), $bytes bytes; in $dest with that size: $in_s3 ($((files - hashed)) recorded by a manifest); to send: at least $((files - in_s3)) file(s), $((bytes - in_s3_bytes)) bytes; nothing hashed or uploaded"
  emit_result "{\"bucket\":$(json_str "$DEST_BUCKET"),\"prefix\":$(json_str "$DEST_PREFIX"),\"treeFiles\":$tree_files,\"treeBytes\":$tree_bytes,\"files\":$files,\"bytes\":$bytes,\"inS3Files\":$in_s3,\"inS3Bytes\":$in_s3_bytes,\"recordedFiles\":$((files - hashed)),\"deltaFiles\":$((files - in_s3)),\"deltaBytes\":$((bytes - in_s3_bytes)),\"newest\":\"$newest\"}"
  exit 0
fi

# Hash: each file is read ONCE and that read feeds both digests (MD5, per part above
# MULTIPART_THRESHOLD_BYTES, and SHA-256), so the sha256 recorded describes the bytes whose
# ETag the verification compares with the ETag S3 computed from what it stored. (Separate reads
# could see different bytes when a write moves no size, mtime or ctime: a shared mmap page
# already dirty, an NFS client's attribute cache.) HASH_CONCURRENCY streams.
# Small files, in batches (no process per file): `cp -R` reads each once into a private copy,
# and the copies are hashed (from the page cache). cp -R recreates a FIFO, socket or device
# swapped in after the scan instead of opening it, so nothing blocks; such a copy fails the run.
# Multipart files, one at a time: dd opens with O_NONBLOCK and reads at most size + 1 bytes
# (a FIFO gives EOF or EAGAIN, a device a bounded read), tee feeds split (per-part MD5s) and
# sha256sum; then the name must still be a regular file.
# Records: "sha256 etag rel<NUL>" (the multipart ETag from the part digests at once);
# failures "reason/rel<NUL>". The delta pass dealt the files to the streams.
hash_started=$SECONDS
# OpenSSL's SHA-256 where it gives the right digest (of nothing, here), else coreutils'.
sha_tool=sha256sum
if [[ "$(openssl dgst -sha256 -r </dev/null 2>/dev/null | cut -c1-64)" == e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ]]; then
  sha_tool=openssl
fi
if ((hashed > 0)); then
  log "hashing $hashed file(s), $hashed_bytes bytes (not recorded with this size, mtime and ctime and this ETag)"
  cd -- "$SOURCE_DIR"
  # shellcheck disable=SC2016 # expanded by the inner bash
  run_child bash -c '
    set -o pipefail
    dir=$1 awk_file=$2 streams=$3 sha_tool=$4
    # SHA-256 of the listed names (NUL) as `sha256sum -z` prints them. OpenSSL uses the CPU'"'"'s
    # SHA instructions (~4x coreutils here); its lines are matched to the names in order, and
    # a batch whose lines do not match (an escaping this awk does not know) falls back.
    sha256_list() { # names -> stdout
      if [[ "$sha_tool" == openssl ]] &&
        xargs -0 -r openssl dgst -sha256 -r <"$1" >"$1.openssl" 2>/dev/null &&
        PASS=openssl-sha OPENSSL_OUT="$1.openssl" LC_ALL=C awk -f "$awk_file" -- "$1"; then
        return 0
      fi
      xargs -0 -r sha256sum -z -- <"$1"
    }
    hex_bytes() {
      local esc="" i
      for ((i = 0; i < ${#1}; i += 2)); do esc+="\\x${1:i:2}"; done
      printf "%b" "$esc"
    }
    sha_stdin=(sha256sum)
    [[ "$sha_tool" != openssl ]] || sha_stdin=(openssl dgst -sha256 -r)
    hash_stream() {
      local s=$1 out="$dir/hashes.$1" bad="$dir/hash-bad.$1" tmp="$dir/hash-tmp.$1" batch size part rel sha parts
      mkfifo -- "$tmp.fifo"
      for batch in "$dir/hash-batch.$s".*; do # small files: copied (one read each), copies hashed
        [[ -e "$batch" ]] || continue
        rm -rf -- "$tmp.copy" && mkdir -- "$tmp.copy"
        xargs -0 -r cp -R -P --parents -t "$tmp.copy" -- <"$batch" 2>>"$tmp.err"
        (
          cd -- "$tmp.copy" || exit 1
          find . -mindepth 1 ! -type d ! -type f -printf "nonregular/%P\0" >>"$bad"
          # "./": a file named "-" is a file, not stdin, to md5sum and sha256sum.
          find . -type f -printf "./%P\0" >"$tmp.names"
          xargs -0 -r md5sum -z -- <"$tmp.names" >"$tmp.md5" &
          sha256_list "$tmp.names" >"$tmp.sha" || exit 1
          wait "$!"
        ) || true
        PASS=pair SHA="$tmp.sha" LC_ALL=C awk -f "$awk_file" -- "$tmp.md5" >>"$out"
        rm -rf -- "$tmp.copy"
      done
      [[ -e "$dir/hash-big.$s" ]] || return 0
      while IFS=/ read -r -d "" size part rel; do # multipart files, one at a time
        split -b "$part" --filter=md5sum <"$tmp.fifo" | cut -c1-32 | tr -d "\n" >"$tmp.md5" &
        sha=$(dd if="./$rel" iflag=nonblock,count_bytes count=$((size + 1)) bs=1M status=none 2>>"$tmp.err" |
          tee -- "$tmp.fifo" | "${sha_stdin[@]}") || sha=""
        wait "$!" || sha=""
        if [[ -L "./$rel" || (-e "./$rel" && ! -f "./$rel") ]]; then
          printf "nonregular/%s\0" "$rel" >>"$bad"
          continue
        fi
        parts=""
        read -r parts _ <"$tmp.md5" || true # no newline after the part digests
        if [[ -n "$sha" && -n "$parts" ]]; then
          printf "%s %s-%s %s\0" "${sha:0:64}" "$(hex_bytes "$parts" | md5sum | cut -c1-32)" \
            "$((${#parts} / 32))" "$rel" >>"$out"
        fi
      done <"$dir/hash-big.$s"
    }
    for ((i = 0; i < streams; i++)); do hash_stream "$i" & done
    rc=0
    for job in $(jobs -p); do wait "$job" || rc=1; done
    exit "$rc"' _ "$WORK_DIR" "$SYNC_AWK" "$streams" "$sha_tool" || true
  cd - >/dev/null
  for ((i = 0; i < streams; i++)); do
    if [[ -s "$WORK_DIR/hash-bad.$i" ]]; then
      IFS=/ read -r -d '' reason rel <"$WORK_DIR/hash-bad.$i"
      [[ "$reason" != nonregular ]] ||
        fail "$rel is no longer a regular file (replaced by a FIFO, socket, device or link after the scan); nothing was sent. Re-run once the tree is quiet"
      fail "cannot hash $rel (removed or unreadable while being read: $(cat -- "$WORK_DIR"/hash-tmp.*.err 2>/dev/null | head -n 1 | cut -c1-500)); re-run once the tree is quiet"
    fi
  done
  log "hashed $hashed file(s) in $((SECONDS - hash_started))s"
fi

# Every file's digests: vouched for by a manifest (known) or hashed now.
cat -- "$WORK_DIR/known" "$WORK_DIR"/hashes.* >"$WORK_DIR/digests" 2>/dev/null || true
sync_pass todo "$WORK_DIR/mine"
read -r planned planned_bytes line_break_names <<<"$PASS_OUT"
if [[ -s "$WORK_DIR/not-hashed" ]]; then
  IFS= read -r -d '' rel <"$WORK_DIR/not-hashed"
  fail "cannot hash $rel (removed or unreadable while being read: $(cat -- "$WORK_DIR"/hash-tmp.*.err 2>/dev/null | head -n 1 | cut -c1-500)); re-run once the tree is quiet"
fi
if [[ "$tool" == rclone ]] && ((line_break_names > 0)); then
  log "$line_break_names file name(s) with a newline or CR: rclone's file list cannot carry them; using the aws CLI"
  tool=aws
fi
log "to send: $planned file(s), $planned_bytes bytes; already there with this content: $((files - planned)) file(s); tool: $tool, $CONCURRENCY in parallel"

# 4. Send the list.
stage="$WORK_DIR/stage"
prepare_aws() {
  mkdir -p -- "$stage"
  # Links to exactly the listed files, at their paths (cp --parents keeps the absolute path).
  xargs -0 -r cp -s --parents -t "$stage" -- <"$WORK_DIR/todo.abs" 2>"$WORK_DIR/stage.err" ||
    fail "cannot prepare the upload list in $stage: $(head -n 1 "$WORK_DIR/stage.err")"
  UPLOAD=(aws ${ENDPOINT_ARGS[@]+"${ENDPOINT_ARGS[@]}"} s3 cp --recursive --follow-symlinks --no-progress
    ${SSE_ARGS[@]+"${SSE_ARGS[@]}"} "$stage$SOURCE_DIR/" "$dest")
}
prepare_rclone() {
  : >"$WORK_DIR/rclone.conf"
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
  # --retries 1: a failed run fails (a re-run resumes) instead of sending the list again;
  # encodings None: names go up byte for byte (rclone would otherwise rewrite some characters);
  # --no-unicode-normalization: "café" as NFC and as NFD are two files, not one (rclone 1.60
  # otherwise uploads only one of them, and the other is missing on every run).
  UPLOAD=(env -u AWS_CA_BUNDLE "${settings[@]}" rclone copy "$SOURCE_DIR" "${target%/}"
    --files-from-raw "$WORK_DIR/todo.lst" --local-encoding None --s3-encoding None
    --no-unicode-normalization
    --no-traverse --no-check-dest --s3-no-check-bucket --s3-no-head --use-mmap
    --transfers "$CONCURRENCY" --checkers "$CONCURRENCY" --retries 1 --low-level-retries 3
    --contimeout "${REQUEST_TIMEOUT_SECONDS}s" --timeout "${REQUEST_TIMEOUT_SECONDS}s" --stats 0 -v
    --s3-upload-cutoff "${MULTIPART_THRESHOLD_BYTES}B" --s3-chunk-size "${MULTIPART_CHUNKSIZE_BYTES}B"
    --s3-upload-concurrency 4 ${tls[@]+"${tls[@]}"})
}

uploaded=0 failed=0 next=$((SECONDS + PROGRESS_SECONDS)) upload_status=0 outage=""
progress() {
  log "progress: $uploaded file(s) uploaded so far, $failed failed, of $planned to send$shard_name; $((SECONDS - started))s elapsed"
  next=$((SECONDS + PROGRESS_SECONDS))
}
# The uploader's output so far (a line per file) counted in one awk pass: uploaded, failed;
# with a file name, its failures and notices also go there. (Not run_child: CHILD_PID is the
# uploader's.)
count_upload_lines() { # [errors-file]
  local counts
  counts=$(env PASS=upload-log ERRORS="${1:-}" LC_ALL=C awk -f "$SYNC_AWK" -- "$WORK_DIR/upload.out") ||
    fail "cannot read the uploader's output: the upload-log pass failed"
  read -r uploaded failed <<<"$counts"
}
: >"$WORK_DIR/sync.err"
if ((planned > 0)); then
  "prepare_$tool"
  # The output goes to a file, counted once a second (bash reads a pipe a byte at a time: ~3 s
  # of CPU for 20,000 lines); the FIFO only tells when the uploader and all its processes ended
  # (they hold its write end) and paces the loop without a process per tick.
  : >"$WORK_DIR/upload.out"
  mkfifo -- "$WORK_DIR/upload.alive"
  timeout -k 10 0 "${UPLOAD[@]}" >"$WORK_DIR/upload.out" 2>&1 3>"$WORK_DIR/upload.alive" &
  CHILD_PID=$!
  exec {alive}<"$WORK_DIR/upload.alive"
  last_ok=$SECONDS seen_ok=0
  while :; do
    status=0
    read -r -t 1 -u "$alive" _ || status=$? # > 128: a second passed; else the uploader ended
    count_upload_lines
    if ((uploaded > seen_ok)); then seen_ok=$uploaded last_ok=$SECONDS; fi
    ((status > 128)) || break
    ((SECONDS < next)) || progress
    if ((failed > 0 && SECONDS - last_ok >= OUTAGE_SECONDS)) && [[ -z "$outage" ]]; then
      outage="uploads failing and none succeeded for ${OUTAGE_SECONDS}s (OUTAGE_SECONDS)"
      log "stopping the upload: $outage"
      kill -TERM "$CHILD_PID" 2>/dev/null || true
    fi
  done
  exec {alive}<&-
  wait "$CHILD_PID" || upload_status=$?
  CHILD_PID=""
  count_upload_lines "$WORK_DIR/sync.err"
  progress
fi
# Incomplete multipart uploads of this part's files: a killed uploader, or one S3 stopped
# answering mid-file, leaves their parts stored, billed and invisible to listings. The upload
# has ended, so every one left under the prefix for a key of this part is a leftover (of this
# run or an earlier one): aborted. Other keys (another shard's, anyone else's) are left alone.
# S3 not answering (an outage): skipped, the next run does it.
abort_leftover_uploads() {
  if ((planned == 0)) && background_status uploads; then
    mv -- "$WORK_DIR/bg.uploads.out" "$WORK_DIR/uploads"
  else
    s3 s3api list-multipart-uploads --bucket "$DEST_BUCKET" --prefix "$DEST_PREFIX" --encoding-type url \
      --query 'Uploads[].[UploadId, Key]' --output text >"$WORK_DIR/uploads" || {
      log "warning: $(s3_error "list incomplete multipart uploads under $dest"); a re-run aborts this part's"
      return 0
    }
  fi
  sync_pass uploads "$WORK_DIR/uploads" # abort-list: "id<NUL>key<NUL>" of this part's keys
  local id key aborted=0 kept=()
  while IFS= read -r -d '' -u 3 id && IFS= read -r -d '' -u 3 key; do
    if s3 s3api abort-multipart-upload --bucket "$DEST_BUCKET" --key "$key" --upload-id "$id"; then
      aborted=$((aborted + 1))
    else
      kept+=("${key#"$DEST_PREFIX"}")
    fi
  done 3<"$WORK_DIR/abort-list"
  ((aborted == 0)) || log "aborted $aborted incomplete multipart upload(s) of this part's files under $dest"
  ((${#kept[@]} == 0)) ||
    log "warning: could not abort ${#kept[@]} incomplete multipart upload(s) ($(s3_error "abort them")): $(first "${kept[@]}"); a re-run tries again"
}
if [[ -n "$outage" ]]; then
  log "not looking for incomplete multipart uploads while S3 does not answer; the next run aborts them"
else
  abort_leftover_uploads
fi
first_failure() { grep -a -m 1 -E '^upload failed:|Failed to copy' "$WORK_DIR/sync.err" | cut -c1-300; }
if [[ -n "$outage" ]]; then
  fail "S3 stopped accepting uploads to $dest: $outage; $uploaded file(s) were sent, $failed failed; first failure: $(first_failure). Re-run to resume: files already there are not sent again"
fi
if ((upload_status != 0)) && ! [[ "$tool" == aws && "$upload_status" == 2 ]]; then
  grep -av '^Attempt ' "$WORK_DIR/sync.err" >"$WORK_DIR/aws.err" || true
  grep -q . "$WORK_DIR/aws.err" || echo "$tool exited with $upload_status" >"$WORK_DIR/aws.err"
  fail "$(s3_error "copy to $dest")$( ((failed == 0)) || printf '; first failure: %s' "$(first_failure)"); $uploaded file(s) were sent, $failed failed. Re-run to resume: files already there are not sent again"
fi
if ((upload_status == 2)); then
  log "aws s3 cp skipped some files: $(grep -a -m 1 -i 'warning' "$WORK_DIR/sync.err" | cut -c1-1000 || echo 'see above')"
fi

# 5. Verify: every regular file of this part at the destination with its size and the ETag of
# the content we hashed.
log "verifying $dest$shard_name"
# The tree's state now: a file whose size, mtime or ctime moved since the scan was written to
# while it was hashed or sent, so its digests may describe other bytes than the object's.
# Nothing read (hashed 0): every line is a previous manifest's, whose digests are the stored
# object's (its ETag is still the recorded one), whatever the file does now; no rescan.
rescan=""
if ((hashed > 0)); then
  rescan="$WORK_DIR/rescan"
  TZ=UTC run_child find "$SOURCE_DIR" -mindepth 1 -type f -printf "$STAT_FORMAT/%P\0" >"$rescan" 2>/dev/null || true
fi
# Nothing sent: the delta's listing is still the destination's state (list once, not twice).
if ((planned > 0)); then list_destination; fi
sync_pass verify "$WORK_DIR/mine" RESCAN="$rescan"
mapfile -d '' missing <"$WORK_DIR/verify.missing"
mapfile -d '' different <"$WORK_DIR/verify.different"
mapfile -d '' changed <"$WORK_DIR/verify.changed"
mapfile -d '' other_content <"$WORK_DIR/verify.other-content"
if ((${#missing[@]} + ${#different[@]} + ${#changed[@]} + ${#other_content[@]} > 0)); then
  problems=()
  ((${#missing[@]} == 0)) || problems+=("${#missing[@]} file(s) missing: $(first "${missing[@]}")")
  ((${#different[@]} == 0)) || problems+=("${#different[@]} file(s) with a different size: $(first "${different[@]}")")
  ((${#other_content[@]} == 0)) || problems+=("${#other_content[@]} file(s) with other content (an SSE-KMS bucket default also changes ETags): $(first "${other_content[@]}")")
  ((${#changed[@]} == 0)) || problems+=("${#changed[@]} file(s) changed or removed while being copied (is something still writing to the tree?): $(first "${changed[@]}")")
  fail "verification failed for $dest$shard_name: ${problems[*]}; nothing recorded for them, a re-run sends them again"
fi
verified_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# The manifest, in byte order of the JSON-escaped paths, next to the tree.
sort -T "$WORK_DIR" -o "$WORK_DIR/manifest.jsonl" -- "$WORK_DIR/manifest.jsonl.unsorted"
manifest_sha=$(sha256sum <"$WORK_DIR/manifest.jsonl" | cut -c1-64)
if [[ "$manifest_sha" == "$old_manifest_sha" ]]; then
  log "manifest s3://$DEST_BUCKET/$manifest_key unchanged (sha256 $manifest_sha)"
else
  # The answer's ETag is S3's MD5 of what it stored (no second request to ask for it).
  got=$(s3 s3api put-object --bucket "$DEST_BUCKET" --key "$manifest_key" --body "$WORK_DIR/manifest.jsonl" \
    --content-type application/x-ndjson --metadata "sha256=$manifest_sha" \
    --checksum-algorithm SHA256 --checksum-sha256 "$(hex_bytes "$manifest_sha" | base64 -w0)" \
    ${PUT_SSE_ARGS[@]+"${PUT_SSE_ARGS[@]}"} --query ETag --output text) ||
    fail "$(s3_error "store the manifest s3://$DEST_BUCKET/$manifest_key")"
  [[ "${got//\"/}" == "$(md5sum <"$WORK_DIR/manifest.jsonl" | cut -c1-32)" ]] ||
    fail "the manifest s3://$DEST_BUCKET/$manifest_key does not hold what was sent (ETag $got); re-run"
  log "manifest stored: s3://$DEST_BUCKET/$manifest_key (sha256 $manifest_sha)"
fi
elapsed=$((SECONDS - started))
log "verified: all $files file(s), $bytes bytes$shard_name, at $dest (size and content); $planned sent now, $((files - planned)) already there, $hashed hashed; ${elapsed}s"
if ((uploaded != planned && upload_status == 0)); then
  log "note: $tool reported $uploaded upload(s) for $planned listed; the verification above is what counts"
fi

emit_result "{\"bucket\":$(json_str "$DEST_BUCKET"),\"prefix\":$(json_str "$DEST_PREFIX"),\"files\":$files,\"bytes\":$bytes,\"uploaded\":$planned,\"skipped\":$((files - planned)),\"verifiedAt\":\"$verified_at\",\"tool\":\"$tool\",\"shard\":$SHARD_INDEX,\"shards\":$SHARD_COUNT,\"treeFiles\":$tree_files,\"treeBytes\":$tree_bytes,\"hashed\":$hashed,\"manifestKey\":$(json_str "$manifest_key"),\"manifestSha256\":\"$manifest_sha\",\"newest\":\"$newest\"}"
