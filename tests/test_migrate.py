"""MIGRATE between Trestle and redis-server, both ways, and between two Trestle servers:
keys arrive with their values and TTLs, leave the source unless COPY, and every error
reads as Redis's (NOKEY, BUSYKEY from the target, IOERR, the KEYS and syntax rules)."""

import pytest
import redis

from ports import loopback_port


@pytest.fixture
def reference(redis_reference):
    client = redis_reference.client()
    client.flushall()
    yield redis_reference, client
    client.close()


def migrate(client, port, key, *options, timeout=5000):
    return client.execute_command("MIGRATE", "127.0.0.1", port, key, 0, timeout, *options)


def test_trestle_moves_keys_to_redis(server, reference):
    redis_server, target = reference
    source = server.client()
    source.set("plain", "value")
    source.set("expiring", "soon", px=60_000)
    source.rpush("list", *range(20))
    source.hset("hash", mapping={"f": "v"})
    assert migrate(source, redis_server.port, "plain") == b"OK"
    assert source.exists("plain") == 0 and target.get("plain") == b"value"
    assert source.info("stats")["migrate_cached_sockets"] == 0  # each MIGRATE's connection is closed after it
    assert migrate(source, redis_server.port, "", "COPY", "KEYS", "expiring", "list", "absent") == b"OK"
    assert source.exists("expiring", "list") == 2
    assert 0 < target.pttl("expiring") <= 60_000
    assert target.lrange("list", 0, -1) == [str(i).encode() for i in range(20)]
    with pytest.raises(redis.ResponseError, match="^Target instance replied with error: BUSYKEY Target key name already exists.$"):
        migrate(source, redis_server.port, "list")
    assert source.exists("list") == 1
    assert migrate(source, redis_server.port, "", "REPLACE", "KEYS", "list", "hash") == b"OK"
    assert source.exists("list", "hash") == 0 and target.hgetall("hash") == {b"f": b"v"}
    assert migrate(source, redis_server.port, "absent") == b"NOKEY"


def test_redis_moves_keys_to_trestle(server, reference):
    _, source = reference
    target = server.client()
    source.rpush("queue", *range(300))
    source.zadd("board", {"a": 1, "b": 2.5})
    source.set("counter", 41)
    reply = source.execute_command("MIGRATE", "127.0.0.1", server.port, "", 0, 5000, "KEYS", "queue", "board", "counter")
    assert reply == b"OK"
    assert source.exists("queue", "board", "counter") == 0
    assert target.llen("queue") == 300
    assert target.zrange("board", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.5)]
    assert target.incr("counter") == 42


def test_between_two_trestle_servers_into_another_database(server_factory):
    first, second = server_factory(), server_factory()
    source, target = first.client(), second.client()
    source.sadd("members", "x", "y")
    assert source.execute_command("MIGRATE", "127.0.0.1", second.port, "members", 3, 5000) == b"OK"
    assert source.exists("members") == 0
    target.execute_command("SELECT", 3)
    assert target.smembers("members") == {b"x", b"y"}


def test_errors_read_as_redis(server, reference):
    redis_server, _ = reference
    client = server.client()
    client.set("k", "v")
    with pytest.raises(redis.ResponseError, match="^When using MIGRATE KEYS option, the key argument must be set to the empty string$"):
        migrate(client, redis_server.port, "k", "KEYS", "k")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        migrate(client, redis_server.port, "k", "BOGUS")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        client.execute_command("MIGRATE", "127.0.0.1", redis_server.port, "k", "zero", 5000)
    with pytest.raises(redis.ResponseError, match="^IOERR error or timeout connecting to the client$"):
        migrate(client, loopback_port(), "k", timeout=500)
    with pytest.raises(redis.ResponseError, match="^Target instance replied with error: ERR AUTH"):
        migrate(client, redis_server.port, "k", "AUTH", "nopassword-set")
    assert client.get("k") == b"v"
    assert client.command_getkeys("MIGRATE", "h", "1", "", "0", "5", "AUTH", "pw", "KEYS", "a", "b") in ([b"a", b"b"], ["a", "b"])
    pipe = client.pipeline(transaction=True)
    pipe.execute_command("MIGRATE", "127.0.0.1", redis_server.port, "k", 0, 5000)
    with pytest.raises(redis.ResponseError):
        pipe.execute()
    assert client.get("k") == b"v"
