#!/usr/bin/env bash
# The test command (README and CI): formatting, lints, then every test of the workspace:
# unit tests, integration tests and the acceptance tests (`acceptance/`, a [[test]] of the
# root package that drives the real Terraform CLI against the freshly built provider and
# the local AWS emulator).
#
# Sets up the dev environment first (scripts/dev-setup.sh, idempotent: seconds when done),
# so it works as-is on a fresh machine.
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh -- --nocapture`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

phase=""
started=0
begin() {
  phase="$1"
  started=$(date +%s)
  echo "==> ${phase}" >&2
}
end() {
  echo "<== ${phase}: ok in $(( $(date +%s) - started )) s" >&2
}
trap 'status=$?; echo "!!! FAILED: ${phase:-setup} (exit ${status}) after $(( $(date +%s) - started )) s" >&2' ERR

total_start=$(date +%s)

begin "scripts/dev-setup.sh"
scripts/dev-setup.sh
end

begin "cargo fmt --all --check"
cargo fmt --all --check
end

begin "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
end

begin "cargo test --workspace --no-run (build)"
cargo test --workspace --no-run
end

begin "cargo test --workspace"
cargo test --workspace "$@"
end

echo "==> all checks passed in $(( $(date +%s) - total_start )) s" >&2
