"""Crash tests: every acknowledged write survives SIGKILL under `--fsync always`, a torn log
tail is truncated and reported at start-up, and corruption in the middle of the log is
refused unless `--repair`.

The crash rounds are driven by one seed (`TRESTLE_CRASH_SEED`, default: random, printed), so
a failing run can be replayed with the same kill delays.
"""

import glob
import os
import random
import re
import threading
import time

import pytest

from conftest import ServerFailedToStart
from resp import ConnectionClosed, RawConnection, encode_command

WRITERS = 8
ROUNDS = 5
KILL_DELAY_SECONDS = (0.2, 1.5)
MGET_CHUNK_KEYS = 500


class Writer(threading.Thread):
    """One connection doing INCR on its own counter and SET of unique keys, alternately,
    recording only what the server acknowledged."""

    def __init__(self, port, round_index, writer_index):
        super().__init__(daemon=True)
        self.port = port
        self.counter_key = f"counter:{round_index}:{writer_index}"
        self.key_prefix = f"set:{round_index}:{writer_index}:"
        self.acknowledged_increments = 0
        self.acknowledged_sets = {}
        self.stop_requested = threading.Event()
        self.unexpected = None

    def run(self):
        try:
            connection = RawConnection(self.port, timeout=10)
        except OSError:
            return
        sequence = 0
        try:
            while not self.stop_requested.is_set():
                reply = connection.call("INCR", self.counter_key)
                if reply != (":", self.acknowledged_increments + 1):
                    self.unexpected = f"INCR {self.counter_key} -> {reply!r}"
                    return
                self.acknowledged_increments += 1
                key, value = f"{self.key_prefix}{sequence}", f"value-{sequence}-{'x' * (sequence % 50)}"
                reply = connection.call("SET", key, value)
                if reply != ("+", b"OK"):
                    self.unexpected = f"SET {key} -> {reply!r}"
                    return
                self.acknowledged_sets[key] = value
                sequence += 1
        except (ConnectionClosed, ConnectionResetError, BrokenPipeError, TimeoutError, OSError):
            pass  # the server was killed; the write in flight was never acknowledged
        finally:
            connection.close()


def mget_all(client, keys):
    values = {}
    for start in range(0, len(keys), MGET_CHUNK_KEYS):
        chunk = keys[start:start + MGET_CHUNK_KEYS]
        values.update(zip(chunk, client.mget(chunk)))
    return values


def verify(client, counters, sets):
    """Every acknowledged write is present. Returns the number of writes verified."""
    counter_keys = sorted(counters)
    counter_values = mget_all(client, counter_keys)
    for key in counter_keys:
        acknowledged = counters[key]
        stored = counter_values[key]
        actual = 0 if stored is None else int(stored)
        assert acknowledged <= actual <= acknowledged + 1, (
            f"{key}: {acknowledged} increments acknowledged, value after restart {stored!r}")
    set_keys = sorted(sets)
    set_values = mget_all(client, set_keys)
    missing = [key for key in set_keys if set_values[key] != sets[key]]
    assert not missing, f"{len(missing)} acknowledged SETs lost or wrong, e.g. {missing[:5]}"
    return sum(counters.values()) + len(sets)


@pytest.mark.timeout(120)
def test_acknowledged_writes_survive_sigkill(server_factory):
    seed = int(os.environ.get("TRESTLE_CRASH_SEED", random.randrange(2**32)))
    print(f"crash test seed {seed} (replay with TRESTLE_CRASH_SEED={seed})")
    generator = random.Random(seed)
    server = server_factory("--fsync", "always")
    counters, sets = {}, {}
    started = time.monotonic()
    verified = 0
    for round_index in range(ROUNDS):
        writers = [Writer(server.port, round_index, index) for index in range(WRITERS)]
        for writer in writers:
            writer.start()
        delay = generator.uniform(*KILL_DELAY_SECONDS)
        time.sleep(delay)
        server.kill()
        for writer in writers:
            writer.stop_requested.set()
            writer.join(timeout=15)
            assert not writer.is_alive(), "a writer did not stop after the server died"
            assert writer.unexpected is None, writer.unexpected
            counters[writer.counter_key] = writer.acknowledged_increments
            sets.update(writer.acknowledged_sets)
        acknowledged_this_round = sum(w.acknowledged_increments + len(w.acknowledged_sets) for w in writers)
        assert acknowledged_this_round > 0, f"round {round_index}: no write was acknowledged in {delay:.2f} s"
        server.start()
        client = server.client(decode_responses=True)
        verified = verify(client, counters, sets)
        client.close()
        print(f"round {round_index}: killed after {delay:.2f} s, {acknowledged_this_round} acknowledged, "
              f"{verified} verified in total")
    assert time.monotonic() - started < 100
    print(f"crash test: {verified} acknowledged writes verified over {ROUNDS} SIGKILL rounds (seed {seed})")


