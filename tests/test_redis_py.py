"""redis-py drives a real trestle server, over RESP2 and RESP3, through every command family
of the single-node server: strings, keys and expiry, hashes, pipelines, transactions,
errors, authentication, connection and server commands, active expiry.

Each test gets a fresh server (fixture `server`) and clients from conftest.py.
"""

import time

import pytest
import redis
import redis.backoff
import redis.retry

from resp import RawConnection

FAR_FUTURE_SECONDS = 4102444800  # 2100-01-01
NO_RETRY = redis.retry.Retry(redis.backoff.NoBackoff(), 0)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(request, server):
    """A redis-py client of a fresh server, once per protocol version."""
    connection = server.client(decode_responses=True, protocol=request.param)
    yield connection
    connection.close()


def wire_text(error):
    """The error line as the server sent it (redis-py strips codes such as ERR)."""
    code = getattr(error, "status_code", None)
    text = str(error)
    # redis-py 8 keeps some codes (WRONGTYPE) in the message and also sets status_code.
    return f"{code} {text}" if code and not text.startswith(f"{code} ") else text


def error_text(callable_, *args, **kwargs):
    with pytest.raises(redis.exceptions.ResponseError) as caught:
        callable_(*args, **kwargs)
    return wire_text(caught.value)


def raw_call(server, *commands):
    """Replies to `commands`, one RESP2 connection, as (type, value) pairs."""
    with RawConnection(server.port) as connection:
        return [connection.call(*command) for command in commands]


# ---------------------------------------------------------------------------------------
# Strings
# ---------------------------------------------------------------------------------------


def test_set_nx_xx_get(client):
    assert client.set("k", "v") is True
    assert client.set("k", "w", nx=True) is None
    assert client.get("k") == "v"
    assert client.set("k", "w", xx=True) is True
    assert client.get("k") == "w"
    assert client.set("missing", "x", xx=True) is None
    assert client.exists("missing") == 0
    assert client.set("k", "z", get=True) == "w"
    assert client.set("new", "z", get=True) is None
    assert client.get("new") == "z"


def test_set_expiry_options(client):
    client.set("ex", "v", ex=100)
    assert 98 <= client.ttl("ex") <= 100
    client.set("px", "v", px=100_000)
    assert 98_000 <= client.pttl("px") <= 100_000
    client.set("exat", "v", exat=FAR_FUTURE_SECONDS)
    assert client.expiretime("exat") == FAR_FUTURE_SECONDS
    client.set("pxat", "v", pxat=FAR_FUTURE_SECONDS * 1000 + 123)
    assert client.pexpiretime("pxat") == FAR_FUTURE_SECONDS * 1000 + 123
    client.set("exat", "v2", keepttl=True)
    assert client.get("exat") == "v2"
    assert client.expiretime("exat") == FAR_FUTURE_SECONDS
    client.set("exat", "v3")
    assert client.ttl("exat") == -1
    assert error_text(client.set, "k", "v", ex=0) == "ERR invalid expire time in 'set' command"


def test_set_short_expiry_really_expires(client):
    client.set("short", "v", px=50)
    assert client.get("short") == "v"
    time.sleep(0.12)
    assert client.get("short") is None
    assert client.exists("short") == 0


def test_getex_getdel(client):
    client.set("k", "v")
    assert client.getex("k", ex=50) == "v"
    assert 48 <= client.ttl("k") <= 50
    assert client.getex("k", persist=True) == "v"
    assert client.ttl("k") == -1
    assert client.getex("k", pxat=FAR_FUTURE_SECONDS * 1000) == "v"
    assert client.pexpiretime("k") == FAR_FUTURE_SECONDS * 1000
    assert client.getex("missing", ex=10) is None
    assert client.getdel("k") == "v"
    assert client.getdel("k") is None
    assert client.exists("k") == 0


def test_mset_mget_msetnx(client):
    assert client.mset({"a": "1", "b": "2", "c": "3"}) is True
    assert client.mget("a", "b", "missing", "c") == ["1", "2", None, "3"]
    assert client.msetnx({"a": "x", "d": "4"}) is False
    assert client.exists("d") == 0
    assert client.get("a") == "1"
    assert client.msetnx({"d": "4", "e": "5"}) is True
    assert client.mget("d", "e") == ["4", "5"]
    client.hset("h", "f", "v")
    assert client.mget("a", "h") == ["1", None]


def test_append_strlen_ranges(client):
    assert client.append("s", "Hello") == 5
    assert client.append("s", " World") == 11
    assert client.strlen("s") == 11
    assert client.strlen("missing") == 0
    assert client.getrange("s", 0, 4) == "Hello"
    assert client.getrange("s", -5, -1) == "World"
    assert client.getrange("s", 5, 2) == ""
    assert client.getrange("s", -100, 100) == "Hello World"
    assert client.setrange("s", 6, "Redis") == 11
    assert client.get("s") == "Hello Redis"
    assert client.setrange("pad", 3, "x") == 4
    assert client.get("pad") == "\x00\x00\x00x"
    assert error_text(client.setrange, "s", -1, "x") == "ERR offset is out of range"


