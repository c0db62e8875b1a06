#!/usr/bin/env bash
# The Kubernetes API: a kwok cluster (etcd, kube-apiserver, controller-manager, scheduler and the
# kwok controller as local processes, all from the toolchain cache; nothing is downloaded).
# Sourced after common.sh with the toolchain on PATH. Sets KUBECONFIG and KUBE_CONTEXT.
set -euo pipefail

readonly KWOK_CLUSTER="frag-sandbox"

start_kwok() {
  local bin
  bin="$(dirname -- "$(command -v kwokctl)")"
  export KWOK_WORKDIR="$SANDBOX_DIR/kwok"
  export KUBECONFIG="$SANDBOX_DIR/kubeconfig"
  KUBE_CONTEXT="kwok-$KWOK_CLUSTER"
  export KUBE_CONTEXT
  # A cluster left by an earlier --keep run (or a crash) is replaced, so every run starts clean.
  if [[ -d "$KWOK_WORKDIR/clusters/$KWOK_CLUSTER" ]]; then
    say "removing the kwok cluster of an earlier run"
    kwokctl delete cluster --name "$KWOK_CLUSTER" >>"$SANDBOX_RUN/kwok.log" 2>&1 || true
  fi
  rm -f "$KUBECONFIG"
  # kubectl has no --*-binary flag: without KWOK_KUBECTL_BINARY kwokctl records a download URL.
  # A minimal environment: kwok runs `kubectl exec` commands on the host with its own env, so
  # whatever the caller has exported (CI tokens...) would otherwise land in the env dumps.
  env -i PATH="$PATH" HOME="$HOME" KWOK_WORKDIR="$KWOK_WORKDIR" \
    KWOK_KUBECTL_BINARY="$(command -v kubectl)" kwokctl create cluster \
    --name "$KWOK_CLUSTER" --runtime binary --kubeconfig "$KUBECONFIG" \
    --kube-apiserver-binary "$bin/kube-apiserver" \
    --kube-controller-manager-binary "$bin/kube-controller-manager" \
    --kube-scheduler-binary "$bin/kube-scheduler" \
    --kwok-controller-binary "$bin/kwok" \
    --etcd-binary "$bin/etcd" \
    --enable-crds Exec,ClusterExec \
    --wait 90s >>"$SANDBOX_RUN/kwok.log" 2>&1 ||
    die "kwokctl create cluster failed; see $SANDBOX_RUN/kwok.log"
  echo "kwok $KWOK_CLUSTER" >>"$SANDBOX_RUN/pids.kwok"
  say "Kubernetes (kwok) up; context $KUBE_CONTEXT in $KUBECONFIG"
}

stop_kwok() {
  [[ -f "$SANDBOX_RUN/pids.kwok" ]] || return 0
  say "deleting the kwok cluster"
  KWOK_WORKDIR="$SANDBOX_DIR/kwok" kwokctl delete cluster --name "$KWOK_CLUSTER" \
    >>"$SANDBOX_RUN/kwok.log" 2>&1 || true
  rm -f "$SANDBOX_RUN/pids.kwok"
}

# kc ARGS...: kubectl on the sandbox cluster (the version-skew warning of Debian's kubectl dropped).
kc() { kubectl --context "$KUBE_CONTEXT" "$@" 2> >(grep -v 'version difference' >&2); }
