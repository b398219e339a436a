#!/usr/bin/env bash
# Scaling across worker hosts: the same run (BENCH_USERS users, default 500, `--filter spin:20`:
# about 10 s of CPU on one worker) with one worker host and with two, each host's worker pinned
# to a core of its own (`taskset -c`), the coordinator and the image API on hosts of their own
# (network namespaces on one machine, netns_lib.sh; CurveZMQ as in production). Prints each
# run's throughput and the ratio 2 hosts / 1 host (ideal: 2). Each setting runs BENCH_REPEATS
# times (default 3), interleaved; the median counts. Throughput is users over the time from the
# first worker joining to the run's end (the coordinator's JSON log), so start-up does not count.
# Not a test: it asserts nothing. Needs root and `ip netns` (else exit 77), and 2 cores.
# Usage: scaling_bench.sh [COORDINATOR WORKER PIXELMILL-KEYGEN IMAGE-API]
#   (default: those in BUILD_DIR, default build/, of this repository); `scripts/bench.sh netns`
#   runs it on the build's binaries
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../../build}
coordinator=${1:-$build/coordinator/coordinator}
worker=${2:-$build/worker/worker}
keygen=${3:-$build/worker/pixelmill-keygen}
image_api=${4:-$build/tests/support/image-api}
users=${BENCH_USERS:-500}
repeats=${BENCH_REPEATS:-3}
filter=spin:20
gen_users=$here/../../scripts/gen_users.py
# shellcheck source-path=SCRIPTDIR source=netns_lib.sh
. "$here/netns_lib.sh"

if [ "$(nproc)" -lt 2 ]; then
  echo "SKIPPED: needs 2 cores, this machine has $(nproc)" >&2
  exit 77
fi
netns_init $((repeats * 2 * 60 + 60))
tmp=$netns_tmp
coord_addr=10.213.0.1
api_addr=10.213.0.2
endpoint=tcp://$coord_addr:5555

die() {
  echo "scaling_bench: $*" >&2
  exit 1
}

netns_host c "$coord_addr"
netns_host a "$api_addr"
netns_host w1 10.213.0.11
netns_host w2 10.213.0.12
mkdir -p "$tmp/keys" "$tmp/allow"
for name in coord w1 w2; do
  "$keygen" --dir "$tmp/keys" "$name" >/dev/null || die "pixelmill-keygen $name failed"
done
cp "$tmp/keys/w1.key" "$tmp/keys/w2.key" "$tmp/allow/"

netns_spawn a "$tmp/image-api.log" "$image_api" --host "$api_addr" --any-host --port 8080 \
  --port-file "$tmp/port"
wait_until 30 test -s "$tmp/port" || die "image-api did not start: $(cat "$tmp/image-api.log")"
python3 "$gen_users" "$users" "http://$api_addr:8080/img" >"$tmp/users.jsonl"

event_ms() {
  iso_ms "$(grep -F "\"event\":\"$1\"" "$2" | head -1 | sed -n 's/^{"time":"\([^"]*\)".*/\1/p')"
}

# run HOSTS TAG: one run with worker hosts w1..wHOSTS; sets rate to its users a second.
run() {
  local hosts=$1 dir=$tmp/$2 i pids=() coord rc=0 first done_ms
  rate=
  mkdir -p "$dir"
  netns_spawn c "$dir/coordinator.log" "$coordinator" --input "$tmp/users.jsonl" \
    --output "$dir/out" --filter "$filter" --workers 0 --bind "$endpoint" \
    --curve-secret "$tmp/keys/coord.key_secret" --allow-workers "$tmp/allow" \
    --allow-private-networks "$api_addr/32" --log-format json --log-level debug \
    --progress-interval 0
  coord=$netns_pid
  for ((i = 1; i <= hosts; i++)); do
    netns_spawn "w$i" "$dir/w$i.log" taskset -c $((i - 1)) "$worker" --connect "$endpoint" \
      --curve-secret "$tmp/keys/w$i.key_secret" --server-key "$tmp/keys/coord.key"
    pids+=("$netns_pid")
  done
  wait_until 120 _netns_gone "$coord" || die "the coordinator still runs after 120 s"
  wait "$coord" || rc=$?
  for i in "${pids[@]}"; do netns_stop "$i" || true; done
  [ "$rc" -eq 0 ] || die "the run with $hosts host(s) exited $rc: $(tail -3 "$dir/coordinator.log")"
  first=$(event_ms worker_joined "$dir/coordinator.log")
  done_ms=$(event_ms "done" "$dir/coordinator.log")
  rate=$(awk -v n="$users" -v t0="$first" -v t1="$done_ms" \
    'BEGIN { printf "%.1f", n * 1000 / (t1 - t0) }')
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== scaling: $users users, --filter $filter, 1 vs 2 worker hosts (1 worker each, pinned)"
for ((r = 1; r <= repeats; r++)); do
  run 1 "one-$r"
  echo "$rate" >>"$tmp/one"
  one=$rate
  run 2 "two-$r"
  echo "$rate" >>"$tmp/two"
  echo "  run $r: 1 host $one users/s, 2 hosts $rate users/s"
done
one=$(median <"$tmp/one")
two=$(median <"$tmp/two")
echo "1 host: $one users/s; 2 hosts: $two users/s (medians of $repeats)"
ratio=$(awk -v a="$two" -v b="$one" 'BEGIN { printf "%.2f", a / b }')
echo "scaling ratio (2 hosts / 1 host): $ratio"
