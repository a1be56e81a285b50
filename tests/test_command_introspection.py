"""COMMAND's view of the table against redis-server's: subcommands found by pattern, the
movablekeys flag where Redis 7 sets it, and MIGRATE's key positions. (Raw connections:
redis-py reshapes COMMAND's replies.)"""

import pytest

from resp import RawConnection


def plain(reply):
    """A parsed reply without its type markers."""
    kind, value = reply
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value.decode() if isinstance(value, bytes) else value


def ask(port, *command):
    with RawConnection(port) as connection:
        return plain(connection.call(*command))


@pytest.mark.parametrize("pattern", ["cl*help", "config|*re*", "cluster*", "migrate", "sort*"])
def test_command_list_by_pattern_matches_redis(server, redis_reference, pattern):
    wanted = sorted(ask(redis_reference.port, "COMMAND", "LIST", "FILTERBY", "PATTERN", pattern))
    got = sorted(ask(server.port, "COMMAND", "LIST", "FILTERBY", "PATTERN", pattern))
    if pattern == "cluster*":  # Trestle's CLUSTER has the subcommands it implements
        assert set(got) <= set(wanted) and "cluster|help" in got and "cluster|shards" in got
    else:
        assert got == wanted


@pytest.mark.parametrize("command", ["sort_ro", "migrate", "sort", "xread", "get"])
def test_movable_keys_flags_match_redis(server, redis_reference, command):
    movable = lambda port: "movablekeys" in ask(port, "COMMAND", "INFO", command)[0][2]
    assert movable(server.port) == movable(redis_reference.port)


def test_migrate_key_positions_match_redis(server, redis_reference):
    request = ("COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5", "COPY", "AUTH2", "u", "p", "KEYS", "a", "b")
    assert ask(server.port, *request) == ask(redis_reference.port, *request) == ["a", "b"]