def test_binary_safe_values(server):
    client = server.client()
    value = bytes(range(256)) * 4
    client.set(b"bin\x00key\r\n", value)
    assert client.get(b"bin\x00key\r\n") == value
    assert client.strlen(b"bin\x00key\r\n") == 1024
    client.close()


def test_big_value(client):
    value = "x" * (4 * 1024 * 1024)
    client.set("big", value)
    assert client.strlen("big") == len(value)
    assert client.get("big") == value


def test_incr_family(client):
    assert client.incr("n") == 1
    assert client.incrby("n", 41) == 42
    assert client.decr("n") == 41
    assert client.decrby("n", 50) == -9
    assert client.get("n") == "-9"
    client.set("max", str(2**63 - 1))
    assert error_text(client.incr, "max") == "ERR increment or decrement would overflow"
    client.set("s", "abc")
    assert error_text(client.incr, "s") == "ERR value is not an integer or out of range"
    client.set("f", "1.5")
    assert error_text(client.incrby, "f", 1) == "ERR value is not an integer or out of range"
    assert client.get("f") == "1.5"


def test_incrbyfloat(client):
    assert client.incrbyfloat("f", 10.5) == 10.5
    assert client.incrbyfloat("f", 0.1) == pytest.approx(10.6)
    assert client.get("f") == "10.6"
    assert client.incrbyfloat("f", -5) == pytest.approx(5.6)
    client.set("i", "3")
    assert client.incrbyfloat("i", 1) == 4.0
    assert client.get("i") == "4"
    client.set("s", "abc")
    assert error_text(client.incrbyfloat, "s", 1) == "ERR value is not a valid float"


# ---------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------


def test_del_exists_type_keys(client):
    client.mset({"a": "1", "b": "2", "c": "3"})
    client.hset("h", "f", "v")
    assert client.exists("a", "a", "missing", "b") == 3
    assert client.type("a") == "string"
    assert client.type("h") == "hash"
    assert client.type("missing") == "none"
    assert sorted(client.keys("*")) == ["a", "b", "c", "h"]
    assert sorted(client.keys("[ab]")) == ["a", "b"]
    assert client.keys("zz*") == []
    assert client.delete("a", "missing", "h") == 2
    assert client.unlink("b") == 1
    assert client.keys("*") == ["c"]


def test_scan_iter_is_complete_over_5000_keys(server):
    client = server.client(decode_responses=True)
    pipe = client.pipeline(transaction=False)
    for index in range(5000):
        pipe.set(f"key:{index}", index)
    for index in range(200):
        pipe.hset(f"hash:{index}", "f", index)
    pipe.execute()
    seen = list(client.scan_iter(count=100))
    assert len(seen) >= 5200
    assert set(seen) == {f"key:{i}" for i in range(5000)} | {f"hash:{i}" for i in range(200)}
    matched = set(client.scan_iter(match="key:1*", count=500))
    assert matched == {f"key:{i}" for i in range(5000) if str(i).startswith("1")}
    hashes = set(client.scan_iter(_type="hash", count=1000))
    assert hashes == {f"hash:{i}" for i in range(200)}
    client.close()


def test_scan_cursor_protocol(client):
    for index in range(50):
        client.set(f"k{index}", index)
    cursor, keys = client.scan(0, count=10)
    assert isinstance(cursor, int)
    assert cursor != 0 and len(keys) > 0
    collected = set(keys)
    rounds = 0
    while cursor != 0:
        cursor, keys = client.scan(cursor, count=10)
        collected.update(keys)
        rounds += 1
        assert rounds < 100, "SCAN never returned cursor 0"
    assert collected == {f"k{i}" for i in range(50)}
    assert error_text(client.execute_command, "SCAN", "notacursor") == "ERR invalid cursor"


def test_rename_renamenx_copy_touch_randomkey(client):
    assert client.randomkey() is None
    client.set("a", "1", exat=FAR_FUTURE_SECONDS)
    assert client.rename("a", "b") is True
    assert client.get("b") == "1"
    assert client.expiretime("b") == FAR_FUTURE_SECONDS
    assert error_text(client.rename, "missing", "x") == "ERR no such key"
    client.set("c", "3")
    assert client.renamenx("b", "c") is False
    assert client.renamenx("b", "d") is True
    assert client.copy("d", "e") is True
    assert client.copy("d", "c") is False
    assert client.copy("d", "c", replace=True) is True
    assert client.get("c") == "1"
    assert client.expiretime("e") == FAR_FUTURE_SECONDS
    assert client.touch("c", "d", "missing") == 2
    assert client.randomkey() in {"c", "d", "e"}


