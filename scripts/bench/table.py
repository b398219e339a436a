"""bench.sh's closing table: every row a ratio measured side by side in the same run, with its
target and whether it is met. The benchmarks add rows as they finish (row(), or
`table.py add NAME RATIO TARGET` from a shell benchmark) to $BENCH_TABLE; bench.sh prints them
all at the end (`table.py print FILE`) and keeps the file with its results.

RATIO is pixelmill's advantage or cost as a plain number; TARGET is '>=X' or '<=X'.
"""
import os
import sys


def row(name, ratio, target):
    path = os.environ.get("BENCH_TABLE")
    if not path:
        return
    with open(path, "a") as f:
        f.write(f"{name}\t{ratio:.3f}\t{target}\n")


def met(ratio, target):
    bound = float(target[2:])
    return ratio >= bound if target.startswith(">=") else ratio <= bound


def show(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    width = max([len(r[0]) for r in rows] + [len("benchmark")])
    print(f"\n{'benchmark':<{width}}  {'ratio':>8}  {'target':>8}  met")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 8}  ---")
    for name, ratio, target in rows:
        print(f"{name:<{width}}  {float(ratio):8.2f}  {target:>8}  {'yes' if met(float(ratio), target) else 'NO'}")
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "add":
        row(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 3 and sys.argv[1] == "print":
        show(sys.argv[2])
    else:
        sys.exit("usage: table.py add NAME RATIO '>=X'|'<=X' | table.py print FILE")
