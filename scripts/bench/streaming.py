"""bench.sh streaming: overlap of downloads and filters, peak RSS against users, --durable.

Usage: streaming.py STREAMING.txt DURABLE.txt BIG_USERS (lines "label values...")
"""
import sys

from table import row
rows = {}
for line in open(sys.argv[1]):
    label, *values = line.split()
    rows[label] = [float(v) for v in values]
durable = {}
for line in open(sys.argv[2]):
    label, *values = line.split()
    durable.setdefault(label, []).append([float(v) for v in values])
for label, runs in durable.items():
    rows[label] = sorted(runs)[len(runs) // 2]  # the median run by wall time
big = int(sys.argv[3])
mib = lambda b: b / (1 << 20)
both, dl, filt = rows["both"][0], rows["download"][0], rows["filter"][0]
print(f"  {'run':<52} {'wall s':>8} {'peak RSS':>10} {'images':>10} {'ok':>8}")
for label, text in (("both", "200 users: 100 ms downloads + sleep:100, 10 workers"),
                    ("download", "  download only (--filter none)"),
                    ("filter", "  filter only (zero latency)"),
                    ("rss10k", "10,000 users, --filter none --max-memory 64M"),
                    ("rssbig", f"{big:,} users, --filter none --max-memory 64M"),
                    ("default", "10,000 users, --filter none, on disk (median of 3)"),
                    ("durable", "  the same with --durable")):
    wall, rss, ok, failed, images = rows[label]
    note = "" if failed == 0 else f"  ({failed:.0f} failed!)"
    print(f"  {text:<52} {wall:8.2f} {mib(rss):6.1f} MiB {mib(images):6.1f} MiB {ok:8.0f}{note}")
row("overlap: end to end / max(download, filter)", both / max(dl, filt), "<=1.1")
print(f"  overlap: end to end / max(download only, filter only) = {both / max(dl, filt):.2f} (target <= 1.1)")
store = rows["store"][0]
diff = rows["rssbig"][1] - rows["rss10k"][1]
images = rows["rssbig"][4] - rows["rss10k"][4]
row(f"streaming: peak RSS, {big:,} users - 10,000, / the store's bytes", diff / store, "<=1.5")
print(f"  peak RSS {big:,} - 10,000 users = {mib(diff):.1f} MiB; the store of {big:,} users is "
      f"{mib(store):.1f} MiB; ratio {diff / store:.2f} (target <= 1.5: the images stream through the same budget; loading also "
      f"holds the duplicate-id hash and line positions for a moment)")
print(f"    of the difference: store {mib(store):.1f} MiB, more image bytes held (peak, within the budget) "
      f"{mib(images):.1f} MiB, the rest {mib(diff - store - images):.1f} MiB; loading alone (--dry-run) "
      f"peaks at {mib(rows['loadpeak'][0]):.1f} MiB")
walls = lambda label: ", ".join(f"{run[0]:.2f}" for run in durable[label])
print(f"  --durable / default wall = {rows['durable'][0] / rows['default'][0]:.2f} (medians; default "
      f"{walls('default')} s, --durable {walls('durable')} s)")
