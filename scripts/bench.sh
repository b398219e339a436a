#!/usr/bin/env bash
# Benchmarks, each side by side with its baseline in the same run, printed as ratios so a slow
# machine does not change the verdict. Usage: scripts/bench.sh [load|downloads|pool|hosts|all]
# (hosts: COORDINATOR=PATH runs another build, e.g. an older one, for a before/after figure.)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
bash scripts/setup.sh >/dev/null
# Outputs go to tmpfs when there is one: the download benchmarks measure the network path of
# pixelmill and curl, not how the machine's disk copes with 20,000 small files.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then tmp_root=/dev/shm; else tmp_root=/tmp; fi
work=$(mktemp -d "$tmp_root/pixelmill-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

bench_load() {
  echo "== load: 1M seed-shaped users (JSONL) into the store"
  python3 scripts/gen_users.py 1000000 >"$work/users.jsonl"
  ./build/tests/load_bench --benchmark_format=json >"$work/load.json" 2>/dev/null
  ./build/coordinator/coordinator --input "$work/users.jsonl" --dry-run >"$work/dry.txt"
  python3 scripts/baseline_store.py "$work/users.jsonl" >"$work/python.json"
  python3 - "$work" <<'PY'
import json, re, sys
work = sys.argv[1]
b = json.load(open(f"{work}/load.json"))["benchmarks"][0]
py = json.load(open(f"{work}/python.json"))
dry = open(f"{work}/dry.txt").read()
mb_s = b["bytes_per_second"] / 1e6
per_user = b["store_bytes_per_user"]
dry_per_user = float(re.search(r"store bytes/user:\s+([\d.]+)", dry).group(1))
print(f"  pixelmill store        {per_user:7.1f} B/user   (dry-run reports {dry_per_user:.1f}; target <= 82)")
print(f"  python slots dataclass {py['slots_bytes_per_user']:7.1f} B/user   ratio {py['slots_bytes_per_user'] / per_user:.2f}x smaller")
print(f"  python dicts           {py['dict_bytes_per_user']:7.1f} B/user   ratio {py['dict_bytes_per_user'] / per_user:.2f}x smaller")
print(f"  pixelmill load         {mb_s:7.1f} MB/s     (target >= 300)")
print(f"  python json.loads      {py['load_mb_per_s']:7.1f} MB/s     ratio {mb_s / py['load_mb_per_s']:.1f}x faster")
PY
}

now() { date +%s.%N; }

# Starts the fixture with extra flags; sets api_pid and api_port.
start_api() {
  rm -f "$work/port"
  ./build/tests/support/image-api --port 0 --port-file "$work/port" "$@" >/dev/null 2>&1 &
  api_pid=$!
  for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  api_port=$(cat "$work/port")
}
stop_api() { kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; }

# Runs pixelmill and curl --parallel on the same N URLs; prints "pixelmill_s curl_s".
race() {
  local n=$1 concurrency=$2
  python3 scripts/gen_users.py "$n" "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  rm -rf "$work/out" "$work/curl" && mkdir -p "$work/curl"
  local t0 t1 t2
  t0=$(now)
  ./build/coordinator/coordinator --input "$work/users.jsonl" --output "$work/out" \
    --concurrency "$concurrency" --per-host "$concurrency" --allow-private-networks \
    --report "$work/report.json" 2>/dev/null
  t1=$(now)
  python3 - "$work" "$n" "$api_port" <<'PY'
import sys
work, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f"{work}/curl.cfg", "w") as f:
    for i in range(n):
        f.write(f'url = "http://127.0.0.1:{port}/img/{i}.jpg"\noutput = "{work}/curl/{i}.jpg"\n')
PY
  curl --silent --parallel --parallel-max 300 --config "$work/curl.cfg" 2>/dev/null || true
  t2=$(now)
  local ok
  ok=$(grep -c '"status":"ok"' "$work/out/manifest.jsonl" || true)
  [ "$ok" = "$n" ] || echo "  WARNING: pixelmill saved $ok of $n" >&2
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "$t2 - $t1" | bc -l)"
}

bench_downloads() {
  echo "== downloads: 10,000 images at 100 ms latency, --concurrency 1000 (ideal 10 x 0.1 s = 1.0 s)"
  start_api --latency-ms 100
  read -r px cu < <(race 10000 1000)
  stop_api
  printf "  pixelmill          %6.2f s   %.2fx ideal (target <= 1.3x)\n" "$px" "$(echo "$px / 1.0" | bc -l)"
  printf "  curl --parallel    %6.2f s   pixelmill is %.2fx faster (parallel-max 300, its limit)\n" "$cu" "$(echo "$cu / $px" | bc -l)"
  echo "== downloads: zero-latency throughput, 20,000 requests, --concurrency 256"
  start_api
  read -r px cu < <(race 20000 256)
  stop_api
  printf "  pixelmill          %8.0f req/s\n" "$(echo "20000 / $px" | bc -l)"
  printf "  curl --parallel    %8.0f req/s   ratio pixelmill/curl %.2fx (target >= 1.0x)\n" \
    "$(echo "20000 / $cu" | bc -l)" "$(echo "$cu / $px" | bc -l)"
}

