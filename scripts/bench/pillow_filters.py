#!/usr/bin/env python3
"""bench.sh filters: Pillow's cost per image, in process, one thread, on each given photo.

For every file and every filter: open the JPEG bytes, apply the filter, save JPEG quality 85 to
bytes (what a worker does: decode, filter, encode), repeated for at least MIN_TIME seconds after
one warm-up; the figure is the process's CPU time per image (on a shared machine, wall time
counts the neighbours' work too). The filters, as a Pillow user writes them:
  blur:5         ImageFilter.GaussianBlur(5)
  sharpen:1      ImageFilter.UnsharpMask(radius=1)
  grayscale      Image.convert("L")
  sepia:1        Image.convert("RGB", the usual sepia matrix)
  thumbnail:256  Image.thumbnail((256, 256)) (JPEG draft mode: Pillow shrinks on load too)

Usage: pillow_filters.py MIN_TIME SPEC[;SPEC...] FILE...
Prints JSON: {"pillow": VERSION, "ms": {"<file stem>": {"<spec>": CPU ms per image}}}.
"""
import io
import json
import pathlib
import sys
import time

import PIL
from PIL import Image, ImageFilter

SEPIA = (0.393, 0.769, 0.189, 0,
         0.349, 0.686, 0.168, 0,
         0.272, 0.534, 0.131, 0)


def apply(image, spec):
    name, _, argument = spec.partition(":")
    if name == "blur":
        return image.filter(ImageFilter.GaussianBlur(float(argument)))
    if name == "sharpen":
        return image.filter(ImageFilter.UnsharpMask(radius=float(argument)))
    if name == "grayscale":
        return image.convert("L")
    if name == "sepia":
        strength = float(argument or 1)
        matrix = tuple((1 - strength) * (i % 5 == 0) + strength * m for i, m in enumerate(SEPIA))
        return image.convert("RGB", matrix)
    if name == "thumbnail":
        side = int(argument)
        image.thumbnail((side, side))
        return image
    sys.exit(f"pillow_filters.py: no Pillow equivalent for {spec}")


def run(data, spec):
    image = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    apply(image, spec).save(out, "JPEG", quality=85)
    return out.getvalue()


def ms_per_image(data, spec, min_time):
    run(data, spec)  # warm-up
    n, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        run(data, spec)
        n += 1
        if time.perf_counter() - start >= min_time:
            return 1000 * (time.process_time() - cpu_start) / n


def main():
    min_time, specs, files = float(sys.argv[1]), sys.argv[2].split(";"), sys.argv[3:]
    result = {}
    for file in files:
        data = pathlib.Path(file).read_bytes()
        result[pathlib.Path(file).stem] = {spec: ms_per_image(data, spec, min_time) for spec in specs}
    print(json.dumps({"pillow": PIL.__version__, "ms": result}))


if __name__ == "__main__":
    main()
