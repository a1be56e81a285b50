"""Backup and restore: `trestle cluster backup` takes an online backup of every shard
while clients write, `--restore DIR` starts a new cluster (with a different shard count)
or a standalone server from it, and a corrupt backup is refused naming the file.

What is checked, on recorded data:
- every key written before the backup started comes back with its type, value and TTL;
- counters INCRed by a client during the backup come back with a value between the one
  acknowledged before the backup started and the last one acknowledged (each shard is
  captured at one committed index after a read barrier);
- a flipped byte, a truncated file or a missing manifest stops the restore with a message
  naming the file, before any node starts.
"""

import json
import os
import shutil
import subprocess
import threading
import time

import pytest
import redis

from cluster_harness import Cluster
from ports import loopback_port

PRELOAD_KEYS = 3000
COUNTERS = 40
BACKUP_SECONDS_MAX = 120


def preload(client):
    """Writes strings, hashes, lists, sets, sorted sets and TTL keys; returns what was written."""
    expected = {}
    pipe = client.pipeline(transaction=False)
    for i in range(PRELOAD_KEYS):
        kind = i % 5
        key = f"k:{i}"
        if kind == 0:
            pipe.set(key, f"v{i}")
            expected[key] = ("string", f"v{i}")
        elif kind == 1:
            pipe.hset(key, mapping={"a": str(i), "b": "x" * (i % 50)})
            expected[key] = ("hash", {"a": str(i), "b": "x" * (i % 50)})
        elif kind == 2:
            pipe.rpush(key, *[f"e{j}" for j in range(i % 7 + 1)])
            expected[key] = ("list", [f"e{j}" for j in range(i % 7 + 1)])
        elif kind == 3:
            pipe.zadd(key, {f"m{j}": j * 1.5 for j in range(i % 6 + 1)})
            expected[key] = ("zset", [(f"m{j}", j * 1.5) for j in range(i % 6 + 1)])
        else:
            pipe.set(key, f"t{i}", ex=3600)
            expected[key] = ("ttl", f"t{i}")
        if len(pipe) >= 200:
            pipe.execute()
    pipe.execute()
    return expected


def check_contents(client, expected):
    missing, wrong = [], []
    for key, (kind, value) in expected.items():
        if kind in ("string", "ttl"):
            got = client.get(key)
            if got is None:
                missing.append(key)
            elif got != value:
                wrong.append((key, got, value))
            if kind == "ttl" and got is not None and not (3000 <= client.ttl(key) <= 3600):
                wrong.append((key, "ttl", client.ttl(key)))
        elif kind == "hash":
            got = client.hgetall(key)
            if not got:
                missing.append(key)
            elif got != value:
                wrong.append((key, got, value))
        elif kind == "list":
            got = client.lrange(key, 0, -1)
            if not got:
                missing.append(key)
            elif got != value:
                wrong.append((key, got, value))
        else:
            got = client.zrange(key, 0, -1, withscores=True)
            if not got:
                missing.append(key)
            elif got != value:
                wrong.append((key, got, value))
    assert not missing, f"{len(missing)} keys missing after restore, e.g. {missing[:5]}"
    assert not wrong, f"{len(wrong)} keys differ after restore, e.g. {wrong[:3]}"


