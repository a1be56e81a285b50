"""Partitions on loopback with the project's fault proxy (tests/faultproxy.py) on every peer
link of a 3-node cluster, while a RedisCluster workload runs against the majority:

- a node is cut off (links cut both ways; or blackholed both ways, so packets vanish
  silently; or only what it sends is dropped): writes sent to it for slots it led must
  never succeed and, once an election timeout has passed, must fail with a clear error
  (CLUSTERDOWN, TRYAGAIN or MOVED); the majority elects new leaders and accepts writes to
  those slots; after healing every node reports cluster_state:ok, nothing acknowledged is
  lost and the history is linearizable;
- a node's links are slowed: the cluster keeps serving without long stalls, nothing is lost.
"""

import threading
import time

import pytest
import redis
from redis.cluster import ClusterNode as Seed, RedisCluster

from workload import Workload, error_name, reply_error_code

pytestmark = pytest.mark.cluster

THREADS = 3
KEYS_PER_THREAD = 200
LOAD_BEFORE_FAULT_SECONDS = 2.0
PARTITION_SECONDS = 6.0
ELECTION_GRACE_SECONDS = 3.0  # after this, the minority must answer with a clear error
MAJORITY_WRITE_SECONDS_MAX = 15.0
LOAD_AFTER_HEAL_SECONDS = 2.0
HEAL_SECONDS_MAX = 30.0
CLEAR_ERRORS = ("CLUSTERDOWN", "TRYAGAIN", "MOVED")
MINORITY_REPLY_SECONDS_MAX = 5.0  # a write pending when the leader steps down may wait that long
LINK_DELAY_MS = 100
MINORITY_CLIENT_ID = 2000  # its own client id in the history
DELAY_SECONDS = 6.0
DELAY_STALL_SECONDS_MAX = 3


def apply_fault(cluster, fault, node_id):
    if fault == "cut":
        cluster.isolate(node_id)
    elif fault == "blackhole":
        for proxy in cluster.links_of(node_id):
            proxy.blackhole("both")
    elif fault == "drop-outgoing":
        cluster.drop_outgoing(node_id)
    else:
        raise AssertionError(f"unknown fault {fault}")


def write_to_minority(node, key, seconds, recorder, since):
    """Writes `key` directly on `node` (no redirect following) for `seconds`; records each
    attempt and returns [(seconds since the fault, outcome text)]."""
    client = node.client(socket_timeout=MINORITY_REPLY_SECONDS_MAX)
    outcomes = []
    deadline = time.monotonic() + seconds
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        value = f"minority-{attempt}"
        started = time.monotonic()
        start_ns = time.monotonic_ns()
        try:
            client.set(key, value)
            outcome, text = "ok", "SUCCESS"
        except redis.exceptions.RedisError as error:
            code = reply_error_code(error)
            outcome, text = "info", (f"{code} {error}" if code else error_name(error))
        recorder.record(MINORITY_CLIENT_ID, key, "set", value, start_ns, time.monotonic_ns(), outcome)
        outcomes.append((started - since, text))
        time.sleep(0.1)
    client.close()
    return outcomes


def first_write(client, key, seconds, since):
    """Writes `key` until a write succeeds; returns the seconds from `since` to it."""
    deadline = time.monotonic() + seconds
    last_error = None
    while time.monotonic() < deadline:
        try:
            client.set(key, "majority")
            return time.monotonic() - since
        except redis.exceptions.RedisError as error:
            last_error = error
            time.sleep(0.05)
    raise AssertionError(f"the majority accepted no write to {key} within {seconds} s: {last_error!r}")


def finish(cluster, workload, binary, assert_linearizable):
    """After the workload stopped: every acknowledged write readable, history linearizable."""
    problems = workload.verify(cluster.cluster_client())
    assert not problems, f"{len(problems)} acknowledged writes lost or wrong:\n" + "\n".join(problems[:20])
    assert_linearizable(workload, binary)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", ["cut", "blackhole", "drop-outgoing"])
