# shellcheck shell=bash
# A private Slurm cluster on this machine, for tests: its own munged, slurmctld and one slurmd per
# node, every file (keys, configuration, state, spool, logs, pid files) in the test's temp folder,
# nothing read from or written to /etc/slurm, /etc/munge or /var, and no system daemon used (the
# packages' own services are neither needed nor disturbed: the cluster has its own munge socket,
# ports and cluster name). Sourced by slurm_test.sh, never run.
#
# Each node is a host of netns_lib.sh: a network namespace on a private bridge (10.214.0.0/24),
# so a node's jobs, and the pixelmill workers they start, are on a network host of their own, as
# on a real cluster. slurmctld has a namespace of its own too (its address, 10.214.0.1, is only
# reachable on the bridge), so the client commands run there (`slurm CMD`). The one munged is in
# the root namespace: its socket is a file, reached from every namespace.
# SLURM_CLUSTER_LOOPBACK=1 runs every daemon in the root namespace instead: the nodes all at this
# machine's name, each slurmd on a port of its own (the multiple-slurmd layout of Slurm's
# developers), for machines where namespaces cannot be made.
#
#   slurm_cluster_init SECONDS  skips (exit 77, with the reason) without root, namespaces or the
#                            slurm-wlm and munge packages; else netns_init SECONDS (temp folder
#                            $netns_tmp, traps, watchdog) with this file's clean-up in front
#   slurm_cluster_start NODES CPUS
#                            makes and starts the cluster: nodes n1..nNODES of CPUS CPUs each in
#                            one partition ("pm"), and waits (bounded) until every node is idle.
#                            Sets slurm_dir (its folder), slurm_conf, slurm_nodes (n1 n2 ...)
#   slurm CMD ARGS...        runs the Slurm client command CMD (sbatch, squeue, scontrol, ...)
#                            against this cluster (SLURM_CONF, in slurmctld's namespace)
#   slurm_exec NODE CMD...   runs CMD on node NODE (its namespace), with this cluster's SLURM_CONF
#   slurm_node_addr NODE     prints NODE's address (its NodeAddr)
#   slurm_job_gone JOBID     succeeds when no task of job JOBID is pending or running any more
#   slurm_job_field JOBID FIELD
#                            prints FIELD (e.g. JobState, ExitCode) of job JOBID
#                            (`scontrol show job`: kept MinJobAge=600 s after the job ends)
#   slurm_cluster_cleanup    the trap: cancels every job, stops every daemon and every process
#                            whose command line or environment names the cluster's folder, then
#                            netns_cleanup (the rest of the processes, namespaces, temp folder)

# shellcheck source-path=SCRIPTDIR source=../multihost/netns_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../multihost/netns_lib.sh"

slurm_dir=
slurm_conf=
slurm_nodes=()
_slurm_loopback=${SLURM_CLUSTER_LOOPBACK:-0}
_slurm_ctl_addr=10.214.0.1

slurm_cluster_init() {
  local cmd
  [ "$(id -u)" -eq 0 ] || _netns_skip "a private Slurm cluster needs root (uid $(id -u))"
  for cmd in munged mungekey slurmctld slurmd sbatch srun squeue scancel scontrol sinfo; do
    command -v "$cmd" >/dev/null ||
      _netns_skip "no '$cmd': install slurm-wlm and munge (scripts/setup.sh)"
  done
  netns_init "$1"
  trap slurm_cluster_cleanup EXIT
}

# _slurm_spawn WHERE LOG CMD...: CMD in the background in namespace host WHERE ("-": the root
# namespace), its pid in netns_pid and stopped by netns_cleanup.
_slurm_spawn() {
  local where=$1 log=$2
  shift 2
  if [ "$where" = - ]; then
    "$@" >"$log" 2>&1 &
    netns_pid=$!
    _netns_pids+=("$netns_pid")
  else
    netns_spawn "$where" "$log" "$@"
  fi
}

slurm() {
  if [ "$_slurm_loopback" = 1 ]; then
    SLURM_CONF=$slurm_conf "$@"
  else
    SLURM_CONF=$slurm_conf netns_exec ctl "$@"
  fi
}

slurm_exec() {
  local node=$1
  shift
  if [ "$_slurm_loopback" = 1 ]; then
    SLURM_CONF=$slurm_conf "$@"
  else
    SLURM_CONF=$slurm_conf netns_exec "$node" "$@"
  fi
}

slurm_node_addr() {
  slurm scontrol show node "$1" | sed -n 's/^ *NodeAddr=\([^ ]*\).*/\1/p'
}

slurm_job_gone() {
  [ -z "$(slurm squeue -h -j "$1" -t PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED \
    -o %i 2>/dev/null)" ]
}

