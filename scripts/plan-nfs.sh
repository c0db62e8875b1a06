#!/usr/bin/env bash
# The NFS part of the operator's plan (run by `pulumi preview` where Pulumi runs): logs in to the
# NFS server with `ssh`, the host key pinned, runs nfs-check.sh there, then per backup
# copy-latest.sh or sync-dir.sh with PLAN_ONLY=true through remote-run.sh (its scripts in a
# temporary directory it removes): both only read, nothing is uploaded or written.
#
# Env (no secret): NFS_HOST, NFS_PORT, NFS_USER, NFS_HOST_KEY ("<type> <base64>", nfs.hostKey).
# Stdin: "#key BYTES" and then the private key's BYTES bytes; then per backup
#   "#backup NAME SCRIPT BYTES" and BYTES bytes of remote-run.sh's stdin (settings, the S3 key,
#   the scripts). So the private key and the S3 key are in no argv, no environment and no
#   output; the private key is in a 0600 file inside a 0700 temporary directory while ssh runs,
#   removed on exit.
# Stdout, one line each, fields separated by a TAB:
#   ssh ok <nfs-check's line> | ssh error <what is wrong>
#   backup <NAME> ok <the script's plan JSON> | backup <NAME> error <its ERROR line>
# After a failed login no backup is read. Exit 0 when the lines could be written; 1 with a last
# stderr line "plan-nfs.sh: ERROR: ..." on bad input.
set -euo pipefail
export LC_ALL=C # byte counts on stdin

readonly ME=plan-nfs.sh
fail() {
  printf '%s: ERROR: %s\n' "$ME" "$*" >&2
  exit 1
}
here=$(dirname -- "${BASH_SOURCE[0]}")
[[ -n "${NFS_HOST:-}" && -n "${NFS_USER:-}" ]] || fail "NFS_HOST and NFS_USER are required (nfs.host, nfs.user)"
[[ "${NFS_PORT:-22}" =~ ^[1-9][0-9]{0,4}$ ]] || fail "NFS_PORT must be a port number, got '${NFS_PORT:-}'"
[[ "${NFS_HOST_KEY:-}" =~ ^[a-z0-9@.-]+\ [A-Za-z0-9+/=]+$ ]] ||
  fail "NFS_HOST_KEY must be the server's public host key '<type> <base64>' (nfs.hostKey; ssh-keyscan -t ed25519 <host>); the plan logs in only with a pinned host key"
command -v ssh >/dev/null 2>&1 || fail "the ssh client is not on PATH; install openssh-client where Pulumi runs"

one_line() { # the last line of a file that says something, cut to 2000 bytes, TABs as spaces
  local line
  line=$(grep -av '^[[:space:]]*$' -- "$1" | tail -n 1 | cut -c1-2000) || true
  printf '%s' "${line//$'\t'/ }"
}
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; } # POSIX single quotes, for the remote shell

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
read -r tag bytes || fail "stdin is empty; expected '#key BYTES' and the private key"
[[ "$tag" == "#key" && "$bytes" =~ ^[0-9]+$ ]] || fail "stdin must start with '#key BYTES'"
IFS= read -r -d '' -N "$bytes" key || [[ ${#key} -eq "$bytes" ]] || fail "stdin ended inside the private key"
# OpenSSH refuses a key file without its final newline ("error in libcrypto"), and
# `pulumi config set --secret sshPrivateKey < file` drops it; the provider's Go client does not care.
(umask 077 && printf '%s\n' "${key%$'\n'}" >"$work/id")
unset key
printf 'nfs %s\n' "$NFS_HOST_KEY" >"$work/known_hosts"
ssh_cmd=(ssh -F /dev/null -i "$work/id" -p "${NFS_PORT:-22}" -o BatchMode=yes -o IdentitiesOnly=yes
  -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$work/known_hosts"
  -o GlobalKnownHostsFile=/dev/null -o HostKeyAlias=nfs -o ConnectTimeout=20
  -o ServerAliveInterval=15 -o LogLevel=ERROR -- "$NFS_USER@$NFS_HOST")
where="$NFS_USER@$NFS_HOST:${NFS_PORT:-22}"

status=0
"${ssh_cmd[@]}" "bash -c $(quote "$(<"$here/nfs-check.sh")") nfs-check" \
  </dev/null >"$work/out" 2>"$work/err" || status=$?
if ((status != 0)); then
  if ((status == 255)); then
    printf 'ssh\terror\tssh %s: %s\n' "$where" "$(one_line "$work/err")"
  else
    printf 'ssh\terror\tlogged in to %s, but: %s\n' "$where" "$(grep -a . "$work/err" | tr '\n\t' '; ' | cut -c1-2000)"
  fi
  exit 0
fi
printf 'ssh\tok\t%s\n' "$(one_line "$work/out")"

runner=$(<"$here/remote-run.sh")
while read -r tag name script bytes; do
  [[ "$tag" == "#backup" && "$name" =~ ^[a-z0-9-]+$ && "$bytes" =~ ^[0-9]+$ ]] ||
    fail "malformed '#backup NAME SCRIPT BYTES' line on stdin"
  case "$script" in copy-latest.sh | sync-dir.sh) ;; *) fail "unknown script '$script' for $name" ;; esac
  IFS= read -r -d '' -N "$bytes" payload || [[ ${#payload} -eq "$bytes" ]] ||
    fail "stdin ended inside the settings of $name"
  status=0
  printf '%s' "$payload" | "${ssh_cmd[@]}" "bash -c $(quote "$runner") remote-run - $script" \
    >"$work/out" 2>"$work/err" || status=$?
  unset payload
  if ((status == 0)); then
    printf 'backup\t%s\tok\t%s\n' "$name" "$(one_line "$work/out")"
  else
    line=$(grep -a ' ERROR: ' "$work/err" | tail -n 1 | cut -c1-2000) || true
    [[ -n "$line" ]] || line="$(one_line "$work/err") (exit $status)"
    printf 'backup\t%s\terror\t%s\n' "$name" "${line//$'\t'/ }"
  fi
done
