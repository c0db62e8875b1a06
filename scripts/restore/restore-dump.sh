#!/usr/bin/env bash
# Restores ONE dump from S3 into an empty PostgreSQL, verified: the object's size and sha256
# before any use, the dump's integrity, kind and version, an empty target, a psql run that stops
# at the first error, then the fingerprint of what was restored. Both kinds the bandr sql-backup
# image writes (named backup-<time>Z-dumpall.sql.gz either way): a whole-server dump
# (pg_dumpall --clean --if-exists | gzip), or a single-database dump (pg_dump --clean
# --if-exists $DATABASE | gzip, when the backup CronJob sets DATABASE), told apart by the header.
#
# Settings (environment):
#   SOURCE_URI        s3://bucket/key of the dump (the first stack's `backups` output: bucket, key)
#   EXPECTED_SHA256   hex SHA-256 of the object (`backups` output: sha256)
#   EXPECTED_SIZE     its size in bytes (`backups` output: size)
#   ALLOW_NON_EMPTY   true: restore into a target that is not empty (default false)
#   SOURCE_FILE       a local path for the dump (optional). With FETCH_ONLY=true: download the
#                     object there (via SOURCE_FILE.part, renamed only once size and sha256
#                     match) and stop: no PostgreSQL, psql or gzip needed (a Job's `fetch` init
#                     container, aws CLI image). Without: restore from that file instead of S3,
#                     checking its size and sha256 again (no aws CLI needed: the `restore`
#                     container, psql image).
#   FETCH_ONLY        true: only the download described above (default false; needs SOURCE_FILE)
#   RESULT_FILE       write the result SUMMARY here (optional; a pod's termination message
#                     holds 4 KiB): the result without per-table detail, with per database
#                     {tables, rows, sha256} (see fingerprint.sh FINGERPRINT_SUMMARY_JSON)
#   PG*               the target server (PGHOST, PGPORT, PGUSER, PGPASSWORD...), as a superuser.
#                     PGDATABASE is not used: the restore starts in `postgres` and the dump's own
#                     \connect lines take it to each database (a pg_dump: in DATABASE_NAME).
#   LOGIN_COUNT       logins checked after the restore (default 0), each i from 0 as
#     LOGIN_<i>_USER      a role of the dump (e.g. fragalysis)
#     LOGIN_<i>_DATABASE  the database it must log in to (e.g. frag)
#     LOGIN_<i>_PASSWORD  its password (from the Secret the application reads; never printed)
#     LOGIN_<i>_SECRET    where that password comes from, for messages (e.g. "Secret database
#                         key user_password"; optional)
#     LOGIN_<i>_TABLES    tables that must exist there and be readable by it, space-separated,
#                         unquoted SQL names (e.g. "django_migrations"; optional)
#                     Each logs in to PGHOST:PGPORT as that user, with that password: the way the
#                     application will (over TCP when PGHOST is a host name; a Unix socket with
#                     `trust` authentication would accept any password).
#   AWS_*             credentials, region and AWS_ENDPOINT_URL for the aws CLI.
#   DATABASE_NAME     where a single-database dump goes (restore.databases[].database.name, e.g.
#                     frag); required for one (a pg_dump names no database), refused otherwise.
#                     With a whole-server dump: the dump must create it (else refused), and the
#                     dump's own roles and CREATE DATABASE apply (the three below are not used).
#   DATABASE_OWNER    its owner (e.g. fragalysis): created if missing, then the database is
#                     created OWNER it if missing (as upstream's moving-back.rst does by hand);
#                     an existing database owned by another role is refused. The dump's own
#                     OWNER TO lines then give it its objects.
#   DATABASE_OWNER_PASSWORD  the password that role gets if the script creates it (LOGIN;
#                     from a secretKeyRef, never printed, never on a command line: psql reads
#                     it with \getenv, with statement logging off for that session). Without
#                     it a created role is NOLOGIN, and the result says so.
#   DATABASE_OWNER_SECRET    where that password comes from, for messages (e.g. "Secret
#                     database key user_password"); set = a password is expected: missing, the
#                     run stops before any change.
# Extensions: every CREATE EXTENSION in the dump must be in the target's pg_available_extensions
# (else refused before anything changes, naming them: e.g. rdkit needs a server image with the
# RDKit cartridge).
# "Empty" (refused otherwise, naming what is there): (1) no database the dump creates exists,
# except template1 and postgres, which every server has and the dump replaces; (2) no
# non-template database (postgres included) holds a user relation: a table, partition, view,
# materialized view, sequence or foreign table outside pg_catalog, information_schema and toast.
# Roles already on the target are not checked: the dump drops and re-creates its own roles.
# The restoring role's own DROP ROLE / CREATE ROLE / ALTER ROLE ... WITH lines are skipped (a
# superuser cannot drop itself, and its password must stay the one it logged in with).
# A single-database dump: the same checks; "empty" as above (a CREATE DATABASE in it, i.e.
# pg_dump --create, is refused: this script creates the database); restored with psql -d
# DATABASE_NAME as the superuser; only that database is fingerprinted.
# Result (last stdout line): {"source","sha256","size","kind","dumpedFrom","skippedRoleLines",
#   "logins": [{user, database, tables}], "databases": {db: {schema.table: {rows, sha256}}}}
#   (see fingerprint.sh; `tables`: how many tables the login's database holds); kind "cluster"
#   (pg_dumpall) or "database" (pg_dump), the latter with "databaseName", "owner",
#   "ownerRole" (existing | created | created-nologin) and "databaseCreated" (true | false).
# A failed restore leaves what psql had done so far; a re-run then refuses the non-empty target.
# A failed login check comes after the restore: the data is there, the line says so.
set -euo pipefail
HERE=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/copy-common.sh
. "$HERE/../copy-common.sh" restore-dump.sh
# shellcheck source=scripts/restore/fingerprint.sh
. "$HERE/fingerprint.sh"

