"""GEO commands on a 3-node cluster: every replica applies the same log and ends with the
same geo sets after GEOADD and the STORE forms; GEORADIUS and GEORADIUSBYMEMBER (write
commands, as in Redis) answer through the log without STORE too; a STORE or
GEOSEARCHSTORE destination in another slot is refused with CROSSSLOT."""

import pytest
import redis

from test_cluster_lists_sets import assert_followers_converge, shard_nodes

pytestmark = pytest.mark.cluster

KEYS = ("{g}sicily", "{g}near", "{g}dist", "{g}box")


def state(client):
    return [client.zrange(key, 0, -1, withscores=True) for key in KEYS]


@pytest.mark.timeout(120)
def test_replicas_hold_identical_geo_sets_and_stores_route_by_both_keys(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, followers = shard_nodes(cluster, "{g}sicily")
    assert followers, "the shard has no follower"
    client = leader.client()

    assert client.execute_command("GEOADD", "{g}sicily", "13.361389", "38.115556", "Palermo",
                                  "15.087269", "37.502669", "Catania", "13.5833", "37.3167", "Agrigento") == 3
    assert client.execute_command("GEOADD", "{g}sicily", "XX", "CH", "13.4", "38.1", "Palermo") == 1
    assert client.execute_command("GEORADIUS", "{g}sicily", "15", "37", "200", "km", "ASC") == ["Catania", "Agrigento", "Palermo"]
    assert client.execute_command("GEORADIUSBYMEMBER", "{g}sicily", "Catania", "100", "km") == ["Catania"]
    assert client.execute_command("GEORADIUS", "{g}sicily", "15", "37", "200", "km", "STORE", "{g}near") == 3
    assert client.execute_command("GEORADIUSBYMEMBER", "{g}sicily", "Palermo", "200", "km", "STOREDIST", "{g}dist") == 3
    assert client.execute_command("GEOSEARCHSTORE", "{g}box", "{g}sicily", "FROMLONLAT", "15", "37",
                                  "BYBOX", "300", "300", "km", "STOREDIST") == 3
    assert client.execute_command("GEODIST", "{g}sicily", "Palermo", "Catania", "km") == 162.4846  # as redis-server (redis-py parses it)
    assert client.execute_command("GEOSEARCH", "{g}sicily", "FROMMEMBER", "Catania", "BYRADIUS", "100", "km") == ["Catania"]
    for command in (("GEORADIUS", "{g}sicily", "15", "37", "200", "km", "STORE", "{other}x"),
                    ("GEORADIUSBYMEMBER", "{g}sicily", "Catania", "1", "km", "STOREDIST", "{other}x"),
                    ("GEOSEARCHSTORE", "{other}x", "{g}sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km")):
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            client.execute_command(*command)
    expected = state(client)
    assert all(expected)

    assert_followers_converge(followers, state, expected)
