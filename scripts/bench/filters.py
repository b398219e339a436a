"""bench.sh filters: the pool's images/s and CPU per image beside RunFilter and Python.

Usage: filters.py WORK USERS (run-SPEC, out-SPEC/, filter_bench.json, python-SPEC.json in WORK)
"""
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
rows = {b["name"].split("/min_time")[0]: b for b in json.load(open(f"{work}/filter_bench.json"))["benchmarks"]}
for spec in ("blur:5", "thumbnail:256"):
    seconds, cpu, api_cpu = map(float, open(f"{work}/run-{spec}").read().split())
    pool = n / seconds
    lines = [json.loads(l) for l in open(f"{work}/out-{spec}/manifest.jsonl")]
    filter_ms = [l["cpu_ms"] for l in lines if "cpu_ms" in l]
    filter_ms = sum(filter_ms) / len(filter_ms) if filter_ms else float("nan")
    file, photo = rows[f"BM_Filter/{spec}/file"], rows[f"BM_Filter/{spec}/photo"]
    total_ms = 1000 * (cpu + api_cpu) / n
    print(f"  {spec}:")
    print(f"    pixelmill pool, 2 workers   {pool:7.1f} images/s   ({n} users in {seconds:.2f} s incl. start-up and "
          f"downloads from image-api)")
    print(f"      CPU per image: filter in the workers {filter_ms:.2f} ms, rest of coordinator + workers "
          f"{1000 * cpu / n - filter_ms:.2f} ms, image-api {1000 * api_cpu / n:.2f} ms; total {total_ms:.2f} ms "
          f"on 2 cores (ceiling {2000 / total_ms:.0f} images/s)")
    print(f"    RunFilter in process        {file['images_per_s']:7.1f} images/s/core "
          f"({file['ms_per_image']:.2f} ms/image, the fixture's {file['in_bytes'] / 1000:.1f} kB JPEG); "
          f"photo-like {photo['in_bytes'] / 1000:.1f} kB JPEG: {photo['images_per_s']:.1f} images/s ({photo['ms_per_image']:.2f} ms)")
    print(f"    pool vs in-process x 2 cores  ratio {pool / (2 * file['images_per_s']):.2f}x (target >= 0.9x)")
    py = json.load(open(f"{work}/python-{spec}.json"))
    if py:
        print(f"    python Pool(2).starmap + Pillow {py['pillow']}  {py['images_per_s']:7.1f} images/s "
              f"({py['ms_per_image_per_core']:.2f} ms/image/core; no download, no file writes); "
              f"pixelmill/python ratio {pool / py['images_per_s']:.2f}x")
print("  reference: libvips blur sigma 5 on a 512x512 JPEG ~ 13 ms/image/core; "
      f"here {rows['BM_Filter/blur:5/photo']['ms_per_image']:.1f} ms (photo-like), "
      f"{rows['BM_Filter/blur:5/file']['ms_per_image']:.1f} ms (fixture)")
