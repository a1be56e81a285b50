"""Tests of the cluster tests' own tools, against a plain redis-server: the recorded
workload (tests/workload.py) and its history, checked by `trestle check-history`. They
show that the durability check can fail (tests/test_history_checker.py shows the same for
the linearizability check)."""

import time

import pytest

from workload import Workload

pytestmark = pytest.mark.cluster


def run_briefly(reference, seconds=1.0, **options):
    workload = Workload(lambda: reference.client(decode_responses=True), **options).start()
    time.sleep(seconds)
    workload.stop()
    return workload


def test_workload_records_and_verifies_against_a_correct_server(redis_reference, cluster_binary):
    workload = run_briefly(redis_reference, threads=3, keys_per_thread=50)
    assert workload.total_acknowledged() == 150
    assert sum(workload.per_second()) > 100
    assert workload.longest_stall_seconds() == 0
    assert workload.verify(redis_reference.client(decode_responses=True)) == []
    ok, text = workload.recorder.check(cluster_binary)
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
