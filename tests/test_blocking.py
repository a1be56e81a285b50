"""Blocking pops (BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN BZPOPMAX BZMPOP) against a
standalone server: served when another client pushes, first blocked first served, null at
the timeout, ended by CLIENT UNBLOCK, and the same immediate replies and errors as
redis-server (including inside MULTI, where nothing blocks)."""

import threading
import time

import pytest
import redis

from resp import RawConnection, encode_command


def in_background(function):
    result = {}

    def run():
        try:
            result["value"] = function()
        except Exception as error:  # handed to the test thread
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_a_push_wakes_the_blocked_client(server):
    waiter, pusher = server.client(decode_responses=True), server.client(decode_responses=True)
    thread, result = in_background(lambda: waiter.blpop(["empty", "queue"], timeout=10))
    time.sleep(0.3)
    assert thread.is_alive(), "BLPOP returned before anything was pushed"
    pusher.rpush("queue", "job-1")
    thread.join(timeout=5)
    assert result.get("value") == ("queue", "job-1")
    assert pusher.exists("queue") == 0


@pytest.mark.parametrize("which", ["redis", "trestle"])
def test_a_key_turned_into_another_type_keeps_the_client_blocked(which, server, redis_reference):
    """As Redis: a blocked BLPOP whose key becomes a string stays blocked (no WRONGTYPE),
    and is served once the key is a list again; a BLMOVE whose destination holds another
    type gets the error."""
    target = server if which == "trestle" else redis_reference
    admin = target.client(decode_responses=True)
    admin.delete("blk", "src", "dst")
    waiter = target.client(decode_responses=True)
    thread, result = in_background(lambda: waiter.blpop(["blk"], timeout=10))
    time.sleep(0.3)
    pipe = admin.pipeline(transaction=True)
    pipe.lpush("blk", "a").delete("blk").set("blk", "string").execute()
    time.sleep(0.3)
    assert thread.is_alive(), f"the blocked client woke: {result}"
    admin.delete("blk")
    admin.lpush("blk", "b")
    thread.join(timeout=5)
    assert result.get("value") == ("blk", "b")
    admin.set("dst", "string")
    mover = target.client(decode_responses=True)
    thread, result = in_background(lambda: mover.blmove("src", "dst", timeout=10))
    time.sleep(0.3)
    admin.lpush("src", "x")
    thread.join(timeout=5)
    assert "WRONGTYPE" in str(result.get("error")), result
    admin.delete("blk", "src", "dst")


@pytest.mark.parametrize("which", ["redis", "trestle"])
def test_a_waiter_refused_by_its_destination_passes_the_element_on(which, server, redis_reference):
    """BRPOPLPUSH whose destination holds another type gets WRONGTYPE and takes nothing;
    the next client blocked on the source is served with the element (Redis's unit/type/list
    'BRPOPLPUSH with multiple blocked clients': the second waiter used to wait forever)."""
    target = redis_reference if which == "redis" else server
    control = target.client(decode_responses=True)
    control.delete("blist", "target1", "target2")
    control.set("target1", "nolist")
    first, second = target.client(decode_responses=True), target.client(decode_responses=True)
    first_thread, first_result = in_background(lambda: first.brpoplpush("blist", "target1", timeout=10))
    time.sleep(0.3)
    second_thread, second_result = in_background(lambda: second.brpoplpush("blist", "target2", timeout=10))
    time.sleep(0.3)
    control.lpush("blist", "foo")
    first_thread.join(timeout=5)
    second_thread.join(timeout=5)
    assert isinstance(first_result.get("error"), redis.ResponseError) and "WRONGTYPE" in str(first_result["error"])
    assert second_result.get("value") == "foo"
    assert control.lrange("target2", 0, -1) == ["foo"] and control.exists("blist") == 0


