"""SLOWLOG, LATENCY, ROLE, DEBUG and SHUTDOWN on a standalone server, as a Redis user sees them:
what is logged and how (arguments trimmed, passwords hidden, the newest first, bounded),
latency events and histograms, and SHUTDOWN stopping the server with every write kept.
The replies' shapes and error texts are also compared with redis-server in
test_differential.py ("diagnostics")."""

import socket
import threading
import time

import pytest
import redis

SLOW_LUA = "local i = 0 while i < 3000000 do i = i + 1 end return i"


def test_the_slow_log_records_requests_as_redis_does(server):
    client = server.client(decode_responses=True)
    client.config_set("slowlog-log-slower-than", 0)
    client.slowlog_reset()
    client.client_setname("logger")
    client.sadd("set", *range(3, 34))
    client.set("long", "A" * 129)
    entries = client.execute_command("SLOWLOG", "GET", "-1")
    newest = entries[0]
    assert newest[3] == ["SET", "long", "A" * 128 + "... (1 more bytes)"]
    assert newest[5] == "logger" and newest[4].startswith("127.0.0.1:")
    assert newest[0] > entries[1][0], "ids grow, newest first"
    assert entries[1][3] == ["SADD", "set"] + [str(n) for n in range(3, 32)] + ["... (2 more arguments)"]
    assert abs(newest[1] - time.time()) < 60

    client.config_set("requirepass", "secret-pw")
    client.execute_command("AUTH", "secret-pw")
    logged = [entry[3] for entry in client.execute_command("SLOWLOG", "GET", "-1")]
    assert ["AUTH", "(redacted)"] in logged
    assert ["CONFIG", "SET", "requirepass", "(redacted)"] in logged
    assert not any("secret-pw" in argument for arguments in logged for argument in arguments)
    # As Redis 7.2's unit/slowlog: the TLS key passwords and ACL user names are hidden too.
    client.config_set("tls-key-file-pass", "")
    client.config_set("tls-client-key-file-pass", "")
    client.acl_setuser("slowlog-test-user", commands=["+get"])
    client.acl_getuser("slowlog-test-user")
    client.acl_deluser("slowlog-test-user", "non-existing-user")
    logged = [entry[3] for entry in client.execute_command("SLOWLOG", "GET", "5")]
    assert logged == [["ACL", "DELUSER", "(redacted)", "(redacted)"], ["ACL", "GETUSER", "(redacted)"],
                      ["ACL", "SETUSER", "(redacted)", "(redacted)", "(redacted)"],
                      ["CONFIG", "SET", "tls-client-key-file-pass", "(redacted)"],
                      ["CONFIG", "SET", "tls-key-file-pass", "(redacted)"]], logged

    client.config_set("slowlog-max-len", 3)
    for n in range(10):
        client.get(f"k{n}")
    assert client.slowlog_len() == 3
    # SLOWLOG LEN itself was logged too, as Redis logs it.
    assert [entry[3] for entry in client.execute_command("SLOWLOG", "GET", "2")] == [["SLOWLOG", "LEN"], ["GET", "k9"]]
    client.config_set("slowlog-log-slower-than", -1)
    client.slowlog_reset()
    client.get("x")
    assert client.slowlog_len() == 0


def test_a_slow_script_is_seen_by_slowlog_latency_and_histograms(server):
    client = server.client(decode_responses=True)
    client.config_set("latency-monitor-threshold", 1)
    client.config_set("slowlog-log-slower-than", 1000)
    client.slowlog_reset()
    assert client.eval(SLOW_LUA, 0) == 3000000
    entry = client.execute_command("SLOWLOG", "GET", "1")[0]
    assert entry[3][0] == "EVAL" and entry[2] >= 1000
    latest = client.execute_command("LATENCY", "LATEST")
    assert [event[0] for event in latest] == ["command"]
    assert latest[0][2] >= 1 and latest[0][3] >= latest[0][2]
    assert len(client.execute_command("LATENCY", "HISTORY", "command")) == 1
    assert "command" in client.execute_command("LATENCY", "DOCTOR")
    assert client.execute_command("LATENCY", "RESET", "command") == 1
    assert client.execute_command("LATENCY", "LATEST") == []

    for n in range(5):
        client.set(f"h{n}", n)
    histogram = client.execute_command("LATENCY", "HISTOGRAM", "set", "nope")
    # RESP2: [name, [calls, n, histogram_usec, [bound, cumulative, ...]]]
    assert histogram[0] == "set"
    fields = dict(zip(histogram[1][0::2], histogram[1][1::2]))
    assert fields["calls"] == 5
    bounds = fields["histogram_usec"][0::2]
    counts = fields["histogram_usec"][1::2]
    assert all(bound & (bound - 1) == 0 for bound in bounds), "bounds are powers of two"
    assert counts == sorted(counts) and counts[-1] == 5, "counts are cumulative"


