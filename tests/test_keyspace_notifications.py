"""Keyspace notifications against a real redis-server: with `notify-keyspace-events` on,
the same commands run on both, and a pattern subscriber must receive the same
(channel, message) sequence, in order: `new`, each command's own event, `del` when a
command empties a key, nothing for a command that changes nothing. Expiry publishes
`expired`; on a 3-node cluster a subscriber on any node hears writes made through
another."""

import time

import pytest
import redis

# The script: every command below that changes a key publishes on both channels.
SCRIPT = [
    ("SET", "s", "1"),
    ("SET", "s", "2", "EX", "100"),
    ("SETNX", "s", "3"),
    ("INCR", "s"),
    ("INCRBYFLOAT", "s", "1.5"),
    ("APPEND", "s", "x"),
    ("SETRANGE", "s", "0", "y"),
    ("GETSET", "s", "z"),
    ("MSET", "m1", "a", "m2", "b"),
    ("SETEX", "t", "100", "v"),
    ("PERSIST", "t"),
    ("EXPIRE", "t", "100"),
    ("EXPIRE", "t", "-1"),
    ("GETDEL", "m1"),
    ("DEL", "m2", "missing"),
    ("SETBIT", "b", "3", "1"),
    ("RPUSH", "l", "a", "b", "c"),
    ("LPUSH", "l", "z"),
    ("LINSERT", "l", "BEFORE", "b", "x"),
    ("LSET", "l", "0", "q"),
    ("LREM", "l", "1", "x"),
    ("LTRIM", "l", "0", "1"),
    ("LMOVE", "l", "l2", "LEFT", "RIGHT"),
    ("RPOPLPUSH", "l", "l"),
    ("LPOP", "l"),
    ("RPOP", "l2"),
    ("LPOP", "nolist"),
    ("HSET", "h", "f", "1", "g", "2"),
    ("HINCRBY", "h", "f", "2"),
    ("HINCRBYFLOAT", "h", "f", "0.5"),
    ("HDEL", "h", "f"),
    ("HDEL", "h", "g"),
    ("SADD", "st", "a", "b"),
    ("SADD", "st", "a"),
    ("SREM", "st", "a"),
    ("SMOVE", "st", "st2", "b"),
    ("SADD", "st", "c"),
    ("SINTERSTORE", "dst", "st", "st2"),
    ("SUNIONSTORE", "dst", "st", "st2"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c"),
    ("ZADD", "z", "INCR", "5", "a"),
    ("ZINCRBY", "z", "1", "b"),
    ("ZREM", "z", "c"),
    ("ZPOPMIN", "z"),
    ("ZUNIONSTORE", "z2", "1", "z"),
    ("ZREMRANGEBYSCORE", "z2", "-inf", "+inf"),
    ("ZPOPMAX", "z"),
    ("RENAME", "st", "st3"),
    ("COPY", "st3", "st4"),
    ("XADD", "x", "1-0", "f", "v"),
    ("XGROUP", "CREATE", "x", "g", "0"),
    ("XDEL", "x", "1-0"),
    ("FLUSHALL",),
    # Second part: multi-pops, blocking pops served at once, stores and stream groups.
    ("RPUSH", "q", "1", "2", "3"),
    ("BLPOP", "q", "0"),
    ("BRPOP", "q", "0"),
    ("LMPOP", "2", "none", "q", "LEFT"),
    ("RPUSH", "q", "a", "b"),
    ("LMPOP", "1", "q", "RIGHT", "COUNT", "5"),
    ("ZADD", "zz", "1", "a", "2", "b", "3", "c"),
    ("ZMPOP", "1", "zz", "MIN"),
    ("BZPOPMAX", "zz", "0"),
    ("ZRANGESTORE", "zr", "zz", "0", "-1"),
    ("ZADD", "zz", "NX", "CH", "9", "incr"),
    ("ZINTERSTORE", "zr", "2", "zz", "nothing"),
    ("GEOADD", "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
    ("GEOADD", "geo", "XX", "CH", "13.5", "38", "Palermo"),
    ("GEOADD", "geo", "NX", "13.5", "38", "Palermo"),
    ("GEOSEARCHSTORE", "geo2", "geo", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
    ("GEOSEARCHSTORE", "geo2", "geo", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"),
    ("GEORADIUS", "geo", "15", "37", "200", "km", "STORE", "geo3"),
    ("GEORADIUSBYMEMBER", "geo", "Palermo", "200", "km", "STOREDIST", "geo3"),
    ("GEORADIUS", "geo", "15", "37", "200", "km"),
    ("GEOSEARCHSTORE", "geo2", "geo", "FROMLONLAT", "50", "50", "BYRADIUS", "1", "km"),
    ("GEORADIUS", "geo", "50", "50", "1", "km", "STORE", "geo3"),
    ("GEORADIUS", "nogeo", "50", "50", "1", "km", "STORE", "geo3"),
    ("SADD", "p", "a", "b", "c"),
    ("SPOP", "p"),
    ("SPOP", "p", "5"),
    ("SADD", "d1", "a"),
    ("SDIFFSTORE", "d2", "d1", "d1"),
    ("SADD", "d2", "x"),
    ("SDIFFSTORE", "d2", "d1", "d1"),
    ("RPUSH", "srt", "3", "1", "2"),
    ("SORT", "srt", "STORE", "sorted"),
    ("SET", "b1", "ab"),
    ("BITOP", "NOT", "b2", "b1"),
    ("BITFIELD", "b1", "SET", "u8", "0", "1"),
    ("GETEX", "b1", "EX", "100"),
    ("GETEX", "b1", "PERSIST"),
    ("SET", "b1", "v", "KEEPTTL"),
    ("SET", "ex", "ex"),
    ("PEXPIREAT", "b1", "1"),
    ("MSETNX", "n1", "a", "n2", "b"),
    ("MSETNX", "n1", "a", "n3", "b"),
    ("DECRBY", "c", "5"),
    ("HSETNX", "hh", "f", "v"),
    ("HSETNX", "hh", "f", "v"),
    ("HMSET", "hh", "g", "w"),
    ("XADD", "xs", "MAXLEN", "1", "1-0", "f", "v"),
    ("XADD", "xs", "MAXLEN", "1", "2-0", "f", "v"),
    ("XTRIM", "xs", "MAXLEN", "0"),
    ("XSETID", "xs", "99-0"),
    ("XGROUP", "CREATE", "xs", "grp", "$"),
    ("XGROUP", "CREATECONSUMER", "xs", "grp", "alice"),
    ("XGROUP", "DELCONSUMER", "xs", "grp", "alice"),
    ("XGROUP", "SETID", "xs", "grp", "0"),
    ("XGROUP", "DESTROY", "xs", "grp"),
    ("XGROUP", "CREATE", "xnew", "grp", "$", "MKSTREAM"),
    ("LPUSHX", "nolist", "a"),
    ("RENAMENX", "hh", "hh2"),
    ("COPY", "hh2", "hh3"),
    ("COPY", "hh2", "hh3", "REPLACE"),
    ("UNLINK", "hh2", "hh3"),
]

PATTERN = "__key*__:*"


def events_of(client, script, classes):
    """Runs `script` on `client` with `classes` on and returns every (channel, message)
    a pattern subscriber received, up to a sentinel published last."""
    client.execute_command("CONFIG", "SET", "notify-keyspace-events", classes)
    pubsub = client.pubsub()
    pubsub.psubscribe(PATTERN)
    assert pubsub.get_message(timeout=5)["type"] == "psubscribe"
    for command in script:
        try:
            client.execute_command(*command)
        except redis.ResponseError:
            pass
    client.publish("__keyspace@0__:sentinel", "end")
    received = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1)
        if message is None or message["type"] != "pmessage":
            continue
        if message["channel"] == b"__keyspace@0__:sentinel":
            break
        received.append((message["channel"].decode(), message["data"].decode()))
    pubsub.close()
    client.execute_command("CONFIG", "SET", "notify-keyspace-events", "")
    return received


@pytest.mark.parametrize("classes", ["KEA", "Kl", "E$gn", "Kz", "KEt", "Ex"])
def test_same_events_as_redis(server, redis_reference, classes):
    trestle = server.client()
    reference = redis_reference.client()
    reference.flushall()
    expected = events_of(reference, SCRIPT, classes)
    got = events_of(trestle, SCRIPT, classes)
    assert got == expected


# Reads: each key a read looks up is a hit or a miss (INFO's keyspace_hits and
# keyspace_misses), and a miss publishes `keymiss` (class m), as Redis's lookupKeyRead.
READ_SCRIPT = [
    ("SET", "s", "v"),
    ("HSET", "h", "f", "v"),
    ("RPUSH", "l", "a"),
    ("GET", "s"),
    ("GET", "missing"),
    ("MGET", "s", "nope", "s"),
    ("EXISTS", "s", "nope2"),
    ("TYPE", "nope3"),
    ("TTL", "nope4"),
    ("STRLEN", "nope5"),
    ("HGET", "h", "f"),
    ("HGET", "nohash", "f"),
    ("HGETALL", "nohash2"),
    ("LRANGE", "nolist", "0", "-1"),
    ("LRANGE", "l", "0", "-1"),
    ("SMEMBERS", "noset"),
    ("ZRANGE", "nozset", "0", "-1"),
    ("SUNION", "noset1", "noset2"),
    ("SINTERCARD", "2", "noset3", "noset4"),
    ("GETDEL", "nope6"),
    ("GETEX", "nope7"),
    ("OBJECT", "ENCODING", "nope8"),
    ("GET", "h"),
    ("XRANGE", "nostream", "-", "+"),
    ("DUMP", "nope9"),
    ("TOUCH", "nope10"),
    ("LCS", "s", "nope11"),
    ("ZSCORE", "nozset2", "m"),
    ("HRANDFIELD", "nohash3"),
    ("INCR", "counter"),
    ("LPOP", "nolist2"),
    ("EVAL", "return redis.call('GET', KEYS[1])", "1", "nope12"),
    ("EVAL_RO", "return redis.call('EXISTS', KEYS[1])", "1", "s"),
    ("GEOADD", "geo", "13.361389", "38.115556", "Palermo"),
    ("GEOPOS", "geo", "Palermo"),
    ("GEOPOS", "nogeo", "Palermo"),
    ("GEODIST", "nogeo", "a", "b"),
    ("GEOHASH", "geo", "x"),
    ("GEOSEARCH", "nogeo", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
    ("GEOSEARCH", "geo", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"),
    ("GEORADIUS_RO", "nogeo", "0", "0", "1", "km"),
    ("GEORADIUSBYMEMBER", "nogeo", "x", "1", "km"),
    ("GEOSEARCHSTORE", "geo2", "nogeo", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"),
    ("GEOSEARCHSTORE", "geo2", "geo", "FROMLONLAT", "13", "38", "BYRADIUS", "100", "km"),
]


def lookups(client):
    stats = client.info("stats")
    return stats["keyspace_hits"], stats["keyspace_misses"]


@pytest.mark.parametrize("classes", ["KEm", "Em", "KA"])
def test_reads_count_hits_and_misses_and_publish_keymiss(server, redis_reference, classes):
    trestle = server.client()
    reference = redis_reference.client()
    reference.flushall()
    results = {}
    for name, client in (("redis", reference), ("trestle", trestle)):
        before = lookups(client)
        events = events_of(client, READ_SCRIPT, classes)
        after = lookups(client)
        results[name] = (events, (after[0] - before[0], after[1] - before[1]))
    assert results["trestle"][0] == results["redis"][0], "keymiss events differ"
    assert results["trestle"][1] == results["redis"][1], "(hits, misses) differ"
    if "m" in classes:
        assert results["trestle"][0], "no keymiss event at all"


def test_config_get_and_set(server, redis_reference):
    for client in (server.client(decode_responses=True), redis_reference.client(decode_responses=True)):
        for classes, shown in (("KEA", "AKE"), ("Elgn$m", "g$lnEm"), ("g$lshzxetd", "A"), ("AnKE", "AKE"), ("", "")):
            client.config_set("notify-keyspace-events", classes)
            assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": shown}
        with pytest.raises(redis.ResponseError, match="Invalid event class character. Use 'Ag\\$lshzxeKEtmdn'."):
            client.config_set("notify-keyspace-events", "Kq")


def test_expired_keys_publish_expired(server):
    client = server.client()
    client.config_set("notify-keyspace-events", "Ex")
    pubsub = client.pubsub()
    pubsub.subscribe("__keyevent@0__:expired")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    client.set("short", "v", px=50)
    deadline = time.monotonic() + 10
    message = None
    while time.monotonic() < deadline and message is None:
        candidate = pubsub.get_message(timeout=1)
        if candidate and candidate["type"] == "message":
            message = candidate
    assert message is not None and message["data"] == b"short"
    pubsub.close()


def test_nothing_is_published_while_off(server):
    client = server.client()
    pubsub = client.pubsub()
    pubsub.psubscribe(PATTERN)
    assert pubsub.get_message(timeout=5)["type"] == "psubscribe"
    client.set("k", "v")
    client.delete("k")
    assert pubsub.get_message(timeout=0.5) is None
    pubsub.close()


def test_a_read_removes_the_expired_keys_it_meets(server):
    """Redis's lazy expiry (unit/expire "Redis should lazy expire keys"): with active
    expiry off, expired keys stay counted until a read meets them; once its reply is back
    they are gone, counted in expired_keys and announced as `expired`."""
    client = server.client(decode_responses=True)
    client.config_set("notify-keyspace-events", "Ex")
    subscriber = server.client(decode_responses=True).pubsub()
    subscriber.psubscribe("__keyevent@0__:expired")
    assert subscriber.get_message(timeout=1)["type"] == "psubscribe"
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        expired_before = client.info("stats")["expired_keys"]
        for name in ("lazy1", "lazy2", "lazy3"):
            client.set(name, "v", px=100)
        time.sleep(0.5)
        assert client.dbsize() == 3, "nothing removes them but a read"
        assert client.mget("lazy1", "lazy2", "lazy3") == [None, None, None]
        assert client.dbsize() == 0
        assert client.info("stats")["expired_keys"] == expired_before + 3
        events = set()
        deadline = time.time() + 5
        while len(events) < 3 and time.time() < deadline:
            message = subscriber.get_message(timeout=0.5)
            if message and message["type"] == "pmessage":
                events.add(message["data"])
        assert events == {"lazy1", "lazy2", "lazy3"}
    finally:
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        client.config_set("notify-keyspace-events", "")


def test_hash_field_expiry_events(server):
    """Redis 7.4's hash field events (unit/pubsub 'hash events test'): HEXPIRE and its
    kin publish `hexpire`, HPERSIST `hpersist`, and an expiry time already past, which
    deletes the fields, `hdel` (and `del` when it empties the hash). Debian's Redis 7.0
    has no HEXPIRE, so this is not compared with it."""
    client = server.client(decode_responses=True)
    client.config_set("notify-keyspace-events", "Khg")
    subscriber = server.client(decode_responses=True).pubsub()
    subscriber.psubscribe("__keyspace@0__:*")
    assert subscriber.get_message(timeout=5)["type"] == "psubscribe"
    client.hset("myhash", mapping={"yes": 1, "no": 0})
    client.hincrby("myhash", "yes", 10)
    client.execute_command("HEXPIRE", "myhash", 999999, "FIELDS", 1, "yes")
    client.execute_command("HEXPIREAT", "myhash", int(time.time()) + 999999, "NX", "FIELDS", 1, "no")
    client.execute_command("HPEXPIRE", "myhash", 999999, "FIELDS", 1, "yes")
    client.execute_command("HPERSIST", "myhash", "FIELDS", 1, "yes")
    assert client.execute_command("HPEXPIRE", "myhash", 0, "FIELDS", 1, "yes") == [2]
    assert client.execute_command("HPEXPIRE", "myhash", 999999, "FIELDS", 1, "gone") == [-2]  # changes nothing
    assert client.execute_command("HEXPIRE", "myhash", 0, "FIELDS", 1, "no") == [2]
    events = []
    while len(events) < 9:
        message = subscriber.get_message(timeout=5)
        assert message is not None, f"only {events}"
        if message["type"] == "pmessage":
            events.append(message["data"])
    assert events == ["hset", "hincrby", "hexpire", "hexpire", "hexpire", "hpersist", "hdel", "hdel", "del"]
    assert subscriber.get_message(timeout=0.3) is None
    subscriber.close()


def pmessages(subscriber, count):
    """The next `count` keyspace events' (key, event) pairs."""
    events = []
    while len(events) < count:
        message = subscriber.get_message(timeout=5)
        assert message is not None, f"only {events}"
        if message["type"] == "pmessage":
            events.append((message["channel"].split(":", 1)[1], message["data"]))
    return events


def test_hsetex_and_hgetex_events(server):
    """Redis 8.0's HSETEX and HGETEX (unit/pubsub 'hash events test'): HSETEX publishes
    `hset`, then `hexpire` with a time; HGETEX only what it changed: `hexpire`,
    `hpersist`, `hdel` for a time already past, and `del` when that empties the hash."""
    client = server.client(decode_responses=True)
    client.config_set("notify-keyspace-events", "Khg")
    subscriber = server.client(decode_responses=True).pubsub()
    subscriber.psubscribe("__keyspace@0__:*")
    assert subscriber.get_message(timeout=5)["type"] == "psubscribe"
    assert client.execute_command("HSETEX", "myhash", "FIELDS", 3, "f4", "v4", "f5", "v5", "f6", "v6") == 1
    assert client.execute_command("HGETEX", "myhash", "PX", 0, "FIELDS", 1, "f4") == ["v4"]
    assert client.execute_command("HGETEX", "myhash", "EXAT", int(time.time()) + 999999, "FIELDS", 1, "f5") == ["v5"]
    assert client.execute_command("HGETEX", "myhash", "PERSIST", "FIELDS", 1, "f5") == ["v5"]
    assert client.execute_command("HGETEX", "myhash", "FIELDS", 2, "f5", "nope") == ["v5", None]  # changes nothing
    assert client.execute_command("HSETEX", "myhash", "FNX", "FIELDS", 1, "f5", "x") == 0  # changes nothing
    assert client.execute_command("HSETEX", "myhash", "KEEPTTL", "FIELDS", 1, "f5", "v55") == 1
    assert client.execute_command("HSETEX", "myhash", "PX", 100000, "FIELDS", 1, "f6", "v66") == 1
    assert client.execute_command("HGETEX", "myhash", "PXAT", 1, "FIELDS", 2, "f5", "f6") == ["v55", "v66"]
    assert client.exists("myhash") == 0
    assert pmessages(subscriber, 9) == [("myhash", event) for event in
                                        ["hset", "hdel", "hexpire", "hpersist", "hset", "hset", "hexpire", "hdel", "del"]]
    assert subscriber.get_message(timeout=0.3) is None
    subscriber.close()


def test_expired_hash_fields_are_removed_actively_and_lazily(server):
    """Redis 7.4+ (unit/pubsub 'hash events test'): the active expire cycle removes hash
    fields past their time to live, publishing `hexpired` once per hash, and `del` when no
    field is left; with active expiry off, a read that meets them does the same. A hash
    whose every field expired goes with `hexpired` and `del`, never `expired` (that is a
    key's own time to live)."""
    client = server.client(decode_responses=True)
    client.config_set("notify-keyspace-events", "Khg")
    subscriber = server.client(decode_responses=True).pubsub()
    subscriber.psubscribe("__keyspace@0__:*")
    assert subscriber.get_message(timeout=5)["type"] == "psubscribe"
    try:
        client.hset("myhash", mapping={"a": 1, "b": 2, "c": 3})
        client.execute_command("HPEXPIRE", "myhash", 10, "FIELDS", 2, "a", "b")
        assert pmessages(subscriber, 3) == [("myhash", "hset"), ("myhash", "hexpire"), ("myhash", "hexpired")]
        assert client.hgetall("myhash") == {"c": "3"}
        assert client.hlen("myhash") == 1

        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        client.execute_command("HPEXPIRE", "myhash", 10, "FIELDS", 1, "c")
        time.sleep(0.1)
        assert pmessages(subscriber, 1) == [("myhash", "hexpire")]
        assert subscriber.get_message(timeout=0.2) is None, "nothing removed while active expiry is off"
        assert client.hmget("myhash", "c") == [None]
        assert pmessages(subscriber, 2) == [("myhash", "hexpired"), ("myhash", "del")]
        assert client.exists("myhash") == 0
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")

        # A key's own time to live running out is `expired`, whatever its fields do.
        client.config_set("notify-keyspace-events", "Khgx")
        client.hset("other", "f", "v")
        client.execute_command("HPEXPIRE", "other", 200, "FIELDS", 1, "f")
        client.pexpire("other", 10)
        assert pmessages(subscriber, 4) == [("other", "hset"), ("other", "hexpire"), ("other", "expire"), ("other", "expired")]
        assert subscriber.get_message(timeout=0.4) is None
    finally:
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        client.config_set("notify-keyspace-events", "")
        subscriber.close()