def test_expire_family_flags(client):
    client.set("k", "v")
    assert client.ttl("k") == -1
    assert client.ttl("missing") == -2
    assert client.pttl("missing") == -2
    assert client.expiretime("k") == -1
    assert client.expiretime("missing") == -2
    assert client.expire("k", 100, xx=True) is False
    assert client.expire("k", 100, nx=True) is True
    assert client.expire("k", 200, nx=True) is False
    assert client.expire("k", 50, gt=True) is False
    assert client.expire("k", 200, gt=True) is True
    assert client.expire("k", 300, lt=True) is False
    assert client.expire("k", 150, lt=True) is True
    assert 148 <= client.ttl("k") <= 150
    assert client.pexpire("k", 5000) is True
    assert 4000 <= client.pttl("k") <= 5000
    assert client.expireat("k", FAR_FUTURE_SECONDS) is True
    assert client.expiretime("k") == FAR_FUTURE_SECONDS
    assert client.pexpireat("k", FAR_FUTURE_SECONDS * 1000 + 9) is True
    assert client.pexpiretime("k") == FAR_FUTURE_SECONDS * 1000 + 9
    assert client.persist("k") is True
    assert client.persist("k") is False
    assert client.ttl("k") == -1
    assert client.expire("k", 0) is True
    assert client.exists("k") == 0
    text = error_text(client.execute_command, "EXPIRE", "k", "10", "NX", "XX")
    assert text == "ERR NX and XX, GT or LT options at the same time are not compatible"


# ---------------------------------------------------------------------------------------
# Hashes
# ---------------------------------------------------------------------------------------


def test_hash_commands(client):
    assert client.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert client.hset("h", "a", "10") == 0
    assert client.hget("h", "a") == "10"
    assert client.hget("h", "missing") is None
    assert client.hmget("h", ["a", "missing", "b"]) == ["10", None, "2"]
    assert client.hsetnx("h", "a", "x") == 0
    assert client.hsetnx("h", "c", "3") == 1
    assert client.hlen("h") == 3
    assert client.hexists("h", "a") is True
    assert client.hexists("h", "zz") is False
    assert client.hstrlen("h", "a") == 2
    assert sorted(client.hkeys("h")) == ["a", "b", "c"]
    assert sorted(client.hvals("h")) == ["10", "2", "3"]
    assert client.hgetall("h") == {"a": "10", "b": "2", "c": "3"}
    assert client.hgetall("missing") == {}
    assert client.hincrby("h", "c", 5) == 8
    assert client.hincrby("h", "new", -2) == -2
    assert client.hincrbyfloat("h", "fl", 1.25) == 1.25
    assert client.hincrbyfloat("h", "fl", 1.25) == 2.5
    assert error_text(client.hincrby, "h", "fl", 1) == "ERR hash value is not an integer"
    assert error_text(client.hincrbyfloat, "h", "a", "x") == "ERR value is not a valid float"
    assert client.hdel("h", "a", "b", "zz") == 2
    assert client.hdel("h", "c", "new", "fl") == 3
    assert client.exists("h") == 0, "a hash whose last field is deleted must disappear"


def test_hmset_and_hscan(server):
    client = server.client(decode_responses=True)
    fields = {f"field:{i}": str(i) for i in range(1000)}
    client.hset("big", mapping=fields)
    assert client.hlen("big") == 1000
    assert dict(client.hscan_iter("big", count=50)) == fields
    matched = dict(client.hscan_iter("big", match="field:99*"))
    assert matched == {k: v for k, v in fields.items() if k.startswith("field:99")}
    cursor, small = client.hscan("missing", 0)
    assert (cursor, small) == (0, {})
    client.close()


def test_list_commands(client):
    assert client.rpush("l", "a", "b", "c") == 3
    assert client.lpush("l", "z") == 4
    assert client.lrange("l", 0, -1) == ["z", "a", "b", "c"]
    assert client.lpop("l") == "z"
    assert client.rpop("l", 2) == ["c", "b"]
    assert client.lpop("missing") is None
    assert client.lpop("missing", 2) is None
    client.rpush("l", "b", "a")
    assert client.lpos("l", "a", rank=-1) == 2
    assert client.lpos("l", "a", count=0) == [0, 2]
    assert client.linsert("l", "BEFORE", "b", "x") == 4
    assert client.lrem("l", 0, "a") == 2
    assert client.lmove("l", "dst", "LEFT", "RIGHT") == "x"
    assert client.rpoplpush("l", "dst") == "b"
    assert client.exists("l") == 0, "an emptied list deletes its key"
    assert client.lmpop(2, "l", "dst", direction="LEFT", count=5) == ["dst", ["b", "x"]]
    assert client.type("dst") == "none"
    client.set("s", "v")
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        client.lpush("s", "a")


def test_set_commands(client):
    assert client.sadd("s", "a", "b", "c") == 3
    assert client.smembers("s") == {"a", "b", "c"}
    assert client.sismember("s", "a") in (1, True)
    assert [bool(flag) for flag in client.smismember("s", ["a", "z"])] == [True, False]
    assert client.smove("s", "t", "a") in (1, True)
    client.sadd("t", "b")
    assert client.sinter("s", "t") == {"b"}
    assert client.sunion("s", "t") == {"a", "b", "c"}
    assert client.sdiff("s", "t") == {"c"}
    assert client.sintercard(2, ["s", "t"]) == 1
    assert client.sunionstore("u", ["s", "t"]) == 3
    popped = client.spop("u", 2)
    assert len(popped) == 2 and set(popped) <= {"a", "b", "c"}
    assert client.srandmember("u") in {"a", "b", "c"}
    assert client.spop("u") in {"a", "b", "c"}
    assert client.exists("u") == 0, "an emptied set deletes its key"
    cursor, members = client.sscan("s", 0)
    assert cursor == 0 and sorted(members) == ["b", "c"]
    assert client.type("s") == "set"


