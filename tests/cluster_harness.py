"""Real-process cluster harness: starts `trestle node` processes on loopback, optionally
with a fault proxy (tests/faultproxy.py) on every peer link, and kills, restarts, adds and
removes nodes by pid while a test runs.

The cluster's command line (issue 4):
    trestle node --id N --port P --peer-port PP --host 127.0.0.1 --dir DIR
                 [--bootstrap SPEC] [--shards S] [--replicas R] [--proxy]
                 [--peer-route ID=HOST:PORT]... [--fsync always|no]
SPEC is `ID@HOST:PORT:PEERPORT,...`. The lower id dials the higher id's peer port, so the
proxy on link (i, j), i < j, listens where node i dials node j (`--peer-route j=...` on
node i) and forwards to node j's peer port: its "up" direction is i -> j, "down" j -> i.

Invariants:
- Every process listens on 127.0.0.1 only, on ports the kernel just handed out; a node
  keeps its ports across restarts (the bootstrap SPEC names them).
- stdout and stderr of every run go to files under the cluster's base directory, so they
  can be read at any time and printed when a test fails (`Cluster.logs()`).
- Every wait is bounded (named `...SecondsMax` limits below) and raises ClusterError with
  the node logs' tails when it expires.
- `Cluster.stop()` stops every process and proxy the harness started, by pid: SIGTERM, a
  bounded wait, then SIGKILL. Nothing is killed by name.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from faultproxy import FaultProxy
from ports import loopback_port

READY_MARKER = "Ready to accept connections"
nodeStartSecondsMax = 30.0
clusterOkSecondsMax = 60.0
settleSecondsMax = 120.0
stopSecondsMax = 10.0
adminSecondsMax = 30.0
leadersStableSecondsMax = 30.0
leadersStablePollSeconds = 1.0
leadersSpreadSecondsMax = 10.0
adminSettleSecondsMax = settleSecondsMax + 30.0
logTailLinesMax = 60
pollSeconds = 0.05


REPO_ROOT = Path(__file__).resolve().parent.parent


def find_trestle_binary():
    """$TRESTLE_BIN, else the release build, else the debug build (as tests/conftest.py)."""
    explicit = os.environ.get("TRESTLE_BIN")
    if explicit:
        return str(Path(explicit).resolve())
    for candidate in (REPO_ROOT / ".build/release/trestle", REPO_ROOT / ".build/debug/trestle"):
        if candidate.exists():
            return str(candidate)
    return None


class ClusterError(Exception):
    """A node failed to start, a wait expired, or an admin command failed."""


def parse_info(text):
    """`key:value` lines of an INFO-style reply as a dict of str."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            fields[key] = value
    return fields


def _text(reply):
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


