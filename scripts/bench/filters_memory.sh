# shellcheck shell=bash
# bench.sh filters_memory: a worker's resident memory over 3,000 users (512x512 photos) with
# glibc malloc, MALLOC_ARENA_MAX=2 and jemalloc. Sourced by bench.sh (lib.sh, $work).

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
      if [ -z "$r1" ] && [ "$lines" -ge $((n < 4000 ? n / 4 : 1000)) ]; then r1=$(rss_kb "$wpid" VmRSS); fi
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
  local n=${FILTERS_MEMORY_USERS:-3000} jemalloc
  echo "== filters memory: worker VmRSS over $n users, --workers 1 --filter blur:5, by allocator"
  echo "  load before: $(uptime | sed 's/.*load average: //')"
  jemalloc=$(ldconfig -p | awk '/libjemalloc\.so\.2 / && !found {print $NF; found = 1}')
  start_api "$work" --images photos --size 512x512
  python3 scripts/gen_users.py "$n" "http://127.0.0.1:$api_port/img" >"$work/mem.jsonl"
  echo "glibc $(rss_run)" >"$work/rss.txt"
  echo "MALLOC_ARENA_MAX=2 $(rss_run MALLOC_ARENA_MAX=2)" >>"$work/rss.txt"
  if [ -n "$jemalloc" ]; then
    echo "jemalloc $(rss_run LD_PRELOAD="$jemalloc")" >>"$work/rss.txt"
  else
    echo "  (no libjemalloc.so.2: install libjemalloc2; the jemalloc run is skipped)" >&2
  fi
  stop_api
  python3 scripts/bench/filters_memory.py "$work/rss.txt" "$n" "$jemalloc"
}
