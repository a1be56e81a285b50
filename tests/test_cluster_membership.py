"""Elasticity under load: a 4th node is added to a 3-node cluster with `trestle cluster
add-node` while a RedisCluster workload runs, then an original node is removed with
`trestle cluster remove-node`. Throughput must never stay at zero for more than
STALL_SECONDS_MAX consecutive seconds, the new node must end up holding replicas and
leading shards, the removed node must hold nothing, every acknowledged write must stay
readable (also after the removed node's process is stopped), and the history must be
linearizable. Rebalance times (command -> settled) are measured.
"""

import time

import pytest

from workload import Workload

pytestmark = pytest.mark.cluster

THREADS = 3
KEYS_PER_THREAD = 300
LOAD_BEFORE_CHANGE_SECONDS = 3.0
LOAD_AFTER_CHANGE_SECONDS = 2.0
STALL_SECONDS_MAX = 3
SETTLE_SECONDS_MAX = 90.0


def holdings(cluster, node_id, via):
    """(slots led, slots replicated) by a node, from one node's CLUSTER SLOTS."""
    led = replicated = 0
    for first, last, master, replicas in cluster.slot_table(via=via):
        count = last - first + 1
        if master == node_id:
            led += count
        elif node_id in replicas:
            replicated += count
    return led, replicated


@pytest.mark.timeout(240)
def test_add_then_remove_a_node_under_load(cluster_factory, cluster_binary, measure, assert_linearizable):
    cluster = cluster_factory(nodes=3)
    workload = Workload(cluster.cluster_client, threads=THREADS, keys_per_thread=KEYS_PER_THREAD).start()
    try:
        time.sleep(LOAD_BEFORE_CHANGE_SECONDS)
        change_second = int(time.monotonic() - workload.started_at)

        added_at = time.monotonic()
        node4 = cluster.add_node()
        cluster.wait_settled(seconds=SETTLE_SECONDS_MAX,
                             also=lambda: holdings(cluster, node4.id, via=cluster.nodes[1])[0] > 0)
        measure("rebalance after add-node (command -> settled)", time.monotonic() - added_at, "s")
        led, replicated = holdings(cluster, node4.id, via=cluster.nodes[1])
        print(f"node 4 leads {led} slots and follows {replicated} more")
        assert led > 0, "the added node leads no shard"
        assert led + replicated >= 16384 * cluster.replicas // 4 // 2, \
            f"the added node holds too little: leads {led}, follows {replicated} slots"
        time.sleep(LOAD_AFTER_CHANGE_SECONDS)

        removed = cluster.nodes[2]
        removed_at = time.monotonic()
        cluster.remove_node(removed.id)
        remaining = [1, 3, node4.id]
        cluster.wait_settled(node_ids=remaining, seconds=SETTLE_SECONDS_MAX,
                             also=lambda: holdings(cluster, removed.id, via=cluster.nodes[1]) == (0, 0))
        measure("rebalance after remove-node (command -> settled)", time.monotonic() - removed_at, "s")
        time.sleep(LOAD_AFTER_CHANGE_SECONDS)
    finally:
        workload.stop()  # raises with the summary if a client call is stuck
        print(workload.summary())  # also when the test failed inside the try
    stall = workload.longest_stall_seconds(since=change_second)
    assert stall <= STALL_SECONDS_MAX, f"throughput was zero for {stall} s in a row: {workload.per_second()}"

    removed.stop()  # its data must already live elsewhere
    cluster.wait_ok(node_ids=remaining)
    problems = workload.verify(cluster.cluster_client())
    assert not problems, f"{len(problems)} acknowledged writes lost or wrong:\n" + "\n".join(problems[:20])
    assert_linearizable(workload, cluster_binary)
