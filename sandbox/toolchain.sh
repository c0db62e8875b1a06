#!/usr/bin/env bash
# sandbox/toolchain.sh - build the Go binaries the local end-to-end sandbox
# needs (Pulumi CLI, Node.js language host, Kubernetes/command providers,
# a Kubernetes control plane and kubelet, the benchmark's S3 server and rclone)
# from the Go module proxy into a
# cache outside the repo. Nothing it builds is committed.
#
# Usage:
#   sandbox/toolchain.sh                 build every tool that is missing/stale
#   sandbox/toolchain.sh TOOL...         build only these tools (see --list)
#   sandbox/toolchain.sh --print-path    print the bin dir (put it on PATH)
#   sandbox/toolchain.sh --list          list tools and their pinned versions
#   sandbox/toolchain.sh --force [TOOL...]  rebuild even if the stamp matches
#   sandbox/toolchain.sh --check [TOOL...]  build, then smoke-test the binaries
#                                        (versions; plugins must print a port)
#
# Environment:
#   FRAGALYSIS_CACHE  cache root (default: $HOME/.cache/fragalysis-relocation)
#                     binaries in $CACHE/bin, build logs in $CACHE/logs/<tool>.log,
#                     generated wrapper modules in $CACHE/work/<tool>.
#   TOOLCHAIN_JOBS    value for `go build -p` (default: nproc)
#   TOOLCHAIN_TICK_SECONDS  how often a running step reports progress (default 20):
#                     the tool, the step, its time so far and the last line of its log.
#
# Versions are pinned in sandbox/versions.env. Each tool writes a stamp
# ($CACHE/bin/.stamp-<tool>) holding its version fingerprint; a tool is rebuilt
# when its binaries are missing or the fingerprint (pinned version, Go version,
# helper sources) changes. $CACHE/versions.txt lists what is built.
#
# Interrupted? Run it again: tools with a current stamp are skipped, and the
# tool that was cut off resumes from Go's module cache (GOMODCACHE) and build
# cache (GOCACHE), so nothing downloaded or compiled before is done again.
#
# The cluster the sandbox starts with these binaries: sandbox/lib/cluster.sh.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091 # versions.env: plain KEY=value pins
source "$SCRIPT_DIR/versions.env"

CACHE=${FRAGALYSIS_CACHE:-$HOME/.cache/fragalysis-relocation}
BIN=$CACHE/bin
LOGS=$CACHE/logs
WORK=$CACHE/work
HELPERS=$SCRIPT_DIR/toolchain

# Order matters for a cold build: the smaller builds first so that a failure
# shows up early; the Kubernetes control plane (the longest) last but one.
ALL_TOOLS=(
  pulumi
  pulumi-language-nodejs
  pulumi-resource-kubernetes
  pulumi-resource-command
  etcd
  kubernetes
  versitygw
  rclone
)

log() { printf '[toolchain] %s\n' "$*"; }
die() {
  printf '[toolchain] ERROR: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# --- per-tool metadata ------------------------------------------------------

# Binaries a tool installs into $BIN.
tool_bins() {
  case $1 in
  pulumi) echo pulumi ;;
  pulumi-language-nodejs) echo pulumi-language-nodejs pulumi-resource-pulumi-nodejs ;;
  pulumi-resource-kubernetes) echo pulumi-resource-kubernetes ;;
  pulumi-resource-command) echo pulumi-resource-command ;;
  etcd) echo etcd ;;
  kubernetes) echo kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl ;;
  versitygw) echo versitygw ;;
  rclone) echo rclone ;;
  *) return 1 ;;
  esac
}

