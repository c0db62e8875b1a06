#!/usr/bin/env bash
# Seeds the sandbox to look like production: the NFS server's directories at the production paths
# under .sandbox/nfs (hourly dumps, the live media volume and its replica), then the workloads as
# real pods (sandbox/cluster/*.yaml): databases with rows, a scheduled backup, and the writes
# production would lose if the copies took the last scheduled backups: a row after the newest
# dump, a media file after the last replication.
# Sourced after common.sh, netns.sh and cluster.sh. Sets NFS_ROOT, the expected dumps and the
# late-write markers (written to .sandbox/run/late-writes.json for the checks).
set -euo pipefail

readonly SANDBOX_CLUSTER_YAML="$SANDBOX_REPO/sandbox/cluster"
# The production paths (Pulumi.production.yaml), below NFS_ROOT. Each PVC is a directory
# /nfs/kubernetes-prod/<namespace>-<pvc>-<pv> on the NFS server.
readonly KEYCLOAK_VOLUME="nfs/kubernetes-prod/im-infra-pg-bu-pvc-5fad6224-8ad9-40b0-a3eb-aa6c9c845d49"
readonly STACK_VOLUME="nfs/kubernetes-prod/production-stack-database-backup-pvc-d2affd17-5291-4c19-b4e3-a6253f35a737"
readonly KEYCLOAK_HOURLY="$KEYCLOAK_VOLUME/hourly"
readonly STACK_HOURLY="$STACK_VOLUME/hourly"
readonly MEDIA_LIVE="nfs/kubernetes-prod/production-stack-media-pvc-9a3c1f0e-media"
readonly MEDIA_DIR="nfs/kubernetes-media-replica"
# Where the program's Jobs run (made here: the copy Jobs' claims must exist before `up`).
readonly JOBS_NAMESPACE="fragalysis-relocation"
export JOBS_NAMESPACE
# Database ports per namespace (hostNetwork pods on the node address).
declare -rA DATABASE_PORT=([production-stack]=5432 [im-infra]=5433)

# render FILE KEY=VALUE...: FILE with each @KEY@ replaced, on stdout.
render() {
  local file="$1" text pair
  shift
  text="$(<"$file")"
  for pair in "$@"; do text="${text//@${pair%%=*}@/${pair#*=}}"; done
  printf '%s\n' "$text"
}

# dump FILE: a small real gzip'd "pg_dumpall" (content differs per file), with pg_dumpall's
# header and "dump complete" trailer: copy-latest.sh takes only complete dumps.
make_dump() {
  local file="$1" base i
  base="$(basename -- "$(dirname -- "$(dirname -- "$1")")")/$(basename -- "$1")"
  {
    printf -- '--\n-- PostgreSQL database cluster dump\n--\n\n-- (sandbox) %s\n' "$base"
    for i in $(seq 1 200); do printf "INSERT INTO t VALUES (%d, '%s');\n" "$i" "$base"; done
    printf -- '\n--\n-- PostgreSQL database cluster dump complete\n--\n\n'
  } | gzip -9 >"$file"
}

# hourly DIR: several older hourly backups; the newest is too young (written just now), the next
# is corrupt (not gzip): the copies must never take any of them, they predate the quiesce.
seed_hourly() {
  local dir="$1" t name i
  mkdir -p "$dir"
  rm -f "$dir"/backup-*
  for i in 6 5 4 3 2; do
    t=$(date -u -d "-$i hours" +%Y-%m-%dT%H:00:00Z)
    name="backup-$t-dumpall.sql.gz"
    make_dump "$dir/$name"
    touch -d "-$i hours" "$dir/$name"
  done
  t=$(date -u -d "-1 hours" +%Y-%m-%dT%H:00:00Z)
  make_dump "$dir/backup-$t-dumpall.sql.gz"
  truncate -s 100 "$dir/backup-$t-dumpall.sql.gz"
  touch -d "-1 hours" "$dir/backup-$t-dumpall.sql.gz"
  t=$(date -u -d "-10 minutes" +%Y-%m-%dT%H:%M:00Z)
  make_dump "$dir/backup-$t-dumpall.sql.gz"
  echo "not a backup" >"$dir/README.txt"
}

seed_nfs() {
  NFS_ROOT="$SANDBOX_DIR/nfs"
  export NFS_ROOT
  rm -rf "$NFS_ROOT"
  seed_hourly "$NFS_ROOT/$KEYCLOAK_HOURLY"
  seed_hourly "$NFS_ROOT/$STACK_HOURLY"
  local media="$NFS_ROOT/$MEDIA_LIVE"
  mkdir -p "$media/compound_sets/Mpro set 1" "$media/target_loaders/2023/10" "$media/pdbs/A71EV2A" \
    "$media/empty dir"
  head -c 300000 /dev/urandom >"$media/target_loaders/2023/10/Mpro upload.tar.gz"
  head -c 4096 /dev/urandom >"$media/compound_sets/Mpro set 1/compounds.sdf"
  echo "ligand" >"$media/pdbs/A71EV2A/A71EV2A-x0310_A:1.pdb"
  printf 'HEADER x\n' >"$media/pdbs/A71EV2A/A71EV2A-x0311.pdb"
  : >"$media/pdbs/zero-bytes.txt"
  printf 'top\n' >"$media/README"
  # The nightly replication (production's media-replicator: rsync -a of the live volume).
  mkdir -p "$NFS_ROOT/$MEDIA_DIR"
  cp -a "$media/." "$NFS_ROOT/$MEDIA_DIR/"
  say "NFS tree seeded under $NFS_ROOT (live media volume replicated to $MEDIA_DIR)"
}