slurm_job_field() {
  slurm scontrol show job -o "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

# Free TCP ports on loopback (loopback mode: slurmctld's and each slurmd's).
_slurm_free_ports() {
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

_slurm_idle_nodes() {
  [ "$(slurm sinfo -h -N -o '%N %t' 2>/dev/null | grep -c ' idle$')" -eq "${#slurm_nodes[@]}" ]
}

slurm_cluster_start() {
  local count=$1 cpus=$2 host ports ctl_host i node where
  slurm_dir=$netns_tmp/slurm
  slurm_conf=$slurm_dir/slurm.conf
  host=$(hostname)
  # munged wants every folder on its socket's path searchable by all (0711: not listable).
  chmod 0711 "$netns_tmp"
  mkdir -p "$slurm_dir"/{state,log}
  mkdir -m 0711 "$slurm_dir/munge"
  mungekey --create --keyfile="$slurm_dir/munge/munge.key" ||
    { echo "mungekey failed" >&2; exit 1; }
  _slurm_spawn - "$slurm_dir/log/munged.out" munged --foreground \
    --socket="$slurm_dir/munge/socket" --key-file="$slurm_dir/munge/munge.key" \
    --log-file="$slurm_dir/log/munged.log" --pid-file="$slurm_dir/munge/munged.pid" \
    --seed-file="$slurm_dir/munge/seed"
  wait_until 10 test -S "$slurm_dir/munge/socket" ||
    { echo "munged did not start: $(cat "$slurm_dir/log/munged.out")" >&2; exit 1; }

  slurm_nodes=()
  for ((i = 1; i <= count; i++)); do
    slurm_nodes+=("n$i")
    mkdir -p "$slurm_dir/spool/n$i"
  done
  if [ "$_slurm_loopback" = 1 ]; then
    read -r -a ports <<<"$(_slurm_free_ports $((count + 1)))"
    ctl_host=$host
  else
    ports=(6817)
    for node in "${slurm_nodes[@]}"; do ports+=(6818); done
    ctl_host="$host($_slurm_ctl_addr)"
    netns_host ctl "$_slurm_ctl_addr"
  fi
  cat >"$slurm_conf" <<EOF
# A private test cluster (tests/slurm/slurm_cluster.sh); everything in $slurm_dir.
ClusterName=pm$$
SlurmctldHost=$ctl_host
SlurmctldPort=${ports[0]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$slurm_dir/munge/socket
StateSaveLocation=$slurm_dir/state
SlurmdSpoolDir=$slurm_dir/spool/%n
SlurmctldPidFile=$slurm_dir/slurmctld.pid
SlurmdPidFile=$slurm_dir/slurmd-%n.pid
SlurmctldLogFile=$slurm_dir/log/slurmctld.log
SlurmdLogFile=$slurm_dir/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups, no accounting database, no MPI: processes are tracked through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
# Several jobs on one node, by CPU; the configured CPUs count, not the machine's.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
ReturnToService=2
# Ended jobs stay visible to scontrol (their state and exit code) for 10 minutes.
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
EOF
  for ((i = 0; i < count; i++)); do
    node=${slurm_nodes[i]}
    if [ "$_slurm_loopback" = 1 ]; then
      echo "NodeName=$node NodeHostname=$host Port=${ports[i + 1]} CPUs=$cpus RealMemory=1000 State=UNKNOWN"
    else
      echo "NodeName=$node NodeHostname=$node NodeAddr=10.214.0.$((11 + i)) CPUs=$cpus RealMemory=1000 State=UNKNOWN"
    fi
  done >>"$slurm_conf"
  echo "PartitionName=pm Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >>"$slurm_conf"
  # Read beside slurm.conf. No cgroups are used (proctrack/linuxproc, task/none), but slurmd loads
  # the plugin all the same, and its autodetection fails in a namespace (`ip netns exec` mounts a
  # fresh /sys, without /sys/fs/cgroup's mounts): name one.
  echo "CgroupPlugin=cgroup/v1" >"$slurm_dir/cgroup.conf"

  where=-
  [ "$_slurm_loopback" = 1 ] || where=ctl
  SLURM_CONF=$slurm_conf _slurm_spawn "$where" "$slurm_dir/log/slurmctld.out" \
    slurmctld -D -f "$slurm_conf"
  for ((i = 0; i < count; i++)); do
    node=${slurm_nodes[i]}
    if [ "$_slurm_loopback" != 1 ]; then
      netns_host "$node" "10.214.0.$((11 + i))"
      where=$node
    fi
    SLURM_CONF=$slurm_conf _slurm_spawn "$where" "$slurm_dir/log/slurmd-$node.out" \
      slurmd -D -N "$node" -f "$slurm_conf"
  done
  if ! wait_until 40 _slurm_idle_nodes; then
    echo "the Slurm nodes are not all idle after 40 s:" >&2
    slurm sinfo -N >&2
    tail -n 5 "$slurm_dir"/log/*.log "$slurm_dir"/log/*.out >&2
    exit 1
  fi
}

_slurm_no_jobs() { [ -z "$(slurm squeue -h -o %i 2>/dev/null)" ]; }

# Every process whose command line or environment names the cluster's folder, but this shell.
_slurm_leftovers() {
  local f pid
  for f in /proc/[0-9]*; do
    pid=${f#/proc/}
    if [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ]; then continue; fi
    if grep -qsF "$slurm_dir" "$f/cmdline" "$f/environ"; then echo "$pid"; fi
  done
}

slurm_cluster_cleanup() {
  local rc=$? pid pids
  trap - EXIT
  if [ -n "$slurm_dir" ] && [ -S "$slurm_dir/munge/socket" ]; then
    slurm scancel --user="$(id -un)" 2>/dev/null || true
    wait_until 10 _slurm_no_jobs || true
  fi
  # The daemons (and munged last) go with netns_cleanup; slurmstepd and the jobs' processes do
  # not die with slurmd, so everything that carries the folder's name goes first.
  if [ -n "$slurm_dir" ]; then
    pids=$(_slurm_leftovers)
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in $pids; do wait_until 3 _netns_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true; done
  fi
  (exit "$rc")
  netns_cleanup
}
