#!/usr/bin/env bash
# The sandbox's database pods: a PostgreSQL 15 cluster in the pod's data volume, reachable
# (trust) from the sandbox's own network namespace only. Env: PGHOST (listen address), PGPORT.
set -euo pipefail
data=/var/lib/postgresql/data/pg
chown postgres /var/lib/postgresql/data
if [[ ! -f "$data/PG_VERSION" ]]; then
  runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$data" -A trust -U postgres >/dev/null
  echo "host all all 10.88.0.0/16 trust" >>"$data/pg_hba.conf"
fi
exec runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D "$data" \
  -c listen_addresses="$PGHOST" -c port="$PGPORT" -c unix_socket_directories=/tmp
