"""Blocking pops on a 3-node cluster: the request waits at the key's shard leader (here
through a proxy node), is served by a push through any node, and when the leader dies the
waiting client gets an error, never a lost element."""

import threading
import time

import pytest
import redis

from test_cluster_lists_sets import shard_nodes

pytestmark = pytest.mark.cluster


def in_background(function):
    result = {}

    def run():
        try:
            result["value"] = function()
        except Exception as error:
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


@pytest.mark.timeout(120)
def test_blocked_pop_through_a_proxy_and_a_dead_leader(cluster_factory):
    cluster = cluster_factory(nodes=3, proxy_mode=True)
    leader, followers = shard_nodes(cluster, "{b}queue")
    entry = followers[0]
    waiter = entry.client(socket_timeout=30)
    thread, result = in_background(lambda: waiter.blpop("{b}queue", timeout=20))
    time.sleep(0.5)
    assert thread.is_alive()
    followers[1].client().rpush("{b}queue", "job")
    thread.join(timeout=10)
    assert result.get("value") == ("{b}queue", "job")

    thread, result = in_background(lambda: waiter.blpop("{b}queue", timeout=20))
    time.sleep(0.5)
    leader.kill()
    thread.join(timeout=25)
    assert not thread.is_alive()
    assert "error" in result or result.get("value") is None, result
    # The element pushed after the failover is still there for whoever asks next.
    survivor = followers[1].client(socket_timeout=10)
    deadline = time.monotonic() + 20
    while True:
        try:
            survivor.rpush("{b}queue", "after")
            break
        except redis.exceptions.ResponseError:
            assert time.monotonic() < deadline, "no new leader"
            time.sleep(0.2)
    assert survivor.lrange("{b}queue", 0, -1) == ["after"]
    assert survivor.blpop("{b}queue", timeout=5) == ("{b}queue", "after")
