#!/usr/bin/env bash
# What production's informaticsmatters/sql-backup image does (bandr sql-backup/backup.py), so the
# sandbox's backup CronJobs set the same traps: pg_dumpall | gzip into dumpall.sql.gz, COPIED
# (not renamed) to backup-<start>Z-dumpall.sql.gz, the oldest beyond BACKUP_COUNT pruned by name;
# the verdict goes ONLY to the termination message (SUCCESS or FAILURE (n)): exit 0 either way.
# Env: BACKUP_TYPE, BACKUP_COUNT, PGHOST, PGPORT, PGUSER.
set -uo pipefail
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
dir="/backup/$BACKUP_TYPE"
mkdir -p "$dir"
pg_dumpall --no-password | gzip >"$dir/dumpall.sql.gz"
rc=("${PIPESTATUS[@]}")
if [[ "${rc[0]}" == 0 && "${rc[1]}" == 0 ]]; then
  cp "$dir/dumpall.sql.gz" "$dir/backup-${start}-dumpall.sql.gz"
  rm -f "$dir/dumpall.sql.gz"
  # Names sort by time; NUL-separated so no file name can split a line.
  mapfile -d '' -t backups < <(find "$dir" -maxdepth 1 -name 'backup*' -printf '%f\0' | sort -z)
  for ((i = 0; i + BACKUP_COUNT < ${#backups[@]}; i++)); do rm -f -- "$dir/${backups[i]}"; done
  echo SUCCESS >/dev/termination-log
else
  rm -f "$dir/dumpall.sql.gz"
  echo "FAILURE (${rc[0]})" >/dev/termination-log
fi
exit 0
