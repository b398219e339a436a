#!/usr/bin/env python3
"""The textbook Python baseline for loading users, measured on the same file pixelmill loads.

Prints one JSON line: bytes/user held by a list of dataclass(slots=True) objects and by a list
of dicts (tracemalloc, strings included), and the load rate in MB/s with json.loads per line.
Usage: baseline_store.py USERS.jsonl
"""
import json
import sys
import time
import tracemalloc
from dataclasses import dataclass


@dataclass(slots=True)
class User:
    name: str
    id: int
    image_url: str


def measure(path, make):
    tracemalloc.start()
    start = time.perf_counter()
    users = []
    with open(path, "rb") as f:
        for line in f:
            users.append(make(json.loads(line)))
    seconds = time.perf_counter() - start
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current / len(users), seconds, len(users)


def main():
    path = sys.argv[1]
    size = sum(len(line) for line in open(path, "rb"))
    slots, _, n = measure(path, lambda d: User(d["name"], d["id"], d["image_url"]))
    dicts, _, _ = measure(path, lambda d: d)
    # Load speed without tracemalloc's overhead.
    start = time.perf_counter()
    with open(path, "rb") as f:
        users = [User(**json.loads(line)) for line in f]
    seconds = time.perf_counter() - start
    print(json.dumps({"users": n, "slots_bytes_per_user": round(slots, 1),
                      "dict_bytes_per_user": round(dicts, 1),
                      "load_mb_per_s": round(size / 1e6 / seconds, 1), "check": len(users)}))


if __name__ == "__main__":
    main()
