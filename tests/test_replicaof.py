"""REPLICAOF: a standalone Trestle server follows a real redis-server, the way off Redis.

Trestle dials the master, loads its RDB file (every type, expiries, several databases,
function libraries) and applies its stream; the data must end equal to the master's
(compared key by key, as a Redis replica would hold it), writes from clients are refused
with -READONLY, and REPLICAOF NO ONE leaves a writable server with the data, which survives
a kill -9 like any acknowledged write. Also: the link's state in ROLE and INFO, -MASTERDOWN
with replica-serve-stale-data no, masterauth, REPLICAOF inside MULTI, and -NOREPLICAS under
min-replicas-to-write on a master.
"""

import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from ports import loopback_port
from test_replication_stream import fill_every_type, snapshot_of

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")

SYNC_SECONDS_MAX = 30


class Master:
    """A redis-server on a fixed loopback port that can be stopped and started again."""

    def __init__(self, *args):
        self.port = loopback_port()
        self.args = list(args)
        self.dir = tempfile.mkdtemp(prefix="redis-master-")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--protected-mode", "no", *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.client().ping()
                return self
            except redis.exceptions.AuthenticationError:
                return self
            except redis.exceptions.ResponseError as error:
                if "NOAUTH" in str(error):
                    return self
                raise
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self, **kwargs):
        kwargs.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)


@pytest.fixture
def master():
    started = Master().start()
    yield started
    started.stop()
    shutil.rmtree(started.dir, ignore_errors=True)


def link_status(client):
    return client.info("replication").get("master_link_status")


def wait_for(condition, what, seconds=SYNC_SECONDS_MAX):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def follow(replica, master):
    assert replica.execute_command("REPLICAOF", "127.0.0.1", str(master.port)) in (b"OK", "OK")
    wait_for(lambda: link_status(replica) == "up", "the link to come up")


def caught_up(master_client, replica):
    """Waits until the replica's offset reached the master's (WAIT on the master)."""
    assert master_client.execute_command("WAIT", "1", "10000") == 1


def test_full_resynchronization_and_stream_leave_the_masters_data(server, master):
    source = master.client()
    fill_every_type(source)
    source.execute_command("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('hello', function() return 'hi' end)")
    replica = server.client()
    follow(replica, master)
    assert snapshot_of(replica) == snapshot_of(source)
    assert replica.execute_command("FCALL", "hello", "0") == b"hi"

    # The stream: plain writes, a transaction, expiries, deletions, another database.
    source.set("after", "1")
    source.incr("n")
    with source.pipeline(transaction=True) as pipe:
        pipe.rpush("l", "tail")
        pipe.hset("h", "f3", "v3")
        pipe.execute()
    source.expire("s", 500)
    source.delete("big")
    source.execute_command("SELECT", "3")
    source.set("in3-after", "x")
    source.execute_command("SELECT", "0")
    source.zincrby("z", 2, "m1")
    caught_up(source, replica)
    assert snapshot_of(replica) == snapshot_of(source)
    assert 0 < replica.ttl("s") <= 500


def test_role_info_and_readonly_while_following(server, master):
    replica = server.client()
    follow(replica, master)
    role = replica.execute_command("ROLE")
    assert role[:4] == [b"slave", b"127.0.0.1", master.port, b"connected"]
    info = replica.info("replication")
    assert info["role"] == "slave" and info["master_host"] == "127.0.0.1" and info["master_port"] == master.port
    assert info["slave_read_only"] == 1 and info["master_sync_in_progress"] == 0
    with pytest.raises(redis.exceptions.ReadOnlyError):
        replica.set("k", "v")
    assert replica.get("k") is None
    # Reads, and commands that write nothing, still run.
    assert replica.ping()
    assert replica.dbsize() == 0
    # A script that would write is refused; a read-only one runs.
    with pytest.raises(redis.exceptions.ReadOnlyError):
        replica.eval("return redis.call('set', KEYS[1], 'v')", 1, "k")
    assert replica.eval("return redis.call('get', KEYS[1])", 1, "k") is None
    # A second REPLICAOF to the same master keeps the link.
    assert replica.execute_command("REPLICAOF", "127.0.0.1", str(master.port)) == b"OK Already connected to specified master"
    # The master counts the replica (its ACKs arrive every second).
    wait_for(lambda: master.client().info("replication")["connected_slaves"] == 1, "the master to see its replica")


def test_replicaof_no_one_keeps_the_data_writable_across_kill_9(server, master):
    source = master.client()
    for index in range(2000):
        source.set(f"key:{index}", index)
    replica = server.client()
    follow(replica, master)
    source.set("last", "written")
    caught_up(source, replica)
    assert replica.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert replica.execute_command("ROLE")[0] == b"master"
    assert replica.set("mine", "1")
    # The master's later writes no longer arrive.
    source.set("last", "changed")
    time.sleep(0.5)
    assert replica.get("last") == b"written"
    server.crash_restart()
    replica = server.client()
    assert replica.dbsize() == 2002
    assert replica.get("key:1999") == b"1999" and replica.get("mine") == b"1"


