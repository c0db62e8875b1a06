# The per-file passes of sync-dir.sh: each reads its inputs once and keeps the files'
# records structured (a bash `while read` loop costs ~50 us a file, 1-2 s per pass at 20,000).
# Run by sync_pass() in sync-dir.sh as `LC_ALL=C awk -f sync-dir.awk`, with PASS and the
# pass's settings in the environment (ENVIRON: awk -v would interpret backslashes in paths).
# LC_ALL=C: names are bytes, compared and measured as bytes. Records are NUL-terminated
# (file names may hold any other byte), text inputs (aws CLI listings) newline-terminated.
# Works with mawk (Debian), gawk and any awk whose RS may be "\0".
#
# Records:
#   scan:    type/size/mtime/ctime/rel  (find -printf; type f, u, D, l, ...)
#   mine:    type/size/mtime/ctime/rel  (the regular files of this shard)
#   remote:  size/etag/rel              (the destination's objects, keys decoded)
#   digests: sha256 etag rel            (read from a manifest or hashed now)

BEGIN {
  RS = "\0"; ORS = "\0"
  work = ENVIRON["WORK_DIR"]
  for (i = 1; i < 256; i++) {
    c = sprintf("%c", i)
    hex_byte[sprintf("%02X", i)] = c
    hex_byte[sprintf("%02x", i)] = c
    if (i < 32 || i == 127) control[c] = i
  }
  pass = ENVIRON["PASS"]
  if (pass == "shard") start_shard()
  else if (pass == "delta") start_delta()
  else if (pass == "todo") start_todo()
  else if (pass == "verify") start_verify()
  else if (pass == "uploads") start_uploads()
  else if (pass == "listing") { RS = "\n"; FS = "\t" }
  else if (pass == "upload-log") { RS = "\n"; ORS = "\n"; errors = ENVIRON["ERRORS"] }
  else if (pass == "openssl-sha") start_openssl_sha()
  else if (pass != "scan" && pass != "pair") fail("unknown PASS " pass)
}

function fail(msg) { printf "sync-dir.awk: %s\n", msg > "/dev/stderr"; awk_failed = 2; exit 2 }

# "type/size/mtime/ctime/rel" into type, size, mtime, ctime, rel (rel keeps its own '/').
function split_record(r,   i) {
  i = index(r, "/"); type = substr(r, 1, i - 1); r = substr(r, i + 1)
  i = index(r, "/"); size = substr(r, 1, i - 1); r = substr(r, i + 1)
  i = index(r, "/"); mtime = substr(r, 1, i - 1); r = substr(r, i + 1)
  i = index(r, "/"); ctime = substr(r, 1, i - 1); rel = substr(r, i + 1)
}

