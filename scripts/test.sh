#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite. Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -m "not slow"` for the quick part only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
export PHENBENCH_CACHE="${PHENBENCH_CACHE:-$(mktemp -d)}"  # no stale statistics from a user cache
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "test: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
