#!/usr/bin/env bash
# Quick demo, entirely local: builds the provider, starts the AWS emulator (moto) on a free
# port, applies examples/quickstart (a stack and a 5-per-minute limit) with Terraform, rate-limits against the new stack with the
# Rust client's example (`cargo run -p zae-limiter --example quickstart`), then destroys
# the stack and stops the emulator.
#
# Environment for the client example: the usual AWS_ENDPOINT_URL, AWS_REGION and dummy
# credentials, plus ZAEL_STACK (the stack/table name from the Terraform output).
# Set QUICKSTART_STACK to choose the stack name (default zae-demo).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

stack="${QUICKSTART_STACK:-zae-demo}"
trap 'status=$?; echo "!!! quickstart FAILED (exit ${status}) in: ${BASH_COMMAND}" >&2' ERR

say() { echo "==> $*" >&2; }

if [ ! -f zae-limiter/examples/quickstart.rs ]; then
  echo "quickstart: the client example zae-limiter/examples/quickstart.rs is missing" >&2
  exit 1
fi

say "dev environment (scripts/dev-setup.sh)"
scripts/dev-setup.sh
python="$root/.dev/venv/bin/python"
terraform="$root/.dev/bin/terraform"

say "building the provider, the aggregator package and the client example"
cargo build -p terraform-provider-zae --bin terraform-provider-zae
# The built-in aggregator (glibc 2.34 bootstrap + zip), where the provider looks for it.
scripts/build-aggregator.sh >/dev/null
cargo build -p zae-limiter --example quickstart
target_dir="$(cargo metadata --format-version 1 --no-deps |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
provider_dir="$target_dir/debug"

work="$(mktemp -d "${TMPDIR:-/tmp}/zae-quickstart.XXXXXX")"
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then
    kill "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"
say "starting the AWS emulator on $endpoint"
"$root/.dev/bin/emulator" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
emulator_pid=$!
"$python" - "$endpoint/moto-api/data.json" "$emulator_pid" <<'PY'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                break
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("the emulator exited during start-up")
    if time.monotonic() > deadline:
        sys.exit(f"the emulator did not answer on {url} within 60 s")
    time.sleep(0.1)
PY

# Terraform uses the provider cargo just built (dev_overrides), and talks to the emulator.
cat >"$work/cli.tfrc" <<TFRC
provider_installation {
  dev_overrides {
    "zae-limiter/zae" = "$provider_dir"
  }
  direct {}
}
TFRC
cp examples/quickstart/*.tf "$work/"
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
# Only the emulator: drop every AWS_* setting of the caller's shell (profiles, real keys).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^AWS_' || true)
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL="$endpoint"
export TF_VAR_endpoint_url="$endpoint" TF_VAR_stack_name="$stack"

say "terraform apply (examples/quickstart)"
"$terraform" -chdir="$work" apply -auto-approve
"$terraform" -chdir="$work" output
table="$("$terraform" -chdir="$work" output -raw table_name)"

say "rate limiting against stack $table (cargo run -p zae-limiter --example quickstart)"
ZAEL_STACK="$table" cargo run -q -p zae-limiter --example quickstart

say "terraform destroy"
"$terraform" -chdir="$work" destroy -auto-approve
say "done"
