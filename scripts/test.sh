#!/usr/bin/env bash
# Runs everything CI runs: set-up (packages + Release build), the format check, the whole
# GoogleTest suite through CTest, the C++ API example against an installed tree, a small demo,
# then the same suite built with AddressSanitizer and UndefinedBehaviorSanitizer. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

bash scripts/setup.sh

echo "== format check (clang-format, .clang-format)"
mapfile -t sources < <(find common coordinator worker tests -name '*.cc' -o -name '*.cpp' -o -name '*.h' | sort)
clang-format --dry-run -Werror "${sources[@]}"
echo "== citations: every file and README section a source comment names exists"
python3 scripts/check_citations.py

jobs=$(nproc)
echo "== tests (Release)"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300

echo "== C++ API: install, then build tests/api_example against the installed tree and run it"
temp_dir api_tmp test
cmake --install build --prefix "$api_tmp/prefix" >/dev/null
cmake -S tests/api_example -B "$api_tmp/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$api_tmp/prefix" >/dev/null
cmake --build "$api_tmp/example"
start_api "$api_tmp"
"$api_tmp/example/api_example" "$api_tmp/out" "http://127.0.0.1:$api_port" \
  | tee "$api_tmp/example.txt"
grep -qx "1 ok $api_tmp/out/images/1.jpg" "$api_tmp/example.txt"
grep -q "^2 http_status " "$api_tmp/example.txt"
grep -qx "3 ok $api_tmp/out/images/3.png" "$api_tmp/example.txt"
grep -qx "exit 3: 2 ok, 1 failed, 0 not done" "$api_tmp/example.txt"
echo "== C++ API through pkg-config: the same program built by g++ alone, and a bad run's error"
pcdir=$(find "$api_tmp/prefix" -name pixelmill.pc -printf '%h\n' | head -1)
[ -n "$pcdir" ] || { echo "pixelmill.pc was not installed" >&2; exit 1; }
# shellcheck disable=SC2046  # pkg-config's words are separate flags
g++ -std=c++17 tests/api_example/main.cc -o "$api_tmp/api_example_pc" \
  $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs pixelmill) -Wl,-rpath,"$pcdir/.."
"$api_tmp/api_example_pc" "$api_tmp/out-pc" "http://127.0.0.1:$api_port" >"$api_tmp/example-pc.txt" || true
grep -qx "exit 3: 2 ok, 1 failed, 0 not done" "$api_tmp/example-pc.txt"
"$api_tmp/api_example_pc" "$api_tmp/out-pc" "http://127.0.0.1:$api_port" >/dev/null 2>"$api_tmp/error.txt" || true
grep -q "^pixelmill: .*--overwrite\|^pixelmill: .*resume" "$api_tmp/error.txt" ||
  { cat "$api_tmp/error.txt" >&2; echo "RunSummary::error was not printed" >&2; exit 1; }
stop_api

echo "== the load-test command, installed: pixelmill-loadtest and image-api in bin, the scenarios"
"$api_tmp/prefix/bin/pixelmill-loadtest" --help | tee "$api_tmp/loadtest-help.txt" | head -3
tr "\n" " " <"$api_tmp/loadtest-help.txt" | grep -q "ready scenarios: .*smoke"
[ -x "$api_tmp/prefix/bin/image-api" ]

echo "== scripts/bench.sh --quick: every benchmark still runs (its ratios are not checked: noisy)"
BENCH_RESULTS="$api_tmp/bench" bash scripts/bench.sh --quick >"$api_tmp/bench.txt" 2>&1 ||
  { tail -40 "$api_tmp/bench.txt" >&2; echo "bench.sh --quick failed" >&2; exit 1; }
sed -n '/^benchmark /,$p' "$api_tmp/bench.txt"

echo "== scripts/demo.sh, small (the newcomer's first command must keep working)"
DEMO_USERS=40 bash scripts/demo.sh | tee "$api_tmp/demo.txt"
sheet=$(sed -n 's/^   \(.*contact-sheet.png\) (sheet.*/\1/p' "$api_tmp/demo.txt")
[ -s "$sheet" ] || { echo "demo: no contact sheet" >&2; exit 1; }
grep -q "^== manifest.jsonl: 40 lines, 34 ok, 6 failed" "$api_tmp/demo.txt"
rm -rf "$(dirname "$(dirname "$sheet")")"

echo "== tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
SETUP_NO_INSTALL=1 BUILD_DIR=build-asan BUILD_TYPE=Debug \
  CMAKE_EXTRA="-DPIXELMILL_SANITIZE=ON -DPIXELMILL_BENCHMARKS=OFF -DCMAKE_CXX_FLAGS_DEBUG=-g1\ -O1" \
  bash scripts/setup.sh
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp":print_suppressions=0 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 600
echo "== all tests passed"