def pairs(reply):
    """[member, score] pairs as tuples (redis-py gives tuples in RESP2, lists in RESP3)."""
    return [tuple(pair) for pair in reply]


def test_sorted_set_commands(client):
    """redis-py parses every score reply into a float, in RESP2 (bulk strings) and RESP3
    (doubles and [member, score] pairs) alike."""
    assert client.zadd("z", {"a": 1, "b": 2.5, "c": 3}) == 3
    assert client.zadd("z", {"a": 5}, gt=True, ch=True) == 1
    assert client.zadd("z", {"a": 1}, incr=True) == 6.0
    assert client.zincrby("z", -0.5, "b") == 2.0
    assert client.zscore("z", "a") == 6.0
    assert client.zmscore("z", ["a", "none"]) == [6.0, None]
    assert client.zcard("z") == 3
    assert client.zrank("z", "c") == 1
    assert client.zrevrank("z", "c") == 1
    assert client.zrange("z", 0, -1) == ["b", "c", "a"]
    assert pairs(client.zrange("z", 0, -1, withscores=True)) == [("b", 2.0), ("c", 3.0), ("a", 6.0)]
    assert client.zrange("z", "(2", "+inf", byscore=True, offset=0, num=1) == ["c"]
    assert pairs(client.zrangebyscore("z", 2, 3, withscores=True)) == [("b", 2.0), ("c", 3.0)]
    assert pairs(client.zrevrange("z", 0, 0, withscores=True)) == [("a", 6.0)]
    assert client.zcount("z", "-inf", "+inf") == 3
    assert pairs(client.zpopmin("z", 1)) == [("b", 2.0)]
    assert pairs(client.zpopmax("z", 1)) == [("a", 6.0)]
    client.zadd("lex", {"a": 0, "b": 0, "c": 0})
    assert client.zrangebylex("lex", "[b", "+") == ["b", "c"]
    assert client.zlexcount("lex", "-", "(c") == 2
    assert client.zunionstore("u", ["z", "lex"]) == 3
    assert pairs(client.zinter(["u", "lex"], withscores=True)) == [("a", 0.0), ("b", 0.0), ("c", 3.0)]
    assert client.zrangestore("r", "u", 0, 1) == 2
    assert client.zremrangebyrank("r", 0, -1) == 2
    assert client.exists("r") == 0, "an emptied sorted set deletes its key"
    cursor, scanned = client.zscan("u", 0)
    assert cursor == 0 and sorted(scanned) == [("a", 0.0), ("b", 0.0), ("c", 3.0)]
    assert client.zrandmember("u", 10, withscores=True) is not None
    assert client.type("u") == "zset"


def test_hrandfield(client):
    assert client.hrandfield("missing") is None
    client.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    assert client.hrandfield("h") in {"a", "b", "c"}
    distinct = client.hrandfield("h", 10)
    assert sorted(distinct) == ["a", "b", "c"], "positive count: distinct fields, at most all"
    repeated = client.hrandfield("h", -10)
    assert len(repeated) == 10 and set(repeated) <= {"a", "b", "c"}
    pairs = client.hrandfield("h", 2, withvalues=True)
    flat = pairs if isinstance(pairs, list) else list(pairs)
    if flat and isinstance(flat[0], list):  # RESP3 nests [field, value] pairs
        flat = [item for pair in flat for item in pair]
    assert len(flat) == 4
    for field, value in zip(flat[0::2], flat[1::2]):
        assert {"a": "1", "b": "2", "c": "3"}[field] == value


def test_wrongtype_across_families(client):
    client.set("s", "v")
    client.hset("h", "f", "v")
    wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value"
    assert error_text(client.hget, "s", "f") == wrongtype
    assert error_text(client.hset, "s", "f", "v") == wrongtype
    assert error_text(client.get, "h") == wrongtype
    assert error_text(client.append, "h", "x") == wrongtype
    assert error_text(client.incr, "h") == wrongtype
    assert error_text(client.hscan, "s", 0) == wrongtype


# ---------------------------------------------------------------------------------------
# Pipelines and transactions
# ---------------------------------------------------------------------------------------


def test_pipeline_1000_commands(client):
    pipe = client.pipeline(transaction=False)
    for index in range(500):
        pipe.set(f"p{index}", index)
        pipe.incr("counter")
    replies = pipe.execute()
    assert len(replies) == 1000
    assert replies[0::2] == [True] * 500
    assert replies[1::2] == list(range(1, 501))
    assert client.get("counter") == "500"
    assert client.mget([f"p{i}" for i in range(500)]) == [str(i) for i in range(500)]


