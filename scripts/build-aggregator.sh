#!/usr/bin/env bash
# Builds the aggregator Lambda package: the `bootstrap` binary of zae-limiter-aggregator,
# linked against glibc 2.34 (Amazon Linux 2023, runtime provided.al2023) with
# cargo-zigbuild and zig from .dev/venv (scripts/dev-setup.sh), then zipped
# deterministically (`zip-bootstrap`: fixed timestamps, `bootstrap` at the root, 0755).
#
#   scripts/build-aggregator.sh [--release]
#
# Prints the zip's path on stdout. Uses the workspace target dir ($CARGO_TARGET_DIR or
# ./target); the binary is <target>/x86_64-unknown-linux-gnu/<profile>/bootstrap and the
# zip <target>/aggregator/<profile>/aggregator.zip.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile=debug
flags=()
case "${1:-}" in
  --release) profile=release; flags=(--release) ;;
  "") ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac
venv="$root/.dev/venv"
if [ ! -x "$venv/bin/cargo-zigbuild" ] || ! "$venv/bin/python" -m ziglang version >/dev/null 2>&1; then
  echo "build-aggregator: cargo-zigbuild / ziglang missing, run scripts/dev-setup.sh" >&2
  exit 1
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TARGET_DIR="$target_dir"
# cargo-zigbuild finds zig through `python3 -m ziglang` of the venv.
export PATH="$venv/bin:$PATH"
cd "$root"
cargo zigbuild "${flags[@]}" -p zae-limiter-aggregator --bin bootstrap --target x86_64-unknown-linux-gnu.2.34 >&2
binary="$target_dir/x86_64-unknown-linux-gnu/$profile/bootstrap"
out="$target_dir/aggregator/$profile"
mkdir -p "$out"
cargo run -q -p zae-limiter-aggregator --bin zip-bootstrap -- "$binary" "$out/aggregator.zip.tmp" >&2
mv "$out/aggregator.zip.tmp" "$out/aggregator.zip"
echo "$out/aggregator.zip"