# ---------------------------------------------------------------------------------------
# Damaged logs
# ---------------------------------------------------------------------------------------


def log_files(directory):
    return sorted(glob.glob(os.path.join(directory, "log-*.tlog")))


def fill(server, count, prefix="k"):
    client = server.client(decode_responses=True)
    for index in range(count):
        client.set(f"{prefix}{index}", f"v{index}")
    client.close()


def newest_log_with_records(directory):
    """The newest segment holding more than its 32-byte header."""
    candidates = [path for path in log_files(directory) if os.path.getsize(path) > 32]
    assert candidates, f"no log segment with records in {os.listdir(directory)}"
    return candidates[-1]


def dropped_bytes(text):
    counts = [int(match) for match in re.findall(r"dropped (\d+) bytes", text)]
    return max(counts) if counts else 0


def test_garbage_tail_is_truncated_and_reported(server_factory):
    server = server_factory()
    fill(server, 50)
    server.stop()
    path = newest_log_with_records(server.dir)
    size = os.path.getsize(path)
    garbage = random.Random(7).randbytes(300)
    with open(path, "ab") as log:
        log.write(garbage)
    server.start()
    output = server.stdout() + server.stderr()
    assert "truncated torn tail" in output, output
    assert dropped_bytes(output) == 300, output
    assert os.path.getsize(path) == size, "the torn tail must be cut off the file"
    client = server.client(decode_responses=True)
    assert client.dbsize() == 50
    assert client.get("k49") == "v49"
    assert client.set("after", "repair") is True
    client.close()
    server.restart()
    client = server.client(decode_responses=True)
    assert client.dbsize() == 51
    client.close()


def test_tail_truncated_mid_record_is_dropped_and_reported(server_factory):
    server = server_factory()
    fill(server, 50)
    server.stop()
    path = newest_log_with_records(server.dir)
    size = os.path.getsize(path)
    os.truncate(path, size - 5)
    server.start()
    output = server.stdout() + server.stderr()
    assert "truncated torn tail" in output, output
    dropped = dropped_bytes(output)
    assert 0 < dropped < size, output
    client = server.client(decode_responses=True)
    # The cut record is the newest in the log: the last write's entry, or only a later
    # commit-index update (the entry itself then survives and commits again on restart).
    assert client.dbsize() in (49, 50), "at most the last write is lost"
    assert client.mget([f"k{i}" for i in range(49)]) == [f"v{i}" for i in range(49)]
    client.close()


def test_tail_cut_inside_header_of_newest_segment(server_factory):
    server = server_factory()
    fill(server, 10)
    server.stop()
    path = newest_log_with_records(server.dir)
    with open(path, "ab") as log:
        log.write(b"\x05\x00")  # two bytes of a record header, as from a crash mid-write
    server.start()
    client = server.client(decode_responses=True)
    assert client.dbsize() == 10
    client.close()
    assert dropped_bytes(server.stdout() + server.stderr()) == 2


def test_corruption_in_the_middle_refuses_then_repair(server_factory):
    server = server_factory()
    fill(server, 50)
    server.stop()
    path = newest_log_with_records(server.dir)
    size_before = os.path.getsize(path)
    offset = 32 + 12 + 1  # inside the payload of the first record; 49 valid records follow
    with open(path, "r+b") as log:
        log.seek(offset)
        byte = log.read(1)
        log.seek(offset)
        log.write(bytes([byte[0] ^ 0xFF]))
    failure = server.start(expect_failure=True)
    assert isinstance(failure, ServerFailedToStart)
    assert failure.returncode not in (0, None), "refusing to start must exit non-zero"
    message = failure.stdout + failure.stderr
    assert os.path.basename(path) in message, message
    assert "--repair" in message, message
    assert "Ready to accept connections" not in message
    assert os.path.getsize(path) == size_before, "a refused start must not modify the log"

    server.start(["--repair"])
    output = server.stdout() + server.stderr()
    assert dropped_bytes(output) > 0, output
    client = server.client(decode_responses=True)
    assert client.dbsize() == 0, "everything from the corrupt record on is dropped"
    assert client.set("new", "1") is True
    client.close()
    server.restart([])
    client = server.client(decode_responses=True)
    assert client.get("new") == "1"
    client.close()


