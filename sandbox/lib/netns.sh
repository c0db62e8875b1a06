#!/usr/bin/env bash
# The sandbox's own network namespace: every server, the cluster and the Pulumi run live in it,
# so nothing the sandbox does reaches any network outside this machine. One bridge (cni0) carries
# the pods; its address is the node IP, the apiserver's and the S3/SSH servers' address.
# Sourced after common.sh.
set -euo pipefail

readonly SANDBOX_NETNS="${SANDBOX_NETNS:-frag-sandbox}"
readonly SANDBOX_ADDRESS="10.88.0.1"
readonly SANDBOX_POD_SUBNET="10.88.0.0/16"
# The `kubernetes` Service (first address of the service range) must reach the apiserver.
readonly SANDBOX_SERVICE_RANGE="10.96.0.0/16"
readonly SANDBOX_KUBERNETES_SERVICE_IP="10.96.0.1"
export SANDBOX_NETNS SANDBOX_ADDRESS SANDBOX_POD_SUBNET SANDBOX_SERVICE_RANGE SANDBOX_KUBERNETES_SERVICE_IP

# in_netns CMD...: CMD in the sandbox's network namespace (same mounts, same files).
in_netns() { nsenter --net="/run/netns/$SANDBOX_NETNS" -- "$@"; }

create_netns() {
  ip netns add "$SANDBOX_NETNS" || die "ip netns add $SANDBOX_NETNS failed (an earlier run? bash sandbox/stop.sh)"
  in_netns ip link set lo up
  # This kernel has no dummy device type: the bridge the CNI plugin uses doubles as the node's NIC.
  in_netns ip link add cni0 type bridge
  in_netns ip addr add "$SANDBOX_ADDRESS/16" dev cni0
  in_netns ip link set cni0 up
  in_netns sysctl -qw net.ipv4.ip_forward=1
  # No kube-proxy: one DNAT rule makes the `kubernetes` Service reach the apiserver from pods.
  in_netns iptables -t nat -A PREROUTING -d "$SANDBOX_KUBERNETES_SERVICE_IP/32" -p tcp --dport 443 \
    -j DNAT --to-destination "$SANDBOX_ADDRESS:6443"
  say "network namespace $SANDBOX_NETNS: bridge cni0 $SANDBOX_ADDRESS/16, nothing routed outside"
}

# kill_netns_processes: whatever still runs in the namespace (a part killed -9 leaves its
# children, e.g. containerd's shims), SIGKILLed and waited for.
kill_netns_processes() {
  [[ -e "/run/netns/$SANDBOX_NETNS" ]] || return 0
  local pids
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    pids="$(ip netns pids "$SANDBOX_NETNS" 2>/dev/null || true)"
    [[ -n "$pids" ]] || return 0
    # shellcheck disable=SC2086 # a list of pids
    kill -9 $pids 2>/dev/null || true
    sleep 0.3
  done
}

delete_netns() {
  [[ -e "/run/netns/$SANDBOX_NETNS" ]] || return 0
  kill_netns_processes
  ip netns delete "$SANDBOX_NETNS" 2>/dev/null || true
}
