"""Pub/sub against a real redis-server: the same conversation between three connections
(two listeners and a publisher) runs on both, in RESP2 and RESP3, and every byte each
connection receives after each step must match: confirmations, messages, pattern
messages, subscriber mode's refusals and PING, PUBSUB introspection, RESET."""

import re
import socket
import time

import pytest
import redis

from resp import RawConnection, encode_command, read_all_available

STEP_WAIT_SECONDS = 0.06  # how long every connection is read after each step
# Most time one step may take on a slow machine (an EXEC waits for its fsync).
STEP_WAIT_SECONDS_MAX = 3.0

# (connection, command...): connections 0 and 2 listen, 1 publishes.
CONVERSATION = [
    (0, "SUBSCRIBE", "news", "sports"),
    (2, "PSUBSCRIBE", "n*"),
    (2, "PSUBSCRIBE", "s?orts", "n*"),
    (1, "PUBLISH", "news", "hello"),
    (1, "PUBLISH", "sports", "goal"),
    (1, "PUBLISH", "other", "nobody"),
    (1, "PUBLISH", "nothing", "pattern only"),
    (1, "MULTI"),
    (1, "SET", "k", "v"),
    (1, "PUBLISH", "news", "in a transaction"),
    (1, "EXEC"),
    (0, "GET", "x"),
    (0, "PING"),
    (0, "PING", "hi"),
    (0, "SUBSCRIBE", "news"),
    (1, "PUBSUB", "CHANNELS", "n*"),
    (1, "PUBSUB", "NUMSUB", "news", "sports", "none"),
    (1, "PUBSUB", "NUMPAT"),
    (1, "PUBSUB", "NUMSUB"),
    (1, "PUBSUB", "SHARDCHANNELS"),
    (1, "PUBSUB", "BOGUS"),
    (1, "PUBSUB", "NUMPAT", "extra"),
    (0, "UNSUBSCRIBE", "news"),
    (1, "PUBLISH", "news", "after unsubscribe"),
    (0, "UNSUBSCRIBE"),
    (0, "UNSUBSCRIBE"),
    (0, "GET", "x"),
    (2, "PUNSUBSCRIBE", "n*"),
    (2, "PUNSUBSCRIBE"),
    (2, "PUNSUBSCRIBE", "never"),
    (0, "SSUBSCRIBE", "{s}a", "{s}b"),
    (1, "SPUBLISH", "{s}a", "sharded"),
    (1, "PUBLISH", "{s}a", "not sharded"),
    (1, "PUBSUB", "SHARDNUMSUB", "{s}a", "{s}c"),
    (0, "SUNSUBSCRIBE", "{s}a"),
    (0, "SUNSUBSCRIBE"),
    (0, "SUBSCRIBE", "reset-me"),
    (0, "RESET"),
    (1, "PUBLISH", "reset-me", "gone"),
    (1, "SUBSCRIBE"),
    (1, "PUBLISH", "only-two"),
    # Pub/sub inside a transaction runs at EXEC, in order, its replies in EXEC's.
    (1, "MULTI"),
    (1, "SUBSCRIBE", "tx"),
    (1, "PUBSUB", "NUMSUB", "tx"),
    (1, "UNSUBSCRIBE", "tx"),
    (1, "EXEC"),
    (1, "PUBLISH", "tx", "nobody left"),
]


