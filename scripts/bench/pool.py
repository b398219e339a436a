"""bench.sh pool: the worker pool's round trips beside raw ZeroMQ echo and Python's Pool;
CurveZMQ's cost over tcp, and what peers the allow-list refuses cost a run.

Usage: pool.py POOL.json PYTHON_POOL.json (dispatch_bench's and baseline_pool.py's output)
"""
import json, sys
from table import row
rows = {b["name"].split("/iterations")[0]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
python = json.load(open(sys.argv[2]))["msgs_per_s"]
def rate(name): return rows[name]["msgs_per_s"]
for size, label, target in (("64", "tiny no-op jobs (64 B)", 0.5), ("65536", "64 KiB jobs", 0.8)):
    pool = rate(f"BM_PoolRoundTrip/{size}/2")
    threads = rate(f"BM_RawEchoThreads/{size}/2")
    procs = rate(f"BM_RawEchoProcesses/{size}/2")
    print(f"  {label}: pixelmill {pool:,.0f} msg/s; raw echo threads {threads:,.0f} "
          f"(ratio {pool / threads:.2f}x), raw echo processes {procs:,.0f} (ratio {pool / procs:.2f}x); target >= {target}x")
    if size == "64":
        row("dispatch: msg/s, pool / Python Pool.starmap", pool / python, ">=1")
    row(f"dispatch: msg/s, pool / raw ZeroMQ echo ({label})", pool / threads, f">={target}")
    if size == "64":
        print(f"    python Pool.starmap(chunksize=1): {python:,.0f} msg/s; pixelmill is {pool / python:.1f}x faster")
    if size == "65536":
        print(f"    bandwidth: pixelmill {pool * 65536 / 1e6:,.0f} MB/s, raw {threads * 65536 / 1e6:,.0f} MB/s")
for n in (1, 2, 8):
    if f"BM_PoolStartup/{n}" not in rows:  # bench.sh --quick runs a part
        continue
    print(f"  pool start-up, {n} worker(s): {rows[f'BM_PoolStartup/{n}']['real_time']:.1f} ms until all joined")
for size, label in (("65536", "64 KiB jobs"), ("524288", "512 KiB jobs")):
    if f"BM_CurveRoundTrip/{size}" not in rows:
        continue
    curve = rows[f"BM_CurveRoundTrip/{size}"]
    print(f"  CurveZMQ, {label} over tcp://127.0.0.1: CURVE {curve['msgs_per_s']:,.0f} msg/s "
          f"({curve['bytes_per_second'] / 1e6:,.0f} MB/s), plain {curve['plain_msgs_per_s']:,.0f} msg/s "
          f"({curve['plain_bytes_per_s'] / 1e6:,.0f} MB/s) (ratio {curve['msgs_per_s'] / curve['plain_msgs_per_s']:.2f}x)")
for pause, label in (("2000", "retrying as workers do (every 2 s)"), ("0", "flooding (again at once)")):
    if f"BM_RejectedPeers/65536/50/{pause}" not in rows:
        continue
    hammered = rows[f"BM_RejectedPeers/65536/50/{pause}"]
    rate, quiet, refused = hammered["msgs_per_s"], hammered["quiet_msgs_per_s"], hammered["refused_per_s"]
    print(f"  50 rejected peers {label}, CURVE, 64 KiB jobs: {rate:,.0f} msg/s, "
          f"{quiet:,.0f} without (slow-down {(1 - rate / quiet) * 100:.1f} %)")
    cpu, quiet_cpu = hammered["cpu_us_per_job"], hammered["quiet_cpu_us_per_job"]
    per_refusal = (cpu - quiet_cpu) * rate / refused if refused else 0
    print(f"    {refused:,.0f} handshakes refused/s; coordinator CPU {cpu:,.0f} us/job, {quiet_cpu:,.0f} without "
          f"(about {per_refusal:,.0f} us per refusal; the peers' own CPU shares this machine)")
