#!/usr/bin/env python3
"""The seed's own answer to the job, made real: one slotted dataclass per user, every image
downloaded with urllib.request inside asyncio.to_thread, all gathered with asyncio.gather (so
the default thread pool, min(32, cores + 4) threads, does the downloads), then
multiprocessing.Pool().starmap (one process per core) over a function that opens each image
with Pillow, applies ImageFilter.GaussianBlur(RADIUS) and saves it as JPEG (quality 85, as
pixelmill's default) to OUT/images/<id>.jpg. A failed download is counted and skipped.

Usage: baseline_seed.py USERS.jsonl OUT [RADIUS]
Prints JSON: {"users", "ok", "failed", "seconds", "download_seconds", "filter_seconds",
"threads", "processes", "pillow"}; seconds is loading through the last file written.
"""
import asyncio
import concurrent.futures
import io
import json
import multiprocessing
import os
import sys
import time
import urllib.request
from dataclasses import dataclass

import PIL
from PIL import Image, ImageFilter


@dataclass(slots=True)
class User:
    name: str
    id: int
    image_url: str
    image: bytes | None = None
    error: str | None = None


def download(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


async def fetch(user):
    try:
        user.image = await asyncio.to_thread(download, user.image_url)
    except Exception as error:  # the seed records the failure and goes on
        user.error = str(error)


async def fetch_all(users):
    await asyncio.gather(*(fetch(user) for user in users))


def blur_and_save(user_id, data, radius, folder):
    image = Image.open(io.BytesIO(data))
    image = image.filter(ImageFilter.GaussianBlur(radius))
    image.save(os.path.join(folder, f"{user_id}.jpg"), "JPEG", quality=85)


def main():
    users_path, out = sys.argv[1], sys.argv[2]
    radius = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    folder = os.path.join(out, "images")
    os.makedirs(folder, exist_ok=True)
    start = time.perf_counter()
    with open(users_path, "rb") as f:
        users = [User(d["name"], d["id"], d["image_url"]) for d in map(json.loads, f)]
    asyncio.run(fetch_all(users))
    downloaded = time.perf_counter()
    ok = [u for u in users if u.image is not None]
    with multiprocessing.Pool() as pool:
        pool.starmap(blur_and_save, [(u.id, u.image, radius, folder) for u in ok])
    end = time.perf_counter()
    # What asyncio.to_thread used: the loop's default executor.
    threads = concurrent.futures.ThreadPoolExecutor()._max_workers
    print(json.dumps({
        "users": len(users),
        "ok": len(ok),
        "failed": len(users) - len(ok),
        "seconds": end - start,
        "download_seconds": downloaded - start,
        "filter_seconds": end - downloaded,
        "threads": threads,
        "processes": os.cpu_count(),
        "pillow": PIL.__version__,
    }))


if __name__ == "__main__":
    main()