def test_role_answers_as_a_primary(server):
    assert server.client().execute_command("ROLE") == [b"master", 0, []]


@pytest.mark.timeout(60)
def test_every_info_section_names_each_field_once(server):
    server.client().set("k", "v")
    # Read raw: redis-py folds INFO into a dict, where a repeated field would vanish.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"INFO everything\r\n")
        data = b""
        while b"\r\n" not in data or len(data) < data.index(b"\r\n") + 2 + int(data[1:data.index(b"\r\n")]):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    text = data.split(b"\r\n", 1)[1].decode()
    section, seen = None, set()
    for line in text.splitlines():
        if line.startswith("#"):
            section, seen = line, set()
        elif ":" in line:
            name = line.split(":", 1)[0]
            assert name not in seen, f"{name} twice in {section}"
            seen.add(name)


def test_info_latencystats_gives_each_commands_percentiles(server):
    client = server.client(decode_responses=True)
    client.config_resetstat()
    client.set("k", "v")
    client.get("k")
    stats = client.execute_command("INFO", "latencystats")
    assert "latency_percentiles_usec_set" in stats and "latency_percentiles_usec_get" in stats, stats
    line = client.info("everything")["latency_percentiles_usec_set"]
    assert set(line) == {"p50", "p99", "p99.9"} and all(value > 0 for value in line.values()), line
    client.config_set("latency-tracking-info-percentiles", "0.0 50.0 100.0")
    assert client.config_get("latency-tracking-info-percentiles") == {"latency-tracking-info-percentiles": "0 50 100"}
    assert set(client.info("latencystats")["latency_percentiles_usec_get"]) == {"p0", "p50", "p100"}
    with pytest.raises(redis.exceptions.ResponseError, match="CONFIG SET failed"):
        client.config_set("latency-tracking-info-percentiles", "10.0 101.0")
    client.config_resetstat()
    client.config_set("latency-tracking", "no")
    client.incr("counter")
    assert "latency_percentiles_usec_incrby" not in client.info("latencystats")
    client.config_set("latency-tracking", "yes")
    client.incr("counter")
    assert "latency_percentiles_usec_incrby" in client.info("latencystats")
    client.config_set("latency-tracking-info-percentiles", "50 99 99.9")


def test_shutdown_stops_the_server_and_keeps_every_write(server):
    client = server.client(decode_responses=True)
    for n in range(100):
        client.set(f"key:{n}", n)
    with pytest.raises(redis.exceptions.ConnectionError):
        client.execute_command("SHUTDOWN", "NOSAVE")
    assert server.process.wait(timeout=20) == 0
    server.start()
    restarted = server.client(decode_responses=True)
    assert restarted.dbsize() == 100 and restarted.get("key:99") == "99"
    with pytest.raises(redis.exceptions.ResponseError, match="No shutdown in progress"):
        restarted.execute_command("SHUTDOWN", "ABORT")


def test_debug_sleep_delays_only_its_caller(server):
    sleeper = server.client()
    other = server.client()
    done = []
    thread = threading.Thread(target=lambda: done.append(sleeper.execute_command("DEBUG", "SLEEP", "1")))
    started = time.monotonic()
    thread.start()
    time.sleep(0.2)
    assert other.ping() is True and time.monotonic() - started < 0.9, "the node kept serving others"
    thread.join(timeout=10)
    assert done == [b"OK"] and time.monotonic() - started >= 0.95


