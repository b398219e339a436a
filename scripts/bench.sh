#!/usr/bin/env bash
# Benchmarks, each side by side with its baseline in the same run, printed as ratios so a slow
# machine does not change the verdict.
# Usage: scripts/bench.sh [load|downloads|pool|hosts|filters|filters_memory|streaming|proof|all]
# (hosts, streaming: COORDINATOR=PATH runs another build, e.g. an older one, for a before/after
# figure; its worker must sit next to it.
# BUILD_DIR=DIR benchmarks the build in DIR instead of build/; setup.sh builds it.)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
build=${BUILD_DIR:-build}
BUILD_DIR="$build" bash scripts/setup.sh >/dev/null
# Outputs go to tmpfs when there is one: the download benchmarks measure the network path of
# pixelmill and curl, not how the machine's disk copes with 20,000 small files.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then tmp_root=/dev/shm; else tmp_root=/tmp; fi
work=$(mktemp -d "$tmp_root/pixelmill-bench-XXXXXX")
disk_dir=""  # streaming: outputs that must be on a real disk
trap 'rm -rf "$work"; [ -z "$disk_dir" ] || rm -rf "$disk_dir"' EXIT

bench_load() {
  echo "== load: 1M seed-shaped users (JSONL) into the store"
  python3 scripts/gen_users.py 1000000 >"$work/users.jsonl"
  "$build/tests/load_bench" --benchmark_format=json >"$work/load.json" 2>/dev/null
  "$build/coordinator/coordinator" --input "$work/users.jsonl" --dry-run >"$work/dry.txt"
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
  "$build/tests/support/image-api" --port 0 --port-file "$work/port" "$@" >/dev/null 2>&1 &
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
  "$build/coordinator/coordinator" --input "$work/users.jsonl" --output "$work/out" \
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
  "$build/tests/dispatch_bench" --benchmark_format=json >"$work/pool.json" 2>/dev/null
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
  local coordinator=${COORDINATOR:-$build/coordinator/coordinator} n=${DEAD_HOST_USERS:-1000000}
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

# A Python that has Pillow (Debian's python3-pil serves /usr/bin/python3, which may not be the
# python3 first on PATH, e.g. under pyenv); empty when none has it.
pillow_python() {
  local py
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import PIL' 2>/dev/null; then
      echo "$py"
      return
    fi
  done
}

# CPU seconds (user + system) process $1 has used so far.
proc_cpu() { awk -v tck="$(getconf CLK_TCK)" '{print ($14 + $15) / tck}' /proc/"$1"/stat; }

# Runs the coordinator on $work/users.jsonl with local workers. Prints "wall_s cpu_s api_cpu_s":
# the wall time, the CPU of the coordinator and its workers (bash's `times` for the subshell's
# children: the coordinator reaps its workers, so theirs is included) and of image-api meanwhile.
# Usage: run_filter SPEC WORKERS OUT
run_filter() {
  local t0 t1 ok n a0 a1 cpu
  rm -rf "$3"
  a0=$(proc_cpu "$api_pid")
  t0=$(now)
  cpu=$( (
    "$build/coordinator/coordinator" --input "$work/users.jsonl" --output "$3" --filter "$1" \
      --workers "$2" --allow-private-networks --report "$3.report.json" >/dev/null 2>&1 || true
    times
  ) | awk 'END { for (i = 1; i <= NF; i++) { split($i, t, /[ms]/); total += t[1] * 60 + t[2] } print total }')
  t1=$(now)
  a1=$(proc_cpu "$api_pid")
  n=$(wc -l <"$work/users.jsonl")
  ok=$(grep -c '"status":"ok"' "$3/manifest.jsonl" || true)
  [ "$ok" = "$n" ] || echo "  WARNING: --filter $1 saved $ok of $n" >&2
  echo "$(echo "$t1 - $t0" | bc -l) $cpu $(echo "$a1 - $a0" | bc -l)"
}

bench_filters() {
  local n=${FILTER_USERS:-2000} py spec
  echo "== filters: blur:5 and thumbnail:256 on 512x512 JPEGs; $n users through coordinator + 2 workers," \
    "vs RunFilter in process, vs Python"
  echo "  load before: $(uptime | sed 's/.*load average: //')"
  start_api --size 512x512
  # 200 of the fixture's images for the Python baseline (and one for the in-process benchmark).
  mkdir -p "$work/images"
  for i in $(seq 0 199); do
    printf 'url = "http://127.0.0.1:%s/img/%s.jpg"\noutput = "%s/images/%s.jpg"\n' "$api_port" "$i" "$work" "$i"
  done >"$work/fetch.cfg"
  curl --silent --fail --parallel --config "$work/fetch.cfg" 2>/dev/null || true
  [ "$(ls "$work/images" | wc -l)" = 200 ] || echo "  WARNING: fetched $(ls "$work/images" | wc -l) of 200 images" >&2
  python3 scripts/gen_users.py "$n" "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  for spec in blur:5 thumbnail:256; do
    run_filter "$spec" 2 "$work/out-$spec" >"$work/run-$spec"
  done
  stop_api
  "$build/tests/filter_bench" --image="$work/images/0.jpg" --benchmark_format=json \
    >"$work/filter_bench.json" 2>/dev/null
  py=$(pillow_python)
  for spec in blur:5 thumbnail:256; do
    if [ -n "$py" ]; then
      "$py" scripts/baseline_filters.py "$work/images" "$spec" 1000 >"$work/python-$spec.json"
    else
      echo "  (no Python with Pillow: install python3-pil; the Python baseline is skipped)" >&2
      echo '{}' >"$work/python-$spec.json"
    fi
  done
  python3 - "$work" "$n" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
rows = {b["name"].split("/min_time")[0]: b for b in json.load(open(f"{work}/filter_bench.json"))["benchmarks"]}
for spec in ("blur:5", "thumbnail:256"):
    seconds, cpu, api_cpu = map(float, open(f"{work}/run-{spec}").read().split())
    pool = n / seconds
    lines = [json.loads(l) for l in open(f"{work}/out-{spec}/manifest.jsonl")]
    filter_ms = [l["cpu_ms"] for l in lines if "cpu_ms" in l]
    filter_ms = sum(filter_ms) / len(filter_ms) if filter_ms else float("nan")
    file, photo = rows[f"BM_Filter/{spec}/file"], rows[f"BM_Filter/{spec}/photo"]
    total_ms = 1000 * (cpu + api_cpu) / n
    print(f"  {spec}:")
    print(f"    pixelmill pool, 2 workers   {pool:7.1f} images/s   ({n} users in {seconds:.2f} s incl. start-up and "
          f"downloads from image-api)")
    print(f"      CPU per image: filter in the workers {filter_ms:.2f} ms, rest of coordinator + workers "
          f"{1000 * cpu / n - filter_ms:.2f} ms, image-api {1000 * api_cpu / n:.2f} ms; total {total_ms:.2f} ms "
          f"on 2 cores (ceiling {2000 / total_ms:.0f} images/s)")
    print(f"    RunFilter in process        {file['images_per_s']:7.1f} images/s/core "
          f"({file['ms_per_image']:.2f} ms/image, the fixture's {file['in_bytes'] / 1000:.1f} kB JPEG); "
          f"photo-like {photo['in_bytes'] / 1000:.1f} kB JPEG: {photo['images_per_s']:.1f} images/s ({photo['ms_per_image']:.2f} ms)")
    print(f"    pool vs in-process x 2 cores  ratio {pool / (2 * file['images_per_s']):.2f}x (target >= 0.9x)")
    py = json.load(open(f"{work}/python-{spec}.json"))
    if py:
        print(f"    python Pool(2).starmap + Pillow {py['pillow']}  {py['images_per_s']:7.1f} images/s "
              f"({py['ms_per_image_per_core']:.2f} ms/image/core; no download, no file writes); "
              f"pixelmill/python ratio {pool / py['images_per_s']:.2f}x")
print("  reference (issue): libvips blur sigma 5 on a 512x512 JPEG ~ 13 ms/image/core; "
      f"here {rows['BM_Filter/blur:5/photo']['ms_per_image']:.1f} ms (photo-like), "
      f"{rows['BM_Filter/blur:5/file']['ms_per_image']:.1f} ms (fixture)")
PY
}

# Prints the worker child of coordinator $1 (pid), waiting up to 10 s for it.
worker_of() {
  local pid
  for _ in $(seq 200); do
    for pid in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
      [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = worker ] && { echo "$pid"; return; }
    done
    sleep 0.05
  done
}

rss_kb() { awk -v k="$2:" '$1 == k {print $2}' /proc/"$1"/status 2>/dev/null || true; }

# One memory run: coordinator with `env ARGS...` on $work/mem.jsonl, 1 worker, blur:5. Samples the
# worker's VmRSS after ~1,000 results, at half way and near the end (its VmHWM too); prints
# "rss_1k rss_half rss_end hwm jemalloc_mapped".
rss_run() {
  local n cpid wpid lines r1="" r2="" r3="" hwm="" je=no
  n=$(wc -l <"$work/mem.jsonl")
  rm -rf "$work/mem-out"
  env "$@" "$build/coordinator/coordinator" --input "$work/mem.jsonl" --output "$work/mem-out" \
    --filter blur:5 --workers 1 --allow-private-networks >/dev/null 2>&1 &
  cpid=$!
  wpid=$(worker_of "$cpid")
  if [ -n "$wpid" ]; then
    grep -q libjemalloc /proc/"$wpid"/maps 2>/dev/null && je=yes
    while kill -0 "$cpid" 2>/dev/null; do
      lines=$(wc -l 2>/dev/null <"$work/mem-out/manifest.jsonl" || echo 0)
      if [ -z "$r1" ] && [ "$lines" -ge 1000 ]; then r1=$(rss_kb "$wpid" VmRSS); fi
      if [ -z "$r2" ] && [ "$lines" -ge $((n / 2)) ]; then r2=$(rss_kb "$wpid" VmRSS); fi
      if [ "$lines" -ge $((n - 40)) ]; then
        r3=$(rss_kb "$wpid" VmRSS)
        hwm=$(rss_kb "$wpid" VmHWM)
        break
      fi
      sleep 0.1
    done
  fi
  wait "$cpid" || true
  echo "${r1:-?} ${r2:-?} ${r3:-?} ${hwm:-?} $je"
}

bench_filters_memory() {
  local n=${FILTERS_MEMORY_USERS:-5000} jemalloc
  echo "== filters memory: worker VmRSS over $n users, --workers 1 --filter blur:5, by allocator"
  echo "  load before: $(uptime | sed 's/.*load average: //')"
  jemalloc=$(ldconfig -p | awk '/libjemalloc\.so\.2 /{print $NF; exit}')
  start_api --size 512x512
  python3 scripts/gen_users.py "$n" "http://127.0.0.1:$api_port/img" >"$work/mem.jsonl"
  echo "glibc $(rss_run)" >"$work/rss.txt"
  echo "MALLOC_ARENA_MAX=2 $(rss_run MALLOC_ARENA_MAX=2)" >>"$work/rss.txt"
  if [ -n "$jemalloc" ]; then
    echo "jemalloc $(rss_run LD_PRELOAD="$jemalloc")" >>"$work/rss.txt"
  else
    echo "  (no libjemalloc.so.2: install libjemalloc2; the jemalloc run is skipped)" >&2
  fi
  stop_api
  python3 - "$work/rss.txt" "$n" "$jemalloc" <<'PY'
import sys
n = int(sys.argv[2])
labels = {"glibc": "glibc malloc (default)", "MALLOC_ARENA_MAX=2": "glibc, MALLOC_ARENA_MAX=2",
          "jemalloc": f"LD_PRELOAD={sys.argv[3]}"}
def mib(kb): return f"{int(kb) / 1024:6.1f} MiB" if kb.isdigit() else "     ? MiB"
print(f"  {'allocator':<52} {'~1,000':>10} {f'~{n // 2:,}':>10} {f'~{n:,}':>10} {'peak':>10}  growth")
for line in open(sys.argv[1]):
    label, r1, r2, r3, hwm, je = line.split()
    growth = f"{(int(r3) - int(r1)) / 1024:+.1f} MiB" if r1.isdigit() and r3.isdigit() else "?"
    note = "" if label != "jemalloc" or je == "yes" else "  (jemalloc NOT mapped in the worker!)"
    print(f"  {labels[label]:<52} {mib(r1)} {mib(r2)} {mib(r3)} {mib(hwm)}  {growth}{note}")
PY
}

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
  python3 - "$out.report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["memory"]
print(r["wall_seconds"], m["peak_rss_bytes"], r["ok"], r["failed"], m["peak_image_bytes"])
PY
}

