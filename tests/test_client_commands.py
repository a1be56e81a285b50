"""CLIENT REPLY, CLIENT KILL filters and CLIENT LIST's idle time, run with the same bodies
against a real redis-server and against Trestle (found missing or wrong by redis-py's own
test suite: CLIENT REPLY was unknown, CLIENT KILL USER killed nobody, a killed client stayed
in CLIENT LIST, and a client sending only keyed commands looked idle)."""

import re
import socket
import time

import pytest
import redis

from resp import RawConnection, encode_command, read_until_quiet

pytestmark = pytest.mark.timeout(60)

REPLY_SECONDS = 5


def replies_to(port, *commands):
    """Sends `commands` in one write, then reads every reply that arrives within a moment."""
    with socket.create_connection(("127.0.0.1", port), timeout=REPLY_SECONDS) as sock:
        sock.sendall(b"".join(encode_command(*command) for command in commands))
        return read_until_quiet(sock, 0.5)[0]


def test_client_reply_off_on_and_skip(target):
    assert replies_to(target.port, ("CLIENT", "REPLY", "OFF"), ("SET", "a", "1"), ("INCR", "a"),
                      ("CLIENT", "REPLY", "ON"), ("GET", "a")) == b"+OK\r\n$1\r\n2\r\n"
    assert replies_to(target.port, ("CLIENT", "REPLY", "SKIP"), ("SET", "b", "2"), ("GET", "b")) == b"$1\r\n2\r\n"
    assert replies_to(target.port, ("CLIENT", "REPLY", "MAYBE"), ("PING",)) == b"-ERR syntax error\r\n+PONG\r\n"
    # Pub/sub confirmations are pushes: CLIENT REPLY OFF does not silence them.
    assert replies_to(target.port, ("CLIENT", "REPLY", "OFF"), ("SUBSCRIBE", "ch"), ("PSUBSCRIBE", "c*")) == (
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n")


def test_client_kill_by_user_and_the_list_after_it(target):
    admin = target.client(decode_responses=True)
    admin.acl_setuser("victim", enabled=True, nopass=True, commands=["+@all"], keys=["*"])
    try:
        victim = redis.Redis(host="127.0.0.1", port=target.port, username="victim", password="any",
                             socket_timeout=REPLY_SECONDS, single_connection_client=True)
        victim.ping()
        assert admin.client_kill_filter(user="victim") == 1
        assert all(entry["user"] != "victim" for entry in admin.client_list())
        with pytest.raises(redis.ResponseError, match="^No such user 'nobody-by-that-name'$"):
            admin.client_kill_filter(user="nobody-by-that-name")
        victim.close()
    finally:
        admin.acl_deluser("victim")


def test_a_client_sending_keyed_commands_is_not_idle(target):
    busy = RawConnection(target.port)
    busy.call("CLIENT", "SETNAME", "busy")
    deadline = time.monotonic() + 2.2
    while time.monotonic() < deadline:
        busy.call("GET", "k")
        time.sleep(0.05)
    listed = [entry for entry in target.client(decode_responses=True).client_list() if entry["name"] == "busy"]
    assert len(listed) == 1 and int(listed[0]["idle"]) <= 1 and int(listed[0]["age"]) >= 2
    busy.close()


def test_client_kill_maxage(server):
    """Redis 7.4's filter (the reference here is 7.0): connections older than MAXAGE seconds."""
    old = RawConnection(server.port)
    old.call("CLIENT", "SETNAME", "old")
    time.sleep(1.2)
    young = RawConnection(server.port)
    young.call("CLIENT", "SETNAME", "young")
    admin = server.client(decode_responses=True)
    assert admin.client_kill_filter(maxage=1, skipme=True) == 1
    names = {entry["name"] for entry in admin.client_list()}
    assert "old" not in names and "young" in names
    young.close()


def test_config_set_timeout_disconnects_idle_clients_but_not_subscribers(target):
    admin = target.client(decode_responses=True)
    idle = RawConnection(target.port)
    idle.call("CLIENT", "SETNAME", "idle")
    subscriber = RawConnection(target.port)
    subscriber.call("SUBSCRIBE", "news")
    assert admin.config_set("timeout", 1)
    try:
        assert admin.config_get("timeout") == {"timeout": "1"}
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and any(entry["name"] == "idle" for entry in admin.client_list()):
            admin.ping()  # the admin itself stays active
            time.sleep(0.2)
        clients = admin.client_list()
        assert not any(entry["name"] == "idle" for entry in clients), "an idle client outlived the timeout"
        assert any(int(entry["sub"]) == 1 for entry in clients), "a subscriber was disconnected"
    finally:
        admin.config_set("timeout", 0)
        idle.close()
        subscriber.close()


def test_client_list_flags_follow_the_clients_state(target):
    """CLIENT LIST's flags in Redis's order (Redis's unit/type/list waits for `flags=b`):
    N for none, x inside MULTI, P subscribed, b blocked, t tracking."""
    watcher = target.client(decode_responses=True)

    def flags(client_id):
        return re.search(r"flags=(\S+)", watcher.execute_command("CLIENT", "LIST", "ID", client_id)).group(1)

    with RawConnection(target.port, timeout=REPLY_SECONDS) as other:
        other_id = other.call("CLIENT", "ID")[1]
        assert flags(other_id) == "N"
        other.call("MULTI")
        assert flags(other_id) == "x"
        other.call("DISCARD")
        other.call("CLIENT", "TRACKING", "ON")
        assert flags(other_id) == "t"
        other.call("CLIENT", "TRACKING", "OFF")
        other.send(encode_command("BLPOP", "nothing-here", "0"))
        deadline = time.monotonic() + REPLY_SECONDS
        while flags(other_id) != "b" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert flags(other_id) == "b"
        assert watcher.execute_command("CLIENT", "UNBLOCK", other_id) == 1
        assert other.read_reply() == ("*", None)
        assert flags(other_id) == "N"
        other.call("SUBSCRIBE", "news")
        assert flags(other_id) == "P"
        other.call("CLIENT", "TRACKING", "ON")
        other.call("RESET")
        assert flags(other_id) == "N"  # RESET ends subscriptions and tracking (Redis's unit/other)


def test_client_setinfo_refuses_spaces_and_reset_keeps_the_library(server):
    """Redis 7.2's CLIENT SETINFO (unit/introspection; Debian's Redis 7.0 lacks it): names
    with spaces or newlines are refused and change nothing, an unknown attribute is an
    error, RESET keeps the library name and an empty value clears it."""
    client = server.client(decode_responses=True, single_connection_client=True)
    assert client.execute_command("CLIENT", "SETINFO", "lib-name", "redis.py") == "OK"
    assert client.execute_command("CLIENT", "SETINFO", "lib-ver", "1.2.3") == "OK"
    with pytest.raises(redis.ResponseError, match="cannot contain spaces"):
        client.execute_command("CLIENT", "SETINFO", "lib-name", "redis py")
    with pytest.raises(redis.ResponseError, match="newlines"):
        client.execute_command("CLIENT", "SETINFO", "lib-name", "redis.py\n")
    with pytest.raises(redis.ResponseError, match="Unrecognized option 'badger'"):
        client.execute_command("CLIENT", "SETINFO", "badger", "hamster")
    assert "lib-name=redis.py lib-ver=1.2.3" in client.execute_command("CLIENT", "INFO")
    client.execute_command("RESET")
    assert "lib-name=redis.py " in client.execute_command("CLIENT", "INFO")
    client.execute_command("CLIENT", "SETINFO", "lib-name", "")
    assert "lib-name= " in client.execute_command("CLIENT", "INFO")


def test_a_script_touches_what_it_reads_and_touch_from_it_overrides_no_touch(server):
    """A read-only script's lookups refresh keys' access times as the same commands would
    outside it; under CLIENT NO-TOUCH only TOUCH does, as Redis 7.2."""
    client = server.client()
    client.set("read", "v")
    client.set("kept", "v")
    client.set("touched", "v")
    time.sleep(2.1)
    assert client.object("idletime", "read") >= 2
    assert client.eval("return redis.call('get', KEYS[1])", 1, "read") == b"v"
    assert client.object("idletime", "read") == 0
    client.execute_command("CLIENT", "NO-TOUCH", "ON")
    assert client.eval("return redis.call('get', KEYS[1])", 1, "kept") == b"v"
    assert client.eval("return redis.call('touch', KEYS[1])", 1, "touched") == 1
    assert client.object("idletime", "kept") >= 2
    assert client.object("idletime", "touched") == 0
