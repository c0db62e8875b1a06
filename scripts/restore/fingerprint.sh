#!/usr/bin/env bash
# The fingerprint of a live PostgreSQL server: per database, per table, its row count and an
# order-independent content hash. Both sides use it (sourced by restore-dump.sh; run directly,
# it prints {"databases": {...}} as one JSON line), so equal data gives equal fingerprints.
#
# Connection: the standard libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD...), as a role
# that may read every table (a superuser). PGDATABASE is not used: every database is visited.
# What is fingerprinted:
#   - databases: every non-template database that accepts connections (postgres included);
#   - tables: ordinary tables and partitions (relkind r) outside pg_catalog, information_schema
#     and the toast schemas, keyed "schema.table" as quote_ident spells them (public.t,
#     public."Odd name"), so two different names never share a key; each row counted once (ONLY);
#   - rows: the row's text form ROW(t.*)::text under fixed session settings (ISO dates, UTC,
#     hex bytea, shortest exact floats), one line each in COPY text format (a newline inside a
#     value is written as \n, so one row is one line), sorted bytewise (LC_ALL=C), then sha256.
# Cost: one full read of every table, sorted on disk under TMPDIR (about the table's text size).

# Session settings that decide how values print: the same on both sides whatever the servers'
# defaults (PGOPTIONS the caller set is kept, ours come last and win).
fingerprint_pgoptions() {
  printf '%s' "${PGOPTIONS:-} -c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex"
}

# A libpq conninfo value: quoted, with \ and ' escaped (database names may hold anything).
conninfo_value() {
  local s="${1//\\/\\\\}"
  printf "'%s'" "${s//\'/\\\'}"
}

# psql on one database by name, no ~/.psqlrc, stopping at the first error.
fp_psql() { # database psql-args...
  local db="$1"
  shift
  PGOPTIONS="$(fingerprint_pgoptions)" psql -X -q -v ON_ERROR_STOP=1 -d "dbname=$(conninfo_value "$db")" "$@"
}

# Sets FINGERPRINT_JSON to {"db": {"schema.table": {"rows": N, "sha256": "..."}}} with keys in
# bytewise order, and FINGERPRINT_SUMMARY_JSON to {"db": {"tables": N, "rows": N, "sha256": "..."}}
# (sha256 of that database's object text in FINGERPRINT_JSON): small enough for a pod's 4 KiB
# termination message whatever the number of tables, and equal exactly when the tables are.
# The argument: one database's name (a single-database dump's, on either side), or "" for all.
# Needs WORK_DIR (a private temp dir) and log/fail/json_str_v (copy-common.sh).
fingerprint_server() { # database-or-empty
  local db table rows sum json="" tables first_db=1 first_table db_rows db_tables summary=""
  local dbs="$WORK_DIR/fp-databases" list="$WORK_DIR/fp-tables" rowsfile="$WORK_DIR/fp-rows"
  if [[ -n "$1" ]]; then
    printf '%s\0' "$1" >"$dbs"
  else
    fp_psql postgres -At -0 -c \
      "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname COLLATE \"C\"" \
      >"$dbs" 2>"$WORK_DIR/fp.err" ||
      fail "fingerprint: cannot list the databases: $(fp_error)"
  fi
  while IFS= read -r -d '' db; do
    fp_psql "$db" -At -0 -c \
      "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
       ORDER BY format('%I.%I', n.nspname, c.relname) COLLATE \"C\"" >"$list" 2>"$WORK_DIR/fp.err" ||
      fail "fingerprint: cannot list the tables of database $db: $(fp_error)"
    tables="" first_table=1 db_rows=0 db_tables=0
    while IFS= read -r -d '' table; do
      # COPY text format: one line per row whatever the values hold. sort -S bounds its memory.
      if ! fp_psql "$db" -c "COPY (SELECT ROW(fp_row.*)::text FROM ONLY $table AS fp_row) TO STDOUT" \
        2>"$WORK_DIR/fp.err" | LC_ALL=C sort -S 64M -o "$rowsfile"; then
        fail "fingerprint: cannot read table $table of database $db: $(fp_error)"
      fi
      rows=$(wc -l <"$rowsfile")
      sum=$(sha256sum <"$rowsfile")
      sum="${sum%% *}"
      json_str_v "$table"
      ((first_table)) || tables+=","
      tables+="$JSON_STR:{\"rows\":$rows,\"sha256\":\"$sum\"}"
      first_table=0
      db_rows=$((db_rows + rows)) db_tables=$((db_tables + 1))
    done <"$list"
    sum=$(printf '%s' "{$tables}" | sha256sum)
    json_str_v "$db"
    ((first_db)) || { json+="," && summary+=","; }
    json+="$JSON_STR:{$tables}"
    summary+="$JSON_STR:{\"tables\":$db_tables,\"rows\":$db_rows,\"sha256\":\"${sum%% *}\"}"
    first_db=0
    log "fingerprint: database $db: $(tr -cd '\0' <"$list" | wc -c) tables"
  done <"$dbs"
  rm -f -- "$rowsfile"
  FINGERPRINT_JSON="{$json}"
  # shellcheck disable=SC2034 # read by restore-dump.sh (its RESULT_FILE)
  FINGERPRINT_SUMMARY_JSON="{$summary}"
}

# The first error line psql wrote (one line, cut), for fail messages.
fp_error() {
  grep -a -m1 -E 'ERROR|FATAL|error|could not' "$WORK_DIR/fp.err" | cut -c1-2000 || head -c 2000 "$WORK_DIR/fp.err"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  # shellcheck source=scripts/copy-common.sh
  . "$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)/copy-common.sh" fingerprint.sh
  require_tools psql sort sha256sum
  WORK_DIR=$(mktemp -d -- "${TMPDIR:-/tmp}/fingerprint.sh.XXXXXX") ||
    fail "cannot create a temporary directory in ${TMPDIR:-/tmp}; point TMPDIR at a writable one"
  trap 'rm -rf -- "$WORK_DIR"' EXIT
  export TMPDIR="$WORK_DIR"
  fingerprint_server ""
  emit_result "{\"databases\":$FINGERPRINT_JSON}"
fi