class ClusterNode:
    """One `trestle node` process; its data directory and ports outlive the process."""

    def __init__(self, binary, node_id, port, peer_port, data_dir, log_dir, args=()):
        self.binary = binary
        self.id = node_id
        self.port = port
        self.peer_port = peer_port
        self.dir = str(data_dir)
        self.log_dir = Path(log_dir)
        self.args = list(args)  # everything after --dir: bootstrap, shards, routes, ...
        self.process = None
        self.password = None  # the cluster's --requirepass: every client this harness opens sends it
        self.extra_node_args = []  # flags for this node only (e.g. its --tls-port)
        self.runs = 0
        self.stdout_path = None
        self.stderr_path = None

    @property
    def spec(self):
        return f"{self.id}@127.0.0.1:{self.port}:{self.peer_port}"

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def command(self):
        return [self.binary, "node", "--id", str(self.id), "--port", str(self.port),
                "--peer-port", str(self.peer_port), "--host", "127.0.0.1", "--dir", self.dir, *self.args]

    def launch(self):
        """Starts the process without waiting; `wait_ready()` waits for its Ready line."""
        assert not self.running(), f"node {self.id} already running"
        self.runs += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.log_dir / f"node-{self.id}.run{self.runs}.stdout"
        self.stderr_path = self.log_dir / f"node-{self.id}.run{self.runs}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, seconds=nodeStartSecondsMax):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if READY_MARKER in self.stdout():
                return self
            if self.process.poll() is not None:
                raise ClusterError(f"node {self.id} exited ({self.process.returncode}) before Ready\n{self.log_tail()}")
            time.sleep(pollSeconds)
        raise ClusterError(f"node {self.id} not Ready within {seconds} s\n{self.log_tail()}")

    def start(self):
        return self.launch().wait_ready()

    def running(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """SIGKILL by pid, as a crash; returns once the process is gone."""
        if self.running():
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=stopSecondsMax)

    def stop(self):
        """SIGTERM, a bounded wait, then SIGKILL. Returns the exit code (None if never run)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            os.kill(self.process.pid, signal.SIGCONT)  # a paused node must run to handle SIGTERM
            try:
                self.process.wait(timeout=stopSecondsMax)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=stopSecondsMax)
        return self.process.returncode

    def pause(self):
        """SIGSTOP: the process stays alive but stops answering (a hung node)."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def restart(self):
        """Starts again on the same directory and ports (after kill() or stop())."""
        return self.start()

    def stdout(self):
        return self.stdout_path.read_text(errors="replace") if self.stdout_path else ""

    def stderr(self):
        return self.stderr_path.read_text(errors="replace") if self.stderr_path else ""

    def log_tail(self, lines=logTailLinesMax):
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            if path and path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name} (last {len(tail)} lines) ---\n" + "\n".join(tail))
        return "\n".join(parts) or f"(node {self.id} has no output)"

    def client(self, **kwargs):
        """A plain (non-cluster) RESP2 client of this node, decoding replies to str."""
        kwargs.setdefault("socket_timeout", 5)
        kwargs.setdefault("socket_connect_timeout", 2)
        kwargs.setdefault("protocol", 2)
        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("password", self.password)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def command_reply(self, *args, timeout=2.0):
        """One command on a fresh connection; the reply as redis-py returns it raw."""
        client = self.client(socket_timeout=timeout)
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    def cluster_info(self, timeout=2.0):
        """CLUSTER INFO as a dict; raises redis errors if the node does not answer."""
        return parse_info(_text(self.command_reply("CLUSTER", "INFO", timeout=timeout)))