def test_debug_digest_follows_the_data_and_active_expiry_can_pause(server):
    client = server.client(decode_responses=True)
    empty = client.execute_command("DEBUG", "DIGEST")
    assert empty == "0" * 40
    client.set("k", "v")
    client.rpush("l", "a", "b")
    full = client.execute_command("DEBUG", "DIGEST")
    assert full != empty and len(full) == 40
    assert client.execute_command("DEBUG", "DIGEST-VALUE", "k", "nothere")[1] == "0" * 40
    client.rpush("l", "c")
    assert client.execute_command("DEBUG", "DIGEST") != full
    client.rpop("l")
    assert client.execute_command("DEBUG", "DIGEST") == full, "equal data, equal digest"

    client.flushall()
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    for n in range(20):
        client.set(f"e{n}", n, px=10)
    time.sleep(0.6)
    assert client.info("keyspace")["db0"]["keys"] == 20, "expired keys stay until touched"
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    deadline = time.monotonic() + 5
    while "db0" in client.info("keyspace"):
        assert time.monotonic() < deadline, "active expiry did not resume"
        time.sleep(0.1)


def test_debug_populate_creates_keys_as_redis_does_and_they_survive_a_restart(server):
    client = server.client()
    client.set("key:5", "kept")
    assert client.execute_command("DEBUG", "POPULATE", "10") == b"OK"
    assert client.dbsize() == 10
    assert client.get("key:5") == b"kept", "existing keys are left alone"
    assert client.get("key:9") == b"value:9" and client.get("key:10") is None
    assert client.execute_command("DEBUG", "POPULATE", "3", "big", "12") == b"OK"
    assert client.get("big:2") == b"value:2" + b"\0" * 5
    assert client.execute_command("DEBUG", "POPULATE", "2", "cut", "3") == b"OK"
    assert client.get("cut:1") == b"val"
    client.execute_command("SELECT", "4")
    assert client.execute_command("DEBUG", "POPULATE", "2500") == b"OK"  # more than one log entry
    assert client.dbsize() == 2500 and client.get("key:2499") == b"value:2499"
    assert client.execute_command("DEBUG", "POPULATE", "0") == b"OK"
    with pytest.raises(redis.exceptions.ResponseError, match="value is out of range, must be positive"):
        client.execute_command("DEBUG", "POPULATE", "-1")
    with pytest.raises(redis.exceptions.ResponseError, match="value is not an integer or out of range"):
        client.execute_command("DEBUG", "POPULATE", "ten")
    with pytest.raises(redis.exceptions.ResponseError, match="value is out of range, must be positive"):
        client.execute_command("DEBUG", "POPULATE", "1", "p", "-5")
    with pytest.raises(redis.exceptions.ResponseError, match="at most"):
        client.execute_command("DEBUG", "POPULATE", "100000000000")

    server.kill()
    server.start()
    restarted = server.client()
    assert restarted.dbsize() == 15 and restarted.get("cut:0") == b"val"
    restarted.execute_command("SELECT", "4")
    assert restarted.dbsize() == 2500


def test_memory_stats_reports_the_process_and_its_keys(server):
    client = server.client(decode_responses=True)
    for n in range(50):
        client.set(f"m{n}", "x" * 100)
    stats = client.memory_stats()
    assert stats["keys.count"] == 50
    assert stats["total.allocated"] > 1_000_000 and stats["dataset.bytes"] >= 50 * 100
    assert "Sam" in client.execute_command("MEMORY", "DOCTOR")


def test_info_memory_names_the_allocator_that_really_serves_malloc(server):
    """The process runs on mimalloc (linked ahead of the C library, so it replaces malloc
    for the Swift runtime, NIO and Lua alike); INFO says "libc" if that ever stops being
    true, which a link-order change would do silently."""
    allocator = server.client(decode_responses=True).info("memory")["mem_allocator"]
    assert allocator.startswith("mimalloc-"), allocator


def test_info_has_the_memory_and_eviction_fields_monitoring_tools_read(server):
    client = server.client()
    memory, stats = client.info("memory"), client.info("stats")
    for field in ("used_memory", "used_memory_rss", "maxmemory", "maxmemory_policy", "lazyfree_pending_objects",
                  "used_memory_peak", "used_memory_peak_human", "allocator_allocated", "total_system_memory",
                  "mem_fragmentation_ratio", "mem_clients_slaves", "active_defrag_running"):
        assert field in memory, field
    assert memory["used_memory_peak"] >= memory["used_memory"] > 0
    assert memory["total_system_memory"] > memory["used_memory_peak"]
    assert memory["lazyfree_pending_objects"] == 0
    assert stats["evicted_keys"] == 0 and memory["lazyfreed_objects"] == 0


