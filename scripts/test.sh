#!/usr/bin/env bash
# Runs everything CI runs: set-up (packages + Release build), the format check, the whole
# GoogleTest suite through CTest, then the same suite built with AddressSanitizer and
# UndefinedBehaviorSanitizer. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== format check (clang-format, .clang-format)"
mapfile -t sources < <(find common coordinator worker tests -name '*.cc' -o -name '*.cpp' -o -name '*.h' | sort)
clang-format --dry-run -Werror "${sources[@]}"

jobs=$(nproc)
echo "== tests (Release)"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300

echo "== tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
SETUP_NO_INSTALL=1 BUILD_DIR=build-asan BUILD_TYPE=Debug \
  CMAKE_EXTRA="-DPIXELMILL_SANITIZE=ON -DPIXELMILL_BENCHMARKS=OFF -DCMAKE_CXX_FLAGS_DEBUG=-g\ -O1" \
  bash scripts/setup.sh
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp":print_suppressions=0 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 600
echo "== all tests passed"
