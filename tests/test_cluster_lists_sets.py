"""Lists and sets on a 3-node cluster: every replica applies the same log and must end with
identical values, element order and set order included (SPOP picks by position, so a
replica whose order differed would pop different members later). Multi-key commands route
by every key they name, LMPOP's and SINTERCARD's keys included."""

import time

import pytest
import redis

from cluster_harness import key_slot

pytestmark = pytest.mark.cluster


def shard_nodes(cluster, key):
    slot = key_slot(key)
    for first, last, master, replicas in cluster.slot_table():
        if first <= slot <= last:
            return cluster.nodes[master], [cluster.nodes[index] for index in replicas]
    raise AssertionError(f"slot {slot} not in CLUSTER SLOTS")


def assert_followers_converge(followers, state, expected, seconds=10):
    """Each follower, read with READONLY, reaches the leader's `state` within `seconds`. A
    follower that has not heard from its leader lately answers MOVED (a loaded machine can
    delay heartbeats): that is "not yet", not a failure."""
    def follower_state(reader):
        try:
            return state(reader)
        except redis.exceptions.MovedError:
            return None

    for follower in followers:
        reader = follower.client()
        assert reader.execute_command("READONLY") in ("OK", True)
        deadline = time.monotonic() + seconds
        while follower_state(reader) != expected:
            assert time.monotonic() < deadline, f"replica on node {follower} never matched the leader"
            time.sleep(0.05)


def state(client):
    """Lists and sets in their stored order (SSCAN returns a whole set, in order, as a list;
    redis-py turns SMEMBERS into an unordered Python set)."""
    return (client.lrange("{q}list", 0, -1), client.lrange("{q}other", 0, -1),
            client.sscan("{q}set", 0)[1], client.sscan("{q}stored", 0)[1])


@pytest.mark.timeout(120)
def test_replicas_hold_identical_lists_and_sets(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, followers = shard_nodes(cluster, "{q}set")
    assert followers, "the shard has no follower"
    client = leader.client()

    client.sadd("{q}set", *[f"m{index}" for index in range(60)])
    client.rpush("{q}list", *[f"e{index}" for index in range(40)])
    for round_number in range(15):
        client.execute_command("SRANDMEMBER", "{q}set", 3)  # reads draw randomness on the leader only
        popped = client.execute_command("SPOP", "{q}set", 2)
        assert len(popped) == 2
        client.lmove("{q}list", "{q}other", "LEFT", "RIGHT")
        client.execute_command("LMPOP", 2, "{q}empty", "{q}list", "RIGHT")
        client.sadd("{q}set", f"new{round_number}")
        client.srem("{q}set", f"m{round_number * 3}")
    client.sinterstore("{q}stored", "{q}set", "{q}set")
    assert client.execute_command("SINTERCARD", 2, "{q}set", "{q}stored") == client.scard("{q}set")
    expected = state(client)
    assert expected[0] and expected[2]

    assert_followers_converge(followers, state, expected)


@pytest.mark.timeout(60)
def test_multi_key_list_and_set_commands_route_by_every_key(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, _ = shard_nodes(cluster, "{a}x")
    client = leader.client()
    client.rpush("{a}x", "1")
    for command in (("LMOVE", "{a}x", "{b}y", "LEFT", "LEFT"), ("SMOVE", "{a}x", "{b}y", "1"),
                    ("SUNIONSTORE", "{a}d", "{b}y"), ("LMPOP", 2, "{a}x", "{b}y", "LEFT"),
                    ("SINTERCARD", 2, "{a}x", "{b}y")):
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            client.execute_command(*command)
    assert client.execute_command("LMPOP", 2, "{a}none", "{a}x", "LEFT") == ["{a}x", ["1"]]
    assert client.exists("{a}x") == 0
