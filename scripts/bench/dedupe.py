"""bench.sh dedupe: downloads, filter jobs and wall time with --dedupe off and url, and the ratio.

Usage: dedupe.py WORK (dedupe-off.json, dedupe-url.json and their .seconds files in WORK)
"""
import json
import sys

work = sys.argv[1]
rows = {}
for mode in ("off", "url"):
    report = json.load(open(f"{work}/dedupe-{mode}.json"))
    seconds = float(open(f"{work}/dedupe-{mode}.seconds").read())
    rows[mode] = (report["download"]["requests"], report["workers"]["jobs_sent"], seconds,
                  report["ok"], report["dedupe"]["deduplicated"])
print(f"  {'--dedupe':9} {'downloads':>10} {'filter jobs':>12} {'wall s':>8} {'ok':>8} {'deduplicated':>13}")
for mode, (downloads, jobs, seconds, ok, dedup) in rows.items():
    print(f"  {mode:9} {downloads:10d} {jobs:12d} {seconds:8.2f} {ok:8d} {dedup:13d}")
off, url = rows["off"], rows["url"]
print(f"  url / off: downloads {url[0] / off[0]:.3f}, filter jobs {url[1] / off[1]:.3f}, "
      f"wall {url[2] / off[2]:.3f}")
