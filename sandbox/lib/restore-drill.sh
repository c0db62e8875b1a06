#!/usr/bin/env bash
# The relocation drill's second half: the restore side (side: restore) run for real against what
# the backup stack `local` copied. A second, empty set of namespaces plays the new cluster
# (sandbox/cluster/destination.yaml): empty PostgreSQL servers with password logins, an empty
# media volume, the app's StatefulSets deployed at 0. Then:
#   1. stack `local-restore-corrupt`: the Keycloak dump's object altered in S3 (same size, same
#      metadata) must fail the restore naming it, with nothing restored; the object put back;
#   2. stack `local-restore`: preview, up, a second up that changes nothing, destroy (which keeps
#      the data); the restored servers compared table by table with the old ones, which still sit
#      at the quiesce (the backup stack is not destroyed yet).
# Sourced after the other lib files; run_restore_drill runs after the backup stack's second pass.
set -euo pipefail

readonly DEST_STACK_NS="dest-production-stack" DEST_KEYCLOAK_NS="dest-im-infra"
# The destination's database ports (hostNetwork, like the old ones at 5432/5433).
declare -rA DEST_PORT=([dest-production-stack]=5442 [dest-im-infra]=5443)
# The superuser each destination server restores as, and its Secret (upstream's names).
declare -rA DEST_USER=([dest-production-stack]=postgres [dest-im-infra]=admin)
declare -rA DEST_SECRET=([dest-production-stack]=database [dest-im-infra]=im-postgres)
declare -rA DEST_SECRET_KEY=([dest-production-stack]=root_password [dest-im-infra]=database_admin_user_password)
# Which old server each restored backup came from.
declare -rA DRILL_PAIRS=([keycloak-db]="im-infra dest-im-infra" [stack-db]="production-stack dest-production-stack")

# dest_password NS: the destination server's superuser password (generated per run).
dest_password() { kc -n "$1" get secret "${DEST_SECRET[$1]}" -o "jsonpath={.data.${DEST_SECRET_KEY[$1]}}" | base64 -d; }

# server_env NS: the libpq settings that reach that namespace's server from here.
server_env() {
  case "$1" in
  dest-*) printf '%s\n' "PGHOST=$SANDBOX_ADDRESS" "PGPORT=${DEST_PORT[$1]}" "PGUSER=${DEST_USER[$1]}" "PGPASSWORD=$(dest_password "$1")" ;;
  *) printf '%s\n' "PGHOST=$SANDBOX_ADDRESS" "PGPORT=${DATABASE_PORT[$1]}" "PGUSER=postgres" ;;
  esac
}

# fingerprint NS: scripts/restore/fingerprint.sh against that server: every database, every
# table's rows and content hash, one JSON line.
fingerprint() {
  local settings
  mapfile -t settings < <(server_env "$1")
  env "${settings[@]}" PGCONNECT_TIMEOUT=10 bash "$SANDBOX_REPO/scripts/restore/fingerprint.sh"
}

