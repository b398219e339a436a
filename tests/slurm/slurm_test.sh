#!/usr/bin/env bash
# The Slurm batch scripts (scripts/slurm/) on a real Slurm cluster: a private one on this machine
# (slurm_cluster.sh: munged, slurmctld and three slurmd, each node a network namespace of its own,
# so a node's workers are on a separate network host), with the image API fixture on a host of
# its own. Cases:
#   a. pixelmill-allocation.sbatch over 3 nodes: the coordinator on the first, a CurveZMQ worker
#      host on each; the job exits 0, and the work was spread over the nodes; the same job
#      again on the finished folder resumes it (nothing to do) and exits 0; a coordinator that
#      fails (a missing input) fails the job with its exit code
#   b. submit-shards.sh: an array of 3 shard tasks, then the merge after them (afterok)
#   c. one shard task's coordinator SIGKILLed mid-run (the task fails): the merge, held by
#      afterok, never runs, and `coordinator merge` refuses the shards; the task run again
#      (sbatch --array=K) resumes its folder, and the merge run again succeeds
# Each checks its manifest: one line per user, every user ok, every image there with the size
# its line records.
# Usage: slurm_test.sh COORDINATOR WORKER PIXELMILL-KEYGEN IMAGE-API [CASES]
#   CASES: a, b, c or a list of them (default abc). b and c need `coordinator --shard` and
#   `coordinator merge`; without them they are reported as not run.
# Needs root, `ip netns`, the slurm-wlm and munge packages and python3 (else exit 77, skipped).
# SLURM_CLUSTER_LOOPBACK=1: every daemon in the root namespace instead of namespaces.
# Leaves nothing behind, however it ends short of SIGKILL: it stops itself after 240 s, before
# CTest's timeout (300 s) would kill it; NETNS_KEEP_TMP=1 keeps its folder (logs) for debugging.
set -u
if [ $# -lt 4 ] || [ $# -gt 5 ]; then
  echo "usage: $0 COORDINATOR WORKER PIXELMILL-KEYGEN IMAGE-API [CASES]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
scripts=$here/../../scripts/slurm
gen_users=$here/../../scripts/gen_users.py
cases=${5:-abc}
want() { [[ $cases == *$1* ]]; }
# shellcheck source-path=SCRIPTDIR source=slurm_cluster.sh
. "$here/slurm_cluster.sh"

slurm_cluster_init 240
tmp=$netns_tmp
t_start=$(now_ms)
case_dir=$tmp

fail() {
  local f
  echo "FAIL: $*" >&2
  for f in "$case_dir"/*.out "$case_dir"/*.log; do
    [ -f "$f" ] || continue
    echo "--- last lines of $f" >&2
    tail -n 15 "$f" >&2
  done
  echo "--- squeue" >&2
  slurm squeue >&2 2>&1
  exit 1
}

# The jobs find the programs in one folder, as they would be installed: PIXELMILL_BIN.
mkdir -p "$tmp/bin"
ln -s "$(realpath "$1")" "$tmp/bin/coordinator"
ln -s "$(realpath "$2")" "$tmp/bin/worker"
ln -s "$(realpath "$3")" "$tmp/bin/pixelmill-keygen"
coordinator=$tmp/bin/coordinator
image_api=$(realpath "$4")
export PIXELMILL_BIN=$tmp/bin

slurm_cluster_start 3 2
echo "== a Slurm cluster of 3 nodes (${slurm_nodes[*]}, 2 CPUs each) up in" \
  "$(($(now_ms) - t_start)) ms"

# The image API: a host of its own (loopback mode: on 127.0.0.1).
if [ "${SLURM_CLUSTER_LOOPBACK:-0}" = 1 ]; then
  api_addr=127.0.0.1
  _slurm_spawn - "$tmp/image-api.log" "$image_api" --port 0 --port-file "$tmp/api-port"
else
  api_addr=10.214.0.2
  netns_host api "$api_addr"
  netns_spawn api "$tmp/image-api.log" "$image_api" --host "$api_addr" --any-host --port 0 \
    --port-file "$tmp/api-port"
fi
wait_until 30 test -s "$tmp/api-port" || fail "image-api did not start"
api_url=http://$api_addr:$(cat "$tmp/api-port")/img
users=300
python3 "$gen_users" "$users" "$api_url" >"$tmp/users.jsonl"
export INPUT=$tmp/users.jsonl
# The shards' input: a fifth of the users on 5 shared URLs (dedupe within each shard), and
# `failing` more whose image is a 404 (their shards finish with exit code 3, which the tasks
# report as success so that the merge runs).
failing=3
python3 "$gen_users" --shared 0.2 --shared-urls 5 "$users" "$api_url" >"$tmp/users-shards.jsonl"
for ((i = users; i < users + failing; i++)); do
  echo "{\"id\": $i, \"name\": \"gone\", \"image_url\": \"$api_url/$i.jpg?status=404\"}"
done >>"$tmp/users-shards.jsonl"
common=(--allow-private-networks "$api_addr/32" --progress-interval 0)

# submit JOB_OUTPUT SBATCH-ARGS...: sbatch --parsable into this cluster, the job's output in
# JOB_OUTPUT; prints the job id.
submit() {
  local output=$1 id
  shift
  # From the case's folder: the job's SLURM_SUBMIT_DIR (the allocation script's key folder).
  id=$(cd "$case_dir" && slurm sbatch --parsable --output="$output" "$@") ||
    fail "sbatch $* failed"
  echo "${id%%;*}"
}

# finish_job ID SECONDS: waits for job ID (every task of an array) to end; fails unless each
# ended COMPLETED with exit code 0.
finish_job() {
  local id=$1 seconds=$2 ended
  wait_until "$seconds" slurm_job_gone "$id" || fail "job $id still runs after $seconds s"
  ended=$(slurm scontrol show job -o "$id" |
    sed -n 's/^JobId=\([0-9]*\) .* JobState=\([A-Z_]*\) .* ExitCode=\([0-9:]*\) .*/\1 \2 \3/p')
  [ -n "$ended" ] || fail "scontrol does not know job $id"
  ! grep -qv ' COMPLETED 0:0$' <<<"$ended" || fail "job $id did not succeed: $ended"
}

# check_manifest DIR [FAILING]: exactly one line per user (ids 0..users+FAILING-1), users
# 0..users-1 ok, each image in DIR with the size its line records, the FAILING others failed
# with http_status. Prints the lines by each worker key.
check_manifest() {
  python3 - "$1" "$users" "${2:-0}" <<'EOF' || fail "the manifest in $1 is not right"
import collections, json, os, sys
root, users, failing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
path = os.path.join(root, "manifest.jsonl")
if not os.path.exists(path): sys.exit(f"no {path}")
lines = [json.loads(l) for l in open(path)]
ids = collections.Counter(l["id"] for l in lines)
total = users + failing
if len(lines) != total or sorted(ids) != list(range(total)):
    sys.exit(f"{len(lines)} lines, {len(ids)} distinct ids, for users 0..{total - 1}")
bad = [l for l in lines if (l["status"] == "ok") != (l["id"] < users)]
if bad: sys.exit(f"{len(bad)} users not as expected, e.g. {bad[0]}")
gone = [l for l in lines if l["id"] >= users and l["error"]["code"] != "http_status"]
if gone: sys.exit(f"a 404 user failed otherwise: {gone[0]}")
lines = [l for l in lines if l["id"] < users]
for l in lines:
    f = os.path.join(root, l["output"])
    if not os.path.isfile(f): sys.exit(f"user {l['id']}: no {f}")
    if os.path.getsize(f) != l["bytes"]:
        sys.exit(f"user {l['id']}: {f} has {os.path.getsize(f)} bytes, the line says {l['bytes']}")
keys = collections.Counter(l.get("worker", "").rpartition(" key:")[2] or "-" for l in lines)
print(" ".join(f"{k}:{n}" for k, n in sorted(keys.items())))
EOF
}

case_a() {
  local job by_key n1_ip d rc
  echo "== a. pixelmill-allocation.sbatch over 3 nodes: the coordinator on n1, workers on each"
  case_dir=$tmp/a
  mkdir -p "$case_dir"
  # sleep:50: 15 s of filter work for one worker process, so every node's worker host gets some.
  job=$(OUT=$case_dir/out submit "$case_dir/job.out" --nodes=3 \
    "$scripts/pixelmill-allocation.sbatch" --filter sleep:50 --report "$case_dir/report.json" \
    "${common[@]}")
  finish_job "$job" 90
  by_key=$(check_manifest "$case_dir/out")
  echo "  job $job: exit 0; lines by worker key: $by_key"
  [ "$(wc -w <<<"$by_key")" -eq 3 ] || fail "not every node's workers did work: $by_key"
  n1_ip=$(getent ahostsv4 "$(slurm_node_addr n1)" | awk 'NR == 1 { print $1 }')
  grep -q "remote workers may connect to tcp://$n1_ip:" "$case_dir/job.out" ||
    fail "the coordinator did not listen on n1's address ($n1_ip)"
  for d in "$case_dir"/.pixelmill-job-*; do
    [ ! -e "$d" ] || fail "the job's key folder is left: $d"
  done
  # Submitted again on the finished folder: resumed, nothing left to do, exit 0.
  job=$(OUT=$case_dir/out submit "$case_dir/again.out" --nodes=2 \
    "$scripts/pixelmill-allocation.sbatch" --filter sleep:50 "${common[@]}")
  finish_job "$job" 60
  grep -q "nothing to resume" "$case_dir/again.out" || fail "the second job did not resume"
  echo "  job $job on the finished folder: resumed, nothing to do, exit 0"
  # A coordinator that fails (no such input): the job fails with its exit code.
  job=$(INPUT=$case_dir/missing.jsonl OUT=$case_dir/out2 submit "$case_dir/missing.out" \
    --nodes=1 "$scripts/pixelmill-allocation.sbatch" --filter sleep:50 "${common[@]}")
  wait_until 30 slurm_job_gone "$job" || fail "job $job still runs after 30 s"
  rc=$(sed -n 's/^pixelmill-allocation: the coordinator exited \([0-9]*\)$/\1/p' \
    "$case_dir/missing.out")
  [ "${rc:-0}" -ne 0 ] || fail "the coordinator did not fail on a missing input"
  [ "$(slurm_job_field "$job" ExitCode)" = "$rc:0" ] ||
    fail "job $job exited $(slurm_job_field "$job" ExitCode), its coordinator $rc"
  echo "  job $job on a missing input: exit code $rc, the coordinator's"
}

case_b() {
  local ids array merge
  echo "== b. submit-shards.sh: an array of 3 shards, then the merge (afterok)"
  case_dir=$tmp/b
  mkdir -p "$case_dir"
  ids=$(cd "$case_dir" && INPUT=$tmp/users-shards.jsonl OUT_ROOT=$case_dir/shards \
    SHARDS_SBATCH_OPTS="--cpus-per-task=2" \
    slurm bash "$scripts/submit-shards.sh" 3 --filter blur:1 "${common[@]}") ||
    fail "submit-shards.sh failed: $ids"
  read -r array merge <<<"$ids"
  finish_job "$array" 60
  finish_job "$merge" 30
  echo "  array $array and merge $merge exited 0;" \
    "$(check_manifest "$case_dir/shards/all" "$failing" | wc -w) workers did the work"
  for k in 0 1 2; do
    [ -f "$case_dir/shards/shard-$k/manifest.jsonl" ] || fail "no manifest for shard $k"
  done
  [ -f "$case_dir/shards/all/report.json" ] || fail "no merged report.json"
}

# The pid of the coordinator writing shard K's folder (a child of the task's batch shell), found
# by its --output.
shard_coordinator() {
  local f dir=$case_dir/shards/shard-$1
  for f in /proc/[0-9]*; do
    [ "$(cat "$f/comm" 2>/dev/null)" = coordinator ] || continue
    if tr '\0' '\n' <"$f/cmdline" 2>/dev/null | grep -qxF "$dir"; then echo "${f#/proc/}"; fi
  done
}
shard_lines() {
  local m=$case_dir/shards/shard-$1/manifest.jsonl
  [ -f "$m" ] && [ "$(wc -l <"$m")" -ge "$2" ]
}
case_c() {
  local ids array merge rc=0 again at_kill shard=1 state pid kept
  echo "== c. shard $shard SIGKILLed mid-run, run again (resumed), then the merge again"
  case_dir=$tmp/c
  mkdir -p "$case_dir"
  # sleep:100 on one worker: a shard's 100 users take 10 s.
  ids=$(cd "$case_dir" && OUT_ROOT=$case_dir/shards SHARDS_SBATCH_OPTS="--cpus-per-task=1" \
    slurm bash "$scripts/submit-shards.sh" 3 --filter sleep:100 "${common[@]}") ||
    fail "submit-shards.sh failed: $ids"
  read -r array merge <<<"$ids"
  wait_until 30 shard_lines "$shard" 10 || fail "shard $shard has no 10 lines within 30 s"
  pid=$(shard_coordinator "$shard")
  [ -n "$pid" ] || fail "no coordinator writes shard $shard"
  kill -KILL "$pid"
  at_kill=$(wc -l <"$case_dir/shards/shard-$shard/manifest.jsonl")
  wait_until 60 slurm_job_gone "$array" || fail "the array still runs after 60 s"
  state=$(slurm_job_field "${array}_$shard" JobState)
  [ "$state" != COMPLETED ] || fail "the killed task ${array}_$shard ended COMPLETED"
  grep -q '"complete": *false' "$case_dir/shards/shard-$shard/run.json" ||
    fail "shard $shard's run.json does not say it is unfinished"
  # The merge is held for good (its dependency can no longer be met): cancelled, as a user would.
  [ "$(slurm_job_field "$merge" JobState)" = PENDING ] || fail "the merge did not stay pending"
  slurm scancel "$merge"
  echo "  task ${array}_$shard's coordinator SIGKILLed at line $at_kill of shard $shard ($state);" \
    "merge $merge held ($(slurm_job_field "$merge" Reason)), cancelled"
  # Merging now is refused, naming the unfinished shard.
  "$coordinator" merge --output "$case_dir/refused" "$case_dir"/shards/shard-{0,1,2} \
    >"$case_dir/refused.log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || fail "coordinator merge accepted an unfinished shard"
  grep -q "shard-$shard\|shard $shard" "$case_dir/refused.log" ||
    fail "the refused merge does not name shard $shard: $(cat "$case_dir/refused.log")"
  echo "  coordinator merge refused (exit $rc): $(head -1 "$case_dir/refused.log")"
  # The task again, on its own: it resumes the shard's folder.
  again=$(OUT_ROOT=$case_dir/shards SHARDS=3 submit "$case_dir/again.out" --array="$shard" \
    --cpus-per-task=1 "$scripts/pixelmill-shards.sbatch" --filter sleep:100 "${common[@]}")
  merge=$(OUT_ROOT=$case_dir/shards SHARDS=3 submit "$case_dir/merge.out" \
    --dependency="afterok:$again" "$scripts/pixelmill-merge.sbatch")
  finish_job "$again" 60
  grep -q "resuming the unfinished run of shard $shard/3" "$case_dir/again.out" ||
    fail "the task run again did not resume"
  # Every line written before the kill is kept (the last may be torn by it).
  kept=$(sed -n 's/^done: .* ok (\([0-9]*\) skipped).*/\1/p' "$case_dir/again.out")
  [ "${kept:-0}" -ge $((at_kill - 1)) ] || fail "the resume kept ${kept:-0} of $at_kill lines"
  finish_job "$merge" 30
  check_manifest "$case_dir/shards/all" >/dev/null
  echo "  task run again ($again) resumed (kept $kept lines) and exited 0; merge $merge exited 0"
}

for c in a b c; do
  want "$c" || continue
  t0=$(now_ms)
  "case_$c"
  echo "  ok in $(($(now_ms) - t0)) ms"
done
echo "PASS in $(($(now_ms) - t_start)) ms"
