#!/usr/bin/env bash
# The main job on the bundled local image API. The download and filter stages arrive with the
# next issues; until then this validates a generated user file so a newcomer sees the loader.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
work=$(mktemp -d /tmp/pixelmill-demo-XXXXXX)
python3 scripts/gen_users.py 100000 >"$work/users.jsonl"
echo "not yet: downloading and filtering arrive with the next issues; validating 100k users instead:"
./build/coordinator/coordinator --input "$work/users.jsonl" --dry-run
rm -rf "$work"
