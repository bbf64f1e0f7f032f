#!/usr/bin/env bash
# Set up phenbench for development: a virtual environment in .venv with phenbench (editable),
# its test tools and the example plugin's dependencies. Idempotent: a second call returns in a
# second unless pyproject.toml or the constraints changed.
#
# On these CPU-only machines torch is pinned by constraints/cpu.txt (a CPU build; without the pin
# pip would fetch the newest CUDA build, several GB). A user's own `pip install phenbench` does
# not use that pin. Override with PHENBENCH_CONSTRAINTS=path (empty for none).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
CONSTRAINTS="${PHENBENCH_CONSTRAINTS-constraints/cpu.txt}"
STAMP=.venv/.phenbench-installed

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi

wanted="$(cat pyproject.toml ${CONSTRAINTS:+"$CONSTRAINTS"} | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
    exit 0
fi

echo "setup: installing phenbench and its dependencies (about a minute on a fresh machine)"
pip_args=(--quiet --disable-pip-version-check)
if [ -n "$CONSTRAINTS" ]; then pip_args+=(-c "$CONSTRAINTS"); fi
.venv/bin/python -m pip install "${pip_args[@]}" --upgrade pip setuptools wheel 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install "${pip_args[@]}" -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import phenbench, torch" >/dev/null
echo "$wanted" > "$STAMP"
echo "setup: done ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
