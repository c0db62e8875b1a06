#!/usr/bin/env bash
# The cluster part of the operator's plan (run by `pulumi preview`): for each StatefulSet the
# stack will quiesce, its replicas now, the count destroy would restore and its pods; and one
# `kubectl auth can-i` per permission the configured steps need. Read-only: it runs only
# `kubectl get` and `kubectl auth can-i`, so a preview changes nothing in the cluster.
#
# Env:
#   PLAN_STATEFULSETS  "namespace/name" words, one per quiesced StatefulSet (may be empty)
#   PLAN_CHECKS        one check a line: "verb resource namespace why..." ("-": cluster-scoped)
#   PLAN_CRONJOBS      "namespace/name" words, one per refresh CronJob (may be empty): the
#                      duration of its last successful Job (completionTime - startTime), the
#                      refresh's share of the downtime estimate
#   KUBE_CONTEXT       kubeconfig context (optional)
# Stderr: one line per StatefulSet and per check ("ok: ..." or what is wrong).
# Stdout, one line: {"statefulSets":[{namespace,name,replicas,restores,pods}],
#   "permissions":[{verb,resource,namespace,allowed}],
#   "cronJobs":[{namespace,name,lastRunSeconds}]} (lastRunSeconds null: no finished Job).
# Exit 1 if a read failed or a permission is missing, the last stderr line then being
# "plan-cluster.sh: ERROR: ..." naming every failure (up would fail on them, after the quiesce).
set -euo pipefail

readonly ME=plan-cluster.sh
readonly ANNOTATION_PATH='{.metadata.annotations.relocation\.fragalysis/original-replicas}'
kc=(kubectl)
if [[ -n "${KUBE_CONTEXT:-}" ]]; then kc+=(--context "$KUBE_CONTEXT"); fi

