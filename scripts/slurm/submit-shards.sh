#!/usr/bin/env bash
# Submits a sharded pixelmill run: a job array of N tasks (pixelmill-shards.sbatch, one shard
# each), then the merge (pixelmill-merge.sbatch), held until every task has succeeded
# (--dependency=afterok). Prints the two job ids, "ARRAY_JOB_ID MERGE_JOB_ID".
#
#   INPUT=users.jsonl OUT_ROOT=/shared/run1 submit-shards.sh N [coordinator options...]
#
# INPUT, OUT_ROOT, PIXELMILL_BIN, PIXELMILL_WORKERS, MERGED and MERGE_MODE are passed to the
# jobs as they are (see the two scripts); sbatch's own SBATCH_* variables (SBATCH_PARTITION,
# SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...) apply to both jobs. SHARDS_SBATCH_OPTS adds sbatch
# options to the array only (e.g. "--cpus-per-task=16"), split on spaces.
# If a task fails, the merge never runs (scancel it): run the task again on its own, then the
# merge after it (see pixelmill-shards.sbatch).
set -eu
if [ $# -lt 1 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: INPUT=FILE OUT_ROOT=DIR $0 N [coordinator options...]" >&2
  exit 2
fi
: "${INPUT:?set INPUT to the users file}" "${OUT_ROOT:?set OUT_ROOT to the folder of the shards}"
shards=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
read -r -a array_opts <<<"${SHARDS_SBATCH_OPTS:-}"
export SHARDS=$shards
# --parsable prints "JOB_ID" (or "JOB_ID;CLUSTER" on a multi-cluster system).
array=$(sbatch --parsable --array="0-$((shards - 1))" "${array_opts[@]}" \
  "$here/pixelmill-shards.sbatch" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" "$here/pixelmill-merge.sbatch")
merge=${merge%%;*}
echo "$array $merge"
