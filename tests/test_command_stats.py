"""INFO commandstats and errorstats: the same calls, rejected_calls and failed_calls (and
error codes) as redis-server for the same requests; shown by INFO all and by name, not by
the default INFO; emptied by CONFIG RESETSTAT; and on the admin port as
trestle_commands_total, trestle_command_errors_total and trestle_redirects_total."""

import urllib.request

import redis

from ports import loopback_port


def conversation(client):
    client.set("a", "b")
    client.get("a")
    client.get("missing")
    for arguments in (("GET",), ("INCR", "a"), ("HSET", "a", "f", "v"), ("NOSUCHCOMMAND",), ("SET", "a")):
        try:
            client.execute_command(*arguments)
        except redis.ResponseError:
            pass
    client.incr("n")


def stats(client, section):
    """{name: {field: value}} without the timing fields."""
    parsed = {}
    for name, value in client.info(section).items():
        fields = value if isinstance(value, dict) else {"value": value}
        parsed[name] = {k: v for k, v in fields.items() if k not in ("usec", "usec_per_call")}
    return parsed


def test_counts_match_redis(server, redis_reference):
    mine, theirs = server.client(), redis_reference.client()
    for client in (mine, theirs):
        client.config_resetstat()
        conversation(client)
    wanted = ["cmdstat_set", "cmdstat_get", "cmdstat_incr", "cmdstat_hset"]
    got_commands, want_commands = stats(mine, "commandstats"), stats(theirs, "commandstats")
    assert {k: got_commands.get(k) for k in wanted} == {k: want_commands.get(k) for k in wanted}
    got_errors, want_errors = stats(mine, "errorstats"), stats(theirs, "errorstats")
    assert got_errors == want_errors
    assert "cmdstat_get" in mine.info("all")
    assert "cmdstat_get" not in mine.info()
    mine.config_resetstat()
    assert "cmdstat_set" not in mine.info("commandstats")


def test_commands_called_by_scripts_count_as_in_redis(server, redis_reference):
    """Redis 7 counts each command a script calls (writing scripts, which Trestle runs from
    its log, and read-only ones, which it runs as a trial, alike); a failed call counts as
    failed, and its error reaches errorstats once: when the call failed, or through the
    script's reply when that is the call's error."""
    mine, theirs = server.client(), redis_reference.client()
    for client in (mine, theirs):
        client.config_resetstat()
        client.set("mykey", "myval")
        client.eval("redis.call('set', KEYS[1], 0); redis.call('expire', KEYS[1], 0); "
                    "redis.call('geoadd', KEYS[1], 0, 0, 'bar')", 1, "mykey")
        client.eval("return redis.call('get', KEYS[1])", 1, "other")
        client.eval_ro("return redis.call('exists', KEYS[1])", 1, "other")
        client.eval("return redis.pcall('incr', KEYS[1])", 1, "notanumber")
        client.set("notanumber", "x")
        try:
            client.eval("return redis.call('incr', KEYS[1])", 1, "notanumber")
        except redis.ResponseError:
            pass
        # An error pcall caught counts when the call fails; one the script returns, once.
        client.eval("local caught = redis.pcall('incr', KEYS[1]) return 1", 1, "notanumber")
        try:
            client.eval("return redis.pcall('hset', KEYS[1], 'f', 'v')", 1, "notanumber")
        except redis.ResponseError:
            pass
    wanted = ["cmdstat_set", "cmdstat_expire", "cmdstat_geoadd", "cmdstat_get", "cmdstat_exists", "cmdstat_incr",
              "cmdstat_eval", "cmdstat_eval_ro"]
    got_commands, want_commands = stats(mine, "commandstats"), stats(theirs, "commandstats")
    assert {k: got_commands.get(k) for k in wanted} == {k: want_commands.get(k) for k in wanted}
    assert got_commands["cmdstat_set"]["calls"] == 3
    assert stats(mine, "errorstats") == stats(theirs, "errorstats")


