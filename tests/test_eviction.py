"""maxmemory-policy: past maxmemory, an evicting policy removes keys (the leader chooses,
the log carries the choice) instead of refusing writes; `evicted` is published and counted
in INFO's evicted_keys; volatile policies touch only keys with a TTL and answer -OOM when
none is left; noeviction keeps refusing writes."""

import time

import pytest
import redis


def wait_until(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def fill(client, prefix, count, **options):
    pipe = client.pipeline(transaction=False)
    for index in range(count):
        pipe.set(f"{prefix}{index}", "v" * 16, **options)
    pipe.execute()


def test_maxmemory_of_one_byte_evicts_and_publishes_evicted(target):
    """Redis's own test (unit/pubsub): a key set, maxmemory 1, the `evicted` event."""
    client = target.client()
    listener = client.pubsub()
    listener.psubscribe("*")
    assert listener.get_message(timeout=2)["type"] == "psubscribe"
    client.config_set("notify-keyspace-events", "KEA")
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        client.set("foo", "bar")
        client.config_set("maxmemory", 1)
        deadline = time.monotonic() + 5
        message = None
        while time.monotonic() < deadline:
            message = listener.get_message(timeout=0.2)
            if message and message["channel"] == b"__keyevent@0__:evicted":
                break
        assert message and message["channel"] == b"__keyevent@0__:evicted" and message["data"] == b"foo", message
        assert client.info("stats")["evicted_keys"] >= 1
    finally:
        client.config_set("maxmemory", 0)
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("notify-keyspace-events", "")
        listener.close()


def test_allkeys_policy_bounds_the_data_and_keeps_accepting_writes(server):
    client = server.client()
    fill(client, "k", 20_000)
    client.config_set("maxmemory-policy", "allkeys-random")
    client.config_set("maxmemory", 2_000_000)  # about half of what 20,000 keys take
    assert wait_until(lambda: client.dbsize() < 14_000), client.dbsize()
    time.sleep(1)
    settled = client.dbsize()
    assert 5_000 < settled < 14_000, settled
    assert client.set("still-writable", "yes") is True
    assert client.info("stats")["evicted_keys"] == 20_001 - client.dbsize()


def test_volatile_ttl_takes_only_keys_with_a_ttl_then_refuses_writes(server):
    client = server.client()
    fill(client, "plain", 3_000)
    fill(client, "expiring", 1_000, ex=1_000)
    client.config_set("maxmemory-policy", "volatile-ttl")
    client.config_set("maxmemory", 1)
    assert wait_until(lambda: client.dbsize() == 3_000), client.dbsize()
    assert client.exists(*[f"plain{index}" for index in range(0, 3_000, 100)]) == 30
    time.sleep(0.5)
    with pytest.raises(redis.exceptions.ResponseError, match="command not allowed when used memory > 'maxmemory'"):
        client.set("more", "x")
    client.config_set("maxmemory", 0)
    assert client.set("more", "x") is True


def test_noeviction_refuses_writes_and_removes_nothing(server):
    client = server.client()
    fill(client, "k", 100)
    client.config_set("maxmemory", 1)
    time.sleep(0.5)
    with pytest.raises(redis.exceptions.ResponseError, match="command not allowed when used memory > 'maxmemory'"):
        client.set("more", "x")
    assert client.dbsize() == 100 and client.info("stats")["evicted_keys"] == 0
    client.config_set("maxmemory", 0)
