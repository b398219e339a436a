# shellcheck shell=bash
# bench.sh filters, on real photos (image-api --images photos): blur:5 and thumbnail:256 through
# coordinator + 2 workers beside Python's Pool(2) with Pillow; then per photo and size (512x512
# and 1632x1224, about 2 MP), blur:5, sharpen:1, grayscale, sepia:1 and thumbnail:256 by
# RunFilter in process (filter_bench) beside Pillow in process (pillow_filters.py). About two
# minutes. FILTER_USERS=N (default 2000), FILTER_MIN_TIME=S per figure (default 0.3).
# Sourced by bench.sh (lib.sh, common.sh, $work).

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

# Fetches every photo of image-api at each size in $sizes as $work/photos/<photo>-<size>.jpg
# (the name from its X-Photo header: astronaut-512x512.jpg); one per line on stdout.
fetch_photos() {
  local size i name
  mkdir -p "$work/photos"
  for size in $sizes; do
    for i in $(seq 0 63); do
      curl -fsS -D "$work/photo.head" -o "$work/photo.jpg" \
        "http://127.0.0.1:$api_port/img/$i.jpg?size=$size" || return 1
      name=$(sed -n 's/^X-Photo: \(.*\)\.[a-z]*\r$/\1/p' "$work/photo.head")
      [ -n "$name" ] && [ ! -e "$work/photos/$name-$size.jpg" ] || break  # photo id mod N: back to the first
      mv "$work/photo.jpg" "$work/photos/$name-$size.jpg"
      echo "$work/photos/$name-$size.jpg"
    done
  done
}

bench_filters() {
  local n=${FILTER_USERS:-2000} min_time=${FILTER_MIN_TIME:-0.3} py spec
  local specs="blur:5;sharpen:1;grayscale;sepia:1;thumbnail:256" sizes=${FILTER_SIZES:-512x512 1632x1224}
  echo "== filters: real photos (python3-skimage's sample photos as JPEG q85 from image-api --images photos);" \
    "$n users through coordinator + 2 workers vs Python; per photo and size, RunFilter in process vs Pillow"
  echo "  load before: $(uptime | sed 's/.*load average: //')"
  start_api "$work" --images photos --size 512x512
  # 200 of the fixture's images for the Python baseline.
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
  mapfile -t photos < <(fetch_photos)
  stop_api
  ((${#photos[@]})) || { echo "  WARNING: no photos fetched" >&2; return 1; }
  "$build/tests/filter_bench" --specs="$specs" --min-time="$min_time" "${photos[@]/#/--image=}" \
    --benchmark_format=json >"$work/filter_bench.json" 2>/dev/null
  py=$(pillow_python)
  if [ -n "$py" ]; then
    "$py" scripts/bench/pillow_filters.py "$min_time" "$specs" "${photos[@]}" >"$work/pillow.json"
    for spec in blur:5 thumbnail:256; do
      "$py" scripts/baseline_filters.py "$work/images" "$spec" "${FILTER_PY_IMAGES:-1000}" >"$work/python-$spec.json"
    done
  else
    echo "  (no Python with Pillow: install python3-pil; the Python baselines are skipped)" >&2
    echo '{}' >"$work/pillow.json"
    for spec in blur:5 thumbnail:256; do echo '{}' >"$work/python-$spec.json"; done
  fi
  python3 scripts/bench/filters.py "$work" "$n" "$specs"
}
