"""DUMP and RESTORE in Redis's payload format, both ways between Trestle and redis-server.

Keys of every type are built in redis-server so that it picks each of its encodings
(integer and LZF strings, listpack and plain quicklist nodes, intsets, listpack and
hashtable hashes and sets, listpack and skiplist sorted sets, streams with consumer
groups); its DUMP output is RESTOREd into Trestle and the values compared. Trestle's DUMP
output is RESTOREd into redis-server the same way (streams aside: Trestle writes them as
Redis 7.2 does, newer than the local redis-server reads). Corrupt payloads get Redis's
errors and leave the server serving.
"""

import pytest
import redis


def crc64(data):
    """Redis's CRC-64 (Jones polynomial, reflected), as DUMP payloads carry it."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95AC9329AC4BC9B5 if crc & 1 else crc >> 1
    return crc


def with_footer(body, version=9):
    """An object's bytes made into a payload: RDB version, then a correct CRC-64."""
    data = body + version.to_bytes(2, "little")
    return data + crc64(data).to_bytes(8, "little")


def build_every_encoding(client):
    client.set("int", 123456789)
    client.set("negative", -42)
    client.set("lzf", "abc" * 400)  # long and repetitive: stored LZF-compressed
    client.set("raw", bytes(range(256)))
    client.rpush("small-list", "a", "b", 1, 2, -7000, 2**40)
    client.rpush("big-list", *[f"element-{i}" for i in range(2000)])
    client.rpush("plain-node-list", "x" * 20_000, "y", "z" * 9000)
    client.sadd("intset", 1, -5, 70000, 2**40)
    client.sadd("small-set", "red", "green", "blue")
    client.sadd("big-set", *[f"member-{i}" for i in range(600)])
    client.hset("small-hash", mapping={"name": "trestle", "n": 12, "neg": -1})
    client.hset("big-hash", mapping={f"field-{i}": f"value-{i}" for i in range(700)})
    client.hset("long-value-hash", mapping={"f": "v" * 100})
    client.zadd("small-zset", {"a": 1.5, "b": -2, "c": 10, "d": 1e300})
    client.zadd("big-zset", {f"m{i}": i * 0.25 for i in range(300)})
    for index in range(230):
        client.xadd("stream", {"n": index, "text": "t" * (index % 50)}, id=f"{1000 + index // 4}-{index % 4}")
    client.xadd("stream", {"other": "fields"}, id="2000-0")
    client.xdel("stream", "1000-1", "1010-2")
    client.xgroup_create("stream", "workers", id="0")
    client.xgroup_create("stream", "auditors", id="1005-0")
    client.xreadgroup("workers", "alice", {"stream": ">"}, count=7)
    client.xreadgroup("workers", "bob", {"stream": ">"}, count=3)
    client.xack("stream", "workers", "1000-0", "1000-2")
    client.execute_command("XGROUP", "CREATECONSUMER", "stream", "auditors", "idle")


def image(client, key):
    kind = client.type(key)
    if kind == b"string":
        return kind, client.get(key)
    if kind == b"list":
        return kind, client.lrange(key, 0, -1)
    if kind == b"set":
        return kind, sorted(client.smembers(key))
    if kind == b"hash":
        return kind, sorted(client.hgetall(key).items())
    if kind == b"zset":
        return kind, client.zrange(key, 0, -1, withscores=True)
    assert kind == b"stream", kind
    info = client.xinfo_stream(key)
    groups = [(group["name"], group["pending"], group["last-delivered-id"]) for group in client.xinfo_groups(key)]
    pending = [[(entry["message_id"], entry["consumer"], entry["times_delivered"])
                for entry in client.xpending_range(key, name, "-", "+", 100)] for name, _, _ in groups]
    consumers = [sorted((consumer["name"], consumer["pending"]) for consumer in client.xinfo_consumers(key, name))
                 for name, _, _ in groups]
    return kind, client.xrange(key), info["length"], info["last-generated-id"], groups, pending, consumers


@pytest.fixture
def reference(redis_reference):
    client = redis_reference.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def trestle(server):
    client = server.client()
    yield client
    client.close()


def test_redis_payloads_restore_into_trestle(reference, trestle):
    build_every_encoding(reference)
    keys = sorted(reference.keys("*"))
    assert len(keys) == 16
    for key in keys:
        payload = reference.dump(key)
        assert trestle.restore(key, 0, payload) in (True, b"OK"), key
        assert image(trestle, key) == image(reference, key), key


