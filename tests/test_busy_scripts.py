"""Busy scripts as Redis 7 handles them, checked against a real redis-server and against
Trestle with the same test bodies.

A script (EVAL, EVAL_RO, EVALSHA, FCALL) that runs longer than `busy-reply-threshold`
milliseconds (old name `lua-time-limit`, default 5000) does not block other clients
forever: they get `-BUSY Redis is busy running a script. You can only call SCRIPT KILL or
SHUTDOWN NOSAVE.` (FUNCTION KILL for a function) for every command but the kill and
SHUTDOWN NOSAVE. SCRIPT KILL stops an EVAL that has not written yet and FUNCTION KILL a
function (each refuses the other kind with the BUSY text); the killed script's client gets
an error saying it was killed by user and keeps its connection; with nothing running both
kills answer NOTBUSY. A script that wrote cannot be killed (UNKILLABLE): only SHUTDOWN NOSAVE
ends it, and plain SHUTDOWN is refused with BUSY. Below the threshold a long script is not
interrupted and returns its result.

Every test is parametrized over the two servers ("redis", "trestle"). The redis-server is
the session's shared `redis_reference`, so each test kills what it started and the fixture
kills whatever a failed test left running (restarting the process as a last resort).
SHUTDOWN tests use their own private processes. Every wait is bounded: socket timeouts,
polls with deadlines, and a per-test wall-clock limit.
"""

import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from conftest import RedisReference

pytestmark = pytest.mark.timeout(30)  # a few seconds each; room for a hung server's teardown

BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
NOTBUSY = "NOTBUSY No scripts in execution right now."
UNKILLABLE = ("UNKILLABLE Sorry the script already executed write commands against the dataset. "
              "You can either wait the script termination or kill the server in a hard way using "
              "the SHUTDOWN NOSAVE command.")
KILLED = "killed by user"

SPIN = "while true do end"
READ_THEN_SPIN = "redis.call('get', KEYS[1]) while true do end"
WRITE_THEN_SPIN = "redis.call('set', KEYS[1], 'written') while true do end"
SPIN_LIBRARY = "#!lua name=busylib\nredis.register_function('spin', function(keys, args) while true do end end)"
# Long but finite, well under a second in Lua 5.1 (and far below Trestle's instruction budget).
COUNT_THEN_READ = "local n = 0 for i = 1, 5000000 do n = n + 1 end return {n, redis.call('get', KEYS[1])}"
COUNT_THEN_WRITE = "local n = 0 for i = 1, 3000000 do n = n + 1 end redis.call('set', KEYS[1], 'after') return n"

THRESHOLD_MILLISECONDS = 100
DEFAULT_THRESHOLD_MILLISECONDS = 5000
SETTLE_SECONDS = 0.4  # well past the threshold: the script is busy by then
RECOVERY_SECONDS = 2.0  # after a kill, PING answers PONG again within this
REPLY_SECONDS = 5  # socket timeout of every client: no read waits longer
EXIT_SECONDS = 5  # after SHUTDOWN NOSAVE the process is gone within this
POLL_SECONDS = 0.02


class Target:
    """One server under test: its name, port and process, and the connections opened on it
    (closed at teardown)."""

    def __init__(self, name, port, process):
        self.name = name
        self.port = port
        self.process = process
        self.opened = []

    def client(self):
        """A RESP2 client decoding to str that never retries: one command, one reply."""
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=REPLY_SECONDS, protocol=2,
                             decode_responses=True, retry=Retry(NoBackoff(), 0))
        self.opened.append(client)
        return client

    def connection(self):
        """A raw connection, for a command whose reply is read later."""
        connection = redis.Connection(host="127.0.0.1", port=self.port, socket_timeout=REPLY_SECONDS, protocol=2,
                                      decode_responses=True, retry=Retry(NoBackoff(), 0))
        self.opened.append(connection)
        return connection

    def close(self):
        for opened in self.opened:
            try:
                if isinstance(opened, redis.Redis):
                    opened.close()
                else:
                    opened.disconnect()
            except redis.RedisError:
                pass


def reset(client):
    """The state every test starts from: empty, no functions, the default threshold."""
    client.config_set("busy-reply-threshold", DEFAULT_THRESHOLD_MILLISECONDS)
    client.flushall()
    client.function_flush()
    client.script_flush()


def kill_anything_running(client):
    """Kills scripts and functions until PING answers; True if the server is usable."""
    deadline = time.monotonic() + 2 * RECOVERY_SECONDS
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return True
        except redis.ResponseError:
            for kill in (("SCRIPT", "KILL"), ("FUNCTION", "KILL")):
                try:
                    client.execute_command(*kill)
                except redis.ResponseError:
                    pass
        except redis.RedisError:
            return False
        time.sleep(POLL_SECONDS)
    return False


