"""Numbered databases on a standalone server, as Redis has them (16 by default): SELECT,
MOVE, SWAPDB, COPY ... DB, FLUSHDB against FLUSHALL, DBSIZE and INFO keyspace per database.

The behaviour tests run the same body against a real redis-server and against Trestle
(the command-by-command replies are compared in test_differential.py's `databases`
script). Trestle-only tests prove what Redis's tests cannot: every database's writes
survive SIGKILL and a snapshot, and expiry, blocking pops and WATCH keep to their database.
A cluster node has only database 0 (test_cluster_clients.py checks its refusals).
"""

import threading
import time

import pytest
import redis

pytestmark = pytest.mark.timeout(60)

REPLY_SECONDS = 5
POLL_SECONDS = 0.05


def connect(target, database=0, **options):
    """One connection (SELECT sticks to it), in `database`."""
    return redis.Redis(host="127.0.0.1", port=target.port, db=database, socket_timeout=REPLY_SECONDS,
                       single_connection_client=True, protocol=2, decode_responses=True, **options)


def keyspace_lines(client):
    return {name: (fields["keys"], fields["expires"]) for name, fields in client.info("keyspace").items()}


def test_each_database_has_its_own_keys(target):
    zero, three = connect(target), connect(target, 3)
    zero.set("k", "zero")
    three.set("k", "three", ex=1000)
    three.rpush("list", "a")
    assert (zero.get("k"), three.get("k")) == ("zero", "three")
    assert (zero.dbsize(), three.dbsize()) == (1, 2)
    assert sorted(three.keys("*")) == ["k", "list"]
    assert keyspace_lines(zero) == {"db0": (1, 0), "db3": (2, 1)}
    assert int(three.client_info()["db"]) == 3
    three.flushdb()
    assert (zero.dbsize(), three.dbsize()) == (1, 0)
    three.set("again", "1")
    zero.flushall()
    assert (zero.dbsize(), three.dbsize()) == (0, 0)


def test_move_copy_and_swapdb(target):
    zero, five = connect(target), connect(target, 5)
    zero.set("k", "v", ex=1000)
    assert zero.move("k", 5) is True
    assert zero.exists("k") == 0 and five.get("k") == "v" and 0 < five.ttl("k") <= 1000
    zero.set("k", "other")
    assert five.move("k", 0) is False  # there already: nothing moves
    assert five.copy("k", "copied", destination_db=0) is True
    assert zero.get("copied") == "v"
    assert five.copy("k", "copied", destination_db=0) is False
    assert five.copy("k", "copied", destination_db=0, replace=True) is True
    assert zero.swapdb(0, 5) is True
    assert sorted(zero.keys("*")) == ["k"] and zero.get("k") == "v"
    assert sorted(five.keys("*")) == ["copied", "k"] and five.get("k") == "other"
    for bad in (lambda: zero.move("k", 16), lambda: zero.swapdb(0, 16), lambda: zero.execute_command("SELECT", 16)):
        with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
            bad()


def test_transaction_and_script_select(target):
    two = connect(target, 2)
    for command in (("MULTI",), ("SET", "t", "two"), ("SELECT", 6), ("SET", "t", "six")):
        two.execute_command(*command)
    assert two.execute_command("EXEC") == ["OK", "OK", "OK"]
    # The SELECT inside EXEC moved the connection, as Redis does.
    assert two.get("t") == "six"
    assert connect(target, 2).get("t") == "two"
    # A script's SELECT lasts until the script ends (Redis 7).
    assert two.eval("redis.call('select', 7) redis.call('set', 's', 'seven') return redis.call('dbsize')", 0) == 1
    assert two.exists("s") == 0 and connect(target, 7).get("s") == "seven"