def test_pipeline_with_errors_keeps_going(client):
    client.set("s", "v")
    pipe = client.pipeline(transaction=False)
    pipe.set("a", 1)
    pipe.hget("s", "f")
    pipe.incr("a")
    replies = pipe.execute(raise_on_error=False)
    assert replies[0] is True
    assert isinstance(replies[1], redis.exceptions.ResponseError)
    assert replies[2] == 2


def test_multi_exec(client):
    pipe = client.pipeline(transaction=True)
    pipe.set("a", "1").incr("a").get("a").hset("h", "f", "v")
    assert pipe.execute() == [True, 2, "2", 1]


def test_exec_with_runtime_error_applies_the_rest(client):
    client.set("s", "text")
    pipe = client.pipeline(transaction=True)
    pipe.set("a", "1").incr("s").incr("a")
    replies = pipe.execute(raise_on_error=False)
    assert replies[0] is True
    assert isinstance(replies[1], redis.exceptions.ResponseError)
    assert replies[2] == 2


def test_watch_conflict_from_second_client(server):
    first = server.client(decode_responses=True)
    second = server.client(decode_responses=True)
    first.set("balance", "10")
    with first.pipeline(transaction=True) as pipe:
        pipe.watch("balance")
        current = int(pipe.get("balance"))
        second.set("balance", "999")
        pipe.multi()
        pipe.set("balance", current + 1)
        with pytest.raises(redis.exceptions.WatchError):
            pipe.execute()
    assert first.get("balance") == "999"
    with first.pipeline(transaction=True) as pipe:
        pipe.watch("balance")
        pipe.multi()
        pipe.set("balance", "1000")
        assert pipe.execute() == [True]
    assert first.get("balance") == "1000"
    first.close()
    second.close()


def test_watch_expired_or_deleted_key_counts_as_change(server):
    first = server.client(decode_responses=True)
    second = server.client(decode_responses=True)
    first.set("k", "v")
    with first.pipeline(transaction=True) as pipe:
        pipe.watch("k")
        second.delete("k")
        pipe.multi()
        pipe.set("other", "1")
        with pytest.raises(redis.exceptions.WatchError):
            pipe.execute()
    assert first.exists("other") == 0
    first.close()
    second.close()


def test_discard(server):
    replies = raw_call(server, ("MULTI",), ("SET", "a", "1"), ("DISCARD",), ("EXISTS", "a"), ("DISCARD",), ("EXEC",))
    assert replies == [
        ("+", b"OK"), ("+", b"QUEUED"), ("+", b"OK"), (":", 0),
        ("-", b"ERR DISCARD without MULTI"), ("-", b"ERR EXEC without MULTI"),
    ]


def test_execabort_after_queueing_error(server):
    replies = raw_call(server, ("MULTI",), ("SET", "a", "1"), ("SET", "onlykey"), ("EXEC",), ("EXISTS", "a"))
    assert replies == [
        ("+", b"OK"), ("+", b"QUEUED"), ("-", b"ERR wrong number of arguments for 'set' command"),
        ("-", b"EXECABORT Transaction discarded because of previous errors."), (":", 0),
    ]


def test_pipeline_transaction_with_queueing_error_raises(client):
    pipe = client.pipeline(transaction=True)
    pipe.set("a", "1")
    pipe.execute_command("SET", "onlykey")
    with pytest.raises(redis.exceptions.ResponseError):
        pipe.execute()
    assert client.exists("a") == 0


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


def test_exact_error_texts(client):
    assert error_text(client.execute_command, "GET") == "ERR wrong number of arguments for 'get' command"
    assert error_text(client.execute_command, "HSET", "h", "f") == "ERR wrong number of arguments for 'hset' command"
    text = error_text(client.execute_command, "NOSUCHCMD", "a", "b")
    assert text == "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' "
    text = error_text(client.execute_command, "CLIENT", "BOGUS")
    assert text == "ERR unknown subcommand 'BOGUS'. Try CLIENT HELP."
    assert error_text(client.execute_command, "SET", "k", "v", "BOGUS") == "ERR syntax error"


def test_connection_survives_errors(client):
    for _ in range(20):
        with pytest.raises(redis.exceptions.ResponseError):
            client.execute_command("NOSUCHCMD")
    assert client.ping() is True


# ---------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------


def test_requirepass(server_factory):
    server = server_factory("--requirepass", "s3cret")
    raw = raw_call(server, ("GET", "k"), ("AUTH", "wrong"), ("HELLO", "3"), ("AUTH", "s3cret"), ("SET", "k", "v"))
    assert raw[0] == ("-", b"NOAUTH Authentication required.")
    assert raw[1] == ("-", b"WRONGPASS invalid username-password pair or user is disabled.")
    assert raw[2][0] == "-" and raw[2][1].startswith(b"NOAUTH HELLO must be called with the client already authenticated")
    assert raw[3] == ("+", b"OK")
    assert raw[4] == ("+", b"OK")
    with RawConnection(server.port) as connection:
        kind, _ = connection.call("HELLO", "3", "AUTH", "default", "s3cret")
        assert kind == "%"
        assert connection.call("GET", "k") == ("$", b"v")
    # redis-py without a password cannot even finish its connection handshake.
    anonymous = server.client(decode_responses=True, retry=NO_RETRY)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.get("k")
    anonymous.close()
    for protocol in (2, 3):
        authenticated = server.client(decode_responses=True, password="s3cret", protocol=protocol)
        assert authenticated.get("k") == "v"
        authenticated.close()
    wrong = server.client(decode_responses=True, password="nope", retry=NO_RETRY)
    with pytest.raises(redis.exceptions.AuthenticationError):
        wrong.ping()
    wrong.close()


