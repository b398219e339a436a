# shellcheck shell=bash
# bench.sh load: 1M seed-shaped users loaded into the store, beside Python's json.loads and
# dataclasses (baseline_store.py). Sourced by bench.sh (lib.sh, $work).
bench_load() {
  echo "== load: 1M seed-shaped users (JSONL) into the store"
  python3 scripts/gen_users.py 1000000 >"$work/users.jsonl"
  "$build/tests/load_bench" --benchmark_format=json >"$work/load.json" 2>/dev/null
  "$build/coordinator/coordinator" --input "$work/users.jsonl" --dry-run >"$work/dry.txt"
  python3 scripts/baseline_store.py "$work/users.jsonl" >"$work/python.json"
  python3 scripts/bench/load.py "$work"
}
