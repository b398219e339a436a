"""bench.sh proof: the pipeline against --sequential and the seed's Python, min and median.

Usage: proof.py PROOF.txt DRY.txt STORE.json REPEATS (lines "mode users seconds ok")
"""
import json, re, statistics, sys
from table import row
runs = {}
for line in open(sys.argv[1]):
    mode, n, seconds, ok = line.split()
    runs.setdefault((mode, int(n)), []).append((float(seconds), int(ok)))
repeats = int(sys.argv[4])
def stat(mode, n):
    r = runs.get((mode, n))
    if not r:
        return None
    walls = [s for s, _ in r]
    bad = [ok for _, ok in r if ok != n]
    return min(walls), statistics.median(walls), bad
print(f"  {'run':<52} {'min s':>8} {'median s':>9} {'ratio (median)':>16}")
for n in (20, 200):
    pipe = stat("pipeline", n)
    for mode, label in (("pipeline", f"pipeline, {n} users"),
                        ("sequential", f"  --sequential, {n} users"),
                        ("python", f"  seed Python (to_thread+gather, Pool), {n} users")):
        s = stat(mode, n)
        if s is None:
            continue
        ratio = "" if mode == "pipeline" else f"{s[1] / pipe[1]:.1f}x slower"
        if mode != "pipeline":
            row(f"pipeline vs {'--sequential' if mode == 'sequential' else 'seed Python'}, {n} users "
                "(x faster, median)", s[1] / pipe[1], ">=5" if mode == "sequential" else ">=2")
        warn = f"  (WARNING: ok {s[2]} of {n})" if s[2] else ""
        print(f"  {label:<52} {s[0]:8.2f} {s[1]:9.2f} {ratio:>16}{warn}")
cpu = [k for k in runs if k[0] == "cpu_pipeline"]
if cpu:
    n = cpu[0][1]
    pipe, py = stat("cpu_pipeline", n), stat("cpu_python", n)
    print("  CPU-bound: zero-latency server, photos at their own sizes, blur:5, 2 workers vs Pool(2)")
    for label, s in ((f"pipeline, {n} users", pipe), (f"  seed Python (Pool(2)), {n} users", py)):
        if s is None:
            continue
        ratio = "" if s is pipe else f"{s[1] / pipe[1]:.2f}x slower"
        if s is not pipe:
            row(f"pipeline vs seed Python Pool(2)+Pillow, CPU-bound (x faster)", s[1] / pipe[1], ">=2")
        warn = f"  (WARNING: ok {s[2]} of {n})" if s[2] else ""
        print(f"  {label:<52} {s[0]:8.2f} {s[1]:9.2f} {ratio:>16}{warn}")
dry = open(sys.argv[2]).read()
per_user = float(re.search(r"store bytes/user:\s+([\d.]+)", dry).group(1))
store = json.load(open(sys.argv[3]))
print("  the seed's test cases, as pixelmill numbers:")
print(f"    bytes per user record (100k seed-shaped users): store {per_user:.1f} B; slotted dataclass "
      f"{store['slots_bytes_per_user']:.1f} B ({store['slots_bytes_per_user'] / per_user:.1f}x more)")
p, q = stat("dl10_pipeline", 10), stat("dl10_sequential", 10)
print(f"    10 downloads at 100 ms (--filter none): pipeline wall {p[0]:.3f} s min, {p[1]:.3f} s median "
      f"({p[1] / 0.1:.2f}x the ideal 0.1 s); --sequential {q[1]:.3f} s ({q[1] / p[1]:.1f}x the pipeline)")
p, q, e = stat("jobs4_pipeline", 4), stat("jobs4_sequential", 4), stat("jobs4_pipeline8", 8)
print(f"    4 x 200 ms jobs (sleep:200) on 4 workers: pipeline wall {p[0]:.3f} s min, {p[1]:.3f} s median "
      f"(spawning the workers included; --sequential {q[1]:.3f} s, {q[1] / p[1]:.1f}x); 8 jobs take "
      f"{e[1]:.3f} s: the second wave of 4 adds {e[1] - p[1]:.3f} s (ideal 0.2 s, one at a time 0.8 s)")
