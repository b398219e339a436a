# shellcheck shell=bash
# Hosts on one machine for multi-host tests: each "host" is a network namespace joined by a veth
# pair to a bridge that lives in a namespace of its own (the "switch"), so the test adds nothing
# to the root namespace and its subnet (the callers use 10.213.0.0/24) exists only inside the
# namespaces it made: no route leads anywhere else, so nothing is ever sent outside them.
# Sourced by multihost_test.sh and scaling_bench.sh, never run.
#
# Names carry the test's pid (namespaces pm<pid>s, pm<pid>c, ..., links pm<pid><host> and
# pm<pid><host>b: at most 15 characters, so host names of up to 4), so parallel or leftover runs
# do not clash.
#
#   netns_init SECONDS       checks that namespaces can be made (else prints why and exits 77,
#                            skipped), makes the switch, a temp folder ($netns_tmp), the traps
#                            that clean up on exit, error and signal, and a watchdog that stops
#                            the script (cleanly) after SECONDS
#   netns_host NAME ADDR     makes host NAME (namespace pm<pid>NAME) with ADDR/24 on its veth
#                            pm<pid>NAME, the other end on the switch's bridge
#   netns_exec NAME CMD...   runs CMD in host NAME
#   netns_spawn NAME LOG CMD...
#                            starts CMD in the background in host NAME, stdout and stderr to LOG,
#                            and sets netns_pid to its pid; every process started so is stopped
#                            by the clean-up
#   netns_stop PID [SECONDS] SIGTERM, then SIGKILL after SECONDS (default 3); reaps it; prints
#                            nothing, returns its exit status
#   netns_link NAME up|down  sets host NAME's veth up or down, inside its namespace
#   netns_shape NAME QDISC...  adds root qdisc QDISC (e.g. tbf rate 2mbit burst 32kbit latency
#                            400ms) to both ends of host NAME's link: its egress (what it sends)
#                            and the bridge port's (what it is sent)
#   netns_unshape NAME       removes them
#   netns_veth NAME          prints host NAME's veth name
#   wait_until SECONDS CMD...  runs CMD every 50 ms until it succeeds (0) or SECONDS pass (1)
#   now_ms                   milliseconds since the epoch
#   iso_ms TIME              an ISO 8601 time (the coordinator's JSON log) in ms since the epoch
#   netns_cleanup            the trap: stops every process started here and every process left
#                            in the namespaces, deletes every namespace (their links and the
#                            bridge go with them) and the temp folder (kept, and named, when
#                            NETNS_KEEP_TMP=1: the logs, for debugging)

netns_prefix=pm$$
netns_tmp=
netns_pid=
_netns_names=()
_netns_pids=()
_netns_watchdog=

now_ms() { date +%s%3N; }
iso_ms() { date -d "$1" +%s%3N; }

wait_until() {
  local seconds=$1 deadline
  shift
  deadline=$(($(now_ms) + seconds * 1000))
  while true; do
    "$@" && return 0
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

_netns_skip() {
  echo "SKIPPED: $*" >&2
  exit 77
}

netns_init() {
  local limit=$1
  [ "$(id -u)" -eq 0 ] || _netns_skip "network namespaces need root (uid $(id -u))"
  command -v ip >/dev/null || _netns_skip "no 'ip' command (iproute2)"
  trap netns_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  netns_tmp=$(mktemp -d /tmp/pixelmill-multihost-XXXXXX)
  local sw=${netns_prefix}s
  ip netns add "$sw" 2>"$netns_tmp/err" ||
    _netns_skip "ip netns add failed: $(cat "$netns_tmp/err")"
  _netns_names+=("$sw")
  _netns_quiet "$sw"
  ip -n "$sw" link add "${netns_prefix}br" type bridge 2>"$netns_tmp/err" ||
    _netns_skip "cannot make a bridge: $(cat "$netns_tmp/err")"
  ip -n "$sw" link set "${netns_prefix}br" up
  ip -n "$sw" link set lo up
  # The watchdog ends the script with SIGTERM, so its trap still cleans up before any outer
  # timeout (CTest's) kills it with no chance to.
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$limit" &
    s=$!
    wait "$s"
    echo "$(basename "$0"): still running after ${limit} s: stopping" >&2
    kill -TERM $$
  ) &
  _netns_watchdog=$!
}

