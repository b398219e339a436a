# shellcheck shell=bash
# bench.sh streaming: downloads overlap filters, peak RSS flat in users, the cost of --durable;
# COORDINATOR=PATH runs another build. Sourced by bench.sh (lib.sh, $work).

# One streaming run: the coordinator ($coordinator) on $work/users.jsonl into OUT with FLAGS,
# at most 15 minutes. Prints the report's "wall_seconds peak_rss_bytes ok failed peak_image_bytes".
# Usage: stream_run OUT FLAGS...
stream_run() {
  local out=$1
  shift
  rm -rf "$out" "$out.report.json"
  timeout 900 "$coordinator" --input "$work/users.jsonl" --output "$out" --allow-private-networks \
    --report "$out.report.json" "$@" >/dev/null 2>"$out.stderr" || true
  if [ ! -s "$out.report.json" ]; then
    echo "  WARNING: no report from $* ($(tail -1 "$out.stderr"))" >&2
    echo "nan nan 0 0 nan"
    return
  fi
  python3 scripts/bench/json_field.py "$out.report.json" wall_seconds memory.peak_rss_bytes ok failed \
    memory.peak_image_bytes
}

bench_streaming() {
  local coordinator=${COORDINATOR:-$build/coordinator/coordinator}
  local big=${STREAMING_BIG_USERS:-1000000} t0 t1
  echo "== streaming: downloads overlap filters; peak RSS flat in users; cost of --durable"
  echo "  load before: $(uptime | sed 's/.*load average: //')"
  # Overlap: 200 users, 100 ms a download (10 at once: 2.0 s) and 100 ms a filter (10 workers:
  # 2.0 s). Streamed end to end, the run takes about as long as the slower of the two alone.
  local overlap=(--concurrency 10 --per-host 10)
  start_api "$work" --latency-ms 100 --images photos --size 256x256
  python3 scripts/gen_users.py 200 "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  echo "both $(stream_run "$work/s-both" "${overlap[@]}" --filter sleep:100 --workers 10)" >"$work/streaming.txt"
  echo "download $(stream_run "$work/s-dl" "${overlap[@]}" --filter none)" >>"$work/streaming.txt"
  stop_api
  # Small gradients from here on: the big run writes $big images, which as photos would not fit.
  start_api "$work"
  python3 scripts/gen_users.py 200 "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  echo "filter $(stream_run "$work/s-filter" "${overlap[@]}" --filter sleep:100 --workers 10)" >>"$work/streaming.txt"
  # Peak RSS at 10k and $big users, --filter none, zero latency, a 64 MiB budget: the difference
  # should be the store (the images stream through the same bounded budget).
  python3 scripts/gen_users.py 10000 "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  echo "rss10k $(stream_run "$work/s-10k" --filter none --max-memory 64M)" >>"$work/streaming.txt"
  rm -rf "$work/s-10k"
  echo "  disk for $big images under $work: $(df -h --output=avail "$work" | tail -1 | tr -d ' ') free," \
    "$(df --output=iavail "$work" | tail -1 | tr -d ' ') inodes"
  python3 scripts/gen_users.py "$big" "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  # The dry run prints the store's bytes; its peak RSS is the loader's alone.
  echo "loadpeak $(python3 scripts/bench/peak_rss.py "$coordinator" "$work/users.jsonl" "$work/dry.txt")" \
    >>"$work/streaming.txt"
  echo "store $(awk '/^store bytes:/ {print $3}' "$work/dry.txt")" >>"$work/streaming.txt"
  t0=$(now)
  echo "rssbig $(stream_run "$work/s-big" --filter none --max-memory 64M)" >>"$work/streaming.txt"
  t1=$(now)
  rm -rf "$work/s-big"
  echo "  ($big users took $(printf '%.0f' "$(echo "$t1 - $t0" | bc -l)") s; images deleted)"
  # --durable on a real disk (on tmpfs fsync costs nothing), 3 runs each, interleaved: a shared
  # disk is noisy. The median of each is reported.
  local disk_dir
  temp_dir disk_dir bench-disk
  python3 scripts/gen_users.py 10000 "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  for _ in 1 2 3; do
    echo "default $(stream_run "$disk_dir/default" --filter none)" >>"$work/durable.txt"
    rm -rf "$disk_dir/default"
    echo "durable $(stream_run "$disk_dir/durable" --filter none --durable)" >>"$work/durable.txt"
    rm -rf "$disk_dir/durable"
  done
  rm -rf "$disk_dir"
  stop_api
  python3 scripts/bench/streaming.py "$work/streaming.txt" "$work/durable.txt" "$big"
}