def test_watch_fails_only_for_its_own_database(target):
    watcher, writer = connect(target, 3), connect(target)
    watcher.execute_command("WATCH", "w")
    writer.set("w", "in zero")  # another database's key of the same name
    watcher.execute_command("MULTI")
    watcher.execute_command("SET", "w", "mine")
    assert watcher.execute_command("EXEC") == ["OK"]
    watcher.execute_command("WATCH", "w")
    writer.execute_command("SELECT", 3)
    writer.set("w", "in three")
    watcher.execute_command("MULTI")
    watcher.execute_command("SET", "w", "mine")
    assert watcher.execute_command("EXEC") is None
    assert watcher.get("w") == "in three"
    # WATCH counts in the database it ran in, even when EXEC runs in another.
    watcher.execute_command("WATCH", "w")
    watcher.execute_command("SELECT", 8)
    watcher.execute_command("MULTI")
    watcher.execute_command("SET", "w", "eight")
    assert watcher.execute_command("EXEC") == ["OK"]
    assert watcher.get("w") == "eight"
    watcher.execute_command("SELECT", 3)
    watcher.execute_command("WATCH", "w")
    watcher.execute_command("SELECT", 8)
    writer.set("w", "three again")  # writer is in database 3
    watcher.execute_command("MULTI")
    watcher.execute_command("SET", "w", "not eight")
    assert watcher.execute_command("EXEC") is None
    assert watcher.get("w") == "eight"


def test_a_watched_key_already_expired_is_not_touched_by_flushdb_or_swapdb(target):
    """Redis's unit/multi 'stale keys' cases: deleting or swapping away a key that had
    expired when it was watched is no logical change, so EXEC runs; a live one fails it."""
    client = connect(target, 1)
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for wipe in (("FLUSHDB",), ("SWAPDB", "0", "1")):
            client.set("x", "foo", px=1)
            time.sleep(0.01)
            client.execute_command("WATCH", "x")
            client.execute_command(*wipe)
            client.execute_command("MULTI")
            client.execute_command("PING")
            assert client.execute_command("EXEC") == ["PONG"], wipe
            client.set("x", "live")
            client.execute_command("WATCH", "x")
            client.execute_command(*wipe)
            client.execute_command("MULTI")
            client.execute_command("PING")
            assert client.execute_command("EXEC") is None, wipe
            client.execute_command("FLUSHALL")
    finally:
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_a_watched_key_reclaimed_by_expiry_fails_exec_only_if_it_was_live_when_watched(target):
    """Redis's unit/multi 'Delete WATCHed stale keys should not fail EXEC': a read that
    reclaims a key already expired when it was watched is no logical change, so EXEC runs;
    a key that was live when watched and expired since fails EXEC."""
    client = connect(target, 2)
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        client.set("x", "foo", px=1)
        time.sleep(0.01)
        client.execute_command("WATCH", "x")
        assert client.exists("x") == 0  # reclaims the stale key
        client.execute_command("MULTI")
        client.execute_command("PING")
        assert client.execute_command("EXEC") == ["PONG"]
        client.set("x", "foo", px=50)
        client.execute_command("WATCH", "x")
        time.sleep(0.1)
        assert client.exists("x") == 0
        client.execute_command("MULTI")
        client.execute_command("PING")
        assert client.execute_command("EXEC") is None
    finally:
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        client.execute_command("FLUSHDB")


def test_scan_removes_the_expired_keys_it_meets(target):
    """Redis's unit/scan 'SCAN with expired keys': the keys a SCAN walks past their expiry
    are deleted (DBSIZE and INFO keyspace stop counting them). (Trestle also deletes those a
    TYPE or MATCH filter leaves out, as Redis 8 does for TYPE; Debian's Redis 7.0 does not,
    so this compares the plain walk.)"""
    client = connect(target, 4)
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        client.mset({f"key:{n}": n for n in range(200)})
        for n in range(5):
            client.set(f"gone:{n}", "x", px=1)
        client.hset("gone:hash", "f", "v")
        client.pexpire("gone:hash", 1)
        time.sleep(0.02)
        assert client.dbsize() == 206
        seen, cursor = [], 0
        while True:
            cursor, keys = client.scan(cursor, count=20)
            seen += keys
            if cursor == 0:
                break
        assert sorted(seen) == sorted(f"key:{n}" for n in range(200))
        assert client.dbsize() == 200
        assert keyspace_lines(client)["db4"] == (200, 0)
    finally:
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        client.execute_command("FLUSHDB")


