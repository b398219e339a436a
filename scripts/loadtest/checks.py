"""What a point measured (its row) and the invariants every point must keep."""

import math
import os
import random
import time
from collections import Counter

from procs import alive
from results import json_lines

# The manifest code each fault of the fixture's mix ends in ("ok": retried or followed to an
# image). With --filter none no worker decodes the image, but the coordinator still checks its
# header (a corrupt body is not_image, a bomb too_many_pixels), so the map is the same.
KIND_CODE = {
    "5xx": "http_status", "404": "http_status", "429": "ok", "reset": "connect",
    "truncate": "truncated", "hang": "timeout", "slow": "ok", "redirect": "ok",
    "corrupt": "not_image", "hostile": "too_many_pixels",
}


def read_manifest(out):
    """Lines per id, and per-code counts of each id's last line."""
    lines = Counter()
    last = {}
    for record in json_lines(os.path.join(out, "manifest.jsonl")):
        lines[record.get("id")] += 1
        last[record.get("id")] = record
    return lines, last


def _pct(h, q):
    return (h or {}).get(f"p{q}_s", 0.0)


def measure(point, manifest):
    lines, last = manifest
    users = point.users
    ids = range(point.first_id, point.first_id + users)
    codes = Counter()
    ok = 0
    for uid in ids:
        record = last.get(uid)
        if record is None:
            continue
        if record.get("status") == "ok":
            ok += 1
        else:
            codes[record.get("error", {}).get("code", "unknown")] += 1
    lost = sum(1 for uid in ids if uid not in lines)
    duplicated = sum(n - 1 for n in lines.values() if n > 1)
    stray = sum(1 for uid in lines if not (isinstance(uid, int) and point.first_id <= uid < point.first_id + users))
    report = point.read_report() or {}
    d = report.get("download", {})
    e2e = report.get("end_to_end", {})
    cpu = report.get("filter_cpu", {})
    wall = point.wall_s()
    coordinator_kb = max([s[1] for s in point.samples], default=0)
    worker_kb = max([s[2] for s in point.samples], default=0)
    peak = max(coordinator_kb * 1024, report.get("memory", {}).get("peak_rss_bytes", 0))
    row = {
        "users": users, "ok": ok, "failed": sum(codes.values()), "lost": lost,
        "duplicated": duplicated, "stray": stray, "wall_s": round(wall, 3),
        "users_per_s": round(users / wall, 2) if wall > 0 else 0.0,
        "p50_end_to_end_s": _pct(e2e, 50), "p90_end_to_end_s": _pct(e2e, 90),
        "p99_end_to_end_s": _pct(e2e, 99),
        "p50_download_s": _pct(d, 50), "p99_download_s": _pct(d, 99),
        "p50_slot_wait_s": _pct(d.get("slot_wait"), 50), "p99_slot_wait_s": _pct(d.get("slot_wait"), 99),
        "p50_transfer_s": _pct(d.get("transfer"), 50), "p99_transfer_s": _pct(d.get("transfer"), 99),
        "p50_filter_cpu_s": _pct(cpu, 50), "p99_filter_cpu_s": _pct(cpu, 99),
        "peak_rss_mb": round(peak / 2**20, 1), "peak_worker_rss_mb": round(worker_kb / 1024, 1),
        "workers": report.get("workers", {}).get("most_connected", 0),
        "retries": d.get("retries", 0), "requests": d.get("requests", 0),
        "verdict": report.get("verdict", {}).get("bound", ""),
        "exit_codes": " ".join(str(c) for c in point.exit_codes),
        "failed_by_code": dict(codes),
    }
    return row


def _soak_growth(samples, column, warmup_s):
    after = [s[column] for s in samples if s[0] >= warmup_s and s[column] > 0]
    if len(after) < 6:
        return None
    first = sorted(after[:3])[1]
    end = sorted(after[-3:])[1]
    return (end / first - 1) * 100


