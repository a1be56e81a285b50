"""CLIENT PAUSE and UNPAUSE on a standalone server, after Redis's own pause tests: WRITE
holds writes and may-replicate commands (EVAL, PUBLISH, EXEC of a transaction with a
write) while reads go on; ALL holds everything; held requests run in order when the pause
ends (on UNPAUSE or at its time); a request with the wrong arity is answered at once."""

import threading
import time

import pytest
import redis


def deferred(client, *command):
    """Sends `command` on its own thread; returns (thread, result list)."""
    result = []

    def run():
        try:
            result.append(client.execute_command(*command))
        except redis.exceptions.RedisError as error:
            result.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_write_pause_holds_writes_and_lets_reads_through(server):
    admin = server.client(decode_responses=True)
    writer = server.client(decode_responses=True)
    admin.set("k", "before")
    assert admin.execute_command("CLIENT", "PAUSE", "60000", "WRITE") == "OK"
    held = [deferred(writer, "SET", "k", "after"), deferred(server.client(decode_responses=True), "EVAL_RO", "return 1", "0")]
    reader = server.client(decode_responses=True)
    assert reader.get("k") == "before", "reads go on under a WRITE pause"
    script = deferred(server.client(decode_responses=True), "EVAL", "return 1", "0")
    publish = deferred(server.client(decode_responses=True), "PUBLISH", "ch", "x")
    time.sleep(0.5)
    assert held[0][1] == [] and script[1] == [] and publish[1] == [], "writes and may-replicate commands wait"
    held[1][0].join(timeout=5)
    assert held[1][1] == [1], "EVAL_RO is not held"
    with pytest.raises(redis.exceptions.ResponseError, match="wrong number of arguments"):
        server.client().execute_command("SET", "k")
    assert admin.get("k") == "before"
    assert admin.execute_command("CLIENT", "UNPAUSE") == "OK"
    for thread, _ in (held[0], script, publish):
        thread.join(timeout=5)
    assert held[0][1] in (["OK"], [True]) and script[1] == [1] and publish[1] == [0]
    assert admin.get("k") == "after"


def test_a_transaction_with_a_write_waits_for_the_pause(server):
    admin = server.client(decode_responses=True)
    connection = server.client(decode_responses=True).connection_pool.get_connection("MULTI")
    connection.send_command("MULTI")
    assert connection.read_response() in (b"OK", "OK")
    connection.send_command("SET", "t", "1")
    assert connection.read_response() in (b"QUEUED", "QUEUED")
    admin.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
    connection.send_command("EXEC")
    time.sleep(0.3)
    assert not connection.can_read(timeout=0.2), "EXEC of a write waits"
    admin.execute_command("CLIENT", "UNPAUSE")
    assert connection.read_response() in ([b"OK"], ["OK"])
    assert admin.get("t") == "1"


def test_all_pause_holds_everything_until_its_time(server):
    admin = server.client(decode_responses=True)
    admin.execute_command("CLIENT", "PAUSE", "700", "ALL")
    started = time.monotonic()
    assert server.client().ping() is True
    assert time.monotonic() - started >= 0.5, "even PING waits under ALL"


def test_pause_arguments_are_checked_as_redis_checks_them(server):
    client = server.client(decode_responses=True)
    with pytest.raises(redis.exceptions.ResponseError, match="timeout is not an integer or out of range"):
        client.execute_command("CLIENT", "PAUSE", "abc")
    with pytest.raises(redis.exceptions.ResponseError, match="timeout is negative"):
        client.execute_command("CLIENT", "PAUSE", "-1")
    with pytest.raises(redis.exceptions.ResponseError, match="CLIENT PAUSE mode must be WRITE or ALL"):
        client.execute_command("CLIENT", "PAUSE", "10", "SOME")
    with pytest.raises(redis.exceptions.ResponseError, match="wrong number of arguments for 'client|unpause'"):
        client.execute_command("CLIENT", "UNPAUSE", "x")


def test_read_only_scripts_and_functions_are_not_held_and_paused_clients_count_as_blocked(server):
    """Redis's pause unit: a script whose shebang says no-writes (by EVAL or EVALSHA) and
    FCALL of a no-writes function only read; held clients show in blocked_clients."""
    admin = server.client(decode_responses=True)
    admin.execute_command("FUNCTION", "LOAD", "REPLACE",
                          "#!lua name=pauselib\nredis.register_function{function_name='ro', "
                          "callback=function() return 'hello' end, flags={'no-writes'}}")
    read_only = "#!lua flags=no-writes\nreturn 'read only'"
    sha = admin.script_load(read_only)
    admin.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
    try:
        reader = server.client(decode_responses=True)
        assert reader.eval(read_only, 0) == "read only"
        assert reader.evalsha(sha, 0) == "read only"
        assert reader.execute_command("FCALL", "ro", "0") == "hello"
        held = [deferred(server.client(decode_responses=True), "SET", "k", "v"),
                deferred(server.client(decode_responses=True), "EVAL", "#!lua\nreturn 1", "0")]
        deadline = time.time() + 5
        while admin.info("clients")["blocked_clients"] != 2:
            assert time.time() < deadline, "paused clients are not counted as blocked"
            time.sleep(0.05)
        with pytest.raises(redis.exceptions.ResponseError, match="Write commands are not allowed from read-only scripts"):
            reader.execute_command("EVAL_RO", "return redis.call('publish', 'ch', 'msg')", "0")
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    for thread, result in held:
        thread.join(timeout=5)
        assert result in (["OK"], [True], [1])
    assert admin.info("clients")["blocked_clients"] == 0


def test_a_pause_inside_a_transaction_starts_when_it_ends(server):
    admin = server.client(decode_responses=True)
    pipeline = admin.pipeline(transaction=True)
    pipeline.set("first", "1")
    pipeline.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
    pipeline.set("second", "2")
    try:
        assert pipeline.execute() == [True, "OK", True]
        thread, result = deferred(server.client(decode_responses=True), "SET", "third", "3")
        time.sleep(0.3)
        assert result == [], "the pause holds writes after the transaction"
        assert admin.mget("first", "second", "third") == ["1", "2", None]
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    thread.join(timeout=5)
    assert admin.get("third") == "3"


def test_keys_do_not_expire_under_a_write_pause_and_do_when_read_after_it(server):
    admin = server.client(decode_responses=True)
    expired_before = admin.info("stats")["expired_keys"]
    admin.set("soon", "x", px=50)
    admin.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
    try:
        time.sleep(0.4)
        assert admin.get("soon") is None, "logically expired"
        assert admin.info("stats")["expired_keys"] == expired_before, "but not removed while paused"
        assert admin.dbsize() == 1
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    assert admin.get("soon") is None
    assert admin.info("stats")["expired_keys"] == expired_before + 1, "the read removed it"


def test_randomkey_answers_an_expired_key_under_a_write_pause_and_removes_it_after(server):
    # Redis's "randomkey command will not cause the server to get into an infinite loop
    # during the client pause write": the expired key stays, and RANDOMKEY names it.
    admin = server.client(decode_responses=True)
    admin.flushall()
    admin.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    expired_before = admin.info("stats")["expired_keys"]
    try:
        admin.set("key", "value", px=30)
        admin.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
        time.sleep(0.1)
        assert admin.randomkey() == "key"
        assert admin.info("stats")["expired_keys"] == expired_before
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    # Without the pause, RANDOMKEY removes the expired keys it draws (as Redis, each a DEL).
    assert admin.randomkey() is None
    assert admin.info("stats")["expired_keys"] == expired_before + 1
    assert admin.dbsize() == 0
    admin.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
