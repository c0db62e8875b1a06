#!/usr/bin/env bash
# Stopping the sandbox, whatever state it is in: the processes run.sh remembered, anything else
# still in its network namespace, the pods' containers (by cgroup), mounts, cgroups, the
# namespace itself. Also after a kill -9 of any part. Sourced after common.sh, netns.sh, cluster.sh.
set -euo pipefail

stop_sandbox() {
  stop_started
  # Processes first (the shims hold the cluster's mount namespace open), then what they held.
  kill_netns_processes
  kill_cgroup_tasks
  stop_cluster_leftovers
  delete_netns
  rm -rf /run/frag-sandbox-sshd
}

# kill_parts_hard NAME...: SIGKILL the named remembered processes (a crash, for the e2e check).
kill_parts_hard() {
  local name pid want
  [[ -f "$SANDBOX_RUN/pids" ]] || return 0
  for want in "$@"; do
    while read -r name pid; do
      if [[ "$name" == "$want" ]]; then
        say "killing $name (pid $pid) with SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
      fi
    done <"$SANDBOX_RUN/pids"
  done
}

# record_clean_stop: the check that the stop left nothing behind, added to .sandbox/summary.json.
record_clean_stop() {
  local left pass=true summary="$SANDBOX_DIR/summary.json"
  left="$(leftovers)"
  [[ -z "$left" ]] || pass=false
  local detail="${left//$'\n'/, }"
  [[ -n "$detail" ]] || detail="no process, mount, cgroup, namespace or directory left"
  if [[ "$pass" == true ]]; then say "PASS clean-stop-leaves-nothing: $detail"; else say "FAIL clean-stop-leaves-nothing: $detail"; fi
  if [[ -f "$summary" ]]; then
    jq --argjson pass "$pass" --arg detail "$detail" \
      '.checks += [{name: "clean-stop-leaves-nothing", pass: $pass, detail: $detail}] | .passed = (.passed and $pass)' \
      "$summary" >"$summary.new"
    mv "$summary.new" "$summary"
    # The closing tally, every check included (one line a test runner's reader understands).
    jq -r '"sandbox: \([.checks[] | select(.pass)] | length) passed, \([.checks[] | select(.pass | not)] | length) failed"' "$summary"
  fi
  [[ "$pass" == true ]]
}
