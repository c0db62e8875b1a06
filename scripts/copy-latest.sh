#!/usr/bin/env bash
# Copies the newest complete database backup from SOURCE_DIR to S3, verified, never overwriting.
#
# Env:
#   SOURCE_DIR        directory holding the backups (e.g. .../hourly); only read, never written
#   DEST_URI          s3://bucket/prefix/ (the object key is prefix + file name)
#   PATTERN           file-name glob (default backup-*-dumpall.sql.gz)
#   SELECT            an exact file name to copy instead of the newest (optional)
#   MIN_AGE_SECONDS   skip files modified more recently than this (default 120: still being written)
#   NOT_BEFORE        UTC ISO-8601 (2023-10-16T12:00:00Z), a real calendar time: fail if the
#                     chosen backup is older; a file named later but last modified earlier is
#                     skipped (its content is older than its name)
#   FUTURE_SKEW_SECONDS  how far past this host's clock a name's time may be (default 300);
#                     a file named later is skipped (a skewed clock or a hand-made name)
#   SINGLE_PUT_MAX_BYTES  files up to this size go in one create-only PUT (default 5 GiB)
#   PLAN_ONLY         true: choose and check as below, HEAD the key, print the plan line (see
#                     Stdout) and stop: nothing is uploaded (default false)
#   AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
#   AWS_DEFAULT_REGION: as for the aws CLI. See copy-common.sh for tuning and RESULT_FILE.
#
# Choice: newest by the ISO-8601 UTC time in the name (names whose time does not exist, such as
# 2023-02-30, or later than now + FUTURE_SKEW_SECONDS are skipped). Only regular files count: a
# symbolic link is never followed, the file is opened once and every read goes through that
# open file. Skipped, each with its reason on stderr: files younger than MIN_AGE_SECONDS, and
# files that are not a complete dump: `gzip -dc` must succeed (CRC and length) and the text must
# start with pg_dumpall's (or pg_dump's) header and end with its "dump complete" trailer, checked
# in that one decompression pass.
# Upload: with x-amz-meta-sha256 (hex SHA-256 of the content, read from stdin so no name is
# ever escaped into it) and x-amz-meta-etag (the ETag that content gives). Up to SINGLE_PUT_MAX_BYTES a single
# PUT with If-None-Match: * (S3 refuses to replace an existing key, even one written after our
# check) and x-amz-checksum-sha256 (S3 rejects the body if it does not hash to it); bigger files
# go multipart with `aws s3 cp` after the existence check (a writer racing us in between could be
# overwritten: the CLI's multipart upload has no create-only option).
# Verification: HEAD the object; size, sha256 metadata and the ETag (S3's MD5 of the bytes it
# stored, per part for multipart) must match the file as hashed, and S3's own SHA-256 checksum
# when it reports one. A file that changed between hashing and upload fails here.
# Torn upload: an object whose ETag is not the x-amz-meta-etag it was written with holds other
# bytes than its recorded checksum (a file changed during our earlier upload): a re-run replaces
# it (a plain PUT), so no manual deletion is needed. A failed run deletes nothing (the copy
# identity has no s3:DeleteObject); what it may leave is such a torn object, so a restore takes
# an object as the backup only if its bytes hash to x-amz-meta-sha256 (README "Restoring").
# Re-run: an object already holding the same content (same size and sha256, or for objects
# copied by hand the same ETag) is success without upload; different content is an error and
# nothing is overwritten.
# Stdout, last line: {"bucket","key","size","sha256","source","sourceTime","verifiedAt"};
# verifiedAt: when the object was found to hold the file (UTC ISO-8601).
# With PLAN_ONLY=true instead: {"name","key","size","mtime","ageSeconds","sourceTime","inS3"},
# inS3 one of "absent", "same" (size and sha256 metadata or ETag match: up uploads nothing),
# "different" (up would fail: nothing is overwritten), "torn" (up replaces it); the file is
# hashed only when an object of its size is there.
# Failure: exit 1 and one last stderr line "copy-latest: ERROR: ...".
set -euo pipefail

# shellcheck disable=SC1091 # shipped next to this script by both executors
. "$(dirname -- "${BASH_SOURCE[0]}")/copy-common.sh" copy-latest

