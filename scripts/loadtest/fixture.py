"""The image API fixture (image-api) as a load test drives it: started once with --control, its
latency and fault mix set per point through GET /control, its counts read from GET /stats; and
the users file a point feeds the coordinator."""

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request

EXTENSIONS = {"jpg", "png", "webp", "gif"}


class Fixture:
    def __init__(self, binary, work, host="127.0.0.1", images="gradients", size=None, netns=None):
        self.host = host
        port_file = os.path.join(work, "image-api.port")
        args = [binary, "--control", "--host", host, "--port-file", port_file, "--images", images]
        if size:
            args += ["--size", size]
        if host not in ("127.0.0.1", "::1", "localhost"):
            args.append("--any-host")
        if netns:
            args = ["ip", "netns", "exec", netns] + args
        self.log = open(os.path.join(work, "image-api.log"), "wb")
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60  # photos are encoded at start-up
        while not os.path.exists(port_file):
            if self.process.poll() is not None:
                raise RuntimeError(f"image-api exited with {self.process.returncode}; see {self.log.name}")
            if time.monotonic() > deadline:
                raise RuntimeError("image-api did not listen within 60 s")
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read().strip())
        self.base = f"http://{host}:{self.port}"
        self.netns = netns

    def _get(self, path):
        if self.netns:  # the fixture listens inside a namespace: ask from there
            out = subprocess.run(["ip", "netns", "exec", self.netns, "curl", "-sS", "--max-time", "10",
                                  self.base + path], capture_output=True, check=True)
            return json.loads(out.stdout)
        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            return json.loads(response.read())

    def control(self, server):
        """Sets the profile for the next point; returns it as the server understood it."""
        query = {k: server.get(k, 0) for k in ("latency_ms", "jitter_ms", "tail_ms", "pace")}
        query["tail_pct"] = server.get("tail_pct", 0)
        query["seed"] = server.get("seed", 1)
        query["mix"] = ",".join(f"{k}:{v:g}" for k, v in server.get("mix", {}).items() if v > 0)
        return self._get("/control?" + urllib.parse.urlencode(query))

    def stats(self):
        return self._get("/stats")

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def user_lines(inp, base, first_id):
    """The users of a point as JSONL lines (a generator): ids from first_id, URLs on `base`,
    formats cycled, duplicate_pct of them repeating an earlier user's URL."""
    formats = inp.get("formats", ["jpg"])
    for ext in formats:
        if ext not in EXTENSIONS:
            raise ValueError(f"input.formats: '{ext}' is not one of {sorted(EXTENSIONS)}")
    pattern = inp.get("url_pattern", "{base}/img/{id}.{ext}")
    dup_every = 0
    if inp.get("duplicate_pct", 0) > 0:
        dup_every = max(2, round(100 / inp["duplicate_pct"]))
    n = 0
    while True:
        uid = first_id + n
        source = uid - 1 if dup_every and n % dup_every == dup_every - 1 and n > 0 else uid
        url = pattern.format(base=base, id=source, ext=formats[n % len(formats)], n=n)
        yield json.dumps({"id": uid, "name": f"user{uid}", "image_url": url}) + "\n"
        n += 1


def write_users(path, inp, base, first_id):
    count = inp["users"]
    with open(path, "w") as f:
        for i, line in enumerate(user_lines(inp, base, first_id)):
            if i == count:
                break
            f.write(line)
    return count
