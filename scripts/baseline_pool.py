#!/usr/bin/env python3
"""The textbook Python worker pool on the same no-op job: multiprocessing.Pool(2).starmap with
chunksize=1, 64-byte payloads. Prints {"msgs_per_s": ...}."""
import json
import multiprocessing
import time


def noop(index, payload):
    return payload


def main():
    jobs = 50000
    payload = b"x" * 64
    with multiprocessing.Pool(2) as pool:
        pool.starmap(noop, [(0, payload)] * 200, chunksize=1)  # start-up out of the timing
        start = time.perf_counter()
        pool.starmap(noop, [(i, payload) for i in range(jobs)], chunksize=1)
        seconds = time.perf_counter() - start
    print(json.dumps({"msgs_per_s": jobs / seconds}))


if __name__ == "__main__":
    main()