bench_pool() {
  echo "== worker pool: round trips through the real dispatcher and worker processes vs raw ZeroMQ"
  ./build/tests/dispatch_bench --benchmark_format=json >"$work/pool.json" 2>/dev/null
  python3 scripts/baseline_pool.py >"$work/python_pool.json"
  python3 - "$work/pool.json" "$work/python_pool.json" <<'PY'
import json, sys
rows = {b["name"].split("/iterations")[0]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
python = json.load(open(sys.argv[2]))["msgs_per_s"]
def rate(name): return rows[name]["msgs_per_s"]
for size, label, target in (("64", "tiny no-op jobs (64 B)", 0.5), ("65536", "64 KiB jobs", 0.8)):
    pool = rate(f"BM_PoolRoundTrip/{size}/2")
    threads = rate(f"BM_RawEchoThreads/{size}/2")
    procs = rate(f"BM_RawEchoProcesses/{size}/2")
    print(f"  {label}: pixelmill {pool:,.0f} msg/s; raw echo threads {threads:,.0f} "
          f"(ratio {pool / threads:.2f}x), raw echo processes {procs:,.0f} (ratio {pool / procs:.2f}x); target >= {target}x")
    if size == "64":
        print(f"    python Pool.starmap(chunksize=1): {python:,.0f} msg/s; pixelmill is {pool / python:.1f}x faster")
    if size == "65536":
        print(f"    bandwidth: pixelmill {pool * 65536 / 1e6:,.0f} MB/s, raw {threads * 65536 / 1e6:,.0f} MB/s")
for n in (1, 2, 8):
    print(f"  pool start-up, {n} worker(s): {rows[f'BM_PoolStartup/{n}']['real_time']:.1f} ms until all joined")
PY
}

# Prints a loopback port with nothing listening on it.
closed_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

bench_hosts() {
  local coordinator=${COORDINATOR:-./build/coordinator/coordinator} n=${DEAD_HOST_USERS:-1000000}
  echo "== dead host: $n users on a closed loopback port, default flags (target < 60 s)"
  python3 scripts/gen_users.py "$n" "http://127.0.0.1:$(closed_port)/img" >"$work/dead.jsonl"
  rm -rf "$work/out"
  local t0 t1
  t0=$(now)
  "$coordinator" --input "$work/dead.jsonl" --output "$work/out" --allow-private-networks \
    --report "$work/report.json" 2>/dev/null || true
  t1=$(now)
  python3 - "$work" "$(echo "$t1 - $t0" | bc -l)" "$n" <<'PY'
import json, sys
r = json.load(open(f"{sys.argv[1]}/report.json"))
lines = sum(1 for _ in open(f"{sys.argv[1]}/out/manifest.jsonl"))
print(f"  {float(sys.argv[2]):7.1f} s, {r['failed']} of {sys.argv[3]} failed, {lines} manifest lines, "
      f"{r['download']['requests']} requests")
PY
  echo "== slow healthy server: 1,000 users, 500 ms per response, --per-host 64 --timeout 1.2 (ideal 16 waves = 7.8 s)"
  start_api --latency-ms 500
  python3 scripts/gen_users.py 1000 "http://127.0.0.1:$api_port/img" >"$work/slow.jsonl"
  rm -rf "$work/out"
  t0=$(now)
  "$coordinator" --input "$work/slow.jsonl" --output "$work/out" --allow-private-networks \
    --timeout 1.2 --report "$work/report.json" 2>/dev/null || true
  t1=$(now)
  stop_api
  local timeouts
  timeouts=$(grep -c '"code":"timeout"' "$work/out/manifest.jsonl" || true)
  printf "  %6.1f s, %s of 1000 users failed with timeout, %s requests\n" "$(echo "$t1 - $t0" | bc -l)" \
    "$timeouts" "$(python3 -c "import json; print(json.load(open('$work/report.json'))['download']['requests'])")"
}

case "$what" in
  load) bench_load ;;
  downloads) bench_downloads ;;
  pool) bench_pool ;;
  hosts) bench_hosts ;;
  all) bench_load; bench_downloads; bench_pool; bench_hosts ;;
  *) echo "usage: scripts/bench.sh [load|downloads|pool|hosts|all]" >&2; exit 2 ;;
esac
