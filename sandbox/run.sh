#!/usr/bin/env bash
# `npm run sandbox`: the whole program run for real on one machine, then checked.
#
# Starts on 127.0.0.1 an S3 server (moto), an SSH server playing the NFS server and a kwok
# Kubernetes cluster; seeds them like production; runs the real Pulumi CLI (file backend) on a
# `local` stack: preview, up, a second preview/up that must change nothing, destroy; then a
# `local-broken` stack whose preview must fail. Writes .sandbox/summary.json and exits non-zero
# if any check failed. Everything lives under .sandbox/ (git-ignored).
#
# Usage: sandbox/run.sh [--keep] [--e2e]
#   --keep  leave the servers and the `local` stack UP after `pulumi up` (no destroy, no broken
#           case; also when a step failed) and print how to reach and stop them.
#   --e2e   what CI runs; the same full run (accepted for clarity in .ci/run).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

keep=false
for arg in "$@"; do
  case "$arg" in
  --keep) keep=true ;;
  --e2e) ;;
  -h | --help)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "sandbox/run.sh: unknown argument $arg (try --help)" >&2
    exit 2
    ;;
  esac
done

here="$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"
# shellcheck source=lib/moto.sh
. "$here/lib/moto.sh"
# shellcheck source=lib/sshd.sh
. "$here/lib/sshd.sh"
# shellcheck source=lib/kwok.sh
. "$here/lib/kwok.sh"
# shellcheck source=lib/seed.sh
. "$here/lib/seed.sh"
# shellcheck source=lib/stack.sh
. "$here/lib/stack.sh"
# shellcheck source=lib/phases.sh
. "$here/lib/phases.sh"

[[ $(id -u) == 0 ]] || die "run as root: the SSH server playing the NFS server logs in as root (as in production)"
started=$SECONDS
summarized=false
mkdir -p "$SANDBOX_DIR"
# A run that was kept earlier is still listed in pids: stop it before starting afresh.
if [[ -f "$SANDBOX_RUN/pids" || -f "$SANDBOX_RUN/pids.kwok" ]]; then
  say "stopping what an earlier run left running"
  stop_kwok
  stop_started
fi
rm -rf "$SANDBOX_RUN" "$SANDBOX_DIR/state" "$SANDBOX_DIR/nfs-scripts" "$SANDBOX_DIR"/Pulumi.*.yaml \
  "$SANDBOX_DIR/summary.json" "$SANDBOX_DIR/env.sh"
mkdir -p "$SANDBOX_RUN"

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  # A run that stopped early still gets its summary (what it did check, and the failure).
  if [[ "$summarized" == false && -n "${MOTO_ENDPOINT:-}" ]]; then summarize || rc=1; fi
  if [[ "$keep" == true ]]; then
    print_keep_help
    return
  fi
  stop_kwok
  stop_started
  exit "$rc"
}
trap cleanup EXIT

say "Debian packages (sshd plays the NFS server)"
bash "$here/../scripts/install-test-deps.sh"
say "toolchain (cached in ${FRAGALYSIS_CACHE:-$HOME/.cache/fragalysis-relocation})"
export PATH="$PATH:/usr/local/go/bin" # Go builds the toolchain on a fresh machine
bash "$here/toolchain.sh"
PATH="$(bash "$here/toolchain.sh" --print-path):$PATH"
export PATH

start_moto
start_sshd
start_kwok
seed_cluster
seed_nfs
create_bucket
pulumi_env

run_local_stack
if [[ "$keep" == false ]]; then
  run_second_pass
  run_destroy
  run_broken_stack
fi

rc=0
summarize || rc=$?
say "done in $((SECONDS - started)) s"
exit "$rc"
