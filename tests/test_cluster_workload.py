"""Tests of the cluster tests' own tools, against a plain redis-server: the recorded
workload (tests/workload.py) and the history checker fallback (tests/history_stub.py).
They show that the durability check and the linearizability check can fail."""

import time

import pytest

import history_stub
from workload import Workload

pytestmark = pytest.mark.cluster


def run_briefly(reference, seconds=1.0, **options):
    workload = Workload(lambda: reference.client(decode_responses=True), **options).start()
    time.sleep(seconds)
    workload.stop()
    return workload


def test_workload_records_and_verifies_against_a_correct_server(redis_reference):
    workload = run_briefly(redis_reference, threads=3, keys_per_thread=50)
    assert workload.total_acknowledged() == 150
    assert sum(workload.per_second()) > 100
    assert workload.longest_stall_seconds() == 0
    assert workload.verify(redis_reference.client(decode_responses=True)) == []
    ok, text = history_stub.check_registers(workload.recorder.operations())
    assert ok, text


def test_verify_reports_a_lost_acknowledged_write(redis_reference):
    workload = run_briefly(redis_reference, seconds=0.5, threads=2, keys_per_thread=20)
    client = redis_reference.client(decode_responses=True)
    lost = workload.key(1, 7)
    client.delete(lost)
    problems = workload.verify(client)
    assert len(problems) == 1 and problems[0].startswith(lost), problems


def test_verify_accepts_a_later_unacknowledged_value(redis_reference):
    workload = run_briefly(redis_reference, seconds=0.3, threads=1, keys_per_thread=5)
    key = workload.key(0, 0)
    workload.states[key].maybe.append("unacked-value")
    client = redis_reference.client(decode_responses=True)
    client.set(key, "unacked-value")
    assert workload.verify(client) == []
    client.set(key, "never-written")
    assert len(workload.verify(client)) == 1


def event(client, op, value, start, end, outcome="ok", key="k"):
    return {"client": client, "key": key, "op": op, "value": value, "start": start, "end": end, "outcome": outcome}


def test_register_checker_accepts_concurrent_overlaps():
    events = [event(0, "set", "a", 0, 10), event(1, "get", "b", 5, 30), event(0, "set", "b", 12, 20),
              event(1, "get", "b", 31, 32)]
    assert history_stub.check_registers(events)[0]


def test_register_checker_rejects_a_stale_read():
    events = [event(0, "set", "a", 0, 10), event(0, "set", "b", 11, 20), event(1, "get", "a", 21, 25)]
    ok, text = history_stub.check_registers(events)
    assert not ok and "not linearizable" in text


def test_register_checker_rejects_a_lost_write_read_as_absent():
    events = [event(0, "set", "a", 0, 10), event(1, "get", None, 11, 12)]
    assert not history_stub.check_registers(events)[0]


def test_register_checker_treats_unknown_writes_as_optional():
    maybe_applied = [event(0, "set", "a", 0, 10), event(0, "set", "b", 11, 20, "info"), event(1, "get", "b", 50, 51)]
    never_applied = [event(0, "set", "a", 0, 10), event(0, "set", "b", 11, 20, "info"), event(1, "get", "a", 50, 51)]
    failed_write_read = [event(0, "set", "a", 0, 10), event(0, "set", "b", 11, 20, "fail"), event(1, "get", "b", 50, 51)]
    assert history_stub.check_registers(maybe_applied)[0]
    assert history_stub.check_registers(never_applied)[0]
    assert not history_stub.check_registers(failed_write_read)[0]


def test_recorder_dumps_one_json_line_per_operation(tmp_path):
    recorder = history_stub.HistoryRecorder()
    recorder.record(0, "k", "set", "v", 1, 2, "ok")
    recorder.record(1, "k", "get", "v", 3, 4, "ok")
    path = recorder.dump(tmp_path / "h.jsonl")
    assert len(open(path).read().splitlines()) == 2
    assert recorder.check(None) == (True, "local register check: 2 operations on 1 keys; 0 not linearizable, "
                                          "0 too large to check")
