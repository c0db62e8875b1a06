#!/usr/bin/env bash
# The checks that need the live cluster or a real PostgreSQL (the data checks that only read
# snapshots are in sandbox/summary.ts): real pods ran the Jobs, the quiesce stopped real
# containers, the copied dumps hold the writes made after the last scheduled backup, the media
# file written after the last replication is in S3. Sourced after the other lib files.
set -euo pipefail

# snapshot_cluster NAME: pods, Jobs and the node as the API reports them at this moment.
snapshot_cluster() {
  kc get pods,jobs --all-namespaces -o json >"$SANDBOX_RUN/cluster-$1.json"
  kc get node "$SANDBOX_NODE" -o json >"$SANDBOX_RUN/node.json"
}

# pods_of NAME JQ-FILTER: the pods of snapshot NAME matching the filter, one JSON object a line.
pods_of() { jq -c ".items[] | select(.kind == \"Pod\") | select($2)" "$SANDBOX_RUN/cluster-$1.json"; }

# The pods of the quiesced StatefulSets ran real containers before `up`; after it they are gone
# from the API and containerd runs none of their containers.
check_pods_terminated() {
  local before after running ids missing=""
  before="$(pods_of before '(.metadata.labels.app == "stack" or .metadata.labels.app == "keycloak")')"
  ids="$(jq -r '.status.containerStatuses[]?.containerID | sub("^containerd://"; "")' <<<"$before")"
  after="$(pods_of up '(.metadata.labels.app == "stack" or .metadata.labels.app == "keycloak")' | jq -r .metadata.name)"
  running="$(ctr_sandbox -n k8s.io tasks ls -q 2>/dev/null || true)"
  local id
  for id in $ids; do grep -qx "$id" <<<"$running" && missing+=" $id"; done
  local count
  count="$(grep -c . <<<"$ids" || true)"
  if ((count >= 3)) && [[ -z "$after" && -z "$missing" ]]; then
    check pods-terminated-on-quiesce true "$count containers of stack-0, stack-1, keycloak-0 ran, then stopped (grace period honoured); no pod left"
  else
    check pods-terminated-on-quiesce false "containers before: $count; pods after: ${after//$'\n'/ }; still running:$missing"
  fi
}

