#!/usr/bin/env bash
# Runs the black-box Python suite against a built trestle binary.
#   tests/run.sh                 # every test
#   tests/run.sh -k crash        # extra arguments go to pytest
# Binary: $TRESTLE_BIN, else .build/release/trestle, else .build/debug/trestle.
# Needs: python3, pytest, redis (redis-py >= 5), redis-server and redis-cli on PATH.
# Each test has a wall-clock limit (TRESTLE_TEST_TIMEOUT, default 60 s; see conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 -m pytest tests -q -rfEsxX -p no:cacheprovider --durations=10 "$@"