# user_relations NS: how many user databases and tables the server holds (0 0 = empty).
user_relations() {
  local settings
  mapfile -t settings < <(server_env "$1")
  env "${settings[@]}" psql -X -At -d postgres -c \
    "SELECT (SELECT count(*) FROM pg_database WHERE datname NOT IN ('postgres','template0','template1'))
       || ' ' || (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog','information_schema'))"
}

seed_destination() {
  DEST_MEDIA="$SANDBOX_DIR/dest-media"
  rm -rf "$DEST_MEDIA"
  mkdir -p "$DEST_MEDIA"
  local keycloak_pw stack_pw ns
  keycloak_pw="kc-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  stack_pw="st-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  render "$SANDBOX_CLUSTER_YAML/destination.yaml" "IMAGE_BUSYBOX=$SANDBOX_IMAGE_BUSYBOX" \
    "DEST_STACK_NS=$DEST_STACK_NS" "DEST_KEYCLOAK_NS=$DEST_KEYCLOAK_NS" "DEST_MEDIA=$DEST_MEDIA" \
    "KEYCLOAK_ADMIN_PASSWORD=$keycloak_pw" "STACK_DB_PASSWORD=$stack_pw" \
    "FRAG_DB_PASSWORD=$FRAG_DB_PASSWORD" "KEYCLOAK_DB_PASSWORD=$KEYCLOAK_DB_PASSWORD" | kc apply -f - >/dev/null
  for ns in "$DEST_STACK_NS" "$DEST_KEYCLOAK_NS"; do
    kc -n "$ns" create configmap postgres-scripts --from-file="$SANDBOX_CLUSTER_YAML/scripts/" >/dev/null
    render "$SANDBOX_CLUSTER_YAML/database.yaml" "IMAGE_POSTGRES=$SANDBOX_IMAGE_POSTGRES" \
      "ADDRESS=$SANDBOX_ADDRESS" "NAMESPACE=$ns" "PGPORT=${DEST_PORT[$ns]}" \
      "SUPERUSER=${DEST_USER[$ns]}" "PASSWORD_SECRET=${DEST_SECRET[$ns]}" \
      "PASSWORD_KEY=${DEST_SECRET_KEY[$ns]}" | kc apply -f - >/dev/null
  done
  wait_ready "$DEST_STACK_NS/database:1" "$DEST_KEYCLOAK_NS/database:1"
  local empty
  for ns in "$DEST_STACK_NS" "$DEST_KEYCLOAK_NS"; do
    empty="$(user_relations "$ns")" || die "cannot log in to $ns's new server as ${DEST_USER[$ns]} with its Secret's password"
    [[ "$empty" == "0 0" ]] || die "$ns's new server is not empty ($empty)"
  done
  say "destination seeded: $DEST_STACK_NS and $DEST_KEYCLOAK_NS with empty PostgreSQL (password logins), an empty media volume, stack and keycloak at 0"
}

# write_restore_config STACK BACKUPS DELETE_DATA [FULL]: a restore stack restoring BACKUPS (dump
# names separated by spaces) from stack `local` into the destination; FULL=full adds the media
# tree and the scale-up of the app's StatefulSets (named differently here: `from` the old names).
write_restore_config() {
  local stack="$1" backups="$2" delete_data="$3" full="${4:-}" file backup dest
  file=$(config_file "$stack")
  {
    grep '^encryptionsalt:' "$file"
    cat <<YAML
config:
  fragalysis-relocation:side: restore
  fragalysis-relocation:restore:
    source: organization/fragalysis-relocation/local
    aws:
      region: $SANDBOX_REGION
      endpoint: $MOTO_ENDPOINT
    kubeContext: $KUBE_CONTEXT
    jobs:
      image: $SANDBOX_IMAGE_AWSCLI
    psqlImage: $SANDBOX_IMAGE_POSTGRES
    deleteDataOnDestroy: $delete_data
    databases:
YAML
    for backup in $backups; do
      dest="${DRILL_PAIRS[$backup]#* }"
      cat <<YAML
      - backup: $backup
        namespace: $dest
        statefulSet: database
        host: $SANDBOX_ADDRESS
        port: ${DEST_PORT[$dest]}
        user: ${DEST_USER[$dest]}
        passwordSecret: { name: ${DEST_SECRET[$dest]}, key: ${DEST_SECRET_KEY[$dest]} }
YAML
      # The applications' logins, checked by the restore Job (upstream's Secrets and keys).
      if [[ "$full" == full && "$backup" == stack-db ]]; then
        cat <<YAML
        logins:
          - user: fragalysis
            database: frag
            passwordSecret: { name: database, key: user_password }
            expectTables: [django_migrations, viewer_target]
YAML
      elif [[ "$full" == full ]]; then
        cat <<YAML
        logins:
          - user: keycloak
            database: keycloak
            passwordSecret: { name: im-keycloak, key: database_user_password }
            expectTables: [realm, user_entity]
YAML
      fi
    done
    if [[ "$full" == full ]]; then
      cat <<YAML
    media:
      - { backup: stack-media, namespace: $DEST_STACK_NS, pvc: media }
    scaleUp:
      - { namespace: $DEST_STACK_NS, statefulSet: stack, from: production-stack/stack }
      - { namespace: $DEST_KEYCLOAK_NS, statefulSet: keycloak, from: im-infra/keycloak }
YAML
    fi
  } >"$file.new"
  mv "$file.new" "$file"
  printf '%s' "$SANDBOX_AWS_KEY_ID" | pl "$stack" config set --secret awsAccessKeyId >/dev/null
  printf '%s' "$SANDBOX_AWS_SECRET" | pl "$stack" config set --secret awsSecretAccessKey >/dev/null
}

# An object whose sha256 differs from the source's output (same key, size and metadata: what a
# torn or foreign write looks like) fails the restore naming it, and nothing reaches the server.
run_restore_corrupt() {
  local bucket key size rc=0 log="$SANDBOX_RUN/restore-corrupt-up.log" orig="$SANDBOX_RUN/keycloak-dump.orig"
  bucket="$(jq -r '.backups["keycloak-db"].bucket' "$SANDBOX_RUN/outputs-up.json")"
  key="$(jq -r '.backups["keycloak-db"].key' "$SANDBOX_RUN/outputs-up.json")"
  size="$(jq -r '.backups["keycloak-db"].size' "$SANDBOX_RUN/outputs-up.json")"
  aws_sandbox s3api get-object --bucket "$bucket" --key "$key" "$orig" >"$SANDBOX_RUN/keycloak-dump.head.json"
  local meta etag
  meta="$(jq -c '.Metadata // {}' "$SANDBOX_RUN/keycloak-dump.head.json")"
  etag="$(jq -r .ETag "$SANDBOX_RUN/keycloak-dump.head.json")"
  # One byte in the middle flipped: same size, different content.
  python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0xFF; open(sys.argv[2], "wb").write(b)' \
    "$orig" "$orig.corrupt"
  aws_sandbox s3api put-object --bucket "$bucket" --key "$key" --body "$orig.corrupt" --metadata "$meta" >/dev/null

  init_stack local-restore-corrupt
  write_restore_config local-restore-corrupt keycloak-db true
  say "restore of an altered object: pulumi up (must fail)"
  pl local-restore-corrupt up --yes --skip-preview >"$log" 2>&1 || rc=$?
  sed 's/^/    /' "$log" >&2
  local left
  left="$(user_relations "$DEST_KEYCLOAK_NS")"

  # The object back as it was: the good restore and the backup stack's own checks need it.
  aws_sandbox s3api put-object --bucket "$bucket" --key "$key" --body "$orig" --metadata "$meta" >/dev/null
  local now
  now="$(aws_sandbox s3api head-object --bucket "$bucket" --key "$key" --query ETag --output text)"
  [[ "$now" == "$etag" ]] || die "could not put the Keycloak dump back as it was (ETag $now, was $etag)"

  if ((rc != 0)) && grep -qF "$key" "$log" && grep -qi 'sha256' "$log" && [[ "$left" == "0 0" ]]; then
    check restore-refuses-corrupt-object true "up exit $rc, names $key and its sha256 ($size bytes, one byte altered); the new server is still empty"
  else
    check restore-refuses-corrupt-object false "up exit $rc; key named: $(grep -cF "$key" "$log") line(s), sha256: $(grep -ci sha256 "$log"); the new server holds (databases tables): $left"
  fi
  pl local-restore-corrupt destroy --yes --skip-preview >"$SANDBOX_RUN/restore-corrupt-destroy.log" 2>&1 ||
    check restore-corrupt-stack-destroyed false "destroy failed; see .sandbox/run/restore-corrupt-destroy.log"
}

# The restore preview's plan names each dump object with the target server, the tree with its
# files and the volume, and each scale-up's counts (what `up` then does).
check_restore_plan() {
  local log="$SANDBOX_RUN/restore-preview.log" out="$SANDBOX_RUN/outputs-up.json" want missing=()
  local files
  files="$(jq -r '.backups["stack-media"].files' "$out")"
  for want in \
    "restore plan (nothing has changed yet):" \
    "dump keycloak-db: s3://$SANDBOX_BUCKET/$(jq -r '.backups["keycloak-db"].key' "$out")" \
    "dump stack-db: s3://$SANDBOX_BUCKET/$(jq -r '.backups["stack-db"].key' "$out")" \
    "-> $DEST_STACK_NS/database ($SANDBOX_ADDRESS:${DEST_PORT[$DEST_STACK_NS]} as postgres), into an empty server; then logins fragalysis@frag" \
    "media stack-media: $files files" \
    "-> PVC $DEST_STACK_NS/media (capacity 1.0 GiB)" \
    "scale up $DEST_STACK_NS/stack: 0 replicas now -> $(jq -r '.originalReplicas["production-stack/stack"]' "$out") (the count production-stack/stack had)" \
    "scale up $DEST_KEYCLOAK_NS/keycloak: 0 replicas now -> $(jq -r '.originalReplicas["im-infra/keycloak"]' "$out") (the count im-infra/keycloak had)"; do
    grep -qF -- "$want" "$log" || missing+=("$want")
  done
  if ((${#missing[@]} == 0)); then
    check restore-preview-shows-plan true "both dump objects and their servers, the tree's $files files into PVC $DEST_STACK_NS/media (1.0 GiB), both scale-ups with the old counts"
  else
    check restore-preview-shows-plan false "not in the preview: $(printf '"%s" ' "${missing[@]}")"
  fi
}

# Every restored server equals the old one table by table (rows and content hash), and the
# program's own summary of each restore is what it checked.
check_restored_dumps() {
  local backup old new a b problems=() tables=0 rows=0
  for backup in "${!DRILL_PAIRS[@]}"; do
    read -r old new <<<"${DRILL_PAIRS[$backup]}"
    a="$(fingerprint "$old")" || die "cannot fingerprint the old server $old"
    b="$(fingerprint "$new")" || die "cannot fingerprint the new server $new"
    printf '%s\n' "$a" >"$SANDBOX_RUN/fingerprint-old-$backup.json"
    printf '%s\n' "$b" >"$SANDBOX_RUN/fingerprint-new-$backup.json"
    if [[ "$a" != "$b" ]]; then
      problems+=("$backup: $old and $new differ: $(jq -nc --argjson a "$a" --argjson b "$b" \
        '[($a.databases | to_entries[]) as $d | ($d.value | to_entries[]) | select($b.databases[$d.key][.key] != .value) | "\($d.key).\(.key)"] | join(", ")')")
      continue
    fi
    # Not vacuous: the probe table with its rows and the late write is there.
    if ! jq -e '.databases.postgres["public.relocation_probe"].rows >= 101' <<<"$b" >/dev/null; then
      problems+=("$backup: no public.relocation_probe with >= 101 rows in $new")
    fi
    tables=$((tables + $(jq '[.databases[] | length] | add' <<<"$b")))
    rows=$((rows + $(jq '[.databases[][] | .rows] | add' <<<"$b")))
  done
  if ((${#problems[@]} == 0)); then
    check restore-dumps-rows-equal true "${#DRILL_PAIRS[@]} servers restored: $tables tables, $rows rows, each table's row count and content hash equal to the old server at the quiesce (late writes included)"
  else
    check restore-dumps-rows-equal false "$(printf '%s; ' "${problems[@]}")"
  fi
}

# The program's own verdict: every restored dump `equal` to the old side's fingerprint at dump
# time (not "unverified": the backup stack fingerprinted both refreshed dumps).
check_restore_verdict() {
  local v="$SANDBOX_RUN/outputs-restore.json" statuses
  statuses="$(jq -r '[.verdict.dumps // {} | to_entries[] | "\(.key)=\(.value.status)"] | sort | join(" ")' "$v")"
  statuses+=" $(jq -r '[.verdict.media // {} | to_entries[] | "\(.key)=\(.value.status)"] | sort | join(" ")' "$v")"
  if [[ "$(jq -r '.verdict.ok' "$v")" == true && "$statuses" == "keycloak-db=equal stack-db=equal stack-media=equal" ]]; then
    check restore-verdict-equal true "verdict ok: $statuses (each database's tables, rows and sha256 equal to the fingerprint taken at dump time)"
  else
    check restore-verdict-equal false "verdict ok: $(jq -c '.verdict.ok' "$v"); $statuses"
  fi
}

# Every file in the new media volume is one the manifests list, with its size and sha256, and
# every manifest file is there: same count and bytes (the late upload included).
check_restored_media() {
  local keys key i=0 late
  read -r -a keys <<<"$(jq -r '.backups["stack-media"].manifestKey' "$SANDBOX_RUN/outputs-up.json")"
  for key in "${keys[@]}"; do
    aws_sandbox s3 cp --quiet "s3://$SANDBOX_BUCKET/$key" "$SANDBOX_RUN/media-manifest-$i.jsonl"
    i=$((i + 1))
  done
  late="$(jq -r .media "$SANDBOX_RUN/late-writes.json")"
  local verdict
  verdict="$(python3 - "$DEST_MEDIA" "$late" "$SANDBOX_RUN"/media-manifest-*.jsonl <<'PY'
import hashlib, json, os, sys
root, late, manifests = sys.argv[1].encode(), sys.argv[2], sys.argv[3:]
want = {}
for m in manifests:
    for line in open(m, encoding="utf-8"):
        e = json.loads(line)
        want[e["path"].encode("utf-8", "surrogateescape")] = (e["size"], e["sha256"])
have = {}
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        have[rel] = (os.lstat(p).st_size, h.hexdigest())
bad = [p.decode(errors="replace") for p in sorted(set(want) | set(have)) if want.get(p) != have.get(p)]
files, size = len(have), sum(s for s, _ in have.values())
ok = not bad and len(want) > 0 and late.encode() in have
print(json.dumps({"ok": ok, "files": files, "bytes": size, "manifest": len(want),
                  "lateUpload": late.encode() in have, "mismatched": bad[:10]}))
PY
)"
  if [[ "$(jq -r .ok <<<"$verdict")" == true ]]; then
    check restore-media-sha256-equal true "$(jq -r '"\(.files) files, \(.bytes) bytes in the new volume, each with the manifest'"'"'s size and sha256; nothing else there; the late upload included"' <<<"$verdict")"
  else
    check restore-media-sha256-equal false "$verdict"
  fi
}

# The app's StatefulSets in the new namespaces at the counts the old side recorded, every pod
# Ready, and the program's scaledUp output saying the same.
check_scaled_up() {
  local pair old new want got ready out problems=()
  for pair in "production-stack/stack $DEST_STACK_NS/stack" "im-infra/keycloak $DEST_KEYCLOAK_NS/keycloak"; do
    read -r old new <<<"$pair"
    want="$(jq -r --arg k "$old" '.originalReplicas[$k]' "$SANDBOX_RUN/outputs-up.json")"
    got="$(kc -n "${new%/*}" get statefulset "${new#*/}" -o 'jsonpath={.spec.replicas}')"
    ready="$(kc -n "${new%/*}" get statefulset "${new#*/}" -o 'jsonpath={.status.readyReplicas}')"
    out="$(jq -c --arg k "$new" '.scaledUp[$k] // null' "$SANDBOX_RUN/outputs-restore.json")"
    if [[ "$want" =~ ^[1-9] && "$got" == "$want" && "${ready:-0}" == "$want" ]] &&
      [[ "$(jq -r '"\(.replicas) \(.ready)"' <<<"$out")" == "$want $want" ]]; then
      problems+=("ok $new=$want (as $old)")
    else
      problems+=("BAD $new: spec $got, ready ${ready:-0}, recorded for $old: $want, output $out")
    fi
  done
  if [[ "${problems[*]}" != *BAD* ]]; then
    check restore-scaled-up true "${problems[*]//ok /}; pods Ready"
  else
    check restore-scaled-up false "${problems[*]}"
  fi
}

# The applications' roles log in to their restored databases over TCP with the passwords the
# old servers had (scram-sha-256 here; the Secrets upstream reuses hold them), and frag holds
# django_migrations: what the stack and Keycloak need when they start.
check_app_logins() {
  local login ns user db pw got problems=() done=()
  for login in "$DEST_STACK_NS fragalysis frag FRAG_DB_PASSWORD" "$DEST_KEYCLOAK_NS keycloak keycloak KEYCLOAK_DB_PASSWORD"; do
    read -r ns user db pw <<<"$login"
    got="$(PGHOST="$SANDBOX_ADDRESS" PGPORT="${DEST_PORT[$ns]}" PGUSER="$user" PGPASSWORD="${!pw}" \
      PGCONNECT_TIMEOUT=10 psql -X -At -d "$db" -c "SELECT current_user || ' ' || (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')" 2>&1)" ||
      { problems+=("$user@$ns/$db: ${got//$'\n'/ }"); continue; }
    done+=("$user@$ns/$db ($got tables)")
  done
  local migrations
  migrations="$(PGHOST="$SANDBOX_ADDRESS" PGPORT="${DEST_PORT[$DEST_STACK_NS]}" PGUSER=fragalysis PGPASSWORD="$FRAG_DB_PASSWORD" \
    psql -X -At -d frag -c 'SELECT count(*) FROM django_migrations' 2>&1)" || migrations="error: ${migrations//$'\n'/ }"
  [[ "$migrations" == 40 ]] || problems+=("frag.django_migrations: $migrations rows, want 40")
  # The restore Jobs' own login checks reported the same (the restored output's logins).
  local reported
  reported="$(jq -r '[.restored[]? | .logins[]? | "\(.user)/\(.database)"] | sort | join(" ")' "$SANDBOX_RUN/outputs-restore.json")"
  [[ "$reported" == "fragalysis/frag keycloak/keycloak" ]] || problems+=("the restore Jobs reported logins: '$reported'")
  if ((${#problems[@]} == 0)); then
    check restore-app-logins true "${done[*]}; frag.django_migrations: 40 rows; the restore Jobs checked the same logins ($reported)"
  else
    check restore-app-logins false "$(printf '%s; ' "${problems[@]}")"
  fi
}

# Destroy of the restore stack leaves the data (deleteDataOnDestroy false).
check_restore_destroy_keeps_data() {
  local ns held kept=() emptied=0
  for ns in "$DEST_STACK_NS" "$DEST_KEYCLOAK_NS"; do
    held="$(user_relations "$ns")"
    kept+=("$ns: $held")
    [[ "${held#* }" != 0 ]] || emptied=$((emptied + 1))
  done
  local jobs media running
  jobs="$(kc get jobs -A -o json | jq -r '[.items[] | select(.metadata.name | startswith("restore-")) | "\(.metadata.namespace)/\(.metadata.name)"] | join(" ")')"
  media="$(find "$DEST_MEDIA" -type f | wc -l)"
  running="$(kc -n "$DEST_STACK_NS" get statefulset stack -o 'jsonpath={.spec.replicas}')"
  if ((emptied == 0 && media > 0 && running > 0)) && [[ -n "$jobs" ]]; then
    check restore-destroy-keeps-data true "after destroy, (databases tables) ${kept[*]}; $media media files; $DEST_STACK_NS/stack still at $running; Jobs kept as the record: $jobs"
  else
    check restore-destroy-keeps-data false "after destroy, (databases tables) ${kept[*]}; $media media files; $DEST_STACK_NS/stack at $running; Jobs kept: ${jobs:-none}"
  fi
}

run_restore_drill() {
  seed_destination
  run_restore_corrupt
  init_stack local-restore
  write_restore_config local-restore "keycloak-db stack-db" false full
  step restore-preview-succeeds restore-preview.log pl local-restore preview --diff || true
  check_restore_plan
  step restore-up-succeeds restore-up.log pl local-restore up --yes --skip-preview || {
    check restore-dumps-rows-equal false "the restore stack's up failed"
    return 0
  }
  (cd "$SANDBOX_REPO" && pulumi stack output --stack local-restore --json) >"$SANDBOX_RUN/outputs-restore.json"
  say "restore stack outputs:"
  cat "$SANDBOX_RUN/outputs-restore.json" >&2
  check_restored_dumps
  check_restored_media
  check_app_logins
  check_scaled_up
  check_restore_verdict
  step restore-second-up-no-changes restore-up-2.log pl local-restore up --yes --skip-preview --expect-no-changes || true
  step restore-destroy-succeeds restore-destroy.log pl local-restore destroy --yes --skip-preview || true
  check_restore_destroy_keeps_data
}