step() { log "step $1"; }

# --- Settings: every problem found before anything is downloaded or changed.
SOURCE_URI="${SOURCE_URI:-}"
EXPECTED_SHA256="${EXPECTED_SHA256:-}"
EXPECTED_SIZE="${EXPECTED_SIZE:-}"
ALLOW_NON_EMPTY="${ALLOW_NON_EMPTY:-false}"
re='^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+[^/])$'
[[ "$SOURCE_URI" =~ $re ]] ||
  fail "SOURCE_URI must name one object like s3://bucket/prefix/backup-...-dumpall.sql.gz, got '$SOURCE_URI'"
SOURCE_BUCKET="${BASH_REMATCH[1]}"
SOURCE_KEY="${BASH_REMATCH[2]}"
EXPECTED_SHA256="${EXPECTED_SHA256,,}"
[[ "$EXPECTED_SHA256" =~ ^[0-9a-f]{64}$ ]] ||
  fail "EXPECTED_SHA256 must be the object's hex SHA-256 (the backups output's sha256), got '$EXPECTED_SHA256'"
require_uint EXPECTED_SIZE "$EXPECTED_SIZE" 1
SOURCE_FILE="${SOURCE_FILE:-}"
FETCH_ONLY="${FETCH_ONLY:-false}"
case "$ALLOW_NON_EMPTY" in
true | false) ;;
*) fail "ALLOW_NON_EMPTY must be true or false, got '$ALLOW_NON_EMPTY'" ;;
esac
case "$FETCH_ONLY" in
true | false) ;;
*) fail "FETCH_ONLY must be true or false, got '$FETCH_ONLY'" ;;
esac
[[ -z "$SOURCE_FILE" || "$SOURCE_FILE" == /* ]] ||
  fail "SOURCE_FILE must be an absolute path (where the dump is, or goes with FETCH_ONLY=true), got '$SOURCE_FILE'"
[[ "$FETCH_ONLY" == false || -n "$SOURCE_FILE" ]] ||
  fail "FETCH_ONLY=true needs SOURCE_FILE: the absolute path to download the dump to"
# The target database of a single-database dump (checked again once the kind is known).
DATABASE_NAME="${DATABASE_NAME:-}" DATABASE_OWNER="${DATABASE_OWNER:-}"
DATABASE_OWNER_SECRET="${DATABASE_OWNER_SECRET:-}"
if [[ "$FETCH_ONLY" == false && -n "$DATABASE_NAME$DATABASE_OWNER$DATABASE_OWNER_SECRET" ]]; then
  [[ "$DATABASE_NAME" =~ ^[A-Za-z0-9_\$.-]{1,63}$ && "$DATABASE_NAME" != template[01] ]] ||
    fail "DATABASE_NAME (restore.databases[].database.name) must be a database name such as frag, got '$DATABASE_NAME'"
  [[ "$DATABASE_OWNER" =~ ^[A-Za-z_][A-Za-z0-9_\$]{0,62}$ ]] ||
    fail "DATABASE_OWNER (restore.databases[].database.owner) must be a PostgreSQL role name such as fragalysis, got '$DATABASE_OWNER'"
  [[ -z "$DATABASE_OWNER_SECRET" || -n "${DATABASE_OWNER_PASSWORD:-}" ]] ||
    fail "DATABASE_OWNER_PASSWORD is not set or empty: $DATABASE_OWNER_SECRET has no password for $DATABASE_OWNER (restore.databases[].database.ownerPasswordSecret: is the Secret there, with that key?); set it before the restore, nothing restored"
fi
# Logins: only the `restore` container checks them (the fetch has no PostgreSQL to log in to).
LOGIN_COUNT="${LOGIN_COUNT:-0}"
require_uint LOGIN_COUNT "$LOGIN_COUNT"
if [[ "$FETCH_ONLY" == false ]]; then
  for ((i = 0; i < LOGIN_COUNT; i++)); do
    u="LOGIN_${i}_USER" d="LOGIN_${i}_DATABASE" p="LOGIN_${i}_PASSWORD" t="LOGIN_${i}_TABLES"
    from="LOGIN_${i}_SECRET"
    [[ "${!u:-}" =~ ^[A-Za-z_][A-Za-z0-9_\$]{0,62}$ ]] ||
      fail "$u must be a PostgreSQL role name such as fragalysis, got '${!u:-}'"
    [[ "${!d:-}" =~ ^[A-Za-z0-9_\$.-]{1,63}$ ]] ||
      fail "$d must be a database name such as frag, got '${!d:-}'"
    # No value: the Secret or its key is missing (the Job reads it as an optional secretKeyRef).
    [[ -n "${!p:-}" ]] ||
      fail "$p is not set or empty: ${!from:-its Secret} has no password for ${!u} (is the Secret there, with that key?); set it before the restore, nothing restored"
    read -r -a names <<<"${!t:-}" # split on blanks, never globbed
    for table in ${names[@]+"${names[@]}"}; do
      [[ "$table" =~ ^[a-z_][a-z0-9_\$]*(\.[a-z_][a-z0-9_\$]*)?$ ]] ||
        fail "$t must list unquoted lower-case table names such as django_migrations or public.django_migrations, got '$table'"
    done
  done
fi
if [[ "$FETCH_ONLY" == true ]]; then
  require_tools aws sha256sum stat
elif [[ -n "$SOURCE_FILE" ]]; then
  require_tools gzip psql sha256sum sort awk stat
else
  require_tools aws gzip psql sha256sum sort awk stat
fi

WORK_DIR=$(mktemp -d -- "${TMPDIR:-/tmp}/restore-dump.sh.XXXXXX") ||
  fail "cannot create a temporary directory in ${TMPDIR:-/tmp}; point TMPDIR at a writable one"
trap 'rm -rf -- "$WORK_DIR"' EXIT
chmod 700 "$WORK_DIR"
export TMPDIR="$WORK_DIR"

# Size and sha256 of a local copy against the backups output, before any use of it.
verify_copy() { # file what
  local size sha
  size=$(stat -c %s -- "$1")
  sha=$(sha256sum <"$1")
  sha="${sha%% *}"
  [[ "$size" == "$EXPECTED_SIZE" ]] ||
    fail "$2 is $size bytes, EXPECTED_SIZE is $EXPECTED_SIZE (sha256 $sha, expected $EXPECTED_SHA256); not the object the backup recorded, nothing restored"
  [[ "$sha" == "$EXPECTED_SHA256" ]] ||
    fail "$2 has sha256 $sha, EXPECTED_SHA256 is $EXPECTED_SHA256; not the object the backup recorded, nothing restored"
  log "download: $size bytes, sha256 $sha as expected"
}

# Downloads SOURCE_URI to a file and verifies it.
download() { # file
  local endpoint_args=() endpoint="${AWS_ENDPOINT_URL_S3:-${AWS_ENDPOINT_URL:-}}"
  # aws CLI v1 reads AWS_ENDPOINT_URL only in recent releases; pass it explicitly as well.
  [[ -z "$endpoint" ]] || endpoint_args=(--endpoint-url "$endpoint")
  if ! run_child aws ${endpoint_args[@]+"${endpoint_args[@]}"} s3 cp --only-show-errors \
    "s3://$SOURCE_BUCKET/$SOURCE_KEY" "$1" 2>"$WORK_DIR/aws.err" >/dev/null; then
    fail "cannot download $SOURCE_URI: $(grep -av '^[[:space:]]*$' "$WORK_DIR/aws.err" | tail -n 1 | cut -c1-2000); nothing restored"
  fi
  verify_copy "$1" "$SOURCE_URI"
}

if [[ "$FETCH_ONLY" == true ]]; then
  step "download: $SOURCE_URI to $SOURCE_FILE (FETCH_ONLY=true)"
  # A failed or cut download leaves no partial file behind.
  trap 'rm -rf -- "$WORK_DIR" "$SOURCE_FILE.part"' EXIT
  rm -f -- "$SOURCE_FILE.part"
  download "$SOURCE_FILE.part"
  mv -f -- "$SOURCE_FILE.part" "$SOURCE_FILE" || fail "cannot rename $SOURCE_FILE.part to $SOURCE_FILE"
  log "download: $SOURCE_FILE is ready; nothing restored (FETCH_ONLY=true)"
  exit 0
fi

# psql against the target's `postgres` database (catalog queries), tuples only.
target_psql() { fp_psql postgres -At "$@" 2>"$WORK_DIR/fp.err"; }

# --- Step target: reachable, a superuser, and its version (before the download: bad PG*
# settings fail in seconds, not after a large transfer).
step "target: connecting to the PostgreSQL server"
info=$(target_psql -F ' ' -c "SELECT current_setting('server_version_num'), rolsuper, quote_ident(current_user) FROM pg_roles WHERE rolname = current_user") ||
  fail "cannot connect to the target PostgreSQL server: $(fp_error); check PGHOST, PGPORT, PGUSER and PGPASSWORD"
read -r TARGET_VERSION_NUM IS_SUPER ME_IDENT <<<"$info"
[[ "$IS_SUPER" == t ]] ||
  fail "PGUSER $ME_IDENT is not a superuser on the target; the restore needs one (the server's admin role)"
log "target: PostgreSQL $TARGET_VERSION_NUM, restoring as $ME_IDENT"

# --- Step download: a private temp file, then size and sha256 before any use.
if [[ -n "$SOURCE_FILE" ]]; then
  # Checked again here: the file crossed a volume since the fetch checked it.
  step "download: $SOURCE_FILE (fetched from $SOURCE_URI)"
  DUMP="$SOURCE_FILE"
  [[ -f "$DUMP" && -r "$DUMP" ]] ||
    fail "SOURCE_FILE $SOURCE_FILE is not a readable file (did the fetch with FETCH_ONLY=true run?); nothing restored"
  verify_copy "$DUMP" "$SOURCE_FILE (from $SOURCE_URI)"
else
  step "download: $SOURCE_URI"
  DUMP="$WORK_DIR/dump.sql.gz"
  download "$DUMP"
fi
size="$EXPECTED_SIZE"
sha="$EXPECTED_SHA256"

# --- Step check: one decompression pass for gzip integrity, the kind from the header, the
# complete-dump trailer (the last line other than "--" and psql's \unrestrict), the dumped-from
# version and the databases the dump creates. COPY data is skipped: a value never counts as SQL.
step "check: gzip integrity, kind, completeness, version"
rc=(0 0)
gzip -dc -- "$DUMP" 2>"$WORK_DIR/gzip.err" | awk '
  function unquote(s,   out, i, c) {
    if (substr(s, 1, 1) != "\"") { sub(/[ ;].*/, "", s); return s }
    out = ""
    for (i = 2; i <= length(s); i++) {
      c = substr(s, i, 1)
      if (c == "\"") { if (substr(s, i + 1, 1) == "\"") { out = out c; i++; continue } break }
      out = out c
    }
    return out
  }
  incopy { if ($0 == "\\.") incopy = 0; next }
  /^COPY .* FROM stdin;$/ { incopy = 1; next }
  NR <= 10 && kind == "" && $0 == "-- PostgreSQL database cluster dump" { kind = "cluster" }
  NR <= 10 && kind == "" && $0 == "-- PostgreSQL database dump" { kind = "database" }
  /^-- Dumped from database version / && version == "" { version = substr($0, 33) }
  /^CREATE DATABASE / { print "create\t" unquote(substr($0, 17)) }
  /^CREATE EXTENSION / {
    name = substr($0, 18)
    if (index(name, "IF NOT EXISTS ") == 1) name = substr(name, 15)
    print "extension\t" unquote(name)
  }
  /[^[:space:]]/ && $0 != "--" && !/^\\unrestrict / { last = $0 }
  END { print "kind\t" kind; print "version\t" version; print "last\t" last }
