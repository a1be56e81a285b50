"""Slots moving between shards of a running cluster (`trestle cluster move`), while a
redis-py RedisCluster workload writes and reads: one move runs undisturbed, a second one
has its source shard's leader SIGKILLed right after it begins and restarted. Both must
finish, every node's CLUSTER SLOTS must name the new owners, every acknowledged write must
stay readable and the history must be linearizable. Move times are measured.
"""

import subprocess
import time

import pytest

from workload import Workload

pytestmark = pytest.mark.cluster

THREADS = 3
KEYS_PER_THREAD = 300
LOAD_BEFORE_MOVE_SECONDS = 2.0
LOAD_AFTER_MOVE_SECONDS = 2.0
MOVE_SECONDS_MAX = 60.0
RESTART_AFTER_SECONDS = 1.0


def master_of(cluster, slot, via):
    for first, last, master, _ in cluster.slot_table(via=via):
        if first <= slot <= last:
            return master
    return None


def slot_moves_pending(node):
    return node.cluster_info().get("trestle_slot_moves_pending")


@pytest.mark.timeout(240)
def test_slots_move_under_load_and_a_kill(cluster_factory, cluster_binary, measure, assert_linearizable):
    # Four shards: s1 0-4095, s2 4096-8191, s3 8192-12287, s4 12288-16383.
    cluster = cluster_factory(nodes=3, shards=4)
    workload = Workload(cluster.cluster_client, threads=THREADS, keys_per_thread=KEYS_PER_THREAD).start()
    try:
        time.sleep(LOAD_BEFORE_MOVE_SECONDS)
        started = time.monotonic()
        printed = cluster.admin("move", "--seed", cluster.seed(), "--slots", "0-2047", "--to-shard", "4",
                                seconds=MOVE_SECONDS_MAX)
        measure("move of 2048 slots under load (command -> flipped)", time.monotonic() - started, "s")
        assert "moved in" in printed, printed

        # The second move's source leader dies just after the move begins.
        victim = cluster.nodes[master_of(cluster, 4096, via=cluster.nodes[1])]
        seed = next(node for node in cluster.running_nodes() if node.id != victim.id)
        started = time.monotonic()
        cluster.admin("move", "--seed", f"127.0.0.1:{seed.port}", "--slots", "4096-6143", "--to-shard", "3",
                      "--wait", "0")
        victim.kill()
        time.sleep(RESTART_AFTER_SECONDS)
        victim.start()
        cluster.wait_until(lambda: all(slot_moves_pending(node) == "0" for node in cluster.running_nodes()),
                           MOVE_SECONDS_MAX, "the interrupted move finished on every node")
        measure("move of 2048 slots with its source leader killed (command -> flipped)", time.monotonic() - started, "s")
        time.sleep(LOAD_AFTER_MOVE_SECONDS)
    finally:
        workload.stop()
        print(workload.summary())

    cluster.wait_ok()
    for node in cluster.running_nodes():
        assert master_of(cluster, 0, via=node) == master_of(cluster, 16383, via=node), f"slot 0 on node {node.id}"
        assert master_of(cluster, 2047, via=node) == master_of(cluster, 12288, via=node), f"slot 2047 on node {node.id}"
        assert master_of(cluster, 4096, via=node) == master_of(cluster, 8192, via=node), f"slot 4096 on node {node.id}"
        assert master_of(cluster, 6144, via=node) != master_of(cluster, 8192, via=node) or \
            master_of(cluster, 6144, via=node) == master_of(cluster, 8191, via=node)
    status = cluster.admin("status", "--seed", cluster.seed())
    assert "s4 slots 0-2047,12288-16383" in status, status
    assert "s3 slots 4096-6143,8192-12287" in status, status
    assert "slot move " not in status, status

    problems = workload.verify(cluster.cluster_client())
    assert not problems, f"{len(problems)} acknowledged writes lost or wrong:\n" + "\n".join(problems[:20])
    assert workload.total_acknowledged() > 0
    assert_linearizable(workload, cluster_binary)