@pytest.fixture(params=["redis", "trestle"])
def target(request):
    """The shared redis-server or a fresh trestle server, reset; the shared one is left usable."""
    if request.param == "redis":
        reference = request.getfixturevalue("redis_reference")
        server = Target("redis", reference.port, reference.process)
    else:
        trestle = request.getfixturevalue("server")
        server = Target("trestle", trestle.port, trestle.process)
    reset(server.client())
    yield server
    server.close()
    if request.param == "redis":
        cleaner = redis.Redis(host="127.0.0.1", port=reference.port, socket_timeout=REPLY_SECONDS,
                              decode_responses=True, retry=Retry(NoBackoff(), 0))
        if not kill_anything_running(cleaner):  # an unkillable script, or a hung server
            reference.process.kill()
            reference.process.wait(timeout=EXIT_SECONDS)
            reference.start()  # same directory, new port; the fixture object follows
            cleaner = reference.client(decode_responses=True)
        reset(cleaner)
        cleaner.close()


@pytest.fixture(params=["redis", "trestle"])
def private_target(request):
    """A redis-server or trestle server of this test alone, for SHUTDOWN; stopped at teardown."""
    if request.param == "redis":
        reference = RedisReference().start()
        server = Target("redis", reference.port, reference.process)
    else:
        trestle = request.getfixturevalue("server_factory")()
        server = Target("trestle", trestle.port, trestle.process)
    yield server
    server.close()
    if request.param == "redis":
        reference.stop()


def start_busy(target, *command):
    """Sends `command` on a new connection without reading the reply, then waits until the
    script is past the threshold; returns the connection."""
    connection = target.connection()
    connection.send_command(*command)
    time.sleep(SETTLE_SECONDS)
    return connection


def error_of(client, *command):
    """The text of the error `command` must answer."""
    try:
        reply = client.execute_command(*command)
    except redis.ResponseError as error:
        return str(error)
    except redis.ConnectionError as error:
        pytest.fail(f"{' '.join(map(str, command))} closed the connection ({error}), not an error reply")
    pytest.fail(f"{' '.join(map(str, command))} answered {reply!r}, not an error")


def pending_reply(connection):
    """The reply of the command sent earlier on `connection`: the value, or the error text."""
    try:
        return connection.read_response()
    except redis.ResponseError as error:
        return f"error: {error}"


def wait_for_pong(client):
    """PING until it answers PONG (a killed script may take a moment to stop)."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    last = None
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return
        except redis.ResponseError as error:
            last = str(error)
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"PING did not answer PONG within {RECOVERY_SECONDS} s; last error: {last}")


def assert_killed_and_usable(connection):
    """The killed script's client got the kill error and can go on with its connection."""
    reply = pending_reply(connection)
    assert isinstance(reply, str) and KILLED in reply, f"killed script's reply: {reply!r}"
    connection.send_command("PING")
    assert connection.read_response() == "PONG"


def kill_and_recover(client, busy, kind="SCRIPT"):
    """`kind` KILL answers OK, the script's client gets the kill error and stays usable,
    and the server answers PING again."""
    assert client.execute_command(kind, "KILL") == "OK"
    assert_killed_and_usable(busy)
    wait_for_pong(client)


def spin_command(client, how):
    """An endless script, run by EVAL, EVAL_RO or EVALSHA of a loaded script."""
    if how == "evalsha":
        return ("EVALSHA", client.script_load(SPIN), 0)
    return (how.upper(), SPIN, 0)


@pytest.mark.parametrize("how", ["eval", "eval_ro", "evalsha"])
def test_busy_script_answers_busy_until_script_kill(target, how):
    b = target.client()
    b.config_set("busy-reply-threshold", THRESHOLD_MILLISECONDS)
    a = start_busy(target, *spin_command(b, how))
    assert error_of(b, "PING").startswith(BUSY_EVAL)
    kill_and_recover(b, a)


def test_reading_script_is_killed_and_leaves_the_key_alone(target):
    b = target.client()
    b.set("k", "before")
    b.config_set("busy-reply-threshold", THRESHOLD_MILLISECONDS)
    a = start_busy(target, "EVAL", READ_THEN_SPIN, 1, "k")
    assert error_of(b, "GET", "k").startswith(BUSY_EVAL)
    kill_and_recover(b, a)
    assert b.get("k") == "before"


def test_kill_with_nothing_running_answers_notbusy(target):
    b = target.client()
    assert error_of(b, "SCRIPT", "KILL") == NOTBUSY
    assert error_of(b, "FUNCTION", "KILL") == NOTBUSY