def test_corrupt_earlier_segment_with_later_segment_refuses(server_factory):
    server = server_factory()
    fill(server, 20, prefix="first")
    server.restart()
    fill(server, 20, prefix="second")
    server.stop()
    segments = [path for path in log_files(server.dir) if os.path.getsize(path) > 32]
    assert len(segments) >= 2, segments
    first = segments[0]
    size = os.path.getsize(first)
    with open(first, "r+b") as log:
        log.seek(size - 3)
        byte = log.read(1)
        log.seek(size - 3)
        log.write(bytes([byte[0] ^ 0x55]))  # damage the last record of the older segment
    failure = server.start(expect_failure=True)
    assert failure.returncode not in (0, None)
    assert os.path.basename(first) in failure.stdout + failure.stderr
    server.start(["--repair"])
    client = server.client(decode_responses=True)
    # The damaged record is the older segment's last: its last write, or only the commit
    # index update after it.
    assert client.dbsize() in (19, 20), "repair keeps the records before the damage and drops later segments"
    assert client.mget([f"first{i}" for i in range(19)]) == [f"v{i}" for i in range(19)]
    assert client.exists("second0") == 0
    client.close()
    assert glob.glob(os.path.join(server.dir, "*.dropped")), "later segments are set aside as .dropped"


# ---------------------------------------------------------------------------------------
# More crash shapes
# ---------------------------------------------------------------------------------------


def test_crash_verifier_detects_lost_writes(server_factory):
    """The checker itself: a log emptied behind the server's back must be caught."""
    server = server_factory()
    writer = Writer(server.port, 0, 0)
    writer.start()
    time.sleep(0.3)
    server.kill()
    writer.stop_requested.set()
    writer.join(timeout=15)
    assert writer.acknowledged_increments > 0
    for path in log_files(server.dir):
        os.truncate(path, 32)  # keep only the file header: every record is lost
    server.start()
    client = server.client(decode_responses=True)
    with pytest.raises(AssertionError):
        verify(client, {writer.counter_key: writer.acknowledged_increments}, writer.acknowledged_sets)
    client.close()


class TransactionWriter(threading.Thread):
    """MULTI; INCR a; INCR b; SET marker; EXEC — pipelined in one write, so a crash can hit
    anywhere inside. After recovery a == b must hold (all of a transaction or none)."""

    def __init__(self, port, index):
        super().__init__(daemon=True)
        self.port = port
        self.keys = (f"tx:{index}:a", f"tx:{index}:b")
        self.acknowledged = 0
        self.stop_requested = threading.Event()

    def run(self):
        try:
            connection = RawConnection(self.port, timeout=10)
        except OSError:
            return
        a, b = self.keys
        try:
            while not self.stop_requested.is_set():
                connection.send(encode_command("MULTI") + encode_command("INCR", a) + encode_command("INCR", b)
                                + encode_command("EXEC"))
                replies = [connection.read_reply() for _ in range(4)]
                expected = self.acknowledged + 1
                assert replies[3] == ("*", [(":", expected), (":", expected)]), replies
                self.acknowledged = expected
        except (ConnectionClosed, OSError):
            pass
        finally:
            connection.close()



@pytest.mark.timeout(60)
def test_transactions_are_atomic_across_sigkill(server_factory):
    server = server_factory("--fsync", "always")
    generator = random.Random(int(os.environ.get("TRESTLE_CRASH_SEED", "99")))
    for _ in range(3):
        writers = [TransactionWriter(server.port, index) for index in range(4)]
        for writer in writers:
            writer.start()
        time.sleep(generator.uniform(0.2, 0.8))
        server.kill()
        for writer in writers:
            writer.stop_requested.set()
            writer.join(timeout=15)
        server.start()
        client = server.client(decode_responses=True)
        for writer in writers:
            a, b = (int(value or 0) for value in client.mget(writer.keys))
            assert a == b, f"{writer.keys}: a transaction was half applied ({a} vs {b})"
            assert writer.acknowledged <= a <= writer.acknowledged + 1
        # The next round's writers count from zero again.
        client.delete(*[key for writer in writers for key in writer.keys])
        client.close()


