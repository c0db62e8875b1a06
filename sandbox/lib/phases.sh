#!/usr/bin/env bash
# The Pulumi phases sandbox/run.sh runs, each recording snapshots (.sandbox/run/*.json) and
# checks (.sandbox/run/checks.jsonl) that sandbox/summary.ts turns into .sandbox/summary.json.
# Sourced after the other lib files.
set -euo pipefail

# snapshot NAME: StatefulSets (every namespace) and the bucket listing at this moment.
snapshot() {
  kc get statefulsets --all-namespaces -o json >"$SANDBOX_RUN/statefulsets-$1.json"
  aws_sandbox s3api list-objects-v2 --bucket "$SANDBOX_BUCKET" --output json \
    >"$SANDBOX_RUN/s3-$1.json"
}

# step NAME LOG CMD...: runs a pulumi command, its output in LOG (and on stderr), records a check.
step() {
  local name="$1" log="$SANDBOX_RUN/$2" rc=0
  shift 2
  say "$name: $*"
  "$@" >"$log" 2>&1 || rc=$?
  sed 's/^/    /' "$log" >&2
  if ((rc == 0)); then check "$name" true "exit 0"; else check "$name" false "exit $rc (see ${log#"$SANDBOX_REPO"/})"; fi
  return "$rc"
}

# newest_dump DIR: the name of the newest backup-* file (names sort by time).
newest_dump() { find "$1" -maxdepth 1 -name 'backup-*-dumpall.sql.gz' -printf '%f\0' | sort -z | tail -z -n1 | tr -d '\0'; }

run_local_stack() {
  snapshot before
  snapshot_cluster before
  init_stack local
  write_config local
  step preview-succeeds preview-1.log pl local preview --diff ||
    die "the first preview failed; nothing else can be checked"
  run_preview_plan
  step up-succeeds up-1.log pl local up --yes --skip-preview --event-log "$SANDBOX_RUN/events-up.jsonl" ||
    die "pulumi up failed; the servers are stopped (re-run with --keep to poke at them)"
  (cd "$SANDBOX_REPO" && pulumi stack output --stack local --json) >"$SANDBOX_RUN/outputs-up.json"
  say "stack outputs after up:"
  cat "$SANDBOX_RUN/outputs-up.json" >&2
  snapshot up
  snapshot_cluster up
  # What summary.ts compares against: the newest dump in each directory, which only the refresh
  # (after the quiesce) can have written.
  jq -n --arg k "$(newest_dump "$NFS_ROOT/$KEYCLOAK_HOURLY")" --arg s "$(newest_dump "$NFS_ROOT/$STACK_HOURLY")" \
    '{"keycloak-db": $k, "stack-db": $s}' >"$SANDBOX_RUN/expected-dumps.json"
  check_pods_terminated
  check_jobs_real
  check_late_writes
}

# The secrets (S3 secret key, SSH private key) appear nowhere in plain text: not in the state,
# its backups and history, nor in what the CLI printed or logged.
check_no_plain_secrets() {
  local body found patterns
  body=$(sed -n 2p "$SSH_CLIENT_KEY") # a line of the key's base64 body
  patterns=(-e "$SANDBOX_AWS_SECRET" -e "$body")
  # The applications' database passwords (seed.sh), which the dumps carry only as SCRAM hashes.
  if [[ -n "${FRAG_DB_PASSWORD:-}" ]]; then patterns+=(-e "$FRAG_DB_PASSWORD" -e "$KEYCLOAK_DB_PASSWORD"); fi
  found=$(grep -rlF "${patterns[@]}" "$SANDBOX_DIR/state" "$SANDBOX_RUN" || true)
  if [[ -z "$found" ]]; then
    check no-plain-secrets-in-state-or-logs true "state, history and CLI output searched"
  else
    check no-plain-secrets-in-state-or-logs false "found in: ${found//$'\n'/, }"
  fi
}

run_second_pass() {
  step second-preview-no-changes preview-2.log pl local preview --expect-no-changes || true
  step second-up-no-changes up-2.log pl local up --yes --skip-preview --expect-no-changes \
    --event-log "$SANDBOX_RUN/events-up-2.jsonl" || true
  snapshot up-2
}

run_destroy() {
  step destroy-succeeds destroy.log pl local destroy --yes --skip-preview || true
  snapshot destroy
}

# A StatefulSet that does not exist: preview (and up) must fail naming it, and change nothing.
run_broken_stack() {
  local missing="production-stack/stack-does-not-exist"
  init_stack local-broken
  write_config local-broken stack-does-not-exist
  local rc=0
  pl local-broken preview >"$SANDBOX_RUN/broken-preview.log" 2>&1 || rc=$?
  sed 's/^/    /' "$SANDBOX_RUN/broken-preview.log" >&2
  if ((rc != 0)) && grep -q "$missing" "$SANDBOX_RUN/broken-preview.log"; then
    check broken-preview-fails-naming-it true "exit $rc, names $missing"
  else
    check broken-preview-fails-naming-it false "exit $rc; message naming $missing: $(grep -c "$missing" "$SANDBOX_RUN/broken-preview.log") line(s)"
  fi
  rc=0
  pl local-broken up --yes --skip-preview >"$SANDBOX_RUN/broken-up.log" 2>&1 || rc=$?
  if ((rc != 0)) && grep -q "$missing" "$SANDBOX_RUN/broken-up.log"; then
    check broken-up-fails-naming-it true "exit $rc, names $missing"
  else
    check broken-up-fails-naming-it false "exit $rc (see .sandbox/run/broken-up.log)"
  fi
  snapshot broken
}

