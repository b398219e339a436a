# shellcheck shell=bash
# bench.sh hosts: a dead host (1M users on a closed port) and a slow healthy one; COORDINATOR=PATH
# runs another build. Sourced by bench.sh (lib.sh, $work).

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
  python3 scripts/bench/hosts.py "$work" "$(echo "$t1 - $t0" | bc -l)" "$n"
  local slow=${SLOW_HOST_USERS:-1000}
  echo "== slow healthy server: $slow users, 500 ms per response, --per-host 64 --timeout 1.2" \
    "(ideal $(((slow + 63) / 64)) waves of 0.5 s)"
  start_api "$work" --latency-ms 500 --images photos --size 256x256
  python3 scripts/gen_users.py "$slow" "http://127.0.0.1:$api_port/img" >"$work/slow.jsonl"
  rm -rf "$work/out"
  t0=$(now)
  "$coordinator" --input "$work/slow.jsonl" --output "$work/out" --allow-private-networks \
    --timeout 1.2 --report "$work/report.json" 2>/dev/null || true
  t1=$(now)
  stop_api
  local timeouts
  timeouts=$(grep -c '"code":"timeout"' "$work/out/manifest.jsonl" || true)
  printf "  %6.1f s, %s of $slow users failed with timeout, %s requests\n" "$(echo "$t1 - $t0" | bc -l)" \
    "$timeouts" "$(python3 scripts/bench/json_field.py "$work/report.json" download.requests)"
}
