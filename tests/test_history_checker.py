"""`trestle check-history` through the real binary: a history recorded from concurrent
redis-py clients against a real server passes; the same history with a deliberately lost
acknowledged write is rejected with the offending key. This is the proof that the checker
the cluster tests rely on catches the bug it is there to catch. Also: the exit statuses
(0 linearizable, 1 not, 2 unreadable input, 3 unknown) and the --json form.
"""

import json
import random
import subprocess
import threading
import time

import redis

from conftest import trestle_binary
from history import EXIT_ILLEGAL, EXIT_UNKNOWN, EXIT_UNREADABLE, HistoryRecorder, outcome_of_error

CLIENTS = 6
OPERATIONS_PER_CLIENT = 150
KEYS = 8


def record_workload(port, recorder, seed):
    """CLIENTS threads doing random SET/GET on KEYS keys; every value is unique."""
    errors = []

    def worker(client_id):
        rng = random.Random(seed * 1000 + client_id)
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, decode_responses=True, protocol=2)
        try:
            for index in range(OPERATIONS_PER_CLIENT):
                key = f"k{rng.randrange(KEYS)}"
                start = time.monotonic_ns()
                if rng.random() < 0.5:
                    value = f"v-{client_id}-{index}"
                    client.set(key, value)
                    recorder.record(client_id, key, "set", value, start, time.monotonic_ns(), "ok")
                else:
                    value = client.get(key)
                    recorder.record(client_id, key, "get", value, start, time.monotonic_ns(), "ok")
        except Exception as error:  # reported by the test, not swallowed
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(client_id,)) for client_id in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def lose_an_acknowledged_write(recorder):
    """A copy of the history plus, after everything, a read of some key that returns the
    value it held before its last acknowledged write: that write was lost."""
    operations = recorder.operations()
    broken = HistoryRecorder()
    for entry in operations:
        broken.record(entry["client"], entry["key"], entry["op"], entry["value"], entry["start"], entry["end"],
                      entry["outcome"])
    last_end = max(entry["end"] for entry in operations)
    for key in sorted({entry["key"] for entry in operations}):
        writes = sorted((entry for entry in operations if entry["key"] == key and entry["op"] == "set"),
                        key=lambda entry: entry["end"])
        if len(writes) >= 2:
            # The value before the final write (not overlapping it), read after it ended.
            previous = [entry for entry in writes[:-1] if entry["end"] < writes[-1]["start"]]
            if previous:
                broken.record(99, key, "get", previous[-1]["value"], last_end + 1000, last_end + 2000, "ok")
                return broken, key
    raise AssertionError("workload wrote no key twice in sequence")


def test_recorded_history_passes_and_lost_write_is_caught(server):
    recorder = HistoryRecorder()
    record_workload(server.port, recorder, seed=random.randrange(1 << 30))
    assert len(recorder) == CLIENTS * OPERATIONS_PER_CLIENT

    ok, output = recorder.check(trestle_binary())
    assert ok, output
    assert "linearizable" in output and f"{CLIENTS * OPERATIONS_PER_CLIENT} operations" in output

    broken, key = lose_an_acknowledged_write(recorder)
    ok, output = broken.check(trestle_binary())
    assert not ok, output
    assert f"(exit {EXIT_ILLEGAL})" in output, output
    assert f'key "{key}"' in output, output


def test_hand_written_lost_write_and_info_write():
    good = HistoryRecorder()
    good.record(1, "a", "set", "x", 0, 10, "ok")
    good.record(2, "a", "get", "x", 20, 30, "ok")
    good.record(3, "a", "set", "maybe", 40, None, "info")  # may or may not have happened
    good.record(2, "a", "get", "x", 50, 60, "ok")
    good.record(2, "a", "get", "maybe", 70, 80, "ok")
    good.record(1, "b", "set", "no", 0, 10, "fail")          # definitely not applied
    good.record(2, "b", "get", None, 20, 30, "ok")
    ok, output = good.check(trestle_binary())
    assert ok, output

    lost = HistoryRecorder()
    lost.record(1, "a", "set", "x", 0, 10, "ok")
    lost.record(2, "a", "get", None, 20, 30, "ok")
    ok, output = lost.check(trestle_binary())
    assert not ok and f"(exit {EXIT_ILLEGAL})" in output, output
    assert 'key "a"' in output and 'set "x"' in output and "get -> null" in output, output


