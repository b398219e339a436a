"""Processes as a load test sees them, from /proc: children of a process, their RSS, and the
workers left behind."""

import os


def _stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    return fields  # fields[0] is the state, fields[1] the parent pid


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def children(parent, executable=None):
    """Pids whose parent is `parent` (and, when given, run `executable`)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat(name)
        if fields and int(fields[1]) == parent and (executable is None or exe(name) == executable):
            out.append(int(name))
    return out


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def alive(pids):
    """Those of `pids` still running (zombies count as gone)."""
    out = []
    for pid in pids:
        fields = _stat(pid)
        if fields and fields[0] != "Z":
            out.append(pid)
    return out


def running(executable):
    """Every pid running `executable`."""
    return [int(n) for n in os.listdir("/proc") if n.isdigit() and exe(n) == executable]
