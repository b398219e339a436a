"""bench.sh http2: users/s, connections and p99 download time under --http-version 1.1 and auto
(HTTP/2), medians of the repeats at each --per-host, and the ratios auto / 1.1.

Usage: http2.py WORK REPEATS (WORK/http2-PERHOST-VERSION-R.json)
"""
import json
import statistics
import sys

from table import row

work, repeats = sys.argv[1], int(sys.argv[2])
print(f"  {'--per-host':10} {'version':8} {'users/s':>9} {'connections':>12} {'p99 s':>7} "
      f"{'over HTTP/2':>12}")
for per_host in (64, 256):
    medians = {}
    for version in ("1.1", "auto"):
        runs = [json.load(open(f"{work}/http2-{per_host}-{version}-{r}.json"))
                for r in range(1, repeats + 1)]
        ups = statistics.median(run["users_per_second"] for run in runs)
        conns = statistics.median(run["download"]["connections"] for run in runs)
        p99 = statistics.median(run["download"]["p99_s"] for run in runs)
        h2 = statistics.median(run["download"]["http_versions"]["2"] for run in runs)
        medians[version] = (ups, conns, p99)
        print(f"  {per_host:<10} {version:8} {ups:9.0f} {conns:12.0f} {p99:7.3f} {h2:12.0f}")
    ratio = medians["auto"][0] / medians["1.1"][0]
    print(f"  per-host {per_host}: HTTP/2 / HTTP/1.1 users/s {ratio:.3f}, connections "
          f"{medians['auto'][1]:.0f} vs {medians['1.1'][1]:.0f}, p99 "
          f"{medians['auto'][2] / medians['1.1'][2]:.3f}")
    row(f"http2: users/s at 100 ms, HTTP/2 / HTTP/1.1 keep-alive, --per-host {per_host}",
        ratio, ">=0.95")