def test_a_partitioned_leader_refuses_writes_and_the_majority_goes_on(fault, cluster_factory, cluster_binary,
                                                                     measure, assert_linearizable):
    cluster = cluster_factory(nodes=3, fault_proxies=True)
    victim, victim_slots = cluster.busiest_leader()
    majority = [node for node in cluster.nodes.values() if node is not victim]
    workload = Workload(cluster.cluster_client, threads=THREADS, keys_per_thread=KEYS_PER_THREAD).start()
    try:
        time.sleep(LOAD_BEFORE_FAULT_SECONDS)
        minority_key = cluster.key_in_slots(victim_slots, prefix=f"{workload.prefix}:minority")
        majority_key = cluster.key_in_slots(victim_slots, prefix=f"{workload.prefix}:majority")
        faulted_at = time.monotonic()
        apply_fault(cluster, fault, victim.id)
        print(f"{fault} on node {victim.id}, which led {len(victim_slots)} slots")

        # Only the majority is asked for the slot map: the cut-off node's view may be stale.
        majority_client = RedisCluster(startup_nodes=[Seed("127.0.0.1", node.port) for node in majority],
                                       dynamic_startup_nodes=False, decode_responses=True, protocol=2,
                                       socket_timeout=2)
        minority = {}
        probe = threading.Thread(
            target=lambda: minority.setdefault("outcomes", write_to_minority(
                victim, minority_key, PARTITION_SECONDS, workload.recorder, faulted_at)), daemon=True)
        probe.start()
        elected = first_write(majority_client, majority_key, MAJORITY_WRITE_SECONDS_MAX, since=faulted_at)
        measure(f"{fault}: partition -> majority write to a slot the cut node led", elected, "s")
        probe.join(PARTITION_SECONDS + 10)
        assert not probe.is_alive(), "the minority writer hung"

        outcomes = minority["outcomes"]
        print("minority replies:", sorted({text for _, text in outcomes}))
        succeeded = [(round(at, 2), text) for at, text in outcomes if text == "SUCCESS"]
        assert not succeeded, f"the cut-off node acknowledged {len(succeeded)} writes, first at {succeeded[:5]}"
        unclear = [(round(at, 2), text) for at, text in outcomes
                   if at >= ELECTION_GRACE_SECONDS and not text.startswith(CLEAR_ERRORS)]
        assert not unclear, f"after {ELECTION_GRACE_SECONDS} s the cut-off node still answered unclearly: {unclear[:10]}"
        assert any(at >= ELECTION_GRACE_SECONDS for at, _ in outcomes), "the minority writer made no late attempt"

        cluster.heal()
        healed_at = time.monotonic()
        cluster.wait_ok(seconds=HEAL_SECONDS_MAX)
        measure(f"{fault}: heal -> cluster_state:ok everywhere", time.monotonic() - healed_at, "s")
        time.sleep(LOAD_AFTER_HEAL_SECONDS)
    finally:
        workload.stop()  # raises with the summary if a client call is stuck
        print(workload.summary())  # also when the test failed inside the try
    assert majority_client.get(majority_key) == "majority"
    finish(cluster, workload, cluster_binary, assert_linearizable)


@pytest.mark.timeout(90)
def test_slow_links_keep_the_cluster_serving(cluster_factory, cluster_binary, measure, assert_linearizable):
    cluster = cluster_factory(nodes=3, fault_proxies=True)
    victim, _ = cluster.busiest_leader()
    workload = Workload(cluster.cluster_client, threads=THREADS, keys_per_thread=KEYS_PER_THREAD).start()
    try:
        time.sleep(LOAD_BEFORE_FAULT_SECONDS)
        fault_second = int(time.monotonic() - workload.started_at)
        successes_before = workload.successes()
        cluster.delay_links_of(victim.id, LINK_DELAY_MS)
        time.sleep(DELAY_SECONDS)
        during = workload.successes() - successes_before
        cluster.heal()
        cluster.wait_ok(seconds=HEAL_SECONDS_MAX)
        time.sleep(LOAD_AFTER_HEAL_SECONDS)
    finally:
        workload.stop()  # raises with the summary if a client call is stuck
        print(workload.summary())  # also when the test failed inside the try
    counts = workload.per_second()
    measure(f"{LINK_DELAY_MS} ms links: mean ops/s while slowed",
            sum(counts[fault_second:fault_second + int(DELAY_SECONDS)]) / DELAY_SECONDS, "ops/s")
    assert during > 0, "no operation completed while the links were slow"
    stall = workload.longest_stall_seconds(since=fault_second)
    assert stall <= DELAY_STALL_SECONDS_MAX, f"zero throughput for {stall} s with slow links: {counts}"
    finish(cluster, workload, cluster_binary, assert_linearizable)