class PipelinedWriter(threading.Thread):
    """Keeps up to 64 SETs in flight on one connection; a reply acknowledges its own SET."""

    def __init__(self, port, index):
        super().__init__(daemon=True)
        self.port = port
        self.prefix = f"pipe:{index}:"
        self.acknowledged = 0
        self.stop_requested = threading.Event()

    def run(self):
        try:
            connection = RawConnection(self.port, timeout=10)
        except OSError:
            return
        sent = 0
        try:
            while not self.stop_requested.is_set():
                batch = b"".join(encode_command("SET", f"{self.prefix}{sent + i}", str(sent + i)) for i in range(64))
                connection.send(batch)
                sent += 64
                while self.acknowledged < sent:
                    assert connection.read_reply() == ("+", b"OK")
                    self.acknowledged += 1
        except (ConnectionClosed, OSError):
            pass
        finally:
            connection.close()


@pytest.mark.timeout(60)
def test_pipelined_acknowledged_writes_survive_sigkill(server_factory):
    server = server_factory("--fsync", "always")
    writers = [PipelinedWriter(server.port, index) for index in range(4)]
    for writer in writers:
        writer.start()
    time.sleep(1.0)
    server.kill()
    for writer in writers:
        writer.stop_requested.set()
        writer.join(timeout=15)
    server.start()
    client = server.client(decode_responses=True)
    total = 0
    for writer in writers:
        keys = [f"{writer.prefix}{i}" for i in range(writer.acknowledged)]
        values = mget_all(client, keys)
        lost = [key for key in keys if values[key] != key.rsplit(":", 1)[1]]
        assert not lost, f"{len(lost)} acknowledged pipelined SETs lost, e.g. {lost[:3]}"
        total += writer.acknowledged
    assert total > 0
    print(f"pipelined crash: {total} acknowledged SETs verified")
    client.close()


@pytest.mark.parametrize("policy", ["everysec", "no"])
def test_graceful_sigterm_keeps_everything_under_relaxed_fsync(server_factory, policy):
    server = server_factory("--fsync", policy)
    client = server.client(decode_responses=True)
    pipe = client.pipeline(transaction=False)
    for index in range(2000):
        pipe.set(f"k{index}", index)
    pipe.execute()
    client.close()
    assert server.stop() == 0, "a graceful stop must exit 0"
    assert "shutdown complete" in server.stderr()
    server.start()
    client = server.client(decode_responses=True)
    assert client.dbsize() == 2000
    assert client.get("k1999") == "1999"
    client.close()


def test_expiry_is_absolute_across_restart(server_factory):
    server = server_factory()
    client = server.client(decode_responses=True)
    client.set("short", "v", px=700)
    client.set("long", "v", ex=1000)
    client.close()
    time.sleep(0.05)  # not racing the kill (see test_sigkill_right_after_acknowledgement)
    server.kill()
    time.sleep(0.8)
    server.start()
    client = server.client(decode_responses=True)
    assert client.exists("short") == 0, "a TTL that ran out while the server was down must be honoured"
    assert 990 <= client.ttl("long") <= 1000
    client.close()


def test_restart_many_times_keeps_state(server_factory):
    server = server_factory()
    for round_index in range(6):
        client = server.client(decode_responses=True)
        assert client.incr("restarts") == round_index + 1
        client.hset("h", f"f{round_index}", round_index)
        client.close()
        if round_index % 2:
            time.sleep(0.05)  # SIGKILL right after an ack is test_sigkill_right_after_acknowledgement's job
            server.crash_restart()
        else:
            server.restart()
    client = server.client(decode_responses=True)
    assert client.get("restarts") == "6"
    assert client.hlen("h") == 6
    client.close()