def converse(port, protocol, expected=None):
    """Runs CONVERSATION; returns (step, bytes each connection received) per step. With
    `expected` (redis-server's transcript), each step waits (bounded) until every
    connection has received as many bytes as redis-server sent it, so a slow machine
    does not shift replies into the next step."""
    connections = [RawConnection(port) for _ in range(3)]
    try:
        for connection in connections:
            if protocol == 3:
                connection.call("HELLO", "3")
            connection.read_available(wait=0.05)
        transcript = []
        for step, (index, *command) in enumerate(CONVERSATION):
            connections[index].send(encode_command(*command))
            received = read_all_available(connections, STEP_WAIT_SECONDS)
            if expected is not None:
                deadline = time.monotonic() + STEP_WAIT_SECONDS_MAX
                wanted = [len(data) for data in expected[step][1]]
                while time.monotonic() < deadline and any(len(got) < want for got, want in zip(received, wanted)):
                    received = [got + more for got, more in zip(received, read_all_available(connections, 0.02))]
            transcript.append((" ".join(command), received))
        return transcript
    finally:
        for connection in connections:
            connection.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_pubsub_conversation_matches_redis(protocol, server, redis_reference):
    theirs = converse(redis_reference.port, protocol)
    mine = converse(server.port, protocol, expected=theirs)
    differences = [f"  after {step!r}:\n    trestle {got!r}\n    redis   {want!r}"
                   for (step, got), (_, want) in zip(mine, theirs) if got != want]
    assert not differences, "pub/sub differs from redis-server:\n" + "\n".join(differences)


def test_a_subscriber_that_never_reads_is_disconnected_not_the_server(server):
    """Redis's pubsub output-buffer hard limit: a listener that stops reading is dropped
    once 32 MiB of messages piled up; the publisher and the server go on."""
    listener = RawConnection(server.port)
    listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.call("SUBSCRIBE", "flood")
    publisher = server.client()
    payload = "x" * 65536
    delivered = []
    for _ in range(1200):  # about 78 MiB offered
        delivered.append(publisher.publish("flood", payload))
    assert delivered[0] == 1
    assert delivered[-1] == 0, "the stalled listener was never disconnected"
    assert publisher.ping()


def test_monitor_shows_every_request_with_redis_quoting(server):
    watcher = RawConnection(server.port)
    assert watcher.call("MONITOR") == ("+", b"OK")
    client = server.client()
    client.set("a b", 'x"y\nz\x01')
    client.get("a b")
    time.sleep(0.3)
    lines = [line for line in watcher.read_available(wait=0.5).split(b"\r\n") if line]
    watcher.close()
    assert len(lines) >= 2, lines
    assert re.fullmatch(rb'\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "a b" "x\\"y\\nz\\x01"', lines[-2]), lines
    assert re.fullmatch(rb'\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "GET" "a b"', lines[-1]), lines


def test_monitor_shows_the_commands_scripts_call(server):
    """As Redis: the script's request, then each command it called, from `[0 lua]` (a
    writing script, run from the log, and a read-only one, run as a trial, alike)."""
    watcher = RawConnection(server.port)
    assert watcher.call("MONITOR") == ("+", b"OK")
    client = server.client()
    client.ping()
    time.sleep(0.3)
    watcher.read_available(wait=0.2)  # the client's handshake and PING
    client.eval("redis.call('set', KEYS[1], ARGV[1])", 1, "foo", "bar")
    client.eval("return redis.call('get', KEYS[1])", 1, "foo")
    time.sleep(0.3)
    lines = [line for line in watcher.read_available(wait=0.5).split(b"\r\n") if line]
    watcher.close()
    assert len(lines) == 4, lines
    assert re.fullmatch(rb'\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "EVAL" .*', lines[0]), lines
    assert re.fullmatch(rb'\+\d+\.\d{6} \[0 lua\] "set" "foo" "bar"', lines[1]), lines
    assert re.fullmatch(rb'\+\d+\.\d{6} \[0 lua\] "get" "foo"', lines[3]), lines


def test_monitor_never_shows_passwords(server):
    """As Redis 7's MONITOR: AUTH's, HELLO's and MIGRATE's secrets read "(redacted)"."""
    watcher = RawConnection(server.port)
    assert watcher.call("MONITOR") == ("+", b"OK")
    client = RawConnection(server.port)
    client.call("AUTH", "not-real")
    client.call("HELLO", "2", "AUTH", "someone", "hunter2")
    client.call("MIGRATE", "127.0.0.1", "1", "key", "9", "100", "AUTH2", "someone", "hunter2")
    time.sleep(0.3)
    shown = watcher.read_available(wait=0.5)
    watcher.close()
    client.close()
    assert b"hunter2" not in shown and b"not-real" not in shown
    assert b'"AUTH" "(redacted)"' in shown
    assert b'"HELLO" "2" "AUTH" "(redacted)" "(redacted)"' in shown
    assert b'"AUTH2" "(redacted)" "(redacted)"' in shown


