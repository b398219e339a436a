#!/usr/bin/env bash
# Benchmarks, each side by side with its baseline in the same run, printed as ratios so a slow
# machine does not change the verdict. One file per benchmark in scripts/bench/ (e.g. proof.sh,
# its analysis in proof.py beside it); this script only sets up and dispatches.
# Usage: scripts/bench.sh [--quick] [load|downloads|pool|hosts|filters|filters_memory|streaming|proof|dedupe|shards|netns|http2|all]
# --quick runs every benchmark reduced (a few thousand users, one repeat), in about 2 minutes: a
# check that each still runs, not figures to quote (CI runs it).
# (hosts, streaming: COORDINATOR=PATH runs another build, e.g. an older one, for a before/after
# figure; its worker must sit next to it.
# BUILD_DIR=DIR benchmarks the build in DIR instead of build/; setup.sh builds it, and runs
# only when a program is missing.)
# Everything printed, and the closing table of ratios with their targets (scripts/bench/table.py),
# is kept in bench-results/<time>/ (BENCH_RESULTS=DIR: elsewhere); the scratch files go.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
quick=0
if [ "${1:-}" = --quick ]; then
  quick=1
  shift
fi
what=${1:-all}
usage="usage: scripts/bench.sh [--quick] [load|downloads|pool|hosts|filters|filters_memory|streaming|proof|dedupe|shards|netns|http2|all]"
case "${what}" in
  load | downloads | pool | hosts | filters_memory | streaming | proof | dedupe | shards | netns | http2) benches=("$what") ;;
  filters) benches=(filters filters_memory) ;;
  all) benches=(load downloads pool hosts filters filters_memory streaming proof dedupe shards netns http2) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
for program in coordinator/coordinator worker/worker tests/support/image-api tests/load_bench \
  tests/dispatch_bench tests/filter_bench; do
  if [ ! -x "$build/$program" ]; then
    BUILD_DIR="$build" bash scripts/setup.sh >/dev/null
    break
  fi
done
if ((quick)); then
  # The size of each benchmark, reduced; a value already in the environment wins.
  export LOAD_USERS=${LOAD_USERS:-50000} DOWNLOAD_USERS=${DOWNLOAD_USERS:-1000}
  export THROUGHPUT_USERS=${THROUGHPUT_USERS:-2000} POOL_QUICK=1 DEAD_HOST_USERS=${DEAD_HOST_USERS:-20000}
  export SLOW_HOST_USERS=${SLOW_HOST_USERS:-128} FILTER_USERS=${FILTER_USERS:-100}
  export FILTER_MIN_TIME=${FILTER_MIN_TIME:-0.01} FILTER_PY_IMAGES=${FILTER_PY_IMAGES:-40}
  export FILTER_SIZES=${FILTER_SIZES:-512x512} FILTERS_MEMORY_USERS=${FILTERS_MEMORY_USERS:-300}
  export STREAMING_BIG_USERS=${STREAMING_BIG_USERS:-20000} PROOF_REPEATS=${PROOF_REPEATS:-1}
  export PROOF_SIZES=${PROOF_SIZES:-20} PROOF_CPU_USERS=${PROOF_CPU_USERS:-40}
  export PROOF_SEED_USERS=${PROOF_SEED_USERS:-10000} DEDUPE_USERS=${DEDUPE_USERS:-2000}
  export SHARDS_USERS=${SHARDS_USERS:-200} MERGE_USERS=${MERGE_USERS:-10000}
  export BENCH_USERS=${BENCH_USERS:-60} BENCH_REPEATS=${BENCH_REPEATS:-1}
  export HTTP2_USERS=${HTTP2_USERS:-500} HTTP2_REPEATS=${HTTP2_REPEATS:-1}
  what=$what-quick
fi
results=${BENCH_RESULTS:-bench-results}/$(date -u +%Y%m%d-%H%M%S)-$what
mkdir -p "$results"
results=$(cd "$results" && pwd)
export BENCH_TABLE=$results/table.tsv
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