class Cluster:
    """N nodes bootstrapped from one SPEC, optional fault proxies on the peer links.

    `Cluster(binary, base_dir, nodes=3).start()` starts every node, waits for each Ready
    line, then for `cluster_state:ok` on every node. Node ids are 1..N.
    """

    def __init__(self, binary, base_dir, nodes=3, shards=16, replicas=3, proxy_mode=False,
                 fault_proxies=False, fsync="always", extra_args=(), password=None):
        self.binary = binary
        self.base_dir = Path(base_dir)
        self.password = password
        # Every test cluster authenticates its peer links with a shared secret, as a
        # cluster spread over machines must.
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.secret_file = self.base_dir / "cluster.secret"
        if not self.secret_file.exists():
            self.secret_file.write_text(os.urandom(32).hex() + "\n")
            os.chmod(self.secret_file, 0o600)
        self.shards = shards
        self.replicas = replicas
        self.proxy_mode = proxy_mode
        self.fsync = fsync
        self.extra_args = list(extra_args)
        self.nodes = {}
        self.links = {}  # (i, j) with i < j -> FaultProxy on the link i -> j
        for node_id in range(1, nodes + 1):
            self.nodes[node_id] = self._make_node(node_id)
        self.initial_ids = list(self.nodes)
        self.bootstrap = ",".join(self.nodes[i].spec for i in self.initial_ids)
        if fault_proxies:
            for i in self.initial_ids:
                for j in self.initial_ids:
                    if i < j:
                        self.links[(i, j)] = FaultProxy(("127.0.0.1", self.nodes[j].peer_port), name=f"link{i}-{j}")
        # Node arguments are set in start(), once the proxies have their ports.

    def _make_node(self, node_id):
        port, peer_port = loopback_port(), loopback_port()
        node = ClusterNode(self.binary, node_id, port, peer_port, self.base_dir / f"node-{node_id}",
                           self.base_dir / "logs")
        node.password = self.password
        return node

    def _node_args(self, node_id, bootstrap):
        args = []
        if bootstrap:
            args += ["--bootstrap", self.bootstrap]
        args += ["--shards", str(self.shards), "--replicas", str(self.replicas), "--fsync", self.fsync,
                 "--cluster-secret-file", str(self.secret_file)]
        if self.password:
            args += ["--requirepass", self.password]
        if self.proxy_mode:
            args.append("--proxy")
        for (i, j), proxy in sorted(self.links.items()):
            if i == node_id:
                args += ["--peer-route", f"{j}={proxy.address}"]
        own = self.nodes[node_id].extra_node_args if node_id in self.nodes else []  # add_node asks before adding
        return args + self.extra_args + own

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self, wait_ok=True, stable_leaders=True):
        """Starts the proxies and nodes; with wait_ok, waits for cluster_state:ok everywhere
        and, with stable_leaders, until every node reports the same shard leaders twice in
        a row (right after bootstrap, leaders are handed over to spread them)."""
        for proxy in self.links.values():
            proxy.start()
        for node_id in self.initial_ids:
            self.nodes[node_id].args = self._node_args(node_id, bootstrap=True)  # routes now have ports
            self.nodes[node_id].launch()
        for node_id in self.initial_ids:
            self.nodes[node_id].wait_ready()
        if wait_ok:
            self.wait_ok()
            if stable_leaders:
                self.wait_leaders_stable()
        return self

    def stop(self):
        """Stops every node and proxy; safe to call twice. Returns {id: exit code}."""
        codes = {}
        for node_id, node in self.nodes.items():
            try:
                codes[node_id] = node.stop()
            except (OSError, subprocess.SubprocessError):
                node.process.kill()
                codes[node_id] = None
        for proxy in self.links.values():
            proxy.stop()
        return codes

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def running_nodes(self):
        return [node for node in self.nodes.values() if node.running()]

    # ---- waiting ------------------------------------------------------------------------

    def wait_until(self, predicate, seconds, what):
        """Polls `predicate()` until it returns a truthy value; returns it or raises."""
        deadline = time.monotonic() + seconds
        last_error = None
        while time.monotonic() < deadline:
            try:
                value = predicate()
                if value:
                    return value
            except (redis.RedisError, OSError) as error:
                last_error = error
            time.sleep(pollSeconds * 4)
        raise ClusterError(f"{what}: not within {seconds} s (last error: {last_error!r})\n{self.logs()}")

    def wait_ok(self, node_ids=None, seconds=clusterOkSecondsMax):
        """Waits for `cluster_state:ok` on each given node (default: every running node)."""
        ids = node_ids or [node.id for node in self.running_nodes()]

        def all_ok():
            return all(self.nodes[i].cluster_info().get("cluster_state") == "ok" for i in ids)

        return self.wait_until(all_ok, seconds, f"cluster_state:ok on nodes {ids}")

    def leader_view(self):
        """{node id: its CLUSTER SLOTS as ((first, last, master id), ...)} for running nodes."""
        return {node.id: tuple((first, last, master) for first, last, master, _ in self.slot_table(via=node))
                for node in self.running_nodes()}

    def wait_leaders_stable(self, seconds=leadersStableSecondsMax):
        """Waits until every running node reports the same slot leaders, unchanged over
        `leadersStablePollSeconds`, and (for up to `leadersSpreadSecondsMax` of that) spread
        evenly over the nodes: right after bootstrap, leaders are handed over to the nodes
        placement prefers, and a view taken mid-way is stable for a moment too."""
        previous = [None]
        spread_deadline = time.monotonic() + leadersSpreadSecondsMax

        def even(view):
            counts = {node.id: 0 for node in self.running_nodes()}
            for master in {(first, last): master for first, last, master in view}.values():
                counts[master] = counts.get(master, 0) + 1
            return max(counts.values()) - min(counts.values()) <= 1

        def stable():
            views = self.leader_view()
            agreed = len(set(views.values())) == 1
            current = next(iter(views.values())) if agreed else None
            same = agreed and current == previous[0] and (even(current) or time.monotonic() > spread_deadline)
            previous[0] = current
            if not same:
                time.sleep(leadersStablePollSeconds)
            return same

        return self.wait_until(stable, seconds, "the same shard leaders on every node, twice in a row")

    def wait_settled(self, node_ids=None, seconds=settleSecondsMax, also=None):
        """Waits until each given node (default: every running node) says `cluster_state:ok`
        and `trestle_moves_pending:0`, and `also()` (if given) is true."""

        def settled():
            if also is not None and not also():
                return False
            for node in (self.nodes[i] for i in node_ids) if node_ids else self.running_nodes():
                info = node.cluster_info()
                if info.get("cluster_state") != "ok" or info.get("trestle_moves_pending") != "0":
                    return False
            return True

        return self.wait_until(settled, seconds, "cluster settled (ok, no moves pending)")

    # ---- topology -----------------------------------------------------------------------

    def node_by_port(self, port):
        for node in self.nodes.values():
            if node.port == int(port):
                return node
        return None

    def slot_table(self, via=None):
        """CLUSTER SLOTS from one node as [(first, last, master_id, [replica ids])]."""
        asker = via or self.running_nodes()[0]
        table = []
        for entry in asker.command_reply("CLUSTER", "SLOTS"):
            first, last, master = int(entry[0]), int(entry[1]), entry[2]
            master_node = self.node_by_port(master[1])
            replicas = [self.node_by_port(r[1]) for r in entry[3:]]
            table.append((first, last, master_node.id if master_node else None,
                          [r.id for r in replicas if r is not None]))
        return table

    def slots_led(self, via=None):
        """{node id: set of slots} of the shard leaders (CLUSTER SLOTS masters)."""
        led = {}
        for first, last, master, _ in self.slot_table(via):
            led.setdefault(master, set()).update(range(first, last + 1))
        return led

    def busiest_leader(self, via=None):
        """The node that leads the most slots (with equal-sized shards: the most shards)."""
        led = self.slots_led(via)
        node_id = max((i for i in led if i is not None), key=lambda i: len(led[i]))
        return self.nodes[node_id], led[node_id]

    def key_in_slots(self, slots, prefix="k"):
        """A key whose hash slot is in `slots` (searched locally with Redis's CRC16)."""
        for n in range(1_000_000):
            key = f"{prefix}{n}"
            if key_slot(key) in slots:
                return key
        raise ClusterError("no key found for the given slots")

    def cluster_client(self, **kwargs):
        """A redis-py RedisCluster seeded with every running node, RESP2, str replies."""
        from redis.cluster import ClusterNode as Seed, RedisCluster
        kwargs.setdefault("socket_timeout", 3)
        kwargs.setdefault("socket_connect_timeout", 2)
        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("protocol", 2)
        kwargs.setdefault("password", self.password)
        seeds = [Seed("127.0.0.1", node.port) for node in self.running_nodes()]
        return RedisCluster(startup_nodes=seeds, **kwargs)

    # ---- faults on peer links -----------------------------------------------------------

    def link(self, a, b):
        """The proxy on the link between nodes a and b (either order)."""
        return self.links[(min(a, b), max(a, b))]

    def links_of(self, node_id):
        return [proxy for (i, j), proxy in self.links.items() if node_id in (i, j)]

    def isolate(self, node_id):
        """Cuts every peer link of a node, both ways."""
        assert self.links, "cluster started without fault proxies"
        for proxy in self.links_of(node_id):
            proxy.cut()

    def drop_outgoing(self, node_id):
        """Discards everything the node sends on its peer links; what it receives still arrives."""
        for (i, j), proxy in self.links.items():
            if node_id == i:
                proxy.blackhole("up")
            elif node_id == j:
                proxy.blackhole("down")

    def delay_links_of(self, node_id, ms):
        for proxy in self.links_of(node_id):
            proxy.delay(ms, "both")

    def heal(self):
        for proxy in self.links.values():
            proxy.heal()

    # ---- membership ---------------------------------------------------------------------

    def admin(self, *args, seconds=adminSecondsMax):
        """Runs `trestle cluster ARGS...`; returns its stdout, raises with output on failure."""
        command = [self.binary, "cluster", *args]
        if self.password:
            command += ["--password", self.password]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds)
        except subprocess.TimeoutExpired as error:
            printed = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
            status = self._status_or_why()
            raise ClusterError(f"{' '.join(command)} did not finish in {seconds} s; it printed:\n{printed}\n"
                               f"trestle cluster status:\n{status}") from error
        if done.returncode != 0:
            raise ClusterError(f"{' '.join(command)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _status_or_why(self):
        """`TRESTLE STATUS` from the first running node, or why it could not be had."""
        try:
            done = subprocess.run([self.binary, "cluster", "status", "--seed", self.seed(),
                                   *(["--password", self.password] if self.password else [])],
                                  capture_output=True, text=True, timeout=10)
            return done.stdout + done.stderr
        except Exception as error:  # a diagnostic must never hide the real failure
            return f"(no status: {error})"

    def seed(self):
        return f"127.0.0.1:{self.running_nodes()[0].port}"

    def add_node(self):
        """Starts a new node without --bootstrap (empty dir), then `trestle cluster add-node`.
        Returns the node; the caller waits for `wait_settled()`. (The admin command may
        itself wait for the moves to settle, so it gets the settle bound.)"""
        node_id = max(self.nodes) + 1
        node = self._make_node(node_id)
        node.args = self._node_args(node_id, bootstrap=False)
        self.nodes[node_id] = node
        node.start()
        self.admin("add-node", "--seed", self.seed(), "--node", node.spec, seconds=adminSettleSecondsMax)
        return node

    def remove_node(self, node_id):
        """`trestle cluster remove-node`; the node keeps running until the caller stops it."""
        seed = next(node for node in self.running_nodes() if node.id != node_id)
        return self.admin("remove-node", "--seed", f"127.0.0.1:{seed.port}", "--node", str(node_id),
                          seconds=adminSettleSecondsMax)

    # ---- diagnostics --------------------------------------------------------------------

    def logs(self):
        """Every node's log tail and every proxy's state, for failure reports."""
        parts = [f"===== node {node.id} (pid {node.pid}, port {node.port}, peer {node.peer_port}, "
                 f"{'running' if node.running() else 'stopped'}) =====\n{node.log_tail()}"
                 for node in self.nodes.values()]
        for proxy in self.links.values():
            try:
                parts.append(f"{proxy.describe()} {proxy.stats()}")
            except Exception as error:  # a stopped proxy still gets a line
                parts.append(f"{proxy.name}: {error}")
        return "\n".join(parts)


# ---------------------------------------------------------------------------------------
# Redis Cluster hash slots (CRC16-CCITT/XMODEM of the key or of its {hash tag}, mod 16384)
# ---------------------------------------------------------------------------------------

slotCount = 16384


def _crc16(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def key_slot(key):
    data = key.encode() if isinstance(key, str) else key
    start = data.find(b"{")
    if start != -1:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return _crc16(data) % slotCount