# wait_ready NS/STS:N...: every StatefulSet has N ready pods (bounded).
wait_ready() {
  local item ns sts want deadline=$((SECONDS + 120))
  for item in "$@"; do
    ns="${item%%/*}" sts="${item#*/}" want="${sts#*:}" sts="${sts%%:*}"
    until [[ "$(kc -n "$ns" get statefulset "$sts" -o 'jsonpath={.status.readyReplicas}' 2>/dev/null)" == "$want" ]]; do
      ((SECONDS < deadline)) || die "$ns/$sts did not get $want ready pods within 120 s; see kubectl describe pod"
      sleep 1
    done
  done
}

# psql_in NS SQL: SQL on that namespace's database, through its pod (kubectl exec, for real).
psql_in() {
  kc -n "$1" exec database-0 -- psql -X -q -v ON_ERROR_STOP=1 -h "$SANDBOX_ADDRESS" \
    -p "${DATABASE_PORT[$1]}" -U postgres -At -c "$2"
}

# psql_script NS DB: SQL from stdin on that namespace's server and database, through its pod
# (the passwords in it never reach a command line).
psql_script() {
  kc -n "$1" exec -i database-0 -- psql -X -q -v ON_ERROR_STOP=1 -h "$SANDBOX_ADDRESS" \
    -p "${DATABASE_PORT[$1]}" -U postgres -d "$2" >/dev/null
}

# seed_app_databases: the applications' own roles and databases, as upstream's init scripts make
# them: role `fragalysis` owning database `frag` (Django: django_migrations and a table with the
# awkward types a fingerprint must print the same on both sides) on the stack's server; role
# `keycloak` owning `keycloak` on the infrastructure's. Their passwords (FRAG_DB_PASSWORD,
# KEYCLOAK_DB_PASSWORD, generated per run) are what the restored roles must still accept.
seed_app_databases() {
  FRAG_DB_PASSWORD="frag-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  KEYCLOAK_DB_PASSWORD="kc-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export FRAG_DB_PASSWORD KEYCLOAK_DB_PASSWORD
  psql_script production-stack postgres <<SQL
CREATE ROLE fragalysis LOGIN PASSWORD '$FRAG_DB_PASSWORD';
CREATE DATABASE frag OWNER fragalysis;
SQL
  psql_script production-stack frag <<'SQL'
SET ROLE fragalysis;
CREATE TABLE django_migrations (id serial PRIMARY KEY, app text NOT NULL, name text NOT NULL,
  applied timestamptz NOT NULL);
INSERT INTO django_migrations (app, name, applied)
  SELECT 'viewer', format('%s_auto', lpad(n::text, 4, '0')), timestamptz '2023-10-16 12:00:00+00' + n * interval '1 day'
  FROM generate_series(1, 40) n;
CREATE TABLE viewer_target (id serial PRIMARY KEY, title text, notes text, blob bytea,
  score double precision, amount numeric(12, 4), meta jsonb, seen timestamptz, tags text[]);
INSERT INTO viewer_target (title, notes, blob, score, amount, meta, seen, tags)
  SELECT 'Mpro-x' || n, E'line one\nline two\twith tab ' || n, decode(md5(n::text), 'hex'),
    n / 3.0, n * 1.2345, jsonb_build_object('n', n, 'odd', n % 2 = 1),
    timestamptz '2024-02-29 23:59:59.123456+00' + n * interval '1 hour', ARRAY['a', 'b ' || n]
  FROM generate_series(1, 60) n;
INSERT INTO viewer_target (title, notes) VALUES (NULL, ''), ('quote '' and \ backslash', NULL);
SQL
  psql_script im-infra postgres <<SQL
CREATE ROLE keycloak LOGIN PASSWORD '$KEYCLOAK_DB_PASSWORD';
CREATE DATABASE keycloak OWNER keycloak;
SQL
  psql_script im-infra keycloak <<'SQL'
SET ROLE keycloak;
CREATE TABLE realm (id varchar(36) PRIMARY KEY, name varchar(255) UNIQUE, enabled boolean);
INSERT INTO realm VALUES ('master', 'master', true), ('xchem', 'xchem', true);
CREATE TABLE user_entity (id varchar(36) PRIMARY KEY, realm_id varchar(36) REFERENCES realm,
  username varchar(255), created_timestamp bigint);
INSERT INTO user_entity SELECT md5(n::text), 'xchem', 'user' || n, 1700000000000 + n
  FROM generate_series(1, 25) n;
SQL
}

