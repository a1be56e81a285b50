"""Redis 7 functions against a real redis-server: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/
RESTORE/STATS/KILL and FCALL/FCALL_RO give the same replies and error texts (DUMP's payload
is Trestle's own, so it is only restored, never compared). On a 3-node cluster a library
loaded through one node is callable through every node and replicas converge."""

import os

import pytest
import redis

LIBRARY = """#!lua name=mylib
local function my_hset(keys, args)
  local hash = keys[1]
  local time = redis.call('TIME')[1]
  return redis.call('HSET', hash, '_last_modified_', time, unpack(args))
end
local function my_get(keys, args) return redis.call('GET', keys[1]) end
local function my_incr(keys, args) return redis.call('INCRBY', keys[1], args[1]) end
redis.register_function('my_hset', my_hset)
redis.register_function('my_incr', my_incr)
redis.register_function{function_name='my_get', callback=my_get, flags={'no-writes'}, description='reads'}
"""

# (command..., ) each run in order; a payload placeholder is replaced by this server's DUMP.
SCRIPT = [
    ("FUNCTION", "LOAD", LIBRARY),
    ("FUNCTION", "LOAD", LIBRARY),
    ("FUNCTION", "LOAD", "REPLACE", LIBRARY),
    ("FUNCTION", "LOAD", "BOGUS", LIBRARY),
    ("FUNCTION", "LOAD", "REPLACE"),
    ("FCALL", "my_hset", "1", "h", "a", "1"),
    ("HGET", "h", "a"),
    ("SET", "k", "v"),
    ("FCALL", "my_get", "1", "k"),
    ("FCALL", "MY_GET", "1", "k"),
    ("FCALL_RO", "my_get", "1", "k"),
    ("FCALL_RO", "my_hset", "1", "h", "a", "1"),
    ("FCALL", "my_incr", "1", "n", "5"),
    ("FCALL", "my_incr", "1", "k", "5"),
    ("FCALL", "nope", "0"),
    ("FCALL", "my_get", "5", "k"),
    ("FCALL", "my_get", "-1", "k"),
    ("FCALL", "my_get", "x", "k"),
    ("FUNCTION", "LIST"),
    ("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "my*"),
    ("FUNCTION", "LIST", "LIBRARYNAME", "other*"),
    ("FUNCTION", "LIST", "LIBRARYNAME"),
    ("FUNCTION", "LIST", "BOGUS"),
    ("FUNCTION", "STATS"),
    ("FUNCTION", "LOAD", "return 1"),
    ("FUNCTION", "LOAD", "#!lua\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=x foo=bar\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=x name=y\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=x\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('my_get', function() end)"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}"),
    ("FUNCTION", "LOAD", "#!lua name=x\nsyntax error here"),
    ("FUNCTION", "LOAD", "#!js name=x\nreturn 1"),
    ("FUNCTION", "LOAD", "#! name=x\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=bad-name\nreturn 1"),
    ("FUNCTION", "DUMP-AND-KEEP",),
    ("FUNCTION", "DELETE", "mylib"),
    ("FUNCTION", "DELETE", "mylib"),
    ("FCALL", "my_get", "1", "k"),
    ("FUNCTION", "RESTORE", "{payload}"),
    ("FCALL", "my_get", "1", "k"),
    ("FUNCTION", "RESTORE", "{payload}"),
    ("FUNCTION", "RESTORE", "{payload}", "BOGUS"),
    ("FUNCTION", "RESTORE", "{payload}", "REPLACE"),
    ("FUNCTION", "RESTORE", "{payload}", "FLUSH"),
    ("FUNCTION", "RESTORE", "garbage"),
    ("FUNCTION", "FLUSH", "x"),
    ("FUNCTION", "KILL"),
    ("FUNCTION", "FLUSH", "SYNC"),
    ("FUNCTION", "LIST"),
    ("FUNCTION", "BOGUS"),
]


def sorted_functions(value):
    """FUNCTION LIST's reply with every library's function list sorted."""
    if isinstance(value, dict):
        return {key: (sorted(map(repr, item)) if key in (b"functions", "functions") else sorted_functions(item))
                for key, item in value.items()}
    if isinstance(value, list):
        if len(value) >= 6 and value[4] in (b"functions", "functions"):
            return value[:5] + [sorted(map(repr, value[5]))] + value[6:]
        return [sorted_functions(item) for item in value]
    return value


def transcript(client):
    client.flushall()
    client.function_flush()
    payload = None
    replies = []
    for command in SCRIPT:
        if command == ("FUNCTION", "DUMP-AND-KEEP"):
            payload = client.execute_command("FUNCTION", "DUMP")
            continue
        command = tuple(payload if part == "{payload}" else part for part in command)
        try:
            reply = client.execute_command(*command)
            if command[:2] == ("FUNCTION", "LIST"):
                reply = repr(sorted_functions(reply))  # a library's functions come in hash order in Redis
            replies.append((command[:3], reply))
        except redis.ResponseError as error:
            replies.append((command[:3], f"error: {error}"))
    return replies


@pytest.mark.parametrize("protocol", [2, 3])
def test_same_replies_as_redis(server, redis_reference, protocol):
    theirs = transcript(redis_reference.client(protocol=protocol))
    mine = transcript(server.client(protocol=protocol))
    differences = [f"  {command!r}:\n    trestle {got!r}\n    redis   {want!r}"
                   for (command, got), (_, want) in zip(mine, theirs) if got != want]
    assert not differences, "functions differ from redis-server:\n" + "\n".join(differences)


def test_redis_py_function_api(server):
    client = server.client(decode_responses=True)
    assert client.function_load(LIBRARY, replace=True) == "mylib"
    assert client.fcall("my_incr", 1, "counter", 7) == 7
    assert client.fcall_ro("my_get", 1, "counter") == "7"
    assert client.function_list()[0][:2] == ["library_name", "mylib"]


def test_libraries_survive_a_restart_and_a_crash(server):
    """As Redis keeps functions in its RDB/AOF: a library loaded is there after a graceful
    restart and after kill -9; a deleted one stays deleted."""
    client = server.client(decode_responses=True)
    assert client.function_load(LIBRARY) == "mylib"
    assert client.fcall("my_incr", 1, "counter", 2) == 2
    server.restart()
    client = server.client(decode_responses=True)
    assert client.function_list()[0][:2] == ["library_name", "mylib"]
    assert client.fcall("my_incr", 1, "counter", 3) == 5
    server.crash_restart()
    client = server.client(decode_responses=True)
    assert client.fcall_ro("my_get", 1, "counter") == "5"
    client.function_delete("mylib")
    server.crash_restart()
    assert server.client(decode_responses=True).function_list() == []


def small_library(index):
    return f"#!lua name=lib{index}\nredis.register_function('f{index}', function() return {index} end)"


def test_many_libraries_are_loaded_in_linear_time_and_kept(server_factory):
    """Each change appends to functions.trfl rather than rewriting every library (Redis's
    scripting unit loads 50,000 one by one), and the log is folded into functions.trfn
    once it outgrows it; both survive kill -9, and a change in them is replayed in order.
    (`--fsync no`: 20,000 fsyncs would time the disk, not the server; a process crash
    loses nothing either way.)"""
    server = server_factory("--fsync", "no")
    client = server.client(decode_responses=True)
    pipe = client.pipeline(transaction=False)
    for index in range(20000):
        pipe.function_load(small_library(index))
    pipe.execute()
    client.function_delete("lib7")
    client.function_load(small_library(7).replace("return 7", "return 77"))
    names = os.listdir(server.dir)
    assert "functions.trfn" in names, "folded once the log passed 1 MiB"
    server.crash_restart()
    client = server.client(decode_responses=True)
    assert len(client.function_list()) == 20000
    assert client.fcall("f19999", 0) == 19999
    assert client.fcall("f7", 0) == 77


def test_a_load_with_many_replace_flags_is_kept_with_the_changes_after_it(server):
    """FUNCTION LOAD accepts REPLACE any number of times; the log records it as one LOAD
    REPLACE, so replaying it at start-up neither fails nor drops what came after."""
    client = server.client(decode_responses=True)
    client.execute_command("FUNCTION", "LOAD", *(["REPLACE"] * 20), small_library(1))
    client.function_load(small_library(2))
    server.crash_restart()
    client = server.client(decode_responses=True)
    assert sorted(entry[1] for entry in client.function_list()) == ["lib1", "lib2"]


def test_a_torn_function_log_record_is_dropped_and_a_stale_log_ignored(server):
    """A crash while a record was appended leaves part of it: the start drops that part
    (its command was never answered) and keeps the records before it. A log whose header
    names another libraries file (left from before that file was last rewritten, whose
    changes it already holds) is removed unread."""
    client = server.client(decode_responses=True)
    client.function_load(small_library(1))
    client.function_load(small_library(2))
    server.stop()
    log_path = os.path.join(server.dir, "functions.trfl")
    whole = open(log_path, "rb").read()
    with open(log_path, "ab") as log:
        log.write(b"\x40\x00\x00\x00partial")
    server.start()
    client = server.client(decode_responses=True)
    assert sorted(entry[1] for entry in client.function_list()) == ["lib1", "lib2"]
    assert "torn end of the function library log" in server.stdout() + server.stderr()
    assert open(log_path, "rb").read() == whole, "the torn part is cut off"
    server.stop()
    # The same records under a header naming a libraries file that is not there.
    with open(log_path, "wb") as log:
        log.write(whole[:5] + b"\xef\xbe\xad\xde" + whole[9:])
    server.start()
    assert server.client().function_list() == []
    assert not os.path.exists(log_path), "a stale log is removed"
    server.stop()
    # A crash during the very first append (the header goes with the first record).
    with open(log_path, "wb") as log:
        log.write(b"TRF")
    server.start()
    assert server.client().function_list() == []
    assert not os.path.exists(log_path), "a log cut inside its header is removed"


def test_a_function_cannot_register_functions_once_loaded(server):
    """As Redis's 'malicious access' test: a library keeping `redis` and calling its
    register_function from a function gets Redis's error, not a nil-call error."""
    client = server.client()
    client.function_load("#!lua name=lib1\nlocal lib = redis\n"
                         "lib.register_function('f2', function() lib.register_function('f1', function() return 1 end) end)",
                         replace=True)
    with pytest.raises(redis.ResponseError, match="redis.register_function can only be called on FUNCTION LOAD command"):
        client.fcall("f2", 0)


def test_a_library_loads_in_redis_load_environment(server):
    """As Redis 7+: while a library loads, its only global is `redis` (the load API), so
    other globals are unknown; once loaded, its functions see the script globals, where
    `redis` has no register_function and globals are read-only."""
    client = server.client()
    with pytest.raises(redis.ResponseError, match="Script attempted to access nonexistent global variable 'getmetatable'"):
        client.function_load("#!lua name=test1\nmt = getmetatable(_G)")
    with pytest.raises(redis.ResponseError, match="Script attempted to access nonexistent global variable 'string'"):
        client.function_load("#!lua name=test1\nlocal s = string.format('%d', 1)\n"
                             "redis.register_function('f', function() return 1 end)")
    client.function_load("#!lua name=lib\nredis.register_function('f1', function(keys, args)\n"
                         "  redis.register_function('f2', function() return 2 end)\n  return 1\nend)\n"
                         "redis.register_function('f3', function() redis = function() return 1 end end)\n"
                         "redis.register_function('f4', function(keys, args) return string.format('%s-%s', keys[1], args[1]) end)",
                         replace=True)
    with pytest.raises(redis.ResponseError, match="attempt to call field 'register_function' \\(a nil value\\)"):
        client.fcall("f1", 0)
    with pytest.raises(redis.ResponseError, match="Attempt to modify a readonly table"):
        client.fcall("f3", 0)
    assert client.fcall("f4", 1, "k", "v") == b"k-v"
