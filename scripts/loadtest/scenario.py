"""A load-test scenario: read from TOML (Python's tomllib) or JSON, checked, and expanded into
points (one coordinator run each).

A scenario holds `name`, optional `description`, `defaults` (input, server, pipeline settings
that every phase starts from), `phases` (run in order, each with its own settings, an optional
`sweep`, `chaos` timeline and `thresholds`) and `thresholds` (for every point). Anything not
understood is refused with its path, so a typo never silently runs the wrong test.
"""

import copy
import json
import re
import tomllib

INPUT_KEYS = {
    "users": int,            # users of the phase (a user-count phase)
    "users_per_s": float,    # a duration phase: this many users a second for duration_s
    "formats": list,         # image formats, cycled over the users: jpg png webp gif
    "images": str,           # gradients or photos
    "size": str,             # WxH of the pictures (photos: at most 4 MP)
    "duplicate_pct": float,  # users whose URL repeats an earlier user's
    "id_start": int,         # the first id (default: after the previous phase's)
    "url_pattern": str,      # "{base}/img/{id}.{ext}" by default; {base} {id} {ext} {n}
}
SERVER_KEYS = {
    "latency_ms": int, "jitter_ms": int, "tail_pct": float, "tail_ms": int, "pace": int,
    "seed": int, "mix": dict,
}
MIX_KINDS = ("5xx", "404", "429", "reset", "truncate", "hang", "slow", "redirect", "corrupt",
             "hostile")
PIPELINE_KEYS = {
    "filter": str, "workers": int, "concurrency": int, "per_host": int, "max_memory": object,
    "timeout": float, "retries": int, "format": str, "remote_hosts": int, "flags": list,
    "rate": float, "burst": float,
}
CHAOS_ACTIONS = {
    "kill_worker": set(), "stop_worker": {"for_s"}, "kill_coordinator": set(),
    "restart_coordinator": {"max_memory"}, "cut_link": {"for_s", "host"}, "fill_disk": {"for_s"},
}
PHASE_KEYS = {"name", "duration_s", "input", "server", "pipeline", "sweep", "chaos",
              "thresholds", "expect_codes", "soak"}
TOP_KEYS = {"name", "description", "defaults", "phases", "thresholds", "tolerance_pct"}
THRESHOLD_RE = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(>=|<=|==|!=|<|>)\s*([0-9.eE+-]+)(%?)\s*$")


class ScenarioError(Exception):
    """The scenario is not valid: the message names where and what."""


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        if path.endswith(".json"):
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ScenarioError(f"{path}: not valid {'JSON' if path.endswith('.json') else 'TOML'}: {e}")
    return check(data, path)


def _check_keys(table, allowed, where):
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table")
    for key, value in table.items():
        if key not in allowed:
            raise ScenarioError(f"{where}.{key}: unknown setting (known: {', '.join(sorted(allowed))})")
        want = allowed[key]
        if want is object:
            continue
        if want is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif want is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, want)
        if not ok:
            raise ScenarioError(f"{where}.{key}: expected {want.__name__}, got {value!r}")


def _check_settings(settings, where):
    _check_keys(settings, {"input": dict, "server": dict, "pipeline": dict}, where)
    _check_keys(settings.get("input", {}), INPUT_KEYS, where + ".input")
    server = settings.get("server", {})
    _check_keys(server, SERVER_KEYS, where + ".server")
    for kind, pct in server.get("mix", {}).items():
        if kind not in MIX_KINDS:
            raise ScenarioError(f"{where}.server.mix.{kind}: unknown fault (known: {', '.join(MIX_KINDS)})")
        if not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
            raise ScenarioError(f"{where}.server.mix.{kind}: a percentage 0..100")
    if sum(server.get("mix", {}).values()) > 100:
        raise ScenarioError(f"{where}.server.mix: adds up to more than 100 %")
    _check_keys(settings.get("pipeline", {}), PIPELINE_KEYS, where + ".pipeline")


def parse_threshold(text, where):
    m = THRESHOLD_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ScenarioError(f"{where}: '{text}' is not METRIC OP NUMBER[%] (e.g. 'users_per_s >= 150')")
    return {"text": text.strip(), "metric": m.group(1), "op": m.group(2),
            "value": float(m.group(3)), "percent": m.group(4) == "%"}