def test_rdb_changes_since_last_save_counts_real_changes_until_a_save(server):
    """Redis's "dirty" counter (Redis's bitops unit): a write that changes nothing adds
    nothing, and BGSAVE starts it again from zero."""
    client = server.client(decode_responses=True)
    client.bgsave()
    deadline = time.time() + 10
    while client.info("persistence")["rdb_changes_since_last_save"] != 0:
        assert time.time() < deadline, "BGSAVE never reset the change count"
        time.sleep(0.05)

    def changes():
        return client.info("persistence")["rdb_changes_since_last_save"]

    client.setbit("bits", 0, 0)
    client.execute_command("BITFIELD", "field", "SET", "i5", 0, 0)
    assert changes() == 2, "creating two keys is two changes"
    client.setbit("bits", 0, 0)
    client.execute_command("BITFIELD", "field", "SET", "i5", 0, 0)
    assert changes() == 2, "rewriting the same bits changes nothing"
    client.setbit("bits", 0, 1)
    client.setbit("bits", 0, 1)
    assert changes() == 3
    client.bgsave()
    while changes() != 0:
        assert time.time() < deadline, "BGSAVE never reset the change count"
        time.sleep(0.05)


@pytest.mark.parametrize("target", ["redis", "trestle"], indirect=True)
def test_lazyfreed_objects_counts_what_redis_frees_in_the_background(target):
    """UNLINK of a value that costs more than 64 allocations to free, and each key of an
    ASYNC flush, count in INFO lazyfreed_objects (Redis's lazyfree unit)."""
    client = target.client(decode_responses=True)
    client.config_resetstat()
    client.sadd("big", *[f"member-{index}" for index in range(1000)])
    client.set("small", "x")

    def lazyfreed(expected):
        # Redis frees on a background thread and counts when done.
        deadline = time.time() + 5
        while client.info("memory")["lazyfreed_objects"] != expected and time.time() < deadline:
            time.sleep(0.02)
        return client.info("memory")["lazyfreed_objects"]

    client.unlink("big", "small")
    assert lazyfreed(1) == 1
    client.mset({"a": 1, "b": 2, "c": 3})
    client.flushall(asynchronous=True)
    assert lazyfreed(4) == 4


def test_a_sync_flush_counts_as_lazily_freed_outside_a_transaction_as_redis_7_4(server):
    """Redis 7.4 runs a client's FLUSHALL/FLUSHDB [SYNC] as a blocking ASYNC flush, so its
    keys count in lazyfreed_objects; inside MULTI it stays synchronous and counts nothing.
    (Debian's Redis 7.0 predates this: no differential run.)"""
    client = server.client(decode_responses=True)
    client.config_resetstat()
    client.mset({"a": 1, "b": 2, "c": 3})
    client.flushall()
    assert client.info("memory")["lazyfreed_objects"] == 3
    client.mset({"a": 1, "b": 2})
    client.execute_command("FLUSHDB", "SYNC")
    assert client.info("memory")["lazyfreed_objects"] == 5
    client.mset({"a": 1, "b": 2})
    with client.pipeline(transaction=True) as pipe:
        pipe.flushall()
        pipe.execute()
    assert client.dbsize() == 0 and client.info("memory")["lazyfreed_objects"] == 5


@pytest.mark.cluster
@pytest.mark.timeout(120)
def test_a_write_waiting_for_its_quorum_is_not_slow(cluster_factory):
    """Redis times a command's execution, not the I/O around it: a write that waits for
    its shard's quorum (both followers paused) is answered late, yet SLOWLOG, INFO
    commandstats and LATENCY do not count the wait."""
    cluster = cluster_factory(nodes=3)
    leader, slots = cluster.busiest_leader()
    key = cluster.key_in_slots(slots, prefix="quorum-wait")
    client = leader.client()
    client.config_set("slowlog-log-slower-than", 100_000)
    client.config_set("latency-monitor-threshold", 100)
    client.slowlog_reset()
    client.config_resetstat()
    client.set(key, "before")  # a write answered without waiting
    followers = [node for node in cluster.nodes.values() if node is not leader]
    answered = {}

    def write():
        started = time.monotonic()
        answered["reply"] = client.set(key, "after")
        answered["seconds"] = time.monotonic() - started

    for node in followers:
        node.pause()
    try:
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.35)
    finally:
        for node in followers:
            node.resume()
    writer.join(10)
    assert answered.get("reply") is True, answered
    assert answered["seconds"] >= 0.3, f"the write did not wait for its quorum ({answered})"
    assert [entry for entry in client.slowlog_get(10) if entry["command"].startswith(b"SET")] == []
    stats = client.info("commandstats")["cmdstat_set"]
    assert stats["calls"] == 2 and stats["usec"] < 100_000, stats
    assert client.execute_command("LATENCY", "LATEST") == []


