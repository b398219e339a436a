"""demo.sh: the main job's manifest (its failed users) and report, summarised.

Usage: demo_summary.py MANIFEST.jsonl REPORT.json
"""
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
ok = sum(1 for l in lines if l["status"] == "ok")
print(f"== manifest.jsonl: {len(lines)} lines, {ok} ok, {len(lines) - ok} failed:")
for l in sorted((l for l in lines if l["status"] != "ok"), key=lambda l: l["id"]):
    print(f"   {l['id']}: {l['error']['code']}: {l['error']['message'][:160]}")
try:
    r = json.load(open(sys.argv[2]))
    d, w = r["download"], r["workers"]
    print(f"== report.json: {r['wall_seconds']:.1f} s; downloads: {d['requests']} requests, "
          f"{d['retries']} retries, p50 {d['p50_ms']:.0f} ms, p99 {d['p99_ms']:.0f} ms; "
          f"workers: {w['joined']} joined, {w['jobs_sent']} jobs; "
          f"coordinator peak RSS {r['memory']['peak_rss_bytes'] / 2**20:.0f} MiB")
    print("   seconds each stage waited on the next: " +
          ", ".join(f"{k} {v:.1f}" for k, v in r["waits"].items()))
except (OSError, KeyError, ValueError) as e:
    print(f"== report.json: cannot summarise it ({e!r})")
