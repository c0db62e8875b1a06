#!/usr/bin/env bash
# The S3 server: moto_server on the sandbox's address (pods reach it too), and the aws CLI
# environment that talks to it.
# Sourced after common.sh. Sets MOTO_ENDPOINT; `s3api ...` runs the aws CLI against it.
set -euo pipefail

# Dummy credentials: moto accepts any key; these also go into the stack as the bring-your-own key.
readonly SANDBOX_AWS_KEY_ID="sandbox-key-id"
readonly SANDBOX_AWS_SECRET="sandbox-secret-key"
readonly SANDBOX_REGION="eu-central-1"
readonly SANDBOX_BUCKET="im-fragalysis-sandbox"

start_moto() {
  local port
  port=$(free_port)
  moto_server -H "$SANDBOX_ADDRESS" -p "$port" >"$SANDBOX_RUN/moto.log" 2>&1 &
  remember moto_server $!
  wait_port "$port" 30 "$SANDBOX_ADDRESS" || die "moto_server did not start; see $SANDBOX_RUN/moto.log"
  MOTO_ENDPOINT="http://$SANDBOX_ADDRESS:$port"
  export MOTO_ENDPOINT
  say "S3 (moto) on $MOTO_ENDPOINT"
}

# The aws CLI against moto, with no user config or credentials files involved.
aws_sandbox() {
  AWS_ACCESS_KEY_ID="$SANDBOX_AWS_KEY_ID" AWS_SECRET_ACCESS_KEY="$SANDBOX_AWS_SECRET" \
    AWS_DEFAULT_REGION="$SANDBOX_REGION" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    aws --endpoint-url "$MOTO_ENDPOINT" "$@"
}

create_bucket() {
  aws_sandbox s3api create-bucket --bucket "$SANDBOX_BUCKET" \
    --create-bucket-configuration "LocationConstraint=$SANDBOX_REGION" >/dev/null
  say "bucket s3://$SANDBOX_BUCKET created"
}