class Snapshotter(threading.Thread):
    """Asks for a background snapshot every few milliseconds until stopped or the server dies."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.started = 0
        self.stop_requested = threading.Event()

    def run(self):
        try:
            connection = RawConnection(self.port, timeout=10)
        except OSError:
            return
        try:
            while not self.stop_requested.is_set():
                reply = connection.call("BGSAVE")
                if reply == ("+", b"Background saving started"):
                    self.started += 1
                time.sleep(0.03)
        except (ConnectionClosed, OSError):
            pass
        finally:
            connection.close()


@pytest.mark.timeout(90)
def test_acknowledged_writes_survive_sigkill_during_snapshots(server_factory):
    seed = int(os.environ.get("TRESTLE_CRASH_SEED", random.randrange(2**32)))
    print(f"snapshot crash seed {seed}")
    generator = random.Random(seed)
    server = server_factory("--fsync", "always")
    counters, sets = {}, {}
    snapshots = 0
    for round_index in range(3):
        writers = [Writer(server.port, round_index, index) for index in range(4)]
        snapshotter = Snapshotter(server.port)
        for thread in [*writers, snapshotter]:
            thread.start()
        time.sleep(generator.uniform(0.3, 1.2))
        server.kill()
        for thread in [*writers, snapshotter]:
            thread.stop_requested.set()
            thread.join(timeout=15)
        for writer in writers:
            assert writer.unexpected is None, writer.unexpected
            counters[writer.counter_key] = writer.acknowledged_increments
            sets.update(writer.acknowledged_sets)
        snapshots += snapshotter.started
        server.start()
        assert not glob.glob(os.path.join(server.dir, "*.tmp")), "unfinished snapshots must be removed at start-up"
        client = server.client(decode_responses=True)
        verified = verify(client, counters, sets)
        client.close()
    assert snapshots > 0, "no snapshot was started"
    print(f"snapshot crash: {verified} acknowledged writes verified, {snapshots} snapshots started")


@pytest.mark.timeout(60)
def test_sigkill_right_after_acknowledgement(server_factory):
    """One client writes to an idle server and the test SIGKILLs the server the moment the
    reply arrives: the acknowledged write must be there after restart. (Before the fix of
    the idle-log acknowledgement bug about a quarter of the attempts lost their write.)"""
    server = server_factory("--fsync", "always")
    lost = []
    for attempt in range(20):
        with RawConnection(server.port) as connection:
            reply = connection.call("SET", f"attempt:{attempt}", "acknowledged")
            server.kill()
        assert reply == ("+", b"OK")
        server.start()
        with RawConnection(server.port) as connection:
            if connection.call("GET", f"attempt:{attempt}") != ("$", b"acknowledged"):
                lost.append(attempt)
    assert not lost, f"acknowledged SETs lost after SIGKILL in attempts {lost} of 20"


# ---------------------------------------------------------------------------------------
# Data directories of trestle server before 0.3
# ---------------------------------------------------------------------------------------


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def old_standalone_segment(generation=1):
    """A log segment as trestle server before 0.3 wrote it: one command record (SET k v)."""
    header = b"TRESTLOG" + (1).to_bytes(4, "little") + bytes(4) + generation.to_bytes(8, "little") + bytes(4)
    header += crc32c(header).to_bytes(4, "little")
    command = [b"SET", b"k", b"v"]
    payload = bytes([1]) + (1_700_000_000_000).to_bytes(8, "little") + (1).to_bytes(4, "little")
    payload += len(command).to_bytes(4, "little") + b"".join(len(a).to_bytes(4, "little") + a for a in command)
    frame = len(payload).to_bytes(4, "little") + crc32c(payload).to_bytes(4, "little")
    frame += crc32c(frame).to_bytes(4, "little")
    return header + frame + payload


@pytest.mark.parametrize("leftover", ["segment", "snapshot"])
def test_old_standalone_directory_is_refused_with_a_clear_message(server_factory, leftover):
    server = server_factory()
    server.stop()
    for name in os.listdir(server.dir):
        os.remove(os.path.join(server.dir, name))
    if leftover == "segment":
        with open(os.path.join(server.dir, "log-0000000000000001.tlog"), "wb") as segment:
            segment.write(old_standalone_segment())
    else:
        open(os.path.join(server.dir, "snapshot-0000000000000002.tsnap"), "wb").close()
    failure = server.start(expect_failure=True)
    assert isinstance(failure, ServerFailedToStart)
    assert failure.returncode not in (0, None)
    message = failure.stdout + failure.stderr
    assert "trestle server before 0.3" in message, message
    assert "Ready to accept connections" not in message
    assert sorted(os.listdir(server.dir)) == (["log-0000000000000001.tlog"] if leftover == "segment"
                                              else ["snapshot-0000000000000002.tsnap"]), "nothing is changed"
