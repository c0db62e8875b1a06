#!/usr/bin/env bash
# Seeds the sandbox to look like production: the workloads in kwok (pods Running, exec env) and a
# fake NFS tree at the production paths under .sandbox/nfs.
# Sourced after common.sh and kwok.sh. Sets NFS_ROOT and the expected choice of each dump dir.
set -euo pipefail

readonly SANDBOX_KWOK_DIR="$SANDBOX_REPO/sandbox/kwok"
# The production paths (Pulumi.production.yaml), below NFS_ROOT.
readonly KEYCLOAK_HOURLY="nfs/kubernetes-prod/im-infra-pg-bu-pvc-5fad6224-8ad9-40b0-a3eb-aa6c9c845d49/hourly"
readonly STACK_HOURLY="nfs/kubernetes-prod/production-stack-database-backup-pvc-d2affd17-5291-4c19-b4e3-a6253f35a737/hourly"
readonly MEDIA_DIR="nfs/kubernetes-media-replica"

seed_cluster() {
  kc apply -f "$SANDBOX_KWOK_DIR/node.yaml" >/dev/null
  kc apply -f "$SANDBOX_KWOK_DIR/workloads.yaml" >/dev/null
  kc apply -f "$SANDBOX_KWOK_DIR/exec.yaml" >/dev/null
  local ns_sts ns sts want deadline=$((SECONDS + 60))
  for ns_sts in production-stack/stack:2 production-stack/database:1 im-infra/keycloak:1 im-infra/database:1; do
    ns="${ns_sts%%/*}" sts="${ns_sts#*/}" want="${sts#*:}" sts="${sts%%:*}"
    until [[ "$(kc -n "$ns" get statefulset "$sts" -o 'jsonpath={.status.readyReplicas}' 2>/dev/null)" == "$want" ]]; do
      ((SECONDS < deadline)) || die "$ns/$sts did not get $want Running pods within 60 s"
      sleep 1
    done
  done
  # An exec that works is what the env dump needs: prove one before pulumi runs (kwok picks up
  # new Exec objects through an informer, a few seconds after they are created).
  until kc -n production-stack exec stack-0 -- env 2>/dev/null | grep -q '^SANDBOX_POD=production-stack/stack-0$'; do
    ((SECONDS < deadline)) || die "kubectl exec into production-stack/stack-0 does not print the configured env"
    sleep 1
  done
  say "cluster seeded: production-stack/{stack x2,database}, im-infra/{keycloak,database} Running"
}

# dump FILE: a small real gzip'd "pg_dumpall" (content differs per file).
make_dump() {
  local file="$1" base i
  base="$(basename -- "$(dirname -- "$(dirname -- "$1")")")/$(basename -- "$1")"
  {
    printf -- '-- PostgreSQL database cluster dump (sandbox)\n-- %s\n' "$base"
    for i in $(seq 1 200); do printf "INSERT INTO t VALUES (%d, '%s');\n" "$i" "$base"; done
  } | gzip -9 >"$file"
}

# hourly DIR: several hourly backups; the newest is too young (written just now), the next is
# corrupt (not gzip), so the copy must choose the third newest. Echoes that file's name.
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
  # Corrupt: a truncated gzip one hour ago (the copy skips it: gzip -t fails).
  t=$(date -u -d "-1 hours" +%Y-%m-%dT%H:00:00Z)
  make_dump "$dir/backup-$t-dumpall.sql.gz"
  truncate -s 100 "$dir/backup-$t-dumpall.sql.gz"
  touch -d "-1 hours" "$dir/backup-$t-dumpall.sql.gz"
  # Too young: the current hour's dump, modified now (still being written as far as anyone knows).
  t=$(date -u +%Y-%m-%dT%H:00:00Z)
  make_dump "$dir/backup-$t-dumpall.sql.gz"
  # Noise that the pattern must not pick.
  echo "not a backup" >"$dir/README.txt"
  date -u -d "-2 hours" +backup-%Y-%m-%dT%H:00:00Z-dumpall.sql.gz
}

seed_nfs() {
  NFS_ROOT="$SANDBOX_DIR/nfs"
  export NFS_ROOT
  rm -rf "$NFS_ROOT"
  EXPECT_KEYCLOAK_DUMP=$(seed_hourly "$NFS_ROOT/$KEYCLOAK_HOURLY")
  EXPECT_STACK_DUMP=$(seed_hourly "$NFS_ROOT/$STACK_HOURLY")
  export EXPECT_KEYCLOAK_DUMP EXPECT_STACK_DUMP
  local media="$NFS_ROOT/$MEDIA_DIR"
  mkdir -p "$media/compound_sets/Mpro set 1" "$media/target_loaders/2023/10" "$media/pdbs/A71EV2A" \
    "$media/empty dir"
  head -c 300000 /dev/urandom >"$media/target_loaders/2023/10/Mpro upload.tar.gz"
  head -c 4096 /dev/urandom >"$media/compound_sets/Mpro set 1/compounds.sdf"
  echo "ligand" >"$media/pdbs/A71EV2A/A71EV2A-x0310_A:1.pdb"
  printf 'HEADER x\n' >"$media/pdbs/A71EV2A/A71EV2A-x0311.pdb"
  : >"$media/pdbs/zero-bytes.txt"
  printf 'top\n' >"$media/README"
  say "NFS tree seeded under $NFS_ROOT (expect $EXPECT_STACK_DUMP)"
}