# A JSON string literal: quotes, backslashes and control characters escaped, other bytes kept
# (as copy-common.sh's json_str_v writes it: manifests of both stay byte-identical).
function json(s,   out, i, n, c) {
  if (s !~ /[\001-\037\177\\"]/) return "\"" s "\""
  out = ""; n = length(s)
  for (i = 1; i <= n; i++) {
    c = substr(s, i, 1)
    if (c == "\\") out = out "\\\\"
    else if (c == "\"") out = out "\\\""
    else if (c == "\n") out = out "\\n"
    else if (c == "\t") out = out "\\t"
    else if (c == "\r") out = out "\\r"
    else if (c in control) out = out sprintf("\\u%04x", control[c])
    else out = out c
  }
  return "\"" out "\""
}

# A key as listed with --encoding-type url: '+' is a space, %XX a byte; nothing else changes.
function url_decode(s,   out, i, h) {
  if (s !~ /[%+]/) return s
  gsub(/\+/, " ", s)
  out = ""
  while ((i = index(s, "%")) > 0) {
    h = substr(s, i + 1, 2)
    out = out substr(s, 1, i - 1) ((h in hex_byte) ? hex_byte[h] : "%" h)
    s = substr(s, i + 3)
  }
  return out s
}

function read_remote(file,   r, i, j) { # size/etag/rel -> remote_size[rel], remote_etag[rel]
  while ((getline r < file) > 0) {
    i = index(r, "/"); j = index(substr(r, i + 1), "/") + i
    remote_size[substr(r, j + 1)] = substr(r, 1, i - 1)
    remote_etag[substr(r, j + 1)] = substr(r, i + 1, j - i - 1)
  }
  close(file)
}

function read_digests(file,   r, i, j) { # "sha256 etag rel" -> sha_of[rel], etag_of[rel]
  while ((getline r < file) > 0) {
    i = index(r, " "); j = index(substr(r, i + 1), " ") + i
    sha_of[substr(r, j + 1)] = substr(r, 1, i - 1)
    etag_of[substr(r, j + 1)] = substr(r, i + 1, j - i - 1)
  }
  close(file)
}

function list(name, entry) { # a NUL list of names for an error line
  print entry > (work "/" name)
}

# --- scan: what find saw -> "regular" (f and u records) and the lists of what is refused.
pass == "scan" {
  split_record($0)
  if (type == "f" || type == "u") {
    if (mtime > newest) newest = mtime
    tree_files++; tree_bytes += size
    if (type == "u") list("scan.unreadable", rel)
    if (length(ENVIRON["DEST_PREFIX"]) + length(rel) > 1024) list("scan.too_long", rel)
    if (index(rel, ENVIRON["MANIFEST_DIR"] "/") == 1) list("scan.reserved", rel)
    print > (work "/regular")
  } else if (type == "D") list("scan.unreadable", rel "/")
  else if (type == "l") list("scan.links", rel)
  else list("scan.others", rel)
  next
}

# --- shard: the size-sorted regular files dealt greedily to the least-loaded part.
function start_shard(   i) {
  shards = ENVIRON["SHARD_COUNT"] + 0; index_mine = ENVIRON["SHARD_INDEX"] + 0
  weight = ENVIRON["SHARD_FILE_WEIGHT_BYTES"] + 0
  for (i = 0; i < shards; i++) load[i] = 0
}
pass == "shard" {
  split_record($0)
  best = 0
  for (i = 1; i < shards; i++) if (load[i] < load[best]) best = i
  load[best] += size + weight
  if (best == index_mine) { files++; bytes += size; print > (work "/mine") }
  next
}

# --- listing: `list-objects-v2 --output text` lines "size<TAB>etag<TAB>url-key" -> remote
# records, and the manifests' keys apart.
pass == "listing" {
  if ($1 !~ /^[0-9]+$/) next # "None" when the prefix is empty
  key = url_decode($3)
  r = substr(key, length(ENVIRON["DEST_PREFIX"]) + 1)
  if (index(r, ENVIRON["MANIFEST_DIR"] "/") == 1) { print key > (work "/manifest-keys"); next }
  gsub(/"/, "", $2)
  print $1 "/" $2 "/" r > (work "/remote")
  objects++
  next
}

# --- delta: which files a previous manifest vouches for (same size, mtime, ctime, and the
# object still with that size and the recorded ETag) and which must be read and hashed. The
# hashed ones are dealt round-robin to STREAMS hash streams: small files in batches (a list of
# names each, at most 64 MiB or 4096 files), multipart ones as "size/part-size/rel".
function start_delta(   r, i) {
  RS = "\n"
  while ((getline r < (work "/prev.tsv")) > 0) {
    i = index(r, "\t")
    if (!(substr(r, 1, i - 1) in prev)) prev_entries++
    prev[substr(r, 1, i - 1)] = substr(r, i + 1)
  }
  close(work "/prev.tsv")
  RS = "\0"
  read_remote(work "/remote")
  streams = ENVIRON["STREAMS"] + 0
  threshold = ENVIRON["MULTIPART_THRESHOLD_BYTES"] + 0
  chunk = ENVIRON["MULTIPART_CHUNKSIZE_BYTES"] + 0
  for (i = 0; i < streams; i++) { batch[i] = 0; batch_files[i] = 0; batch_bytes[i] = 0 }
}
pass == "delta" {
  split_record($0)
  if ((rel in remote_size) && remote_size[rel] == size) {
    in_s3++; in_s3_bytes += size
    entry = prev[json(rel)]
    lead = size " " mtime " " ctime " " remote_etag[rel] " "
    if (entry != "" && index(entry, lead) == 1) {
      print substr(entry, length(lead) + 1) " " remote_etag[rel] " " rel > (work "/known")
      next
    }
  }
  hashed++; hashed_bytes += size
  s = hashed % streams
  if (size + 0 < threshold) {
    if (batch_files[s] >= 4096 || batch_bytes[s] >= 67108864) {
      batch[s]++; batch_files[s] = 0; batch_bytes[s] = 0
    }
    print rel > (work "/hash-batch." s "." batch[s])
    batch_files[s]++; batch_bytes[s] += size
  } else {
    # S3's part size as the aws CLI and rclone choose it: doubled until 10,000 parts do.
    part = chunk
    while (int((size + part - 1) / part) > 10000) part *= 2
    print size "/" sprintf("%.0f", part) "/" rel > (work "/hash-big." s)
  }
  next
}

# --- pair (in a hash stream): `md5sum -z` (main input) and `sha256sum -z` (SHA, a file) of
# the same names in the same order -> "sha256 md5 rel"; a name missing from one pairs with
# nothing and is then reported as not hashed.
pass == "pair" {
  if ((getline sha < ENVIRON["SHA"]) <= 0) exit
  if (substr($0, 35) == substr(sha, 67)) print substr(sha, 1, 64) " " substr($0, 1, 32) " " substr(sha, 69)
  next
}

# --- openssl-sha (in a hash stream): `openssl dgst -sha256 -r` of the names (main input, in
# that order) -> `sha256sum -z` records "hex  name". OpenSSL prints "hex *name", or, for a name
# with a newline, "\" first and each newline as "\n": each line must be exactly what the next
# name gives, or the pass exits 3 (the caller then hashes the batch with sha256sum).
function start_openssl_sha() {
  out = ""
  if ((getline out < ENVIRON["OPENSSL_OUT"]) < 0) { awk_failed = 3; exit 3 }
  at = 1
}
pass == "openssl-sha" {
  marked = substr(out, at, 1) == "\\"
  shown = $0
  if (marked) gsub(/\n/, "\\n", shown)
  hex = substr(out, at + marked, 64)
  tail = " *" shown "\n"
  if (hex !~ /^[0-9a-f]+$/ || length(hex) != 64 || substr(out, at + marked + 64, length(tail)) != tail) {
    awk_failed = 3; exit 3
  }
  print hex "  " $0
  at += marked + 64 + length(tail)
  next
}

# --- todo: every file with its digests; those whose object lacks that size or ETag are sent.
function start_todo() {
  read_remote(work "/remote")
  read_digests(work "/digests")
  source = ENVIRON["SOURCE_DIR"]
}
pass == "todo" {
  split_record($0)
  if (!(rel in etag_of)) { print rel > (work "/not-hashed"); next }
  if ((rel in remote_size) && remote_size[rel] == size && remote_etag[rel] == etag_of[rel]) next
  planned++; planned_bytes += size
  if (rel ~ /[\n\r]/) line_breaks++
  print rel > (work "/todo.nul")
  print source "/" rel > (work "/todo.abs")
  printf "%s\n", rel > (work "/todo.lst")
  next
}

# --- verify: every file of this part at the destination with its size and the ETag of the
# content hashed, and (if anything was read) unchanged since the scan -> the manifest's lines;
# the others into one list per kind of problem.
function start_verify(   r, i) {
  read_remote(work "/remote")
  read_digests(work "/digests")
  rescanned = ENVIRON["RESCAN"] != ""
  if (rescanned) {
    while ((getline r < ENVIRON["RESCAN"]) > 0) { # size/mtime/ctime/rel
      i = index(r, "/"); i += index(substr(r, i + 1), "/"); i += index(substr(r, i + 1), "/")
      now_stat[substr(r, i + 1)] = substr(r, 1, i - 1)
    }
  }
}
pass == "verify" {
  split_record($0)
  was = size "/" mtime "/" ctime
  now = rescanned ? ((rel in now_stat) ? now_stat[rel] : "gone") : was
  have = (rel in remote_size) ? remote_size[rel] : "missing"
  if (now == was && have == size && remote_etag[rel] == etag_of[rel]) {
    printf "{\"path\":%s,\"size\":%s,\"mtime\":\"%sZ\",\"ctime\":\"%s\",\"sha256\":\"%s\",\"etag\":\"%s\"}\n",
      json(rel), size, mtime, ctime, sha_of[rel], etag_of[rel] > (work "/manifest.jsonl.unsorted")
    next
  }
  # Changed since the scan (still being written: a live tree)? Say so rather than blame S3.
  if (now != was) list("verify.changed", rel)
  else if (have == "missing") list("verify.missing", rel)
  else if (have != size) list("verify.different", rel " (" have " bytes at the destination, " size " here)")
  else list("verify.other-content", rel " (ETag " remote_etag[rel] " at the destination, " etag_of[rel] " here)")
  next
}

# --- uploads: `list-multipart-uploads --output text` lines "id<TAB>url-key" -> abort-list,
# "id<NUL>key<NUL>" for the keys of this part's files (others' uploads are left alone).
function start_uploads(   r) {
  while ((getline r < (work "/mine")) > 0) { split_record(r); mine[rel] = 1 }
  close(work "/mine")
  RS = "\n"; FS = "\t"
}
pass == "uploads" {
  if ($2 == "") next # "None" when there are none
  key = url_decode($2)
  if (substr(key, length(ENVIRON["DEST_PREFIX"]) + 1) in mine) {
    print $1 > (work "/abort-list"); print key > (work "/abort-list")
  }
  next
}

# --- upload-log: the uploader's output (aws s3 cp or rclone -v) -> "uploaded failed"; with
# ERRORS, its failures and notices (not the per-file successes) into that file.
pass == "upload-log" {
  if (/^upload: / || /: Copied \(/) { uploaded++; next }
  if (/^upload failed:/) failed++
  else if (index($0, " ERROR : ")) {
    if (index($0, "Failed to copy")) failed++
    $0 = substr($0, index($0, " ERROR : ") + 9)
  } else if (index($0, " INFO  : ") || index($0, " DEBUG : ")) next
  if (errors != "") print substr($0, 1, 2000) > errors
  next
}

END {
  if (awk_failed) exit awk_failed
  ORS = "\n"
  if (pass == "scan") printf "%.0f %.0f %s\n", tree_files, tree_bytes, newest
  else if (pass == "shard") printf "%.0f %.0f\n", files, bytes
  else if (pass == "listing") printf "%.0f\n", objects
  else if (pass == "delta") printf "%.0f %.0f %.0f %.0f %.0f\n", hashed, hashed_bytes, in_s3, in_s3_bytes, prev_entries
  else if (pass == "todo") printf "%.0f %.0f %.0f\n", planned, planned_bytes, line_breaks
  else if (pass == "upload-log") printf "%.0f %.0f\n", uploaded, failed
}