# backup_now NS CRONJOB JOB: one backup run from the CronJob's template (the "scheduled" one).
backup_now() {
  kc -n "$1" create job --from="cronjob/$2" "$3" >/dev/null
  kc -n "$1" wait --for=condition=complete --timeout=120s "job/$3" >/dev/null ||
    die "backup job $1/$3 did not complete; see kubectl -n $1 describe job $3"
  local verdict
  verdict="$(kc -n "$1" get pods -l "job-name=$3" -o 'jsonpath={.items[0].status.containerStatuses[0].state.terminated.message}')"
  [[ "$verdict" == SUCCESS* ]] || die "backup job $1/$3 reported '$verdict'"
}

seed_cluster() {
  # A value only the pods' env holds: the env dump must carry it to S3 and never print it.
  SANDBOX_POD_SECRET="pod-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export SANDBOX_POD_SECRET
  local images=("IMAGE_BUSYBOX=$SANDBOX_IMAGE_BUSYBOX" "IMAGE_POSTGRES=$SANDBOX_IMAGE_POSTGRES" "ADDRESS=$SANDBOX_ADDRESS")
  render "$SANDBOX_CLUSTER_YAML/workloads.yaml" "${images[@]}" "MEDIA_LIVE=$NFS_ROOT/$MEDIA_LIVE" \
    "STACK_BACKUP=$NFS_ROOT/$STACK_VOLUME" "KEYCLOAK_BACKUP=$NFS_ROOT/$KEYCLOAK_VOLUME" \
    "POD_SECRET=$SANDBOX_POD_SECRET" | kc apply -f - >/dev/null
  render "$SANDBOX_CLUSTER_YAML/jobs-volumes.yaml" "JOBS_NAMESPACE=$JOBS_NAMESPACE" \
    "STACK_BACKUP=$NFS_ROOT/$STACK_VOLUME" | kc apply -f - >/dev/null
  local ns claim schedule
  for ns in production-stack im-infra; do
    kc -n "$ns" create configmap postgres-scripts --from-file="$SANDBOX_CLUSTER_YAML/scripts/" >/dev/null
    render "$SANDBOX_CLUSTER_YAML/database.yaml" "${images[@]}" "NAMESPACE=$ns" \
      "PGPORT=${DATABASE_PORT[$ns]}" SUPERUSER=postgres PASSWORD_SECRET=no-password PASSWORD_KEY=none |
      kc apply -f - >/dev/null
    claim=database-backup schedule="51 * * * *"
    # The Keycloak schedule drifted to once a day in some releases (fragalysis-production.md).
    [[ "$ns" == production-stack ]] || claim=pg-bu schedule="7 3 * * *"
    render "$SANDBOX_CLUSTER_YAML/backup-cronjob.yaml" "${images[@]}" "NAMESPACE=$ns" \
      "NAME=postgres-backup-hourly" "SCHEDULE=$schedule" \
      "PGPORT=${DATABASE_PORT[$ns]}" "CLAIM=$claim" | kc apply -f - >/dev/null
  done
  # A backup that fails as production's does (exit 0, "FAILURE (n)"): a wrong port. Suspended:
  # only the refresh-failure stack runs it, from its template.
  render "$SANDBOX_CLUSTER_YAML/backup-cronjob.yaml" "${images[@]}" "NAMESPACE=im-infra" \
    "NAME=postgres-backup-broken" "SCHEDULE=7 3 * * *" "PGPORT=1" "CLAIM=pg-bu" |
    sed 's/^  suspend: false$/  suspend: true/' | kc apply -f - >/dev/null
  wait_ready production-stack/stack:2 production-stack/database:1 im-infra/keycloak:1 im-infra/database:1
  say "cluster seeded: production-stack/{stack x2,database}, im-infra/{keycloak,database} running for real"
}

# seed_writes: rows, the last scheduled backup of each database, then the writes after it.
seed_writes() {
  local ns stamp late="{}"
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  seed_app_databases
  for ns in production-stack im-infra; do
    psql_in "$ns" "CREATE TABLE relocation_probe (note text PRIMARY KEY, at timestamptz DEFAULT now());
      INSERT INTO relocation_probe (note) SELECT 'row ' || n FROM generate_series(1, 100) n;"
    backup_now "$ns" postgres-backup-hourly "scheduled-${stamp,,}"
    psql_in "$ns" "INSERT INTO relocation_probe (note) VALUES ('late write $ns $stamp');"
    late="$(jq -c --arg ns "$ns" --arg v "late write $ns $stamp" '.[$ns] = $v' <<<"$late")"
  done
  # A media upload after the last replication: written by the app pod into its live volume.
  local media_file="late-upload-$stamp.txt"
  kc -n production-stack exec stack-0 -- sh -c "echo 'uploaded after the replication' >/code/media/$media_file"
  jq -c --arg f "$media_file" '.media = $f' <<<"$late" >"$SANDBOX_RUN/late-writes.json"
  say "late writes: a row in each database after its newest dump, media file $media_file after the replication"
}
