#!/usr/bin/env bash
# The main job, end to end on this machine, after its own set-up (scripts/setup.sh):
#  1. the bundled image API (image-api) on a loopback port, answering in 50..150 ms like a real
#     API, serving real photos at 512x512 (python3-skimage's sample photos: an astronaut, coffee,
#     a cat, a motorcycle, a rocket, a tissue sample, the Hubble deep field, a retina);
#  2. 5,000 users, 8 of them broken or hostile (a 404, a corrupt PNG, a 50000x50000 PNG bomb, a
#     redirect loop, an HTML page, a file:// URL, a 503 that heals, a sideways photo);
#  3. the coordinator with local worker processes (one per hardware thread) running
#     thumbnail:256,sepia:0.8,sharpen:1 with libvips, its progress and end report on stderr;
#  4. the address guard on (no --allow-private-networks): URLs to cloud metadata, a private
#     network and this machine are refused before any connection is opened;
#  5. a contact sheet, a few inputs beside their outputs: OUT/contact-sheet.png.
# DEMO_USERS=N sets the number of users, DEMO_FILTER=SPEC the filter; BUILD_DIR as in setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
users=${DEMO_USERS:-5000}
filter=${DEMO_FILTER:-thumbnail:256,sepia:0.8,sharpen:1}
((users >= 16)) || { echo "demo: DEMO_USERS must be at least 16" >&2; exit 2; }

echo "== set-up: scripts/setup.sh (Debian packages, Release build in $build/; minutes the first time)"
bash scripts/setup.sh >/dev/null
started=$(date +%s.%N)
seconds_since() { echo "$(date +%s.%N) - $1" | bc | xargs printf '%.1f'; }

# Kept afterwards (not a temp_dir): the run's output is in it.
work=$(mktemp -d /tmp/pixelmill-demo-XXXXXX)
out=$work/out
start_api "$work" --latency-ms 50 --jitter-ms 100 --images photos --size 512x512
base="http://127.0.0.1:$api_port/img"

# Every URL of this run is on loopback, redirects included: the run needs
# --allow-private-networks to reach the local API, which turns the address guard off.
hostile=$(
  cat <<JSON
{"id": $((users - 8)), "name": "flaky", "image_url": "$base/$((users - 8)).jpg?status=503&fail_times=1"}
{"id": $((users - 7)), "name": "gone", "image_url": "$base/$((users - 7)).jpg?status=404"}
{"id": $((users - 6)), "name": "corrupt", "image_url": "$base/$((users - 6)).png?fault=corrupt_png"}
{"id": $((users - 5)), "name": "bomb", "image_url": "$base/$((users - 5)).png?fault=bomb_png50k"}
{"id": $((users - 4)), "name": "loop", "image_url": "$base/$((users - 4)).jpg?fault=redirect_loop"}
{"id": $((users - 3)), "name": "not an image", "image_url": "$base/$((users - 3)).jpg?fault=html"}
{"id": $((users - 2)), "name": "not http", "image_url": "file:///etc/passwd"}
{"id": $((users - 1)), "name": "sideways", "image_url": "$base/$((users - 1)).jpg?fault=exif6"}
JSON
)
{
  echo "$hostile"
  python3 scripts/gen_users.py $((users - 8)) "$base"
} >"$work/users.jsonl"

echo "== the main job: $users users on $base (50..150 ms a response), --filter $filter"
echo "$hostile" | sed 's/^/   hostile: /'
job_started=$(date +%s.%N)
set +e
# VIPS_WARNING: libvips in the workers would print a warning for every damaged tile of the
# corrupt PNG; its manifest line says what happened.
VIPS_WARNING=1 "$build/coordinator/coordinator" --input "$work/users.jsonl" --output "$out" \
  --filter "$filter" --allow-private-networks --report "$out/report.json" \
  --progress-interval 5 --progress-file "$out/progress.jsonl"
code=$?
set -e
job_seconds=$(seconds_since "$job_started")
echo "== exit code $code (0 = every user ok, 3 = finished but some users failed)"
if ((code != 0 && code != 3)); then
  echo "demo: the coordinator stopped (see its error above); output in $out" >&2
  exit "$code"
fi
python3 scripts/demo_summary.py "$out/manifest.jsonl" "$out/report.json"

echo "== the address guard on (no --allow-private-networks): refused before connecting"
cat >"$work/guard.jsonl" <<JSON
{"id": 1, "name": "cloud metadata", "image_url": "http://169.254.169.254/latest/meta-data/"}
{"id": 2, "name": "private network", "image_url": "http://10.0.0.1/img/2.jpg"}
{"id": 3, "name": "this machine", "image_url": "$base/3.jpg"}
JSON
"$build/coordinator/coordinator" --input "$work/guard.jsonl" --output "$work/guard" \
  --filter none || true
python3 scripts/demo_guard.py "$work/guard/manifest.jsonl"

echo "== contact sheet: inputs (from image-api) beside their outputs (from OUT/images)"
sheet_started=$(date +%s.%N)
mkdir -p "$work/inputs"
pairs=()
for id in 0 1 2 3 4 $((users - 1)); do
  query="latency=0"
  caption="user $id"
  if ((id == users - 1)); then
    query="fault=exif6&latency=0"
    caption="user $id (EXIF: sideways)"
  fi
  output=$(find "$out/images" -maxdepth 1 -name "$id.*" | head -1)
  [ -n "$output" ] || continue
  curl -fsS "$base/$id.jpg?$query" -o "$work/inputs/$id.jpg"
  pairs+=("$caption" "$work/inputs/$id.jpg" "$output")
done
bash scripts/contact_sheet.sh "$out/contact-sheet.png" 3 "${pairs[@]}"
echo "   $out/contact-sheet.png (sheet $(seconds_since "$sheet_started") s)"
echo "== done in $(seconds_since "$started") s after set-up (the main job $job_seconds s); output in $out"
