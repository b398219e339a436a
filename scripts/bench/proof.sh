# shellcheck shell=bash
# bench.sh proof: the pipeline against --sequential (one user at a time, filter in process) and
# the seed's Python answer. Sourced by bench.sh (lib.sh, common.sh, $work).

# Wall seconds of one command (its output discarded), after removing OUT. Usage: wall OUT CMD...
wall() {
  local out=$1 t0 t1
  shift
  rm -rf "$out"
  t0=$(now)
  "$@" >/dev/null 2>&1 || true
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}

bench_proof() {
  local repeats=${PROOF_REPEATS:-5} py n r coordinator="$build/coordinator/coordinator"
  echo "== proof: the pipeline vs --sequential (one user at a time, filter in process) vs the seed's Python answer;" \
    "100 ms a download, blur:5 on 512x512 photos (JPEG), 2 workers; $repeats repeats, min and median"
  echo "  load before: $(uptime | sed 's/.*load average: //')"
  py=$(pillow_python)
  [ -n "$py" ] || echo "  (no Python with Pillow: install python3-pil; the seed baseline is skipped)" >&2
  local flags=(--filter blur:5 --allow-private-networks)
  : >"$work/proof.txt"
  start_api "$work" --latency-ms 100 --images photos --size 512x512
  for n in ${PROOF_SIZES:-20 200}; do
    python3 scripts/gen_users.py "$n" "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
    # Interleaved, so a change in the machine's load falls on all three alike.
    for r in $(seq "$repeats"); do
      echo "pipeline $n $(wall "$work/p" "$coordinator" --input "$work/users.jsonl" --output "$work/p" "${flags[@]}") $(ok_lines "$work/p")" >>"$work/proof.txt"
      echo "sequential $n $(wall "$work/s" "$coordinator" --input "$work/users.jsonl" --output "$work/s" "${flags[@]}" --sequential) $(ok_lines "$work/s")" >>"$work/proof.txt"
      if [ -n "$py" ]; then
        echo "python $n $(wall "$work/y" "$py" scripts/baseline_seed.py "$work/users.jsonl" "$work/y" 5) $(ls "$work/y/images" 2>/dev/null | wc -l)" >>"$work/proof.txt"
      fi
    done
  done
  stop_api
  # CPU-bound: a zero-latency server, the photos at their own sizes (256x256 to 741x500), so the
  # filter is the whole cost; equal cores (2 workers, Pool(2)).
  local cpu_users=${PROOF_CPU_USERS:-400}
  start_api "$work" --images photos
  python3 scripts/gen_users.py "$cpu_users" "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  for r in $(seq "$repeats"); do
    echo "cpu_pipeline $cpu_users $(wall "$work/p" "$coordinator" --input "$work/users.jsonl" --output "$work/p" "${flags[@]}" --workers 2) $(ok_lines "$work/p")" >>"$work/proof.txt"
    if [ -n "$py" ]; then
      echo "cpu_python $cpu_users $(wall "$work/y" "$py" scripts/baseline_seed.py "$work/users.jsonl" "$work/y" 5) $(ls "$work/y/images" 2>/dev/null | wc -l)" >>"$work/proof.txt"
    fi
  done
  stop_api
  # The seed's three test cases, as pixelmill's own numbers (the report's wall: the pipeline
  # from its start, workers' start-up included).
  python3 scripts/gen_users.py "${PROOF_SEED_USERS:-100000}" >"$work/seed.jsonl"
  "$coordinator" --input "$work/seed.jsonl" --dry-run >"$work/dry.txt"
  python3 scripts/baseline_store.py "$work/seed.jsonl" >"$work/store.json"
  start_api "$work" --latency-ms 100 --images photos
  python3 scripts/gen_users.py 10 "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  for r in $(seq "$repeats"); do
    for mode in pipeline sequential; do
      local extra=()
      [ "$mode" = sequential ] && extra=(--sequential)
      rm -rf "$work/c" && "$coordinator" --input "$work/users.jsonl" --output "$work/c" --filter none \
        --allow-private-networks --report "$work/c.json" "${extra[@]}" >/dev/null 2>&1 || true
      echo "dl10_$mode 10 $(python3 scripts/bench/json_field.py "$work/c.json" wall_seconds) $(ok_lines "$work/c")" >>"$work/proof.txt"
    done
  done
  stop_api
  start_api "$work" --images photos
  python3 scripts/gen_users.py 4 "http://127.0.0.1:$api_port/img" >"$work/users4.jsonl"
  python3 scripts/gen_users.py 8 "http://127.0.0.1:$api_port/img" >"$work/users8.jsonl"
  # The wall includes spawning the 4 workers; 8 jobs against 4 isolates the jobs: a second wave
  # of 4 adds 0.2 s when they run in parallel, 0.8 s when one at a time.
  for r in $(seq "$repeats"); do
    for mode in pipeline sequential pipeline8; do
      local extra=(--workers 4) n=4
      [ "$mode" = sequential ] && extra=(--sequential)
      [ "$mode" = pipeline8 ] && n=8
      rm -rf "$work/c" && "$coordinator" --input "$work/users$n.jsonl" --output "$work/c" --filter sleep:200 \
        --allow-private-networks --report "$work/c.json" "${extra[@]}" >/dev/null 2>&1 || true
      echo "jobs4_$mode $n $(python3 scripts/bench/json_field.py "$work/c.json" wall_seconds) $(ok_lines "$work/c")" >>"$work/proof.txt"
    done
  done
  stop_api
  python3 scripts/bench/proof.py "$work/proof.txt" "$work/dry.txt" "$work/store.json" "$repeats"
}