def check(data, where="scenario"):
    _check_keys(data, {k: object for k in TOP_KEYS}, where)
    if not isinstance(data.get("name"), str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", data["name"]):
        raise ScenarioError(f"{where}.name: required, letters, digits, - and _ only")
    defaults = data.get("defaults", {})
    _check_settings(defaults, where + ".defaults")
    phases = data.get("phases")
    if not isinstance(phases, list) or not phases:
        raise ScenarioError(f"{where}.phases: at least one [[phases]] table is required")
    thresholds = [parse_threshold(t, f"{where}.thresholds[{i}]")
                  for i, t in enumerate(data.get("thresholds", []))]
    names = set()
    checked = []
    for i, phase in enumerate(phases):
        at = f"{where}.phases[{i}]"
        _check_keys(phase, {k: object for k in PHASE_KEYS}, at)
        name = phase.get("name", f"phase{i + 1}")
        if name in names or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", name):
            raise ScenarioError(f"{at}.name: '{name}' is repeated or not letters, digits, - and _")
        names.add(name)
        _check_settings({k: phase[k] for k in ("input", "server", "pipeline") if k in phase}, at)
        settings = merge(defaults, phase)
        inp = settings["input"]
        if "duration_s" in phase:
            if not isinstance(phase["duration_s"], (int, float)) or phase["duration_s"] <= 0:
                raise ScenarioError(f"{at}.duration_s: a positive number of seconds")
            if inp.get("users_per_s", 0) <= 0:
                raise ScenarioError(f"{at}: a duration phase needs input.users_per_s > 0")
        elif inp.get("users", 0) <= 0:
            raise ScenarioError(f"{at}: needs input.users > 0 (or duration_s with input.users_per_s)")
        sweep = phase.get("sweep")
        if sweep is not None:
            _check_keys(sweep, {"setting": str, "values": list}, at + ".sweep")
            section, _, key = sweep.get("setting", "").partition(".")
            allowed = {"input": INPUT_KEYS, "server": SERVER_KEYS, "pipeline": PIPELINE_KEYS}.get(section, {})
            if key not in allowed or not sweep.get("values"):
                raise ScenarioError(f"{at}.sweep: setting must be SECTION.KEY (e.g. pipeline.workers) "
                                    "and values a non-empty list")
        chaos = phase.get("chaos", [])
        for j, event in enumerate(chaos):
            ew = f"{at}.chaos[{j}]"
            action = event.get("action") if isinstance(event, dict) else None
            if action not in CHAOS_ACTIONS:
                raise ScenarioError(f"{ew}.action: one of {', '.join(CHAOS_ACTIONS)}")
            extra = set(event) - {"action", "at_s"} - CHAOS_ACTIONS[action]
            if extra or not isinstance(event.get("at_s"), (int, float)) or event["at_s"] < 0:
                raise ScenarioError(f"{ew}: needs at_s >= 0; takes {sorted(CHAOS_ACTIONS[action]) or 'nothing else'}")
            if action == "cut_link" and settings["pipeline"].get("remote_hosts", 0) <= 0:
                raise ScenarioError(f"{ew}: cut_link needs pipeline.remote_hosts > 0")
        per_phase = [parse_threshold(t, f"{at}.thresholds[{k}]")
                     for k, t in enumerate(phase.get("thresholds", []))]
        checked.append({"name": name, "settings": settings, "sweep": sweep, "chaos": chaos,
                        "thresholds": thresholds + per_phase,
                        "duration_s": phase.get("duration_s"), "soak": bool(phase.get("soak", False)),
                        "expect_codes": list(phase.get("expect_codes", []))})
    tolerance = data.get("tolerance_pct", 1.0)
    return {"name": data["name"], "description": data.get("description", ""), "phases": checked,
            "tolerance_pct": float(tolerance), "source": data}


def merge(defaults, phase):
    settings = {}
    for section in ("input", "server", "pipeline"):
        value = copy.deepcopy(defaults.get(section, {}))
        value.update(copy.deepcopy(phase.get(section, {})))
        settings[section] = value
    return settings


def points(scenario):
    """Every point to run, in order: (phase, point name, settings, swept value or None)."""
    out = []
    for phase in scenario["phases"]:
        sweep = phase["sweep"]
        if sweep is None:
            out.append((phase, phase["name"], phase["settings"], None))
            continue
        section, _, key = sweep["setting"].partition(".")
        for value in sweep["values"]:
            settings = copy.deepcopy(phase["settings"])
            settings[section][key] = value
            out.append((phase, f"{phase['name']}-{key}{value}", settings, value))
    return out