' >"$WORK_DIR/check" || rc=("${PIPESTATUS[@]}")
((rc[0] == 0)) ||
  fail "$SOURCE_URI is not a valid gzip file ($(head -n 1 "$WORK_DIR/gzip.err" | cut -c1-500)); nothing restored"
((rc[1] == 0)) || fail "could not read the dump's text (awk failed); nothing restored"
kind=$(awk -F '\t' '$1 == "kind" { print $2 }' "$WORK_DIR/check")
dumped_from=$(awk -F '\t' '$1 == "version" { print $2 }' "$WORK_DIR/check")
last=$(awk -F '\t' '$1 == "last" { print substr($0, 6) }' "$WORK_DIR/check")
case "$kind" in
cluster) trailer="-- PostgreSQL database cluster dump complete" kind_text="whole-server dump" ;;
database) trailer="-- PostgreSQL database dump complete" kind_text="single-database dump of $DATABASE_NAME" ;;
*) fail "$SOURCE_URI is not a PostgreSQL dump (no '-- PostgreSQL database cluster dump' or '-- PostgreSQL database dump' header); nothing restored" ;;
esac
# A pg_dump names no database: where it goes is a setting, checked before anything changes.
[[ "$kind" == cluster || -n "$DATABASE_NAME" ]] ||
  fail "$SOURCE_URI is a single-database dump (pg_dump), and DATABASE_NAME is not set: set restore.databases[].database {name, owner} (e.g. {name: frag, owner: fragalysis, ownerPasswordSecret: {name: database, key: user_password}}) to the database it restores into; nothing restored"
