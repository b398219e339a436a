#!/usr/bin/env bash
# Benchmarks, each side by side with its baseline in the same run, printed as ratios so a slow
# machine does not change the verdict. One file per benchmark in scripts/bench/ (e.g. proof.sh,
# its analysis in proof.py beside it); this script only sets up and dispatches.
# Usage: scripts/bench.sh [load|downloads|pool|hosts|filters|filters_memory|streaming|proof|dedupe|shards|netns|all]
# (hosts, streaming: COORDINATOR=PATH runs another build, e.g. an older one, for a before/after
# figure; its worker must sit next to it.
# BUILD_DIR=DIR benchmarks the build in DIR instead of build/; setup.sh builds it, and runs
# only when a program is missing.)
# Everything printed, and the closing table of ratios with their targets (scripts/bench/table.py),
# is kept in bench-results/<time>/ (BENCH_RESULTS=DIR: elsewhere); the scratch files go.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
what=${1:-all}
usage="usage: scripts/bench.sh [load|downloads|pool|hosts|filters|filters_memory|streaming|proof|dedupe|shards|netns|all]"
case "$what" in
  load | downloads | pool | hosts | filters_memory | streaming | proof | dedupe | shards | netns) benches=("$what") ;;
  filters) benches=(filters filters_memory) ;;
  all) benches=(load downloads pool hosts filters filters_memory streaming proof dedupe shards netns) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
for program in coordinator/coordinator worker/worker tests/support/image-api tests/load_bench \
  tests/dispatch_bench tests/filter_bench; do
  if [ ! -x "$build/$program" ]; then
    BUILD_DIR="$build" bash scripts/setup.sh >/dev/null
    break
  fi
done
results=${BENCH_RESULTS:-bench-results}/$(date -u +%Y%m%d-%H%M%S)-$what
mkdir -p "$results"
export BENCH_TABLE=$PWD/$results/table.tsv
: >"$BENCH_TABLE"
exec > >(tee "$results/bench.log") 2>&1
# Outputs go to tmpfs when there is one: the download benchmarks measure the network path of
# pixelmill and curl, not how the machine's disk copes with 20,000 small files.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then tmp_root=/dev/shm; else tmp_root=/tmp; fi
temp_dir work bench "$tmp_root"

. scripts/bench/common.sh
for bench in "${benches[@]}"; do
  # shellcheck disable=SC1090  # one file per benchmark, chosen at run time
  . "scripts/bench/$bench.sh"
  "bench_$bench"
done
python3 scripts/bench/table.py print "$BENCH_TABLE" | tee "$results/table.txt"
echo "bench: results kept in $results"
