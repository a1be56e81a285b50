"""Sorted sets on a 3-node cluster: every replica applies the same log and must end with
identical sorted sets (members, scores and order) after ZADD's options, increments, pops,
range removals and stores, with ZRANDMEMBER reads drawing randomness on the leader only.
Multi-key sorted-set commands route by every key they name, the destination of
ZUNIONSTORE and the counted keys of ZUNION, ZINTERCARD and ZMPOP included."""


import pytest
import redis

from test_cluster_lists_sets import assert_followers_converge, shard_nodes

pytestmark = pytest.mark.cluster

KEYS = ("{z}a", "{z}b", "{z}union", "{z}inter", "{z}range")


def state(client):
    return [client.zrange(key, 0, -1, withscores=True) for key in KEYS]


@pytest.mark.timeout(120)
def test_replicas_hold_identical_sorted_sets(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, followers = shard_nodes(cluster, "{z}a")
    assert followers, "the shard has no follower"
    client = leader.client()

    client.zadd("{z}a", {f"m{index}": index % 7 for index in range(60)})
    client.zadd("{z}b", {f"m{index * 2}": index / 4 for index in range(40)})
    for round_number in range(12):
        client.execute_command("ZRANDMEMBER", "{z}a", 3, "WITHSCORES")  # leader-only randomness
        client.execute_command("ZADD", "{z}a", "GT", "CH", round_number, f"m{round_number}", 100, f"new{round_number}")
        client.zincrby("{z}b", 0.5, f"m{round_number * 4}")
        assert len(client.zpopmin("{z}a", 2)) == 2
        client.execute_command("ZMPOP", 2, "{z}empty", "{z}b", "MAX")
        client.zremrangebyscore("{z}b", "(9", "+inf")
    client.execute_command("ZUNIONSTORE", "{z}union", 2, "{z}a", "{z}b", "WEIGHTS", 2, 1)
    client.execute_command("ZINTERSTORE", "{z}inter", 2, "{z}a", "{z}b", "AGGREGATE", "MAX")
    client.execute_command("ZRANGESTORE", "{z}range", "{z}union", 1, 5, "BYSCORE", "LIMIT", 0, 10)
    assert client.type("{z}a") in ("zset", b"zset")
    expected = state(client)
    assert expected[0] and expected[2]

    assert_followers_converge(followers, state, expected)


@pytest.mark.timeout(60)
def test_multi_key_sorted_set_commands_route_by_every_key(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, _ = shard_nodes(cluster, "{a}x")
    client = leader.client()
    client.zadd("{a}x", {"m": 1})
    for command in (("ZUNIONSTORE", "{b}d", 1, "{a}x"), ("ZUNION", 2, "{a}x", "{b}y"), ("ZINTERCARD", 2, "{a}x", "{b}y"),
                    ("ZMPOP", 2, "{a}x", "{b}y", "MIN"), ("ZRANGESTORE", "{b}d", "{a}x", 0, -1),
                    ("ZDIFFSTORE", "{a}d", 2, "{a}x", "{b}y")):
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            client.execute_command(*command)
    assert client.execute_command("ZMPOP", 2, "{a}none", "{a}x", "MIN") == ["{a}x", [["m", "1"]]]
    assert client.exists("{a}x") == 0
