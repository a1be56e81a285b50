"""Pub/sub on a 3-node cluster: a message published through any node reaches listeners on
every node (PUBLISH answers the cluster-wide count), pattern and shard-channel listeners
included, and redis-py's PubSub works through a node and through the cluster client."""

import time

import pytest
import redis

pytestmark = pytest.mark.cluster


def next_message(pubsub, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            return message
    return None


@pytest.mark.timeout(90)
def test_publish_reaches_listeners_on_every_node(cluster_factory):
    cluster = cluster_factory(nodes=3)
    listeners = []
    for node_id in (1, 2, 3):
        pubsub = cluster.nodes[node_id].client().pubsub()
        pubsub.subscribe("events")
        listeners.append(pubsub)
    patterned = cluster.nodes[2].client().pubsub()
    patterned.psubscribe("ev*")
    sharded = cluster.nodes[3].client().pubsub()
    sharded.ssubscribe("{shard}events")
    for pubsub in listeners + [patterned, sharded]:
        assert pubsub.get_message(timeout=2)["type"] in ("subscribe", "psubscribe", "ssubscribe")

    publisher = cluster.nodes[1].client()
    assert publisher.publish("events", "one") == 4
    for pubsub in listeners:
        message = next_message(pubsub)
        assert message is not None and message["channel"] == "events" and message["data"] == "one"
    message = next_message(patterned)
    assert message["type"] == "pmessage" and message["pattern"] == "ev*" and message["data"] == "one"

    assert cluster.nodes[2].client().execute_command("SPUBLISH", "{shard}events", "two") == 1
    message = next_message(sharded)
    assert message["type"] == "smessage" and message["data"] == "two"

    listeners[2].unsubscribe("events")
    assert cluster.nodes[3].client().publish("events", "three") == 3
    for pubsub in listeners + [patterned, sharded]:
        pubsub.close()


@pytest.mark.timeout(90)
def test_cluster_client_pubsub(cluster_factory):
    cluster = cluster_factory(nodes=3)
    client = cluster.cluster_client()
    pubsub = client.pubsub()
    pubsub.subscribe("news")
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    # Published through a different node than the one the listener picked.
    for node_id in (1, 2, 3):
        assert cluster.nodes[node_id].client().publish("news", f"via {node_id}") == 1
    received = [next_message(pubsub)["data"] for _ in range(3)]
    assert sorted(received) == ["via 1", "via 2", "via 3"]
    pubsub.close()
