# shellcheck shell=bash
# bench.sh pool: round trips through the real dispatcher and workers (dispatch_bench) beside raw
# ZeroMQ echo and Python's multiprocessing Pool; CurveZMQ against plain tcp, and rejected peers
# hammering the port. Sourced by bench.sh (lib.sh, $work).
bench_pool() {
  echo "== worker pool: round trips through the real dispatcher and worker processes vs raw ZeroMQ, CurveZMQ"
  local only=()
  # --quick: the round trips and one start-up, not CurveZMQ or the rejected peers.
  [ -z "${POOL_QUICK:-}" ] || only=(--benchmark_filter='BM_PoolRoundTrip|BM_RawEcho|BM_PoolStartup/1$')
  "$build/tests/dispatch_bench" --benchmark_format=json "${only[@]}" >"$work/pool.json" 2>/dev/null
  python3 scripts/baseline_pool.py >"$work/python_pool.json"
  python3 scripts/bench/pool.py "$work/pool.json" "$work/python_pool.json"
}