def test_client_list_names_the_subcommand(server):
    client = server.client(decode_responses=True)
    assert " cmd=client|list " in client.execute_command("CLIENT", "LIST")
    assert " cmd=client|info " in client.execute_command("CLIENT", "INFO")


def test_scripts_publish_once_after_their_writes(server):
    """PUBLISH from EVAL, a keyless script and FCALL reaches subscribers once (EVAL_RO may not
    publish),
    after the script's writes are visible (the message can be acted on at once)."""
    client = server.client(decode_responses=True)
    listener = client.pubsub()
    listener.subscribe("events")
    assert listener.get_message(timeout=2)["type"] == "subscribe"
    reader = server.client(decode_responses=True)

    def next_message():
        message = listener.get_message(timeout=5)
        assert message is not None, "no message from the script"
        return message["data"]

    client.eval("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('PUBLISH', 'events', ARGV[1])", 1, "job", "first")
    assert next_message() == "first"
    assert reader.get("job") == "first"
    # As Redis 7: PUBLISH is may_replicate, which a read-only script may not call.
    with pytest.raises(redis.exceptions.ResponseError, match="Write commands are not allowed from read-only scripts"):
        client.eval_ro("return redis.call('PUBLISH', 'events', redis.call('GET', KEYS[1]))", 1, "job")
    client.eval("return redis.call('PUBLISH', 'events', 'keyless')", 0)
    assert next_message() == "keyless"
    client.function_load("#!lua name=notes\nredis.register_function('note', function(keys, args) "
                         "redis.call('SET', keys[1], args[1]) redis.call('PUBLISH', 'events', args[1]) end)", replace=True)
    client.fcall("note", 1, "job", "second")
    assert next_message() == "second"
    assert reader.get("job") == "second"
    assert listener.get_message(timeout=0.5) is None, "a script's message was delivered twice"


def test_pushes_a_client_causes_itself_follow_its_reply(server):
    """Redis 7.2+ (unit/pubsub 'publish to self inside multi|script', unit/tracking
    'invalidation message is not interleaved with transaction response'): on RESP3 a
    message a client publishes to itself, and an invalidation its own write causes, arrive
    after the reply of the command that caused them, never inside an EXEC's array.
    (Debian's redis-server 7.0 still interleaves them, so this is not a differential test.)"""
    message = lambda text: (">", [("$", b"message"), ("$", b"foo"), ("$", text)])
    with RawConnection(server.port, timeout=5) as client:
        client.call("HELLO", "3")
        assert client.call("SUBSCRIBE", "foo")[0] == ">"
        for command in (("MULTI",), ("PING", "abc"), ("PUBLISH", "foo", "bar"), ("SET", "k", "v"),
                        ("PUBLISH", "foo", "vaz")):
            client.call(*command)
        assert client.call("EXEC") == ("*", [("$", b"abc"), (":", 1), ("+", b"OK"), (":", 1)])
        assert [client.read_reply(), client.read_reply()] == [message(b"bar"), message(b"vaz")]
        assert client.call("EVAL", "redis.call('PUBLISH', 'foo', 'lua'); return 'bla'", "0") == ("$", b"bla")
        assert client.read_reply() == message(b"lua")
        assert client.call("PUBLISH", "foo", "solo") == (":", 1)
        assert client.read_reply() == message(b"solo")
    with RawConnection(server.port, timeout=5) as tracker:
        tracker.call("HELLO", "3")
        tracker.call("CLIENT", "TRACKING", "on")
        tracker.call("SET", "a", "1")
        assert tracker.call("GET", "a") == ("$", b"1")
        tracker.call("MULTI")
        tracker.call("INCR", "a")
        tracker.call("INCR", "a")
        assert tracker.call("EXEC") == ("*", [(":", 2), (":", 3)])
        assert tracker.read_reply() == (">", [("$", b"invalidate"), ("*", [("$", b"a")])])
