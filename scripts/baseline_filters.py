#!/usr/bin/env python3
"""The textbook Python answer to the filter job, on the same JPEG files pixelmill processes:
multiprocessing.Pool(2).starmap over a function that opens the JPEG bytes with Pillow, applies
ImageFilter.GaussianBlur(5) (or Image.thumbnail((256, 256))), and saves JPEG (quality 85, as
pixelmill's default) to bytes, which go back to the parent.

Usage: baseline_filters.py DIR [blur:5|thumbnail:256] [JOBS]
Reads every *.jpg in DIR and cycles through them until JOBS images (default 1000) are done.
The pool's start-up is outside the timing. Prints JSON:
{"filter", "images_per_s", "ms_per_image_per_core", "images", "seconds", "processes", "pillow"}.
"""
import io
import json
import multiprocessing
import pathlib
import sys
import time

import PIL
from PIL import Image, ImageFilter

PROCESSES = 2


def blur(data, radius):
    image = Image.open(io.BytesIO(data))
    image = image.filter(ImageFilter.GaussianBlur(radius))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def thumbnail(data, size):
    image = Image.open(io.BytesIO(data))
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def main():
    folder = pathlib.Path(sys.argv[1])
    spec = sys.argv[2] if len(sys.argv) > 2 else "blur:5"
    jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    name, _, argument = spec.partition(":")
    function = {"blur": blur, "thumbnail": thumbnail}[name]
    argument = float(argument) if name == "blur" else int(argument)
    files = [p.read_bytes() for p in sorted(folder.glob("*.jpg"))]
    if not files:
        sys.exit(f"baseline_filters.py: no .jpg files in {folder}")
    work = [(files[i % len(files)], argument) for i in range(jobs)]
    with multiprocessing.Pool(PROCESSES) as pool:
        pool.starmap(function, work[:PROCESSES * 4])  # start-up out of the timing
        start = time.perf_counter()
        results = pool.starmap(function, work)
        seconds = time.perf_counter() - start
    assert all(r[:2] == b"\xff\xd8" for r in results)
    print(json.dumps({
        "filter": spec,
        "images_per_s": jobs / seconds,
        "ms_per_image_per_core": 1000 * seconds * PROCESSES / jobs,
        "images": jobs,
        "seconds": seconds,
        "processes": PROCESSES,
        "pillow": PIL.__version__,
    }))


if __name__ == "__main__":
    main()