def test_moves_that_cannot_be_done_are_refused_clearly(cluster_factory, cluster_binary):
    cluster = cluster_factory(nodes=3, shards=4)

    def move(*args):
        return subprocess.run([cluster_binary, "cluster", "move", "--seed", cluster.seed(), *args, "--wait", "5"],
                              capture_output=True, text=True, timeout=30)

    spanning = move("--slots", "4000-4200", "--to-shard", "3")
    assert spanning.returncode != 0
    assert "not all owned by one shard" in spanning.stderr, spanning.stderr
    unknown = move("--slots", "1-2", "--to-shard", "9")
    assert unknown.returncode != 0 and "shard 9 does not exist" in unknown.stderr, unknown.stderr
    owned = move("--slots", "1-2", "--to-shard", "1")
    assert owned.returncode != 0 and "already belong to shard 1" in owned.stderr, owned.stderr
    malformed = move("--slots", "9-3", "--to-shard", "2")
    assert malformed.returncode != 0 and "FIRST-LAST" in malformed.stderr, malformed.stderr

    # A key moves with its slot, and a client that is not cluster-aware is redirected to it.
    client = cluster.cluster_client()
    client.set("{mover}key", "value")
    slot = client.keyslot("{mover}key")
    target = 4 if slot < 12288 else 1
    done = move("--slots", f"{slot}-{slot}", "--to-shard", str(target))
    assert done.returncode == 0, done.stdout + done.stderr
    assert client.get("{mover}key") == "value"
    owner = cluster.nodes[master_of(cluster, slot, via=cluster.nodes[1])]
    others = [node for node in cluster.running_nodes() if node.id != owner.id]
    plain = others[0].client()
    try:
        plain.get("{mover}key")
        assert False, "a node that does not lead the slot answered for it"
    except Exception as error:  # redis-py raises MovedError for a plain client
        assert f"{slot} 127.0.0.1:{owner.port}" in str(error), str(error)
    # ASKING does not let a node serve a slot it is not importing.
    assert others[0].command_reply("ASKING") in ("OK", b"OK", True)


@pytest.mark.timeout(240)
def test_a_split_adds_a_shard_under_load(cluster_factory, cluster_binary, measure, assert_linearizable):
    # Two shards: s1 0-8191, s2 8192-16383; splitting s1 creates s3 with 4096-8191.
    cluster = cluster_factory(nodes=3, shards=2)
    workload = Workload(cluster.cluster_client, threads=THREADS, keys_per_thread=KEYS_PER_THREAD).start()
    try:
        time.sleep(LOAD_BEFORE_MOVE_SECONDS)
        started = time.monotonic()
        printed = cluster.admin("split", "--seed", cluster.seed(), "--shard", "1", seconds=MOVE_SECONDS_MAX)
        measure("split of a 8192-slot shard under load (command -> flipped)", time.monotonic() - started, "s")
        assert "moved in" in printed, printed
        time.sleep(LOAD_AFTER_MOVE_SECONDS)
    finally:
        workload.stop()
        print(workload.summary())

    status = cluster.admin("status", "--seed", cluster.seed())
    assert "3 shards" in status, status
    assert "s1 slots 0-4095 " in status and "s3 slots 4096-8191 " in status, status
    cluster.wait_ok()
    for node in cluster.running_nodes():
        table = cluster.slot_table(via=node)
        assert [(first, last) for first, last, _, _ in sorted(table)] == [(0, 4095), (4096, 8191), (8192, 16383)], table
        assert all(master is not None for _, _, master, _ in table), table
    assert workload.longest_stall_seconds() <= 1, workload.per_second()
    problems = workload.verify(cluster.cluster_client())
    assert not problems, f"{len(problems)} acknowledged writes lost or wrong:\n" + "\n".join(problems[:20])
    assert_linearizable(workload, cluster_binary)


@pytest.mark.timeout(240)
def test_adding_a_node_splits_a_shard_for_it(cluster_factory, measure):
    # Three nodes, three shards: every node leads one. A fourth node owes the cluster a
    # split; once placed, the new node leads a shard (write capacity grows with it).
    cluster = cluster_factory(nodes=3, shards=3)
    client = cluster.cluster_client()
    for n in range(300):
        client.set(f"grow:{n}", n)
    started = time.monotonic()
    node4 = cluster.add_node()

    def split_and_led():
        status = cluster.admin("status", "--seed", cluster.seed())
        led = {master for _, _, master, _ in cluster.slot_table(via=cluster.nodes[1])}
        return "4 shards" in status and "slot move " not in status and node4.id in led and status

    status = cluster.wait_until(split_and_led, 120, "a split after add-node, and the new node leading a shard")
    measure("add-node to split, moved and led by the new node", time.monotonic() - started, "s")
    print(status)
    assert all(client.get(f"grow:{n}") == str(n) for n in range(300))


