"""MULTI/EXEC and WATCH on a cluster: atomic within one slot through the shard's log,
redirected like Redis Cluster, and READONLY follower reads."""

import time

import pytest
import redis

from cluster_harness import key_slot

pytestmark = pytest.mark.cluster


def leader_and_follower(cluster, key):
    slot = key_slot(key)
    for first, last, master, replicas in cluster.slot_table():
        if first <= slot <= last:
            return cluster.nodes[master], cluster.nodes[replicas[0]]
    raise AssertionError(f"slot {slot} not in CLUSTER SLOTS")


def key_on_same_leader(cluster, key):
    """A key of another slot whose shard has the same leader as `key`'s."""
    table = cluster.slot_table()

    def master(slot):
        return next(m for first, last, m, _ in table if first <= slot <= last)

    for n in range(10_000):
        candidate = f"{{other{n}}}y"
        if key_slot(candidate) != key_slot(key) and master(key_slot(candidate)) == master(key_slot(key)):
            return candidate
    raise AssertionError("no key of another slot on the same leader")


@pytest.mark.timeout(90)
def test_transactions_and_watch_within_a_slot(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, follower = leader_and_follower(cluster, "{t}a")
    client, other = leader.client(), leader.client()

    with client.pipeline(transaction=True) as pipe:
        pipe.set("{t}a", "1").incr("{t}n").incr("{t}n").get("{t}a")
        assert pipe.execute() == [True, 1, 2, "1"]

    # A watched key changed by another client: EXEC returns nil and runs nothing.
    client.execute_command("WATCH", "{t}a")
    other.set("{t}a", "changed")
    client.execute_command("MULTI")
    client.execute_command("SET", "{t}a", "mine")  # QUEUED
    assert client.execute_command("EXEC") is None
    assert other.get("{t}a") == "changed"

    # Unchanged: it runs.
    client.execute_command("WATCH", "{t}a", "{t}n")
    client.execute_command("MULTI")
    client.execute_command("INCR", "{t}n")
    assert client.execute_command("EXEC") == [3]

    # Across slots (both led by this node, so neither is redirected): CROSSSLOT, nothing runs.
    other_key = key_on_same_leader(cluster, "{t}a")
    client.execute_command("MULTI")
    client.execute_command("SET", "{t}x", "1")
    client.execute_command("SET", other_key, "1")
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        client.execute_command("EXEC")
    assert other.get("{t}x") is None

    # On a node that does not lead the slot: the queued command is redirected and EXEC aborts.
    elsewhere = follower.client()
    elsewhere.execute_command("MULTI")
    with pytest.raises(redis.exceptions.MovedError):
        elsewhere.execute_command("SET", "{t}a", "x")
    with pytest.raises(redis.exceptions.ExecAbortError):
        elsewhere.execute_command("EXEC")
    assert other.get("{t}a") == "changed"


@pytest.mark.timeout(60)
def test_readonly_connections_read_from_a_follower(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, follower = leader_and_follower(cluster, "{r}k")
    leader.client().set("{r}k", "v1")
    plain = follower.client()
    with pytest.raises(redis.exceptions.MovedError):
        plain.get("{r}k")
    reader = follower.client()
    assert reader.execute_command("READONLY") in ("OK", True)
    deadline = time.monotonic() + 5

    def follower_value():
        try:
            return reader.get("{r}k")
        except redis.exceptions.MovedError:  # no heartbeat lately (a loaded machine): not yet
            return None

    while follower_value() != "v1":
        assert time.monotonic() < deadline, "the follower never caught up"
        time.sleep(0.05)
    with pytest.raises(redis.exceptions.MovedError):
        reader.set("{r}k", "v2")  # writes still go to the leader


@pytest.mark.timeout(90)
def test_proxy_mode_runs_transactions_and_watch_at_the_slots_leader(cluster_factory):
    """A plain client on a node that does not lead the slot: WATCH reads the digests at the
    leader, EXEC carries the transaction there as one request (issue 12)."""
    cluster = cluster_factory(nodes=3, proxy_mode=True)
    leader, follower = leader_and_follower(cluster, "{t}a")
    client, other = follower.client(), leader.client()

    with client.pipeline(transaction=True) as pipe:
        pipe.set("{t}a", "1").incr("{t}n").incr("{t}n").get("{t}a")
        assert pipe.execute() == [True, 1, 2, "1"]

    client.execute_command("WATCH", "{t}a")
    other.set("{t}a", "changed")
    client.execute_command("MULTI")
    client.execute_command("SET", "{t}a", "mine")  # QUEUED
    assert client.execute_command("EXEC") is None
    assert other.get("{t}a") == "changed"

    client.execute_command("WATCH", "{t}a", "{t}n")
    client.execute_command("MULTI")
    client.execute_command("INCR", "{t}n")
    assert client.execute_command("EXEC") == [3]

    # redis-py's optimistic-locking helper, as job queues use it.
    def bump(pipe):
        current = int(pipe.get("{t}n"))
        pipe.multi()
        pipe.set("{t}n", current + 10)
    assert client.transaction(bump, "{t}n") == [True]
    assert other.get("{t}n") == "13"

    client.execute_command("MULTI")
    client.execute_command("SET", "{t}x", "1")
    client.execute_command("SET", "{other}y", "1")
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        client.execute_command("EXEC")
    assert other.get("{t}x") is None
