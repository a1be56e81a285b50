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


@pytest.mark.timeout(90)
def test_keyspace_notifications_on_every_node(cluster_factory):
    """Every node publishes the events of the writes its replicas apply: with 3 replicas
    on 3 nodes, a subscriber on any node hears a write made through any other."""
    cluster = cluster_factory(nodes=3)
    listeners = []
    # Kept alive: a dropped client's pool closes its PubSub's connection too.
    clients = [cluster.nodes[node_id].client() for node_id in (1, 2, 3)]
    for client in clients:
        client.config_set("notify-keyspace-events", "KEA")
        pubsub = client.pubsub()
        pubsub.psubscribe("__keyspace@0__:user:*")
        assert pubsub.get_message(timeout=2)["type"] == "psubscribe"
        listeners.append(pubsub)
    writer = cluster.cluster_client()
    writer.rpush("user:1", "a")
    writer.lpop("user:1")
    for node_id, pubsub in zip((1, 2, 3), listeners):
        events = [next_message(pubsub) for _ in range(3)]
        assert [(m["channel"], m["data"]) for m in events if m] == [
            ("__keyspace@0__:user:1", "rpush"), ("__keyspace@0__:user:1", "lpop"), ("__keyspace@0__:user:1", "del")], (node_id, events)
        pubsub.close()


@pytest.mark.timeout(90)
def test_tracking_invalidates_writes_made_through_another_node(cluster_factory):
    """CLIENT TRACKING on a 3-node proxy-mode cluster: a key read through node 1 is
    invalidated when a write through node 2 commits (node 1 holds a replica of every
    shard and publishes the invalidation when it applies the write)."""
    cluster = cluster_factory(nodes=3, proxy_mode=True)
    tracked = cluster.nodes[1].client(protocol=3, single_connection_client=True)
    invalidations = []
    tracked.execute_command("CLIENT", "TRACKING", "ON")
    connection = tracked.connection
    connection._parser.set_invalidation_push_handler(invalidations.append)
    writer = cluster.nodes[2].client()
    for key in ("user:1", "user:2"):
        writer.set(key, "old")
        assert tracked.get(key) == "old"
        writer.set(key, "new")
        deadline = time.monotonic() + 5
        while not any(key in (message[1] or []) for message in invalidations) and time.monotonic() < deadline:
            if connection.can_read(timeout=0.1):
                connection.read_response(push_request=True)
        assert any(key in (message[1] or []) for message in invalidations), invalidations
