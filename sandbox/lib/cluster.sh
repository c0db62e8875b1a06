#!/usr/bin/env bash
# A real single-node Kubernetes cluster whose pods run real containers: etcd, kube-apiserver,
# controller-manager, scheduler (toolchain cache), containerd + runc + the CNI plugins (Debian),
# kubelet (toolchain cache). Everything runs inside the sandbox's network namespace; containerd and
# kubelet share one mount namespace of their own (a holder process), so every container mount
# goes when it does. Sourced after common.sh, netns.sh, certs.sh and images.sh, inside the netns.
# Sets KUBECONFIG and KUBE_CONTEXT.
set -euo pipefail

# Short, fixed paths: unix sockets have a 108-byte limit, wherever the clone lives.
readonly CLUSTER_DIR="${SANDBOX_CLUSTER_DIR:-/var/lib/frag-sandbox}"
readonly CLUSTER_STATE="/run/frag-sandbox"
readonly CONTAINERD_SOCK="$CLUSTER_STATE/containerd.sock"
# Images and their unpacked layers outlive a run (importing them costs ~20 s); containers do not.
readonly CONTAINERD_ROOT="${FRAGALYSIS_CACHE:-$HOME/.cache/fragalysis-relocation}/containerd"
readonly SANDBOX_NODE="sandbox-node"
readonly CGROUP_CONTROLLERS=(cpu cpuacct cpuset memory devices freezer blkio pids systemd unified)
export SANDBOX_NODE

# ctr_sandbox ARGS...: containerd's own client on the sandbox's socket.
ctr_sandbox() { ctr --address "$CONTAINERD_SOCK" "$@"; }

# start_part NAME CMD...: a cluster process in the background, logged, remembered for the stop.
start_part() {
  local name="$1"
  shift
  "$@" >"$SANDBOX_RUN/$name.log" 2>&1 &
  remember "$name" $!
}

# in_holder CMD...: CMD in the holder's mount namespace (containerd, kubelet, ctr).
in_holder() { nsenter --mount="/proc/$(cat "$CLUSTER_STATE/holder.pid")/ns/mnt" -- "$@"; }

write_containerd_config() {
  mkdir -p "$CLUSTER_DIR/cni/net.d"
  cat >"$CLUSTER_DIR/containerd.toml" <<TOML
version = 2
root = "$CONTAINERD_ROOT"
state = "$CLUSTER_STATE/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CLUSTER_DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$SANDBOX_IMAGE_PAUSE"
  # This VM lacks CAP_SYS_RESOURCE: without it every pod stays in ContainerCreating.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CLUSTER_DIR/cni/net.d"
TOML
  cat >"$CLUSTER_DIR/cni/net.d/10-sandbox.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "sandbox", "plugins": [{
  "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
  "ipam": {"type": "host-local", "dataDir": "$CLUSTER_DIR/cni/ipam",
    "ranges": [[{"subnet": "$SANDBOX_POD_SUBNET", "gateway": "$SANDBOX_ADDRESS", "rangeStart": "10.88.1.1"}]],
    "routes": [{"dst": "0.0.0.0/0"}]}}]}
JSON
}

