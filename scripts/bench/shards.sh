# shellcheck shell=bash
# bench.sh shards: what splitting a run into shards costs, and what a merge costs.
#  1. N users (SHARDS_USERS, default 4,000) of real photos through SHARDS_FILTER (default
#     blur:5) on this machine's cores, once as one run (--workers = cores) and once as two shards
#     side by side (--shard K/2, --workers = cores / 2 each) then `coordinator merge --link`:
#     the wall time of each and their ratio (first shard start to merge end), and whether the
#     merged manifest has the same lines (id, status, bytes) as the one run.
#  2. `coordinator merge` of MERGE_USERS (default 1,000,000) lines: two shards run with
#     --filter none on the zero-latency fixture (fanned out), then merged leaving the images in
#     place, and again with --link.
# Sourced by bench.sh (lib.sh, $work).

# merge_shards OUT [--link|--move] SHARD...: runs `coordinator merge`; prints its seconds.
merge_shards() {
  local out=$1 t0 t1
  shift
  t0=$(now)
  "$build/coordinator/coordinator" merge --output "$out" "$@" 2>"$work/merge.log" ||
    { cat "$work/merge.log" >&2; return 1; }
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}

bench_shards() {
  local n=${SHARDS_USERS:-4000} filter=${SHARDS_FILTER:-blur:5} cores m=${MERGE_USERS:-1000000}
  local t0 t1 one two leave link k pids
  cores=$(nproc)
  echo "== shards: $n photos through $filter, one run on $cores workers vs 2 shards side by side"
  start_api "$work" --images photos
  python3 scripts/gen_users.py "$n" "http://127.0.0.1:$api_port/img" >"$work/shard-users.jsonl"
  local run=("$build/coordinator/coordinator" --input "$work/shard-users.jsonl"
    --allow-private-networks --filter "$filter" --quiet)
  rm -rf "$work/one" "$work/s0" "$work/s1" "$work/all"
  t0=$(now)
  "${run[@]}" --output "$work/one" --workers "$cores" 2>/dev/null || true
  t1=$(now)
  one=$(echo "$t1 - $t0" | bc -l)
  t0=$(now)
  pids=()
  for k in 0 1; do
    "${run[@]}" --output "$work/s$k" --shard "$k/2" --workers $(((cores + 1) / 2)) \
      2>/dev/null &
    pids+=($!)
  done
  for k in "${pids[@]}"; do wait "$k" || true; done
  merge_shards "$work/all" --link "$work/s0" "$work/s1" >/dev/null
  t1=$(now)
  two=$(echo "$t1 - $t0" | bc -l)
  stop_api
  python3 scripts/bench/shards.py compare "$work/one" "$work/all" "$one" "$two"
  rm -rf "$work/one" "$work/s0" "$work/s1" "$work/all"

  echo "== shards: merging $m lines (2 shards of the zero-latency fixture, --filter none)"
  start_api "$work"
  python3 scripts/gen_users.py "$m" "http://127.0.0.1:$api_port/img" >"$work/merge-users.jsonl"
  for k in 0 1; do
    "$build/coordinator/coordinator" --input "$work/merge-users.jsonl" --output "$work/m$k" \
      --shard "$k/2" --allow-private-networks --filter none --quiet 2>/dev/null || true
  done
  stop_api
  leave=$(merge_shards "$work/mall" "$work/m0" "$work/m1")
  link=$(merge_shards "$work/mlink" --link "$work/m0" "$work/m1")
  python3 scripts/bench/shards.py merge "$work/mall" "$work/mlink" "$m" "$leave" "$link"
  rm -rf "$work/m0" "$work/m1" "$work/mall" "$work/mlink"
}
