"""Server-assisted client-side caching against a real redis-server: the same conversation
between six connections (RESP3 and RESP2, tracking in default, NOLOOP, OPTIN, OPTOUT,
REDIRECT and BCAST modes, and a writer) runs on both, and every byte each connection
receives after each step must match: replies, error texts and invalidation messages.
Client IDs differ between the servers, so `{idN}` in a command is connection N's ID and
IDs in replies are compared by connection. Then redis-py's client-side cache runs against
the standalone server, and a 3-node cluster invalidates a key written through another
node."""

import re
import time

import pytest
import redis

from resp import RawConnection, encode_command, read_all_available

STEP_WAIT_SECONDS = 0.06  # how long every connection is read after each step
STEP_WAIT_SECONDS_MAX = 3.0
PROTOCOLS = [3, 2, 2, 3, 3, 3]

# (connection, command...): 0 tracks, 1 writes, 2 is a RESP2 subscriber for REDIRECT,
# 3 tracks in BCAST mode, 4 redirects to 5, which goes away.
CONVERSATION = [
    (0, "CLIENT", "GETREDIR"),
    (0, "CLIENT", "TRACKINGINFO"),
    (0, "CLIENT", "CACHING", "YES"),
    (0, "CLIENT", "TRACKING", "ON"),
    (0, "GET", "a"),
    (1, "SET", "a", "1"),
    (1, "SET", "a", "2"),
    (0, "MGET", "a", "b"),
    (1, "DEL", "a", "b"),
    (0, "GET", "a"),
    (0, "SET", "a", "mine"),
    (0, "HGET", "h", "f"),
    (1, "HSET", "h", "f", "v"),
    (0, "LRANGE", "l", "0", "-1"),
    (1, "RPUSH", "l", "x"),
    (1, "RPUSH", "l", "y"),
    (0, "CLIENT", "GETREDIR"),
    (0, "CLIENT", "TRACKINGINFO"),
    (0, "CLIENT", "TRACKING", "ON", "BCAST"),
    (0, "CLIENT", "TRACKING", "OFF"),
    (0, "CLIENT", "TRACKING", "ON", "NOLOOP"),
    (0, "GET", "n"),
    (0, "SET", "n", "1"),
    (1, "SET", "n", "2"),
    (0, "GET", "n"),
    (1, "SET", "n", "3"),
    (0, "CLIENT", "TRACKING", "OFF"),
    (0, "CLIENT", "TRACKING", "ON", "OPTIN"),
    (0, "GET", "o"),
    (1, "SET", "o", "1"),
    (0, "CLIENT", "CACHING", "YES"),
    (0, "CLIENT", "TRACKINGINFO"),
    (0, "GET", "o"),
    (1, "SET", "o", "2"),
    (0, "CLIENT", "CACHING", "NO"),
    (0, "CLIENT", "TRACKING", "ON", "OPTOUT"),
    (0, "CLIENT", "TRACKING", "OFF"),
    (0, "CLIENT", "TRACKING", "ON", "OPTOUT"),
    (0, "CLIENT", "CACHING", "NO"),
    (0, "GET", "p"),
    (1, "SET", "p", "1"),
    (0, "GET", "p"),
    (1, "SET", "p", "2"),
    (0, "CLIENT", "TRACKING", "OFF"),
    (2, "SUBSCRIBE", "__redis__:invalidate"),
    (0, "CLIENT", "TRACKING", "ON", "REDIRECT", "{id2}"),
    (0, "GET", "r"),
    (1, "SET", "r", "1"),
    (0, "CLIENT", "GETREDIR"),
    (0, "CLIENT", "TRACKINGINFO"),
    (0, "CLIENT", "TRACKING", "OFF"),
    (3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "session:"),
    (1, "MSET", "user:1", "a", "session:9", "b", "other", "c"),
    (1, "SET", "user:2", "z"),
    (3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "us"),
    (3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x", "PREFIX", "xy"),
    (3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "cart:"),
    (3, "CLIENT", "TRACKINGINFO"),
    (1, "SET", "cart:1", "z"),
    (1, "FLUSHALL"),
    (3, "CLIENT", "TRACKING", "OFF"),
    (4, "CLIENT", "TRACKING", "ON", "REDIRECT", "{id5}"),
    (4, "GET", "k"),
    (5, "CLOSE"),
    (1, "SET", "k", "1"),
    (4, "CLIENT", "TRACKINGINFO"),
    # A script that reads its declared key: the key is tracked (what a script that reads
    # keys it did not declare tracks changed in Redis 7.2: test_scripts_track_the_keys_they_read).
    (0, "CLIENT", "TRACKING", "ON"),
    (0, "EVAL", "return redis.call('GET', KEYS[1])", "1", "s1"),
    (1, "SET", "s1", "v"),
    # One that only writes: nothing is tracked (Redis's tracking unit).
    (0, "EVAL", "return redis.call('SET', 's3', 'x')", "2", "s2", "s4"),
    (1, "MSET", "s2", "1", "s4", "2"),
    # NOLOOP: the client's own transaction invalidates nothing for it.
    (0, "CLIENT", "TRACKING", "OFF"),
    (0, "CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP"),
    (0, "MULTI"),
    (0, "SET", "t1", "1"),
    (0, "SET", "t2", "2"),
    (0, "EXEC"),
    (1, "SET", "t1", "3"),
    (0, "CLIENT", "TRACKING", "OFF"),
    # Keys remembered for a client that stopped tracking are forgotten by FLUSHALL.
    (0, "CLIENT", "TRACKING", "ON"),
    (0, "GET", "f1"),
    (0, "CLIENT", "TRACKING", "OFF"),
    (1, "FLUSHALL"),
    (0, "CLIENT", "TRACKING", "ON"),
    (1, "SET", "f1", "x"),
    (0, "CLIENT", "TRACKING", "OFF"),
    (0, "CLIENT", "TRACKING", "ON", "PREFIX", "x"),
    (0, "CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"),
    (0, "CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"),
    (0, "CLIENT", "TRACKING", "ON", "REDIRECT", "999999"),
    (0, "CLIENT", "TRACKING", "ON", "REDIRECT", "abc"),
    (0, "CLIENT", "TRACKING", "ON", "REDIRECT", "{id2}", "REDIRECT", "{id2}"),
    (0, "CLIENT", "TRACKING", "MAYBE"),
    (0, "CLIENT", "TRACKING", "ON", "BOGUS"),
    (0, "CLIENT", "TRACKING"),
    (0, "CLIENT", "CACHING", "MAYBE"),
    (0, "CLIENT", "GETREDIR", "extra"),
]


def with_ids_named(received, ids, command):
    """`received` with client IDs replaced by `{idN}` (the servers number clients
    differently): in GETREDIR and TRACKINGINFO replies, and in tracking-redir-broken pushes."""
    if "GETREDIR" in command or "TRACKINGINFO" in command:
        for number, client_id in enumerate(ids):
            received = [data.replace(b":%d\r\n" % client_id, b":{id%d}\r\n" % number) for data in received]
    for number, client_id in enumerate(ids):
        received = [data.replace(b"tracking-redir-broken\r\n:%d\r\n" % client_id,
                                 b"tracking-redir-broken\r\n:{id%d}\r\n" % number) for data in received]
    return received


def converse(port, expected=None):
    """Runs CONVERSATION; returns (step, bytes each connection received) per step, with
    client IDs replaced by `{idN}`."""
    connections = [RawConnection(port) for _ in PROTOCOLS]
    closed = set()
    ids = []
    try:
        for connection, protocol in zip(connections, PROTOCOLS):
            if protocol == 3:
                connection.call("HELLO", "3")
            ids.append(connection.call("CLIENT", "ID")[1])
            connection.read_available(wait=0.05)
        # The reference server is shared by the whole run: start from an empty keyspace
        # (nothing tracks yet, so this invalidates nothing).
        connections[1].call("FLUSHALL")
        transcript = []
        for step, (index, *command) in enumerate(CONVERSATION):
            if command == ["CLOSE"]:
                connections[index].close()
                closed.add(index)
                time.sleep(STEP_WAIT_SECONDS)
                transcript.append(("CLOSE", [b""] * len(connections)))
                continue
            command = [re.sub(r"\{id(\d)\}", lambda m: str(ids[int(m.group(1))]), part) for part in command]
            connections[index].send(encode_command(*command))
            still_open = [connection if number not in closed else None for number, connection in enumerate(connections)]
            received = read_all_available(still_open, STEP_WAIT_SECONDS)
            if expected is not None:
                deadline = time.monotonic() + STEP_WAIT_SECONDS_MAX
                wanted = [len(data) for data in expected[step][1]]
                while (time.monotonic() < deadline
                       and any(len(got) < want for got, want in zip(with_ids_named(received, ids, command), wanted))):
                    received = [got + more for got, more in zip(received, read_all_available(still_open, 0.02))]
            received = with_ids_named(received, ids, command)
            transcript.append((" ".join(CONVERSATION[step][1:]), received))
        return transcript
    finally:
        for connection in connections:
            connection.close()


def test_tracking_conversation_matches_redis(server, redis_reference):
    theirs = converse(redis_reference.port)
    mine = converse(server.port, expected=theirs)
    differences = [f"  after {step!r}:\n    trestle {got!r}\n    redis   {want!r}"
                   for (step, got), (_, want) in zip(mine, theirs) if got != want]
    assert not differences, "tracking differs from redis-server:\n" + "\n".join(differences)


def test_redis_py_client_side_cache(server):
    """redis-py 5.1+'s client-side cache (RESP3, server version 7.4 or later): a cached
    read is served locally until a write through another client invalidates it."""
    cache_config = pytest.importorskip("redis.cache").CacheConfig
    cached = redis.Redis(host="127.0.0.1", port=server.port, protocol=3, cache_config=cache_config())
    writer = server.client()
    writer.set("cached", "1")
    assert cached.get("cached") == b"1"
    assert cached.get("cached") == b"1"  # from the local cache
    writer.set("cached", "2")
    deadline = time.monotonic() + 5
    value = cached.get("cached")
    while value != b"2" and time.monotonic() < deadline:
        time.sleep(0.05)
        value = cached.get("cached")
    assert value == b"2"
    cached.close()


def test_lowering_the_tracking_table_limit_evicts_remembered_keys(server):
    """CONFIG SET tracking-table-max-keys takes effect: remembered keys past the new limit
    are invalidated (Redis's unit/tracking waits for exactly this)."""
    reader = RawConnection(server.port)
    admin = server.client()
    try:
        reader.call("HELLO", "3")
        assert reader.call("CLIENT", "TRACKING", "ON") == ("+", b"OK")
        for key in ("t1", "t2", "t3"):
            admin.set(key, "v")
            reader.call("GET", key)
        assert admin.config_get("tracking-table-max-keys") == {"tracking-table-max-keys": "1000000"}
        admin.config_set("tracking-table-max-keys", 1)
        assert admin.config_get("tracking-table-max-keys") == {"tracking-table-max-keys": "1"}
        received = b""
        deadline = time.monotonic() + 5
        while received.count(b"invalidate") < 2 and time.monotonic() < deadline:
            received += reader.read_available(wait=0.1)
        assert received.count(b"invalidate") == 2, received
        admin.set("t1", "w"); admin.set("t2", "w"); admin.set("t3", "w")
        received = b""
        deadline = time.monotonic() + 2
        while received.count(b"invalidate") < 1 and time.monotonic() < deadline:
            received += reader.read_available(wait=0.1)
        assert received.count(b"invalidate") == 1, "only the one key left is still remembered"
    finally:
        admin.config_set("tracking-table-max-keys", 1000000)
        reader.close()



def read_invalidations(connection, count, seconds=3):
    """The keys of the next `count` RESP3 invalidation pushes on a raw connection."""
    received = b""
    deadline = time.monotonic() + seconds
    while received.count(b"invalidate") < count and time.monotonic() < deadline:
        received += connection.read_available(wait=0.1)
    return received


def test_scripts_track_the_keys_they_read(server):
    """Redis 7.2+ (its unit/tracking 'Tracking only occurs for scripts when a command calls
    a read-only command'): a script's caller tracks the keys of the read-only commands the
    script called, not the keys it declared. Debian's Redis 7.0 tracks the declared keys,
    so this is not compared with it."""
    reader = RawConnection(server.port)
    writer = server.client()
    try:
        reader.call("HELLO", "3")
        assert reader.call("CLIENT", "TRACKING", "ON") == ("+", b"OK")
        writer.mset({"key1{t}": 1, "key2{t}": 1})
        # Reads nothing: nothing tracked.
        reader.call("EVAL", "redis.call('set', 'key3{t}', 'bar')", "2", "key1{t}", "key2{t}")
        writer.mset({"key2{t}": 2, "key1{t}": 2})
        assert reader.call("PING") == ("+", b"PONG")
        # Reads key2 only: key2 is tracked, not key1.
        reader.call("EVAL", "redis.call('get', 'key2{t}')", "2", "key1{t}", "key2{t}")
        writer.mset({"key1{t}": 3, "key2{t}": 3, "key3{t}": 3})
        received = read_invalidations(reader, 1)
        assert b"key2{t}" in received and b"key1{t}" not in received and b"key3{t}" not in received, received
        assert read_invalidations(reader, 1, seconds=0.3) == b"", "one invalidation only"
        # A read-only script reading an undeclared key tracks that key.
        reader.call("EVAL_RO", "return redis.call('get', 'key3{t}')", "1", "key1{t}")
        writer.mset({"key1{t}": 4, "key3{t}": 4})
        received = read_invalidations(reader, 1)
        assert b"key3{t}" in received and b"key1{t}" not in received, received
    finally:
        reader.close()


def test_a_lowered_table_limit_invalidates_before_the_next_reply(server):
    """Redis's 'Regression test for #11715': after `tracking-table-max-keys` is lowered,
    the next command (here one queued in MULTI) first evicts remembered keys, so their
    invalidation comes before its reply, not at the next timer tick."""
    reader = RawConnection(server.port)
    admin = server.client()
    try:
        reader.call("HELLO", "3")
        assert reader.call("CLIENT", "TRACKING", "ON") == ("+", b"OK")
        admin.config_set("tracking-table-max-keys", 2)
        reader.call("MGET", "1{tag}", "2{tag}")
        assert reader.call("MULTI") == ("+", b"OK")
        admin.config_set("tracking-table-max-keys", 1)
        reader.send(encode_command("PING") + encode_command("EXEC"))
        received = b""
        deadline = time.monotonic() + 5
        while b"PONG" not in received and time.monotonic() < deadline:
            received += reader.read_available(wait=0.1)
        assert b"invalidate" in received and b"QUEUED" in received, received
        assert received.index(b"invalidate") < received.index(b"QUEUED"), received
    finally:
        admin.config_set("tracking-table-max-keys", 1000000)
        reader.close()