def test_auth_without_password_configured(server):
    [reply] = raw_call(server, ("AUTH", "x"))
    assert reply == ("-", b"ERR AUTH <password> called without any password configured for the default user. "
                          b"Are you sure your configuration is correct?")


# ---------------------------------------------------------------------------------------
# Connection and server commands
# ---------------------------------------------------------------------------------------


def test_hello_3_fields(server):
    with RawConnection(server.port) as connection:
        kind, pairs = connection.call("HELLO", "3")
        assert kind == "%"
        reply = {key[1].decode(): value for key, value in pairs}
        assert reply["server"] == ("$", b"redis")
        assert reply["proto"] == (":", 3)
        assert reply["id"][0] == ":" and reply["id"][1] > 0
        assert reply["id"] == connection.call("CLIENT", "ID")
        assert reply["mode"] == ("$", b"standalone")
        assert reply["role"] == ("$", b"master")
        assert reply["modules"] == ("*", [])
        assert reply["version"][0] == "$" and reply["version"][1].count(b".") == 2
        assert connection.call("HELLO", "4") == ("-", b"NOPROTO unsupported protocol version")
        assert connection.call("GET", "missing") == ("_", None), "after HELLO 3 a null is RESP3 '_'"
        kind, pairs = connection.call("HELLO", "2")
        assert kind == "*"
        fields = {key[1].decode(): value for key, value in zip(pairs[0::2], pairs[1::2])}
        assert fields["proto"] == (":", 2)
        assert connection.call("GET", "missing") == ("$", None)
        kind, _ = connection.call("HELLO")
        assert kind == "*", "HELLO without a version keeps the current protocol"


def test_resp3_native_types(r3):
    r3.hset("h", mapping={"a": "1"})
    assert r3.hgetall("h") == {"a": "1"}
    r3.set("f", "1.5")
    assert r3.execute_command("HELLO", "3")["proto"] == 3


def test_client_commands(server):
    first = server.client(decode_responses=True)
    second = server.client(decode_responses=True)
    assert first.client_setname("alpha") is True
    assert first.client_getname() == "alpha"
    assert second.client_getname() is None
    first_id = first.client_id()
    second_id = second.client_id()
    assert isinstance(first_id, int) and first_id != second_id
    listing = first.client_list()
    ids = {int(entry["id"]) for entry in listing}
    assert {first_id, second_id} <= ids
    names = {int(entry["id"]): entry["name"] for entry in listing}
    assert names[first_id] == "alpha"
    assert all(entry["addr"].startswith("127.0.0.1:") for entry in listing)
    assert first.client_kill_filter(_id=second_id) == 1
    time.sleep(0.1)
    assert second_id not in {int(entry["id"]) for entry in first.client_list()}
    assert first.ping() is True
    assert first.client_kill_filter(_id=999999) == 0
    first.close()
    second.close()


def test_client_kill_by_id_closes_that_connection(server):
    from resp import RawConnection

    killer = server.client(decode_responses=True)
    with RawConnection(server.port) as victim:
        victim_id = victim.call("CLIENT", "ID")[1]
        assert killer.execute_command("CLIENT", "KILL", "ID", str(victim_id)) == 1
        assert victim.is_closed_by_peer(wait=3)
    killer.close()


def test_config_get_set(client):
    maxclients = client.config_get("maxclients")
    assert maxclients == {"maxclients": "10000"}
    assert client.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": str(512 * 1024 * 1024)}
    assert client.config_set("maxclients", 50) is True
    assert client.config_get("maxclients") == {"maxclients": "50"}
    many = client.config_get("max*")
    assert "maxclients" in many
    text = error_text(client.config_set, "no-such-parameter", "1")
    assert "Unknown option or number of arguments for CONFIG SET - 'no-such-parameter'" in text


def test_info_sections(client):
    info = client.info()
    assert info["redis_mode"] == "standalone"
    assert "redis_version" in info
    assert info["connected_clients"] >= 1
    server_section = client.info("server")
    assert "tcp_port" in server_section or "process_id" in server_section
    client.set("a", "1")
    client.set("b", "2")
    keyspace = client.info("keyspace")
    assert keyspace["db0"]["keys"] == 2
    stats = client.info("stats")
    assert stats["total_commands_processed"] >= 3
    everything = client.info("everything")
    assert "used_memory" in everything


