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

# wrk's request rate on N distinct image URLs of the image API (a Lua script walks /img/0.jpg ..
# /img/N-1.jpg) over CONCURRENCY connections on 2 threads for $WRK_SECONDS (default 5); prints
# req/s, or nan without wrk. wrk writes nothing and parses nothing: the ceiling of a client.
wrk_rate() {
  local n=$1 concurrency=$2
  if ! command -v wrk >/dev/null; then
    echo "  (no wrk: install Debian's wrk; the wrk row is skipped)" >&2
    echo nan
    return
  fi
  printf 'local i = 0\nrequest = function()\n  i = (i + 1) %% %d\n  return wrk.format(nil, "/img/" .. i .. ".jpg")\nend\n' \
    "$n" >"$work/walk.lua"
  wrk -t 2 -c "$concurrency" -d "${WRK_SECONDS:-5}s" -s "$work/walk.lua" "http://127.0.0.1:$api_port/" \
    2>&1 | awk '/^Requests\/sec:/ {print $2; found = 1} END {if (!found) print "nan"}'
}

bench_downloads() {
  # Photos at 256x256 (JPEG, about 15 kB): real bodies, while 20,000 of them still fit in tmpfs.
  local n=${DOWNLOAD_USERS:-10000} m=${THROUGHPUT_USERS:-20000} ideal wk
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
  wk=$(wrk_rate "$m" 256)
  stop_api
  printf "  pixelmill          %8.0f req/s\n" "$(echo "$m / $px" | bc -l)"
  python3 scripts/bench/table.py add "downloads: req/s, pixelmill / curl --parallel" \
    "$(echo "$cu / $px" | bc -l)" ">=1"
  printf "  curl --parallel    %8.0f req/s   ratio pixelmill/curl %.2fx (target >= 1.0x)\n" \
    "$(echo "$m / $cu" | bc -l)" "$(echo "$cu / $px" | bc -l)"
  if [ "$wk" != nan ]; then
    python3 scripts/bench/table.py add "downloads: req/s, pixelmill / wrk (writes nothing)" \
      "$(echo "$m / $px / $wk" | bc -l)" ">=0.5"
    printf "  wrk, 256 connections %8.0f req/s   ratio pixelmill/wrk %.2fx (target >= 0.5x: wrk saves nothing)\n" \
      "$wk" "$(echo "$m / $px / $wk" | bc -l)"
  fi
}
