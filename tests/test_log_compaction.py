"""When a standalone server compacts its log: as Redis rewrites its AOF, once the log
written since the last snapshot is `auto-aof-rewrite-percentage` of that snapshot's size
and the two together reach `auto-aof-rewrite-min-size` (64 MB by default). Compaction is a
snapshot of every key, so a small data set written often is not snapshotted over and over.
"""

import glob
import os
import time

VALUE = "v" * 1000


def snapshot_files(directory):
    """The data shard's snapshots (shard 0 is the node's directory, snapshotted at start)."""
    return [path for path in glob.glob(os.path.join(directory, "snap-*.rsnap"))
            if not os.path.basename(path).startswith("snap-0000000000000000-")]


def write(client, keys, prefix="k"):
    pipe = client.pipeline(transaction=False)
    for index in range(keys):
        pipe.set(f"{prefix}{index % 500}", VALUE)
        if index % 200 == 199:
            pipe.execute()
    pipe.execute()


def wait_for_snapshot(directory, since, seconds=15):
    """True once the data shard has a snapshot other than those in `since`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if set(snapshot_files(directory)) - set(since):
            return True
        time.sleep(0.05)
    return False


def wait_until_settled(directory, quiet=1.0, seconds=20):
    """The data shard's snapshots once no new one has appeared for `quiet` seconds: log
    written after a compaction began may itself earn another compaction."""
    deadline = time.time() + seconds
    files, since = snapshot_files(directory), time.time()
    while time.time() < deadline:
        time.sleep(0.05)
        now = snapshot_files(directory)
        if now != files:
            files, since = now, time.time()
        elif time.time() - since >= quiet:
            return files
    raise AssertionError(f"snapshots still changing after {seconds} s: {files}")


def test_defaults_are_redis_rewrite_rule(server):
    client = server.client(decode_responses=True)
    assert client.config_get("auto-aof-rewrite-*") == {
        "auto-aof-rewrite-percentage": "100", "auto-aof-rewrite-min-size": "67108864"}
    initial = snapshot_files(server.dir)  # the one its creation wrote
    write(client, 3000)  # 3 MB of log: below the minimum, no snapshot
    time.sleep(0.5)
    assert snapshot_files(server.dir) == initial
    client.close()


def test_log_is_compacted_once_it_outgrows_the_minimum_and_the_snapshot(server):
    client = server.client(decode_responses=True)
    assert client.config_set("auto-aof-rewrite-min-size", "1mb")
    assert client.config_get("auto-aof-rewrite-min-size") == {"auto-aof-rewrite-min-size": "1048576"}
    initial = snapshot_files(server.dir)
    write(client, 3000)
    assert wait_for_snapshot(server.dir, initial), "3 MB of log over a 1 MB minimum: a snapshot compacts it"
    # 3 MB of log over 500 KB of keys may earn a second compaction while it is written.
    first = wait_until_settled(server.dir)
    # The snapshot holds 500 keys of 1 KB: at 100%, the next waits for about as much log.
    write(client, 100, prefix="again")
    time.sleep(0.5)
    assert snapshot_files(server.dir) == first, "100 KB of log is far from the 500 KB snapshot"
    client.close()
    server.crash_restart()
    client = server.client(decode_responses=True)
    assert client.dbsize() == 600
    assert client.get("k499") == VALUE and client.get("again99") == VALUE
    client.close()


def test_percentage_zero_turns_automatic_compaction_off(server):
    client = server.client(decode_responses=True)
    assert client.config_set("auto-aof-rewrite-min-size", "1mb")
    assert client.config_set("auto-aof-rewrite-percentage", "0")
    initial = snapshot_files(server.dir)
    write(client, 3000)
    time.sleep(0.5)
    assert snapshot_files(server.dir) == initial
    assert client.bgsave()
    assert wait_for_snapshot(server.dir, initial), "BGSAVE still snapshots"
    client.close()