# Human-readable version of a tool.
tool_version() {
  case $1 in
  pulumi) echo "v$PULUMI_VERSION" ;;
  pulumi-language-nodejs) echo "v$PULUMI_VERSION-sandbox" ;;
  pulumi-resource-kubernetes) echo "v$KUBERNETES_PROVIDER_VERSION (module $KUBERNETES_PROVIDER_MODULE_VERSION)" ;;
  pulumi-resource-command) echo "v$COMMAND_PROVIDER_VERSION-sandbox" ;;
  etcd) echo "v$ETCD_VERSION" ;;
  kubernetes) echo "v$KUBERNETES_VERSION" ;;
  versitygw) echo "v$VERSITYGW_VERSION" ;;
  rclone) echo "v$RCLONE_VERSION" ;;
  *) return 1 ;;
  esac
}

# Hash of the helper sources a tool is built from (empty if none).
helper_hash() {
  local dir=$HELPERS/$1
  if [[ -d $dir ]]; then
    (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  fi
}

GO_VERSION=$(go env GOVERSION 2>/dev/null) || die "go not found on PATH"

# The stamp content: anything that should trigger a rebuild when it changes.
fingerprint() {
  printf '%s %s go=%s helpers=%s recipe=%s\n' "$1" "$(tool_version "$1")" "$GO_VERSION" "$(helper_hash "$1")" "$RECIPE_REV"
}
# Bump when the build recipe in this script changes in a way that must rebuild.
RECIPE_REV=1

is_current() {
  local tool=$1 b
  [[ -f $BIN/.stamp-$tool ]] || return 1
  [[ "$(cat "$BIN/.stamp-$tool")" == "$(fingerprint "$tool")" ]] || return 1
  for b in $(tool_bins "$tool"); do
    [[ -x $BIN/$b ]] || return 1
  done
}

# --- build helpers ----------------------------------------------------------

JOBS=${TOOLCHAIN_JOBS:-$(nproc)}
export CGO_ENABLED=0
export GOFLAGS=-mod=mod

TICK=${TOOLCHAIN_TICK_SECONDS:-20}
# fd 3: the terminal's stderr, for progress lines while a step's own output goes to its log.
exec 3>&2

# with_ticker TOOL STEP CMD... : run CMD; every $TICK s say on stderr which tool and step is
# running, for how long, and the last line of the tool's log (a cold build takes 20+ minutes).
with_ticker() {
  local tool=$1 step=$2 ticker status=0
  shift 2
  (
    start=$(date +%s)
    while sleep "$TICK"; do
      last=$(tail -n 1 "$LOGS/$tool.log" 2>/dev/null | tr -d '\r' | cut -c1-120)
      printf '[toolchain] %s: %s, %ss so far; log: %s\n' "$tool" "$step" "$(($(date +%s) - start))" "$last" >&3
    done
  ) &
  ticker=$!
  "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return "$status"
}

# step_name CMD... : a short name for a build step ("go build", "go mod download", ...).
step_name() {
  local words=("$@")
  [[ ${words[0]} == nice ]] && words=("${words[@]:3}")
  printf '%s %s' "${words[0]}" "${words[1]:-}"
}

# run_logged TOOL CMD... : run a build step, appending to the tool's log.
run_logged() {
  local tool=$1
  shift
  printf '+ %s\n' "$*" >>"$LOGS/$tool.log"
  if ! with_ticker "$tool" "$(step_name "$@")" "$@" >>"$LOGS/$tool.log" 2>&1; then
    die "building $tool failed (step: ${*:1:3}); see $LOGS/$tool.log"
  fi
}

gobuild() {
  local tool=$1
  shift
  # -v: the log names each package as it is compiled, which the progress line shows.
  run_logged "$tool" nice -n 10 go build -v -p "$JOBS" -trimpath "$@"
}

# fresh_dir DIR : recreate an empty writable directory.
fresh_dir() {
  if [[ -d $1 ]]; then
    chmod -R u+w "$1"
    rm -rf "$1"
  fi
  mkdir -p "$1"
}

# module_dir MODULE@VERSION : download a module, print its dir in GOMODCACHE.
module_dir() {
  local tool=$1 mv=$2 out
  out=$(cd "$WORK" && with_ticker "$tool" "go mod download $mv" go mod download -x -json "$mv" 2>>"$LOGS/$tool.log") ||
    die "building $tool failed (go mod download $mv); see $LOGS/$tool.log"
  sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$out"
}

# --- tool recipes -------------------------------------------------------------
# Each recipe builds into $OUT (a fresh dir); the driver moves the binaries.

build_pulumi() {
  local w=$WORK/pulumi
  fresh_dir "$w"
  # pkg/v3's go.mod replaces sdk/v3 => ../sdk, which only works inside the
  # pulumi repo, so build it from a wrapper module that requires both.
  cat >"$w/go.mod" <<EOF
module fragalysis.local/toolchain/pulumi

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)

// Same as pkg/v3's own go.mod.
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
  (cd "$w" && gobuild pulumi -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$OUT/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_pulumi-language-nodejs() {
  local w=$WORK/pulumi-language-nodejs
  fresh_dir "$w"
  cp -r "$HELPERS/pulumi-language-nodejs/." "$w/"
  sed -e "s/@PULUMI_VERSION@/$PULUMI_VERSION/g" "$w/go.mod.in" >"$w/go.mod"
  rm -f "$w/go.mod.in"
  (cd "$w" && gobuild pulumi-language-nodejs -ldflags "-s -w -X main.version=$PULUMI_VERSION-sandbox" \
    -o "$OUT/pulumi-language-nodejs" .)
  # The dynamic-provider plugin is a tiny script upstream too.
  cat >"$OUT/pulumi-resource-pulumi-nodejs" <<'EOF'
#!/bin/sh
exec node ./node_modules/@pulumi/pulumi/cmd/dynamic-provider "$@"
EOF
  chmod +x "$OUT/pulumi-resource-pulumi-nodejs"
}

build_pulumi-resource-kubernetes() {
  local src w=$WORK/pulumi-resource-kubernetes
  src=$(module_dir pulumi-resource-kubernetes "github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_PROVIDER_MODULE_VERSION")
  [[ -n $src ]] || die "building pulumi-resource-kubernetes failed (no module dir); see $LOGS/pulumi-resource-kubernetes.log"
  fresh_dir "$w"
  cp -r "$src/." "$w/"
  chmod -R u+w "$w"
  # Built as the main module, so its own go.sum pins every dependency; the
  # replace of sdk/v4 => ../sdk only resolves inside the upstream repo.
  (cd "$w" && run_logged pulumi-resource-kubernetes go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4)
  # main.go go:embeds schema-embed.json and terraform-mapping-embed.json,
  # which upstream generates (`go generate` -> generate.go) and which are not
  # in the module zip. Run the same generator.
  (cd "$w/cmd/pulumi-resource-kubernetes" &&
    VERSION=$KUBERNETES_PROVIDER_VERSION run_logged pulumi-resource-kubernetes nice -n 10 go run -trimpath ./generate.go)
  (cd "$w" && gobuild pulumi-resource-kubernetes \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_PROVIDER_VERSION" \
    -o "$OUT/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes)
}

build_pulumi-resource-command() {
  local w=$WORK/pulumi-resource-command
  fresh_dir "$w"
  cp -r "$HELPERS/pulumi-resource-command/." "$w/"
  sed -e "s/@PULUMI_VERSION@/$PULUMI_VERSION/g" "$w/go.mod.in" >"$w/go.mod"
  rm -f "$w/go.mod.in"
  (cd "$w" && gobuild pulumi-resource-command -ldflags "-s -w -X main.version=$COMMAND_PROVIDER_VERSION" \
    -o "$OUT/pulumi-resource-command" .)
}

build_etcd() {
  local w=$WORK/etcd m
  fresh_dir "$w"
  # go.etcd.io/etcd/server/v3 is the etcd binary's main package; its go.mod
  # replaces the sibling modules (api, client/pkg, client/v3, pkg) with ../*,
  # so require them at the same version from a wrapper instead.
  {
    printf 'module fragalysis.local/toolchain/etcd\n\ngo 1.26\n\nrequire (\n'
    for m in server/v3 api/v3 client/pkg/v3 client/v3 pkg/v3; do
      printf '\tgo.etcd.io/etcd/%s v%s\n' "$m" "$ETCD_VERSION"
    done
    printf ')\n'
  } >"$w/go.mod"
  (cd "$w" && gobuild etcd -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3)
}

build_kubernetes() {
  local w=$WORK/kubernetes src staging minor=${KUBERNETES_VERSION#*.}
  minor=${minor%%.*}
  fresh_dir "$w"
  src=$(module_dir kubernetes "k8s.io/kubernetes@v$KUBERNETES_VERSION")
  # k8s.io/kubernetes requires its staging modules (k8s.io/api, client-go, ...)
  # at v0.0.0 with `replace => ./staging/...`; replace each with its published
  # v0.<minor>.<patch> instead.
  staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$src/go.mod")
  [[ -n $staging ]] || die "building kubernetes failed (no staging replaces found in $src/go.mod); see $LOGS/kubernetes.log"
  {
    printf 'module fragalysis.local/toolchain/kubernetes\n\ngo 1.24.0\n\n'
    # Same as k8s.io/kubernetes's own go.mod.
    sed -n 's/^godebug /godebug /p' "$src/go.mod"
    printf '\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$KUBERNETES_VERSION"
    local m
    for m in $staging; do
      printf '\t%s => %s v0.%s\n' "$m" "$m" "${KUBERNETES_VERSION#*.}"
    done
    printf ')\n'
  } >"$w/go.mod"
  local v=k8s.io/component-base/version c=k8s.io/client-go/pkg/version x=() p
  local ver=v$KUBERNETES_VERSION
  for p in $v $c; do
    x+=("-X $p.gitVersion=$ver" "-X $p.gitMajor=1" "-X $p.gitMinor=$minor" "-X $p.gitTreeState=clean" "-X $p.buildDate=1970-01-01T00:00:00Z")
  done
  (cd "$w" && gobuild kubernetes -ldflags "-s -w ${x[*]}" -o "$OUT/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl)
}

# S3 server for the benchmark (bench/run.ts), POSIX backend. The wrapper requires only
# versitygw, so its own (tidy) go.mod decides every dependency version.
build_versitygw() {
  local w=$WORK/versitygw
  fresh_dir "$w"
  printf 'module fragalysis.local/toolchain/versitygw\n\ngo 1.26\n\nrequire github.com/versity/versitygw v%s\n' \
    "$VERSITYGW_VERSION" >"$w/go.mod"
  (cd "$w" &&
    gobuild versitygw -ldflags "-s -w -X main.Version=v$VERSITYGW_VERSION" \
      -o "$OUT/versitygw" github.com/versity/versitygw/cmd/versitygw)
}

# rclone, newer than Debian's 1.60 (sync-dir.sh's uploader); rclone reports its version
# from fs.Version, set here as upstream's release builds do.
build_rclone() {
  local w=$WORK/rclone
  fresh_dir "$w"
  printf 'module fragalysis.local/toolchain/rclone\n\ngo 1.26\n\nrequire github.com/rclone/rclone v%s\n' \
    "$RCLONE_VERSION" >"$w/go.mod"
  (cd "$w" &&
    gobuild rclone -ldflags "-s -w -X github.com/rclone/rclone/fs.Version=v$RCLONE_VERSION" \
      -o "$OUT/rclone" github.com/rclone/rclone)
}

# --- smoke checks (--check) ---------------------------------------------------

# prints_port BIN : a Pulumi plugin prints its gRPC port on the first line.
prints_port() {
  local bin=$1 out pid i rc=0
  out=$(mktemp)
  "$bin" 127.0.0.1:1 >"$out" 2>/dev/null &
  pid=$!
  for ((i = 0; i < 150; i++)); do
    [[ -s $out ]] && break
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  head -n1 "$out" | grep -Eq '^[0-9]+$' || rc=1
  rm -f "$out"
  return "$rc"
}

check_tool() {
  local t=$1 b
  case $t in
  pulumi) "$BIN/pulumi" version ;;
  pulumi-language-nodejs) prints_port "$BIN/pulumi-language-nodejs" && "$BIN/pulumi-language-nodejs" -version ;;
  pulumi-resource-kubernetes | pulumi-resource-command) prints_port "$BIN/$t" && echo "$t serves" ;;
  etcd) "$BIN/etcd" --version | sed -n 1p ;;
  versitygw) "$BIN/versitygw" --version | sed -n 1p ;;
  rclone) "$BIN/rclone" version | sed -n 1p ;;
  kubernetes)
    for b in $(tool_bins kubernetes); do
      printf '%s: ' "$b"
      "$BIN/$b" --version
    done
    ;;
  esac
}