def invariants(point, row, manifest, tolerance_pct, decode_sample, finished):
    """[(name, held, detail)]: what every point must keep."""
    out = []
    final = point.exit_codes[-1] if point.exit_codes else None
    out.append(("completed", finished and final in (0, 3),
                f"exit codes {row['exit_codes'] or 'none'}" + ("" if finished else "; stopped at the point's time limit")))
    out.append(("one_line_per_user", row["lost"] == 0 and row["stray"] == 0,
                f"{row['lost']} user(s) without a line, {row['stray']} line(s) for unknown ids"))
    out.append(("no_duplicates", row["duplicated"] == 0, f"{row['duplicated']} extra line(s)"))
    out.append(_decode_check(point, manifest, decode_sample))
    out.append(_mix_check(point, row, tolerance_pct))
    out.append(_orphan_check(point))
    temps = []
    for root, _, files in os.walk(point.out):
        temps += [os.path.join(root, f) for f in files if f.startswith(".") and f.endswith(".tmp")]
    out.append(("no_temp_files", not temps, f"{len(temps)} temporary file(s)" + (f", e.g. {temps[0]}" if temps else "")))
    kills = sum(1 for _, what, _ in point.events if what in ("kill_coordinator", "restart_coordinator", "fill_disk"))
    if kills:
        resumed = point.instances - 1
        out.append(("resume_completed", resumed >= 1 and final in (0, 3) and row["lost"] == 0 and row["duplicated"] == 0,
                    f"{kills} coordinator stop(s), {resumed} resume(s), every user exactly once: "
                    f"{row['lost'] == 0 and row['duplicated'] == 0}"))
    if point.phase["soak"]:
        warmup = min(120.0, 0.2 * point.phase["duration_s"])
        for column, who in ((1, "coordinator"), (2, "largest worker")):
            growth = _soak_growth(point.samples, column, warmup)
            row[f"rss_growth_{'coordinator' if column == 1 else 'worker'}_pct"] = None if growth is None else round(growth, 2)
            out.append((f"soak_rss_{'coordinator' if column == 1 else 'worker'}",
                        growth is not None and growth <= 5.0,
                        "too few samples after warm-up" if growth is None else
                        f"{who} RSS grew {growth:+.1f} % after the first {warmup:.0f} s (limit +5 %)"))
    return out


def _decode_check(point, manifest, sample):
    try:
        from PIL import Image
    except ImportError:
        return ("ok_files_decode", False, "python3-pil is missing: run scripts/setup.sh")
    Image.MAX_IMAGE_PIXELS = None
    _, last = manifest
    ok = [r for r in last.values() if r.get("status") == "ok"]
    checked = ok if len(ok) <= sample else random.Random(1).sample(ok, sample)
    bad = []
    for record in checked:
        path = os.path.join(point.out, record.get("output", ""))
        try:
            if os.path.getsize(path) != record.get("bytes"):
                bad.append(f"{record['id']}: {os.path.getsize(path)} bytes, the line says {record.get('bytes')}")
                continue
            with Image.open(path) as image:
                image.load()
                if image.size != (record.get("width"), record.get("height")):
                    bad.append(f"{record['id']}: {image.size}, the line says {record.get('width')}x{record.get('height')}")
        except Exception as e:  # noqa: BLE001 - any failure to decode is the finding
            bad.append(f"{record.get('id')}: {e}")
    scope = "all" if len(checked) == len(ok) else f"a sample of {len(checked)}"
    return ("ok_files_decode", not bad,
            f"{scope} of {len(ok)} ok file(s) decoded at the recorded size" if not bad
            else f"{len(bad)} of {len(checked)} bad, e.g. {bad[0]}")


def expected_codes(mix, users):
    expected = Counter()
    for kind, pct in mix.items():
        code = KIND_CODE[kind]
        if code != "ok":
            expected[code] += pct / 100 * users
    return expected


def _mix_check(point, row, tolerance_pct):
    """Failed users by code against the fault mix the checker was told (the scenario's)."""
    mix = point.told_mix
    users = row["users"]
    expected = expected_codes(mix, users)
    allowed_extra = set(point.phase.get("expect_codes", []))
    problems, matched = [], []
    for code in sorted(set(expected) | set(row["failed_by_code"])):
        seen = row["failed_by_code"].get(code, 0)
        if code not in expected:
            if code not in allowed_extra and seen > 0:
                problems.append(f"{code}: {seen} not explained by the mix")
            continue
        want = expected[code]
        p = want / users if users else 0
        slack = max(tolerance_pct / 100 * users, 4 * math.sqrt(users * p * (1 - p)), 2)
        if abs(seen - want) > slack:
            problems.append(f"{code}: {seen}, expected {want:.0f} +- {slack:.0f}")
        else:
            matched.append(f"{code} {seen} of {want:.0f} +- {slack:.0f}")
    detail = "; ".join(problems) if problems else (
        "failed users by code match the mix" + (f" ({', '.join(matched)})" if expected else " (no faults: no failures)"))
    return ("fault_mix", not problems, detail)


def _orphan_check(point):
    deadline = time.monotonic() + 10
    left = alive(point.worker_pids)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = alive(left)
    return ("no_orphans", not left, f"{len(point.worker_pids)} worker(s) seen, {len(left)} still running {left[:5]}")