def test_debug_sleep_of_any_number_is_bounded_and_never_stops_the_server(server):
    """`DEBUG SLEEP inf` once trapped converting infinity to an integer."""
    client = server.client()
    for seconds in ("nan", "-inf", "-1", "abc", "0"):
        assert client.execute_command("DEBUG", "SLEEP", seconds) == b"OK"
    sleeper = server.client()
    threading.Thread(target=lambda: _quietly(sleeper.execute_command, "DEBUG", "SLEEP", "inf"), daemon=True).start()
    time.sleep(0.3)
    assert client.ping() is True and server.process.poll() is None


def _quietly(call, *arguments):
    try:
        call(*arguments)
    except redis.exceptions.ConnectionError:
        pass


def test_debug_sleep_in_a_transaction_holds_exec_and_is_the_slow_entry(server):
    """As Redis: EXEC's reply comes after the sleep, and SLOWLOG shows the DEBUG SLEEP, not EXEC."""
    client = server.client(decode_responses=True)
    client.config_set("slowlog-log-slower-than", 100000)
    client.slowlog_reset()
    pipe = client.pipeline(transaction=True)
    pipe.execute_command("DEBUG", "SLEEP", "0.2")
    started = time.monotonic()
    assert pipe.execute() == ["OK"]
    assert time.monotonic() - started >= 0.19
    entries = client.slowlog_get()
    assert len(entries) == 1 and entries[0]["command"].lower() == b"debug sleep 0.2"


def test_debug_sleep_in_a_script_holds_its_reply_and_time_stays_frozen_inside(server):
    """Redis's 'Script block the time during execution': the key set with PX 1 still
    exists inside the script after the sleep, and is gone once the reply arrived."""
    client = server.client()
    client.execute_command("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1")  # DEBUG is noscript, as in Redis's test
    script = ("redis.call('SET', KEYS[1], 'value', 'PX', '1') redis.call('DEBUG', 'SLEEP', 0.01) "
              "return redis.call('EXISTS', KEYS[1])")
    for _ in range(3):
        started = time.monotonic()
        assert client.eval(script, 1, "key") == 1
        assert time.monotonic() - started >= 0.009
        assert client.exists("key") == 0


def test_debug_htstats_key_describes_a_key_stored_as_a_hash_table(server):
    client = server.client(decode_responses=True)
    client.sadd("small", 1, 2, 3)
    client.sadd("big", *[f"m:{index}" for index in range(300)])
    with pytest.raises(redis.ResponseError, match="not represented using an hash table"):
        client.execute_command("DEBUG", "HTSTATS-KEY", "small")
    with pytest.raises(redis.ResponseError, match="no such key"):
        client.execute_command("DEBUG", "HTSTATS-KEY", "missing")
    stats = client.execute_command("DEBUG", "HTSTATS-KEY", "big")
    assert "table size: 512" in stats and "number of elements: 300" in stats and "rehashing target" not in stats


def keysizes(client):
    """INFO keysizes as its lines, `name:bin=keys,...` (redis-py parses `a=1,b=2` into a dict
    but leaves a lone `a=1` a string: both are put back as text)."""
    def text(value):
        return ",".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
    return [f"{name}:{text(value)}" for name, value in client.info("keysizes").items()]


