"""ACL users on a standalone server, driven by redis-py as an application would: users
with passwords, command categories and single commands, key patterns (read-only and
write-only ones), channel patterns, AUTH user pass and HELLO AUTH, ACL LIST/GETUSER/
USERS/WHOAMI/DELUSER/CAT/LOG/DRYRUN/GENPASS, and requirepass as the default user's
password. Texts are Redis 7.2's."""

import time

import pytest
import redis
import redis.backoff
import redis.retry

from resp import RawConnection, encode_command

NO_RETRY = redis.retry.Retry(redis.backoff.NoBackoff(), 0)


def user_client(server, user, password, **kwargs):
    return server.client(decode_responses=True, username=user, password=password, retry=NO_RETRY, **kwargs)


@pytest.fixture
def admin(server):
    client = server.client(decode_responses=True)
    yield client
    client.close()


def test_a_user_runs_only_its_commands_on_its_keys(server, admin):
    assert admin.acl_setuser("alice", enabled=True, passwords=["+wonderland"], keys=["app:*"],
                             commands=["+@all", "-@dangerous", "-flushdb"])
    alice = user_client(server, "alice", "wonderland")
    assert alice.acl_whoami() == "alice"
    assert alice.set("app:1", "v") is True
    assert alice.get("app:1") == "v"
    with pytest.raises(redis.exceptions.NoPermissionError, match="No permissions to access a key"):
        alice.get("other")
    with pytest.raises(redis.exceptions.NoPermissionError, match="User alice has no permissions to run the 'keys' command"):
        alice.keys("*")
    with pytest.raises(redis.exceptions.NoPermissionError, match="'flushdb' command"):
        alice.flushdb()
    # A multi-key command needs every key.
    with pytest.raises(redis.exceptions.NoPermissionError):
        alice.mget("app:1", "other")
    assert admin.get("other") is None and admin.dbsize() == 1


def test_a_scripts_calls_are_held_to_its_callers_rules(server, admin):
    """As Redis 7.2: each redis.call is checked against the caller's ACL (the refusal is
    logged with context lua), redis.acl_check_cmd answers for the caller, and a script that
    swallows a refusal with pcall and then writes is refused whole (Trestle replays a
    writing script in its log, where the refused call must not be carried)."""
    assert admin.acl_setuser("bob", enabled=True, passwords=["+123"], commands=["+@scripting", "+set"], keys=["x*"])
    bob = user_client(server, "bob", "123")
    refusal = "ACL failure in script: User bob has no permissions to run the 'hset' command"
    with pytest.raises(redis.ResponseError, match=refusal):
        bob.eval("return redis.call('hset', KEYS[1], 'f', 1)", 1, "xx")
    assert bob.eval("return redis.call('set', KEYS[1], 1)", 1, "xx") == "OK"
    # The script is known to write now: a restricted caller's run is checked all the same.
    with pytest.raises(redis.ResponseError, match=refusal):
        bob.eval("redis.pcall('hset', KEYS[1], 'f', 1) return redis.call('set', KEYS[1], 2)", 1, "xx")
    assert admin.get("xx") == "1"
    assert admin.eval("redis.pcall('hset', KEYS[1], 'f', 1) return redis.call('set', KEYS[1], 2)", 1, "xy") == "OK"
    with pytest.raises(redis.ResponseError, match=refusal):
        bob.eval("redis.pcall('hset', KEYS[1], 'f', 1) return redis.call('set', KEYS[1], 2)", 1, "xy")
    assert bob.eval("return {redis.acl_check_cmd('set', 'xx', 1) and 1 or 0, redis.acl_check_cmd('hset', 'xx', 'f', 1) and 1 or 0,"
                    " redis.acl_check_cmd('set', 'yy', 1) and 1 or 0}", 1, "xx") == [1, 0, 0]
    assert admin.eval("return redis.acl_check_cmd('hset', 'xx', 'f', 1) and 1 or 0", 0) == 1
    with pytest.raises(redis.ResponseError, match="Invalid command passed to redis.acl_check_cmd()"):
        bob.eval("return redis.acl_check_cmd('nope')", 0)
    entry = admin.acl_log(count=1)[0]
    assert (entry["context"], entry["object"], entry["username"]) == ("lua", "hset", "bob")
    admin.acl_deluser("bob")


