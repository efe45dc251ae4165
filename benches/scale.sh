#!/usr/bin/env bash
# Scale benchmark: 1 stack, 100 namespaces and 1,000 limits (10 per namespace, across the
# system, resource and entity scopes) planned, applied, re-planned and destroyed with the
# real Terraform CLI against the AWS emulator (moto).
#
# Prints the wall time of each phase, the provider's peak resident memory (VmHWM of the
# terraform-provider-zae processes, sampled every 100 ms) and, for the refresh plan, the
# DynamoDB requests per resource (moto's request recorder), which shows every Read is one
# request.
#
# Usage: benches/scale.sh            (release build of the provider)
#        PROFILE=debug benches/scale.sh
#        NAMESPACES=10 LIMITS_PER_NAMESPACE=10 PARALLELISM=10 benches/scale.sh
#        ENTITY_EVERY=0 benches/scale.sh   (no entity-scope limits)
#        DESTROY=0 benches/scale.sh        (skip the destroy phase)
#
# By default every third limit of a namespace is entity-scoped. Creating (or deleting) an
# entity config item is a TransactWriteItems, as in zae-limiter; moto deep-copies the whole
# table for every transaction, so with thousands of items those writes dominate the wall
# time on the emulator (not on DynamoDB). ENTITY_EVERY=0 shows the rest on its own.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${PROFILE:-release}"
namespaces="${NAMESPACES:-100}"
per_ns="${LIMITS_PER_NAMESPACE:-10}"
parallelism="${PARALLELISM:-10}"
entity_every="${ENTITY_EVERY:-3}"
destroy="${DESTROY:-1}"
terraform="${TF_ACC_TERRAFORM_PATH:-$root/.dev/bin/terraform}"
python="$root/.dev/venv/bin/python"
[ -x "$terraform" ] && [ -x "$python" ] || { echo "run scripts/dev-setup.sh first" >&2; exit 1; }

echo "building the provider ($profile)..." >&2
if [ "$profile" = release ]; then
  cargo build --quiet --release -p terraform-provider-zae --bin terraform-provider-zae
else
  cargo build --quiet -p terraform-provider-zae --bin terraform-provider-zae
fi
bin_dir="$root/target/$profile"

work="$(mktemp -d "${TMPDIR:-/tmp}/zae-scale-XXXXXX")"
port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"
# moto writes its recording file into its working directory: keep it in $work.
(cd "$work" && exec env MOTO_ENABLE_RECORDING=True "$root/.dev/bin/emulator" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1) &
moto_pid=$!
sampler_pid=""
cleanup() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$endpoint/moto-api/data.json" >/dev/null && break; sleep 0.2; done

cat >"$work/cli.tfrc" <<TFRC
provider_installation {
  dev_overrides {
    "zae-limiter/zae" = "$bin_dir"
  }
  direct {}
}
TFRC
mkdir "$work/tf"
cat >"$work/tf/main.tf" <<HCL
terraform {
  required_providers {
    zae = { source = "zae-limiter/zae" }
  }
}

provider "zae" {
  region       = "us-east-1"
  endpoint_url = "$endpoint"
}

locals {
  tenants = toset([for i in range($namespaces) : format("tenant-%03d", i)])
  # Per namespace: system defaults, resource defaults and entity limits.
  shapes = { for j in range($per_ns) : format("l%02d", j) => {
    resource  = j % 3 == 0 ? null : format("model-%d", j % 4)
    entity_id = $entity_every > 0 && j % max($entity_every, 1) == $entity_every - 1 ? format("key-%d", j % 5) : null
  } }
  limits = { for pair in setproduct(local.tenants, keys(local.shapes)) : "\${pair[0]}/\${pair[1]}" => {
    namespace = pair[0]
    name      = pair[1]
    shape     = local.shapes[pair[1]]
  } }
}

resource "zae_limiter_stack" "main" {
  name               = "zae-scale"
  pitr_recovery_days = 0
}

resource "zae_limiter_namespace" "tenant" {
  for_each = local.tenants
  stack    = zae_limiter_stack.main.name
  name     = each.key
}