def test_blocking_pop_wakes_in_its_database(target):
    waiter = connect(target, 7)
    result = {}

    def pop():
        result["value"] = waiter.blpop("queue", timeout=REPLY_SECONDS)

    thread = threading.Thread(target=pop)
    thread.start()
    time.sleep(0.3)
    connect(target).rpush("queue", "wrong database")
    time.sleep(0.3)
    assert thread.is_alive(), "a push to database 0 woke a client blocked in database 7"
    connect(target, 7).rpush("queue", "right")
    thread.join(REPLY_SECONDS + 1)
    assert result["value"] == ("queue", "right")
    assert connect(target).lrange("queue", 0, -1) == ["wrong database"]


def test_keyspace_notifications_name_the_database(target):
    admin = connect(target)
    admin.config_set("notify-keyspace-events", "KEA")
    try:
        subscriber = connect(target).pubsub()
        subscriber.psubscribe("__key*@*__:*")
        deadline = time.monotonic() + REPLY_SECONDS
        while subscriber.get_message(timeout=POLL_SECONDS) is None and time.monotonic() < deadline:
            pass  # the psubscribe confirmation
        four = connect(target, 4)
        four.set("n", "v")
        four.move("n", 9)
        seen = []
        deadline = time.monotonic() + 2
        while len(seen) < 6 and time.monotonic() < deadline:
            message = subscriber.get_message(timeout=POLL_SECONDS)
            if message and message["type"] == "pmessage":
                seen.append((message["channel"], message["data"]))
        assert seen == [("__keyspace@4__:n", "set"), ("__keyevent@4__:set", "n"),
                        ("__keyspace@4__:n", "move_from"), ("__keyevent@4__:move_from", "n"),
                        ("__keyspace@9__:n", "move_to"), ("__keyevent@9__:move_to", "n")]
        subscriber.close()
    finally:
        admin.config_set("notify-keyspace-events", "")


def test_a_url_with_a_database_number(target):
    client = redis.Redis.from_url(f"redis://127.0.0.1:{target.port}/9", socket_timeout=REPLY_SECONDS, decode_responses=True)
    with client.lock("resource", timeout=5):
        client.incr("counter")
    assert client.get("counter") == "1"
    assert connect(target).get("counter") is None
    client.close()


# ---------------------------------------------------------------------------------------
# Trestle only


def fill(server):
    written = {}
    for database in (0, 1, 9, 15):
        client = connect(server, database)
        for index in range(50):
            client.set(f"key:{index}", f"{database}:{index}")
        client.rpush("list", *[f"{database}:{index}" for index in range(10)])
        written[database] = client.dbsize()
        client.close()
    return written


def check(server, written):
    for database, count in written.items():
        client = connect(server, database)
        assert client.dbsize() == count, f"database {database}"
        assert client.get("key:7") == f"{database}:7"
        assert client.lrange("list", 0, 1) == [f"{database}:0", f"{database}:1"]
        client.close()


def test_every_database_survives_sigkill_and_snapshots(server):
    written = fill(server)
    server.crash_restart()
    check(server, written)
    connect(server).bgsave()
    time.sleep(0.5)
    connect(server, 12).set("after snapshot", "yes")
    written[12] = 1
    server.crash_restart()
    check(server, {database: count for database, count in written.items() if database != 12})
    assert connect(server, 12).get("after snapshot") == "yes"
    server.restart()
    assert connect(server, 9).dbsize() == written[9]


def test_active_expiry_in_every_database(server):
    for database in (0, 4, 15):
        client = connect(server, database)
        for index in range(30):
            client.set(f"short:{index}", "v", px=100)
        client.set("long", "v")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(connect(server, d).dbsize() > 1 for d in (0, 4, 15)):
        time.sleep(0.1)
    assert [connect(server, d).dbsize() for d in (0, 4, 15)] == [1, 1, 1], "expired keys were reclaimed without access"


def test_databases_flag(server_factory):
    server = server_factory("--databases", "2")
    client = connect(server)
    assert client.config_get("databases") == {"databases": "2"}
    client.execute_command("SELECT", 1)
    with pytest.raises(redis.ResponseError, match="^DB index is out of range$"):
        client.execute_command("SELECT", 2)