[[ "$last" == "$trailer" ]] ||
  fail "$SOURCE_URI is incomplete: it does not end with '$trailer' (the dump was cut short); nothing restored"
[[ "$dumped_from" =~ ^([0-9]+)\.([0-9]+)(\.([0-9]+))? ]] ||
  fail "$SOURCE_URI has no readable 'Dumped from database version' line (got '$dumped_from'); nothing restored"
major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}" patch="${BASH_REMATCH[4]:-0}"
if ((major >= 10)); then dump_num=$((major * 10000 + minor)); else dump_num=$((major * 10000 + minor * 100 + patch)); fi
((dump_num <= TARGET_VERSION_NUM)) ||
  fail "$SOURCE_URI was dumped from PostgreSQL $dumped_from, newer than the target ($TARGET_VERSION_NUM); restore into a server at least as new"
creates=$(awk -F '\t' '$1 == "create" && $2 != "template1" && $2 != "postgres" { print substr($0, 8) }' "$WORK_DIR/check")
if [[ "$kind" == database && -n "$(awk -F '\t' '$1 == "create"' "$WORK_DIR/check")" ]]; then
  fail "$SOURCE_URI is a single-database dump with its own CREATE DATABASE (pg_dump --create); restore-dump.sh creates $DATABASE_NAME itself: use a dump made without --create, nothing restored"