bench_streaming() {
  local coordinator=${COORDINATOR:-$build/coordinator/coordinator}
  local big=${STREAMING_BIG_USERS:-1000000} t0 t1
  echo "== streaming: downloads overlap filters; peak RSS flat in users; cost of --durable"
  echo "  load before: $(uptime | sed 's/.*load average: //')"
  # Overlap: 200 users, 100 ms a download (10 at once: 2.0 s) and 100 ms a filter (10 workers:
  # 2.0 s). Streamed end to end, the run takes about as long as the slower of the two alone.
  local overlap=(--concurrency 10 --per-host 10)
  start_api --latency-ms 100
  python3 scripts/gen_users.py 200 "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  echo "both $(stream_run "$work/s-both" "${overlap[@]}" --filter sleep:100 --workers 10)" >"$work/streaming.txt"
  echo "download $(stream_run "$work/s-dl" "${overlap[@]}" --filter none)" >>"$work/streaming.txt"
  stop_api
  start_api
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
  echo "loadpeak $(python3 - "$coordinator" "$work/users.jsonl" "$work/dry.txt" <<'PY'
import resource, subprocess, sys
with open(sys.argv[3], "w") as out:
    subprocess.run([sys.argv[1], "--input", sys.argv[2], "--dry-run"], stdout=out, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
PY
)" >>"$work/streaming.txt"
  echo "store $(awk '/^store bytes:/ {print $3}' "$work/dry.txt")" >>"$work/streaming.txt"
  t0=$(now)
  echo "rssbig $(stream_run "$work/s-big" --filter none --max-memory 64M)" >>"$work/streaming.txt"
  t1=$(now)
  rm -rf "$work/s-big"
  echo "  ($big users took $(printf '%.0f' "$(echo "$t1 - $t0" | bc -l)") s; images deleted)"
  # --durable on a real disk (on tmpfs fsync costs nothing), 3 runs each, interleaved: a shared
  # disk is noisy. The median of each is reported.
  disk_dir=$(mktemp -d /tmp/pixelmill-bench-disk-XXXXXX)
  python3 scripts/gen_users.py 10000 "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  for _ in 1 2 3; do
    echo "default $(stream_run "$disk_dir/default" --filter none)" >>"$work/durable.txt"
    rm -rf "$disk_dir/default"
    echo "durable $(stream_run "$disk_dir/durable" --filter none --durable)" >>"$work/durable.txt"
    rm -rf "$disk_dir/durable"
  done
  rm -rf "$disk_dir"
  stop_api
  python3 - "$work/streaming.txt" "$work/durable.txt" "$big" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    label, *values = line.split()
    rows[label] = [float(v) for v in values]
durable = {}
for line in open(sys.argv[2]):
    label, *values = line.split()
    durable.setdefault(label, []).append([float(v) for v in values])
for label, runs in durable.items():
    rows[label] = sorted(runs)[len(runs) // 2]  # the median run by wall time
big = int(sys.argv[3])
mib = lambda b: b / (1 << 20)
both, dl, filt = rows["both"][0], rows["download"][0], rows["filter"][0]
print(f"  {'run':<52} {'wall s':>8} {'peak RSS':>10} {'images':>10} {'ok':>8}")
for label, text in (("both", "200 users: 100 ms downloads + sleep:100, 10 workers"),
                    ("download", "  download only (--filter none)"),
                    ("filter", "  filter only (zero latency)"),
                    ("rss10k", "10,000 users, --filter none --max-memory 64M"),
                    ("rssbig", f"{big:,} users, --filter none --max-memory 64M"),
                    ("default", "10,000 users, --filter none, on disk (median of 3)"),
                    ("durable", "  the same with --durable")):
    wall, rss, ok, failed, images = rows[label]
    note = "" if failed == 0 else f"  ({failed:.0f} failed!)"
    print(f"  {text:<52} {wall:8.2f} {mib(rss):6.1f} MiB {mib(images):6.1f} MiB {ok:8.0f}{note}")
print(f"  overlap: end to end / max(download only, filter only) = {both / max(dl, filt):.2f} (target <= 1.1)")
store = rows["store"][0]
diff = rows["rssbig"][1] - rows["rss10k"][1]
images = rows["rssbig"][4] - rows["rss10k"][4]
print(f"  peak RSS {big:,} - 10,000 users = {mib(diff):.1f} MiB; the store of {big:,} users is "
      f"{mib(store):.1f} MiB; ratio {diff / store:.2f} (target ~1)")
print(f"    of the difference: store {mib(store):.1f} MiB, more image bytes held (peak, within the budget) "
      f"{mib(images):.1f} MiB, the rest {mib(diff - store - images):.1f} MiB; loading alone (--dry-run) "
      f"peaks at {mib(rows['loadpeak'][0]):.1f} MiB")
walls = lambda label: ", ".join(f"{run[0]:.2f}" for run in durable[label])
print(f"  --durable / default wall = {rows['durable'][0] / rows['default'][0]:.2f} (medians; default "
      f"{walls('default')} s, --durable {walls('durable')} s)")
PY
}

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

# Users with status "ok" in OUT's manifest.
ok_lines() {
  local count
  count=$(grep -c '"status":"ok"' "$1/manifest.jsonl" 2>/dev/null) || true
  echo "${count:-0}"
}

bench_proof() {
  local repeats=${PROOF_REPEATS:-5} py n r coordinator="$build/coordinator/coordinator"
  echo "== proof: the pipeline vs --sequential (the legacy code) vs the seed's Python answer;" \
    "100 ms a download, blur:5 on 512x512 JPEGs, 2 workers; $repeats repeats, min and median"
  echo "  load before: $(uptime | sed 's/.*load average: //')"
  py=$(pillow_python)
  [ -n "$py" ] || echo "  (no Python with Pillow: install python3-pil; the seed baseline is skipped)" >&2
  local flags=(--filter blur:5 --allow-private-networks)
  : >"$work/proof.txt"
  start_api --latency-ms 100 --size 512x512
  for n in 20 200; do
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
  # The seed's three test cases, as pixelmill's own numbers (the report's wall: the pipeline
  # from its start, workers' start-up included).
  python3 scripts/gen_users.py 100000 >"$work/seed.jsonl"
  "$coordinator" --input "$work/seed.jsonl" --dry-run >"$work/dry.txt"
  python3 scripts/baseline_store.py "$work/seed.jsonl" >"$work/store.json"
  start_api --latency-ms 100
  python3 scripts/gen_users.py 10 "http://127.0.0.1:$api_port/img" >"$work/users.jsonl"
  for r in $(seq "$repeats"); do
    for mode in pipeline sequential; do
      local extra=()
      [ "$mode" = sequential ] && extra=(--sequential)
      rm -rf "$work/c" && "$coordinator" --input "$work/users.jsonl" --output "$work/c" --filter none \
        --allow-private-networks --report "$work/c.json" "${extra[@]}" >/dev/null 2>&1 || true
      echo "dl10_$mode 10 $(python3 -c "import json; print(json.load(open('$work/c.json'))['wall_seconds'])") $(ok_lines "$work/c")" >>"$work/proof.txt"
    done
  done
  stop_api
  start_api
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
      echo "jobs4_$mode $n $(python3 -c "import json; print(json.load(open('$work/c.json'))['wall_seconds'])") $(ok_lines "$work/c")" >>"$work/proof.txt"
    done
  done
  stop_api
  python3 - "$work/proof.txt" "$work/dry.txt" "$work/store.json" "$repeats" <<'PY'
import json, re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    mode, n, seconds, ok = line.split()
    runs.setdefault((mode, int(n)), []).append((float(seconds), int(ok)))
repeats = int(sys.argv[4])
def stat(mode, n):
    r = runs.get((mode, n))
    if not r:
        return None
    walls = [s for s, _ in r]
    bad = [ok for _, ok in r if ok != n]
    return min(walls), statistics.median(walls), bad
print(f"  {'run':<52} {'min s':>8} {'median s':>9} {'ratio (median)':>16}")
for n in (20, 200):
    pipe = stat("pipeline", n)
    for mode, label in (("pipeline", f"pipeline, {n} users"),
                        ("sequential", f"  --sequential, {n} users"),
                        ("python", f"  seed Python (to_thread+gather, Pool), {n} users")):
        s = stat(mode, n)
        if s is None:
            continue
        ratio = "" if mode == "pipeline" else f"{s[1] / pipe[1]:.1f}x slower"
        warn = f"  (WARNING: ok {s[2]} of {n})" if s[2] else ""
        print(f"  {label:<52} {s[0]:8.2f} {s[1]:9.2f} {ratio:>16}{warn}")
dry = open(sys.argv[2]).read()
per_user = float(re.search(r"store bytes/user:\s+([\d.]+)", dry).group(1))
store = json.load(open(sys.argv[3]))
print("  the seed's test cases, as pixelmill numbers:")
print(f"    bytes per user record (100k seed-shaped users): store {per_user:.1f} B; slotted dataclass "
      f"{store['slots_bytes_per_user']:.1f} B ({store['slots_bytes_per_user'] / per_user:.1f}x more)")
p, q = stat("dl10_pipeline", 10), stat("dl10_sequential", 10)
print(f"    10 downloads at 100 ms (--filter none): pipeline wall {p[0]:.3f} s min, {p[1]:.3f} s median "
      f"({p[1] / 0.1:.2f}x the ideal 0.1 s); --sequential {q[1]:.3f} s ({q[1] / p[1]:.1f}x the pipeline)")
p, q, e = stat("jobs4_pipeline", 4), stat("jobs4_sequential", 4), stat("jobs4_pipeline8", 8)
print(f"    4 x 200 ms jobs (sleep:200) on 4 workers: pipeline wall {p[0]:.3f} s min, {p[1]:.3f} s median "
      f"(spawning the workers included; --sequential {q[1]:.3f} s, {q[1] / p[1]:.1f}x); 8 jobs take "
      f"{e[1]:.3f} s: the second wave of 4 adds {e[1] - p[1]:.3f} s (ideal 0.2 s, one at a time 0.8 s)")
PY
}

case "$what" in
  load) bench_load ;;
  downloads) bench_downloads ;;
  pool) bench_pool ;;
  hosts) bench_hosts ;;
  filters) bench_filters; bench_filters_memory ;;
  filters_memory) bench_filters_memory ;;
  streaming) bench_streaming ;;
  proof) bench_proof ;;
  all) bench_load; bench_downloads; bench_pool; bench_hosts; bench_filters; bench_filters_memory; bench_streaming; bench_proof ;;
  *) echo "usage: scripts/bench.sh [load|downloads|pool|hosts|filters|filters_memory|streaming|proof|all]" >&2; exit 2 ;;
esac
