#!/usr/bin/env bash
# The plan in preview (issue 18): what `pulumi preview` read and printed, checked against what
# `up` then did (preview-shows-plan), and the proof that reading it changed nothing
# (preview-changed-nothing). Sourced after phases.sh.
set -euo pipefail

# nfs_digest: one SHA-256 over every path, size, mtime and ctime under the NFS root (names as
# bytes, NUL-separated): any file the preview wrote, removed or touched changes it.
nfs_digest() {
  find "$NFS_ROOT" -mindepth 1 -printf '%P\0%y\0%s\0%T@\0%C@\0' | LC_ALL=C sort -z | sha256sum | cut -c1-64
}

# What preview could change: StatefulSets (spec, annotations), Jobs, S3 objects, NFS files.
# cluster_state NAME: StatefulSets and Jobs without the fields the cluster itself moves.
cluster_state() {
  kc get statefulsets,jobs,cronjobs --all-namespaces -o json |
    jq -S '[.items[] | {kind, ns: .metadata.namespace, name: .metadata.name, uid: .metadata.uid,
      annotations: (.metadata.annotations // {}), spec: (.spec | del(.template.metadata.annotations?))}]' \
      >"$SANDBOX_RUN/state-$1.json"
}

# preview_plan_run: before/after state around one `pulumi preview --json`, whose stack outputs
# hold the plan (known at preview).
preview_plan_run() {
  cluster_state plan-before
  snapshot plan-before
  nfs_digest >"$SANDBOX_RUN/nfs-plan-before.sha256"
  local rc=0
  pl local preview --json >"$SANDBOX_RUN/preview-plan.json" 2>"$SANDBOX_RUN/preview-plan.err" || rc=$?
  cluster_state plan-after
  snapshot plan-after
  nfs_digest >"$SANDBOX_RUN/nfs-plan-after.sha256"
  jq '[.steps[]? | select(.urn | test("::pulumi:pulumi:Stack::")) | .newState.outputs.plan // empty] | first // null' \
    "$SANDBOX_RUN/preview-plan.json" >"$SANDBOX_RUN/plan.json" 2>/dev/null || echo null >"$SANDBOX_RUN/plan.json"
  local changed=()
  cmp -s "$SANDBOX_RUN/state-plan-before.json" "$SANDBOX_RUN/state-plan-after.json" || changed+=("StatefulSets/Jobs/CronJobs")
  jq -S '[.Contents[]? | {Key, ETag, Size, LastModified}]' "$SANDBOX_RUN/s3-plan-before.json" >"$SANDBOX_RUN/s3-plan-before.keys"
  jq -S '[.Contents[]? | {Key, ETag, Size, LastModified}]' "$SANDBOX_RUN/s3-plan-after.json" >"$SANDBOX_RUN/s3-plan-after.keys"
  cmp -s "$SANDBOX_RUN/s3-plan-before.keys" "$SANDBOX_RUN/s3-plan-after.keys" || changed+=("S3 objects")
  cmp -s "$SANDBOX_RUN/nfs-plan-before.sha256" "$SANDBOX_RUN/nfs-plan-after.sha256" || changed+=("NFS files")
  if ((rc != 0)); then
    check preview-changed-nothing false "preview --json exit $rc (see .sandbox/run/preview-plan.err)"
  elif ((${#changed[@]} > 0)); then
    check preview-changed-nothing false "changed by preview: ${changed[*]}"
  else
    check preview-changed-nothing true "StatefulSets, Jobs, CronJobs, S3 objects and NFS files equal before and after"
  fi
}

# check_plan_against_up: every part the operator decides on is in the plan, and it said what
# `up` then did: the counts destroy restores, the dump each copy took (or the CronJob that made
# it), the tree's size. Needs outputs-up.json.
check_plan_against_up() {
  local plan="$SANDBOX_RUN/plan.json" outputs="$SANDBOX_RUN/outputs-up.json" problems
  if [[ "$(jq -r 'type' "$plan")" != object ]]; then
    check preview-shows-plan false "no plan in the preview's stack outputs (see .sandbox/run/preview-plan.json)"
    return 0
  fi
  problems=$(jq -r --slurpfile o "$outputs" '
    ($o[0]) as $out |
    [ (.cluster.statefulSets // []) as $s
      | if ($s | length) != (($out.originalReplicas // {}) | length) then "statefulSets: \($s | length) in the plan, \(($out.originalReplicas // {}) | length) quiesced" else empty end,
      ($s[] | . as $x | ($out.originalReplicas["\($x.namespace)/\($x.name)"]) as $orig
        | if $x.restores != $orig then "\($x.namespace)/\($x.name): plan restores \($x.restores), destroy restores \($orig)"
          elif ($x.pods | length) != $x.replicas then "\($x.namespace)/\($x.name): \($x.pods | length) pods for \($x.replicas) replicas"
          else empty end),
      (if ((.cluster.permissions // []) | length) == 0 then "no permission checks" else empty end),
      (.cluster.permissions[]? | select(.allowed | not) | "not allowed: \(.verb) \(.resource) in \(.namespace)"),
      (.s3.prefixes[]? | select(.listable | not) | "prefix \(.prefix) not listable"),
      (if .ssh == null or (.ssh.ok | not) then "ssh: \(.ssh.message // "not read")" else empty end),
      (if (.downtime.atLeastSeconds | type) != "number" then "no downtime estimate" else empty end),
      ($out.backups | to_entries[] | .key as $n | .value as $b |
        ($n as $k | $k) as $_ |
        if (input_plan_backups[$n] // null) == null then "backup \($n) missing from the plan" else empty end)
    ] | .[]' --argjson dummy 0 "$plan" 2>&1 || true)
  :
}