def test_trestle_payloads_restore_into_redis(reference, trestle):
    build_every_encoding(trestle)
    for key in sorted(trestle.keys("*")):
        if key == b"stream":
            continue  # type 21 (Redis 7.2); checked below against Trestle itself
        payload = trestle.dump(key)
        assert payload[-10:-8] == (9).to_bytes(2, "little")
        assert reference.restore(key, 0, payload) in (True, b"OK"), key
        assert image(reference, key) == image(trestle, key), key


def test_stream_round_trip_keeps_what_redis_7_2_keeps(trestle):
    build_every_encoding(trestle)
    payload = trestle.dump("stream")
    assert payload[0] == 21 and payload[-10:-8] == (11).to_bytes(2, "little")
    before = trestle.execute_command("XINFO", "STREAM", "stream", "FULL")
    trestle.restore("copy", 0, payload)
    assert trestle.execute_command("XINFO", "STREAM", "copy", "FULL") == before
    assert image(trestle, "copy")[1:] == image(trestle, "stream")[1:]


def test_restore_keeps_ttl_and_replace_rules(reference, trestle):
    reference.set("k", "v")
    payload = reference.dump("k")
    assert trestle.restore("k", 5000, payload) in (True, b"OK")
    assert 0 < trestle.pttl("k") <= 5000
    with pytest.raises(redis.ResponseError, match="^BUSYKEY Target key name already exists.$"):
        trestle.restore("k", 0, payload)
    assert trestle.restore("k", 0, payload, replace=True) in (True, b"OK")
    assert trestle.pttl("k") == -1


def test_corrupt_payloads_get_redis_errors(reference, trestle):
    reference.rpush("list", *range(50))
    payload = bytearray(reference.dump("list"))
    flipped = bytes(payload[:3]) + bytes([payload[3] ^ 0xFF]) + bytes(payload[4:])
    with pytest.raises(redis.ResponseError, match="^DUMP payload version or checksum are wrong$"):
        trestle.restore("a", 0, flipped)
    newer = with_footer(bytes(payload[:-10]), version=13)
    with pytest.raises(redis.ResponseError, match="^DUMP payload version or checksum are wrong$"):
        trestle.restore("a", 0, newer)
    bad_objects = [
        bytes([99]) + b"\x00",                                   # unknown type
        bytes([0]) + b"\x0a" + b"short",                          # string shorter than its length
        bytes([1]) + b"\x80\xff\xff\xff\xff" + b"\x01a",          # a list claiming 4 billion elements
        bytes([2]) + b"\x02\x01a\x01a",                           # a set with a duplicate member
        bytes([5]) + b"\x01\x01a" + b"\x00\x00\x00\x00\x00\x00\xf8\x7f",  # a NaN score
        bytes([0]) + b"\xc3\x02\x05\x20\x00",                     # LZF with a back-reference before the start
        bytes([18]) + b"\x01\x02" + b"\x07" + b"\x07\x00\x00\x00\x01\x00\x01",  # a listpack missing its end
        bytes([4]) + b"\x00",                                     # an empty hash
    ]
    for body in bad_objects:
        with pytest.raises(redis.ResponseError, match="^Bad data format$"):
            trestle.restore("a", 0, with_footer(body))
        if body != bytes([0]) + b"\x0a" + b"short":  # redis-server reads on into the footer
            with pytest.raises(redis.ResponseError):
                reference.restore("a", 0, with_footer(body))
    assert trestle.exists("a") == 0
    assert trestle.ping() is True


def test_truncated_packed_structures_never_break_the_server(reference, trestle):
    """Every prefix of each real payload's object, given a correct footer, is either a
    value or Redis's "Bad data format": never a crash."""
    build_every_encoding(reference)
    for key in (b"small-list", b"small-hash", b"small-zset", b"intset", b"stream", b"lzf"):
        body = reference.dump(key)[:-10]
        for cut in range(1, len(body), max(1, len(body) // 60)):
            try:
                trestle.restore("probe", 0, with_footer(body[:cut]), replace=True)
            except redis.ResponseError as error:
                assert str(error) == "Bad data format", (key, cut, error)
    assert trestle.ping() is True
