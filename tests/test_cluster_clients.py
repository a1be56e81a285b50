"""Unmodified clients against a 3-node cluster:
- the Redis Cluster protocol seen raw (MOVED, CROSSSLOT, CLUSTER KEYSLOT, COUNTKEYSINSLOT,
  GETKEYSINSLOT, MYID) and `redis-cli -c` following redirects;
- `redis-benchmark --cluster -n 2000` (set, get) finishing without errors;
- proxy mode (`--proxy`): a plain redis.Redis client on any one node reads and writes keys
  of every shard, and MSET/MGET/DEL/EXISTS across slots are split and gathered.
"""

import shutil
import subprocess

import pytest
import redis

from cluster_harness import key_slot
from resp import RawConnection

pytestmark = pytest.mark.cluster

KEYS_PER_LEADER = 5
TOOL_SECONDS_MAX = 60
BENCHMARK_REQUESTS = 2000


def keys_on_every_leader(cluster, prefix):
    """{leader id: [keys whose slot that node leads]}; fails unless leaders are spread."""
    led = cluster.slots_led()
    assert len(led) >= 2, f"every shard is led by one node ({list(led)}): forwarding would go untested"
    keys = {}
    for node_id, slots in sorted(led.items()):
        keys[node_id] = []
        n = 0
        while len(keys[node_id]) < KEYS_PER_LEADER:
            key = f"{prefix}:{node_id}:{n}"
            n += 1
            if key_slot(key) in slots:
                keys[node_id].append(key)
    return keys


def leader_of(cluster, key, via):
    slot = key_slot(key)
    for first, last, master, _ in cluster.slot_table(via=via):
        if first <= slot <= last:
            return master
    raise AssertionError(f"slot {slot} of {key} is in no CLUSTER SLOTS range")


def redis_cli(port, *args, cluster_mode=True):
    binary = shutil.which("redis-cli")
    if binary is None:
        pytest.skip("redis-cli is not installed")
    command = [binary, "-h", "127.0.0.1", "-p", str(port), *(["-c"] if cluster_mode else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TOOL_SECONDS_MAX)
    return done.stdout.strip() + done.stderr.strip()


@pytest.mark.timeout(120)
def test_cluster_protocol_redis_cli_and_redis_benchmark(cluster_factory):
    cluster = cluster_factory(nodes=3)
    entry = cluster.nodes[1]
    keys = keys_on_every_leader(cluster, "proto")
    plain = entry.client()
    assert plain.execute_command("CLUSTER", "MYID")
    # A cluster node has database 0 only, as Redis Cluster.
    assert plain.execute_command("SELECT", "0") in (True, "OK", b"OK")
    for command, text in ((("SELECT", "1"), "SELECT is not allowed in cluster mode"),
                          (("SWAPDB", "0", "1"), "SWAPDB is not allowed in cluster mode")):
        with pytest.raises(redis.exceptions.ResponseError, match=text):
            plain.execute_command(*command)
    for leader_keys in keys.values():
        for key in leader_keys:
            assert plain.execute_command("CLUSTER", "KEYSLOT", key) == key_slot(key)
            if leader_of(cluster, key, via=entry) != entry.id:  # asked again: leaders may have moved
                with pytest.raises(redis.exceptions.MovedError, match=rf"^{key_slot(key)} 127\.0\.0\.1:\d+$"):
                    plain.set(key, "x")
                moved = redis_cli(entry.port, "GET", key, cluster_mode=False)
                assert "MOVED" in moved, moved

    for leader_id, leader_keys in keys.items():
        for key in leader_keys:
            assert redis_cli(entry.port, "SET", key, f"cli-{key}") == "OK"
            assert redis_cli(entry.port, "GET", key) == f"cli-{key}"

    cross = [keys[i][0] for i in sorted(keys)[:2]]
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):  # redis-py's type for -CROSSSLOT
        plain.execute_command("MGET", *cross)

    leader_id = sorted(keys)[0]
    sample = keys[leader_id][0]
    slot = key_slot(sample)
    on_leader = cluster.nodes[leader_id].client()
    assert on_leader.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) >= 1
    assert sample in on_leader.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)

    # redis-cli's own cluster checker agrees that every slot is served.
    check = subprocess.run([shutil.which("redis-cli"), "--cluster", "check", f"127.0.0.1:{entry.port}"],
                           capture_output=True, text=True, timeout=TOOL_SECONDS_MAX)
    assert "[OK] All 16384 slots covered" in check.stdout, check.stdout + check.stderr

    benchmark = shutil.which("redis-benchmark")
    if benchmark is None:
        pytest.skip("redis-benchmark is not installed")
    done = subprocess.run([benchmark, "--cluster", "-h", "127.0.0.1", "-p", str(entry.port), "-n",
                           str(BENCHMARK_REQUESTS), "-c", "10", "-t", "set,get", "-q"],
                          capture_output=True, text=True, timeout=TOOL_SECONDS_MAX)
    output = done.stdout + done.stderr
    print(output)
    assert done.returncode == 0, output
    assert "SET:" in output and "GET:" in output, output
    assert "error" not in output.lower(), output


