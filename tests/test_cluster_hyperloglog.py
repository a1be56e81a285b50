"""HyperLogLogs on a 3-node cluster: PFCOUNT of one key stores its cached count in the
value, so it goes through the shard's log like a write and every replica ends with the
same bytes as the leader (and as redis-server would hold; see test_differential.py).
Multi-key PFCOUNT and PFMERGE route by every key."""

import time

import pytest
import redis

from test_cluster_lists_sets import shard_nodes

pytestmark = pytest.mark.cluster


def state(client):
    return (client.get("{h}one"), client.get("{h}two"), client.get("{h}merged"))


def assert_followers_converge(followers, expected, seconds=10):
    """Each follower, read with READONLY, reaches the leader's raw values (bytes, not text)
    within `seconds`; MOVED from a follower that has not heard its leader lately is "not yet"."""
    for follower in followers:
        reader = follower.client(decode_responses=False)
        assert reader.execute_command("READONLY") in (b"OK", True)
        deadline = time.monotonic() + seconds
        while True:
            try:
                if state(reader) == expected:
                    break
            except redis.exceptions.MovedError:
                pass
            assert time.monotonic() < deadline, f"replica on node {follower} never matched the leader"
            time.sleep(0.05)


@pytest.mark.timeout(120)
def test_replicas_hold_identical_hyperloglogs(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, followers = shard_nodes(cluster, "{h}one")
    assert followers, "the shard has no follower"
    client = leader.client(decode_responses=False)

    assert client.pfadd("{h}one", *[f"e{index}" for index in range(500)]) == 1
    assert client.pfadd("{h}two", *[f"e{index}" for index in range(300, 5000)]) == 1  # dense
    before = client.get("{h}one")
    assert before[15] & 0x80, "PFADD leaves the cache invalid"
    one = client.pfcount("{h}one")
    assert client.get("{h}one")[15] == 0, "PFCOUNT stored the count"
    assert int.from_bytes(client.get("{h}one")[8:16], "little") == one
    union = client.pfcount("{h}one", "{h}two")
    assert client.pfmerge("{h}merged", "{h}one", "{h}two")
    assert client.pfcount("{h}merged") == union
    expected = state(client)
    assert all(expected)

    assert_followers_converge(followers, expected)


@pytest.mark.timeout(60)
def test_multi_key_hyperloglog_commands_route_by_every_key(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, _ = shard_nodes(cluster, "{a}x")
    client = leader.client()
    client.pfadd("{a}x", "1")
    for command in (("PFCOUNT", "{a}x", "{b}y"), ("PFMERGE", "{a}x", "{b}y"), ("PFMERGE", "{a}d", "{a}x", "{b}y")):
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            client.execute_command(*command)
    assert client.execute_command("PFCOUNT", "{a}x", "{a}none") == 1
    assert client.execute_command("PFMERGE", "{a}d", "{a}x") in ("OK", True)