def test_read_only_and_write_only_key_patterns(server, admin):
    admin.set("ro:1", "x")
    admin.execute_command("ACL", "SETUSER", "bob", "on", ">pw", "%R~ro:*", "%W~wo:*", "+@all")
    bob = user_client(server, "bob", "pw")
    assert bob.get("ro:1") == "x"
    with pytest.raises(redis.exceptions.NoPermissionError):
        bob.set("ro:1", "y")
    assert bob.set("wo:1", "z") is True
    with pytest.raises(redis.exceptions.NoPermissionError):
        bob.get("wo:1")
    assert admin.get("wo:1") == "z" and admin.get("ro:1") == "x"


def test_channel_patterns_gate_publish_and_subscribe(server, admin):
    admin.execute_command("ACL", "SETUSER", "carol", "on", ">pw", "~*", "&news.*", "+@all")
    carol = user_client(server, "carol", "pw")
    assert carol.publish("news.today", "hi") == 0
    with pytest.raises(redis.exceptions.NoPermissionError, match="No permissions to access a channel"):
        carol.publish("gossip", "psst")
    with pytest.raises(redis.exceptions.NoPermissionError):
        carol.execute_command("SUBSCRIBE", "gossip")


def test_shard_channels_are_held_to_channel_rules_not_key_rules(server, admin):
    # SPUBLISH and SSUBSCRIBE name their channel where a key would be: Trestle once
    # checked it against the key patterns ("No permissions to access a key").
    admin.execute_command("ACL", "SETUSER", "sharded", "on", ">pw", "resetkeys", "resetchannels", "&orders", "+@all")
    sharded = user_client(server, "sharded", "pw")
    assert sharded.execute_command("SPUBLISH", "orders", "hi") == 0
    with pytest.raises(redis.exceptions.NoPermissionError, match="No permissions to access a channel"):
        sharded.execute_command("SPUBLISH", "gossip", "psst")
    with pytest.raises(redis.exceptions.NoPermissionError, match="No permissions to access a channel"):
        sharded.execute_command("SSUBSCRIBE", "gossip")
    with pytest.raises(redis.exceptions.NoPermissionError, match="No permissions to access a key"):
        sharded.get("orders")


def test_usernames_cannot_hold_spaces_or_nulls(admin):
    for name in ("a a", "a\x00b"):
        with pytest.raises(redis.exceptions.ResponseError, match="Usernames can't contain spaces or null characters"):
            admin.execute_command("ACL", "SETUSER", name)
    assert "a a" not in admin.acl_users()


def subscriber(server, user, password, *command):
    connection = RawConnection(server.port)
    assert connection.call("AUTH", user, password) == ("+", b"OK")
    assert connection.call(*command)[0] == "*"
    return connection


def test_changed_users_close_the_clients_they_no_longer_allow(server, admin):
    # As Redis: a deleted user's clients are closed, and so is a subscriber whose user
    # lost one of its channels or patterns; one that keeps them (or gains allchannels)
    # stays, and changes of passwords or commands close nothing.
    admin.execute_command("ACL", "SETUSER", "ps", "on", ">pw", "~*", "resetchannels", "&news", "&bar:*", "&orders", "+@all")
    plain = subscriber(server, "ps", "pw", "SUBSCRIBE", "news")
    pattern = subscriber(server, "ps", "pw", "PSUBSCRIBE", "bar:*")
    sharded = subscriber(server, "ps", "pw", "SSUBSCRIBE", "orders")
    admin.execute_command("ACL", "SETUSER", "ps", "&extra", ">another", "-flushall")
    admin.execute_command("ACL", "SETUSER", "ps", "resetchannels", "&news", "&orders", "&bar:*", "&more")
    assert admin.publish("news", "still here") == 1
    assert plain.read_reply() == ("*", [("$", b"message"), ("$", b"news"), ("$", b"still here")])
    admin.execute_command("ACL", "SETUSER", "ps", "resetchannels", "&news", "&orders", "&bar:1")
    assert pattern.is_closed_by_peer(), "the pattern bar:* is no longer allowed literally"
    admin.execute_command("ACL", "SETUSER", "ps", "resetchannels", "&news")
    assert sharded.is_closed_by_peer()
    admin.execute_command("ACL", "SETUSER", "ps", "allchannels")
    assert admin.publish("news", "again") == 1
    assert plain.read_reply() == ("*", [("$", b"message"), ("$", b"news"), ("$", b"again")])
    other = RawConnection(server.port)
    assert other.call("AUTH", "ps", "pw") == ("+", b"OK")
    assert admin.execute_command("ACL", "DELUSER", "ps") == 1
    assert plain.is_closed_by_peer()
    assert other.is_closed_by_peer()
    assert not [entry for entry in admin.client_list() if entry["user"] == "ps"]
    assert admin.ping()


