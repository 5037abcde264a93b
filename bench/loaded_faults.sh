#!/usr/bin/env bash
# The exactly-once and lifecycle fault tests, ROUNDS times (default 20), with two CPU-bound
# processes beside them (a loaded machine), printing how many rounds passed.
#
#   bench/loaded_faults.sh [ROUNDS] [pytest arguments...]
#
# Default selection: tests/faults/test_run_lifecycle.py, test_run_exactly_once.py and
# test_server_lifecycle.py, on SQLite and PostgreSQL. Logs of failed rounds are kept in
# $TMPDIR/proctor-loaded-faults/.
set -uo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-20}"
shift || true
TESTS=("$@")
if [ ${#TESTS[@]} -eq 0 ]; then
  TESTS=(tests/faults/test_run_lifecycle.py tests/faults/test_run_exactly_once.py
         tests/faults/test_server_lifecycle.py)
fi
PY="${PYTHON:-.venv/bin/python}"
LOGS="${TMPDIR:-/tmp}/proctor-loaded-faults"
mkdir -p "$LOGS"
busy=()
for _ in 1 2; do
  "$PY" -c 'while True: pass' &
  busy+=($!)
done
trap 'kill "${busy[@]}" 2>/dev/null' EXIT
passed=0
for round in $(seq "$ROUNDS"); do
  started=$(date +%s)
  if "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}" > "$LOGS/round-$round.log" 2>&1; then
    passed=$((passed + 1))
    verdict=passed
    rm -f "$LOGS/round-$round.log"
  else
    verdict="FAILED (log: $LOGS/round-$round.log)"
  fi
  echo "round $round/$ROUNDS: $verdict in $(( $(date +%s) - started )) s"
done
echo "loaded fault tests: $passed of $ROUNDS rounds passed (two busy loops beside them)"
[ "$passed" -eq "$ROUNDS" ]
