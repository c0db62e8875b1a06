#!/usr/bin/env bash
# Stops what `sandbox/run.sh --keep` left running (the kwok cluster, sshd, moto_server), by the
# ids run.sh recorded under .sandbox/run. The stack's state and config stay in .sandbox/.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"
# shellcheck source=lib/kwok.sh
. "$here/lib/kwok.sh"
PATH="$(bash "$here/toolchain.sh" --print-path):$PATH"
stop_kwok
stop_started
say "stopped"