def test_dbsize_flushdb_flushall(client):
    client.mset({f"k{i}": i for i in range(100)})
    assert client.dbsize() == 100
    assert client.flushdb() is True
    assert client.dbsize() == 0
    client.set("x", "1")
    assert client.flushall() is True
    assert client.dbsize() == 0


def test_time(client):
    seconds, microseconds = client.time()
    assert abs(seconds - time.time()) < 5
    assert 0 <= microseconds < 1_000_000


# A standalone server has Redis's 16 databases (a cluster node only 0, as Redis Cluster).
def test_select(client):
    assert client.execute_command("SELECT", "0") in (True, "OK")
    assert error_text(client.execute_command, "SELECT", "16") == "ERR DB index is out of range"
    assert error_text(client.execute_command, "SELECT", "-1") == "ERR DB index is out of range"
    assert client.ping() is True


def test_echo_ping(client, server):
    assert client.ping() is True
    assert client.echo("hello") == "hello"
    assert raw_call(server, ("PING",), ("PING", "msg"), ("ECHO", "")) == [("+", b"PONG"), ("$", b"msg"), ("$", b"")]


def test_active_expiry_without_access(server):
    client = server.client(decode_responses=True)
    pipe = client.pipeline(transaction=False)
    for index in range(200):
        pipe.set(f"short:{index}", "v", px=100)
    for index in range(20):
        pipe.set(f"long:{index}", "v")
    pipe.execute()
    assert client.dbsize() == 220
    deadline = time.monotonic() + 3.0
    while client.dbsize() > 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.dbsize() == 20, "keys with a 100 ms TTL must be expired actively within ~2 s"
    client.close()


# ---------------------------------------------------------------------------------------
# Durability across a graceful restart
# ---------------------------------------------------------------------------------------


def test_data_survives_graceful_restart(server):
    client = server.client(decode_responses=True)
    client.set("s", "v", exat=FAR_FUTURE_SECONDS)
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.incrby("n", 7)
    client.set("gone", "x")
    client.delete("gone")
    client.close()
    server.restart()
    client = server.client(decode_responses=True)
    assert client.get("s") == "v"
    assert client.expiretime("s") == FAR_FUTURE_SECONDS
    assert client.hgetall("h") == {"a": "1", "b": "2"}
    assert client.get("n") == "7"
    assert client.exists("gone") == 0
    assert client.dbsize() == 3
    client.close()


# ---------------------------------------------------------------------------------------
# Concurrency and connection lifecycle
# ---------------------------------------------------------------------------------------


def test_concurrent_incr_from_many_clients(server):
    import threading

    threads_count, increments = 8, 300
    failures = []

    def work():
        client = server.client()
        try:
            for _ in range(increments):
                client.incr("shared")
                client.hincrby("shared-hash", "f", 2)
        except Exception as error:  # reported below; the thread must not die silently
            failures.append(repr(error))
        finally:
            client.close()

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    client = server.client(decode_responses=True)
    assert client.get("shared") == str(threads_count * increments)
    assert client.hget("shared-hash", "f") == str(2 * threads_count * increments)
    client.close()


def test_config_set_maxclients_applies_to_new_connections(server):
    admin = server.client(decode_responses=True)
    admin.config_set("maxclients", 2)
    with RawConnection(server.port) as second:
        assert second.call("PING") == ("+", b"PONG")
        with RawConnection(server.port) as third:
            assert third.read_available(wait=1.0) == b"-ERR max number of clients reached\r\n"
    admin.config_set("maxclients", 100)
    with RawConnection(server.port) as second, RawConnection(server.port) as third:
        assert third.call("PING") == ("+", b"PONG")
    admin.close()


def test_quit_and_reset(server):
    with RawConnection(server.port) as connection:
        connection.call("CLIENT", "SETNAME", "before-reset")
        connection.call("HELLO", "3")
        connection.call("MULTI")
        assert connection.call("RESET") == ("+", b"RESET")
        assert connection.call("CLIENT", "GETNAME") == ("$", None), "RESET clears the name and goes back to RESP2"
        assert connection.call("EXEC") == ("-", b"ERR EXEC without MULTI")
        assert connection.call("QUIT") == ("+", b"OK")
        assert connection.is_closed_by_peer(wait=2)