run_checks() {
  local t failed=0 out
  for t in "$@"; do
    if out=$(check_tool "$t" 2>&1); then
      log "check $t: ok ($(echo "$out" | tr '\n' ' ' | sed 's/ *$//'))"
    else
      log "check $t: FAILED: $out"
      failed=1
    fi
  done
  return "$failed"
}

# --- driver -------------------------------------------------------------------

write_versions() {
  {
    printf '# Built by sandbox/toolchain.sh on %s (%s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$GO_VERSION"
    local t
    for t in "${ALL_TOOLS[@]}"; do
      if [[ -f $BIN/.stamp-$t ]]; then
        printf '%-28s %s  [%s]\n' "$t" "$(tool_version "$t")" "$(tool_bins "$t" | tr '\n' ' ' | sed 's/ $//')"
      fi
    done
  } >"$CACHE/versions.txt"
}

main() {
  local force=0 check=0 tools=() t
  while [[ $# -gt 0 ]]; do
    case $1 in
    --print-path)
      echo "$BIN"
      return 0
      ;;
    --list)
      for t in "${ALL_TOOLS[@]}"; do
        printf '%-28s %s\n' "$t" "$(tool_version "$t")"
      done
      return 0
      ;;
    --force) force=1 ;;
    --check) check=1 ;;
    -h | --help)
      usage
      return 0
      ;;
    -*) die "unknown option $1 (try --help)" ;;
    *)
      tool_bins "$1" >/dev/null || die "unknown tool '$1' (known: ${ALL_TOOLS[*]})"
      tools+=("$1")
      ;;
    esac
    shift
  done
  if [[ ${#tools[@]} -eq 0 ]]; then
    tools=("${ALL_TOOLS[@]}")
  fi

  mkdir -p "$BIN" "$LOGS" "$WORK"
  local total=${#tools[@]} i=0 start all_start=$SECONDS b
  for t in "${tools[@]}"; do
    i=$((i + 1))
    if [[ $force -eq 0 ]] && is_current "$t"; then
      log "$t $(tool_version "$t") is up to date ($i/$total)"
      continue
    fi
    if [[ -s $LOGS/$t.log && ! -f $BIN/.stamp-$t ]]; then
      log "resuming $t $(tool_version "$t") ($i/$total): an earlier build stopped; Go's module and build caches keep what it had done"
    else
      log "building $t $(tool_version "$t") ($i/$total)..."
    fi
    start=$SECONDS
    : >"$LOGS/$t.log"
    OUT=$WORK/out-$t
    fresh_dir "$OUT"
    rm -f "$BIN/.stamp-$t"
    "build_$t"
    for b in $(tool_bins "$t"); do
      [[ -x $OUT/$b ]] || die "building $t failed ($b was not produced); see $LOGS/$t.log"
      mv -f "$OUT/$b" "$BIN/$b"
    done
    rm -rf "$OUT"
    fingerprint "$t" >"$BIN/.stamp-$t"
    log "built $t in $((SECONDS - start))s"
  done
  write_versions
  log "done in $((SECONDS - all_start))s; binaries in $BIN"
  if [[ $check -eq 1 ]]; then
    run_checks "${tools[@]}" || die "smoke checks failed"
  fi
}

main "$@"
