#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite, slow tests included. Two passes: everything
# but the wall-clock tests on two xdist workers (each test file on one worker, so a module's
# fixtures start once), then the `realtime` tests (PulseAudio, SIP at 1x; tests/conftest.py) on
# their own, so the suite never competes with them for the CPU. Arguments go to both passes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rc=0
.venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m "not realtime" "$@" || rc=$?
[ "$rc" -eq 5 ] && rc=0  # 5: the arguments selected nothing in this pass
.venv/bin/python -m pytest -q -m realtime "$@" || { r=$?; [ "$r" -eq 5 ] || rc=$r; }
exit "$rc"