require_tools aws gzip sha256sum md5sum base64 stat date sort split mktemp timeout dd tail tr wc
[[ -n "${SOURCE_DIR:-}" ]] || fail "SOURCE_DIR is required"
[[ -n "${DEST_URI:-}" ]] || fail "DEST_URI is required"
PATTERN="${PATTERN:-backup-*-dumpall.sql.gz}"
MIN_AGE_SECONDS="${MIN_AGE_SECONDS:-120}"
FUTURE_SKEW_SECONDS="${FUTURE_SKEW_SECONDS:-300}"
SINGLE_PUT_MAX_BYTES="${SINGLE_PUT_MAX_BYTES:-5368709120}"
require_uint MIN_AGE_SECONDS "$MIN_AGE_SECONDS"
require_uint FUTURE_SKEW_SECONDS "$FUTURE_SKEW_SECONDS"
require_uint SINGLE_PUT_MAX_BYTES "$SINGLE_PUT_MAX_BYTES" 1
PLAN_ONLY="${PLAN_ONLY:-false}"
[[ "$PLAN_ONLY" == true || "$PLAN_ONLY" == false ]] || fail "PLAN_ONLY must be true or false, got '$PLAN_ONLY'"
((SINGLE_PUT_MAX_BYTES <= 5368709120)) || fail "SINGLE_PUT_MAX_BYTES must be at most 5368709120 (S3's limit for one PUT), got $SINGLE_PUT_MAX_BYTES"
readonly ISO_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
[[ -z "${NOT_BEFORE:-}" ]] || require_time NOT_BEFORE "$NOT_BEFORE"
if [[ -n "${SELECT:-}" && "$SELECT" == */* ]]; then
  fail "SELECT must be a file name in SOURCE_DIR, without '/', got '$SELECT'"
fi
parse_dest_uri "$DEST_URI"

[[ -e "$SOURCE_DIR" ]] || fail "source directory $SOURCE_DIR does not exist"
[[ -d "$SOURCE_DIR" ]] || fail "source $SOURCE_DIR is not a directory"
[[ -r "$SOURCE_DIR" && -x "$SOURCE_DIR" ]] || fail "source directory $SOURCE_DIR is not readable by $(id -un)"
SOURCE_DIR="${SOURCE_DIR%/}"
case "${RESULT_FILE:-}" in "$SOURCE_DIR"/*) fail "RESULT_FILE must not be inside SOURCE_DIR" ;; esac

setup_aws

# Candidates as "time<TAB>name" lines, newest first.
candidates=()
if [[ -n "${SELECT:-}" ]]; then
  [[ -e "$SOURCE_DIR/$SELECT" ]] || fail "SELECT: $SELECT is not in $SOURCE_DIR"
  candidates=("$SELECT")
else
  glob_matches() {
    local IFS= # PATTERN globs but never splits on spaces
    shopt -s nullglob
    # shellcheck disable=SC2206 # PATTERN is meant to glob
    matches=("$SOURCE_DIR"/$PATTERN)
    shopt -u nullglob
  }
  glob_matches
  ((${#matches[@]} > 0)) || fail "no file matching '$PATTERN' in $SOURCE_DIR"
  lines=()
  for path in "${matches[@]}"; do
    name="${path##*/}"
    if [[ "$name" == *$'\n'* ]]; then
      log "skip: a name with a newline (${name//$'\n'/?}) is not supported"
    elif [[ "$name" =~ $ISO_RE ]]; then
      if is_real_time "${BASH_REMATCH[0]}"; then
        lines+=("${BASH_REMATCH[0]}"$'\t'"$name")
      else
        log "skip $name: ${BASH_REMATCH[0]} in its name is not a real time"
      fi
    else
      log "skip $name: no ISO-8601 UTC time (YYYY-MM-DDTHH:MM:SSZ) in its name"
    fi
  done
  ((${#lines[@]} > 0)) || fail "none of the ${#matches[@]} file(s) matching '$PATTERN' in $SOURCE_DIR has a time in its name"
  while IFS=$'\t' read -r _ name; do candidates+=("$name"); done \
    < <(printf '%s\n' "${lines[@]}" | LC_ALL=C sort -r)
fi

time_of() { # name -> ISO time from the name, else the file's mtime
  if [[ "$1" =~ $ISO_RE ]]; then printf '%s' "${BASH_REMATCH[0]}"; else mtime_iso "$SOURCE_DIR/$1"; fi
}

now=$(date +%s)
# The newest moment a dump's name may state: a backup pod's clock a little ahead of ours is
# fine, a name further ahead (skewed clock, hand-made file) would otherwise always win.
latest_named=$(TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T' "$((now + FUTURE_SKEW_SECONDS))")

# Opens $path as fd DUMP_FD without following a symbolic link: lstat the name, open it, and
# check the open file is that same regular file (device and inode), so a link swapped in
# between is caught. Every later read goes through /dev/fd/$DUMP_FD (the opened file, never the
# name again). Sets $reason and returns 1 if it is not a regular file.
open_dump() {
  local before after
  if [[ -L "$path" ]]; then
    reason="a symbolic link (never followed: only regular files are copied)"
    return 1
  fi
  before=$(stat -c '%F %d:%i' -- "$path" 2>/dev/null) || { reason="cannot be read (stat failed)"; return 1; }
  [[ "$before" == "regular file "* ]] || { reason="not a regular file (${before% *})"; return 1; }
  # (The group's 2>/dev/null is undone after it; on exec itself it would silence the script.)
  { exec {DUMP_FD}<"$path"; } 2>/dev/null || { reason="not readable by $(id -un)"; return 1; }
  after=$(stat -L -c '%F %d:%i' -- "/dev/fd/$DUMP_FD")
  if [[ "$after" != "$before" ]]; then
    exec {DUMP_FD}<&-
    reason="was replaced while being opened (now ${after% *}); not copied"
    return 1
  fi
}

# Whether the open dump is a complete plain-text PostgreSQL dump, in ONE decompression pass
# (busybox gzip -dc; its exit status proves the CRC and length, as gzip -t did): it must start
# with pg_dumpall's or pg_dump's header and end with the matching "dump complete" trailer, only
# "--", empty and "\unrestrict KEY" lines (PostgreSQL 15.14+) after it. pg_dumpall that dies
# mid-way while gzip closes its stream cleanly leaves valid gzip without that trailer. Sets
# $reason and returns 1 if not.
complete_dump() {
  local head tail want rest line
  rm -f -- "$WORK_DIR/gzip.rc"
  { gzip -dc <"/dev/fd/$DUMP_FD" 2>"$WORK_DIR/gzip.err" || echo "$?" >"$WORK_DIR/gzip.rc"; } |
    { dd bs=1 count=64 of="$WORK_DIR/dump.head" 2>/dev/null && tail -c 4096 >"$WORK_DIR/dump.tail"; }
  if [[ -e "$WORK_DIR/gzip.rc" ]]; then
    line=$(grep -av '^[[:space:]]*$' "$WORK_DIR/gzip.err" | tail -n 1 | cut -c1-500)
    reason="is not valid gzip (gzip -dc: ${line:-exit $(<"$WORK_DIR/gzip.rc")})"
    return 1
  fi
  # Only the last 4 KiB of the dump matter; the first 64 bytes are in dump.head.
  cat -- "$WORK_DIR/dump.tail" >>"$WORK_DIR/dump.head"
  if [[ "$(tr -d '\0' <"$WORK_DIR/dump.head" | wc -c)" != "$(wc -c <"$WORK_DIR/dump.head")" ]]; then
    reason="is not a complete PostgreSQL dump (NUL bytes: not plain SQL text)"
    return 1
  fi
  head=$(dd bs=64 count=1 <"$WORK_DIR/dump.head" 2>/dev/null)
  tail=$(tail -c 4096 -- "$WORK_DIR/dump.head" && printf x) tail="${tail%x}"
  case "$head" in
  $'--\n-- PostgreSQL database cluster dump\n'*) want="-- PostgreSQL database cluster dump complete" ;;
  $'--\n-- PostgreSQL database dump\n'*) want="-- PostgreSQL database dump complete" ;;
  *)
    reason="is not a complete PostgreSQL dump (no pg_dumpall or pg_dump header)"
    return 1
    ;;
  esac
  if [[ "$tail" != *$'\n'"$want"$'\n--\n'* ]]; then
    reason="is not a complete PostgreSQL dump (no '$want' trailer: the dump stopped mid-way)"
    return 1
  fi
  rest="${tail##*$'\n'"$want"$'\n'}"
  while IFS= read -r line; do
    case "$line" in
    "" | "--") ;;
    *)
      if ! [[ "$line" =~ ^\\unrestrict\ [A-Za-z0-9]+$ ]]; then
        reason="is not a complete PostgreSQL dump (more SQL after its '$want' trailer)"
        return 1
      fi
      ;;
    esac
  done <<<"$rest"
}

