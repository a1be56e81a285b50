"""Security on a cluster: `--requirepass` on every node (redis-py's RedisCluster with a
password; NOAUTH and WRONGPASS as Redis answers them), proxy mode for an authenticated
plain client, the admin CLI with `--password`, and the peer port, which delivers nothing
from a connection that does not prove it knows the cluster secret (a raw connection
cannot inject a Raft message), while one that signs the nonce correctly is accepted (so
the refusal is the secret's doing, not a malformed frame's)."""

import hashlib
import hmac
import os
import socket
import struct
import subprocess
import time

import pytest
import redis

pytestmark = pytest.mark.cluster

PASSWORD = "correct horse battery staple"
CLUSTER_NAME = "trestle"
PROOF_LABEL = b"trestle peer proof v1"


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def frame(kind, body):
    """A peer frame as docs in PeerFrameEncoder.swift: length, CRC-32C, kind, body."""
    payload = bytes([kind]) + body
    return struct.pack("<II", len(payload), crc32c(payload)) + payload


def blob32(data):
    return struct.pack("<I", len(data)) + data


def hello(node, nonce):
    return frame(1, struct.pack("<HQ", 2, node) + blob32(CLUSTER_NAME.encode()) + blob32(nonce))


def proof(mac):
    return frame(5, blob32(mac))


def request_vote(shard, sender, receiver, term):
    """A Raft frame: one RequestVote with a huge term (it would depose leaders if heard)."""
    message = struct.pack("<QQQB", sender, receiver, term, 5) + struct.pack("<QQBB", 1 << 40, term, 0, 0)
    return frame(2, struct.pack("<QI", shard, 1) + message)


def read_hello(sock):
    """Reads the node's hello; returns (node id, nonce)."""
    def exactly(count):
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            assert chunk, "the node closed the connection before its hello"
            data += chunk
        return data
    length, _ = struct.unpack("<II", exactly(8))
    body = exactly(length)
    assert body[0] == 1, f"first frame is kind {body[0]}, not hello"
    version, node = struct.unpack_from("<HQ", body, 1)
    assert version == 2
    offset = 11
    (name_length,) = struct.unpack_from("<I", body, offset)
    offset += 4 + name_length
    (nonce_length,) = struct.unpack_from("<I", body, offset)
    return node, body[offset + 4:offset + 4 + nonce_length]


def signed(secret, sender, receiver, receiver_nonce, sender_nonce):
    def blob64(data):
        return struct.pack("<Q", len(data)) + data
    message = (PROOF_LABEL + blob64(CLUSTER_NAME.encode()) + struct.pack("<QQ", sender, receiver)
               + blob64(receiver_nonce) + blob64(sender_nonce))
    return hmac.new(secret, message, hashlib.sha256).digest()


def closed_within(sock, seconds):
    """True if the peer closes the connection within `seconds` (reading and dropping data)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            continue
        except ConnectionError:
            return True
    return False


def log_count(node, text):
    return node.stderr().count(text)


@pytest.mark.timeout(180)
def test_a_password_protected_cluster_serves_only_authenticated_clients(cluster_factory, cluster_binary):
    cluster = cluster_factory(nodes=3, password=PASSWORD)
    node = cluster.nodes[1]
    anonymous = node.client(password=None)
    with pytest.raises(redis.AuthenticationError, match="Authentication required"):
        anonymous.execute_command("GET", "k")
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        node.client(password="wrong").ping()
    assert node.client().ping() is True
    assert node.client(protocol=3).execute_command("HELLO", "3", "AUTH", "default", PASSWORD)["proto"] == 3

    client = cluster.cluster_client()
    values = {f"secure:{n}": str(n) for n in range(200)}
    for key, value in values.items():
        client.set(key, value)
    assert [client.get(key) for key in values] == list(values.values())
    client.close()

    status = cluster.admin("status", "--seed", cluster.seed())
    assert "leader n" in status
    refused = subprocess.run([cluster_binary, "cluster", "status", "--seed", cluster.seed()],
                             capture_output=True, text=True, timeout=30, env={**os.environ, "REDISCLI_AUTH": ""})
    assert "NOAUTH" in refused.stdout + refused.stderr, refused


@pytest.mark.timeout(180)
def test_proxy_mode_forwards_for_an_authenticated_plain_client(cluster_factory):
    cluster = cluster_factory(nodes=3, proxy_mode=True, password=PASSWORD)
    client = cluster.nodes[1].client()
    for n in range(100):
        client.set(f"proxied:{n}", n)
    assert [client.get(f"proxied:{n}") for n in range(100)] == [str(n) for n in range(100)]
    with pytest.raises(redis.AuthenticationError):
        cluster.nodes[2].client(password=None).get("proxied:1")


@pytest.mark.timeout(180)
def test_the_peer_port_delivers_nothing_without_proof_of_the_secret(cluster_factory):
    cluster = cluster_factory(nodes=3)
    target = cluster.nodes[2]
    secret = cluster.secret_file.read_bytes().rstrip()
    refusals_before = log_count(target, "not authenticated")
    leaders_before = cluster.leader_view()

    # Attacks: no proof at all, a proof under another secret, a proof for another nonce.
    attacks = {
        "no proof": lambda nonce, ours: b"",
        "wrong secret": lambda nonce, ours: proof(signed(b"not the cluster secret at all", 1, 2, nonce, ours)),
        "stale nonce": lambda nonce, ours: proof(signed(secret, 1, 2, os.urandom(32), ours)),
    }
    for name, make_proof in attacks.items():
        with socket.create_connection(("127.0.0.1", target.peer_port), timeout=5) as sock:
            node_id, nonce = read_hello(sock)
            assert node_id == 2
            ours = os.urandom(32)
            sock.sendall(hello(1, ours) + make_proof(nonce, ours) + request_vote(1, 1, 2, 1 << 50))
            assert closed_within(sock, 10), f"{name}: the peer port kept an unproven connection open"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and log_count(target, "not authenticated") < refusals_before + 3:
        time.sleep(0.1)
    assert log_count(target, "not authenticated") >= refusals_before + 3, target.stderr()[-3000:]

    # The forged vote reached no Raft group: the cluster still serves, leaders unchanged.
    assert cluster.leader_view() == leaders_before
    client = cluster.cluster_client()
    client.set("after-attacks", "ok")
    assert client.get("after-attacks") == "ok"
    client.close()

    # Control: the same bytes with a correct proof are accepted: the node logs the peer
    # connected from this socket (node 1 then reconnects, replacing it).
    with socket.create_connection(("127.0.0.1", target.peer_port), timeout=5) as sock:
        local_port = sock.getsockname()[1]
        _, nonce = read_hello(sock)
        ours = os.urandom(32)
        sock.sendall(hello(1, ours) + proof(signed(secret, 1, 2, nonce, ours)))
        deadline = time.monotonic() + 5
        accepted = f"127.0.0.1:{local_port} [Transport] peer connected"
        while time.monotonic() < deadline and accepted not in target.stderr():
            time.sleep(0.1)
        assert accepted in target.stderr(), "a correctly signed hello was refused: the test's frames are wrong"
    cluster.wait_ok()


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    assert predicate(), f"not within {seconds} s: {what}"


def retrying_try_again(call, seconds):
    """`call()`, retried while it answers -TRYAGAIN, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except redis.exceptions.TryAgainError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def can_auth(node, user, password):
    try:
        return node.client(username=user, password=password).ping() is True
    except redis.RedisError:
        return False


