"""pixelmill-loadtest: runs one load-test scenario against real coordinator, worker and image-api
processes and writes a results folder (never deleted) with the verdict.

Exit codes: 0 every threshold and invariant held; 1 a threshold or invariant failed (named on
stderr and in summary.md); 2 the test itself could not run (bad scenario or flags, a binary
missing, the fixture or the namespaces could not be set up).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import checks  # noqa: E402
import plots  # noqa: E402
import results  # noqa: E402
import scenario as scenarios  # noqa: E402
from fixture import Fixture  # noqa: E402
from hosts import Hosts  # noqa: E402
from point import PointRun  # noqa: E402

READY = os.path.join(HERE, "scenarios")
METRICS = set(results.POINT_COLUMNS) | {"stray", "rss_growth_coordinator_pct", "rss_growth_worker_pct"}
OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
       "!=": lambda a, b: a != b, "<": lambda a, b: a < b, ">": lambda a, b: a > b}


class CannotRun(Exception):
    pass


def find_binaries(bin_dir):
    """coordinator, worker and image-api: in --bin DIR; beside an installed copy of this script
    (PREFIX/share/pixelmill/loadtest -> PREFIX/bin); or in the build tree ($BUILD_DIR, else
    build/ of this source tree)."""
    if bin_dir:
        candidates = [(os.path.join(bin_dir, n)) for n in ("coordinator", "worker", "image-api")]
    elif os.path.basename(os.path.dirname(os.path.dirname(HERE))) == "share":
        prefix_bin = os.path.join(HERE, "..", "..", "..", "bin")
        candidates = [os.path.join(prefix_bin, n) for n in ("coordinator", "worker", "image-api")]
    else:
        build = os.environ.get("BUILD_DIR") or os.path.join(HERE, "..", "..", "build")
        candidates = [os.path.join(build, "coordinator", "coordinator"),
                      os.path.join(build, "worker", "worker"),
                      os.path.join(build, "tests", "support", "image-api")]
    found = [os.path.realpath(c) for c in candidates]
    for path in found:
        if not os.access(path, os.X_OK):
            raise CannotRun(f"{path}: not found or not executable (build pixelmill first: "
                            "scripts/setup.sh; or say where with --bin DIR)")
    return found


class Context:
    """What every point shares: the binaries, the fixture, the worker hosts."""

    def __init__(self, args, work):
        self.coordinator, worker, self.image_api = find_binaries(args.bin)
        self.worker = worker
        self.worker_exe = os.path.realpath(worker)
        self.sample_s = args.sample_s
        self.work = work
        self.fixture = None
        self.fixture_key = None
        self.hosts = None

    def ensure_fixture(self, inp):
        key = (inp.get("images", "gradients"), inp.get("size"))
        if self.fixture and self.fixture_key == key:
            return
        if self.fixture:
            self.fixture.close()
        netns = self.hosts.api_netns if self.hosts else None
        host = self.hosts.api_address if self.hosts else "127.0.0.1"
        self.fixture = Fixture(self.image_api, self.work, host=host, images=key[0], size=key[1], netns=netns)
        self.fixture_key = key

    def base_url(self):
        return self.fixture.base

    def ensure_hosts(self, count, most):
        """Worker hosts for a point with `count` of them; made once, with the `most` any point
        needs, and from then on holding the fixture and the coordinator too."""
        if self.hosts is None and count > 0:
            if self.fixture:  # the fixture moves into the namespaces with the hosts
                self.fixture.close()
                self.fixture = None
            self.hosts = Hosts(most, self.work, self.worker)
        if self.hosts:
            self.hosts.use(count)

    def worker_args(self, p):
        remote = p.get("remote_hosts", 0)
        local = p.get("workers", 0 if remote else 2)
        args = ["--workers", str(local)]
        if remote:
            args += self.hosts.coordinator_args()
        return args

    def command_prefix(self):
        return self.hosts.command_prefix() if self.hosts else []

    def remote_worker_rss(self):
        return self.hosts.worker_rss() if self.hosts else []

    def a_remote_worker(self):
        return self.hosts.a_worker() if self.hosts else None

    def set_link(self, host, up):
        self.hosts.set_link(host, up)

    def fill_disk(self, point):
        filler = os.path.join(point.disk, "filler")
        with open(filler, "wb") as f:
            chunk = b"\0" * (1 << 20)
            try:
                while True:
                    f.write(chunk)
            except OSError:
                pass
        return filler

    def close(self):
        if self.fixture:
            self.fixture.close()
        if self.hosts:
            self.hosts.close()


def evaluate(thresholds, row):
    out = []
    for t in thresholds:
        name = t["metric"]
        if name.startswith("failed_by_code."):
            value = row["failed_by_code"].get(name.split(".", 1)[1], 0)
        else:
            value = row.get(name)
        if value is None:
            out.append({**t, "measured": "not measured", "held": False})
            continue
        shown = value
        if t["percent"]:
            value = 100 * value / row["users"] if row["users"] else 0
            shown = f"{value:.2f}% ({row['failed_by_code'].get(name.split('.', 1)[1], 0) if name.startswith('failed_by_code.') else row.get(name)})"
        out.append({**t, "measured": shown, "held": OPS[t["op"]](value, t["value"])})
    return out


def versions(ctx):
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return {"coordinator": "pixelmill " + out([ctx.coordinator, "--version"]),
            "libvips": out(["vips", "--version"]), "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU(s)",
            "binaries": {"coordinator": ctx.coordinator, "worker": ctx.worker, "image_api": ctx.image_api}}


def mount_disk(point, mb):
    point.disk = os.path.join(point.dir, "disk")
    os.makedirs(point.disk, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mb}m", "tmpfs", point.disk],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise CannotRun(f"fill_disk needs a small file system of its own (mount -t tmpfs, as root): "
                        f"{done.stderr.strip()}")
    point.out = os.path.join(point.disk, "out")


def parse_args(argv):
    ready = sorted(f[:-5] for f in os.listdir(READY) if f.endswith(".toml")) if os.path.isdir(READY) else []
    p = argparse.ArgumentParser(
        prog="pixelmill-loadtest",
        description="Runs a load-test scenario (TOML or JSON) against real pixelmill processes and "
                    "writes a results folder: points.csv, timeseries.csv, .hgrm files, summary.md "
                    "and PNG plots. Exit 0: every threshold and invariant held; 1: one failed; 2: "
                    "the test could not run.",
        epilog="ready scenarios: " + ", ".join(ready))
    p.add_argument("scenario", help="a scenario file, or the name of a ready one")
    p.add_argument("--results", default="loadtest-results",
                   help="folder for the results (default ./loadtest-results); each run adds "
                        "<time>-<scenario>/ and nothing is ever deleted")
    p.add_argument("--bin", help="folder holding coordinator, worker and image-api")
    p.add_argument("--minutes", type=float, help="duration of the duration phases (soak)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every phase's users (e.g. 0.1)")
    p.add_argument("--told-mix", metavar="KIND:PCT,...",
                   help="the fault mix the checker expects, instead of the injected one (to show "
                        "the check can fail)")
    p.add_argument("--keep-output", action="store_true",
                   help="keep each point's output images (default: only manifest, report, logs)")
    p.add_argument("--decode-sample", type=int, default=2000,
                   help="ok files decoded per point (all when fewer; default 2000)")
    p.add_argument("--sample-s", type=float, default=1.0, help="RSS sampling interval (default 1 s)")
    p.add_argument("--point-limit-s", type=float, default=900.0,
                   help="a point still running after this (plus its duration) is stopped and fails")
    return p.parse_args(argv)


def told_mix(text):
    mix = {}
    for item in filter(None, (text or "").split(",")):
        kind, _, pct = item.partition(":")
        if kind not in scenarios.MIX_KINDS:
            raise CannotRun(f"--told-mix: unknown kind '{kind}'")
        mix[kind] = float(pct)
    return mix


def main(argv):
    args = parse_args(argv)
    path = args.scenario
    if not os.path.exists(path) and os.path.exists(os.path.join(READY, path + ".toml")):
        path = os.path.join(READY, path + ".toml")
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        scenario = scenarios.load(path)
        for phase in scenario["phases"]:
            for t in phase["thresholds"]:
                if t["metric"] not in METRICS and not t["metric"].startswith("failed_by_code."):
                    raise scenarios.ScenarioError(f"threshold '{t['text']}': unknown metric (known: "
                                                  f"{', '.join(sorted(METRICS))}, failed_by_code.CODE)")
            if args.minutes and phase["duration_s"]:
                phase["duration_s"] = args.minutes * 60
        forced_mix = told_mix(args.told_mix) if args.told_mix is not None else None
        stem = os.path.join(args.results, started.strftime("%Y%m%d-%H%M%S") + "-" + scenario["name"])
        run_dir, n = stem, 1
        while os.path.exists(run_dir):  # two runs in one second: never reuse a folder
            n += 1
            run_dir = f"{stem}-{n}"
        os.makedirs(run_dir)
        work = os.path.join(run_dir, "work")
        os.makedirs(work)
        shutil.copy(path, os.path.join(run_dir, "scenario" + os.path.splitext(path)[1]))
        ctx = Context(args, work)
    except (scenarios.ScenarioError, CannotRun, OSError) as e:
        print(f"pixelmill-loadtest: {e}", file=sys.stderr)
        return 2
    print(f"pixelmill-loadtest: {scenario['name']}: results in {run_dir}", file=sys.stderr)
    entries, failures, series = [], [], []
    try:
        info = versions(ctx)
        with open(os.path.join(run_dir, "versions.json"), "w") as f:
            json.dump({**info, "started_at": started.isoformat(), "command_line": sys.argv}, f, indent=2)
        next_id = 1
        planned = scenarios.points(scenario)
        most_hosts = max(s["pipeline"].get("remote_hosts", 0) for _, _, s, _ in planned)
        resolved = []
        for index, (phase, name, settings, value) in enumerate(planned, 1):
            if args.scale != 1.0 and "users" in settings["input"]:
                settings["input"]["users"] = max(1, int(settings["input"]["users"] * args.scale))
            ctx.ensure_hosts(settings["pipeline"].get("remote_hosts", 0), most_hosts)
            ctx.ensure_fixture(settings["input"])
            profile = ctx.fixture.control(settings["server"])
            point = PointRun(ctx, os.path.join(run_dir, "points", f"{index:02d}-{name}"), settings, phase,
                             settings["input"].get("id_start", next_id))
            os.makedirs(point.dir)
            point.told_mix = forced_mix if forced_mix is not None else settings["server"].get("mix", {})
            if any(e["action"] == "fill_disk" for e in phase["chaos"]):
                mount_disk(point, 256)
            print(f"  point {index}/{len(planned)} {name}: "
                  f"{settings['input'].get('users', '')} users" if not phase["duration_s"] else
                  f"  point {index}/{len(planned)} {name}: {phase['duration_s']:.0f} s at "
                  f"{settings['input']['users_per_s']} users/s", file=sys.stderr)
            limit = args.point_limit_s + (phase["duration_s"] or 0)
            finished = point.run(limit)
            next_id = point.first_id + point.users
            manifest = checks.read_manifest(point.out)
            row = checks.measure(point, manifest)
            invariants = checks.invariants(point, row, manifest, scenario["tolerance_pct"],
                                           args.decode_sample, finished)
            thresholds = evaluate(phase["thresholds"], row)
            passed = all(h for _, h, _ in invariants) and all(t["held"] for t in thresholds)
            row.update({"point": name, "phase": phase["name"],
                        "swept": phase["sweep"]["setting"] if phase["sweep"] else "",
                        "value": "" if value is None else value,
                        "invariants": " ".join(n for n, h, _ in invariants if not h) or "all held",
                        "thresholds": " ".join(t["text"].replace(" ", "") for t in thresholds if not t["held"]) or "all held",
                        "passed": passed})
            for n, h, detail in invariants:
                if not h:
                    failures.append(f"{name}: invariant {n}: {detail}")
            for t in thresholds:
                if not t["held"]:
                    failures.append(f"{name}: threshold `{t['text']}` failed: measured {t['measured']}")
            report = point.read_report() or {}
            results.write_hgrm(os.path.join(run_dir, "hgrm"), f"{index:02d}-{name}", report)
            series += results.timeseries_rows(name, point)
            entries.append({"name": name, "row": row, "invariants": invariants, "thresholds": thresholds,
                            "passed": passed, "swept": row["swept"], "value": value,
                            "events": point.events, "evidence": report.get("verdict", {}).get("evidence", ""),
                            "injected": ", ".join(f"{k} {v}" for k, v in ctx.fixture.stats()["injected"].items() if v)
                            or "nothing"})
            resolved.append({"point": name, "phase": phase["name"], "settings": settings,
                             "server_profile": profile, "chaos": phase["chaos"],
                             "duration_s": phase["duration_s"],
                             "thresholds": [t["text"] for t in phase["thresholds"]]})
            if os.path.isdir(os.path.join(point.out, "images")) and not args.keep_output:
                shutil.rmtree(os.path.join(point.out, "images"))
            if getattr(point, "disk", None):
                keep = os.path.join(point.dir, "out-kept")
                os.makedirs(keep)
                for f in os.listdir(point.out):
                    if os.path.isfile(os.path.join(point.out, f)):
                        shutil.copy(os.path.join(point.out, f), keep)
                subprocess.run(["umount", point.disk], check=False)
            print(f"    {row['users_per_s']:.1f} users/s, {row['ok']} ok, {row['failed']} failed, "
                  f"{'passed' if passed else 'FAILED'}", file=sys.stderr)
        with open(os.path.join(run_dir, "scenario-as-run.json"), "w") as f:
            json.dump({"name": scenario["name"], "points": resolved}, f, indent=2)
    except (CannotRun, RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
        print(f"pixelmill-loadtest: could not run: {e}", file=sys.stderr)
        return 2
    finally:
        ctx.close()
    results.write_points(os.path.join(run_dir, "points.csv"), [e["row"] for e in entries])
    results.write_timeseries(os.path.join(run_dir, "timeseries.csv"), series)
    made = plots.draw(os.path.join(run_dir, "plots"), entries, series)
    verdict = results.summary_md(os.path.join(run_dir, "summary.md"), scenario,
                                 started.isoformat(timespec="seconds"), info, entries, failures, made)
    for f in failures:
        print(f"pixelmill-loadtest: FAIL {f}", file=sys.stderr)
    print(f"pixelmill-loadtest: {verdict}: {os.path.join(run_dir, 'summary.md')}", file=sys.stderr)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
