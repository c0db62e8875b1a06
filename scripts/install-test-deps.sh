#!/usr/bin/env bash
# Installs the Debian packages the tests run for real (shellcheck, sshd, rclone), if missing;
# with --sandbox also what the local cluster needs (containerd, runc, CNI plugins, iptables,
# busybox and debootstrap for its images). Node, the aws CLI, moto and PostgreSQL 15 come with
# the machine image.
set -euo pipefail

packages=(shellcheck openssh-server openssh-client rclone jq)
if [[ "${1:-}" == --sandbox ]]; then
  packages+=(containerd runc containernetworking-plugins iptables conntrack busybox-static debootstrap gcc libc6-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for tool in node npm aws moto_server /usr/lib/postgresql/15/bin/initdb; do
  command -v "$tool" >/dev/null || { echo "install-test-deps: $tool not found; it comes with the machine image" >&2; exit 1; }
done
if ((${#missing[@]} > 0)); then
  echo "install-test-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) != 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
