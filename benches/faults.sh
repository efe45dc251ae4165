#!/usr/bin/env bash
# Fault-injection benchmark (issue 8): the acceptance scenario of acceptance/faults.rs at
# full size (1 stack, 10 namespaces, 100 limits) under every fault class — throttling,
# ProvisionedThroughputExceeded, HTTP 500, HTTP 503, connection reset before and after the
# request reached the emulator, delays — injected by testkit::faults::FaultProxy into 10% of
# the requests at a fixed seed; then the client-crate scenario (64 concurrent acquirers,
# zae-limiter/tests/faults.rs). Prints both tables; the Terraform one is also written to
# $CARGO_TARGET_DIR/fault-report.md (default target/).
#
# Usage: benches/faults.sh
#        FAULTS_NAMESPACES=3 FAULTS_LIMITS=12 benches/faults.sh     (the test suite's size)
#        FAULTS_CLASSES=none,reset-after benches/faults.sh          (some classes only)
#        PROFILE=release benches/faults.sh                         (release build; slow to build)
#
# Exits non-zero when a scenario did not converge, left orphans, lost items or
# over-admitted; the tables are printed either way.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export FAULTS_NAMESPACES="${FAULTS_NAMESPACES:-10}" FAULTS_LIMITS="${FAULTS_LIMITS:-100}"
target="${CARGO_TARGET_DIR:-$root/target}"
profile_flag=()
[ "${PROFILE:-debug}" = release ] && profile_flag=(--release)
[ -x "$root/.dev/bin/terraform" ] && [ -x "$root/.dev/bin/emulator" ] || {
  echo "run scripts/dev-setup.sh first" >&2
  exit 1
}

log="$(mktemp "${TMPDIR:-/tmp}/zae-faults-XXXXXX.log")"
echo "building..." >&2
cargo test "${profile_flag[@]}" -p terraform-provider-zae --test acceptance --no-run -q >&2 || exit 1
cargo test "${profile_flag[@]}" -p zae-limiter --test faults --no-run -q >&2 || exit 1

rm -f "$target/fault-report.md" "$target/fault-report-dropped.md"
echo "terraform scenario: $FAULTS_NAMESPACES namespaces, $FAULTS_LIMITS limits (progress on stderr)..." >&2
start=$(date +%s)
cargo test "${profile_flag[@]}" -q -p terraform-provider-zae --test acceptance faults:: -- --nocapture --test-threads=1 \
  >"$log" 2>&1
tf_status=$?
grep '^FAULTS ' "$log" | cut -c1-240 >&2
echo "terraform scenario: $(( $(date +%s) - start )) s, exit $tf_status" >&2

echo "client scenario..." >&2
client_log="$(mktemp "${TMPDIR:-/tmp}/zae-faults-client-XXXXXX.log")"
cargo test "${profile_flag[@]}" -q -p zae-limiter --test faults -- --nocapture >"$client_log" 2>&1
client_status=$?

echo
if [ -f "$target/fault-report.md" ]; then
  cat "$target/fault-report.md"
  [ -f "$target/fault-report-dropped.md" ] && { echo; cat "$target/fault-report-dropped.md"; }
else
  echo "no Terraform report was written; the test's output:"
  tail -40 "$log"
fi
echo
echo "## Client crate: 64 concurrent acquirers, capacity 100, 15% of DynamoDB requests faulted"
echo
echo "| fault class | admitted | rejected | errors surfaced | tokens consumed | balance | faults injected |"
echo "|---|---|---|---|---|---|---|"
grep -o 'FAULTS-CLIENT.*' "$client_log" | sed -n 's/^FAULTS-CLIENT \([^ ]*\) *capacity [0-9]* admitted \([0-9]*\) rejected \([0-9]*\) contended [0-9]* errors \([0-9]*\) consumed \([0-9.]*\) balance \([0-9.-]*\) faults injected \([0-9]*\)$/| \1 | \2 | \3 | \4 | \5 | \6 | \7 |/p' | sort
[ "$client_status" = 0 ] || { echo "client scenario FAILED:"; grep -E 'panicked|over-admitted|lost' "$client_log" | head; }
rm -f "$log" "$client_log"
[ "$tf_status" = 0 ] && [ "$client_status" = 0 ]
