"""TLS for clients (`--tls-port`, `--tls-cert-file`, `--tls-key-file`, `--tls-ca-cert-file`,
`--tls-auth-clients`, as Redis names them): redis-py with `ssl=True` and `redis-cli --tls`
talk to a standalone server and to a cluster node over TLS, client certificates are
required unless told otherwise, and a client that does not speak TLS, or presents no or
a foreign certificate, is refused without harming the server or its plain port. Keys
and certificates are made with the openssl command for each run."""

import re
import shutil
import ssl
import subprocess

import pytest
import redis

from ports import loopback_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def pki(tmp_path):
    """A CA, a server certificate for 127.0.0.1, a client certificate, and a foreign CA's
    client certificate; returns the directory."""
    d = tmp_path / "pki"
    d.mkdir()
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=Trestle test {ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.crt", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ca in (("server", "ca"), ("client", "ca"), ("foreign", "other-ca")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
                "-days", "2", "-extfile", "san.ext", "-out", f"{name}.crt", cwd=d)
    return d


def tls_args(pki, port, auth="yes"):
    return ["--tls-port", str(port), "--tls-cert-file", str(pki / "server.crt"), "--tls-key-file", str(pki / "server.key"),
            "--tls-ca-cert-file", str(pki / "ca.crt"), "--tls-auth-clients", auth]


def tls_client(pki, port, cert="client", **kwargs):
    options = dict(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(pki / "ca.crt"), socket_timeout=5,
                   decode_responses=True)
    if cert:
        options.update(ssl_certfile=str(pki / f"{cert}.crt"), ssl_keyfile=str(pki / f"{cert}.key"))
    options.update(kwargs)
    return redis.Redis(**options)


def test_redis_py_and_redis_cli_over_tls_with_client_certificates(server_factory, pki):
    tls_port = loopback_port()
    server = server_factory(*tls_args(pki, tls_port))
    assert re.search(rf"tls +127\.0\.0\.1:{tls_port} \(client certificates required\)", server.stdout()), server.stdout()
    client = tls_client(pki, tls_port)
    assert client.set("over", "tls") is True
    assert client.get("over") == "tls"
    assert server.client(decode_responses=True).get("over") == "tls"  # the plain port serves the same data
    pipe = client.pipeline(transaction=True)
    for n in range(100):
        pipe.incr("counter")
    assert pipe.execute()[-1] == 100

    cli = subprocess.run(["redis-cli", "--tls", "--cacert", str(pki / "ca.crt"), "--cert", str(pki / "client.crt"),
                          "--key", str(pki / "client.key"), "-p", str(tls_port), "get", "over"],
                         capture_output=True, text=True, timeout=20)
    assert cli.stdout.strip() == "tls", cli

    for refused in (dict(cert=None), dict(cert="foreign")):
        with pytest.raises((redis.ConnectionError, ssl.SSLError, OSError)):
            tls_client(pki, tls_port, **refused).ping()
    # A client that does not speak TLS at all.
    with pytest.raises(redis.RedisError):
        redis.Redis(port=tls_port, socket_timeout=3).ping()
    assert client.ping() is True and server.client().ping() is True


def test_client_certificates_can_be_optional_or_off(server_factory, pki):
    optional_port, off_port = loopback_port(), loopback_port()
    optional = server_factory(*tls_args(pki, optional_port, auth="optional"))
    assert tls_client(pki, optional_port, cert=None).ping() is True
    assert tls_client(pki, optional_port).ping() is True
    with pytest.raises((redis.ConnectionError, ssl.SSLError, OSError)):
        tls_client(pki, optional_port, cert="foreign").ping()
    assert optional.client().ping() is True
    server_factory("--tls-port", str(off_port), "--tls-cert-file", str(pki / "server.crt"),
                   "--tls-key-file", str(pki / "server.key"), "--tls-auth-clients", "no")
    assert tls_client(pki, off_port, cert=None).ping() is True


def test_bad_tls_settings_stop_the_server_with_a_reason(server_factory, pki, tmp_path):
    missing = server_factory("--tls-port", str(loopback_port()), "--tls-cert-file", str(tmp_path / "nope.crt"),
                             "--tls-key-file", str(pki / "server.key"), "--tls-auth-clients", "no", start=False)
    failure = missing.start(expect_failure=True)
    assert "--tls-cert-file" in failure.stderr + failure.stdout
    needs_ca = server_factory("--tls-port", str(loopback_port()), "--tls-cert-file", str(pki / "server.crt"),
                              "--tls-key-file", str(pki / "server.key"), start=False)
    failure = needs_ca.start(expect_failure=True)
    assert "--tls-ca-cert-file" in failure.stderr + failure.stdout


@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_a_cluster_node_serves_tls_clients(cluster_factory, pki):
    tls_port = loopback_port()
    cluster = cluster_factory(nodes=3, start=False)
    cluster.nodes[1].extra_node_args = tls_args(pki, tls_port)
    cluster.start()
    client = tls_client(pki, tls_port)
    info = client.execute_command("CLUSTER", "INFO")
    assert "cluster_state:ok" in info
    served, moved = [], 0
    for key in (f"tls:{n}" for n in range(200)):
        try:
            client.set(key, "v")
            served.append(key)
        except redis.exceptions.MovedError:
            moved += 1
    assert served and len(served) + moved == 200
    plain = cluster.cluster_client()
    assert all(plain.get(key) == "v" for key in served)
    plain.close()


@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_peer_links_use_mutual_tls_with_tls_cluster(cluster_factory, pki):
    files = ["--tls-cert-file", str(pki / "server.crt"), "--tls-key-file", str(pki / "server.key"),
             "--tls-ca-cert-file", str(pki / "ca.crt")]
    cluster = cluster_factory(nodes=3, extra_args=["--tls-cluster", *files])
    assert "mutual TLS" in cluster.nodes[1].stdout()
    client = cluster.cluster_client()
    for n in range(100):
        client.set(f"mtls:{n}", n)
    assert [client.get(f"mtls:{n}") for n in range(100)] == [str(n) for n in range(100)]
    client.close()
    # A peer that does not speak TLS gets no further than the handshake.
    import socket
    with socket.create_connection(("127.0.0.1", cluster.nodes[2].peer_port), timeout=5) as sock:
        sock.sendall(b"\x10\x00\x00\x00plaintext hello, no TLS")
        sock.settimeout(5)
        data = b""
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionError):
            pass
        assert b"trestle" not in data  # no hello in the clear
    cluster.wait_ok()