def test_info_keysizes_counts_keys_by_type_and_power_of_two_size_as_redis_8(server):
    client = server.client(decode_responses=True)
    assert keysizes(client) == []
    client.set("empty", "")
    client.set("s", "0123456789ABCDEF")
    client.rpush("l", *range(5))
    client.sadd("set", *range(8))
    client.zadd("z", {"a": 1})
    client.hset("h", mapping={"f": 1, "g": 2})
    client.xadd("stream", {"f": 1})  # streams are not counted
    client.select(3)
    client.set("big", "x" * 3000)
    assert keysizes(client) == ["db0_distrib_strings_sizes:0=1,16=1", "db0_distrib_lists_items:4=1",
                                "db0_distrib_sets_items:8=1", "db0_distrib_zsets_items:1=1",
                                "db0_distrib_hashes_items:2=1", "db3_distrib_strings_sizes:2K=1"]
    client.select(0)
    client.append("s", "x" * 16)  # 32 bytes
    client.lpop("l", 5)  # emptied: the key goes
    client.set("h", "abc")  # a hash overwritten by a string
    assert keysizes(client)[:3] == ["db0_distrib_strings_sizes:0=1,2=1,32=1", "db0_distrib_sets_items:8=1",
                                    "db0_distrib_zsets_items:1=1"]
    assert "db0_distrib_sets_items" in client.info(), "a default section, as in Redis 8"
    client.flushall()
    assert keysizes(client) == []


@pytest.mark.cluster
@pytest.mark.timeout(120)
def test_info_keysizes_of_a_cluster_node_counts_the_shards_it_leads(cluster_factory):
    cluster = cluster_factory(nodes=3)
    leader, slots = cluster.busiest_leader()
    keys = [cluster.key_in_slots(slots, prefix=f"sizes-{index}") for index in range(3)]
    client = leader.client(decode_responses=True)
    for index, key in enumerate(keys):
        client.set(key, "v" * (4 << index))  # 4, 8 and 16 bytes
    assert keysizes(client) == ["db0_distrib_strings_sizes:4=1,8=1,16=1"]


def test_hash_field_expiry_shows_in_info_keyspace_and_stats_as_redis_7_4(server):
    """Redis 7.4's figures: INFO keyspace's `subexpiry` counts the hashes with a field that
    has a time to live, INFO stats' `expired_subkeys` the fields removed as they expired
    (by active expiry here), and CONFIG RESETSTAT starts the latter again."""
    client = server.client()
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.hset("plain", mapping={"x": "1"})
    client.set("s", "v")
    assert client.info("keyspace")["db0"]["subexpiry"] == 0
    assert client.execute_command("HPEXPIRE", "h", 100, "FIELDS", 1, "a") == [1]
    assert client.info("keyspace")["db0"] == {"keys": 3, "expires": 0, "avg_ttl": 0, "subexpiry": 1}
    assert client.info("stats")["expired_subkeys"] == 0
    deadline = time.time() + 10
    while client.info("stats")["expired_subkeys"] == 0 and time.time() < deadline:
        time.sleep(0.05)
    assert client.info("stats")["expired_subkeys"] == 1
    assert client.hgetall("h") == {b"b": b"2"}
    assert client.info("keyspace")["db0"]["subexpiry"] == 0
    client.config_resetstat()
    assert client.info("stats")["expired_subkeys"] == 0


def test_debug_reload_shows_values_in_their_natural_encodings_as_redis_load(server):
    # Redis's unit/type/list "List encoding conversion when RDB loading": a quicklist that
    # shrank stays one until a reload re-encodes it as the listpack it now fits; a string
    # changed in place is raw until then. In database 9, as the suite's.
    client = server.client(decode_responses=True, db=9)
    client.config_set("list-max-listpack-size", "3")
    client.rpush("lst", "a", "b", "c")
    assert client.object("encoding", "lst") == "listpack"
    client.execute_command("DEBUG", "RELOAD")
    assert client.object("encoding", "lst") == "listpack"
    client.rpush("lst", "d")
    client.execute_command("DEBUG", "RELOAD")
    assert client.object("encoding", "lst") == "quicklist"
    client.rpop("lst")
    assert client.object("encoding", "lst") == "quicklist"
    client.set("s", "12")
    client.append("s", "3")
    assert client.object("encoding", "s") == "raw"
    client.execute_command("DEBUG", "RELOAD")
    assert client.object("encoding", "lst") == "listpack"
    assert client.object("encoding", "s") == "int"
    assert client.lrange("lst", 0, -1) == ["a", "b", "c"]