def test_a_subscriber_that_revokes_its_own_channel_gets_the_reply_then_is_closed(server, admin):
    admin.execute_command("ACL", "SETUSER", "self", "on", ">pw", "~*", "resetchannels", "&mine", "+@all")
    connection = RawConnection(server.port)
    assert connection.call("HELLO", "3", "AUTH", "self", "pw")[0] == "%"
    assert connection.call("SUBSCRIBE", "mine")[0] == ">"
    assert connection.call("ACL", "SETUSER", "self", "resetchannels") == ("+", b"OK")
    assert connection.is_closed_by_peer()


def test_hello_takes_its_last_auth_and_names_only_an_authenticated_client(server, admin):
    admin.execute_command("ACL", "SETUSER", "first", "on", ">supass", "+@all")
    admin.execute_command("ACL", "SETUSER", "second", "on", ">supass", "+@all")
    connection = RawConnection(server.port)
    assert connection.call("HELLO", "2", "AUTH", "nobody", "x", "AUTH", "first", "supass")[0] == "*"
    assert connection.call("ACL", "WHOAMI") == ("$", b"first")
    assert connection.call("CLIENT", "SETNAME", "before") == ("+", b"OK")
    reply = connection.call("HELLO", "2", "AUTH", "second", "supass", "AUTH", "nobody", "x", "SETNAME", "after")
    assert reply == ("-", b"WRONGPASS invalid username-password pair or user is disabled.")
    assert connection.call("ACL", "WHOAMI") == ("$", b"first")
    assert connection.call("CLIENT", "GETNAME") == ("$", b"before")
    assert connection.call("auth", "nobody", "x")[0] == "-"
    objects = [entry["object"] for entry in admin.acl_log() if entry["reason"] == "auth"]
    assert objects[:2] == ["auth", "HELLO"], objects


def test_info_counts_refusals_by_kind(server, admin):
    admin.execute_command("ACL", "SETUSER", "counted", "on", ">pw", "~allowed", "resetchannels", "&allowed", "+get", "+publish", "+client")
    counted = user_client(server, "counted", "pw")
    before = admin.info("stats")
    with pytest.raises(redis.exceptions.NoPermissionError):
        counted.set("allowed", "x")
    with pytest.raises(redis.exceptions.NoPermissionError):
        counted.get("other")
    with pytest.raises(redis.exceptions.NoPermissionError):
        counted.publish("other", "x")
    with pytest.raises(redis.exceptions.AuthenticationError):
        user_client(server, "counted", "wrong").ping()
    after = admin.info("stats")
    for field in ("acl_access_denied_cmd", "acl_access_denied_key", "acl_access_denied_channel", "acl_access_denied_auth"):
        assert after[field] == before[field] + 1, field
    admin.config_resetstat()
    assert admin.info("stats")["acl_access_denied_key"] == 0


def test_a_blocked_command_is_checked_again_when_it_wakes(server, admin):
    # As Redis: the woken BLPOP of a user that lost its keys meanwhile gets NOPERM, pops
    # nothing, and counts as a rejected call.
    admin.execute_command("ACL", "SETUSER", "waiter", "reset", "on", "nopass", "+@all", "allkeys")
    admin.config_resetstat()
    connection = RawConnection(server.port)
    assert connection.call("AUTH", "waiter", "x") == ("+", b"OK")
    connection.send(encode_command("BLPOP", "waited", "0"))
    for _ in range(100):
        if admin.info("clients")["blocked_clients"] == 1:
            break
        time.sleep(0.02)
    admin.execute_command("ACL", "SETUSER", "waiter", "resetkeys")
    admin.lpush("waited", "element")
    assert connection.read_reply() == ("-", b"NOPERM No permissions to access a key")
    assert admin.lrange("waited", 0, -1) == ["element"]
    stats = admin.info("commandstats")["cmdstat_blpop"]
    assert stats["calls"] == 0 and stats["rejected_calls"] == 1, stats
    assert connection.call("PING") == ("+", b"PONG")


