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