fi
# A whole-server dump brings its own roles and databases: the setting only has to agree with it.
if [[ "$kind" == cluster && -n "$DATABASE_NAME" ]]; then
  awk -F '\t' -v db="$DATABASE_NAME" '$1 == "create" && substr($0, 8) == db { found = 1 } END { exit !found }' "$WORK_DIR/check" ||
    fail "$SOURCE_URI is a whole-server dump that does not create database $DATABASE_NAME (DATABASE_NAME, restore.databases[].database.name); name a database the dump creates, or remove the setting; nothing restored"
  log "check: DATABASE_NAME=$DATABASE_NAME is created by the whole-server dump itself, with the dump's own roles: DATABASE_OWNER and its password are not used"
fi
# Extensions are installed files on the server: without them psql would stop halfway through.
extensions=$(awk -F '\t' '$1 == "extension" { print substr($0, 11) }' "$WORK_DIR/check" | sort -u)
unavailable=$(target_psql -v names="$extensions" <<'SQL'
SELECT string_agg(quote_ident(n), ', ' ORDER BY n COLLATE "C")
FROM unnest(string_to_array(:'names', E'\n')) AS n
WHERE NOT EXISTS (SELECT 1 FROM pg_available_extensions a WHERE a.name = n);
SQL
) || fail "cannot list the target's available extensions: $(fp_error)"
[[ -z "$unavailable" ]] ||
  fail "$SOURCE_URI needs extensions the target does not have (pg_available_extensions): $unavailable; run the database on an image that provides them (e.g. informaticsmatters/rdkit-cartridge-debian for rdkit), nothing restored"