@pytest.mark.timeout(240)
def test_a_merge_moves_a_shard_away_and_removes_it(cluster_factory, cluster_binary, assert_linearizable, measure):
    cluster = cluster_factory(nodes=3, shards=3)
    workload = Workload(cluster.cluster_client, threads=THREADS, keys_per_thread=KEYS_PER_THREAD).start()
    try:
        time.sleep(LOAD_BEFORE_MOVE_SECONDS)
        started = time.monotonic()
        printed = cluster.admin("merge", "--seed", cluster.seed(), "--shard", "2", "--into", "3", seconds=MOVE_SECONDS_MAX)
        measure("merge of a 5461-slot shard under load (command -> removed)", time.monotonic() - started, "s")
        assert "merged in" in printed, printed
        time.sleep(LOAD_AFTER_MOVE_SECONDS)
    finally:
        workload.stop()
        print(workload.summary())
    status = cluster.admin("status", "--seed", cluster.seed())
    assert "2 shards" in status and "s3 slots 5461-16383 " in status, status
    cluster.wait_until(lambda: all(node.cluster_info().get("trestle_replicas_here") == "2" for node in cluster.running_nodes()),
                       30, "every node dropped its replica of the merged shard")
    problems = workload.verify(cluster.cluster_client())
    assert not problems, f"{len(problems)} acknowledged writes lost or wrong:\n" + "\n".join(problems[:20])
    assert_linearizable(workload, cluster_binary)


@pytest.mark.timeout(120)
def test_hot_keys_and_shard_load_are_reported(cluster_factory, cluster_binary):
    cluster = cluster_factory(nodes=3, shards=3)
    client = cluster.cluster_client()
    client.set("hotspot", "x")
    deadline = time.monotonic() + 11.5  # longer than one 10 s window
    n = 0
    while time.monotonic() < deadline:
        client.get("hotspot")
        if n % 4 == 0:
            client.get(f"lukewarm:{n}")
        n += 1
    report = cluster.admin("hotkeys", "--seed", cluster.seed())
    print(report)
    lines = report.splitlines()
    keys = lines[lines.index(next(line for line in lines if line.startswith("hottest keys"))) + 1:]
    assert keys and keys[0].strip().startswith("hotspot (slot "), report
    hot_slot = client.keyslot("hotspot")
    slots = lines[1:lines.index(next(line for line in lines if line.startswith("hottest keys")))]
    assert slots and slots[0].strip().startswith(f"slot {hot_slot} "), report
    status = cluster.admin("status", "--seed", cluster.seed())
    print(status)
    shard_lines = [line for line in status.splitlines() if line.strip().startswith("s") and " ops/s " in line]
    assert len(shard_lines) == 3, status
    assert any(float(line.split(" ops/s ")[1].split()[0]) > 10 for line in shard_lines), status
    # This node's own view, in INFO's hotspots section (asked for by name).
    owner = cluster.nodes[master_of(cluster, hot_slot, via=cluster.nodes[1])]
    info = owner.client().info("hotspots")
    assert info.get("hot_key_1", {}).get("key") == "hotspot" or "key=hotspot" in str(info.get("hot_key_1")), info


@pytest.mark.timeout(120)
def test_a_client_blocked_on_a_moving_key_is_told_to_retry(cluster_factory):
    import threading
    cluster = cluster_factory(nodes=3, shards=2)
    client = cluster.cluster_client()
    key = "{blocked}queue"
    slot = client.keyslot(key)
    owner = cluster.nodes[master_of(cluster, slot, via=cluster.nodes[1])]
    outcome = {}

    def block():
        connection = owner.client(socket_timeout=60)
        try:
            outcome["reply"] = connection.blpop([key], timeout=0)
        except Exception as error:  # the reply is an error: what we expect
            outcome["error"] = str(error)

    waiter = threading.Thread(target=block, daemon=True)
    waiter.start()
    time.sleep(0.5)
    target = 2 if slot < 8192 else 1
    cluster.admin("move", "--seed", cluster.seed(), "--slots", f"{slot}-{slot}", "--to-shard", str(target), seconds=MOVE_SECONDS_MAX)
    waiter.join(timeout=10)
    assert not waiter.is_alive(), "the blocked client was never told its key moved"
    assert "TRYAGAIN" in outcome.get("error", "") or "moved" in outcome.get("error", ""), outcome
    client.rpush(key, "job")
    assert tuple(client.blpop([key], timeout=5)) == (key, "job")


