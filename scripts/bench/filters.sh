# shellcheck shell=bash
# bench.sh filters: blur:5 and thumbnail:256 through coordinator + 2 workers, beside RunFilter in
# process (filter_bench) and Python with Pillow. Sourced by bench.sh (lib.sh, common.sh, $work).

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
  ok=$(ok_lines "$3")
  [ "$ok" = "$n" ] || echo "  WARNING: --filter $1 saved $ok of $n" >&2
  echo "$(echo "$t1 - $t0" | bc -l) $cpu $(echo "$a1 - $a0" | bc -l)"
}

bench_filters() {
  local n=${FILTER_USERS:-2000} py spec
  echo "== filters: blur:5 and thumbnail:256 on 512x512 JPEGs; $n users through coordinator + 2 workers," \
    "vs RunFilter in process, vs Python"
  echo "  load before: $(uptime | sed 's/.*load average: //')"
  start_api "$work" --size 512x512
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
  python3 scripts/bench/filters.py "$work" "$n"
}