def test_busy_function_needs_function_kill(target):
    b = target.client()
    assert b.function_load(SPIN_LIBRARY, replace=True) == "busylib"
    b.config_set("busy-reply-threshold", THRESHOLD_MILLISECONDS)
    a = start_busy(target, "FCALL", "spin", 0)
    assert error_of(b, "PING").startswith(BUSY_FUNCTION)
    assert error_of(b, "SCRIPT", "KILL").startswith(BUSY_FUNCTION)  # SCRIPT KILL does not stop a function
    stats = b.execute_command("FUNCTION", "STATS")  # allowed while busy; names what runs
    running = dict(zip(stats[1][::2], stats[1][1::2]))
    assert stats[0] == "running_script" and running["name"] == "spin" and running["command"] == ["FCALL", "spin", "0"]
    assert running["duration_ms"] >= THRESHOLD_MILLISECONDS
    kill_and_recover(b, a, kind="FUNCTION")
    assert b.function_delete("busylib") is True  # redis-py maps OK to True


def test_busy_eval_needs_script_kill(target):
    b = target.client()
    b.config_set("busy-reply-threshold", THRESHOLD_MILLISECONDS)
    a = start_busy(target, "EVAL", SPIN, 0)
    assert error_of(b, "FUNCTION", "KILL").startswith(BUSY_EVAL)  # FUNCTION KILL does not stop an EVAL
    kill_and_recover(b, a)


def test_writes_while_busy_are_refused_and_have_no_effect(target):
    b = target.client()
    b.set("k", "before")
    b.config_set("busy-reply-threshold", THRESHOLD_MILLISECONDS)
    a = start_busy(target, "EVAL", SPIN, 0)
    assert error_of(b, "SET", "k", "v").startswith(BUSY_EVAL)
    assert error_of(b, "SET", "other", "v").startswith(BUSY_EVAL)
    kill_and_recover(b, a)
    assert b.get("k") == "before"
    assert b.exists("other") == 0


def test_a_transaction_meeting_a_busy_script_is_discarded(target):
    """A command queued while a script is busy is refused and fails the transaction; an
    EXEC refused while busy ends it with EXECABORT naming BUSY; nothing of it runs."""
    b = target.client()
    b.set("xx", "1")
    b.config_set("busy-reply-threshold", THRESHOLD_MILLISECONDS)
    queued = target.connection()
    queued.send_command("MULTI")
    assert queued.read_response() == "OK"
    queued.send_command("INCR", "xx")
    assert queued.read_response() == "QUEUED"
    a = start_busy(target, "EVAL", SPIN, 0)
    queued.send_command("INCR", "xx")
    assert pending_reply(queued).startswith("error: " + BUSY_EVAL)
    queued.send_command("EXEC")
    reply = pending_reply(queued)
    # redis-py takes the EXECABORT code off (ExecAbortError); the text names BUSY.
    assert reply.startswith("error: Transaction discarded because of: " + BUSY_EVAL), reply
    kill_and_recover(b, a)
    assert b.get("xx") == "1"
    queued.send_command("PING", "asdf")
    assert queued.read_response() == "asdf"  # no longer in MULTI


def test_threshold_is_configurable_under_both_names(target):
    b = target.client()
    assert b.config_get("busy-reply-threshold") == {"busy-reply-threshold": str(DEFAULT_THRESHOLD_MILLISECONDS)}
    assert b.config_get("lua-time-limit") == {"lua-time-limit": str(DEFAULT_THRESHOLD_MILLISECONDS)}
    assert b.config_set("lua-time-limit", 250)
    assert b.config_get("busy-reply-threshold") == {"busy-reply-threshold": "250"}
    assert b.config_set("busy-reply-threshold", THRESHOLD_MILLISECONDS)
    assert b.config_get("lua-time-limit") == {"lua-time-limit": str(THRESHOLD_MILLISECONDS)}


def test_long_scripts_below_the_threshold_finish_with_their_result(target):
    """Under the default threshold a script of a fraction of a second is not interrupted:
    other clients wait for it (never BUSY) and its reads and writes are all there."""
    b = target.client()
    b.config_set("busy-reply-threshold", DEFAULT_THRESHOLD_MILLISECONDS)
    b.set("k", "value")
    a = target.connection()
    a.send_command("EVAL", COUNT_THEN_READ, 1, "k")
    assert b.ping() is True
    assert pending_reply(a) == [5000000, "value"]
    a.send_command("EVAL", COUNT_THEN_WRITE, 1, "k")
    assert b.ping() is True
    assert pending_reply(a) == 3000000
    assert b.get("k") == "after"
    a.send_command("PING")
    assert a.read_response() == "PONG"


