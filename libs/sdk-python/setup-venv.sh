#!/usr/bin/env bash
# Creates the Python SDK's virtual environment (python3 -m venv) and fills it with pip:
# `pip install -e libs/sdk-python[test]` (confluent-kafka, cryptography, pytest, pytest-asyncio).
# Idempotent and fast when done: a stamp keyed on pyproject.toml's hash and the interpreter's
# version skips everything. Prints the venv's python on its last line.
#   WARDEN_PYTHON_VENV   where the venv goes (default: <repo>/.warden/python)
#   PYTHON               the interpreter to build it with (default: python3; 3.10 or later)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="${WARDEN_PYTHON_VENV:-$root/.warden/python}"
python="${PYTHON:-python3}"
mkdir -p "$(dirname "$venv")"

"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
  { echo "the Python SDK needs Python 3.10 or later; $python is $("$python" --version 2>&1)" >&2; exit 1; }
key=$( { cat "$here/pyproject.toml"; "$python" --version 2>&1; } | sha256sum | cut -c1-64)
stamp="$venv/.warden-stamp"

ready() { [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; }

if ready; then echo "$venv/bin/python"; exit 0; fi
# One setup at a time (two test suites may ask at once).
exec 9>"$venv.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if ready; then echo "$venv/bin/python"; exit 0; fi

echo "setting up the Python SDK's virtual environment in $venv" >&2
if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
  echo "$venv exists and is not a virtual environment: not touching it" >&2
  exit 1
fi
"$python" -m venv --clear "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here[test]" >&2
echo "$key" >"$stamp"
echo "$venv/bin/python"
