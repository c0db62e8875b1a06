#!/usr/bin/env bash
# The NFS server stand-in: OpenSSH's sshd on the sandbox's address (pods' network), configured like Debian's
# where it matters (root by key only, AcceptEnv LANG LC_* and nothing else, the sftp subsystem
# CopyToRemote uses). Generated host and client keys live under .sandbox/ssh; authorized_keys is
# copied to a root-owned 0700 directory under /run, because sshd's StrictModes refuses one below
# a group- or world-writable directory (a clone under /tmp).
# Sourced after common.sh. Sets SSHD_PORT, SSHD_HOST_KEY (the public key line nfs.hostKey pins),
# SSH_CLIENT_KEY (the private key file).
set -euo pipefail

# Fixed, so the stop removes it (sandbox/lib/lifecycle.sh).
readonly SSHD_AUTH_DIR="/run/frag-sandbox-sshd"

start_sshd() {
  local dir="$SANDBOX_DIR/ssh" port remote_path auth_dir
  mkdir -p "$dir"
  chmod 700 "$dir"
  [[ -f "$dir/host_ed25519" ]] || ssh-keygen -q -t ed25519 -N "" -C sandbox-host -f "$dir/host_ed25519"
  [[ -f "$dir/id_ed25519" ]] || ssh-keygen -q -t ed25519 -N "" -C sandbox-client -f "$dir/id_ed25519"
  auth_dir="$SSHD_AUTH_DIR"
  rm -rf "$auth_dir"
  mkdir -m 700 "$auth_dir"
  install -m 600 "$dir/id_ed25519.pub" "$auth_dir/authorized_keys"
  mkdir -p /run/sshd # privilege separation directory
  port=$(free_port)
  # The SSH session's PATH must find the aws CLI (pyenv shims here) as on the real NFS server.
  remote_path="$(dirname -- "$(command -v aws)"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress $SANDBOX_ADDRESS
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $auth_dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AcceptEnv LANG LC_*
SetEnv PATH=$remote_path
Subsystem sftp internal-sftp
LogLevel VERBOSE
CONF
  /usr/sbin/sshd -t -f "$dir/sshd_config" || die "sshd_config rejected"
  /usr/sbin/sshd -D -e -f "$dir/sshd_config" >"$SANDBOX_RUN/sshd.log" 2>&1 &
  remember sshd $!
  wait_port "$port" 20 "$SANDBOX_ADDRESS" || die "sshd did not start; see $SANDBOX_RUN/sshd.log"
  SSHD_PORT="$port"
  SSHD_HOST_KEY="$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")"
  SSH_CLIENT_KEY="$dir/id_ed25519"
  printf '[%s]:%s %s\n' "$SANDBOX_ADDRESS" "$port" "$SSHD_HOST_KEY" >"$dir/known_hosts"
  export SSHD_PORT SSHD_HOST_KEY SSH_CLIENT_KEY
  say "SSH (the NFS server) on $SANDBOX_ADDRESS:$port"
}

# ssh_nfs COMMAND...: runs a command on the sandbox NFS server, host key pinned.
ssh_nfs() {
  ssh -i "$SSH_CLIENT_KEY" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
    -o "UserKnownHostsFile=$SANDBOX_DIR/ssh/known_hosts" -o LogLevel=ERROR \
    -p "$SSHD_PORT" "root@$SANDBOX_ADDRESS" "$@"
}
