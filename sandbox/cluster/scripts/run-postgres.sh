#!/usr/bin/env bash
# The sandbox's database pods: a PostgreSQL 15 cluster in the pod's data volume, reachable from
# the sandbox's own network namespace only. Env: PGHOST (listen address), PGPORT; PGSUPERUSER
# (default postgres) and PGSUPERPASS: with a password (the destination's servers, from their
# Secret) clients log in with it (scram-sha-256), as in the new cluster; without one (the old
# servers) they are trusted.
set -euo pipefail
data=/var/lib/postgresql/data/pg
chown postgres /var/lib/postgresql/data
if [[ ! -f "$data/PG_VERSION" ]]; then
  if [[ -n "${PGSUPERPASS:-}" ]]; then
    pwfile=$(mktemp)
    printf '%s\n' "$PGSUPERPASS" >"$pwfile"
    chown postgres "$pwfile"
    runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$data" -A scram-sha-256 \
      -U "${PGSUPERUSER:-postgres}" --pwfile="$pwfile" >/dev/null
    rm -f "$pwfile"
    echo "host all all 10.88.0.0/16 scram-sha-256" >>"$data/pg_hba.conf"
  else
    runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$data" -A trust \
      -U "${PGSUPERUSER:-postgres}" >/dev/null
    echo "host all all 10.88.0.0/16 trust" >>"$data/pg_hba.conf"
  fi
fi
exec runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D "$data" \
  -c listen_addresses="$PGHOST" -c port="$PGPORT" -c unix_socket_directories=/tmp
