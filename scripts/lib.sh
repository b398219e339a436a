# shellcheck shell=bash
# What the scripts share; sourced (`. scripts/lib.sh` from the repository root), never run.
# Sets `build` (BUILD_DIR, default build/; scripts/setup.sh builds it) and a trap on EXIT.
#   on_exit CMD               runs CMD (eval'd) when the script exits, after those added before
#   temp_dir VAR NAME [DIR]   sets VAR to a new folder DIR/pixelmill-NAME-XXXXXX (DIR default
#                             /tmp), deleted on exit
#   start_api DIR [FLAGS...]  starts the image API fixture (tests/support/image-api) on a
#                             loopback port with FLAGS, its port file and log in DIR; sets api_pid
#                             and api_port; exits with its log if no port appears within 30 s;
#                             stopped by stop_api or on exit
#   stop_api                  stops it
#   now                       prints the time in seconds since the epoch, with nanoseconds
build=${BUILD_DIR:-build}

_on_exit=()
_run_on_exit() {
  local cmd
  for cmd in "${_on_exit[@]}"; do eval "$cmd" || true; done
}
trap _run_on_exit EXIT
on_exit() { _on_exit+=("$1"); }

temp_dir() {
  local _dir
  _dir=$(mktemp -d "${3:-/tmp}/pixelmill-$2-XXXXXX")
  on_exit "rm -rf '$_dir'"
  printf -v "$1" '%s' "$_dir"
}

api_pid=
api_port=
start_api() {
  local dir=$1
  shift
  rm -f "$dir/port"
  "$build/tests/support/image-api" --port 0 --port-file "$dir/port" "$@" >/dev/null \
    2>"$dir/image-api.log" &
  api_pid=$!
  for _ in $(seq 600); do
    [ -s "$dir/port" ] || ! kill -0 "$api_pid" 2>/dev/null && break
    sleep 0.05
  done
  if [ ! -s "$dir/port" ]; then
    echo "$(basename "$0"): $build/tests/support/image-api did not start:" >&2
    cat "$dir/image-api.log" >&2
    exit 1
  fi
  api_port=$(cat "$dir/port")
}
stop_api() {
  [ -n "$api_pid" ] || return 0
  kill "$api_pid" 2>/dev/null || true
  wait "$api_pid" 2>/dev/null || true
  api_pid=
}
on_exit stop_api

now() { date +%s.%N; }
