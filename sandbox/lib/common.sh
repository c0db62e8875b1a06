#!/usr/bin/env bash
# Shared helpers for sandbox/run.sh: paths under .sandbox/, logging, ports, process bookkeeping.
# Sourced; defines functions only (plus the SANDBOX_* paths).
set -euo pipefail

SANDBOX_REPO="${SANDBOX_REPO:-$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)}"
SANDBOX_DIR="${SANDBOX_DIR:-$SANDBOX_REPO/.sandbox}"
SANDBOX_RUN="$SANDBOX_DIR/run"      # pids, logs, snapshots of this run
SANDBOX_CHECKS="$SANDBOX_RUN/checks.jsonl"
export SANDBOX_REPO SANDBOX_DIR SANDBOX_RUN SANDBOX_CHECKS

say() { printf '[sandbox %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
  printf '[sandbox] ERROR: %s\n' "$*" >&2
  exit 1
}

# A free TCP port on 127.0.0.1 (the kernel picks it; a race with another process is unlikely).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT [SECONDS] [HOST]: a TCP connect, no request (moto counts HTTP requests).
wait_port() {
  local port="$1" deadline=$((SECONDS + ${2:-30})) host="${3:-127.0.0.1}"
  until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# remember NAME PID: a process this run started, stopped by stop_started in reverse order.
remember() { printf '%s %s\n' "$1" "$2" >>"$SANDBOX_RUN/pids"; }

stop_started() {
  [[ -f "$SANDBOX_RUN/pids" ]] || return 0
  local name pid alive=()
  # SIGTERM to all at once (newest first), then at most ~5 s for all of them, then SIGKILL.
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping $name (pid $pid)"
      kill "$pid" 2>/dev/null || true
      alive+=("$pid")
    fi
  done < <(tac "$SANDBOX_RUN/pids")
  for _ in $(seq 1 25); do
    local still=()
    for pid in "${alive[@]}"; do kill -0 "$pid" 2>/dev/null && still+=("$pid"); done
    alive=("${still[@]}")
    ((${#alive[@]} > 0)) || break
    sleep 0.2
  done
  for pid in "${alive[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -f "$SANDBOX_RUN/pids"
}

# check NAME PASS(true|false) DETAIL: one line of checks.jsonl, read by sandbox/summary.ts.
check() {
  local name="$1" pass="$2" detail="${3:-}"
  node -e 'process.stdout.write(JSON.stringify({name: process.argv[1], pass: process.argv[2] === "true", detail: process.argv[3]}) + "\n")' \
    "$name" "$pass" "$detail" >>"$SANDBOX_CHECKS"
  if [[ "$pass" == true ]]; then say "PASS $name${detail:+: $detail}"; else say "FAIL $name${detail:+: $detail}"; fi
}
