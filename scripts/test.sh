#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite, slow tests included. Two passes: everything
# but the wall-clock tests on two xdist workers (each test file on one worker, longest first, so a
# module's fixtures start once), then the `realtime` tests (PulseAudio, SIP at 1x; see
# tests/conftest.py) on their own, so the suite never competes with them for the CPU. Arguments go
# to both passes; a `-m EXPR` of them is combined with each pass's own selection.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mark="" args=()
while (($#)); do
  case "$1" in
    -m) mark="($2) and "; shift 2 ;;
    -m*) mark="(${1#-m}) and "; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
rc=0
.venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m "${mark}not realtime" ${args[@]+"${args[@]}"} || rc=$?
[ "$rc" -eq 5 ] && rc=0  # 5: the arguments selected nothing in this pass
.venv/bin/python -m pytest -q -m "${mark}realtime" ${args[@]+"${args[@]}"} || { r=$?; [ "$r" -eq 5 ] || rc=$r; }
exit "$rc"
