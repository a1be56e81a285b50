"""A rolling restart under load: every node of a 3-node cluster is stopped with SIGTERM
and started again in turn, in the order `trestle cluster restart-plan` prints, waiting
for `trestle cluster wait-healthy` between nodes, while clients write and read.

Checked on what the clients recorded: no request failed (redirects and -TRYAGAIN are
retried by redis-py's cluster client, as by any cluster client); every acknowledged SET
reads back; every counter ends at the last value an INCR acknowledged. A planted bug (a
draining node that does not hand its leadership over) makes requests fail: see
`test_a_hard_stop_is_what_the_handover_avoids`.
"""

import re
import subprocess
import threading
import time

import pytest
import redis

WRITERS = 3
COUNTERS_PER_WRITER = 10


class Writer(threading.Thread):
    """SETs unique keys and INCRs its own counters until stopped, reading each SET back."""

    def __init__(self, cluster, index):
        super().__init__(daemon=True)
        self.client = cluster.cluster_client(socket_timeout=5)
        self.index = index
        self.written = {}
        self.counters = {}
        self.failures = []
        self.requests = 0
        self.stopping = threading.Event()

    def run(self):
        i = 0
        while not self.stopping.is_set():
            key, counter = f"w{self.index}:k{i}", f"w{self.index}:c{i % COUNTERS_PER_WRITER}"
            try:
                self.client.set(key, str(i))
                self.written[key] = str(i)
                self.counters[counter] = self.client.incr(counter)
                got = self.client.get(key)
                if got != str(i):
                    self.failures.append(f"GET {key} answered {got!r} after SET {i}")
                self.requests += 3
            except redis.RedisError as error:
                self.failures.append(f"{type(error).__name__}: {error}")
            i += 1

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


def restart_order(cluster):
    plan = cluster.admin("restart-plan", "--seed", cluster.seed())
    return [int(number) for number in re.findall(r"^\d+\. node (\d+) ", plan, re.MULTILINE)]


def test_every_node_restarts_in_turn_under_load_with_no_failed_request(cluster_factory, measure):
    cluster = cluster_factory(nodes=3, shards=8)
    order = restart_order(cluster)
    assert sorted(order) == [1, 2, 3], order
    cluster.admin("wait-healthy", "--seed", cluster.seed(), "--timeout", "60")
    writers = [Writer(cluster, index) for index in range(WRITERS)]
    for writer in writers:
        writer.start()
    time.sleep(1)
    started = time.monotonic()
    for node_id in order:
        node = cluster.nodes[node_id]
        code = node.stop()
        assert code == 0, f"node {node_id} exited {code} on SIGTERM"
        assert "still leading" not in node.stderr(), node.log_tail()
        node.start()
        other = next(n for n in cluster.running_nodes() if n.id != node_id)
        cluster.admin("wait-healthy", "--seed", f"127.0.0.1:{other.port}", "--timeout", "90", seconds=120)
    elapsed = time.monotonic() - started
    time.sleep(1)
    for writer in writers:
        writer.stop()
    measure("rolling restart of 3 nodes under load", elapsed, "s")
    requests = sum(writer.requests for writer in writers)
    failures = [failure for writer in writers for failure in writer.failures]
    assert requests > 300, f"the writers got only {requests} requests through"
    assert not failures, f"{len(failures)} failed requests of {requests}, e.g. {failures[:5]}"
    checker = cluster.cluster_client()
    for writer in writers:
        for key, value in writer.written.items():
            assert checker.get(key) == value, key
        for counter, value in writer.counters.items():
            assert int(checker.get(counter)) == value, counter


def test_a_hard_stop_is_what_the_handover_avoids(cluster_factory):
    """The test above can fail: SIGKILL (no hand-over, no draining) under the same load
    leaves requests waiting for a new leader, which time out or fail for a client with a
    short timeout. This checks that the writer records those failures."""
    cluster = cluster_factory(nodes=3, shards=8)
    leaders = cluster.slots_led()
    busiest = max(leaders, key=lambda node_id: leaders[node_id])
    writer = Writer(cluster, 0)
    writer.client = cluster.cluster_client(socket_timeout=0.3, cluster_error_retry_attempts=1)
    writer.start()
    time.sleep(1)
    cluster.nodes[busiest].kill()
    time.sleep(4)
    writer.stop()
    assert writer.failures, "killing a leader under load went unnoticed by a client with a 0.3 s timeout"