def test_authentication_of_users(server, admin):
    admin.execute_command("ACL", "SETUSER", "dave", "on", ">one", ">two", "~*", "+@all")
    for password in ("one", "two"):
        assert user_client(server, "dave", password).ping() is True
    with pytest.raises(redis.AuthenticationError, match="invalid username-password pair"):
        user_client(server, "dave", "three").ping()
    with pytest.raises(redis.AuthenticationError):
        user_client(server, "nobody", "one").ping()
    admin.execute_command("ACL", "SETUSER", "dave", "off")
    with pytest.raises(redis.AuthenticationError):
        user_client(server, "dave", "one").ping()
    admin.execute_command("ACL", "SETUSER", "dave", "on", "<one")
    with pytest.raises(redis.AuthenticationError):
        user_client(server, "dave", "one").ping()
    assert user_client(server, "dave", "two").ping() is True
    hello = server.client(decode_responses=True, protocol=3).execute_command("HELLO", "3", "AUTH", "dave", "two")
    assert hello["proto"] == 3
    log = admin.acl_log()
    assert any(entry["reason"] == "auth" and entry["username"] == "dave" for entry in log), log


def test_acl_introspection_matches_redis(server, admin):
    assert admin.acl_list() == ["user default on nopass ~* &* +@all"]
    admin.execute_command("ACL", "SETUSER", "alice", "on", ">p1", "~app:*", "%R~ro:*", "&chan", "-@all", "+@read", "+set")
    assert admin.acl_users() == ["alice", "default"]
    user = admin.acl_getuser("alice")
    assert user["flags"] == ["on"]
    assert user["keys"] == ["~app:*", "%R~ro:*"] or user["keys"] == "~app:* %R~ro:*"
    # redis-py splits the commands string into categories and commands.
    assert user["categories"] == ["-@all", "+@read"] and user["commands"] == ["+set"]
    line = [entry for entry in admin.acl_list() if entry.startswith("user alice")][0]
    assert line.startswith("user alice on #") and "~app:* %R~ro:* resetchannels &chan -@all +@read +set" in line
    assert admin.execute_command("ACL", "SETUSER", "bob") == "OK"
    assert "user bob off resetchannels -@all" in admin.acl_list()
    with pytest.raises(redis.ResponseError, match="The 'default' user cannot be removed"):
        admin.acl_deluser("default")
    assert admin.acl_deluser("bob", "ghost") == 1
    assert admin.acl_getuser("bob") is None
    with pytest.raises(redis.ResponseError, match="Error in ACL SETUSER modifier 'bogus': Syntax error"):
        admin.execute_command("ACL", "SETUSER", "x", "bogus")
    with pytest.raises(redis.ResponseError, match="Unknown command or category name in ACL"):
        admin.execute_command("ACL", "SETUSER", "x", "+nosuchcommand")
    with pytest.raises(redis.ResponseError, match="Adding a pattern after the \\* pattern"):
        admin.execute_command("ACL", "SETUSER", "x", "~*", "~a")
    categories = admin.acl_cat()
    assert "dangerous" in categories and "read" in categories and len(categories) == 21
    assert "get" in admin.acl_cat("read") and "flushall" in admin.acl_cat("dangerous")
    assert "set" not in admin.acl_cat("read")
    assert admin.execute_command("ACL", "DRYRUN", "alice", "get", "app:1") == "OK"
    assert "no permissions to access the 'other' key" in admin.execute_command("ACL", "DRYRUN", "alice", "get", "other")
    assert len(admin.acl_genpass()) == 64 and len(admin.acl_genpass(32)) == 8
    assert admin.acl_whoami() == "default"


def test_refusals_are_logged_and_the_log_resets(server, admin):
    admin.execute_command("ACL", "SETUSER", "erin", "on", ">pw", "~mine:*", "+get")
    erin = user_client(server, "erin", "pw")
    for _ in range(3):
        with pytest.raises(redis.exceptions.NoPermissionError):
            erin.get("yours")
    with pytest.raises(redis.exceptions.NoPermissionError):
        erin.set("mine:1", "x")
    log = admin.acl_log()
    assert log[0]["reason"] == "command" and log[0]["object"] == "set" and log[0]["username"] == "erin"
    assert log[1]["reason"] == "key" and log[1]["object"] == "yours" and log[1]["count"] == 3
    assert log[0]["client-info"]["user"] == "erin"
    assert [entry["entry-id"] for entry in admin.acl_log(count=1)] == [log[0]["entry-id"]]
    assert admin.acl_log_reset() is True
    assert admin.acl_log() == []


