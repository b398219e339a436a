# shellcheck shell=bash
# bench.sh downloads: pixelmill against curl --parallel on the same URLs of the image API.
# Sourced by bench.sh (lib.sh, common.sh, $work).

# Runs pixelmill and curl --parallel on the same N URLs; prints "pixelmill_s curl_s".
race() {
  local n=$1 concurrency=$2
  python3 scripts/gen_users.py "$n" "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  rm -rf "$work/out" "$work/curl" && mkdir -p "$work/curl"
  local t0 t1 t2
  t0=$(now)
  "$build/coordinator/coordinator" --input "$work/users.jsonl" --output "$work/out" \
    --concurrency "$concurrency" --per-host "$concurrency" --allow-private-networks \
    --report "$work/report.json" 2>/dev/null
  t1=$(now)
  python3 scripts/bench/curl_config.py "$work" "$n" "$api_port"
  curl --silent --parallel --parallel-max 300 --config "$work/curl.cfg" 2>/dev/null || true
  t2=$(now)
  local ok
  ok=$(ok_lines "$work/out")
  [ "$ok" = "$n" ] || echo "  WARNING: pixelmill saved $ok of $n" >&2
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "$t2 - $t1" | bc -l)"
}

bench_downloads() {
  # Photos at 256x256 (JPEG, about 15 kB): real bodies, while 20,000 of them still fit in tmpfs.
  local n=${DOWNLOAD_USERS:-10000} m=${THROUGHPUT_USERS:-20000} ideal
  ideal=$(echo "($n + 999) / 1000 * 0.1" | bc -l)
  echo "== downloads: $n 256x256 photos at 100 ms latency, --concurrency 1000 (ideal $(printf %.1f "$ideal") s)"
  start_api "$work" --latency-ms 100 --images photos --size 256x256
  read -r px cu < <(race "$n" 1000)
  stop_api
  printf "  pixelmill          %6.2f s   %.2fx ideal (target <= 1.3x)\n" "$px" "$(echo "$px / $ideal" | bc -l)"
  printf "  curl --parallel    %6.2f s   pixelmill is %.2fx faster (parallel-max 300, its limit)\n" "$cu" "$(echo "$cu / $px" | bc -l)"
  echo "== downloads: zero-latency throughput, $m requests of 256x256 photos, --concurrency 256"
  start_api "$work" --images photos --size 256x256
  read -r px cu < <(race "$m" 256)
  stop_api
  printf "  pixelmill          %8.0f req/s\n" "$(echo "$m / $px" | bc -l)"
  python3 scripts/bench/table.py add "downloads: req/s, pixelmill / curl --parallel" \
    "$(echo "$cu / $px" | bc -l)" ">=1"
  printf "  curl --parallel    %8.0f req/s   ratio pixelmill/curl %.2fx (target >= 1.0x)\n" \
    "$(echo "$m / $cu" | bc -l)" "$(echo "$cu / $px" | bc -l)"
}
