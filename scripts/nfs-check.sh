#!/usr/bin/env bash
# Proves, once and before any copy starts, that the NFS server can run the copies: the SSH login
# worked with the pinned host key (or this would not run), bash is new enough, and the tools the
# scripts call are on the PATH of the SSH session (the aws CLI above all).
# Sent as the remote Command's text (bash -c "<this file>" nfs-check). One stdout line:
#   nfs-check: ok: <user>@<host> bash <version>, <aws --version>
# On a problem: one stderr line per missing piece naming what to install, exit 1.
set -euo pipefail

problems=0
missing() {
  printf 'nfs-check: %s@%s: %s\n' "$(id -un)" "$(hostname)" "$*" >&2
  problems=$((problems + 1))
}

((BASH_VERSINFO[0] >= 4)) || missing "bash $BASH_VERSION is too old; the copy scripts need bash >= 4"
for tool in aws sha256sum timeout find sort gzip; do
  command -v "$tool" >/dev/null 2>&1 ||
    missing "'$tool' is not on the SSH session's PATH (${PATH:0:300}); install it or put it on that PATH"
done
aws_version=""
if command -v aws >/dev/null 2>&1 && ! aws_version=$(aws --version 2>&1 | head -n 1); then
  missing "'aws --version' fails: ${aws_version:0:200}"
fi
((problems == 0)) || exit 1
printf 'nfs-check: ok: %s@%s bash %s, %s\n' "$(id -un)" "$(hostname)" "$BASH_VERSION" "${aws_version:0:200}"