log "check: $kind_text from PostgreSQL ${dumped_from%% *}, complete; it creates $(grep -c . <<<"$creates" || true) databases; extensions, all available: ${extensions//$'\n'/ }"

# --- Step empty: refuse a target that holds data, naming it, unless ALLOW_NON_EMPTY=true.
step "empty: is the target empty?"
found=$(target_psql -v names="$creates" <<'SQL'
SELECT 'database ' || quote_ident(datname) || ' exists (the dump creates it)'
FROM pg_database WHERE datname = ANY (string_to_array(:'names', E'\n'))
ORDER BY datname COLLATE "C";
SQL
) || fail "cannot list the target's databases: $(fp_error)"
while IFS= read -r -d '' db; do
  more=$(fp_psql "$db" -At 2>"$WORK_DIR/fp.err" <<'SQL'
SELECT 'database ' || quote_ident(current_database()) || ' holds ' || count(*) || ' user relations, e.g. '
       || min(format('%I.%I', n.nspname, c.relname) COLLATE "C")
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
HAVING count(*) > 0;
SQL
  ) || fail "cannot look into the target's database $db: $(fp_error)"
  [[ -z "$more" ]] || found+="${found:+$'\n'}$more"
done < <(target_psql -0 -c "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname COLLATE \"C\"" ||
  fail "cannot list the target's databases: $(fp_error)")
if [[ -n "$found" ]]; then
  what="${found//$'\n'/; }"
  [[ "$ALLOW_NON_EMPTY" == true ]] ||
    fail "the target is not empty: $what; restore into an empty server, or set ALLOW_NON_EMPTY=true to restore over it (the dump drops and replaces its databases)"
  log "empty: the target is not empty ($what); restoring anyway: ALLOW_NON_EMPTY=true"
else
  log "empty: the target holds no data"
fi
if [[ "$kind" == database ]]; then
  # An existing (empty) database is used as it is only when the owner is right: the dump's
  # objects get their owner from it, and in PostgreSQL 15 only the database's owner may create
  # in its public schema (Django's next migration, as the owner).
  owner=$(target_psql -v db="$DATABASE_NAME" <<'SQL'
SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db';
SQL
  ) || fail "cannot read the target's database $DATABASE_NAME: $(fp_error)"
  [[ -z "$owner" || "$owner" == "$DATABASE_OWNER" ]] ||
    fail "database $DATABASE_NAME exists on the target, owned by $owner, not $DATABASE_OWNER (DATABASE_OWNER, restore.databases[].database.owner); ALTER DATABASE $DATABASE_NAME OWNER TO $DATABASE_OWNER, or drop it, then run again; nothing restored"
fi

