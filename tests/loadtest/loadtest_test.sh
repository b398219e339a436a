#!/usr/bin/env bash
# shellcheck disable=SC2016  # backquotes in the patterns are Markdown, not shell
# pixelmill-loadtest end to end (CTest LoadTest.SmokeAndFailingChecks):
#   1. the ready `smoke` scenario passes (exit 0) and writes every part of its results folder;
#   2. a threshold set to fail makes it exit 1, naming the threshold;
#   3. a checker told a fault mix other than the injected one exits 1, naming fault_mix;
#   4. a scenario with a typo, or a missing binary, exits 2 (the test could not run).
# Usage: loadtest_test.sh SOURCE_DIR COORDINATOR WORKER IMAGE_API
set -euo pipefail
src=$1
coordinator=$(realpath "$2") worker=$(realpath "$3") image_api=$(realpath "$4")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/bin
mkdir "$bin"
ln -s "$coordinator" "$bin/coordinator"
ln -s "$worker" "$bin/worker"
ln -s "$image_api" "$bin/image-api"
loadtest=$src/scripts/loadtest/pixelmill-loadtest
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== 1. smoke passes and writes its results"
rc=0
"$loadtest" smoke --bin "$bin" --results "$tmp/results" 2>"$tmp/smoke.err" || rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/smoke.err" >&2; fail "smoke exited $rc"; }
run=$(echo "$tmp"/results/*-smoke)
[ -d "$run" ] || fail "no results folder"
for f in summary.md points.csv timeseries.csv versions.json scenario.toml scenario-as-run.json \
  plots/latency_per_stage.png plots/progress_over_time.png plots/memory_over_time.png \
  plots/throughput_vs_workers.png; do
  [ -s "$run/$f" ] || fail "results: $f missing or empty"
done
grep -q '^# Load test `smoke`: PASS' "$run/summary.md" || fail "summary.md does not say PASS"
[ "$(tail -n +2 "$run/points.csv" | wc -l)" -eq 5 ] || fail "points.csv: not 5 points"
ls "$run"/hgrm/*.end_to_end.hgrm >/dev/null || fail "no end_to_end .hgrm file"
grep -q 'kill_coordinator' "$run/timeseries.csv" || fail "timeseries.csv: the chaos events are not marked"
grep -q '| chaos | resume_completed | yes |' "$run/summary.md" || fail "the chaos point did not resume"
grep -q '| faults | fault_mix | yes |' "$run/summary.md" || fail "the faults point's mix check"

echo "== 2. a threshold set to fail: exit 1, named"
cat >"$tmp/strict.toml" <<'TOML'
name = "strict"
[defaults.input]
users = 50
[defaults.pipeline]
filter = "none"
workers = 0
[[phases]]
name = "only"
thresholds = ["users_per_s >= 1000000"]
TOML
rc=0
"$loadtest" "$tmp/strict.toml" --bin "$bin" --results "$tmp/results" 2>"$tmp/strict.err" || rc=$?
[ "$rc" -eq 1 ] || { cat "$tmp/strict.err" >&2; fail "a failing threshold exited $rc, not 1"; }
grep -q 'threshold `users_per_s >= 1000000` failed' "$tmp/strict.err" ||
  fail "the failing threshold is not named: $(cat "$tmp/strict.err")"

echo "== 3. a checker told another fault mix: exit 1, fault_mix named"
cat >"$tmp/mix.toml" <<'TOML'
name = "mix"
[defaults.input]
users = 300
[defaults.server]
mix = { "5xx" = 20 }
[defaults.pipeline]
filter = "none"
workers = 0
retries = 0
[[phases]]
name = "only"
TOML
"$loadtest" "$tmp/mix.toml" --bin "$bin" --results "$tmp/results" 2>"$tmp/mix.err" ||
  { cat "$tmp/mix.err" >&2; fail "the mix scenario failed with the mix it injected"; }
rc=0
"$loadtest" "$tmp/mix.toml" --told-mix 5xx:5,reset:10 --bin "$bin" --results "$tmp/results" \
  2>"$tmp/told.err" || rc=$?
[ "$rc" -eq 1 ] || { cat "$tmp/told.err" >&2; fail "a wrong told mix exited $rc, not 1"; }
grep -q 'invariant fault_mix: .*http_status: [0-9]*, expected' "$tmp/told.err" ||
  fail "fault_mix is not named: $(cat "$tmp/told.err")"

echo "== 4. could not run: exit 2"
sed 's/^users = 50/userz = 50/' "$tmp/strict.toml" >"$tmp/typo.toml"
rc=0
"$loadtest" "$tmp/typo.toml" --bin "$bin" --results "$tmp/results" 2>"$tmp/typo.err" || rc=$?
{ [ "$rc" -eq 2 ] && grep -q 'defaults.input.userz: unknown setting' "$tmp/typo.err"; } ||
  fail "a typo exited $rc: $(cat "$tmp/typo.err")"
rc=0
"$loadtest" smoke --bin "$tmp/nowhere" --results "$tmp/results" 2>"$tmp/bin.err" || rc=$?
{ [ "$rc" -eq 2 ] && grep -q 'not found or not executable' "$tmp/bin.err"; } ||
  fail "a missing binary exited $rc: $(cat "$tmp/bin.err")"
echo "PASS"
