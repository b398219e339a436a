# shellcheck shell=bash
# bench.sh dedupe: N users (DEDUPE_USERS, default 100,000) of whom 30 % share 20 image URLs,
# run with --dedupe url and --dedupe off on a zero-latency fixture with a cheap filter
# (DEDUPE_FILTER, default blur:1): downloads, filter jobs and wall time, and their ratios.
# Sourced by bench.sh (lib.sh, $work).

bench_dedupe() {
  local n=${DEDUPE_USERS:-100000} filter=${DEDUPE_FILTER:-blur:1} mode t0 t1
  echo "== dedupe: $n users, 30 % of them on 20 shared URLs, --filter $filter, zero latency"
  start_api "$work"
  python3 scripts/gen_users.py "$n" "http://127.0.0.1:$api_port/img" --shared 0.3 \
    --shared-urls 20 >"$work/shared.jsonl"
  for mode in off url; do
    rm -rf "$work/out"
    t0=$(now)
    "$build/coordinator/coordinator" --input "$work/shared.jsonl" --output "$work/out" \
      --allow-private-networks --filter "$filter" --dedupe "$mode" --quiet \
      --report "$work/dedupe-$mode.json" 2>/dev/null || true
    t1=$(now)
    echo "$t1 - $t0" | bc -l >"$work/dedupe-$mode.seconds"
  done
  stop_api
  python3 scripts/bench/dedupe.py "$work"
}
