"""One point of a load test: one coordinator run (resumed after a chaos kill, as often as the
timeline says), its chaos timeline, its samples of memory, and what it left behind."""

import json
import os
import signal
import subprocess
import threading
import time

from chaos import Chaos
from fixture import write_users
from procs import children, rss_kb


class PointRun:
    """Runs one point. `ctx` holds the binaries, the fixture and (multihost) the hosts."""

    def __init__(self, ctx, directory, settings, phase, first_id):
        self.ctx = ctx
        self.dir = directory
        self.settings = settings
        self.phase = phase
        self.first_id = first_id
        self.out = os.path.join(directory, "out")
        self.users_file = os.path.join(directory, "users.jsonl")
        self.events = []        # (t, what, detail): chaos and coordinator starts and exits
        self.samples = []       # (t, coordinator RSS kB, largest worker RSS kB, workers, workers RSS kB)
        self.worker_pids = set()
        self.instances = 0
        self.exit_codes = []
        self.users = 0
        self.lock = threading.Lock()
        self.coordinator = None
        self.resume_with = None  # set by the chaos timeline: run again with --resume and these
        self.resume_on_failure = None  # the same, only if the run does not end well (a full disk)
        self.done = threading.Event()
        self.t0 = None

    def now(self):
        return time.monotonic() - self.t0

    def note(self, what, detail=""):
        with self.lock:
            self.events.append((round(self.now(), 3), what, detail))

    # --- the coordinator ------------------------------------------------------------------

    def args(self, resume, overrides):
        p = dict(self.settings["pipeline"])
        p.update(overrides)
        retry_failed = p.pop("retry_failed", False)
        args = [self.ctx.coordinator, "--input", self.users_file,
                "--output", self.out, "--report", self.report_path(self.instances),
                "--progress-file", os.path.join(self.dir, f"progress-{self.instances}.jsonl"),
                "--progress-interval", "0", "--quiet",
                "--allow-private-networks", "--log-format", "json"]
        flag_of = {"filter": "--filter", "concurrency": "--concurrency", "per_host": "--per-host",
                   "max_memory": "--max-memory", "timeout": "--timeout", "retries": "--retries",
                   "format": "--format", "rate": "--rate", "burst": "--burst"}
        for key, flag in flag_of.items():
            if key in p:
                args += [flag, str(p[key])]
        args += self.ctx.worker_args(p)
        args += [str(f) for f in p.get("flags", [])]
        if resume:
            args.append("--resume")
        if retry_failed:
            args.append("--retry-failed")
        return args

    def start(self, resume=False, overrides=None):
        self.instances += 1
        log = open(os.path.join(self.dir, f"coordinator-{self.instances}.log"), "wb")
        self.coordinator = subprocess.Popen(self.ctx.command_prefix() + self.args(resume, overrides or {}),
                                            stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, start_new_session=True)
        log.close()
        self.note("coordinator_start", "resume" if resume else "")

    def sample(self, interval):
        """Every 0.1 s: the coordinator's workers (for the orphan check); every `interval`: RSS."""
        next_rss = 0.0
        while not self.done.wait(0.1):
            c = self.coordinator
            if c is None or c.poll() is not None:
                continue
            kids = children(c.pid, self.ctx.worker_exe)
            with self.lock:
                self.worker_pids.update(kids)
            if self.now() < next_rss:
                continue
            next_rss = self.now() + interval
            sizes = [rss_kb(pid) for pid in kids]
            sizes += self.ctx.remote_worker_rss()
            sizes = [s for s in sizes if s]
            with self.lock:
                self.samples.append((round(self.now(), 3), rss_kb(c.pid) or 0, max(sizes, default=0),
                                     len(sizes), sum(sizes)))

    def run(self, limit_s):
        """Runs the point to its end (or `limit_s`); returns False when it had to be stopped."""
        inp = dict(self.settings["input"])
        if self.phase["duration_s"]:
            # The coordinator loads its whole input before it starts, so a duration phase is
            # users_per_s x duration_s users, paced by the coordinator's own --rate (requests a
            # second to the one image host; retries take their share), with connections enough
            # for twice that rate at the server's mean delay, unless the phase sets them.
            rate = float(inp["users_per_s"])
            inp["users"] = max(1, int(rate * self.phase["duration_s"]))
            server = self.settings["server"]
            mean_s = (server.get("latency_ms", 0) + server.get("jitter_ms", 0) / 2) / 1000
            room = str(max(4, round(2 * rate * max(mean_s, 0.001)) + 8))
            self.settings["pipeline"].setdefault("rate", rate)
            self.settings["pipeline"].setdefault("concurrency", room)
            self.settings["pipeline"].setdefault("per_host", room)
        self.users = write_users(self.users_file, inp, self.ctx.base_url(), self.first_id)
        self.t0 = time.monotonic()
        self.start()
        sampler = threading.Thread(target=self.sample, args=(10.0 if self.phase["soak"] else self.ctx.sample_s,), daemon=True)
        sampler.start()
        chaos = Chaos(self, self.phase["chaos"])
        chaos.start()
        finished = True
        while True:
            try:
                code = self.coordinator.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                if self.now() > limit_s:
                    self.note("point_timeout", f"{limit_s:.0f} s")
                    os.killpg(self.coordinator.pid, signal.SIGKILL)
                    self.coordinator.wait()
                    finished = False
                    break
                continue
            self.exit_codes.append(code)
            self.note("coordinator_exit", str(code))
            with self.lock:
                resume, self.resume_with = self.resume_with, None
                if resume is None and code != 0 and self.resume_on_failure is not None:
                    resume, self.resume_on_failure = self.resume_on_failure, None
            if resume is None:
                break
            chaos.wait_settled()
            self.start(resume=True, overrides=resume)
        self.done.set()
        chaos.stop()
        sampler.join()
        return finished

    def report_path(self, instance):
        return os.path.join(self.dir, f"report-{instance}.json")

    def read_report(self):
        """The report of the last coordinator that downloaded anything (after a kill, the
        resumed run's; a last resume with nothing left to do reports nothing worth reading)."""
        last = None
        for instance in range(self.instances, 0, -1):
            try:
                with open(self.report_path(instance)) as f:
                    report = json.load(f)
            except (OSError, ValueError):
                continue
            last = last or report
            if report.get("download", {}).get("requests", 0) > 0:
                return report
        return last

    def wall_s(self):
        starts = [t for t, what, _ in self.events if what == "coordinator_start"]
        ends = [t for t, what, _ in self.events if what in ("coordinator_exit", "point_timeout")]
        return (max(ends) - min(starts)) if starts and ends else 0.0
