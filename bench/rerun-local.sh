#!/usr/bin/env bash
# Issue 20's small local measurement: a full copy, then no-change re-runs of sync-dir.sh,
# against versitygw from the tool cache (bash sandbox/toolchain.sh versitygw), on FILES files
# of 1-64 KiB (fixed seed). Each line: wall and client CPU (user+sys of sync-dir.sh and every
# child it waited for: steadier than wall on a shared machine) and the load average.
#   bash bench/rerun-local.sh FILES TOOL ROUNDS DIR...
# DIR: a directory holding sync-dir.sh, sync-dir.awk and copy-common.sh (e.g. scripts, or an older commit's,
# from `git show`); the first one makes the full copy, then each re-runs in turn, ROUNDS times.
set -euo pipefail
n=$1 tool=$2 rounds=$3
shift 3
bin="${FRAGALYSIS_CACHE:-$HOME/.cache/fragalysis-relocation}/bin"
work=$(mktemp -d)
mkdir -p "$work/src" "$work/data"
perl -e 'srand(42); for $i (0..$ARGV[0]-1) { $d = $i % 20; mkdir "$ARGV[1]/d$d";
  open F, ">", "$ARGV[1]/d$d/f$i.bin" or die; $s = 1024 + int(rand(63 * 1024));
  print F pack("N", $i) x int($s / 4), "x" x ($s % 4); close F }' "$n" "$work/src"
port=$((20000 + RANDOM % 20000))
ROOT_ACCESS_KEY_ID=k ROOT_SECRET_ACCESS_KEY=s "$bin/versitygw" --port "127.0.0.1:$port" \
  --keep-alive --quiet posix "$work/data" >/dev/null 2>&1 &
gw=$!
trap 'kill "$gw"; rm -rf -- "$work"' EXIT
sleep 2
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE="$work/cfg" AWS_EC2_METADATA_DISABLED=true
export AWS_SHARED_CREDENTIALS_FILE="$work/cred"
aws s3 mb s3://bench >/dev/null
one() { # dir label
  local load t w u s
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  TIMEFORMAT="%R %U %S"
  t=$({ time SOURCE_DIR="$work/src" DEST_URI=s3://bench/m/ SYNC_TOOL="$tool" SSE=none \
    bash "$1/sync-dir.sh" >"$work/out" 2>"$work/err"; } 2>&1)
  read -r w u s <<<"$t"
  printf '%s %s %d files: %.2f s wall, %.2f s cpu (load %s) %s\n' "$1" "$2" "$n" "$w" \
    "$(echo "$u + $s" | bc)" "$load" "$(grep -o '"hashed":[0-9]*' "$work/out")"
}
one "$1" full
for ((r = 1; r <= rounds; r++)); do
  for dir in "$@"; do one "$dir" re-run; done
done