def assert_exits_on_shutdown_nosave(target, busy):
    """SHUTDOWN NOSAVE: the asking client sees its connection close, the script's client
    sees its connection close (Redis) or an error before it does (Trestle answers what is
    in flight when it stops), and the process exits."""
    shutdown = target.connection()
    shutdown.send_command("SHUTDOWN", "NOSAVE")
    for connection, what in ((shutdown, "SHUTDOWN NOSAVE"), (busy, "the busy script's command")):
        try:
            reply = pending_reply(connection)
        except redis.ConnectionError:
            continue
        if connection is busy and isinstance(reply, str) and reply.startswith("error:"):
            continue
        pytest.fail(f"{what} answered {reply!r}; its connection should have closed")
    target.process.wait(timeout=EXIT_SECONDS)


def test_shutdown_while_busy_needs_nosave(private_target):
    b = private_target.client()
    b.config_set("busy-reply-threshold", THRESHOLD_MILLISECONDS)
    a = start_busy(private_target, "EVAL", SPIN, 0)
    assert error_of(b, "SHUTDOWN").startswith(BUSY_EVAL)
    assert private_target.process.poll() is None, "plain SHUTDOWN stopped a busy server"
    assert_exits_on_shutdown_nosave(private_target, a)


def test_script_that_wrote_is_unkillable_until_shutdown_nosave(private_target):
    b = private_target.client()
    b.config_set("busy-reply-threshold", THRESHOLD_MILLISECONDS)
    a = start_busy(private_target, "EVAL", WRITE_THEN_SPIN, 1, "k")
    assert error_of(b, "PING").startswith(BUSY_EVAL)
    assert error_of(b, "SCRIPT", "KILL") == UNKILLABLE
    assert error_of(b, "FUNCTION", "KILL") == UNKILLABLE
    assert error_of(b, "SHUTDOWN").startswith(BUSY_EVAL)
    assert_exits_on_shutdown_nosave(private_target, a)


# Reads its key, runs long (past Trestle's 50 ms slice, so it reruns off the node's thread),
# then writes what it read with a "!" and returns what it read: about 0.1 s, and 80
# million VM instructions, under Trestle's budget of 100 million when it runs in the log.
READ_LONG_THEN_APPEND = ("local v = redis.call('get', KEYS[1]) local n = 0 for i = 1, 40000000 do n = n + 1 end "
                         "redis.call('set', KEYS[1], v .. '!') return v")


def test_a_write_during_a_long_script_is_ordered_with_it(target):
    """Redis holds other clients while a script runs; Trestle serves them, and a script
    that wrote has its effects applied only if the keys it touched did not change since it
    read them (else it runs again, after the write). Either way the outcome is one of the
    two serial orders: never the script's stale read with its write applied after B's."""
    b = target.client()
    b.set("k", "orig")
    a = target.connection()
    a.send_command("EVAL", READ_LONG_THEN_APPEND, 1, "k")
    time.sleep(0.1)  # past Trestle's slice, before the script's end
    assert b.set("k", "changed") is True
    outcome = (pending_reply(a), b.get("k"))
    assert outcome in {("orig", "changed"), ("changed", "changed!")}, outcome


def test_a_long_script_that_wrote_is_durable_and_runs_once(server_factory):
    """Trestle only: a long script's effects enter the log as one entry (fsynced before
    the reply, as every write); after SIGKILL and restart they are there, applied once."""
    server = server_factory()
    client = server.client(decode_responses=True)
    client.set("k", "v")
    counter = ("local n = 0 for i = 1, 40000000 do n = n + 1 end "
               "redis.call('incr', KEYS[2]) redis.call('append', KEYS[1], '!') return redis.call('get', KEYS[1])")
    assert client.eval(counter, 2, "k", "runs") == "v!"
    assert client.eval(counter, 2, "k", "runs") == "v!!"  # known to write now: the log at once
    server.crash_restart()
    client = server.client(decode_responses=True)
    assert client.get("k") == "v!!"
    assert client.get("runs") == "2"


# Writes, then runs about a quarter of a second, and ends by itself.
WRITE_THEN_COUNT = "redis.call('incr', KEYS[1]) local n = 0 for i = 1, 80000000 do n = n + 1 end return n"


def test_a_long_script_that_writes_is_busy_every_time(target):
    """Each call of a long writing script makes the server busy (BUSY to others, UNKILLABLE
    once it wrote), the second as the first: Trestle keeps trying a script that outran its
    slice instead of remembering it as a writer for the log, where it could not be
    answered around."""
    b = target.client()
    b.config_set("busy-reply-threshold", 50)
    for call in (1, 2):
        a = target.connection()
        a.send_command("EVAL", WRITE_THEN_COUNT, 1, "calls")
        time.sleep(0.15)
        assert error_of(b, "PING").startswith(BUSY_EVAL), f"call {call}"
        assert error_of(b, "SCRIPT", "KILL") == UNKILLABLE, f"call {call}"
        assert pending_reply(a) == 80000000
        wait_for_pong(b)
        assert b.get("calls") == str(call)