# A backup whose refresh Job reports FAILURE (n) (and exits 0, as production's image does):
# `up` must fail naming the Job and its message, and copy nothing for that backup.
run_refresh_failure_stack() {
  init_stack local-refresh-fail
  write_refresh_failure_config local-refresh-fail
  snapshot refresh-fail-before
  local rc=0 log="$SANDBOX_RUN/refresh-fail-up.log"
  pl local-refresh-fail up --yes --skip-preview >"$log" 2>&1 || rc=$?
  sed 's/^/    /' "$log" >&2
  snapshot refresh-fail-after
  local changed
  changed="$(jq -n --slurpfile a "$SANDBOX_RUN/s3-refresh-fail-before.json" --slurpfile b "$SANDBOX_RUN/s3-refresh-fail-after.json" \
    '[($b[0].Contents // [])[] | select(.Key | startswith("production-keycloak-db/"))] - [($a[0].Contents // [])[] | select(.Key | startswith("production-keycloak-db/"))] | map(.Key) | join(", ")')"
  # The engine's wrapping must not reach the operator: the line is printed as written.
  local wrapped
  wrapped="$(grep -c 'error serializing property' "$log" || true)"
  if ((rc != 0)) && grep -q 'relocation-refresh-keycloak-db-broken' "$log" && grep -q 'FAILURE (1)' "$log" && [[ "$changed" == '""' ]] && ((wrapped == 0)); then
    check refresh-failure-stops-copy true "up exit $rc, names the Job and 'FAILURE (1)' in one unwrapped line; nothing new under production-keycloak-db/"
  else
    check refresh-failure-stops-copy false "up exit $rc; Job named: $(grep -c relocation-refresh-keycloak-db-broken "$log"), FAILURE (1): $(grep -c 'FAILURE (1)' "$log"), wrapped by the SDK: $wrapped; new objects: $changed"
  fi
  pl local-refresh-fail destroy --yes --skip-preview >"$SANDBOX_RUN/refresh-fail-destroy.log" 2>&1 ||
    check refresh-failure-stack-destroyed false "destroy failed; see .sandbox/run/refresh-fail-destroy.log"
}

# print_keep_help: writes .sandbox/env.sh (what a shell needs to reach the sandbox) and says how
# to use it and how to stop everything.
print_keep_help() {
  cat >"$SANDBOX_DIR/env.sh" <<ENV
# Source me: the environment of the running sandbox (written by sandbox/run.sh --keep).
export PATH="$(dirname -- "$(command -v pulumi)"):\$PATH"
export KUBECONFIG="$KUBECONFIG"
export PULUMI_BACKEND_URL="$PULUMI_BACKEND_URL" PULUMI_HOME="$PULUMI_HOME"
export PULUMI_CONFIG_PASSPHRASE=sandbox PULUMI_SKIP_UPDATE_CHECK=1 PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ACCESS_KEY_ID=$SANDBOX_AWS_KEY_ID AWS_SECRET_ACCESS_KEY=$SANDBOX_AWS_SECRET AWS_DEFAULT_REGION=$SANDBOX_REGION
export AWS_ENDPOINT_URL="$MOTO_ENDPOINT"
ENV
  cat >&2 <<HELP

The sandbox is still running; stack "local" is UP (quiesced, copied; not destroyed).
Everything lives in the network namespace $SANDBOX_NETNS; enter it first:
  nsenter --net=/run/netns/$SANDBOX_NETNS bash
  . .sandbox/env.sh
  pulumi stack output --stack local
  pulumi preview --stack local --config-file .sandbox/Pulumi.local.yaml
  pulumi destroy --stack local --config-file .sandbox/Pulumi.local.yaml
  kubectl --context $KUBE_CONTEXT get statefulsets,pods -A
  aws s3 ls --recursive s3://$SANDBOX_BUCKET
  ssh -i .sandbox/ssh/id_ed25519 -o UserKnownHostsFile=.sandbox/ssh/known_hosts -p $SSHD_PORT root@$SANDBOX_ADDRESS
S3 (moto) $MOTO_ENDPOINT, SSH $SANDBOX_ADDRESS:$SSHD_PORT, Kubernetes context $KUBE_CONTEXT ($KUBECONFIG).
Stop everything: bash sandbox/stop.sh   (the next sandbox/run.sh also stops it first)
HELP
}

# summarize: sandbox/summary.ts (data checks, .sandbox/summary.json); non-zero if a check failed.
summarize() {
  summarized=true # read by run.sh's EXIT trap
  export summarized
  [[ -z "${SSH_CLIENT_KEY:-}" ]] || check_no_plain_secrets
  say "summary"
  SANDBOX_S3_ENDPOINT="$MOTO_ENDPOINT" SANDBOX_S3_BUCKET="$SANDBOX_BUCKET" SANDBOX_S3_REGION="$SANDBOX_REGION" \
    AWS_ACCESS_KEY_ID="$SANDBOX_AWS_KEY_ID" AWS_SECRET_ACCESS_KEY="$SANDBOX_AWS_SECRET" \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    node --import tsx "$SANDBOX_REPO/sandbox/summary.ts"
}