chosen="" chosen_time="" newest_found="${candidates[0]}" skipped=0 DUMP_FD=""
for name in "${candidates[@]}"; do
  path="$SOURCE_DIR/$name"
  t=$(time_of "$name")
  if [[ -n "${NOT_BEFORE:-}" && "$t" < "$NOT_BEFORE" ]]; then
    if ((skipped > 0)); then
      fail "NOT_BEFORE $NOT_BEFORE not met: the newest found, $newest_found, was skipped (reasons above) and the next, $name, is from $t"
    fi
    fail "NOT_BEFORE $NOT_BEFORE not met: the newest backup found is $name from $t"
  fi
  reason=""
  if [[ "$t" > "$latest_named" ]]; then
    clock=$(TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T' "$now")
    reason="named $t, later than this host's clock allows ($clock + FUTURE_SKEW_SECONDS=$FUTURE_SKEW_SECONDS): a skewed clock or a hand-made name"
  elif open_dump; then
    mtime=$(stat -L -c %Y -- "/dev/fd/$DUMP_FD")
    age=$((now - mtime))
    m=$(TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T' "$mtime")
    if ((age < MIN_AGE_SECONDS)); then
      reason="too young: modified ${age}s ago (< MIN_AGE_SECONDS=$MIN_AGE_SECONDS), may still be being written"
    elif [[ -n "${NOT_BEFORE:-}" ]] &&
      [[ "$(TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T' "$((mtime + FUTURE_SKEW_SECONDS))")" < "$NOT_BEFORE" ]]; then
      # The name says fresh, the file was last written before NOT_BEFORE: its content is old.
      # The mtime is the NFS server's clock, NOT_BEFORE the cluster's: the same skew is allowed.
      reason="last modified $m, before NOT_BEFORE $NOT_BEFORE (by more than FUTURE_SKEW_SECONDS=$FUTURE_SKEW_SECONDS): its content predates the time in its name"
    else
      complete_dump || true
    fi
    [[ -z "$reason" ]] || exec {DUMP_FD}<&-
  fi
  if [[ -z "$reason" ]]; then
    chosen="$name" chosen_time="$t"
    break
  fi
  [[ -n "${SELECT:-}" ]] && fail "SELECT $name is not usable: $reason"
  log "skip $name: $reason"
  skipped=$((skipped + 1))
done
[[ -n "$chosen" ]] || fail "none of the ${#candidates[@]} backup(s) matching '$PATTERN' in $SOURCE_DIR is usable (reasons above)"

path="$SOURCE_DIR/$chosen"
# The opened file itself (never the name again: it could be swapped for a link meanwhile).
src="/dev/fd/$DUMP_FD"
key="$DEST_PREFIX$chosen"
dest="s3://$DEST_BUCKET/$key"
# What the file was when hashed: size, mtime and ctime (every write changes ctime).
stat_sig() { stat -L -c '%s %.9Y %.9Z' -- "$src"; }
sig=$(stat_sig)
size="${sig%% *}"


# S3's ETag for this file uploaded by the aws CLI with multipart threshold $1 and part size $2
# (plain MD5 below the threshold; the CLI doubles the part size to stay within 10000 parts).
etag_for() {
  local threshold="$1" chunk="$2" parts hex
  if ((size < threshold)); then
    md5sum <"$src" | cut -c1-32
    return
  fi
  while (((size + chunk - 1) / chunk > 10000)); do chunk=$((chunk * 2)); done
  hex=$(split -b "$chunk" --filter='md5sum' <"$src" | cut -c1-32 | tr -d '\n')
  parts=$(((size + chunk - 1) / chunk))
  printf '%s-%s' "$(hex_bytes "$hex" | md5sum | cut -c1-32)" "$parts"
}

# SHA-256 and the ETag our upload gives this content (single PUT: MD5; else the CLI's
# multipart ETag) from ONE read (tee into a FIFO), so the two always describe the same bytes.
# A function: the plan (PLAN_ONLY) hashes only when an object of this size is at the key.
hash_file() {
  mkfifo -- "$WORK_DIR/hash.fifo"
  if ((size <= SINGLE_PUT_MAX_BYTES || size < MULTIPART_THRESHOLD_BYTES)); then
    md5sum <"$WORK_DIR/hash.fifo" | cut -c1-32 >"$WORK_DIR/md5" &
  else
    chunk=$MULTIPART_CHUNKSIZE_BYTES
    while (((size + chunk - 1) / chunk > 10000)); do chunk=$((chunk * 2)); done
    split -b "$chunk" --filter=md5sum <"$WORK_DIR/hash.fifo" | cut -c1-32 | tr -d '\n' >"$WORK_DIR/parts" &
  fi
  md5_job=$!
  tee -- "$WORK_DIR/hash.fifo" <"$src" | sha256sum | cut -c1-64 >"$WORK_DIR/sha256"
  wait "$md5_job"
  if [[ -s "$WORK_DIR/parts" ]]; then
    parts=$(<"$WORK_DIR/parts")
    our_etag="$(hex_bytes "$parts" | md5sum | cut -c1-32)-$((${#parts} / 32))"
  else
    our_etag=$(<"$WORK_DIR/md5")
  fi
  sha256=$(<"$WORK_DIR/sha256")
  log "chose $chosen ($chosen_time, $size bytes, sha256 $sha256)"
  # Base64 of the binary digest, as S3 reports x-amz-checksum-sha256.
  sha256_b64=$(hex_bytes "$sha256" | base64 -w0)
}
[[ "$PLAN_ONLY" == true ]] || hash_file

# HEAD the key: sets H_SIZE H_SHA H_ETAG H_META_ETAG H_CHECKSUM H_SSE; returns 1 if there is
# no object.
head_object() {
  local out
  if ! out=$(s3 s3api head-object --bucket "$DEST_BUCKET" --key "$key" --checksum-mode ENABLED \
    --query '[ContentLength, Metadata.sha256, ETag, ChecksumSHA256, ServerSideEncryption, Metadata.etag]' \
    --output text); then
    grep -qE '\(404\)|Not Found|NoSuchKey' "$WORK_DIR/aws.err" && return 1
    # AWS answers a HEAD of a missing key with 403 when ListBucket is granted per prefix only (the
    # copy policy): absent, as far as we can tell. Safe because the single PUT is create-only; a
    # multipart upload is not, so there we refuse to guess.
    if grep -qE '\(403\)|Forbidden' "$WORK_DIR/aws.err" && ((size <= SINGLE_PUT_MAX_BYTES)); then
      log "HEAD $dest answered 403 (no list permission on the exact key); treating it as absent, the create-only upload still refuses to overwrite"
      return 1
    fi
    fail "$(s3_error "read $dest")"
  fi
  IFS=$'\t' read -r H_SIZE H_SHA H_ETAG H_CHECKSUM H_SSE H_META_ETAG <<<"$out"
  H_ETAG="${H_ETAG//\"/}"
  return 0
}

# Whether the object at the key holds exactly our file.
same_content() {
  [[ "$H_SIZE" == "$size" ]] || return 1
  if [[ "$H_SHA" != None ]]; then
    [[ "$H_SHA" == "$sha256" ]]
    return
  fi
  # No sha256 metadata (copied by hand, as in the runbook): compare the ETag, computed for the
  # CLI's default 8 MiB parts and for ours.
  [[ "$H_SSE" == aws:kms ]] && return 1
  [[ "$H_ETAG" == "$(etag_for 8388608 8388608)" ]] && return 0
  [[ "$H_ETAG" == "$(etag_for "$MULTIPART_THRESHOLD_BYTES" "$MULTIPART_CHUNKSIZE_BYTES")" ]]
  return 1
}

result() { # called right after the object was checked: that time is verifiedAt
  emit_result "{\"bucket\":$(json_str "$DEST_BUCKET"),\"key\":$(json_str "$key"),\"size\":$size,\"sha256\":\"$sha256\",\"source\":$(json_str "$path"),\"sourceTime\":\"$chosen_time\",\"verifiedAt\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
}

conflict() {
  fail "$dest already exists with different content (size $H_SIZE, sha256 ${H_SHA/None/unknown}; ours: size $size, sha256 $sha256); nothing overwritten. Check which one is right, then delete the object or choose another prefix"
}

# An object whose bytes are not what its metadata says it was written from (S3's ETag is of the
# stored bytes): our own upload of a file that changed meanwhile.
torn() { [[ "$H_META_ETAG" != None && "$H_META_ETAG" != "$H_ETAG" ]]; }

if [[ "$PLAN_ONLY" == true ]]; then
  in_s3=absent
  if head_object; then
    if torn; then
      in_s3=torn
    elif [[ "$H_SIZE" != "$size" ]]; then
      in_s3=different
    else
      hash_file
      if same_content; then in_s3=same; else in_s3=different; fi
    fi
  fi
  log "plan: would copy $chosen ($size bytes, modified ${age}s ago) to $dest: $in_s3 there now; nothing uploaded"
  emit_result "{\"name\":$(json_str "$chosen"),\"key\":$(json_str "$key"),\"size\":$size,\"mtime\":\"$m\",\"ageSeconds\":$age,\"sourceTime\":\"$chosen_time\",\"inS3\":\"$in_s3\"}"
  exit 0
fi

create_only=(--if-none-match '*')
if head_object; then
  if torn; then
    log "$dest holds a torn upload (ETag $H_ETAG, written as $H_META_ETAG: the file changed while it was sent); replacing it"
    create_only=()
  else
    same_content || conflict
    log "$dest already holds this file (same size and checksum); nothing uploaded"
    result
    exit 0
  fi
fi

if ((size <= SINGLE_PUT_MAX_BYTES)); then
  log "uploading to $dest (single ${create_only[*]:+create-only }PUT)"
  if ! s3 s3api put-object --bucket "$DEST_BUCKET" --key "$key" --body "$src" \
    --metadata "sha256=$sha256,etag=$our_etag" --checksum-algorithm SHA256 --checksum-sha256 "$sha256_b64" \
    ${create_only[@]+"${create_only[@]}"} \
    ${PUT_SSE_ARGS[@]+"${PUT_SSE_ARGS[@]}"} \
    --output text >/dev/null; then
    if grep -qE 'PreconditionFailed|\(412\)|ConditionalRequestConflict|\(409\)' "$WORK_DIR/aws.err"; then
      # Someone wrote the key after our check: same rules as above.
      head_object || fail "$(s3_error "upload to $dest")"
      same_content || conflict
      log "$dest was written meanwhile by someone else with this same file; nothing uploaded"
      result
      exit 0
    fi
    fail "$(s3_error "upload to $dest")"
  fi
else
  log "uploading to $dest (multipart, $size bytes)"
  s3 s3 cp --only-show-errors --no-progress ${SSE_ARGS[@]+"${SSE_ARGS[@]}"} --metadata "sha256=$sha256,etag=$our_etag" \
    "$src" "$dest" ||
    fail "$(s3_error "upload to $dest")"
fi

head_object || fail "$dest is missing right after the upload; S3 lost it or another writer deleted it"
# A file written to after it was hashed may have gone up with other bytes: never a success.
if [[ "$(stat_sig)" != "$sig" ]] || { [[ "$H_SSE" != aws:kms && "$H_ETAG" != "$our_etag" ]] &&
  [[ "$(sha256sum <"$src" | cut -c1-64)" != "$sha256" ]]; }; then
  fail "$path changed between hashing and upload, so $dest may not hold the hashed bytes (nothing recorded); re-run once it is stable: a torn object is replaced"
fi
[[ "$H_SSE" == aws:kms || "$H_ETAG" == "$our_etag" ]] ||
  fail "verification failed: $dest has ETag $H_ETAG, the source's content gives $our_etag"
[[ "$H_SIZE" == "$size" ]] || fail "verification failed: $dest has $H_SIZE bytes, the source $size"
[[ "$H_SHA" == "$sha256" ]] || fail "verification failed: $dest records sha256 $H_SHA, the source has $sha256"
if [[ "$H_CHECKSUM" != None && "$H_CHECKSUM" != *-* ]]; then
  [[ "$H_CHECKSUM" == "$sha256_b64" ]] ||
    fail "verification failed: S3 computed SHA-256 $H_CHECKSUM for $dest, the source has $sha256_b64"
  log "verified: size $size, S3's own SHA-256 of the stored object matches"
elif [[ "$H_SSE" != aws:kms ]]; then
  [[ "$H_ETAG" == "$our_etag" ]] ||
    fail "verification failed: $dest has ETag $H_ETAG, the source's content gives $our_etag"
  log "verified: size $size, the object's ETag matches the source's MD5 (per part)"
else
  log "verified: size $size and sha256 metadata (SSE-KMS: no content checksum to compare)"
fi
result
