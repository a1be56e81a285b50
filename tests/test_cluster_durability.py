"""Whole-cluster crashes: every node is SIGKILLed at once in the middle of a RedisCluster
load, several times, and restarted from its own disk. With the default --fsync always, an
acknowledged write was on a majority's disk, so after every restart every acknowledged
write is readable with its last acknowledged value (or a later unacknowledged one), and the
whole history stays linearizable.

Also: a node that stays dead longer than --dead-node-timeout has its replicas rebuilt on
the remaining nodes, with every key still readable.
"""

import time

import pytest

from workload import Workload

pytestmark = pytest.mark.cluster

ROUNDS = 3
LOAD_SECONDS = 2.5


@pytest.mark.timeout(180)
def test_killing_every_node_at_once_loses_no_acknowledged_write(cluster_factory, cluster_binary, measure,
                                                                assert_linearizable):
    cluster = cluster_factory(nodes=3)
    workload = Workload(cluster.cluster_client, threads=4, keys_per_thread=400).start()
    try:
        for round_number in range(ROUNDS):
            time.sleep(LOAD_SECONDS)
            before = workload.successes()
            for node in cluster.nodes.values():
                node.kill()
            killed_at = time.monotonic()
            for node in cluster.nodes.values():
                node.restart()
            cluster.wait_ok()
            measure(f"round {round_number + 1}: kill all -> cluster_state:ok", time.monotonic() - killed_at, "s")
            assert before > 0, "nothing was acknowledged before the crash"
        time.sleep(LOAD_SECONDS)
    finally:
        workload.stop()
        print(workload.summary())
    problems = workload.verify(cluster.cluster_client())
    assert not problems, f"{len(problems)} acknowledged writes lost or wrong:\n" + "\n".join(problems[:20])
    assert_linearizable(workload, cluster_binary)


@pytest.mark.timeout(150)
def test_a_node_dead_too_long_has_its_replicas_rebuilt_elsewhere(cluster_factory, measure):
    cluster = cluster_factory(nodes=4, extra_args=["--dead-node-timeout", "4"])
    client = cluster.cluster_client()
    for n in range(300):
        client.set(f"dead:{n}", f"v{n}")
    victim = cluster.nodes[4]
    victim.kill()
    killed_at = time.monotonic()
    survivors = [1, 2, 3]

    def victim_holds_nothing():
        status = cluster.nodes[1].command_reply("TRESTLE", "STATUS")
        text = status.decode() if isinstance(status, bytes) else str(status)
        return " n4 " not in text and "n4," not in text and ",n4" not in text

    cluster.wait_until(victim_holds_nothing, seconds=90, what="node 4's replicas rebuilt elsewhere and node 4 forgotten")
    cluster.wait_settled(node_ids=survivors, seconds=60)
    measure("dead node (4 s timeout): kill -> replicas rebuilt, node forgotten", time.monotonic() - killed_at, "s")
    client = cluster.cluster_client()
    for n in range(300):
        assert client.get(f"dead:{n}") == f"v{n}"
