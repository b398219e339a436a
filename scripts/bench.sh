#!/usr/bin/env bash
# Benchmarks, each side by side with its baseline in the same run, printed as ratios so a slow
# machine does not change the verdict. Usage: scripts/bench.sh [load|all]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
bash scripts/setup.sh >/dev/null
work=$(mktemp -d /tmp/pixelmill-bench-XXXXXX)
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

case "$what" in
  load) bench_load ;;
  all) bench_load ;;
  *) echo "usage: scripts/bench.sh [load|all]" >&2; exit 2 ;;
esac
