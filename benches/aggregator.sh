#!/usr/bin/env bash
# Aggregator benchmark: one 100-record batch of real DynamoDB stream records (Rust client
# traffic on the emulator), processed on three copies of the same table, each through a
# request-counting proxy (testkit::faults::FaultProxy, FaultPlan::none()):
#   * zae-limiter 0.17.0's Python processor (time inside process_stream_records, and with
#     the interpreter's start),
#   * this crate's `process` (in the test process),
#   * the packaged `bootstrap` under an in-test Lambda Runtime API: cold start (spawn →
#     first /next), the invocation, and the zip size.
#
# Usage: benches/aggregator.sh              (debug glibc-2.34 build of bootstrap)
#        PROFILE=release benches/aggregator.sh (release bootstrap)
# The harness (and so the in-process `process` run) is the test profile (debug) either
# way: on the emulator all three are bound by its per-request time, not by CPU.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${PROFILE:-debug}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
flags=()
[ "$profile" = release ] && flags=(--release)
zip="$("$root/scripts/build-aggregator.sh" "${flags[@]}")"
export ZAE_AGGREGATOR_BOOTSTRAP="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/$profile/bootstrap"
cd "$root"
log="$CARGO_TARGET_DIR/aggregator/bench.log"
if ! cargo test -q -p zae-limiter-aggregator --test bench -- --ignored --nocapture >"$log" 2>&1; then
  tail -40 "$log" >&2
  exit 1
fi
grep '^BENCH ' "$log" | sed 's/^BENCH //'
echo "zip on disk: $zip $(stat -c %s "$zip") bytes ($profile)"