class CounterWriter(threading.Thread):
    """INCRs COUNTERS keys round-robin until stopped; remembers the last acknowledged value."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client = client
        self.acked = {}
        self.errors = []
        self.stopping = threading.Event()

    def run(self):
        i = 0
        while not self.stopping.is_set():
            key = f"ctr:{i % COUNTERS}"
            try:
                self.acked[key] = self.client.incr(key)
            except redis.RedisError as error:
                # A write whose outcome is unknown leaves the bound loose, never wrong: the
                # restored value is checked against acknowledged values only.
                self.errors.append(str(error))
            i += 1

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


def run_trestle(binary, *args, timeout=BACKUP_SECONDS_MAX):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


def test_a_cluster_backs_up_online_and_restores_into_a_cluster_of_another_shape(cluster_factory, cluster_binary, tmp_path, measure):
    source = cluster_factory(nodes=3, shards=8)
    client = source.cluster_client()
    expected = preload(client)
    source.nodes[1].client().function_load("#!lua name=clusterlib\nredis.register_function('one', function() return 1 end)")
    writer = CounterWriter(source.cluster_client())
    writer.start()
    deadline = time.monotonic() + 20
    while len(writer.acked) < COUNTERS and time.monotonic() < deadline:
        time.sleep(0.05)
    before = dict(writer.acked)
    backup = tmp_path / "backup"
    started = time.monotonic()
    done = run_trestle(cluster_binary, "cluster", "backup", "--seed", source.seed(), "--to", str(backup))
    elapsed = time.monotonic() - started
    writer.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    measure("backup of 3000 keys + counters on 3 nodes", elapsed, "s")
    assert len(before) == COUNTERS, f"the writer acknowledged only {len(before)} counters before the backup"
    after = dict(writer.acked)

    manifest = json.loads((backup / "MANIFEST.json").read_text())
    assert manifest["format"] == "trestle-backup"
    assert len(manifest["shards"]) == 8
    assert manifest["keys"] >= PRELOAD_KEYS + COUNTERS
    for shard in manifest["shards"]:
        assert (backup / shard["file"]).stat().st_size == shard["bytes"]
        assert shard["index"] > 0 and shard["term"] > 0
    checked = run_trestle(cluster_binary, "cluster", "check-backup", "--from", str(backup))
    assert checked.returncode == 0 and "is intact" in checked.stdout, checked.stdout + checked.stderr

    # The new cluster has 4 shards, not 8: keys are dealt to the new shards by slot.
    restored = cluster_factory(nodes=3, shards=4, extra_args=["--restore", str(backup)])
    restored_client = restored.cluster_client()
    check_contents(restored_client, expected)
    assert restored.nodes[3].client().function_list()[0][:2] == ["library_name", "clusterlib"]
    for key, low in before.items():
        value = int(restored_client.get(key) or 0)
        assert low <= value <= after[key], f"{key}: restored {value}, acknowledged {low} before the backup and {after[key]} at the end"
    # The restored cluster takes writes, and a node restarting over its data ignores --restore.
    restored_client.set("after-restore", "yes")
    node = restored.nodes[2]
    node.stop()
    node.start()
    restored.wait_ok()
    restored.wait_leaders_stable()
    again = restored.cluster_client()
    assert again.get("after-restore") == "yes"
    check_contents(again, expected)


def corrupt_copies(backup, base):
    """Three broken copies of `backup`: (directory, the file the error must name)."""
    manifest = json.loads((backup / "MANIFEST.json").read_text())
    victim = manifest["shards"][0]["file"]
    flipped = base / "flipped"
    shutil.copytree(backup, flipped)
    data = bytearray((flipped / victim).read_bytes())
    data[len(data) // 2] ^= 0x40
    (flipped / victim).write_bytes(bytes(data))
    truncated = base / "truncated"
    shutil.copytree(backup, truncated)
    (truncated / victim).write_bytes((truncated / victim).read_bytes()[:-10])
    unfinished = base / "unfinished"
    shutil.copytree(backup, unfinished)
    (unfinished / "MANIFEST.json").unlink()
    return [(flipped, victim), (truncated, victim), (unfinished, "MANIFEST.json")]


def test_a_corrupt_backup_is_refused_naming_the_file(server_factory, cluster_binary, tmp_path):
    server = server_factory()
    client = redis.Redis(port=server.port, decode_responses=True)
    client.mset({f"key{i}": f"value{i}" for i in range(500)})
    backup = tmp_path / "backup"
    done = run_trestle(cluster_binary, "cluster", "backup", "--seed", f"127.0.0.1:{server.port}", "--to", str(backup))
    assert done.returncode == 0, done.stdout + done.stderr

    for broken, named in corrupt_copies(backup, tmp_path):
        checked = run_trestle(cluster_binary, "cluster", "check-backup", "--from", str(broken))
        assert checked.returncode != 0 and named in checked.stderr, checked.stderr
        # trestle local checks the backup before it starts any node.
        port = loopback_port()
        local = run_trestle(cluster_binary, "local", "--nodes", "1", "--replicas", "1", "--port", str(port),
                            "--dir", str(tmp_path / f"local-{broken.name}"), "--restore", str(broken), timeout=60)
        assert local.returncode != 0 and named in local.stderr, local.stdout + local.stderr
        # A node or server given it exits at start-up, naming the file, and serves nothing.
        data_dir = tmp_path / f"server-{broken.name}"
        port = loopback_port()
        started = subprocess.run([cluster_binary, "server", "--port", str(port), "--dir", str(data_dir), "--restore", str(broken)],
                                 capture_output=True, text=True, timeout=60)
        assert started.returncode != 0 and named in started.stderr, started.stdout + started.stderr

    # A directory that already holds files is not overwritten.
    again = run_trestle(cluster_binary, "cluster", "backup", "--seed", f"127.0.0.1:{server.port}", "--to", str(backup))
    assert again.returncode != 0 and "not empty" in again.stderr


def test_a_standalone_server_restores_a_backup_and_keeps_it_across_restarts(server_factory, cluster_binary, tmp_path):
    server = server_factory()
    client = redis.Redis(port=server.port, decode_responses=True)
    expected = preload(client)
    client.function_load("#!lua name=tools\nredis.register_function('double', function(keys, args) return args[1] * 2 end)")
    # Keys of other numbered databases are backed up and restored in theirs.
    five = redis.Redis(port=server.port, db=5, decode_responses=True)
    five.set("in five", "5")
    five.rpush("list in five", "a", "b")
    backup = tmp_path / "backup"
    done = run_trestle(cluster_binary, "cluster", "backup", "--seed", f"127.0.0.1:{server.port}", "--to", str(backup))
    assert done.returncode == 0, done.stdout + done.stderr
    restored = server_factory("--restore", str(backup))
    restored_client = redis.Redis(port=restored.port, decode_responses=True)
    check_contents(restored_client, expected)
    restored_five = redis.Redis(port=restored.port, db=5, decode_responses=True)
    assert restored_five.get("in five") == "5" and restored_five.lrange("list in five", 0, -1) == ["a", "b"]
    assert restored_five.dbsize() == 2
    # The function libraries come back with the keys.
    assert restored_client.fcall("double", 0, 21) == 42
    restored_client.set("new", "1")
    # Restarted over its data, the server recovers it and ignores --restore.
    restored.stop()
    restored.start()
    restored_client = redis.Redis(port=restored.port, decode_responses=True)
    assert restored_client.dbsize() == len(expected) + 1
    assert restored_client.get("new") == "1"
