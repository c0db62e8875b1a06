#!/usr/bin/env bash
# `npm run sandbox`: the whole program run for real on one machine, then checked.
#
# In a network namespace of its own (nothing leaves it) it starts an S3 server (moto), an SSH
# server playing the NFS server and a real single-node Kubernetes cluster whose pods run real
# containers (images built here from Debian packages); seeds them like production, with writes
# after the last scheduled backups; runs the real Pulumi CLI (file backend) on a `local` stack:
# preview, up, a second preview/up that must change nothing, destroy; then failing stacks.
# Writes .sandbox/summary.json and exits non-zero if any check failed.
#
# Usage: sandbox/run.sh [--keep] [--e2e]
#   --keep  leave everything UP after `pulumi up` (no destroy, no failing stacks; also when a
#           step failed) and print how to reach it; stop it with sandbox/stop.sh.
#   --e2e   what CI runs: the full run, and the stop also kills containerd and kubelet with
#           SIGKILL first, to prove that even then nothing is left behind.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

keep=false e2e=false inside=false
for arg in "$@"; do
  case "$arg" in
  --keep) keep=true ;;
  --e2e) e2e=true ;;
  --inside) inside=true ;; # internal: the second half, in the network namespace
  -h | --help)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "sandbox/run.sh: unknown argument $arg (try --help)" >&2
    exit 2
    ;;
  esac
done

here="$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
for lib in common netns certs images cluster lifecycle moto sshd seed stack phases checks plan-checks restore-drill; do
  # shellcheck source=/dev/null
  . "$here/lib/$lib.sh"
done

# --- outside the namespace: what needs the network (packages, toolchain, images) --------------
if [[ "$inside" == false ]]; then
  [[ $(id -u) == 0 ]] || die "run as root: the cluster needs namespaces and cgroups, the SSH server logs in as root (as in production)"
  started=$SECONDS
  mkdir -p "$SANDBOX_DIR"
  if [[ -f "$SANDBOX_RUN/pids" || -e "/run/netns/$SANDBOX_NETNS" ]]; then
    say "stopping what an earlier run left running"
    stop_sandbox
  fi
  rm -rf "$SANDBOX_RUN" "$SANDBOX_DIR/state" "$SANDBOX_DIR/nfs-scripts" "$SANDBOX_DIR"/Pulumi.*.yaml \
    "$SANDBOX_DIR/summary.json" "$SANDBOX_DIR/env.sh"
  mkdir -p "$SANDBOX_RUN"
  say "Debian packages (cluster runtime, sshd for the NFS server, image builders)"
  bash "$here/../scripts/install-test-deps.sh" --sandbox
  say "toolchain (cached in ${FRAGALYSIS_CACHE:-$HOME/.cache/fragalysis-relocation})"
  export PATH="$PATH:/usr/local/go/bin" # Go builds the toolchain on a fresh machine
  bash "$here/toolchain.sh"
  PATH="$(bash "$here/toolchain.sh" --print-path):$PATH"
  export PATH
  build_images
  create_netns
  rc=0
  in_netns bash "$0" --inside "$@" || rc=$?
  if [[ "$keep" == true ]]; then
    say "kept running (bash sandbox/stop.sh stops it); done in $((SECONDS - started)) s"
    exit "$rc"
  fi
  if [[ "$e2e" == true ]]; then kill_parts_hard containerd kubelet; fi
  stop_sandbox
  record_clean_stop || rc=1
  say "done in $((SECONDS - started)) s"
  exit "$rc"
fi

# --- inside the namespace: servers, cluster, seeds, the Pulumi run, the checks ----------------
summarized=false
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  # A run that stopped early still gets its summary (what it did check, and the failure).
  if [[ "$summarized" == false && -n "${MOTO_ENDPOINT:-}" ]]; then
    check run-completed false "the run stopped early (exit $rc): the phases after the last check above never ran"
    summarize || rc=1
  fi
  if [[ "$keep" == true ]]; then print_keep_help; fi
  exit "$rc"
}
trap cleanup EXIT

build_images # the references only: built outside
start_moto
start_sshd
seed_nfs
start_cluster
seed_cluster
seed_writes
create_bucket
pulumi_env

run_local_stack
if [[ "$keep" == false ]]; then
  run_second_pass
  run_restore_drill
  run_destroy
  run_broken_stack
  run_refresh_failure_stack
fi

check run-completed true "every phase ran"
rc=0
summarize || rc=$?
exit "$rc"
