# shellcheck shell=bash
# bench.sh http2: N users (HTTP2_USERS, default 8000) of the image API fixture at 100 ms latency
# behind nginx (scripts/tls_front.sh: TLS, HTTP/2 and HTTP/1.1 by ALPN), downloaded with
# --filter none under --http-version 1.1 (keep-alive connections) and auto (HTTP/2, multiplexed),
# at --per-host 64 (the default) and 256, the two versions alternating, HTTP2_REPEATS (default 3)
# times: users/s, connections opened and p99 download time, medians and their ratios.
# Sourced by bench.sh (lib.sh, $work).

bench_http2() {
  local n=${HTTP2_USERS:-8000} repeats=${HTTP2_REPEATS:-3} per_host version r
  echo "== http2: $n users over TLS at 100 ms latency, HTTP/2 (auto) vs HTTP/1.1 keep-alive"
  start_api "$work" --latency-ms 100
  bash scripts/tls_front.sh "$api_port" "$work/front" >"$work/front.log" 2>&1 &
  front_pid=$!
  on_exit stop_front
  for _ in $(seq 600); do
    [ -s "$work/front/port" ] || ! kill -0 "$front_pid" 2>/dev/null && break
    sleep 0.05
  done
  [ -s "$work/front/port" ] || { cat "$work/front.log" >&2; exit 1; }
  python3 scripts/gen_users.py "$n" "https://127.0.0.1:$(cat "$work/front/port")/img" \
    >"$work/h2users.jsonl"
  for per_host in 64 256; do
    for r in $(seq "$repeats"); do
      for version in 1.1 auto; do
        rm -rf "$work/out"
        "$build/coordinator/coordinator" --input "$work/h2users.jsonl" --output "$work/out" \
          --allow-private-networks --filter none --ca-file "$work/front/ca.pem" \
          --http-version "$version" --per-host "$per_host" --quiet \
          --report "$work/http2-$per_host-$version-$r.json" 2>/dev/null || true
      done
    done
  done
  stop_front
  stop_api
  python3 scripts/bench/http2.py "$work" "$repeats"
}

stop_front() {
  [ -n "${front_pid:-}" ] || return 0
  kill "$front_pid" 2>/dev/null || true
  wait "$front_pid" 2>/dev/null || true
  front_pid=
}
