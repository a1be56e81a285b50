"""SYNC and PSYNC: a Redis replica (and `redis-cli --rdb`) follows a standalone Trestle server.

The full resynchronization is an RDB file that a real redis-server loads (checked by
loading it into one and comparing every key, value and expiry); the stream after it holds
each committed write's effects as Redis propagates them (checked by reading the raw
stream, as Redis's own tests do with `attach_to_replication_stream`); and a real
redis-server started with `--replicaof` ends with the same data as Trestle.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

from ports import loopback_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def fill_every_type(client):
    client.set("s", "text")
    client.set("n", 12345)
    client.set("ttl", "v", px=600_000)
    client.rpush("l", *[f"e{i}" for i in range(300)])
    client.sadd("set", "a", "b", "c")
    client.hset("h", mapping={"f1": "v1", "f2": "v2"})
    client.zadd("z", {"m1": 1.5, "m2": -3, "m3": 1e300})
    client.set("big", "x" * 70_000)
    for index in range(250):  # three listpack nodes
        client.xadd("events", {"n": str(index), "payload": "p" * (index % 90)}, id=f"{1000 + index // 3}-{index % 3}")
    client.xgroup_create("events", "workers", id="0")
    client.xreadgroup("workers", "alice", {"events": ">"}, count=5)
    client.xreadgroup("workers", "bob", {"events": ">"}, count=2)
    client.xack("events", "workers", "1000-0")
    client.xadd("empty-stream", {"f": "v"}, id="5-5")
    client.xdel("empty-stream", "5-5")
    client.execute_command("SELECT", "3")
    client.set("in3", "three")
    client.execute_command("SELECT", "0")


def snapshot_of(client, databases=(0, 3)):
    """Every key of `databases`: type, value and whether it expires."""
    image = {}
    for database in databases:
        client.execute_command("SELECT", str(database))
        for key in client.keys("*"):
            kind = client.type(key)
            value = {
                b"string": lambda: client.get(key),
                b"list": lambda: client.lrange(key, 0, -1),
                b"set": lambda: sorted(client.smembers(key)),
                b"hash": lambda: client.hgetall(key),
                b"zset": lambda: client.zrange(key, 0, -1, withscores=True),
                b"stream": lambda: (client.xrange(key), client.xinfo_stream(key)["last-generated-id"],
                                    [(group["name"], group["pending"], group["last-delivered-id"])
                                     for group in client.xinfo_groups(key)],
                                    [[(entry["message_id"], entry["consumer"], entry["times_delivered"])
                                      for entry in client.xpending_range(key, group["name"], "-", "+", 100)]
                                     for group in client.xinfo_groups(key)]),
            }[kind]()
            image[(database, key)] = (kind, value, client.pttl(key) > 0)
    client.execute_command("SELECT", "0")
    return image


class RawStream:
    """A connection that sent SYNC: reads the payload, then the commands as Redis's tests do."""

    def __init__(self, port, command=b"SYNC\r\n"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""
        self.sock.sendall(command)

    def line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "the stream closed"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exactly(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            assert chunk, "the stream closed"
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def payload(self):
        header = self.line()
        assert header.startswith(b"$"), header
        return self.exactly(int(header[1:]))

    def command(self):
        header = self.line()
        assert header.startswith(b"*"), header
        arguments = []
        for _ in range(int(header[1:])):
            length = self.line()
            assert length.startswith(b"$"), length
            arguments.append(self.exactly(int(length[1:])))
            assert self.exactly(2) == b"\r\n"
        arguments[0] = arguments[0].lower()
        return arguments

    def close(self):
        self.sock.close()


def start_redis(*args, directory):
    port = loopback_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", directory, "--protected-mode", "no", *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            client.ping()
            return process, client
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
        except redis.exceptions.BusyLoadingError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_redis_cli_rdb_dump_loads_into_redis_with_every_key(server):
    client = server.client()
    fill_every_type(client)
    expected = snapshot_of(client)
    workdir = tempfile.mkdtemp(prefix="rdb-")
    try:
        path = os.path.join(workdir, "dump.rdb")
        subprocess.run(["redis-cli", "-p", str(server.port), "--rdb", path], check=True, capture_output=True, timeout=60)
        check = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=60)
        assert "RDB looks OK" in check.stdout, check.stdout + check.stderr
        process, loaded = start_redis("--dbfilename", "dump.rdb", directory=workdir)
        try:
            assert snapshot_of(loaded) == expected
        finally:
            stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_stream_after_sync_holds_each_write_as_redis_propagates_it(server):
    client = server.client()
    client.set("before", "1")
    stream = RawStream(server.port)
    try:
        rdb = stream.payload()
        assert rdb.startswith(b"REDIS0009") and b"before" in rdb
        client.set("a", "1")
        assert stream.command() == [b"select", b"0"]
        assert stream.command() == [b"set", b"a", b"1"]
        client.delete("missing")  # changes nothing: not propagated
        client.expire("a", 100)
        command = stream.command()
        assert command[:2] == [b"pexpireat", b"a"] and int(command[2]) > time.time() * 1000 + 90_000
        client.set("b", "2", ex=50)
        command = stream.command()
        assert command[:4] == [b"set", b"b", b"2", b"PXAT"] and int(command[4]) > time.time() * 1000 + 40_000
        at = str(int(time.time() * 1000) + 100_000)
        client.execute_command("set", "b", "3", "pxat", at)  # already absolute: sent as it came (Redis)
        assert stream.command() == [b"set", b"b", b"3", b"pxat", at.encode()]
        client.incrbyfloat("f", 1.5)
        assert stream.command() == [b"set", b"f", b"1.5", b"KEEPTTL"]
        client.restore("r", 100_000, client.dump("f"))
        command = stream.command()
        assert command[:2] == [b"restore", b"r"] and int(command[2]) > time.time() * 1000 + 90_000 and command[4:] == [b"ABSTTL"]
        with client.pipeline(transaction=True) as transaction:
            transaction.incr("c").incr("c")
            transaction.execute()
        assert [stream.command() for _ in range(4)] == [[b"multi"], [b"incrby", b"c", b"1"], [b"incrby", b"c", b"1"], [b"exec"]]
        client.eval("redis.call('set', 'x', 'y') redis.call('get', 'x') redis.call('del', 'nothing') return 1", 0)
        assert stream.command() == [b"set", b"x", b"y"]
        client.set("short", "v", px=1)
        assert stream.command()[:4] == [b"set", b"short", b"v", b"PXAT"]
        time.sleep(0.05)
        client.set("short", "again", nx=True)  # the expired key is removed first, then set
        assert stream.command() == [b"del", b"short"]
        assert stream.command() == [b"set", b"short", b"again", b"NX"]
        client.execute_command("SELECT", "2")
        client.set("in2", "v")
        assert stream.command() == [b"select", b"2"]
        assert stream.command() == [b"set", b"in2", b"v"]
        # A transaction that changes database: MULTI first, then each SELECT (Redis 7+).
        with client.pipeline(transaction=True) as transaction:
            transaction.execute_command("SELECT", "1").set("in1", "v").execute_command("SELECT", "2").set("again2", "v")
            transaction.execute()
        assert [stream.command() for _ in range(6)] == [[b"multi"], [b"select", b"1"], [b"set", b"in1", b"v"],
                                                         [b"select", b"2"], [b"set", b"again2", b"v"], [b"exec"]]
    finally:
        stream.close()


def test_psync_answers_fullresync_and_replconf_is_accepted(server):
    client = server.client()
    assert client.execute_command("REPLCONF", "listening-port", "6380") == b"OK"
    stream = RawStream(server.port, b"PSYNC ? -1\r\n")
    try:
        header = stream.line()
        assert header.startswith(b"+FULLRESYNC ") and len(header.split()[1]) == 40
        assert stream.payload().startswith(b"REDIS0009")
        stream.sock.sendall(b"REPLCONF ACK 0\r\n")  # no reply: the next bytes are the stream
        client.set("k", "v")
        assert stream.command() == [b"select", b"0"]
        assert stream.command() == [b"set", b"k", b"v"]
        replication = client.info("replication")
        assert replication["connected_slaves"] == 1 and replication["master_repl_offset"] > 0
    finally:
        stream.close()


def test_a_real_redis_replica_follows_trestle(server):
    client = server.client()
    fill_every_type(client)
    workdir = tempfile.mkdtemp(prefix="replica-")
    try:
        process, replica = start_redis("--replicaof", "127.0.0.1", str(server.port), directory=workdir)
        try:
            for index in range(200):
                client.incr(f"counter:{index % 7}")
            client.lpush("l", "head")
            client.expire("s", 1000)
            client.delete("set")
            client.execute_command("SELECT", "3")
            client.set("in3", "changed")
            client.execute_command("SELECT", "0")
            expected = snapshot_of(client)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if replica.info("replication")["master_link_status"] == "up" and snapshot_of(replica) == expected:
                    break
                time.sleep(0.2)
            assert snapshot_of(replica) == expected
        finally:
            stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_hash_with_field_expirations_is_refused_with_a_clear_error(server):
    client = server.client()
    client.hset("h", mapping={"f": "v", "g": "w"})
    client.execute_command("HEXPIRE", "h", "1000", "FIELDS", "1", "f")
    with pytest.raises(redis.ResponseError, match="'h' is a hash with field expirations"):
        client.execute_command("SYNC")
    assert client.ping()


def test_spop_goes_as_srem_of_what_it_took_or_as_del_of_the_whole_set(server):
    """As Redis: SPOP as SREM of the members it popped (in a script too), and SPOP with a
    count that takes the whole set as DEL, or UNLINK under lazyfree-lazy-server-del."""
    client = server.client()
    client.sadd("whole", 1, 2, 3)
    client.sadd("lazy", *range(65))
    client.sadd("part", "a", "b", "c")
    stream = RawStream(server.port)
    try:
        stream.payload()
        client.spop("whole", 3)
        assert stream.command() == [b"select", b"0"]
        assert stream.command() == [b"del", b"whole"]
        client.config_set("lazyfree-lazy-server-del", "yes")
        client.spop("lazy", 65)
        assert stream.command() == [b"unlink", b"lazy"]
        taken = client.spop("part")
        assert stream.command() == [b"srem", b"part", taken]
        taken = client.eval("return redis.call('spop', KEYS[1], 1)", 1, "part")
        assert stream.command() == [b"srem", b"part"] + taken
        client.spop("part", 0)  # takes nothing: not propagated
        # RESTORE REPLACE with a time already past: the old key removed, nothing stored.
        payload = client.dump("part")
        client.set("old", "v")
        assert stream.command() == [b"set", b"old", b"v"]
        client.restore("old", int(time.time() * 1000) - 5000, payload, replace=True, absttl=True)
        assert stream.command() == [b"unlink", b"old"]
        client.set("trailing", "1")
        assert stream.command() == [b"set", b"trailing", b"1"]
    finally:
        stream.close()


def test_xreadgroup_goes_as_xclaims_and_the_groups_last_id_and_publish_as_itself(server):
    """As Redis: what XREADGROUP delivered as XCLAIM ... FORCE JUSTID with its delivery
    time and count, then XGROUP SETID ... ENTRIESREAD (new entries only); NOACK only the
    SETID; a read that delivered nothing is not propagated. PUBLISH goes as it was sent."""
    client = server.client()
    client.xadd("s", {"f": "1"}, id="1-1")
    client.xadd("s", {"f": "2"}, id="2-1")
    client.xgroup_create("s", "g", id="0")
    stream = RawStream(server.port)
    try:
        stream.payload()
        before = int(time.time() * 1000)
        client.xreadgroup("g", "alice", {"s": ">"}, count=1)
        assert stream.command() == [b"multi"]  # two effects of one command, as Redis 7 wraps them
        assert stream.command() == [b"select", b"0"]
        claim = stream.command()
        assert claim[:6] == [b"xclaim", b"s", b"g", b"alice", b"0", b"1-1"]
        assert claim[6] == b"TIME" and abs(int(claim[7]) - before) < 10_000
        assert claim[8:] == [b"RETRYCOUNT", b"1", b"FORCE", b"JUSTID", b"LASTID", b"1-1"]
        assert stream.command() == [b"xgroup", b"SETID", b"s", b"g", b"1-1", b"ENTRIESREAD", b"1"]
        assert stream.command() == [b"exec"]
        # History (the consumer's pending entries): delivered again, not propagated.
        client.xreadgroup("g", "alice", {"s": "0"})
        assert client.xpending_range("s", "g", "-", "+", 10)[0]["times_delivered"] == 2
        client.xreadgroup("g", "bob", {"s": ">"}, noack=True)
        assert stream.command() == [b"xgroup", b"SETID", b"s", b"g", b"2-1", b"ENTRIESREAD", b"2"]
        client.xreadgroup("g", "bob", {"s": ">"})  # nothing new: not propagated
        client.publish("news", "hello")
        assert stream.command() == [b"publish", b"news", b"hello"]
    finally:
        stream.close()
