"""Recovery reproduces the exact state: a seeded random mix of every write command runs against
a server, its full state (values, hash fields, absolute expiry times) is dumped, the server is
stopped (gracefully or by SIGKILL, with or without a snapshot in between) and restarted on
the same directory, and the dump must be identical.

Seed: TRESTLE_REPLAY_SEED (default random, printed).
"""

import glob
import os
import random
import time

import pytest

FAR_FUTURE_SECONDS = 4102444800
KEYS = [f"key:{i}" for i in range(40)]
FIELDS = [f"f{i}" for i in range(8)]


def random_write(generator, allow_flush=True):
    """One write command with arguments; deterministic given the generator."""
    key, other = generator.choice(KEYS), generator.choice(KEYS)
    field = generator.choice(FIELDS)
    number = str(generator.randrange(-50, 50))
    value = generator.choice(["", "v", "value with spaces", "\x00\xff", "12", "x" * 300])
    expire_at = str(FAR_FUTURE_SECONDS + generator.randrange(1000))
    choices = [
        ("SET", key, value), ("SET", key, value, "EXAT", expire_at), ("SET", key, value, "KEEPTTL"),
        ("SET", key, value, "NX"), ("SET", key, value, "XX", "GET"), ("SETNX", key, value),
        ("SETEX", key, "100000", value), ("GETSET", key, value), ("GETDEL", key),
        ("GETEX", key, "EXAT", expire_at), ("GETEX", key, "PERSIST"), ("MSET", key, value, other, number),
        ("MSETNX", key, value, other, value), ("APPEND", key, value), ("SETRANGE", key, str(generator.randrange(20)), value),
        ("INCR", key), ("DECRBY", key, number), ("INCRBYFLOAT", key, "1.5"),
        ("DEL", key, other), ("UNLINK", key), ("RENAME", key, other), ("RENAMENX", key, other),
        ("COPY", key, other), ("COPY", key, other, "REPLACE"),
        ("EXPIREAT", key, expire_at), ("PEXPIREAT", key, expire_at + "123"), ("EXPIREAT", key, expire_at, "GT"),
        ("PERSIST", key), ("HSET", key, field, value, generator.choice(FIELDS), number),
        ("HSETNX", key, field, value), ("HDEL", key, field, generator.choice(FIELDS)),
        ("HINCRBY", key, field, number), ("HINCRBYFLOAT", key, field, "0.25"), ("HMSET", key, field, value),
    ]
    if allow_flush and generator.random() < 0.005:
        return ("FLUSHALL",)
    return generator.choice(choices)


def apply_writes(client, generator, count):
    pipe = client.pipeline(transaction=False)
    for index in range(count):
        pipe.execute_command(*random_write(generator, allow_flush=index < count // 2))
    pipe.execute(raise_on_error=False)
    # One transaction with several writes, too.
    transaction = client.pipeline(transaction=True)
    for _ in range(5):
        transaction.execute_command(*random_write(generator, allow_flush=False))
    transaction.execute(raise_on_error=False)


def dump(client):
    """Every key with its type, value and absolute expiry (ms)."""
    state = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            value = client.get(key)
        elif kind == b"hash":
            value = tuple(sorted(client.hgetall(key).items()))
        else:
            value = None
        state[key] = (kind, value, client.pexpiretime(key))
    return state


def data_snapshots(directory):
    """Snapshots of the data shard (shard 1) taken after the bootstrap one at index 1."""
    paths = glob.glob(os.path.join(directory, "snap-0000000000000001-*.rsnap"))
    return [path for path in paths if not path.endswith("-0000000000000001.rsnap")]


@pytest.mark.parametrize("stop", ["graceful", "sigkill", "sigkill-after-snapshot"])
@pytest.mark.timeout(90)
def test_state_after_restart_equals_state_before(server_factory, stop):
    seed = int(os.environ.get("TRESTLE_REPLAY_SEED", random.randrange(2**32)))
    print(f"replay seed {seed} (TRESTLE_REPLAY_SEED={seed})")
    generator = random.Random(seed)
    server = server_factory("--fsync", "always")
    client = server.client()
    apply_writes(client, generator, 1500)
    if stop == "sigkill-after-snapshot":
        assert client.execute_command("BGSAVE") in (True, b"Background saving started")
        deadline = time.monotonic() + 20
        while not data_snapshots(server.dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert data_snapshots(server.dir), os.listdir(server.dir)
        apply_writes(client, generator, 500)
    before = dump(client)
    assert len(before) > 5, "the random mix left too few keys to be a meaningful check"
    client.close()
    if stop == "graceful":
        server.restart()
    else:
        server.crash_restart()
    client = server.client()
    after = dump(client)
    client.close()
    differing = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    assert not differing, (
        f"seed {seed}: {len(differing)} keys differ after restart, e.g. "
        + "; ".join(f"{key!r}: before {before.get(key)!r} after {after.get(key)!r}" for key in differing[:3]))


def write_keys(client, count, prefix):
    pipe = client.pipeline(transaction=False)
    for index in range(count):
        pipe.set(f"{prefix}:{index}", "v")
        if index % 2000 == 1999:
            pipe.execute()
    pipe.execute()


@pytest.mark.timeout(120)
def test_snapshots_wait_for_the_log_to_outgrow_the_last_one(server_factory):
    """A snapshot is a pass over every key: as Redis rewrites its AOF, a standalone server
    waits until the log written since its last snapshot is as large as that snapshot
    (`auto-aof-rewrite-percentage` 100) and both together reach `auto-aof-rewrite-min-size`,
    so the cost of snapshots per write stays bounded as the data grows. The log written
    before a restart counts: it is replayed, not forgotten."""
    server = server_factory("--fsync", "no")
    client = server.client()
    assert client.execute_command("DEBUG", "POPULATE", "100000") in (True, b"OK")
    assert client.execute_command("BGSAVE") in (True, b"Background saving started")
    deadline = time.monotonic() + 20
    while not data_snapshots(server.dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    taken = data_snapshots(server.dir)
    assert taken, os.listdir(server.dir)
    snapshot_bytes = os.path.getsize(taken[0])  # about 4 MB
    # 50,000 writes: about 1.5 MB of log, past a 1 MB minimum, short of the snapshot.
    assert client.config_set("auto-aof-rewrite-min-size", "1mb")
    write_keys(client, 50_000, "key")
    time.sleep(1.5)
    assert data_snapshots(server.dir) == taken, f"snapshotted before the log reached the snapshot's {snapshot_bytes} bytes"
    # Those writes are no longer held in memory (no follower needs them) but only in the
    # log on disk: a crash replays them from there.
    client.close()
    server.crash_restart()
    client = server.client()
    assert client.dbsize() == 100_000
    assert client.get("key:0") == b"v" and client.get("key:49999") == b"v" and client.get("key:50000") == b"value:50000"
    assert client.config_set("auto-aof-rewrite-min-size", "1mb")  # settings do not outlive a restart
    write_keys(client, 100_000, "key")  # about 3 MB more: with the replayed 1.5 MB, past the snapshot
    deadline = time.monotonic() + 20
    while data_snapshots(server.dir) == taken and time.monotonic() < deadline:
        time.sleep(0.05)
    assert data_snapshots(server.dir) != taken, "no snapshot once the log outgrew the last one"
    assert client.dbsize() == 100_000