@pytest.mark.timeout(240)
def test_a_move_of_many_keys_is_copied_in_batches(cluster_factory, measure):
    # About 40 MB in slots 0-999: the copy takes several 4 MiB batches.
    cluster = cluster_factory(nodes=3, shards=2)
    client = cluster.cluster_client()
    value = "v" * 1000
    keys = []
    n = 0
    while len(keys) < 40_000:
        key = f"bulk:{n}"
        n += 1
        if client.keyslot(key) < 1000:
            keys.append(key)
    for first in range(0, len(keys), 2000):
        pipe = client.pipeline(transaction=False)
        for key in keys[first:first + 2000]:
            pipe.set(key, value + key)
        pipe.execute()
    started = time.monotonic()
    printed = cluster.admin("move", "--seed", cluster.seed(), "--slots", "0-999", "--to-shard", "2", seconds=MOVE_SECONDS_MAX)
    measure(f"move of 1000 slots holding {len(keys)} keys of 1 KB (command -> flipped)", time.monotonic() - started, "s")
    assert "moved in" in printed, printed
    status = cluster.admin("status", "--seed", cluster.seed())
    assert "s2 slots 0-999,8192-16383 " in status, status
    target_keys = int(next(line for line in status.splitlines() if line.strip().startswith("s2 ")).split(" keys ")[1].split()[0])
    assert target_keys >= len(keys), status
    sample = keys[::97]
    assert client.mget_nonatomic(sample) == [value + key for key in sample]


def shard_lines(status):
    return [line.strip() for line in status.splitlines() if line.strip().startswith("s") and " slots " in line]


@pytest.mark.timeout(240)
def test_shards_split_by_size_and_merge_back_when_emptied(cluster_factory, measure):
    """With --split-keys 3000, two shards of 4,000 keys each split on their own; emptied,
    a shard that a split made merges back (down to one shard per node). Every key written
    stays readable throughout."""
    cluster = cluster_factory(nodes=3, shards=2, extra_args=["--split-keys", "3000", "--load-window", "2"])
    client = cluster.cluster_client()
    keys = [f"size:{n}" for n in range(8000)]
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, key)
    pipe.execute()

    started = time.monotonic()

    def settled_shards():
        status = cluster.admin("status", "--seed", cluster.seed())
        return None if "slot move " in status or "(moving)" in status else len(shard_lines(status))

    cluster.wait_until(lambda: settled_shards() == 4, 120, "both shards split on their own")
    measure("automatic splits of 2 shards of 4000 keys (written -> 4 shards)", time.monotonic() - started, "s")
    status = cluster.admin("status", "--seed", cluster.seed())
    assert all(" keys " in line and " bytes " in line for line in shard_lines(status)), status
    values = [client.get(key) for key in keys[::16]]
    assert values == keys[::16]

    started = time.monotonic()
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.delete(key)
    pipe.execute()
    client.set("survivor", "here")
    cluster.wait_until(lambda: settled_shards() == 3, 120, "a split shard merged back once emptied")
    measure("automatic merge of an emptied split shard (deleted -> 3 shards)", time.monotonic() - started, "s")
    time.sleep(3)  # no further merge below one shard per node
    assert settled_shards() == 3
    assert client.get("survivor") == "here"


@pytest.mark.timeout(600)
def test_a_cluster_grown_from_3_to_12_nodes_splits_and_spreads_on_its_own(cluster_factory, measure):
    """Created with --shards 3 on 3 nodes and loaded, then grown to 12 nodes with
    add-node alone: the cluster splits to 12 shards and every node leads one, and every
    key written before and during the growth stays readable."""
    cluster = cluster_factory(nodes=3, shards=3)
    client = cluster.cluster_client()
    for n in range(2000):
        client.set(f"twelve:{n}", n)
    started = time.monotonic()
    for _ in range(9):
        cluster.add_node()
        for n in range(2000, 2050):
            client.set(f"twelve:{n}:{len(cluster.nodes)}", n)

    last = {}

    def spread():
        status = last["status"] = cluster.admin("status", "--seed", cluster.seed())
        led = {master for _, _, master, _ in cluster.slot_table(via=cluster.nodes[1])}
        settled = "slot move " not in status and "(moving)" not in status
        return settled and len(shard_lines(status)) == 12 and led == set(cluster.nodes) and status

    try:
        status = cluster.wait_until(spread, 240, "12 shards, each node leading one")
    except Exception:
        print(last.get("status"))
        raise
    measure("growth from 3 to 12 nodes (first add-node -> 12 shards, each node leading one)", time.monotonic() - started, "s")
    print(status)
    client = cluster.cluster_client()
    assert all(client.get(f"twelve:{n}") == str(n) for n in range(0, 2000, 7))
    for size in range(4, 13):
        assert all(client.get(f"twelve:{n}:{size}") == str(n) for n in range(2000, 2050, 5))
