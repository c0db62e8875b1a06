#!/usr/bin/env bash
# The Pulumi side: offline CLI settings, the `local` stack's config (written under .sandbox, read
# with --config-file), and a wrapper that runs the real CLI on a stack.
# Sourced after common.sh, moto.sh, sshd.sh, cluster.sh and seed.sh.
set -euo pipefail

pulumi_env() {
  export PULUMI_BACKEND_URL="file://$SANDBOX_DIR/state"
  # A sandbox-only passphrase: it encrypts the sandbox's throwaway secrets, nothing else.
  export PULUMI_CONFIG_PASSPHRASE="sandbox"
  export PULUMI_SKIP_UPDATE_CHECK=1
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  export PULUMI_HOME="$SANDBOX_DIR/pulumi-home"
  # Unhides `up --event-log` (the engine's event stream, used to check the order of steps).
  export PULUMI_DEBUG_COMMANDS=true
  # No user aws config: scripts get their credentials from the stack only.
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  mkdir -p "$SANDBOX_DIR/state" "$PULUMI_HOME"
}

# config_file STACK: where the stack's config lives (git-ignored, never the repo top).
config_file() { printf '%s/Pulumi.%s.yaml\n' "$SANDBOX_DIR" "$1"; }

# pl STACK ARGS...: the real CLI on STACK with its config file, never interactive.
pl() {
  local stack="$1"
  shift
  (cd "$SANDBOX_REPO" && pulumi "$@" --stack "$stack" --config-file "$(config_file "$stack")" --non-interactive)
}

# init_stack STACK: a fresh stack (earlier state is from servers that no longer exist).
init_stack() {
  local stack="$1" file top="$SANDBOX_REPO/Pulumi.$1.yaml"
  file=$(config_file "$stack")
  [[ ! -e "$top" ]] || die "$top exists; the sandbox keeps its stack config in $file. Move that file away and re-run"
  (cd "$SANDBOX_REPO" && pulumi stack rm "$stack" --yes --force --non-interactive >/dev/null 2>&1) || true
  (cd "$SANDBOX_REPO" && pulumi stack init "$stack" --non-interactive >/dev/null)
  # `stack init` writes the passphrase salt to the repo top; the sandbox keeps it with its config.
  mv "$top" "$file"
}

# secrets STACK: the stack's secrets through stdin: never on a command line, encrypted in the file.
set_secrets() {
  printf '%s' "$SANDBOX_AWS_KEY_ID" | pl "$1" config set --secret awsAccessKeyId >/dev/null
  printf '%s' "$SANDBOX_AWS_SECRET" | pl "$1" config set --secret awsSecretAccessKey >/dev/null
  pl "$1" config set --secret sshPrivateKey <"$SSH_CLIENT_KEY" >/dev/null
}

# common_config STACK: the settings every sandbox stack shares (the encryption salt first).
common_config() {
  cat <<YAML
$(grep '^encryptionsalt:' "$(config_file "$1")")
config:
  fragalysis-relocation:quiesceTimeoutSeconds: 120
  fragalysis-relocation:kubeContext: $KUBE_CONTEXT
  fragalysis-relocation:nfs:
    host: $SANDBOX_ADDRESS
    port: $SSHD_PORT
    user: root
    hostKey: $SSHD_HOST_KEY
    scriptDir: $SANDBOX_DIR/nfs-scripts
  fragalysis-relocation:bucket:
    name: $SANDBOX_BUCKET
  fragalysis-relocation:aws:
    manage: false
    region: $SANDBOX_REGION
    endpoint: $MOTO_ENDPOINT
  fragalysis-relocation:copyTimeoutSeconds: 600
  fragalysis-relocation:jobs:
    namespace: $JOBS_NAMESPACE
    createNamespace: false
    image: $SANDBOX_IMAGE_AWSCLI
    gzipImage: $SANDBOX_IMAGE_BUSYBOX
YAML
}

# write_config STACK [STATEFULSET]: the stack's settings; STATEFULSET replaces "stack" in the
# production-stack quiesce entry (the failing case uses a name that does not exist).
# Both executors run for real: the Keycloak dump over SSH, the Django dump and the media tree
# (an Indexed Job of 2 shards) as Jobs, the env dumps as Jobs that exec into the pods.
write_config() {
  local stack="$1" sts="${2:-stack}" file
  file=$(config_file "$stack")
  {
    common_config "$stack"
    cat <<YAML
  fragalysis-relocation:quiesce:
    - { namespace: production-stack, statefulSet: $sts }
    - { namespace: im-infra, statefulSet: keycloak }
  fragalysis-relocation:backups:
    - name: keycloak-db
      kind: latest
      sourceDir: $NFS_ROOT/$KEYCLOAK_HOURLY
      prefix: production-keycloak-db/
      executor: ssh
      refresh: { cronJob: im-infra/postgres-backup-hourly }
    - name: stack-db
      kind: latest
      sourceDir: /hourly
      pvc: stack-db-backup
      prefix: production-stack-db/
      executor: job
      refresh: { cronJob: production-stack/postgres-backup-hourly }
    - name: stack-media
      kind: tree
      sourceDir: $NFS_ROOT/$MEDIA_DIR
      prefix: production-stack-media/
      executor: job
      shards: 2
      refresh: { liveVolume: production-stack/media }
  fragalysis-relocation:envDump:
    executor: job
    image: $SANDBOX_IMAGE_KUBECTL
    prefix: production-env/
    pods:
      - { namespace: production-stack, pod: database-0 }
      - { namespace: production-stack, pod: stack-0 }
      - { namespace: im-infra, pod: database-0 }
      - { namespace: im-infra, pod: keycloak-0 }
YAML
  } >"$file.new"
  # SANDBOX_REFRESH=off: the runbook's way (the last scheduled backups and the replica, a day's
  # window; the replica over SSH, it has no PVC here), to measure the downtime without the
  # refresh steps. The late-write checks then fail, as they must.
  if [[ "${SANDBOX_REFRESH:-on}" == off ]]; then
    sed -i -e 's/^      refresh: .*$/      maxRpoSeconds: 86400/' \
      -e '/name: stack-media/,/maxRpoSeconds/{s/executor: job/executor: ssh/;s/shards: 2/shards: 1/}' "$file.new"
  fi
  mv "$file.new" "$file"
  set_secrets "$stack"
}

# write_refresh_failure_config STACK: one backup whose refresh CronJob reports FAILURE (1).
write_refresh_failure_config() {
  local stack="$1" file
  file=$(config_file "$stack")
  {
    common_config "$stack"
    cat <<YAML
  fragalysis-relocation:quiesce:
    - { namespace: im-infra, statefulSet: keycloak }
  fragalysis-relocation:backups:
    - name: keycloak-db-broken
      kind: latest
      sourceDir: $NFS_ROOT/$KEYCLOAK_HOURLY
      prefix: production-keycloak-db/
      executor: ssh
      refresh: { cronJob: im-infra/postgres-backup-broken }
  fragalysis-relocation:envDump:
    executor: local
    prefix: production-env-refresh-fail/
    manifests: false
    pods:
      - { namespace: im-infra, pod: database-0 }
YAML
  } >"$file.new"
  mv "$file.new" "$file"
  set_secrets "$stack"
}
