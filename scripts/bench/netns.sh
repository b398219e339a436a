# shellcheck shell=bash
# bench.sh netns: scaling across worker hosts, 1 host against 2, each a network namespace on this
# machine with one pinned worker (tests/multihost/scaling_bench.sh, which prints the figures;
# BENCH_USERS, BENCH_REPEATS). Needs root, `ip netns` and 2 cores: skipped with a note otherwise.
# Sourced by bench.sh (lib.sh, $build).

bench_netns() {
  local rc=0
  echo "== netns: scaling across worker hosts (network namespaces, CurveZMQ)"
  # shellcheck disable=SC2154  # build: set by lib.sh, which bench.sh sources first
  bash tests/multihost/scaling_bench.sh "$build/coordinator/coordinator" "$build/worker/worker" \
    "$build/worker/pixelmill-keygen" "$build/tests/support/image-api" || rc=$?
  if [ "$rc" -eq 77 ]; then
    echo "  skipped: needs root, ip netns and 2 cores (above: why)"
  elif [ "$rc" -ne 0 ]; then
    echo "  scaling_bench.sh failed (exit $rc)" >&2
    return "$rc"
  fi
}