def test_requirepass_is_the_default_users_password(server, admin):
    admin.config_set("requirepass", "sesame")
    with pytest.raises(redis.AuthenticationError):
        server.client(decode_responses=True).get("k")
    client = server.client(decode_responses=True, password="sesame")
    assert client.ping() is True
    assert user_client(server, "default", "sesame").acl_whoami() == "default"
    assert client.acl_getuser("default")["flags"] == ["on"]
    client.config_set("requirepass", "")
    assert server.client(decode_responses=True).ping() is True


def test_an_acl_file_is_loaded_at_start_saved_and_reloaded(server_factory, tmp_path):
    aclfile = tmp_path / "users.acl"
    aclfile.write_text("# users of this server\nuser alice on >wonderland ~app:* +@all\n\nuser default on nopass ~* &* +@all\n")
    server = server_factory("--aclfile", str(aclfile))
    admin = server.client(decode_responses=True)
    assert user_client(server, "alice", "wonderland").acl_whoami() == "alice"
    admin.execute_command("ACL", "SETUSER", "bob", "on", ">builder", "~*", "+get")
    assert admin.execute_command("ACL", "SAVE") == "OK"
    saved = aclfile.read_text()
    assert "user bob on #" in saved and "user alice on #" in saved

    # A restart reads the saved file.
    server.stop()
    server.start()
    bob = user_client(server, "bob", "builder")
    assert bob.get("anything") is None
    with pytest.raises(redis.exceptions.NoPermissionError, match="'acl|whoami'"):
        bob.acl_whoami()

    # ACL LOAD replaces the users with the file's; a bad file changes nothing.
    aclfile.write_text("user carol on >c ~* +@all\n")
    admin = server.client(decode_responses=True)
    assert admin.execute_command("ACL", "LOAD") == "OK"
    assert admin.acl_users() == ["carol", "default"]
    aclfile.write_text("user dave on >d ~* +@all\nuser erin on bogus\n")
    with pytest.raises(redis.ResponseError, match=r"users\.acl:2: Error in ACL SETUSER modifier 'bogus': Syntax error"):
        admin.execute_command("ACL", "LOAD")
    assert admin.acl_users() == ["carol", "default"]


def test_a_bad_acl_file_stops_the_server_with_the_line(server_factory, tmp_path):
    aclfile = tmp_path / "bad.acl"
    aclfile.write_text("user alice on >pw +@all\nnot a user line\n")
    failure = server_factory("--aclfile", str(aclfile), start=False).start(expect_failure=True)
    assert "bad.acl:2" in failure.stdout + failure.stderr, failure


def test_exec_checks_queued_commands_against_permissions_changed_since(server, redis_reference):
    """As Redis: EXEC checks each queued command again; one its user lost since it was
    queued does not run, gets Redis's NOPERM text in its place in EXEC's reply, and is
    logged in ACL LOG in the context `multi` with EXEC as the client's command; the others
    run. Compared with redis-server for the same requests."""
    seen = []
    for target in (server, redis_reference):
        admin = target.client(decode_responses=True)
        admin.execute_command("ACL", "SETUSER", "antirez", ">foo", "on", "~object:*", "+multi", "+exec", "+incr", "+set")
        admin.execute_command("ACL", "LOG", "RESET")
        admin.config_resetstat()
        raw = RawConnection(target.port)
        try:
            assert raw.call("AUTH", "antirez", "foo") == ("+", b"OK")
            assert raw.call("MULTI") == ("+", b"OK")
            assert raw.call("INCR", "object:1") == ("+", b"QUEUED")
            assert raw.call("SET", "object:1", "5") == ("+", b"QUEUED")
            assert raw.call("INCR", "object:1") == ("+", b"QUEUED")
            admin.execute_command("ACL", "SETUSER", "antirez", "-incr")
            reply = raw.call("EXEC")
        finally:
            raw.close()
        entry = admin.acl_log()[0]
        commands = admin.info("commandstats")
        seen.append((reply, admin.get("object:1"), entry["context"], entry["object"], entry["reason"], entry["count"],
                     entry["client-info"]["cmd"], entry["client-info"]["multi"], admin.info("errorstats"), commands.get("cmdstat_incr"),
                     commands["cmdstat_set"]["calls"]))
        admin.close()
    refusal = ("-", b"NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. "
                    b"This command is no longer allowed for the following reason: no permission to execute the command or subcommand")
    assert seen[0][0] == ("*", [refusal, ("+", b"OK"), refusal])
    assert seen[0] == seen[1]
    assert seen[0][1:8] == ("5", "multi", "incr", "command", 2, "exec", 3)