# Lines never grow without bound (the command provider hangs on one over 64 KiB).
cut_line() {
  local s="${1//$'\n'/ }"
  if ((${#s} > 2000)); then s="${s:0:2000} ...(cut)"; fi
  printf '%s' "$s"
}
log() { printf '%s: %s\n' "$ME" "$(cut_line "$*")" >&2; }

failures=()
sts_json=()
for target in ${PLAN_STATEFULSETS:-}; do
  if [[ ! "$target" =~ ^[a-z0-9.-]+/[a-z0-9.-]+$ ]]; then
    log "PLAN_STATEFULSETS: \"$target\" is not namespace/name; the program passes quiesce[] here"
    failures+=("bad StatefulSet reference $target")
    continue
  fi
  ns="${target%%/*}" name="${target#*/}"
  if ! out=$("${kc[@]}" --namespace "$ns" get statefulset "$name" \
    -o "jsonpath={.spec.replicas} $ANNOTATION_PATH" 2>&1); then
    log "StatefulSet $target: cannot read it ($out)"
    failures+=("read StatefulSet $target")
    continue
  fi
  read -r replicas recorded <<<"$out" || true
  [[ "${replicas:-}" =~ ^[0-9]+$ ]] || replicas=1 # no spec.replicas: the API default
  # An earlier quiesce left its count on the object: that, not today's 0, is what destroy restores.
  restores="$replicas"
  if [[ "${recorded:-}" =~ ^[0-9]+$ ]]; then restores="$recorded"; fi
  # shellcheck disable=SC2016 # a Go template, not shell expansion
  if ! selector=$("${kc[@]}" --namespace "$ns" get statefulset "$name" \
    -o 'go-template={{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}' 2>&1); then
    log "StatefulSet $target: cannot read its selector ($selector)"
    failures+=("read StatefulSet $target selector")
    continue
  fi
  selector="${selector%,}"
  if [[ -z "$selector" ]]; then
    log "StatefulSet $target: no spec.selector.matchLabels, so its pods cannot be listed"
    failures+=("pods of $target")
    continue
  fi
  if ! pods=$("${kc[@]}" --namespace "$ns" get pods --selector "$selector" \
    -o 'go-template={{range .items}}{{.metadata.name}} {{end}}' 2>&1); then
    log "StatefulSet $target: cannot list its pods ($pods)"
    failures+=("list pods of $target")
    continue
  fi
  read -r -a names <<<"$pods" || true
  shown="${names[*]:0:10}"
  if ((${#names[@]} > 10)); then shown+=" (+$((${#names[@]} - 10)) more)"; fi
  log "ok: StatefulSet $target: $replicas replicas now, destroy restores $restores; pods: ${shown:-none}"
  pods_json=""
  for p in "${names[@]}"; do pods_json+="${pods_json:+,}\"$p\""; done
  sts_json+=("$(printf '{"namespace":"%s","name":"%s","replicas":%d,"restores":%d,"pods":[%s]}' \
    "$ns" "$name" "$replicas" "$restores" "$pods_json")")
done

# The refresh CronJobs' last runs: their Jobs (ownerReferences) that completed, the latest.
cron_json=()
for target in ${PLAN_CRONJOBS:-}; do
  if [[ ! "$target" =~ ^[a-z0-9.-]+/[a-z0-9.-]+$ ]]; then
    failures+=("bad CronJob reference $target")
    continue
  fi
  ns="${target%%/*}" name="${target#*/}"
  # shellcheck disable=SC2016 # a Go template, not shell expansion
  if ! jobs=$("${kc[@]}" --namespace "$ns" get jobs -o 'go-template={{range .items}}{{range .metadata.ownerReferences}}{{if eq .kind "CronJob"}}{{.name}}{{end}}{{end}} {{.status.startTime}} {{.status.completionTime}}{{"\n"}}{{end}}' 2>&1); then
    log "CronJob $target: cannot list its Jobs ($jobs)"
    failures+=("list Jobs of $target")
    continue
  fi
  last="" seconds=null
  while read -r owner start end; do
    [[ "$owner" == "$name" && "$start" == *Z && "$end" == *Z && "$end" > "$last" ]] || continue
    last="$end"
    seconds=$(($(date -u -d "$end" +%s) - $(date -u -d "$start" +%s)))
  done <<<"$jobs"
  if [[ "$seconds" == null ]]; then
    log "CronJob $target: no finished Job to time its run by; the refresh's duration is unknown"
  else
    log "ok: CronJob $target: its last Job (finished $last) ran ${seconds}s"
  fi
  cron_json+=("$(printf '{"namespace":"%s","name":"%s","lastRunSeconds":%s}' "$ns" "$name" "$seconds")")
done

perm_json=()
while read -r verb resource ns why; do
  [[ -n "${verb:-}" ]] || continue
  where=(--all-namespaces)
  label="cluster-wide"
  if [[ "$ns" != "-" ]]; then where=(--namespace "$ns") label="in $ns"; fi
  # "pods/exec" as can-i's TYPE would mean the pod NAMED exec: a subresource goes in its flag.
  what=("$resource")
  if [[ "$resource" == */* ]]; then what=("${resource%%/*}" "--subresource=${resource#*/}"); fi
  # can-i prints yes (exit 0) or no (exit 1); anything else is a failed read, not an answer.
  answer=$("${kc[@]}" auth can-i "$verb" "${what[@]}" "${where[@]}" 2>&1) || true
  case "$answer" in
    yes*)
      allowed=true
      log "ok: may $verb $resource $label"
      ;;
    no*)
      allowed=false
      log "NOT ALLOWED: $verb $resource $label (needed: $why); grant it to your kubeconfig user"
      failures+=("$verb $resource $label")
      ;;
    *)
      log "kubectl auth can-i $verb $resource $label failed: $answer"
      failures+=("can-i $verb $resource $label (no answer)")
      continue
      ;;
  esac
  perm_json+=("$(printf '{"verb":"%s","resource":"%s","namespace":%s,"allowed":%s}' \
    "$verb" "$resource" "$([[ "$ns" == - ]] && echo null || echo "\"$ns\"")" "$allowed")")
done <<<"${PLAN_CHECKS:-}"

if ((${#failures[@]} > 0)); then
  printf '%s: ERROR: %s\n' "$ME" "$(cut_line "${#failures[@]} cluster check(s) failed: $(
    IFS=';'
    echo "${failures[*]}"
  )")" >&2
  exit 1
fi
printf '{"statefulSets":[%s],"permissions":[%s],"cronJobs":[%s]}\n' \
  "$(IFS=,; echo "${sts_json[*]}")" "$(IFS=,; echo "${perm_json[*]}")" "$(IFS=,; echo "${cron_json[*]}")"
