"""bench.sh shards: the figures of scripts/bench/shards.sh.

shards.py compare ONE ALL ONE_S SHARDS_S: the one run's and the merged shards' manifests line
by line (id, status, bytes), and the wall time ratio.
shards.py merge LEFT LINKED USERS LEFT_S LINKED_S: the merged manifests' line counts and the
merge's time and rate.
"""
import json
import os
import sys

from table import row


def lines(folder):
    out = {}
    with open(os.path.join(folder, "manifest.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            out[record["id"]] = (record["status"], record.get("bytes"))
    return out


def compare(one, merged, one_s, shards_s):
    a, b = lines(one), lines(merged)
    same = a == b
    ok = sum(1 for status, _ in b.values() if status == "ok")
    print(f"  one run:   {len(a)} lines, {float(one_s):.2f} s")
    print(f"  2 shards:  {len(b)} lines ({ok} ok), {float(shards_s):.2f} s (shards side by side,"
          " then merge --link)")
    print(f"  same lines (id, status, bytes): {'yes' if same else 'NO'}")
    row("shards: 2 shards / one run, wall", float(shards_s) / float(one_s), "<=1.1")
    print(f"  ratio 2 shards / one run: {float(shards_s) / float(one_s):.3f}")
    if not same:
        sys.exit(1)


def merge(left, linked, users, left_s, linked_s):
    users = int(users)
    for name, folder, seconds in (("left in place", left, left_s), ("--link", linked, linked_s)):
        count = len(lines(folder))
        print(f"  merge {users} lines, images {name}: {float(seconds):.2f} s "
              f"({users / float(seconds) / 1e6:.2f} M lines/s), {count} lines written")
        if count != users:
            sys.exit(1)


if __name__ == "__main__":
    {"compare": compare, "merge": merge}[sys.argv[1]](*sys.argv[2:])