# job_pods_succeeded NAME-REGEX: "ok N" when every pod of the matching Jobs succeeded in a real
# container (a containerd id), else what went wrong.
job_pods_report() {
  jq -r --arg re "$1" --arg ns "$JOBS_NAMESPACE" '
    [.items[] | select(.kind == "Pod" and .metadata.namespace == $ns)
      | select((.metadata.labels["job-name"] // "") | test($re))] as $pods
    | ($pods | map(select(.status.phase == "Succeeded"
        and ((.status.containerStatuses // [])[0].containerID // "" | startswith("containerd://"))))) as $ok
    | "\($ok | length) \($pods | length) \([$pods[] | .metadata.annotations["batch.kubernetes.io/job-completion-index"] // empty] | sort | join(","))"' \
    "$SANDBOX_RUN/cluster-up.json"
}

# dump_holds_secret: the env dump of stack-0 in S3 holds the Secret-sourced value of its env.
dump_holds_secret() {
  local key text
  key="$(jq -r '.envDumpKeys["production-stack/stack-0"] // empty' "$SANDBOX_RUN/outputs-up.json")"
  [[ -n "$key" ]] || return 1
  # Read whole, then searched (grep -q on a pipe would end the download early: SIGPIPE).
  text="$(aws_sandbox s3 cp --quiet "s3://$SANDBOX_BUCKET/$key" -)" || return 1
  grep -qF "POSTGRESQL_PASSWORD=$SANDBOX_POD_SECRET" <<<"$text"
}

check_jobs_real() {
  local ok total indexes
  read -r ok total indexes <<<"$(job_pods_report 'env-dump')"
  if ((total > 0 && ok == total)) && dump_holds_secret && ! grep -rqF "$SANDBOX_POD_SECRET" "$SANDBOX_RUN"/*.log; then
    check env-dump-job-real true "$ok env-dump pods succeeded in real containers; the pods' secret env value is in the S3 dump only, in no log"
  else
    check env-dump-job-real false "$ok of $total env-dump pods succeeded; secret in the S3 dump: $(dump_holds_secret && echo yes || echo no); in logs: $(grep -rlF "$SANDBOX_POD_SECRET" "$SANDBOX_RUN"/*.log | tr '\n' ' ')"
  fi
  read -r ok total indexes <<<"$(job_pods_report '^backup-stack-db')"
  if ((total > 0 && ok >= 1)); then
    check copy-job-real true "stack-db copied by a Job: $ok pod(s) succeeded in real containers, the dump mounted read-only"
  else
    check copy-job-real false "stack-db copy Job: $ok of $total pods succeeded"
  fi
  read -r ok total indexes <<<"$(job_pods_report '^backup-stack-media')"
  if ((ok == 2)) && [[ "$indexes" == "0,1" ]]; then
    check indexed-shards-real true "the media copy ran as an Indexed Job: shards $indexes succeeded in real containers, results merged"
  else
    check indexed-shards-real false "media copy Job: $ok of $total pods succeeded, completion indexes '$indexes'"
  fi
}

# restore_count DUMP-GZ SQL: restores a pg_dumpall into a fresh PostgreSQL and prints SQL's result.
restore_count() {
  local dump="$1" sql="$2" dir port
  dir="$(mktemp -d)"
  chown postgres "$dir"
  port="$(free_port)"
  # As postgres, from a directory it may enter (the clone may be in a 0700 directory).
  (
    cd "$dir"
    runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$dir/data" -A trust -U postgres >/dev/null
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/data" -w -l "$dir/log" \
      -o "-c listen_addresses='' -c port=$port -c unix_socket_directories=$dir" start >/dev/null
    # The dump recreates the postgres role, which exists: that one error is expected.
    gzip -dc "$dump" | runuser -u postgres -- psql -X -q -h "$dir" -p "$port" -d template1 >/dev/null 2>&1 || true
    runuser -u postgres -- psql -X -At -h "$dir" -p "$port" -d postgres -c "$sql" 2>>"$SANDBOX_RUN/restore.log" || true
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  )
  rm -rf "$dir"
}

# The dumps copied by `up`, restored into a fresh PostgreSQL, hold the row written after the
# newest scheduled dump (for both databases); the media file written after the replication is in S3.
check_late_writes() {
  local outputs="$SANDBOX_RUN/outputs-up.json" late="$SANDBOX_RUN/late-writes.json" name ns key row got problems=()
  for name in keycloak-db:im-infra stack-db:production-stack; do
    ns="${name#*:}" name="${name%%:*}"
    key="$(jq -r --arg n "$name" '.backups[$n].key // empty' "$outputs")"
    row="$(jq -r --arg ns "$ns" '.[$ns]' "$late")"
    if [[ -z "$key" ]]; then problems+=("$name: no key in the outputs"); continue; fi
    aws_sandbox s3 cp --quiet "s3://$SANDBOX_BUCKET/$key" "$SANDBOX_RUN/restore-$name.sql.gz"
    got="$(restore_count "$SANDBOX_RUN/restore-$name.sql.gz" "SELECT count(*) FROM relocation_probe WHERE note = '$row'")"
    [[ "$got" == 1 ]] || problems+=("$name: $key restored holds the late row $got time(s)")
  done
  if ((${#problems[@]} == 0)); then
    check late-db-write-in-copied-dump true "both copied dumps, restored into a fresh PostgreSQL 15, hold the row written after the newest scheduled dump"
  else
    check late-db-write-in-copied-dump false "$(printf '%s; ' "${problems[@]}")"
  fi
  local file prefix
  file="$(jq -r .media "$late")"
  prefix="$(jq -r '.backups["stack-media"].prefix // empty' "$outputs")"
  if jq -e --arg k "$prefix$file" '.Contents // [] | any(.Key == $k)' "$SANDBOX_RUN/s3-up.json" >/dev/null; then
    check late-media-file-in-s3 true "$prefix$file (written by stack-0 after the last replication) is in S3"
  else
    check late-media-file-in-s3 false "$prefix$file is not in S3 after up"
  fi
}
