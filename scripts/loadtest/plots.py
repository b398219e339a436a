"""PNG plots of a load test (matplotlib, Debian's python3-matplotlib, no display needed)."""

import os


def draw(directory, entries, timeseries):
    """Writes the plots that the points allow; returns their file names. Nothing (and a note)
    without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    os.makedirs(directory, exist_ok=True)
    made = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(directory, name), dpi=90)
        plt.close(fig)
        made.append(name)

    for setting, label in (("workers", "workers"), ("remote_hosts", "remote worker hosts"),
                           ("concurrency", "concurrency")):
        swept = [e for e in entries if e["swept"] == f"pipeline.{setting}"]
        if len(swept) < 2:
            continue
        xs = [float(e["value"]) for e in swept]
        ys = [e["row"]["users_per_s"] for e in swept]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(xs, ys, "o-", label="measured")
        if setting in ("workers", "remote_hosts"):
            base = ys[0] / xs[0]
            ax.plot(xs, [base * x for x in xs], "--", color="grey", label="ideal (linear from the first point)")
        ax.set_xlabel(label)
        ax.set_ylabel("users/s")
        ax.set_title(f"throughput vs {label}")
        ax.legend()
        ax.grid(alpha=0.3)
        save(fig, f"throughput_vs_{setting}.png")

    stages = ("slot_wait", "transfer", "download", "filter_cpu", "end_to_end")
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(entries)), 4))
    width = 0.8 / len(stages)
    for i, stage in enumerate(stages):
        xs = [j + i * width for j in range(len(entries))]
        p50 = [e["row"].get(f"p50_{stage}_s", 0) for e in entries]
        p99 = [e["row"].get(f"p99_{stage}_s", 0) for e in entries]
        ax.bar(xs, p99, width, alpha=0.35, color=f"C{i}")
        ax.bar(xs, p50, width, color=f"C{i}", label=stage.replace("_", " "))
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(entries))])
    ax.set_xticklabels([e["name"] for e in entries], rotation=20, ha="right")
    ax.set_ylabel("seconds (solid p50, pale p99)")
    ax.set_title("latency per stage")
    ax.legend(fontsize=7)
    save(fig, "latency_per_stage.png")

    points = []
    for e in entries:
        rows = [r for r in timeseries if r["point"] == e["name"]]
        if rows:
            points.append((e["name"], rows))
    if not points:
        return made
    for kind, columns, ylabel in (
            ("progress", ("ok", "failed", "downloads_in_flight", "images_waiting", "jobs_in_flight"),
             "users / gauges"),
            ("memory", ("coordinator_rss_mb", "largest_worker_rss_mb"), "RSS MB")):
        fig, axes = plt.subplots(len(points), 1, figsize=(8, 2.6 * len(points)), squeeze=False)
        for ax, (name, rows) in zip(axes[:, 0], points):
            for column in columns:
                xy = [(r["t"], float(r[column])) for r in rows if r.get(column) not in (None, "")]
                if xy:
                    ax.plot([x for x, _ in xy], [y for _, y in xy], label=column.replace("_", " "))
            for r in rows:
                if r.get("event") and not r["event"].startswith("coordinator_start"):
                    ax.axvline(r["t"], color="red", alpha=0.5, linestyle=":")
                    ax.annotate(r["event"].split()[0], (r["t"], ax.get_ylim()[1]), fontsize=6,
                                rotation=90, va="top", color="red")
            ax.set_title(name, fontsize=9)
            ax.set_ylabel(ylabel, fontsize=8)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=6, loc="upper left")
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("seconds from the point's start (red: chaos events)")
        save(fig, f"{kind}_over_time.png")
    return made
