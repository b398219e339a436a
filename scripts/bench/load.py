"""bench.sh load: the store's bytes per user and the load rate, beside the Python baselines.

Usage: load.py WORK (load.json, python.json and dry.txt in WORK)
"""
import json, re, sys
from table import row
work = sys.argv[1]
b = json.load(open(f"{work}/load.json"))["benchmarks"][0]
py = json.load(open(f"{work}/python.json"))
dry = open(f"{work}/dry.txt").read()
mb_s = b["bytes_per_second"] / 1e6
per_user = b["store_bytes_per_user"]
dry_per_user = float(re.search(r"store bytes/user:\s+([\d.]+)", dry).group(1))
print(f"  pixelmill store        {per_user:7.1f} B/user   (dry-run reports {dry_per_user:.1f}; target <= 82)")
print(f"  python slots dataclass {py['slots_bytes_per_user']:7.1f} B/user   ratio {py['slots_bytes_per_user'] / per_user:.2f}x smaller")
print(f"  python dicts           {py['dict_bytes_per_user']:7.1f} B/user   ratio {py['dict_bytes_per_user'] / per_user:.2f}x smaller")
print(f"  pixelmill load         {mb_s:7.1f} MB/s     (target >= 300)")
row("load: bytes/user, slotted dataclass / store (x smaller)", py["slots_bytes_per_user"] / per_user, ">=2")
row("load: MB/s, store / Python json.loads", mb_s / py["load_mb_per_s"], ">=2")
print(f"  python json.loads      {py['load_mb_per_s']:7.1f} MB/s     ratio {mb_s / py['load_mb_per_s']:.1f}x faster")