resource "zae_limiter_limit" "limit" {
  for_each  = local.limits
  stack     = zae_limiter_stack.main.name
  namespace = zae_limiter_namespace.tenant[each.value.namespace].name
  resource  = each.value.shape.resource
  entity_id = each.value.shape.entity_id
  name      = each.value.name
  rate      = 100
  per       = "minute"
  burst     = 150
}
HCL

export TF_CLI_CONFIG_FILE="$work/cli.tfrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset TF_LOG

# Peak memory sampler: the largest VmHWM (kB) of any provider process during the phase
# named in $work/phase, written to $work/peak-<phase>.
echo idle >"$work/phase"
(
  while :; do
    phase="$(cat "$work/phase")"
    for pid in $(pgrep -f "$bin_dir/terraform-provider-zae" || true); do
      kb="$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
      [ -n "$kb" ] || continue
      prev="$(cat "$work/peak-$phase" 2>/dev/null || echo 0)"
      [ "$kb" -gt "$prev" ] && echo "$kb" >"$work/peak-$phase"
    done
    sleep 0.1
  done
) &
sampler_pid=$!

cd "$work/tf"
"$terraform" init -no-color >"$work/init.log"
results=()
run_phase() {
  local label="$1"; shift
  echo "$label" >"$work/phase"
  local start end status=0
  start="$(date +%s.%N)"
  "$terraform" "$@" >"$work/$label.log" 2>&1 || status=$?
  end="$(date +%s.%N)"
  sleep 0.3
  echo idle >"$work/phase"
  local peak_kb; peak_kb="$(cat "$work/peak-$label" 2>/dev/null || echo 0)"
  results+=("$(printf '%-22s %8.1f s   %6.1f MiB   exit %s' "$label" "$(echo "$end - $start" | bc)" "$(echo "scale=1; $peak_kb / 1024" | bc)" "$status")")
  echo "${results[-1]}" >&2
  return 0
}

resources=$((1 + namespaces + namespaces * per_ns))
run_phase plan-create plan -no-color -parallelism="$parallelism" -out="$work/create.tfplan"
run_phase apply apply -no-color -parallelism="$parallelism" "$work/create.tfplan"
curl -sf -X POST "$endpoint/moto-api/recorder/reset-recording" >/dev/null
curl -sf -X POST "$endpoint/moto-api/recorder/start-recording" >/dev/null
run_phase plan-refresh plan -no-color -parallelism="$parallelism" -detailed-exitcode
curl -sf -X POST "$endpoint/moto-api/recorder/stop-recording" >/dev/null
curl -sf "$endpoint/moto-api/recorder/download-recording" >"$work/recording.jsonl"
[ "$destroy" = 1 ] && run_phase destroy destroy -no-color -auto-approve -parallelism="$parallelism"

requests="$("$python" - "$work/recording.jsonl" <<'PY'
import collections, json, sys
counts = collections.Counter()
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    entry = json.loads(line)
    target = (entry.get("headers") or {}).get("X-Amz-Target", "")
    if target.startswith("DynamoDB_20120810."):
        counts[target.split(".", 1)[1]] += 1
    else:
        body = entry.get("body") or ""
        action = next((p.split("=", 1)[1] for p in str(body).split("&") if p.startswith("Action=")), None)
        counts[action or "other"] += 1
print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
PY
)"

echo
entity_count="$(grep -c '/entity:' "$work/plan-refresh.log" || true)"
echo "zae scale benchmark: 1 stack, $namespaces namespaces, $((namespaces * per_ns)) limits ($entity_count entity-scoped; $resources resources), parallelism $parallelism, provider $profile build"
echo "phase                   wall time   provider peak RSS"
printf '%s\n' "${results[@]}"
echo "requests during the refresh plan: $requests"
grep -q "No changes" "$work/plan-refresh.log" && echo "refresh plan: no changes" || { echo "refresh plan NOT empty:"; tail -20 "$work/plan-refresh.log"; }