write_kubelet_config() {
  printf 'options ndots:1\n' >"$CLUSTER_DIR/resolv.conf"
  cat >"$CLUSTER_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  x509: { clientCAFile: "$CLUSTER_DIR/pki/ca.crt" }
  webhook: { enabled: false }
  anonymous: { enabled: false }
authorization: { mode: AlwaysAllow }
tlsCertFile: "$CLUSTER_DIR/pki/kubelet-serving.crt"
tlsPrivateKeyFile: "$CLUSTER_DIR/pki/kubelet-serving.key"
containerRuntimeEndpoint: "unix://$CONTAINERD_SOCK"
cgroupDriver: cgroupfs
# cgroup v1 only on this VM: kubelet >= 1.35 refuses it, 1.34 needs this.
failCgroupV1: false
failSwapOn: false
resolvConf: "$CLUSTER_DIR/resolv.conf"
podLogsDir: "$CLUSTER_DIR/pod-logs"
serializeImagePulls: false
evictionHard: { memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusReportFrequency: 10s
YAML
}

start_control_plane() {
  local bin pki="$CLUSTER_DIR/pki"
  bin="$(dirname -- "$(command -v kube-apiserver)")"
  start_part etcd "$bin/etcd" --name sandbox --data-dir "$CLUSTER_DIR/etcd" --unsafe-no-fsync \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster sandbox=http://127.0.0.1:2380 --log-level warn
  start_part kube-apiserver "$bin/kube-apiserver" --etcd-servers http://127.0.0.1:2379 \
    --advertise-address "$SANDBOX_ADDRESS" --bind-address "$SANDBOX_ADDRESS" --secure-port 6443 \
    --service-cluster-ip-range "$SANDBOX_SERVICE_RANGE" --authorization-mode Node,RBAC \
    --client-ca-file "$pki/ca.crt" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" --profiling=false
  local deadline=$((SECONDS + 60))
  until kubectl --kubeconfig "$CLUSTER_DIR/admin.kubeconfig" get --raw /readyz >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "kube-apiserver not ready in 60 s; see $SANDBOX_RUN/kube-apiserver.log"
    sleep 0.5
  done
  start_part kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" --leader-elect=false \
    --use-service-account-credentials --service-account-private-key-file "$pki/sa.key" \
    --root-ca-file "$pki/ca.crt" --cluster-signing-cert-file "$pki/ca.crt" \
    --cluster-signing-key-file "$pki/ca.key" --bind-address 127.0.0.1
  start_part kube-scheduler "$bin/kube-scheduler" --kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1
}

start_node() {
  mkdir -p "$CLUSTER_STATE"
  # The holder: a mount namespace of its own that containerd and kubelet join; when it and they
  # end, every container, volume and network-namespace mount ends with them.
  unshare --mount --propagation slave sleep infinity &
  local holder=$! deadline=$((SECONDS + 10))
  remember mount-holder "$holder"
  echo "$holder" >"$CLUSTER_STATE/holder.pid"
  # Until unshare(2) has run, the pid still shows this mount namespace: joining it then would put
  # containerd in the host's (and kubelet, later, in the holder's: pods lose their volumes).
  until [[ "$(readlink "/proc/$holder/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]]; do
    ((SECONDS < deadline)) || die "the mount namespace holder did not start"
    sleep 0.05
  done
  start_part containerd in_holder containerd --config "$CLUSTER_DIR/containerd.toml"
  local deadline=$((SECONDS + 30))
  until in_holder ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "containerd did not start; see $SANDBOX_RUN/containerd.log"
    sleep 0.3
  done
  # Containers of an earlier run that was killed: gone before kubelet starts.
  local old
  old="$(in_holder ctr --address "$CONTAINERD_SOCK" -n k8s.io containers ls -q)"
  # shellcheck disable=SC2086 # a list of container ids
  [[ -z "$old" ]] || in_holder ctr --address "$CONTAINERD_SOCK" -n k8s.io containers rm $old >/dev/null 2>&1 || true
  import_images in_holder ctr --address "$CONTAINERD_SOCK"
  start_part kubelet in_holder "$(dirname -- "$(command -v kube-apiserver)")/kubelet" \
    --config "$CLUSTER_DIR/kubelet.yaml" --kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" \
    --root-dir "$CLUSTER_DIR/kubelet" --hostname-override "$SANDBOX_NODE" --node-ip "$SANDBOX_ADDRESS"
}

start_cluster() {
  stop_cluster_leftovers
  mkdir -p "$CLUSTER_DIR"
  make_pki "$CLUSTER_DIR" "$SANDBOX_ADDRESS" "$SANDBOX_KUBERNETES_SERVICE_IP"
  write_containerd_config
  write_kubelet_config
  start_control_plane
  start_node
  export KUBECONFIG="$SANDBOX_DIR/kubeconfig"
  cp "$CLUSTER_DIR/admin.kubeconfig" "$KUBECONFIG"
  kubectl config rename-context sandbox frag-sandbox >/dev/null
  KUBE_CONTEXT="frag-sandbox"
  export KUBE_CONTEXT
  local deadline=$((SECONDS + 90))
  until [[ "$(kc get node "$SANDBOX_NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]; do
    ((SECONDS < deadline)) || die "node $SANDBOX_NODE not Ready in 90 s; see $SANDBOX_RUN/kubelet.log"
    sleep 1
  done
  # Pods need their ServiceAccount before they can be created.
  until kc get serviceaccount default -n default >/dev/null 2>&1; do sleep 0.5; done
  say "Kubernetes: node $SANDBOX_NODE Ready ($(kc get node "$SANDBOX_NODE" -o 'jsonpath={.status.nodeInfo.containerRuntimeVersion}')); context $KUBE_CONTEXT"
}

# kill_cgroup_tasks: every process left in the cluster's pod cgroups (containers outlive a
# killed containerd-shim), then the cgroups themselves, deepest first.
kill_cgroup_tasks() {
  local root="/sys/fs/cgroup/pids/kubepods" c
  if [[ -d "$root" ]]; then
    for _ in 1 2 3 4 5; do
      find "$root" -name cgroup.procs -print0 | xargs -0 -r cat | xargs -r kill -9 2>/dev/null || true
      [[ -z "$(find "$root" -name cgroup.procs -print0 | xargs -0 -r cat)" ]] && break
      sleep 0.5
    done
  fi
  for c in "${CGROUP_CONTROLLERS[@]}"; do
    [[ -d "/sys/fs/cgroup/$c/kubepods" ]] || continue
    find "/sys/fs/cgroup/$c/kubepods" -depth -type d -print0 | xargs -0 -r rmdir 2>/dev/null || true
  done
}

# cluster_mounts: the mount points (mountinfo-escaped) under the cluster's directories.
cluster_mounts() {
  awk -v a="$CLUSTER_DIR" -v b="$CLUSTER_STATE" -v c="$CONTAINERD_ROOT" \
    'index($5, a) == 1 || index($5, b) == 1 || index($5, c) == 1 { print $5 }' /proc/self/mountinfo
}

# stop_cluster_leftovers: what an earlier run may have left (kill -9 of any part): processes in
# pod cgroups, mounts under the cluster's directories, containerd's shim sockets.
stop_cluster_leftovers() {
  kill_cgroup_tasks
  local m
  # mountinfo is one mount per line with spaces, tabs, newlines and backslashes octal-escaped,
  # so a line is exactly one mount point once its escapes are decoded (%b).
  while IFS= read -r m; do
    printf -v m '%b' "$m"
    umount -l "$m" 2>/dev/null || true
  done < <(cluster_mounts | sort -r)
  # A mount namespace outlives its last process by a moment: retry, then say what is left.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    rm -rf "$CLUSTER_DIR" "$CLUSTER_STATE" 2>/dev/null && break
    sleep 0.5
  done
  [[ ! -e "$CLUSTER_DIR" ]] || say "could not remove $CLUSTER_DIR yet (busy)"
  # containerd 1.6 puts shim sockets under /run/containerd/s whatever its state dir; no other
  # containerd runs on these machines (checked: nothing listens on /run/containerd/containerd.sock).
  [[ -S /run/containerd/containerd.sock ]] || rm -rf /run/containerd/s
}

# leftovers: one line per thing a stopped sandbox left behind (empty when clean).
leftovers() {
  [[ ! -e "/run/netns/$SANDBOX_NETNS" ]] || echo "network namespace $SANDBOX_NETNS"
  pgrep -a -f "$CLUSTER_DIR|$CLUSTER_STATE" | sed 's/^/process /' || true
  cluster_mounts | sed 's/^/mount /'
  local c
  for c in "${CGROUP_CONTROLLERS[@]}"; do [[ ! -d "/sys/fs/cgroup/$c/kubepods" ]] || echo "cgroup $c/kubepods"; done
  [[ ! -d "$CLUSTER_DIR" ]] || echo "directory $CLUSTER_DIR"
  [[ ! -d /run/frag-sandbox-sshd ]] || echo "directory /run/frag-sandbox-sshd"
}

# kc ARGS...: kubectl on the sandbox cluster (the version-skew warning of Debian's kubectl dropped).
kc() { kubectl --context "$KUBE_CONTEXT" "$@" 2> >(grep -v 'version difference' >&2); }
