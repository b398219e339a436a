"""bench.sh hosts: the dead-host run's wall time, failures, manifest lines and requests.

Usage: hosts.py WORK SECONDS USERS (report.json and out/manifest.jsonl in WORK)
"""
import json, sys
r = json.load(open(f"{sys.argv[1]}/report.json"))
lines = sum(1 for _ in open(f"{sys.argv[1]}/out/manifest.jsonl"))
print(f"  {float(sys.argv[2]):7.1f} s, {r['failed']} of {sys.argv[3]} failed, {lines} manifest lines, "
      f"{r['download']['requests']} requests")
