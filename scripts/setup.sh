#!/usr/bin/env bash
# Installs the Debian packages pixelmill needs (idempotent), then configures and builds
# a Release tree with Ninja in build/ (override with BUILD_DIR).
# scripts/setup.sh --worker-host: only what a worker host needs (worker, pixelmill-keygen and
# their packages), built in build-worker-host/ unless BUILD_DIR says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

worker_host=0
case "${1:-}" in
  --worker-host) worker_host=1 ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--worker-host]" >&2; exit 2 ;;
esac

worker_packages=(
  build-essential cmake ninja-build pkg-config
  libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler libcli11-dev
  libvips-dev libturbojpeg0-dev liblcms2-dev
)
packages=(
  build-essential cmake ninja-build pkg-config clang-format git curl bc python3
  libuv1-dev libcurl4-openssl-dev libssl-dev libzmq3-dev cppzmq-dev
  libprotobuf-dev protobuf-compiler
  libboost1.74-dev libboost-filesystem1.74-dev
  libvips-dev libturbojpeg0-dev liblcms2-dev libsimdjson-dev libcli11-dev libspdlog-dev
  libvips-tools  # demo.sh: the vips command line draws the contact sheet
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-pil libjemalloc2  # bench.sh filters: the Pillow baseline, the allocator comparison
  wrk  # bench.sh downloads: the HTTP load generator pixelmill's request rate is set beside
  nginx-light  # bench.sh http2 and its test: the HTTP/2 (TLS) front of the image API fixture
  python3-skimage  # image-api --images photos: its sample photos (demo, benchmarks, tests)
  python3-matplotlib iproute2  # pixelmill-loadtest: its plots; remote worker hosts (ip netns)
  slurm-wlm munge  # tests only: the Slurm cluster test (tests/slurm); pixelmill does not need them
)

((worker_host)) && packages=("${worker_packages[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})) && [ "${SETUP_NO_INSTALL:-0}" != 1 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${SETUP_NO_BUILD:-0}" = 1 ] && exit 0
build_dir=${BUILD_DIR:-build}
# CMAKE_EXTRA is split on unescaped spaces (eval), so a value may hold "\ ".
eval "extra=(${CMAKE_EXTRA:-})"
if ((worker_host)); then
  build_dir=${BUILD_DIR:-build-worker-host}
  extra+=(-DPIXELMILL_WORKER_ONLY=ON -DPIXELMILL_BENCHMARKS=OFF)
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "${extra[@]}" >/dev/null
cmake --build "$build_dir"
