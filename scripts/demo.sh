#!/usr/bin/env bash
# The main job on the bundled local image API: starts image-api on a loopback port, makes 2,000
# users whose 256x256 images live there (a few broken or hostile), and runs the coordinator with
# local worker processes blurring every image with libvips (blur:5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
work=$(mktemp -d /tmp/pixelmill-demo-XXXXXX)
./build/tests/support/image-api --port 0 --port-file "$work/port" --latency-ms 50 --size 256x256 &
api=$!
trap 'kill $api 2>/dev/null || true; wait $api 2>/dev/null || true' EXIT
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$work/port")/img"
python3 scripts/gen_users.py 2000 "$base" >"$work/users.jsonl"
cat >>"$work/users.jsonl" <<JSON
{"id": 2000, "name": "flaky", "image_url": "$base/2000.png?status=503&fail_times=1"}
{"id": 2001, "name": "gone", "image_url": "$base/2001.jpg?status=404"}
{"id": 2002, "name": "not an image", "image_url": "$base/2002.jpg?fault=html"}
{"id": 2003, "name": "hostile", "image_url": "file:///etc/passwd"}
{"id": 2004, "name": "bomb", "image_url": "$base/2004.png?fault=bomb_png50k"}
{"id": 2005, "name": "sideways", "image_url": "$base/2005.jpg?fault=exif6"}
JSON
echo "== coordinator: 2,006 users, images from $base (50 ms latency), --filter blur:5"
set +e
./build/coordinator/coordinator --input "$work/users.jsonl" --output "$work/out" \
  --filter blur:5 --allow-private-networks --report "$work/out/report.json"
code=$?
set -e
echo "== exit code $code (3 = finished, some users failed)"
echo "== manifest: $(wc -l <"$work/out/manifest.jsonl") lines; the failures:"
grep '"failed"' "$work/out/manifest.jsonl" || true
echo "== report: $(cat "$work/out/report.json")"
echo "== output kept in $work/out"
