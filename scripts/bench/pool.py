"""bench.sh pool: the worker pool's round trips beside raw ZeroMQ echo and Python's Pool.

Usage: pool.py POOL.json PYTHON_POOL.json (dispatch_bench's and baseline_pool.py's output)
"""
import json, sys
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
        print(f"    python Pool.starmap(chunksize=1): {python:,.0f} msg/s; pixelmill is {pool / python:.1f}x faster")
    if size == "65536":
        print(f"    bandwidth: pixelmill {pool * 65536 / 1e6:,.0f} MB/s, raw {threads * 65536 / 1e6:,.0f} MB/s")
for n in (1, 2, 8):
    print(f"  pool start-up, {n} worker(s): {rows[f'BM_PoolStartup/{n}']['real_time']:.1f} ms until all joined")