def test_json_output(tmp_path):
    recorder = HistoryRecorder()
    recorder.record(1, "a", "set", "x", 0, 10, "ok")
    recorder.record(2, "a", "get", "ghost", 20, 30, "ok")
    path = recorder.dump(tmp_path / "h.jsonl")
    result = subprocess.run([trestle_binary(), "check-history", str(path), "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == EXIT_ILLEGAL, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["result"] == "illegal" and report["key"] == "a"
    assert report["operations"] == 2 and report["keys"] == 1
    assert report["counterexample"] == [
        {"client": 2, "key": "a", "op": "get", "value": "ghost", "start": 20, "end": 30, "outcome": "ok"}]


def test_unreadable_and_unknown_exit_statuses(tmp_path):
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text('{"client": 1, "key": "a", "op": "set", "value": "x", "start": 0, "end": 1, "outcome": "ok"}\n'
                       "this is not json\n")
    result = subprocess.run([trestle_binary(), "check-history", str(garbage)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == EXIT_UNREADABLE and "line 2" in result.stderr, result.stdout + result.stderr

    result = subprocess.run([trestle_binary(), "check-history", str(tmp_path / "missing.jsonl")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == EXIT_UNREADABLE, result.stdout + result.stderr

    busy = HistoryRecorder()
    for client in range(6):
        busy.record(client, "k", "set", f"v{client}", 0, 100, "ok")
    busy.record(9, "k", "get", "v0", 200, 300, "ok")
    ok, output = busy.check(trestle_binary(), extra_args=["--explored-states-max", "1"])
    assert not ok and f"(exit {EXIT_UNKNOWN})" in output, output
    ok, output = busy.check(trestle_binary())
    assert ok, output


def test_error_outcomes_are_conservative():
    assert outcome_of_error(redis.exceptions.ResponseError("MOVED 3999 127.0.0.1:7002")) == "fail"
    assert outcome_of_error(redis.exceptions.ResponseError("CROSSSLOT Keys in request don't hash to the same slot")) == "fail"
    assert outcome_of_error(redis.exceptions.ResponseError("TRYAGAIN outcome pending")) == "info"
    assert outcome_of_error(redis.exceptions.ResponseError("CLUSTERDOWN no quorum")) == "info"
    assert outcome_of_error(redis.exceptions.TimeoutError("Timeout reading from socket")) == "info"
    assert outcome_of_error(redis.exceptions.ConnectionError("Connection reset by peer")) == "info"
    assert outcome_of_error(ValueError("MOVED 1 x:1")) == "info"  # not an error reply
    assert outcome_of_error(redis.exceptions.MovedError("3999 127.0.0.1:7002")) == "fail"  # code stripped by redis-py
    assert outcome_of_error(redis.exceptions.AskError("3999 127.0.0.1:7002")) == "fail"
    assert outcome_of_error(redis.exceptions.TryAgainError("")) == "info"
    assert outcome_of_error(redis.exceptions.ClusterDownError("no quorum")) == "info"
    assert outcome_of_error(redis.exceptions.ResponseError("ERR unknown")) == "info"
    assert outcome_of_error(redis.exceptions.TryAgainError("x"), not_executed=("TRYAGAIN",)) == "fail"


def test_recorder_rejects_bad_records():
    recorder = HistoryRecorder()
    for bad in [(1, "k", "del", "v", 0, 1, "ok"), (1, "k", "set", None, 0, 1, "ok"), (1, "k", "set", "v", 0, None, "ok"),
                (1, "k", "set", "v", 5, 1, "ok"), (1, "k", "get", None, 0, 1, "maybe")]:
        try:
            recorder.record(*bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")
    assert len(recorder) == 0
    recorder.record(1, b"k", "get", b"v", 0, 1, "ok")  # bytes from redis-py are stored as str
    assert recorder.operations()[0]["key"] == "k" and recorder.operations()[0]["value"] == "v"
