"""STUB of tests/history.py (written on the e2e branch while the real one is being written
on another branch). Tests import `history` first and fall back to this module, so once
the real file is merged this one is unused and can be deleted.

Same API as the real recorder:
    recorder = HistoryRecorder()
    recorder.record(client, key, op, value, start_ns, end_ns, outcome)  # op: set|get
    recorder.dump(path)                                                  # outcome: ok|fail|info
    ok, text = recorder.check(trestle_binary)

`check` runs `trestle check-history FILE` when the binary has that subcommand; otherwise
it checks the history itself, key by key, as a single register per key with the
Wing-Gong search (so the cluster tests still assert linearizability before the checker
lands). Rules of the local check:
- a `set` with outcome ok took effect once, between its start and end; `fail` never took
  effect; `info` (unknown: timeout, connection lost, TRYAGAIN) may have taken effect at
  any time after its start, or never;
- a `get` with outcome ok returned `value` (None: key absent); failed or unknown gets are
  ignored;
- every key starts absent (tests use fresh key names per run).
Each key's search is bounded by `searchStatesMax`; a key that exceeds it is reported as
unchecked, never as passing silently.
"""

import json
import subprocess
import threading

searchStatesMax = 200_000
checkSecondsMax = 300
OPS = ("set", "get")
OUTCOMES = ("ok", "fail", "info")


class HistoryRecorder:
    """Thread-safe list of completed operations."""

    def __init__(self):
        self._lock = threading.Lock()
        self._events = []

    def record(self, client, key, op, value, start_ns, end_ns, outcome):
        assert op in OPS and outcome in OUTCOMES, (op, outcome)
        assert end_ns >= start_ns
        with self._lock:
            self._events.append({"client": int(client), "key": str(key), "op": op,
                                 "value": None if value is None else str(value),
                                 "start": int(start_ns), "end": int(end_ns), "outcome": outcome})

    def operations(self):
        """A copy of the recorded operations, in recording order (as the real recorder)."""
        with self._lock:
            return list(self._events)

    def __len__(self):
        with self._lock:
            return len(self._events)

    def dump(self, path):
        """One JSON object per line, in completion order, with the real recorder's fields
        (client, key, op, value, start, end, outcome)."""
        with open(path, "w") as out:
            for event in self.operations():
                out.write(json.dumps(event) + "\n")
        return path

    def check(self, trestle_binary=None, path=None):
        """(ok, text): the verdict and a human-readable explanation."""
        if trestle_binary and _has_check_history(trestle_binary):
            path = path or "/tmp/trestle-history.jsonl"
            self.dump(path)
            done = subprocess.run([trestle_binary, "check-history", path], capture_output=True, text=True,
                                  timeout=checkSecondsMax)
            return done.returncode == 0, done.stdout + done.stderr
        return check_registers(self.operations())


def _has_check_history(binary):
    try:
        done = subprocess.run([binary, "check-history", "--help"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def check_registers(events):
    """Checks every key's history as a linearizable register; returns (ok, text)."""
    by_key = {}
    for event in events:
        by_key.setdefault(event["key"], []).append(event)
    bad, unchecked = [], []
    for key, key_events in by_key.items():
        verdict = _check_one_register(key_events)
        if verdict is False:
            bad.append(key)
        elif verdict is None:
            unchecked.append(key)
    text = (f"local register check: {len(events)} operations on {len(by_key)} keys; "
            f"{len(bad)} not linearizable, {len(unchecked)} too large to check")
    if bad:
        text += "\nfirst non-linearizable key: " + _describe(bad[0], by_key[bad[0]])
    return not bad and not unchecked, text


def _describe(key, events):
    lines = [f"{key}:"]
    for e in sorted(events, key=lambda e: e["start"]):
        lines.append(f"  [{e['start']}, {e['end']}] client {e['client']} {e['op']} {e['value']!r} -> {e['outcome']}")
    return "\n".join(lines[:80])


def _check_one_register(events):
    """True, False, or None (search budget exceeded). Wing-Gong search with memoisation."""
    infinity = float("inf")
    ops = []
    for e in events:
        if e["outcome"] == "fail" or (e["op"] == "get" and e["outcome"] != "ok"):
            continue
        required = e["outcome"] == "ok"
        ops.append((e["start"], e["end"] if required else infinity, e["op"], e["value"], required))
    ops.sort(key=lambda op: op[0])
    required_mask = 0
    for index, op in enumerate(ops):
        if op[4]:
            required_mask |= 1 << index
    seen = set()
    stack = [(0, None)]
    while stack:
        done, value = stack.pop()
        if done & required_mask == required_mask:
            return True
        if (done, value) in seen:
            continue
        seen.add((done, value))
        if len(seen) > searchStatesMax:
            return None
        pending = [i for i in range(len(ops)) if not done >> i & 1]
        horizon = min(ops[i][1] for i in pending)  # nothing may start after an op still pending ended
        for i in pending:
            start, _, op, op_value, _ = ops[i]
            if start > horizon:
                break  # sorted by start
            if op == "set":
                stack.append((done | 1 << i, op_value))
            elif op_value == value:
                stack.append((done | 1 << i, value))
    return False