# --- Step prepare (a single-database dump): its owner and its database, as a pg_dump restore
# needs them and upstream's moving-back.rst makes them by hand. The password comes from the
# environment through psql's \getenv: never on a command line, in a log or in psql's output;
# the session logs no statements (log_statement, log_min_error_statement, slow-statement
# logging, pg_stat_statements' utility tracking), so the server's log does not keep it either.
owner_role="" database_created=false
if [[ "$kind" == database ]]; then
  step "prepare: role $DATABASE_OWNER and database $DATABASE_NAME"
  has_password=false
  [[ -z "${DATABASE_OWNER_PASSWORD:-}" ]] || has_password=true
  made=$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -v owner="$DATABASE_OWNER" \
    -v db="$DATABASE_NAME" -v has_password="$has_password" -d postgres 2>"$WORK_DIR/fp.err" <<'SQL'
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SET log_min_duration_statement = -1;
SET pg_stat_statements.track_utility = off;
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') AS need_role \gset
\if :need_role
\if :has_password
\getenv owner_password DATABASE_OWNER_PASSWORD
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
\unset owner_password
\echo role created
\else
CREATE ROLE :"owner" NOLOGIN;
\echo role created-nologin
\endif
\else
\echo role existing
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') AS need_db \gset
\if :need_db
CREATE DATABASE :"db" OWNER :"owner";
\echo database true
\else
\echo database false
\endif
SQL
  ) || fail "cannot create role $DATABASE_OWNER or database $DATABASE_NAME: $(fp_error); nothing restored"
  owner_role=$(sed -n 's/^role //p' <<<"$made")
  database_created=$(sed -n 's/^database //p' <<<"$made")
  case "$owner_role" in
  created) log "prepare: created role $DATABASE_OWNER (LOGIN, password from ${DATABASE_OWNER_SECRET:-DATABASE_OWNER_PASSWORD})" ;;
  created-nologin) log "prepare: created role $DATABASE_OWNER NOLOGIN: no DATABASE_OWNER_PASSWORD (restore.databases[].database.ownerPasswordSecret), so it cannot log in until ALTER ROLE $DATABASE_OWNER LOGIN PASSWORD ..." ;;
  *) log "prepare: role $DATABASE_OWNER exists; left as it is" ;;
  esac
  if [[ "$database_created" == true ]]; then
    log "prepare: created database $DATABASE_NAME OWNER $DATABASE_OWNER"
  else
    log "prepare: database $DATABASE_NAME exists, owned by $DATABASE_OWNER; restoring into it"
  fi
fi

# --- Step restore: psql as the target superuser, stopping at the first error.
# A whole-server dump: the restoring role's own lines in the roles section (before the first
# \connect) are skipped. It starts in `postgres`, not template1 as the upstream doc does: a
# --clean dump drops and re-creates template1 first, and nobody can drop the database they are
# connected to (the dump's own \connect lines take it on; it drops `postgres` last, from another
# database). A single-database dump: into DATABASE_NAME, nothing skipped; its OWNER TO lines
# give the objects to their owners.
if [[ "$kind" == cluster ]]; then
  into=postgres
else
  into="$DATABASE_NAME"
fi
step "restore: psql -X -v ON_ERROR_STOP=1 -d $into as $ME_IDENT"
rc=(0 0 0)
gzip -dc -- "$DUMP" | awk -v me="$ME_IDENT" -v counter="$WORK_DIR/skipped" -v kind="$kind" '
  kind == "cluster" && !roles_done && /^\\connect / { roles_done = 1 }
  kind == "cluster" && !roles_done && ($0 == "DROP ROLE IF EXISTS " me ";" || $0 == "DROP ROLE " me ";" ||
                  $0 == "CREATE ROLE " me ";" || index($0, "ALTER ROLE " me " WITH ") == 1) {
    skipped++; next
  }
  { print }
  END { print skipped + 0 > counter }
' | psql -X -q -v ON_ERROR_STOP=1 -d "dbname=$(conninfo_value "$into")" >/dev/null 2>"$WORK_DIR/psql.err" || rc=("${PIPESTATUS[@]}")
if ((rc[2] != 0)); then
  fail "psql stopped the restore: $(grep -a -m1 -E 'ERROR|FATAL' "$WORK_DIR/psql.err" | cut -c1-2000 || tail -n 1 "$WORK_DIR/psql.err"); the target is partly restored: drop what it created (or start a new server) before the next run"
