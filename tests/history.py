"""Records a SET/GET history from real clients and checks it with `trestle check-history`.

Usage in a test:

    recorder = HistoryRecorder()
    start = time.monotonic_ns()
    try:
        client.set(key, value)
        recorder.record(worker, key, "set", value, start, time.monotonic_ns(), "ok")
    except redis.exceptions.RedisError as error:
        recorder.record(worker, key, "set", value, start, time.monotonic_ns(), outcome_of_error(error))
    ...
    ok, output = recorder.check(trestle_binary())
    assert ok, output

Outcomes (Jepsen's terms): "ok" completed with a result (a get records the value it read,
or None for a missing key); "fail" definitely not applied (an error reply meaning the command
was not executed: -MOVED, -ASK, -CROSSSLOT; see `outcome_of_error`); "info" unknown (timeout,
lost connection, an ambiguous error such as -TRYAGAIN or -CLUSTERDOWN while a write's
outcome may be open): it may or may not have taken effect.

Invariants: `record` is thread-safe and validates its arguments (a bad record raises
immediately rather than making the checker fail later); times are monotonic nanoseconds
(`time.monotonic_ns()`), so every recorder in one process shares one clock; the history
file is JSON lines in the format `trestle check-history --help` documents.
"""

import json
import os
import subprocess
import tempfile
import threading

OPERATIONS = ("set", "get")
OUTCOMES = ("ok", "fail", "info")
CHECK_SECONDS_MAX = 300

# `trestle check-history` exit statuses.
EXIT_LINEARIZABLE = 0
EXIT_ILLEGAL = 1
EXIT_UNREADABLE = 2
EXIT_UNKNOWN = 3


class HistoryRecorder:
    """A thread-safe, append-only list of operations."""

    def __init__(self):
        self._lock = threading.Lock()
        self._operations = []

    def record(self, client, key, op, value, start, end, outcome):
        """Appends one operation. `value` is the value written (set) or read (ok get; None
        for a missing key); `end` may be None for an "info" operation."""
        if op not in OPERATIONS:
            raise ValueError(f"op must be one of {OPERATIONS}, not {op!r}")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        if op == "set" and value is None:
            raise ValueError("a set needs a value")
        if end is None and outcome != "info":
            raise ValueError("only an info operation may lack an end time")
        if end is not None and outcome != "info" and end < start:
            raise ValueError(f"end {end} is before start {start}")
        entry = {
            "client": int(client),
            "key": _text(key),
            "op": op,
            "value": None if value is None else _text(value),
            "start": int(start),
            "end": None if end is None else int(end),
            "outcome": outcome,
        }
        with self._lock:
            self._operations.append(entry)

    def operations(self):
        """A copy of the recorded operations, in recording order."""
        with self._lock:
            return list(self._operations)

    def __len__(self):
        with self._lock:
            return len(self._operations)

    def dump(self, path):
        """Writes the history as JSON lines; returns the path."""
        with open(path, "w", encoding="utf-8") as out:
            for entry in self.operations():
                out.write(json.dumps(entry, ensure_ascii=False))
                out.write("\n")
        return path

    def check(self, trestle_binary, path=None, extra_args=()):
        """Runs `trestle check-history` on the history. Returns (ok, output): ok is True
        only for exit 0 (linearizable); output is the checker's stdout and stderr. A
        history that could not be decided (exit 3) or not read (exit 2) is not ok."""
        owned = path is None
        if owned:
            handle, path = tempfile.mkstemp(prefix="trestle-history-", suffix=".jsonl")
            os.close(handle)
        try:
            self.dump(path)
            result = subprocess.run([trestle_binary, "check-history", path, *extra_args],
                                    capture_output=True, text=True, timeout=CHECK_SECONDS_MAX)
        finally:
            if owned:
                os.unlink(path)
        output = result.stdout + result.stderr
        return result.returncode == EXIT_LINEARIZABLE, f"(exit {result.returncode})\n{output}"


# Error codes whose reply means the command was not executed: the server refused it before
# it reached a log. Anything else (including -TRYAGAIN and -CLUSTERDOWN, which may be sent
# while a proposed write's outcome is still open) is recorded as "info" unless a test knows
# better and passes `not_executed`.
NOT_EXECUTED_CODES = ("MOVED", "ASK", "CROSSSLOT")

# redis-py strips the code from some error replies and raises a subclass instead.
_CODE_OF_EXCEPTION = {"MovedError": "MOVED", "AskError": "ASK", "ClusterCrossSlotError": "CROSSSLOT",
                      "TryAgainError": "TRYAGAIN", "ClusterDownError": "CLUSTERDOWN"}


def outcome_of_error(error, not_executed=NOT_EXECUTED_CODES):
    """The outcome to record for a command that raised `error`: "fail" only for an error
    reply whose code (e.g. MOVED, from Redis's exact reply text) is in `not_executed`, else
    "info". "info" is always safe (the checker lets the write happen or not); "fail" for a
    write that did happen would be a false alarm, hence the short list."""
    classes = [cls.__name__ for cls in type(error).__mro__]
    if not type(error).__module__.startswith("redis") or "ResponseError" not in classes:
        return "info"  # timeouts, lost connections, anything that is not an error reply
    code = next((_CODE_OF_EXCEPTION[name] for name in classes if name in _CODE_OF_EXCEPTION), None)
    if code is None:
        words = str(error).split(maxsplit=1)
        code = words[0] if words else ""
    return "fail" if code in not_executed else "info"


def _text(value):
    """Keys and values as str (redis-py hands out bytes unless decode_responses is set)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)