def test_a_lost_master_is_redialled_and_stale_reads_are_refused_when_asked(server, master):
    source = master.client()
    source.set("k", "before")
    replica = server.client()
    follow(replica, master)
    master.stop()
    wait_for(lambda: link_status(replica) == "down", "the link to go down")
    assert replica.execute_command("ROLE")[3] in (b"connect", b"connecting")
    # Stale data is served by default...
    assert replica.get("k") == b"before"
    # ...and refused with replica-serve-stale-data no, except for commands marked stale.
    assert replica.config_set("replica-serve-stale-data", "no")
    with pytest.raises(redis.exceptions.MasterDownError, match="replica-serve-stale-data is set to .no."):
        replica.get("k")
    assert "role" in replica.info("replication")
    # The master comes back empty on the same port: the replica follows it again.
    master.start()
    master.client().set("k", "after")
    wait_for(lambda: link_status(replica) == "up", "the link to come back")
    assert replica.get("k") == b"after"
    assert replica.dbsize() == 1
    assert "the link with the master is down" in server.stdout() + server.stderr()


def test_masterauth_is_sent_and_a_wrong_password_keeps_the_link_down(server):
    guarded = Master("--requirepass", "s3cret").start()
    try:
        guarded.client(password="s3cret").set("k", "v")
        replica = server.client()
        replica.config_set("masterauth", "wrong")
        replica.execute_command("REPLICAOF", "127.0.0.1", str(guarded.port))
        time.sleep(1.5)
        assert link_status(replica) == "down"
        assert replica.get("k") is None
        assert "refused AUTH" in server.stdout() + server.stderr()
        replica.execute_command("REPLICAOF", "NO", "ONE")
        replica.config_set("masterauth", "s3cret")
        follow(replica, guarded)
        assert replica.get("k") == b"v"
    finally:
        guarded.stop()


def test_replicaof_inside_multi_takes_effect_at_exec(server, master):
    replica = server.client()
    replica.set("before", "1")
    with replica.pipeline(transaction=True) as pipe:
        pipe.set("queued", "1")
        pipe.execute_command("REPLICAOF", "127.0.0.1", str(master.port))
        replies = pipe.execute()
    assert replies == [True, b"OK"]
    with pytest.raises(redis.exceptions.ReadOnlyError):
        replica.set("after", "1")
    # A write queued on a replica fails the transaction at EXEC. (One connection by hand:
    # redis-py's client drops its connection on a READONLY error.)
    raw = redis.Connection(host="127.0.0.1", port=server.port, socket_timeout=10)
    try:
        raw.send_command("MULTI")
        assert raw.read_response() == b"OK"
        raw.send_command("SET", "x", "1")
        with pytest.raises(redis.exceptions.ReadOnlyError):
            raw.read_response()
        raw.send_command("EXEC")
        with pytest.raises(redis.exceptions.ExecAbortError):
            raw.read_response()
    finally:
        raw.disconnect()
    assert replica.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert replica.set("after", "1")


def test_min_replicas_to_write_counts_acknowledging_redis_replicas(server):
    client = server.client()
    client.config_set("min-replicas-to-write", "1")
    assert client.config_get("min-replicas-to-write") == {"min-replicas-to-write": "1"}
    with pytest.raises(redis.exceptions.ResponseError, match="^NOREPLICAS Not enough good replicas to write."):
        client.set("k", "v")
    assert client.get("k") is None
    # Scripts: one that declares it may write is refused before it runs; one that
    # declares nothing runs, and is refused when it writes.
    assert client.eval("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, "k") is None
    assert client.eval("return redis.call('get', KEYS[1])", 1, "k") is None
    with pytest.raises(redis.exceptions.ResponseError, match="^NOREPLICAS"):
        client.eval("#!lua\nreturn redis.call('get', KEYS[1])", 1, "k")
    with pytest.raises(redis.exceptions.ResponseError, match="^NOREPLICAS"):
        client.eval("return redis.call('set', KEYS[1], 'v')", 1, "k")
    assert client.get("k") is None
    # A real redis-server following this one acknowledges every second: writes pass.
    follower = Master("--replicaof", "127.0.0.1", str(server.port)).start()
    try:
        wait_for(lambda: follower.client().info("replication").get("master_link_status") == "up", "the Redis replica to sync")
        wait_for(lambda: _writes(client), "writes to be accepted")
        client.config_set("min-replicas-to-write", "0")
    finally:
        follower.stop()


def _writes(client):
    try:
        return client.set("k", "v")
    except redis.exceptions.ResponseError:
        return False


def test_replicaof_errors_as_redis(server):
    client = server.client()
    with pytest.raises(redis.exceptions.ResponseError, match="^Invalid master port"):
        client.execute_command("REPLICAOF", "127.0.0.1", "70000")
    with pytest.raises(redis.exceptions.ResponseError, match="^Invalid master port"):
        client.execute_command("REPLICAOF", "127.0.0.1", "port")
    assert client.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert client.execute_command("ROLE")[0] == b"master"


def test_a_killed_master_client_resynchronizes(server, master):
    source = master.client()
    source.set("k", "1")
    replica = server.client(decode_responses=True)
    follow(replica, master)
    line = next(entry for entry in replica.client_list() if entry["addr"] == f"127.0.0.1:{master.port}")
    assert replica.execute_command("CLIENT", "KILL", "ID", line["id"]) == 1
    source.set("k", "2")
    wait_for(lambda: replica.get("k") == "2", "the link to come back after CLIENT KILL")
    assert link_status(replica) == "up"
    assert "synchronizing with the master again" in server.stdout() + server.stderr()
