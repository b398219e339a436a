"""bench.sh streaming: runs COORDINATOR --input USERS --dry-run into DRY.txt; prints its peak
RSS in bytes.

Usage: peak_rss.py COORDINATOR USERS DRY.txt
"""
import resource, subprocess, sys
with open(sys.argv[3], "w") as out:
    subprocess.run([sys.argv[1], "--input", sys.argv[2], "--dry-run"], stdout=out, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