def test_hello_with_auth_and_setname(server_factory):
    server = server_factory("--requirepass", "pw")
    with RawConnection(server.port) as connection:
        kind, _ = connection.call("HELLO", "3", "AUTH", "default", "wrong")
        assert kind == "-"
        kind, pairs = connection.call("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "named")
        assert kind == "%"
        assert connection.call("CLIENT", "GETNAME") == ("$", b"named")


def test_active_expiry_of_many_keys(server):
    client = server.client(decode_responses=True)
    pipe = client.pipeline(transaction=False)
    for index in range(20000):
        pipe.set(f"bulk:{index}", "v", px=100)
    pipe.set("stays", "v")
    pipe.execute()
    deadline = time.monotonic() + 5.0
    while client.dbsize() > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    remaining = client.dbsize()
    assert remaining == 1, f"{remaining - 1} of 20000 keys with a 100 ms TTL still counted after 5 s"
    client.close()


def test_expired_keys_are_invisible_to_every_read(client):
    client.set("gone", "v", px=30)
    client.hset("gonehash", "f", "v")
    client.pexpire("gonehash", 30)
    time.sleep(0.1)
    assert client.get("gone") is None
    assert client.exists("gone", "gonehash") == 0
    assert client.type("gonehash") == "none"
    assert client.hgetall("gonehash") == {}
    assert "gone" not in client.keys("*")
    assert "gonehash" not in list(client.scan_iter())
    assert client.ttl("gone") == -2
    assert client.set("gone", "new", nx=True) is True


def test_config_set_proto_max_bulk_len_applies(server):
    admin = server.client(decode_responses=True)
    limit = 1024 * 1024  # the smallest value Redis allows
    assert admin.config_set("proto-max-bulk-len", limit) is True
    assert admin.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": str(limit)}
    with RawConnection(server.port) as connection:
        assert connection.call("SET", "ok", "x" * limit) == ("+", b"OK")
    with RawConnection(server.port) as connection:
        # The header alone is refused: sending the megabyte behind it would race the close
        # (unread bytes at close reset the connection before the reply is read).
        connection.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % (limit + 1))
        assert connection.read_reply() == ("-", b"ERR Protocol error: invalid bulk length")
        assert connection.is_closed_by_peer(wait=2)
    assert admin.exists("big") == 0
    admin.close()


def test_info_keyspace_counts_expires(client):
    client.set("a", "1")
    client.set("b", "2", ex=1000)
    client.hset("c", "f", "v")
    client.expire("c", 2000)
    keyspace = client.info("keyspace")["db0"]
    assert keyspace["keys"] == 3
    assert keyspace["expires"] == 2


def test_client_list_fields(server):
    client = server.client(decode_responses=True)
    client.client_setname("lister")
    [entry] = [e for e in client.client_list() if e["name"] == "lister"]
    for field in ("id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "cmd"):
        assert field in entry, f"CLIENT LIST lacks {field}: {entry}"
    assert entry["db"] == "0"
    assert entry["laddr"] == f"127.0.0.1:{server.port}"
    assert entry["cmd"].startswith("client")
    client.close()


def test_dump_and_restore_round_trip_every_type(server):
    """A round trip through Trestle alone: every type comes back equal, TTL and REPLACE
    apply, a damaged payload is refused (tests/test_dump_restore.py moves payloads between
    Trestle and redis-server)."""
    client = server.client(decode_responses=False)
    client.set("s", b"bytes\x00here")
    client.rpush("l", "a", "b")
    client.sadd("set", "x", "y")
    client.hset("h", mapping={"f": "v"})
    client.zadd("z", {"m": 1.5})
    client.xadd("st", {"f": "v"}, id="1-1")
    for key in (b"s", b"l", b"set", b"h", b"z", b"st"):
        payload = client.dump(key)
        assert client.restore(key + b"-copy", 0, payload) in (True, b"OK")
        assert client.type(key + b"-copy") == client.type(key)
    assert client.get("s-copy") == b"bytes\x00here"
    assert client.lrange("l-copy", 0, -1) == [b"a", b"b"]
    assert client.smembers("set-copy") == {b"x", b"y"}
    assert client.hgetall("h-copy") == {b"f": b"v"}
    assert client.zrange("z-copy", 0, -1, withscores=True) == [(b"m", 1.5)]
    assert client.xrange("st-copy") == [(b"1-1", {b"f": b"v"})]
    payload = client.dump("s")
    with pytest.raises(redis.exceptions.ResponseError, match="BUSYKEY"):
        client.restore("s-copy", 0, payload)
    assert client.restore("s-copy", 5000, payload, replace=True) in (True, b"OK")
    assert 0 < client.pttl("s-copy") <= 5000
    damaged = payload[:-1] + bytes([payload[-1] ^ 1])
    with pytest.raises(redis.exceptions.ResponseError, match="checksum"):
        client.restore("other", 0, damaged)
    assert client.dump("missing") is None
    assert client.object("encoding", "s") == b"embstr"
    assert client.memory_usage("l") > 0


def test_config_get_patterns_match_aliases_and_skip_hidden_parameters(target):
    """As Redis 7: a pattern matches aliases too (each under its own name) but never a
    hidden parameter, which answers only when named; setting where the server listens to
    what it already is succeeds; a percentage over 100 is refused with Redis's words."""
    client = target.client(decode_responses=True)
    matched = client.config_get("*of")
    assert "slaveof" in matched and "replicaof" in matched
    everything = client.config_get("*")
    assert "key-load-delay" not in everything and "hash-max-ziplist-entries" in everything
    assert client.config_get("key-load-delay") == {"key-load-delay": "0"}
    assert client.config_set("port", str(target.port)) is True
    assert client.config_set("bind", everything["bind"]) is True
    before = client.config_get("maxmemory")
    text = error_text(client.config_set, "maxmemory-clients", "200%")
    assert "percentage argument must be less or equal to 100" in text
    assert client.config_get("maxmemory") == before
