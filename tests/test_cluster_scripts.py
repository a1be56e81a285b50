"""Lua scripts on a 3-node cluster: a script is one entry of its shard's log and every
replica runs it, so replicas must end identical even when scripts draw math.random and read
TIME; scripts keep to one slot as in Redis Cluster; EVALSHA works through a node that has
the script, and redis-py's Lock (Lua inside) works through the cluster client and through a
proxy node."""

import time

import pytest
import redis

from test_cluster_lists_sets import assert_followers_converge, shard_nodes

pytestmark = pytest.mark.cluster

DRAW = """
local total = 0
for i = 1, tonumber(ARGV[1]) do
  local value = math.random(1000000)
  total = total + value
  redis.call('rpush', KEYS[1], value)
end
redis.call('hset', KEYS[2], 'total', total, 'time', redis.call('time')[1])
return total
"""

COUNT_IF = """
local current = tonumber(redis.call('get', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then
  return redis.call('incr', KEYS[1])
end
return redis.error_reply('LIMIT reached ' .. current)
"""


def state(client):
    return (client.lrange("{s}draws", 0, -1), client.hgetall("{s}summary"), client.get("{s}counter"))


@pytest.mark.timeout(120)
def test_scripted_writes_leave_every_replica_identical(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, followers = shard_nodes(cluster, "{s}draws")
    assert followers, "the shard has no follower"
    client = leader.client()
    draw = client.script_load(DRAW)
    for round_number in range(20):
        assert client.evalsha(draw, 2, "{s}draws", "{s}summary", 5) > 0
        if round_number % 2:
            client.eval(COUNT_IF, 1, "{s}counter", 15)
    with pytest.raises(redis.exceptions.ResponseError, match="LIMIT reached 10"):
        for _ in range(10):
            client.eval(COUNT_IF, 1, "{s}counter", 10)
    expected = state(client)
    assert len(expected[0]) == 100 and expected[2] == "10"
    assert_followers_converge(followers, state, expected)


@pytest.mark.timeout(60)
def test_scripts_keep_to_one_slot(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, _ = shard_nodes(cluster, "{a}x")
    client = leader.client()
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        client.eval("return 1", 2, "{a}x", "{b}y")
    with pytest.raises(redis.exceptions.ResponseError, match="do not hash to the same slot"):
        client.eval("return redis.call('get', '{b}y')", 1, "{a}x")
    # Declaring no keys: the script may not touch any (this node's sessions hold none).
    with pytest.raises(redis.exceptions.ResponseError, match="non local key"):
        client.eval("return redis.call('get', 'anything')", 0)
    assert client.eval("return ARGV[1]", 0, "no keys") == "no keys"
    assert client.eval("redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', '{a}other')", 1, "{a}x", "v") is None
    assert client.get("{a}x") == "v"


@pytest.mark.timeout(90)
@pytest.mark.parametrize("proxy_mode", [False, True], ids=["cluster-client", "proxy"])
def test_redis_py_lock_works_through_the_cluster(cluster_factory, proxy_mode):
    cluster = cluster_factory(nodes=3, proxy_mode=proxy_mode)
    if proxy_mode:
        client = cluster.nodes[1].client()
    else:
        client = cluster.cluster_client()
    lock = client.lock("{jobs}lock", timeout=10, blocking_timeout=2)
    assert lock.acquire()
    other = client.lock("{jobs}lock", timeout=10, blocking_timeout=0.2)
    assert not other.acquire()
    assert lock.extend(5)
    assert lock.locked()
    lock.release()
    assert other.acquire()
    other.release()
    assert not client.exists("{jobs}lock")
    # A script registered once, run on whichever node owns the key (EVALSHA, NOSCRIPT,
    # SCRIPT LOAD and retry are redis-py's Script protocol).
    increment = client.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    for key in ("{p}1", "{q}2", "{r}3"):
        assert increment(keys=[key], args=[5]) == 5
        assert increment(keys=[key], args=[2]) == 7


FUNCTIONS = """#!lua name=drawlib
local function draw(keys, args)
  local value = math.random(1000000)
  redis.call('rpush', keys[1], value)
  return value
end
redis.register_function('draw', draw)
redis.register_function{function_name='count', callback=function(keys) return redis.call('llen', keys[1]) end,
                        flags={'no-writes'}}
"""


@pytest.mark.timeout(120)
def test_functions_loaded_through_one_node_run_everywhere(cluster_factory):
    """FUNCTION LOAD through one node reaches every node; FCALL runs as one entry of the
    key's shard log on every replica (which converge), FCALL_RO reads at the leader."""
    cluster = cluster_factory(nodes=3)
    leader, followers = shard_nodes(cluster, "{f}draws")
    assert cluster.nodes[1].client().function_load(FUNCTIONS) == "drawlib"
    for node in cluster.nodes.values():
        assert node.client().function_list()[0][:2] == ["library_name", "drawlib"]
    client = leader.client()
    for _ in range(10):
        assert client.fcall("draw", 1, "{f}draws") > 0
    assert client.fcall_ro("count", 1, "{f}draws") == 10
    with pytest.raises(redis.exceptions.ResponseError, match="Can not execute a script with write flag"):
        client.fcall_ro("draw", 1, "{f}draws")

    def draws(reader):
        return reader.lrange("{f}draws", 0, -1)

    assert_followers_converge(followers, draws, draws(client))
    # Every node keeps the libraries in its data directory: a restarted node has them.
    cluster.nodes[3].stop()
    cluster.nodes[3].start()
    assert cluster.nodes[3].client().function_list()[0][:2] == ["library_name", "drawlib"]
    cluster.wait_ok()
    cluster.nodes[2].client().function_delete("drawlib")
    for node in cluster.nodes.values():
        assert node.client().function_list() == []


def test_a_script_publishes_once_to_subscribers_on_every_node(cluster_factory):
    """Every replica of the shard applies the script; the message still reaches each
    subscriber, on every node, exactly once."""
    cluster = cluster_factory(nodes=3)
    listeners = []
    for node in cluster.running_nodes():
        listener = node.client().pubsub()
        listener.subscribe("jobs")
        assert listener.get_message(timeout=2)["type"] == "subscribe"
        listeners.append(listener)
    client = cluster.cluster_client()
    for i in range(5):
        client.eval("redis.call('INCR', KEYS[1]); redis.call('PUBLISH', 'jobs', ARGV[1])", 1, "{q}count", f"m{i}")
    for listener in listeners:
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 5 and time.monotonic() < deadline:
            message = listener.get_message(timeout=0.5)
            if message and message["type"] == "message":
                got.append(message["data"])
        time.sleep(0.5)
        while (message := listener.get_message(timeout=0.2)) is not None:
            got.append(message["data"])
        assert got == [f"m{i}" for i in range(5)], got


SPIN = "redis.call('get', KEYS[1]) while true do end"


@pytest.mark.timeout(60)
def test_a_busy_script_on_a_leader_is_answered_busy_there_and_killed(cluster_factory):
    """A script that has not written runs on the leader of its key's shard; past
    busy-reply-threshold that node answers -BUSY (other nodes serve on), SCRIPT KILL there
    stops it, and the shard goes on: a write then reaches every replica."""
    cluster = cluster_factory(nodes=3)
    leader, followers = shard_nodes(cluster, "{b}k")
    admin = leader.client()
    admin.config_set("busy-reply-threshold", 100)
    admin.set("{b}k", "before")
    spinner = leader.client().connection_pool.get_connection()
    spinner.send_command("EVAL", SPIN, 1, "{b}k")
    time.sleep(0.5)
    with pytest.raises(redis.exceptions.ResponseError, match="^BUSY Redis is busy running a script"):
        admin.ping()
    other = next(node for node in cluster.nodes.values() if node is not leader)
    assert other.client().ping() is True
    assert admin.script_kill() is True
    with pytest.raises(redis.exceptions.ResponseError, match="killed by user"):
        spinner.read_response()
    assert admin.ping() is True
    assert admin.set("{b}k", "after") is True
    assert_followers_converge(followers, lambda client: client.get("{b}k"), "after")


LONG_APPEND = ("local v = redis.call('get', KEYS[1]) local n = 0 for i = 1, 40000000 do n = n + 1 end "
               "redis.call('set', KEYS[1], v .. '!') redis.call('rpush', KEYS[2], n) return v")


@pytest.mark.timeout(60)
def test_a_long_script_that_writes_reaches_every_replica(cluster_factory):
    """A script that outruns its slice reruns off the leader's thread and its effects enter
    the shard's log as one transaction: every replica ends with its writes, applied once."""
    cluster = cluster_factory(nodes=3)
    leader, followers = shard_nodes(cluster, "{e}k")
    client = leader.client()
    client.set("{e}k", "v")
    assert client.eval(LONG_APPEND, 2, "{e}k", "{e}runs") == "v"
    assert client.eval(LONG_APPEND, 2, "{e}k", "{e}runs") == "v!"

    def state(reader):
        return (reader.get("{e}k"), reader.lrange("{e}runs", 0, -1))

    expected = ("v!!", ["40000000", "40000000"])
    assert state(client) == expected
    assert_followers_converge(followers, state, expected)