def test_first_blocked_first_served(server):
    pusher = server.client(decode_responses=True)
    order = []
    threads = []
    for name in ("first", "second", "third"):
        client = server.client(decode_responses=True)
        thread, result = in_background(lambda client=client, name=name: order.append((name, client.brpop("q", timeout=10))))
        threads.append(thread)
        time.sleep(0.2)
    for value in ("a", "b", "c"):
        pusher.lpush("q", value)
        time.sleep(0.2)
    for thread in threads:
        thread.join(timeout=5)
    assert order == [("first", ("q", "a")), ("second", ("q", "b")), ("third", ("q", "c"))]


def test_timeouts_and_sorted_sets_and_moves(server):
    client = server.client(decode_responses=True)
    started = time.monotonic()
    assert client.blpop("nothing", timeout=0.3) is None
    assert 0.25 <= time.monotonic() - started < 3
    assert client.execute_command("BLMOVE", "nothing", "dst", "LEFT", "RIGHT", "0.2") is None
    other = server.client(decode_responses=True)
    thread, result = in_background(lambda: client.bzpopmin("scores", timeout=10))
    time.sleep(0.2)
    other.zadd("scores", {"low": 1, "high": 2})
    thread.join(timeout=5)
    assert result.get("value") == ("scores", "low", 1.0)
    thread, result = in_background(lambda: client.execute_command("BLMOVE", "src", "dst", "RIGHT", "LEFT", "10"))
    time.sleep(0.2)
    other.rpush("src", "x", "y")
    thread.join(timeout=5)
    assert result.get("value") == "y"
    assert other.lrange("dst", 0, -1) == ["y"]
    thread, result = in_background(lambda: client.execute_command("BLMPOP", "10", "2", "l1", "l2", "LEFT", "COUNT", "2"))
    time.sleep(0.2)
    other.rpush("l2", "p", "q", "r")
    thread.join(timeout=5)
    assert result.get("value") == ["l2", ["p", "q"]]


def test_client_unblock_and_a_closed_waiter(server):
    waiter = server.client(decode_responses=True)
    waiter_id = waiter.client_id()
    admin = server.client(decode_responses=True)
    thread, result = in_background(lambda: waiter.blpop("never", timeout=0))
    time.sleep(0.3)
    assert admin.client_unblock(waiter_id) == 1
    thread.join(timeout=5)
    assert "value" in result and result["value"] is None
    assert admin.client_unblock(waiter_id) == 0
    # A waiter that disconnects is forgotten: the element goes to the next one.
    gone = RawConnection(server.port)
    gone.send(b"*3\r\n$5\r\nBLPOP\r\n$4\r\njobs\r\n$1\r\n0\r\n")
    time.sleep(0.2)
    gone.close()
    time.sleep(0.2)
    thread, result = in_background(lambda: waiter.blpop("jobs", timeout=10))
    time.sleep(0.2)
    admin.rpush("jobs", "only")
    thread.join(timeout=5)
    assert result.get("value") == ("jobs", "only")