def test_the_admin_port_counts_commands_and_errors(server_factory):
    admin = loopback_port()
    server = server_factory("--admin-port", str(admin))
    conversation(server.client())
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
    assert 'trestle_commands_total{command="set"} 1' in text
    assert 'trestle_command_errors_total{command="get",kind="rejected"} 1' in text
    assert 'trestle_command_errors_total{command="incr",kind="failed"} 1' in text
    assert 'trestle_redirects_total{kind="moved"} 0' in text
    assert "trestle_raft_leadership_won_total" in text


def test_a_script_returning_a_rejections_error_failed_rather_than_was_rejected(server, redis_reference):
    """A script that ran and returned an error table with a rejection's code (`return
    redis.pcall('set', ...)` under OOM) counts as a failed EVAL, while its SET call counts
    as rejected (Redis's "Consistent eval error reporting")."""
    mine, theirs = server.client(), redis_reference.client()
    for client in (mine, theirs):
        client.config_resetstat()
        client.config_set("maxmemory", 1)
        try:
            for script in ("return redis.pcall('set', KEYS[1], 'y')", "return redis.call('set', KEYS[1], 'y')"):
                try:
                    client.eval(script, 1, "x")
                except redis.ResponseError as error:
                    assert "command not allowed when used memory" in str(error)  # redis-py drops "OOM "
        finally:
            client.config_set("maxmemory", 0)
        # A write refused in a read-only script: the call was rejected, the script failed.
        try:
            client.eval_ro("return redis.call('set', KEYS[1], 'y')", 1, "x")
        except redis.ResponseError as error:
            assert "Write commands are not allowed from read-only scripts" in str(error)
    got_commands, want_commands = stats(mine, "commandstats"), stats(theirs, "commandstats")
    assert got_commands["cmdstat_eval"] == want_commands["cmdstat_eval"] == {"calls": 2, "rejected_calls": 0,
                                                                             "failed_calls": 2}
    assert got_commands["cmdstat_eval_ro"] == want_commands["cmdstat_eval_ro"]
    assert got_commands["cmdstat_set"] == want_commands["cmdstat_set"]
    assert stats(mine, "errorstats") == stats(theirs, "errorstats")


def test_transactions_count_as_in_redis(server, redis_reference):
    """A queued command counts when EXEC runs it, with its own reply (an error inside
    EXEC's reply is a failed call and counts in errorstats); a command refused while
    queueing is rejected, and EXEC then fails with EXECABORT, a failed EXEC (unit/info's
    "errorstats: failed/rejected call within MULTI/EXEC")."""
    mine, theirs = server.client(), redis_reference.client()
    for client in (mine, theirs):
        client.config_resetstat()
        connection = client.connection_pool.get_connection()
        try:
            def send(*arguments):
                connection.send_command(*arguments)
                try:
                    return connection.read_response()
                except redis.ResponseError as error:
                    return error
            assert send("MULTI") == b"OK"
            assert send("SET", "a", "b") == b"QUEUED"
            assert send("INCR", "a") == b"QUEUED"
            replies = send("EXEC")
            assert replies[0] == b"OK" and isinstance(replies[1], redis.ResponseError)
            assert isinstance(send("EXEC"), redis.ResponseError)  # without MULTI: EXEC failed
            assert send("MULTI") == b"OK"
            assert isinstance(send("SET"), redis.ResponseError)  # wrong arity: rejected
            assert str(send("EXEC")).startswith("Transaction discarded")
            assert send("MULTI") == b"OK"
            assert send("GET", "a") == b"QUEUED"
            assert send("DISCARD") == b"OK"  # a discarded command never ran
        finally:
            client.connection_pool.release(connection)
    got_commands, want_commands = stats(mine, "commandstats"), stats(theirs, "commandstats")
    for name in ("cmdstat_set", "cmdstat_incr", "cmdstat_exec", "cmdstat_multi", "cmdstat_discard", "cmdstat_get"):
        assert got_commands.get(name) == want_commands.get(name), name
    assert want_commands["cmdstat_exec"] == {"calls": 3, "rejected_calls": 0, "failed_calls": 2}
    assert stats(mine, "errorstats") == stats(theirs, "errorstats")
    assert mine.info("stats")["total_error_replies"] == theirs.info("stats")["total_error_replies"] == 4