@pytest.mark.timeout(240)
def test_acl_users_are_replicated_through_the_directory_and_survive_restarts(cluster_factory):
    cluster = cluster_factory(nodes=3)
    one, two, three = (cluster.nodes[i] for i in (1, 2, 3))
    assert one.client().execute_command("ACL", "SETUSER", "alice", "on", ">wonderland", "~app:*", "+@all",
                                        "-@dangerous") == "OK"
    for node in (one, two, three):
        wait_for(lambda: can_auth(node, "alice", "wonderland"), 10, f"alice can AUTH on node {node.id}")
    assert "user alice on #" in " ".join(three.client().execute_command("ACL", "LIST"))

    client = cluster.cluster_client(username="alice", password="wonderland")
    for n in range(50):
        client.set(f"app:{n}", n)
    assert [client.get(f"app:{n}") for n in range(50)] == [str(n) for n in range(50)]
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("elsewhere", 1)
    client.close()

    # The users live in the directory's log: a restart of every node keeps them.
    for node in (one, two, three):
        node.stop()
    for node in (one, two, three):
        node.launch()
    for node in (one, two, three):
        node.wait_ready()
    cluster.wait_ok()
    for node in (one, two, three):
        wait_for(lambda: can_auth(node, "alice", "wonderland"), 20, f"alice can AUTH on node {node.id} after restart")

    # Just after a restart of every node the directory may still change leader: a client
    # retries -TRYAGAIN (nothing was proposed), as Redis Cluster clients do.
    assert retrying_try_again(lambda: three.client().execute_command("ACL", "DELUSER", "alice", "ghost"), 10) == 1
    for node in (one, two, three):
        wait_for(lambda: not can_auth(node, "alice", "wonderland"), 10, f"alice is gone on node {node.id}")
    with pytest.raises(redis.ResponseError, match="Error in ACL SETUSER modifier 'bogus'"):
        two.client().execute_command("ACL", "SETUSER", "bob", "bogus")


@pytest.mark.timeout(180)
def test_a_write_too_large_for_replication_is_refused_not_fatal(cluster_factory):
    cluster = cluster_factory(nodes=3)
    client = cluster.cluster_client()
    big = "x" * (31 * 1024 * 1024)
    with pytest.raises(redis.ResponseError, match="too large for one log entry"):
        client.set("big", big)
    # A transaction is one entry: two 16 MiB values together are refused the same way.
    pipe = client.pipeline(transaction=True)
    pipe.set("{t}a", big[: 16 * 1024 * 1024])
    pipe.set("{t}b", big[: 16 * 1024 * 1024])
    with pytest.raises(redis.RedisError):
        pipe.execute()
    client.set("small", "ok")
    assert client.get("small") == "ok"
    assert all(node.running() for node in cluster.nodes.values())
    cluster.wait_ok()