@pytest.mark.timeout(120)
def test_proxy_mode_serves_every_key_from_any_node(cluster_factory):
    cluster = cluster_factory(nodes=3, proxy_mode=True)
    keys = keys_on_every_leader(cluster, "proxy")
    every_key = [key for leader_keys in keys.values() for key in leader_keys]
    for entry in cluster.nodes.values():
        plain = entry.client()
        for key in every_key:
            assert plain.set(key, f"{entry.id}-{key}") is True
            assert plain.get(key) == f"{entry.id}-{key}"

    entry = cluster.nodes[2]
    plain = entry.client()
    values = {key: f"mset-{key}" for key in every_key}
    assert plain.mset(values) is True
    assert plain.mget([*every_key, "proxy:absent"]) == [*values.values(), None]
    assert plain.exists(*every_key) == len(every_key)
    other = cluster.nodes[3].client()
    assert other.mget(every_key) == list(values.values())
    half = every_key[::2]
    assert other.delete(*half) == len(half)
    assert plain.mget(every_key) == [None if key in half else values[key] for key in every_key]


@pytest.mark.timeout(120)
def test_proxied_replies_have_the_shape_of_the_clients_protocol(cluster_factory):
    """A proxied request runs at the leader in the client's RESP version: RESP2 gets the flat
    member/score arrays, RESP3 the nested pairs with doubles (they differ in shape, not only
    in encoding, so the origin cannot convert one into the other)."""
    cluster = cluster_factory(nodes=3, proxy_mode=True)
    keys = keys_on_every_leader(cluster, "shape")
    via = cluster.nodes[1]
    remote = [key for leader, led in keys.items() if leader != 1 for key in led][:3]
    assert remote, "no key led by another node: forwarding would go untested"
    for key in remote:
        with RawConnection(via.port) as resp2:
            assert resp2.call("ZADD", key, "1", "a", "2.5", "b") == (":", 2)
            assert resp2.call("ZRANGE", key, "0", "-1", "WITHSCORES") == (
                "*", [("$", b"a"), ("$", b"1"), ("$", b"b"), ("$", b"2.5")])
            assert resp2.call("ZPOPMIN", key, "1") == ("*", [("$", b"a"), ("$", b"1")])
        with RawConnection(via.port) as resp3:
            assert resp3.call("HELLO", "3")[0] == "%"
            assert resp3.call("ZRANGE", key, "0", "-1", "WITHSCORES") == ("*", [("*", [("$", b"b"), (",", b"2.5")])])
            assert resp3.call("ZADD", key, "3", "c") == (":", 1)
            assert resp3.call("ZPOPMIN", key, "2") == ("*", [("*", [("$", b"b"), (",", b"2.5")]), ("*", [("$", b"c"), (",", b"3")])])


@pytest.mark.timeout(90)
def test_proxy_mode_scans_counts_and_flushes_the_whole_cluster(cluster_factory):
    """A plain client on one proxy node sees one database: DBSIZE, KEYS, SCAN, RANDOMKEY
    and FLUSHALL cover every shard, whichever node leads it (issue 12)."""
    cluster = cluster_factory(nodes=3, proxy_mode=True)
    client = cluster.nodes[1].client()
    keys = {f"key:{index}" for index in range(300)}
    for key in keys:
        client.set(key, "v")
    assert client.dbsize() == 300
    assert set(client.keys("key:*")) == keys
    assert set(client.scan_iter(match="key:*", count=50)) == keys
    assert client.randomkey() in keys
    assert client.flushall()
    assert client.dbsize() == 0
    assert client.randomkey() is None
    assert list(client.scan_iter()) == []