fi
((rc[0] == 0 && rc[1] == 0)) || fail "could not read the dump during the restore (gzip ${rc[0]}, awk ${rc[1]})"
skipped=$(cat "$WORK_DIR/skipped")
log "restore: done; skipped $skipped line(s) of role $ME_IDENT (its own DROP/CREATE/ALTER ROLE)"

# --- Step logins: each configured role logs in to its database with the application's password,
# as the application will; every problem in one line. The data is restored whatever this finds.
step "logins: $LOGIN_COUNT role(s) log in to their databases"
logins="" problems=""
for ((i = 0; i < LOGIN_COUNT; i++)); do
  u="LOGIN_${i}_USER" d="LOGIN_${i}_DATABASE" p="LOGIN_${i}_PASSWORD" t="LOGIN_${i}_TABLES"
  from="LOGIN_${i}_SECRET"
  # Only this role's own password: the superuser's is not offered, no password file is read.
  if ! found=$(PGUSER="${!u}" PGPASSWORD="${!p}" PGPASSFILE=/dev/null fp_psql "${!d}" -At \
    -v tables="${!t:-}" 2>"$WORK_DIR/fp.err" <<'SQL'
SELECT 'tables ' || count(*)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%';
SELECT CASE WHEN to_regclass(t) IS NULL THEN 'has no table ' || t
            ELSE 'cannot read table ' || t END
FROM unnest(string_to_array(:'tables', ' ')) AS t
WHERE t <> '' AND (to_regclass(t) IS NULL OR NOT has_table_privilege(to_regclass(t), 'SELECT'));
SQL
  ); then
    reason=$(fp_error)
    # The server's own words ("password authentication failed for user ..."), not libpq's prefix.
    [[ "$reason" != *"FATAL:"* ]] || reason="${reason##*FATAL:  }"
    problems+="${problems:+; }${!u} cannot log in to database ${!d}: $reason (password from ${!from:-$p})"
    continue
  fi
  tables=$(sed -n 's/^tables //p' <<<"$found")
  while IFS= read -r line; do
    [[ -z "$line" || "$line" == "tables "* ]] || problems+="${problems:+; }database ${!d} as ${!u} $line"
  done <<<"$found"
  logins+="${logins:+,}{\"user\":\"${!u}\",\"database\":\"${!d}\",\"tables\":$tables}"
  log "logins: ${!u} logs in to database ${!d}, which holds $tables tables${!t:+, ${!t// /, } among them}"
done
[[ -z "$problems" ]] ||
  fail "restored, but: $problems; set the role's password or the Secret so they match (or restore the missing tables); the data is restored: do not start the application on it before this holds"

# --- Step fingerprint: what the target now holds.
if [[ "$kind" == cluster ]]; then
  step "fingerprint: row counts and content hashes of every table"
  fingerprint_server ""
else
  step "fingerprint: row counts and content hashes of every table of $DATABASE_NAME"
  fingerprint_server "$DATABASE_NAME"
fi
json_str_v "$SOURCE_URI"
source_json="$JSON_STR"
json_str_v "$dumped_from"
head="{\"source\":$source_json,\"sha256\":\"$sha\",\"size\":$size,\"kind\":\"$kind\",\"dumpedFrom\":$JSON_STR,\"skippedRoleLines\":$skipped,\"logins\":[$logins]"
# Names checked above (no quote or backslash): safe in JSON as they are.
[[ "$kind" == cluster ]] ||
  head+=",\"databaseName\":\"$DATABASE_NAME\",\"owner\":\"$DATABASE_OWNER\",\"ownerRole\":\"$owner_role\",\"databaseCreated\":$database_created"
# The summary first (the full line can exceed the 4 KiB of a termination message), the full
# result as the last stdout line.
if [[ -n "${RESULT_FILE:-}" ]]; then
  printf '%s\n' "$head,\"summary\":$FINGERPRINT_SUMMARY_JSON}" >"$RESULT_FILE" ||
    log "could not write RESULT_FILE $RESULT_FILE"
fi
printf '%s\n' "$head,\"databases\":$FINGERPRINT_JSON}"