BLOCKING_SCRIPT = [
    ("RPUSH", "l", "a", "b"),
    ("BLPOP", "l", "0"),
    ("BRPOP", "missing", "l", "0"),
    ("BLPOP", "l", "0.05"),
    ("SET", "s", "x"),
    ("BLPOP", "s", "0"),
    ("BLPOP", "l", "-1"),
    ("BLPOP", "l", "nope"),
    # ("BLPOP", "l", "inf") answers "timeout is out of range" as Redis 7.2+ (Debian's 7.0 says
    # "negative"): test_hostile_numbers.py checks it.
    ("BLPOP", "l"),
    ("MULTI",),
    ("BLPOP", "l", "0"),
    ("BRPOPLPUSH", "l", "d", "0"),
    ("BZPOPMIN", "z", "0"),
    ("EXEC",),
    ("ZADD", "z", "1.5", "m", "2", "n"),
    ("BZPOPMAX", "z", "0"),
    ("BZMPOP", "0", "1", "z", "MIN", "COUNT", "5"),
    ("BZMPOP", "0", "0", "z", "MIN"),
    ("BLMPOP", "0", "1", "l", "UP"),
    ("RPUSH", "src", "1", "2"),
    ("BRPOPLPUSH", "src", "dst", "0"),
    ("BLMOVE", "src", "dst", "LEFT", "LEFT", "0"),
    ("LRANGE", "dst", "0", "-1"),
    ("BLMOVE", "src", "dst", "UP", "LEFT", "0"),
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_immediate_replies_match_redis(protocol, server, redis_reference):
    def run(port):
        with RawConnection(port) as connection:
            if protocol == 3:
                connection.call("HELLO", "3")
            connection.call("FLUSHALL")
            return [connection.call(*command) for command in BLOCKING_SCRIPT]
    mine, theirs = run(server.port), run(redis_reference.port)
    differences = [f"  {' '.join(command)}: trestle {a!r}, redis {b!r}"
                   for command, a, b in zip(BLOCKING_SCRIPT, mine, theirs) if a != b]
    assert not differences, "\n".join(differences)


@pytest.mark.parametrize("database", [0, 9])
def test_xread_block_waits_for_new_entries(server, database):
    """In any database: `$` once resolved the stream of database 0 (Redis's stream unit
    runs in database 9, where XREAD BLOCK $ answered the old entry at once)."""
    reader = server.client(decode_responses=True, db=database)
    writer = server.client(decode_responses=True, db=database)
    writer.xadd("events", {"n": "0"}, id="1-0")
    thread, result = in_background(lambda: reader.xread({"events": "$"}, block=10000))
    time.sleep(0.3)
    assert thread.is_alive(), "XREAD BLOCK with $ returned the old entry"
    writer.xadd("events", {"n": "1"}, id="2-0")
    thread.join(timeout=5)
    assert result.get("value") == [["events", [("2-0", {"n": "1"})]]]
    assert reader.xread({"events": "2-0"}, block=200) in (None, [])
    assert reader.xread({"events": "0"}, count=1) == [["events", [("1-0", {"n": "0"})]]]


def test_xreadgroup_block_delivers_new_entries_to_one_consumer(server):
    admin = server.client(decode_responses=True)
    admin.xgroup_create("jobs", "workers", id="$", mkstream=True)
    first, second = server.client(decode_responses=True), server.client(decode_responses=True)
    one, result_one = in_background(lambda: first.xreadgroup("workers", "w1", {"jobs": ">"}, count=1, block=10000))
    time.sleep(0.2)
    two, result_two = in_background(lambda: second.xreadgroup("workers", "w2", {"jobs": ">"}, count=1, block=10000))
    time.sleep(0.2)
    admin.xadd("jobs", {"n": "1"}, id="1-0")
    admin.xadd("jobs", {"n": "2"}, id="2-0")
    one.join(timeout=5)
    two.join(timeout=5)
    assert result_one.get("value") == [["jobs", [("1-0", {"n": "1"})]]]
    assert result_two.get("value") == [["jobs", [("2-0", {"n": "2"})]]]
    assert admin.xpending("jobs", "workers")["pending"] == 2
    assert admin.xack("jobs", "workers", "1-0", "2-0") == 2


@pytest.mark.parametrize("which", ["redis", "trestle"])
def test_pops_blocked_on_two_keys_are_all_served_when_one_key_empties(which, server, redis_reference):
    """Redis's unit/type/list 'BLMPOP with multiple blocked clients': four BLMPOPs blocked
    on two lists; one transaction fills both; the first list is emptied by the first two
    waiters and the third must still be served from the second list."""
    target = server if which == "trestle" else redis_reference
    admin = target.client(decode_responses=True)
    admin.delete("bl{t}", "bl2{t}")
    calls = [("LEFT", 1), ("RIGHT", 10), ("LEFT", 10), ("RIGHT", 1)]
    waiters = []
    for side, count in calls:
        client = target.client(decode_responses=True)
        waiters.append(in_background(lambda client=client, side=side, count=count: client.execute_command(
            "BLMPOP", 0, 2, "bl{t}", "bl2{t}", side, "COUNT", count)))
        time.sleep(0.2)
    admin.pipeline(transaction=True).lpush("bl{t}", "a", "b", "c", "d", "e").lpush("bl2{t}", 1, 2, 3, 4, 5).execute()
    for thread, _ in waiters[:3]:
        thread.join(timeout=5)
    assert [result.get("value") for _, result in waiters[:3]] == [
        ["bl{t}", ["e"]], ["bl{t}", ["a", "b", "c", "d"]], ["bl2{t}", ["5", "4", "3", "2", "1"]]]
    admin.lpush("bl2{t}", 1, 2, 3)
    waiters[3][0].join(timeout=5)
    assert waiters[3][1].get("value") == ["bl2{t}", ["1"]]


@pytest.mark.parametrize("which", ["redis", "trestle"])
def test_a_blocked_list_pop_does_not_hold_back_a_stream_reader_on_its_key(which, server, redis_reference):
    """Redis's unit/type/stream-cgroups 'clients blocked on list': a BLPOP that blocked
    first on a key that became a stream does not keep an XREADGROUP blocked behind it
    from the stream's entries, and deleting the stream answers the XREADGROUP -NOGROUP
    while the BLPOP waits on. INFO counts the key once, and once as 'on nokey'."""
    target = server if which == "trestle" else redis_reference
    admin = target.client(decode_responses=True)
    admin.delete("mixed")
    popper, reader = target.client(decode_responses=True), target.client(decode_responses=True)
    pop, pop_result = in_background(lambda: popper.blpop(["mixed"], timeout=10))
    time.sleep(0.3)
    admin.xadd("mixed", {"k": "v"}, id="1-0")
    admin.xgroup_create("mixed", "group", id="$")
    read, read_result = in_background(lambda: reader.xreadgroup("group", "c", {"mixed": ">"}, block=10000))
    time.sleep(0.3)
    info = admin.info("clients")
    if which == "trestle" or "total_blocking_keys_on_nokey" in info:
        assert (info["total_blocking_keys"], info["total_blocking_keys_on_nokey"]) == (1, 1)
    admin.xadd("mixed", {"k": "w"}, id="2-0")
    read.join(timeout=5)
    assert read_result.get("value") == [["mixed", [("2-0", {"k": "w"})]]], read_result
    read, read_result = in_background(lambda: reader.xreadgroup("group", "c", {"mixed": ">"}, block=10000))
    time.sleep(0.3)
    admin.delete("mixed")
    read.join(timeout=5)
    # Redis 7.2+ answers -NOGROUP; Debian's 7.0 "UNBLOCKED the stream key no longer exists".
    expected = "NOGROUP" if which == "trestle" else ("NOGROUP", "UNBLOCKED the stream key no longer exists")
    assert str(read_result.get("error")).startswith(expected), read_result
    assert pop.is_alive(), f"the BLPOP woke: {pop_result}"
    admin.rpush("mixed", "x")
    pop.join(timeout=5)
    assert pop_result.get("value") == ("mixed", "x")


def test_a_blocked_client_pops_before_a_pipelined_blpop(target):
    """Redis's unit/type/list 'Unblock fairness is kept while pipelining': a client already
    blocked on a list gets the element a pipelined LPUSH adds, not the BLPOP that follows
    the push in the same pipeline (which blocks in turn)."""
    with RawConnection(target.port, timeout=5) as first, RawConnection(target.port, timeout=5) as second:
        first.send(encode_command("BLPOP", "fair", "0"))
        watcher = target.client()
        deadline = time.monotonic() + 5
        while watcher.info("clients")["blocked_clients"] != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        second.send(encode_command("LPUSH", "fair", "1") + encode_command("BLPOP", "fair", "0"))
        assert first.read_reply() == ("*", [("$", b"fair"), ("$", b"1")])
        assert second.read_reply() == (":", 1)
        deadline = time.monotonic() + 5
        while watcher.info("clients")["blocked_clients"] != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watcher.info("clients")["blocked_clients"] == 1, "the pipelined BLPOP should be blocked"
        watcher.lpush("fair", "2")
        assert second.read_reply() == ("*", [("$", b"fair"), ("$", b"2")])
