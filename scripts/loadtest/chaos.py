"""A point's chaos timeline: at each event's at_s (seconds from the point's start), do it to the
running point, and note it (the timeseries and plots mark it)."""

import os
import signal
import threading

from procs import children


class Chaos(threading.Thread):
    def __init__(self, point, events):
        super().__init__(daemon=True)
        self.point = point
        self.events = sorted(events, key=lambda e: e["at_s"])
        self.stopping = threading.Event()
        self.settled = threading.Event()  # no fault is holding (a stopped worker, a full disk)
        self.settled.set()
        self.lock = threading.Lock()
        self.holding = 0

    def run(self):
        for event in self.events:
            if self.stopping.wait(max(0.0, event["at_s"] - self.point.now())):
                return
            coordinator = self.point.coordinator
            if coordinator is None or coordinator.poll() is not None:
                self.point.note(event["action"], "skipped: the coordinator was not running")
                continue
            getattr(self, event["action"])(event, coordinator)

    def _hold(self, seconds, undo):
        """Runs `undo` after `seconds` (or at once when the point stops)."""
        with self.lock:
            self.holding += 1
            self.settled.clear()

        def later():
            self.stopping.wait(seconds)
            try:
                undo()
            finally:
                with self.lock:
                    self.holding -= 1
                    if self.holding == 0:
                        self.settled.set()
        threading.Thread(target=later, daemon=True).start()

    def _a_worker(self, coordinator):
        local = children(coordinator.pid, self.point.ctx.worker_exe)
        return sorted(local)[0] if local else self.point.ctx.a_remote_worker()

    def _signal_worker(self, action, coordinator, signum, detail=""):
        """Sends `signum` to a worker and notes it under `action`; the pid, or None if none runs."""
        pid = self._a_worker(coordinator)
        if pid is None:
            self.point.note(action, "skipped: no worker running")
            return None
        os.kill(pid, signum)
        self.point.note(action, f"{signal.Signals(signum).name} pid {pid}{detail}")
        return pid

    def kill_worker(self, event, coordinator):
        self._signal_worker("kill_worker", coordinator, signal.SIGKILL)

    def stop_worker(self, event, coordinator):
        pid = self._signal_worker("stop_worker", coordinator, signal.SIGSTOP, f" for {event['for_s']} s")
        if pid is None:
            return

        def cont():
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.point.note("continue_worker", f"SIGCONT pid {pid}")
        self._hold(event["for_s"], cont)

    def kill_coordinator(self, event, coordinator):
        with self.point.lock:
            self.point.resume_with = {}
        coordinator.send_signal(signal.SIGKILL)
        self.point.note("kill_coordinator", f"SIGKILL pid {coordinator.pid}; then --resume")

    def restart_coordinator(self, event, coordinator):
        overrides = {k: v for k, v in event.items() if k not in ("action", "at_s")}
        with self.point.lock:
            self.point.resume_with = overrides
        coordinator.send_signal(signal.SIGTERM)
        self.point.note("restart_coordinator",
                        f"SIGTERM pid {coordinator.pid}; then --resume with {overrides or 'the same flags'}")

    def cut_link(self, event, coordinator):
        host = event.get("host", "w1")
        self.point.ctx.set_link(host, up=False)
        self.point.note("cut_link", f"{host} down for {event['for_s']} s")

        def up():
            self.point.ctx.set_link(host, up=True)
            self.point.note("restore_link", host)
        self._hold(event["for_s"], up)

    def fill_disk(self, event, coordinator):
        filler = self.point.ctx.fill_disk(self.point)
        self.point.note("fill_disk", f"output file system full for {event['for_s']} s")
        with self.point.lock:
            # Writes fail while it is full: the run ends; it is resumed once there is room.
            self.point.resume_on_failure = {"retry_failed": True}

        def free():
            os.unlink(filler)
            self.point.note("free_disk", "")
        self._hold(event["for_s"], free)

    def wait_settled(self):
        self.settled.wait()

    def stop(self):
        self.stopping.set()
        self.settled.wait(timeout=30)
