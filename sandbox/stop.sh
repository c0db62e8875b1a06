#!/usr/bin/env bash
# Stops what `sandbox/run.sh --keep` (or a run that was killed) left running: the servers, the
# cluster and its containers, the network namespace. The stack's state and config stay in .sandbox/.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
for lib in common netns cluster lifecycle; do
  # shellcheck source=/dev/null
  . "$here/lib/$lib.sh"
done
stop_sandbox
left="$(leftovers)"
[[ -z "$left" ]] || die "still there after the stop: ${left//$'\n'/, }"
say "stopped; nothing left behind"
