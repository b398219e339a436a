"""The results folder: points.csv, timeseries.csv, one .hgrm file per latency and point, and
summary.md."""

import csv
import json
import os

LATENCIES = (("end_to_end", ("end_to_end",)), ("download", ("download",)),
             ("slot_wait", ("download", "slot_wait")), ("transfer", ("download", "transfer")),
             ("filter_cpu", ("filter_cpu",)))
POINT_COLUMNS = ["point", "phase", "swept", "value", "users", "ok", "failed", "lost", "duplicated",
                 "wall_s", "users_per_s", "p50_end_to_end_s", "p90_end_to_end_s", "p99_end_to_end_s",
                 "p50_download_s", "p99_download_s", "p50_slot_wait_s", "p99_slot_wait_s",
                 "p50_transfer_s", "p99_transfer_s", "p50_filter_cpu_s", "p99_filter_cpu_s",
                 "peak_rss_mb", "peak_worker_rss_mb", "workers", "requests", "retries", "verdict",
                 "exit_codes", "failed_by_code", "invariants", "thresholds", "passed"]
TIMESERIES_COLUMNS = ["point", "t", "ok", "failed", "rate", "downloads_in_flight",
                      "downloads_waiting", "images_waiting", "jobs_in_flight", "workers",
                      "budget_used", "coordinator_rss_mb", "largest_worker_rss_mb", "event"]


def json_lines(path):
    """The JSON objects of a JSONL file, a line each; none for a missing file, and a torn or
    unreadable line (a killed writer's last) is passed over."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        for text in f:
            try:
                yield json.loads(text)
            except ValueError:
                continue


def write_points(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=POINT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            flat = dict(row)
            flat["failed_by_code"] = " ".join(f"{k}={v}" for k, v in sorted(row["failed_by_code"].items()))
            writer.writerow(flat)


def progress_samples(point):
    """The coordinator's --progress-file samples, each instance's shifted to the point's clock."""
    starts = [t for t, what, _ in point.events if what == "coordinator_start"]
    out = []
    for instance, start in enumerate(starts, 1):
        for sample in json_lines(os.path.join(point.dir, f"progress-{instance}.jsonl")):
            sample["t"] = round(start + sample.get("t", 0), 3)
            out.append(sample)
    return out


def timeseries_rows(name, point):
    rows = []
    for s in progress_samples(point):
        rows.append({"point": name, **{k: s.get(k, "") for k in TIMESERIES_COLUMNS[2:11]}, "t": s["t"]})
    for t, coord_kb, worker_kb, _, _ in point.samples:
        rows.append({"point": name, "t": t, "coordinator_rss_mb": round(coord_kb / 1024, 1),
                     "largest_worker_rss_mb": round(worker_kb / 1024, 1)})
    for t, what, detail in point.events:
        rows.append({"point": name, "t": t, "event": f"{what} {detail}".strip()})
    rows.sort(key=lambda r: r["t"])
    return rows


def write_timeseries(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TIMESERIES_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_hgrm(directory, name, report):
    """One HdrHistogram-style percentile file per latency of the point's report."""
    os.makedirs(directory, exist_ok=True)
    for label, keys in LATENCIES:
        h = report
        for key in keys:
            h = (h or {}).get(key)
        if not h or not h.get("distribution"):
            continue
        count = h.get("count", (report.get("download") or {}).get("ok", 0))
        with open(os.path.join(directory, f"{name}.{label}.hgrm"), "w") as f:
            f.write(f"# {label} latency of point {name}, seconds (from the coordinator's report)\n")
            f.write(f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}\n\n")
            for percentile, seconds in h["distribution"]:
                q = percentile / 100
                inverse = "inf" if q >= 1 else f"{1 / (1 - q):.2f}"
                f.write(f"{seconds:12.6f} {q:14.12f} {round(q * count):10d} {inverse:>14}\n")
            f.write(f"#[Max = {h.get('max_s', 0):12.6f}, Total count = {count:12d}]\n")


def summary_md(path, scenario, started, versions, entries, failures, plots):
    verdict = "PASS" if not failures else "FAIL"
    lines = [f"# Load test `{scenario['name']}`: {verdict}", ""]
    if scenario["description"]:
        lines += [scenario["description"], ""]
    lines += [f"Started {started}; {versions.get('coordinator', '?')}; {versions.get('machine', '')}", ""]
    lines += ["| point | users | ok | failed | lost | dup | wall s | users/s | e2e p50 s | e2e p99 s | "
              "slot wait p99 s | transfer p99 s | filter CPU p99 s | peak RSS MB | worker RSS MB | verdict | pass |",
              "|" + "---|" * 17]
    for e in entries:
        r = e["row"]
        lines.append(f"| {e['name']} | {r['users']} | {r['ok']} | {r['failed']} | {r['lost']} | "
                     f"{r['duplicated']} | {r['wall_s']:.2f} | {r['users_per_s']:.1f} | "
                     f"{r['p50_end_to_end_s']:.3f} | {r['p99_end_to_end_s']:.3f} | {r['p99_slot_wait_s']:.3f} | "
                     f"{r['p99_transfer_s']:.3f} | {r['p99_filter_cpu_s']:.3f} | {r['peak_rss_mb']:.1f} | "
                     f"{r['peak_worker_rss_mb']:.1f} | {r['verdict']} | {'yes' if e['passed'] else '**no**'} |")
    lines += ["", "## Thresholds", "", "| point | threshold | measured | result |", "|---|---|---|---|"]
    for e in entries:
        for t in e["thresholds"]:
            lines.append(f"| {e['name']} | `{t['text']}` | {t['measured']} | {'pass' if t['held'] else '**FAIL**'} |")
    lines += ["", "## Invariants", "", "| point | invariant | held | detail |", "|---|---|---|---|"]
    for e in entries:
        for name, held, detail in e["invariants"]:
            lines.append(f"| {e['name']} | {name} | {'yes' if held else '**NO**'} | {detail} |")
    lines += ["", "## Each point", ""]
    for e in entries:
        r = e["row"]
        codes = ", ".join(f"{k} {v}" for k, v in sorted(r["failed_by_code"].items())) or "none"
        lines.append(f"- **{e['name']}**: {r['verdict'] or 'no report'} — {e['evidence']}; failed by code: "
                     f"{codes}; server injected: {e['injected']}; {r['requests']} requests, {r['retries']} retries")
        for t, what, detail in e["events"]:
            if what not in ("coordinator_start", "coordinator_exit"):
                lines.append(f"  - at {t:.1f} s: {what} {detail}")
    if failures:
        lines += ["", "## Failed", ""] + [f"- {f}" for f in failures]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}](plots/{p})" for p in plots]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return verdict