# No IPv6 on the test's links: no router solicitations or duplicate-address probes to wait for.
_netns_quiet() {
  ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

netns_veth() { echo "${netns_prefix}$1"; }

netns_host() {
  local addr=$2 ns=${netns_prefix}$1 veth sw=${netns_prefix}s
  veth=$(netns_veth "$1")
  if [ $((${#veth} + 1)) -gt 15 ]; then
    echo "netns_host: host name '$1' too long for a link name (${veth}b)" >&2
    exit 1
  fi
  ip netns add "$ns" 2>"$netns_tmp/err" ||
    _netns_skip "ip netns add $ns failed: $(cat "$netns_tmp/err")"
  _netns_names+=("$ns")
  _netns_quiet "$ns"
  ip -n "$sw" link add "${veth}b" type veth peer name "$veth" netns "$ns" 2>"$netns_tmp/err" ||
    _netns_skip "cannot make a veth pair: $(cat "$netns_tmp/err")"
  ip -n "$sw" link set "${veth}b" master "${netns_prefix}br" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" dev "$veth"
  ip -n "$ns" link set "$veth" up
}

netns_exec() {
  local ns=${netns_prefix}$1
  shift
  ip netns exec "$ns" "$@"
}

netns_spawn() {
  local ns=${netns_prefix}$1 log=$2
  shift 2
  # `ip netns exec` execs CMD, so $! is CMD's own pid.
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  netns_pid=$!
  _netns_pids+=("$netns_pid")
}

# Exited: no such process, or a zombie not yet reaped (`kill -0` still reaches those).
_netns_gone() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  [ "${stat:0:1}" = Z ]
}

netns_stop() {
  local pid=$1 seconds=${2:-3} rc=0
  kill -TERM "$pid" 2>/dev/null || true
  wait_until "$seconds" _netns_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

netns_link() {
  ip -n "${netns_prefix}$1" link set "$(netns_veth "$1")" "$2"
}

netns_shape() {
  local name=$1 veth
  shift
  veth=$(netns_veth "$name")
  ip netns exec "${netns_prefix}$name" tc qdisc add dev "$veth" root "$@" &&
    ip netns exec "${netns_prefix}s" tc qdisc add dev "${veth}b" root "$@"
}

netns_unshape() {
  local veth
  veth=$(netns_veth "$1")
  ip netns exec "${netns_prefix}$1" tc qdisc del dev "$veth" root 2>/dev/null || true
  ip netns exec "${netns_prefix}s" tc qdisc del dev "${veth}b" root 2>/dev/null || true
}

netns_cleanup() {
  local rc=$? pid ns i
  trap - EXIT INT TERM HUP
  if [ -n "$_netns_watchdog" ]; then
    kill -TERM "$_netns_watchdog" 2>/dev/null || true
    wait "$_netns_watchdog" 2>/dev/null || true
  fi
  for pid in "${_netns_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${_netns_pids[@]}"; do
    wait_until 3 _netns_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  # Whatever else runs in the test's namespaces (a child of a process above) goes too.
  for ns in "${_netns_names[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  # Hosts first, the switch (made first) last; deleting a namespace deletes its links, and a
  # veth pair goes with either end.
  for ((i = ${#_netns_names[@]} - 1; i >= 0; i--)); do
    ip netns del "${_netns_names[i]}" 2>/dev/null ||
      echo "$(basename "$0"): could not delete namespace ${_netns_names[i]}" >&2
  done
  if [ "${NETNS_KEEP_TMP:-0}" = 1 ]; then
    echo "$(basename "$0"): kept $netns_tmp (NETNS_KEEP_TMP=1)" >&2
  elif [ -n "$netns_tmp" ]; then
    rm -rf "$netns_tmp"
  fi
  exit "$rc"
}
