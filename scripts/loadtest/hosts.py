"""Worker hosts for a load test on one machine: network namespaces joined by veth pairs to a
bridge in a namespace of its own, so the subnet (10.214.0.0/24) exists only inside them and
nothing is sent anywhere else. Host c runs the coordinator, host a the image API, hosts w1..wN
one standing worker each (CurveZMQ keys made by pixelmill-keygen, --keep-running, restarted if
it dies, as a service manager would). Everything made here is removed by close(), which also
runs at exit."""

import atexit
import os
import subprocess
import threading
import time

from procs import alive, rss_kb

SUBNET = "10.214.0"
PORT = 5555


def _ip(*args):
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Hosts:
    def __init__(self, count, work, worker):
        if os.geteuid() != 0:
            raise RuntimeError("remote worker hosts need network namespaces: run as root")
        self.count = count
        self.prefix = f"lt{os.getpid() % 100000}"
        self.names = []
        self.workers = {}  # host -> Popen
        self.active = 0  # hosts w1..w<active> run a worker (use())
        self.closed = False
        self.dir = os.path.join(work, "hosts")
        os.makedirs(self.dir, exist_ok=True)
        self.worker = worker
        atexit.register(self.close)
        sw = self._ns("s")
        _ip("netns", "add", sw)
        self.names.append(sw)
        _ip("-n", sw, "link", "add", self.prefix + "br", "type", "bridge")
        _ip("-n", sw, "link", "set", self.prefix + "br", "up")
        self._host("c", f"{SUBNET}.1")
        self._host("a", f"{SUBNET}.2")
        self.api_netns, self.api_address = self._ns("a"), f"{SUBNET}.2"
        keygen = os.path.join(os.path.dirname(worker), "pixelmill-keygen")
        self.keys = os.path.join(self.dir, "keys")
        self.allow = os.path.join(self.dir, "allow")
        os.makedirs(self.allow, exist_ok=True)
        os.makedirs(self.keys, exist_ok=True)
        for i in range(1, count + 1):
            self._host(f"w{i}", f"{SUBNET}.{10 + i}")
        for name in ["coord"] + [f"w{i}" for i in range(1, count + 1)]:
            made = subprocess.run([keygen, "--dir", self.keys, name], capture_output=True, text=True)
            if made.returncode != 0:
                raise RuntimeError(f"pixelmill-keygen {name}: {made.stderr.strip()}")
            if name != "coord":
                subprocess.run(["cp", os.path.join(self.keys, name + ".key"), self.allow], check=True)
        self.keeper = threading.Thread(target=self._keep_workers, daemon=True)
        self.keeper.start()

    def _ns(self, host):
        return self.prefix + host

    def _host(self, host, address):
        ns, veth = self._ns(host), self.prefix + host
        _ip("netns", "add", ns)
        self.names.append(ns)
        _ip("-n", self._ns("s"), "link", "add", veth + "b", "type", "veth", "peer", "name", veth, "netns", ns)
        _ip("-n", self._ns("s"), "link", "set", veth + "b", "master", self.prefix + "br", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "addr", "add", address + "/24", "dev", veth)
        _ip("-n", ns, "link", "set", veth, "up")

    def _start_worker(self, host):
        log = open(os.path.join(self.dir, f"{host}.log"), "ab")
        self.workers[host] = subprocess.Popen(
            ["ip", "netns", "exec", self._ns(host), self.worker, "--connect", f"tcp://{SUBNET}.1:{PORT}",
             "--curve-secret", os.path.join(self.keys, host + ".key_secret"),
             "--server-key", os.path.join(self.keys, "coord.key"), "--keep-running", "--id", host],
            stdout=log, stderr=log)
        log.close()

    def use(self, active):
        """From now on w1..w<active> run a worker and the others none (a sweep over hosts)."""
        self.active = active
        for i in range(active + 1, self.count + 1):
            process = self.workers.pop(f"w{i}", None)
            if process and process.poll() is None:
                process.kill()
                process.wait()

    def _keep_workers(self):
        died = {}
        while not self.closed:
            for i in range(1, self.active + 1):
                host = f"w{i}"
                process = self.workers.get(host)
                if process is None:
                    self._start_worker(host)
                elif process.poll() is not None:
                    # A service manager's restart delay of 1 s.
                    died.setdefault(host, time.monotonic())
                    if time.monotonic() - died[host] >= 1 and not self.closed:
                        del died[host]
                        self._start_worker(host)
            time.sleep(0.1)

    def coordinator_args(self):
        return ["--bind", f"tcp://{SUBNET}.1:{PORT}",
                "--curve-secret", os.path.join(self.keys, "coord.key_secret"),
                "--allow-workers", self.allow, "--remote-wait", "30"]

    def command_prefix(self):
        return ["ip", "netns", "exec", self._ns("c")]

    def worker_rss(self):
        return [rss_kb(p.pid) or 0 for p in self.workers.values() if p.poll() is None]

    def a_worker(self):
        running = [p.pid for p in self.workers.values() if p.poll() is None]
        return running[0] if running else None

    def set_link(self, host, up):
        _ip("-n", self._ns(host), "link", "set", self.prefix + host, "up" if up else "down")

    def close(self):
        if self.closed:
            return
        self.closed = True
        for process in self.workers.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        for ns in self.names:
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in alive([int(p) for p in pids]):
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        for ns in reversed(self.names):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
