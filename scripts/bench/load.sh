# shellcheck shell=bash
# bench.sh load: 1M seed-shaped users loaded into the store, beside Python's json.loads and
# dataclasses (baseline_store.py). Sourced by bench.sh (lib.sh, $work).
bench_load() {
  local n=${LOAD_USERS:-1000000}
  echo "== load: $n seed-shaped users (JSONL) into the store (load_bench: 1M)"
  python3 scripts/gen_users.py "$n" >"$work/users.jsonl"
  "$build/tests/load_bench" --benchmark_format=json --benchmark_min_time="${LOAD_MIN_TIME:-0.5}" >"$work/load.json" 2>/dev/null
  "$build/coordinator/coordinator" --input "$work/users.jsonl" --dry-run >"$work/dry.txt"
  python3 scripts/baseline_store.py "$work/users.jsonl" >"$work/python.json"
  python3 scripts/bench/load.py "$work"
}
