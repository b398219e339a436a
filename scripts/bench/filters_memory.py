"""bench.sh filters_memory: a worker's resident memory over the run, by allocator.

Usage: filters_memory.py RSS.txt USERS JEMALLOC (lines "label rss_1k rss_half rss_end hwm mapped")
"""
import sys
n = int(sys.argv[2])
labels = {"glibc": "glibc malloc (default)", "MALLOC_ARENA_MAX=2": "glibc, MALLOC_ARENA_MAX=2",
          "jemalloc": f"LD_PRELOAD={sys.argv[3]}"}
def mib(kb): return f"{int(kb) / 1024:6.1f} MiB" if kb.isdigit() else "     ? MiB"
print(f"  {'allocator':<52} {'~1,000':>10} {f'~{n // 2:,}':>10} {f'~{n:,}':>10} {'peak':>10}  growth")
for line in open(sys.argv[1]):
    label, r1, r2, r3, hwm, je = line.split()
    growth = f"{(int(r3) - int(r1)) / 1024:+.1f} MiB" if r1.isdigit() and r3.isdigit() else "?"
    note = "" if label != "jemalloc" or je == "yes" else "  (jemalloc NOT mapped in the worker!)"
    print(f"  {labels[label]:<52} {mib(r1)} {mib(r2)} {mib(r3)} {mib(hwm)}  {growth}{note}")
