#!/usr/bin/env bash
# The OLD side's fingerprint (components/old-fingerprint.ts): run in a Job built from the backup
# CronJob's own jobTemplate right after its refresh made the dump, while every StatefulSet is at
# zero, so it describes exactly the data in that dump. Same code as the restore side
# (restore/fingerprint.sh), so equal data gives an equal summary.
#
# Settings (environment): the CronJob template container's own, as the sql-backup image reads
# them (bandr sql-backup/backup.py):
#   PGHOST        the database server (required: the image takes a PostgreSQL backup only then)
#   PGPORT        (default 5432)
#   PGUSER        (default postgres, the image's default; libpq's would be the OS user)
#   password      PGPASSWORD if set; else PGADMINPASS (the image's variable; its "-" = not set);
#                 else libpq's PGPASSFILE or ~/.pgpass (the image ships one for root); else none
#                 (a trust login). A refused login names which of these it found.
#   DATABASE      set (non-empty): the image dumps only that database (pg_dump), so only it is
#                 fingerprinted, as restore-dump.sh fingerprints only the database it restores a
#                 pg_dump into; unset or empty: every database (pg_dumpall), as the restore of one
#   RESULT_FILE   also write the result here (the pod's termination message: 4 KiB)
# Result (last stdout line): {"at": UTC time the read began, "databases": {db: {tables, rows,
# sha256}}} (fingerprint.sh FINGERPRINT_SUMMARY_JSON).
set -euo pipefail
HERE=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/copy-common.sh
. "$HERE/copy-common.sh" fingerprint-old.sh
# shellcheck source=scripts/restore/fingerprint.sh
. "$HERE/restore/fingerprint.sh"

[[ -n "${PGHOST:-}" ]] ||
  fail "PGHOST is not set: the backup CronJob's jobTemplate container must name its database server in PGHOST"
export PGUSER="${PGUSER:-postgres}"
password_from="none of PGPASSWORD, PGADMINPASS, PGPASSFILE or ~/.pgpass is set"
if [[ -n "${PGPASSWORD:-}" ]]; then
  password_from="PGPASSWORD"
elif [[ -n "${PGADMINPASS:-}" && "$PGADMINPASS" != "-" ]]; then
  export PGPASSWORD="$PGADMINPASS"
  password_from="PGADMINPASS"
elif [[ -n "${PGPASSFILE:-}" ]]; then
  password_from="PGPASSFILE"
elif [[ -n "${HOME:-}" && -f "$HOME/.pgpass" ]]; then
  password_from="$HOME/.pgpass"
fi
require_tools psql sort sha256sum

WORK_DIR=$(mktemp -d -- "${TMPDIR:-/tmp}/fingerprint-old.sh.XXXXXX") ||
  fail "cannot create a temporary directory in ${TMPDIR:-/tmp}; point TMPDIR at a writable one"
trap 'rm -rf -- "$WORK_DIR"' EXIT
export TMPDIR="$WORK_DIR"

# One login first (-w: never prompt), so a wrong password is one line naming where it came from.
if ! fp_psql postgres -w -At -c "SELECT 1" >/dev/null 2>"$WORK_DIR/fp.err"; then
  fail "cannot log in to $PGHOST:${PGPORT:-5432} as $PGUSER (password: $password_from): $(fp_error)"
fi
log "logged in to $PGHOST:${PGPORT:-5432} as $PGUSER (password: $password_from)"
DATABASE="${DATABASE:-}"
if [[ -n "$DATABASE" ]]; then
  found=$(fp_psql postgres -w -At -v db="$DATABASE" 2>"$WORK_DIR/fp.err" <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db';
SQL
  ) || fail "cannot list the databases on $PGHOST: $(fp_error)"
  [[ -n "$found" ]] ||
    fail "DATABASE is '$DATABASE' (the backup CronJob's setting: it dumps only that database), but $PGHOST has no such database"
  log "DATABASE=$DATABASE: the backup image dumps only that database (pg_dump); fingerprinting it alone"
fi
at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
fingerprint_server "$DATABASE"
emit_result "{\"at\":\"$at\",\"databases\":$FINGERPRINT_SUMMARY_JSON}"
