"""Command-level differential fuzz: seeded random and hostile commands (extreme integers,
odd floats, empty, binary and long strings, option keywords, wrong argument counts, keys of
every type colliding) sent to trestle and to redis-server in step; see fuzz_commands.py.

Fails when trestle dies, stops answering (no reply, or no PONG on a second connection) or
closes the connection, printing the shrunk reproducer; and when a CORE command's reply
differs from Redis's. Error-vs-reply mismatches of other commands are printed as a report
only (`-s` shows it; some are documented differences, see VALUE_MAY_DIFFER and
REDIS_72_ONLY in fuzz_commands.py).

    TRESTLE_FUZZ_SEED       seed (default 1; shared with test_differential.py's sequences)
    TRESTLE_FUZZ_COMMANDS   commands to send (default 8000)
    TRESTLE_FUZZ_SECONDS    wall-clock bound of the sending (default 35)
    TRESTLE_FUZZ_MINIMIZE_SECONDS  bound of reproducer shrinking (default 60)
    TRESTLE_FUZZ_REPORT     if set, the report is also written to this file
"""

import os

import pytest

from fuzz_commands import Fuzzer, show_command

SEED = int(os.environ.get("TRESTLE_FUZZ_SEED", "1"))
COMMANDS = int(os.environ.get("TRESTLE_FUZZ_COMMANDS", "8000"))
SECONDS = float(os.environ.get("TRESTLE_FUZZ_SECONDS", "35"))
MINIMIZE_SECONDS = float(os.environ.get("TRESTLE_FUZZ_MINIMIZE_SECONDS", "60"))


@pytest.mark.timeout(int(SECONDS + MINIMIZE_SECONDS + 60))
def test_hostile_commands_do_not_crash_and_core_replies_match_redis(server_factory, redis_reference):
    fuzzer = Fuzzer(lambda: server_factory("--fsync", "no"), redis_reference, SEED, COMMANDS, SECONDS,
                    minimize_seconds=MINIMIZE_SECONDS).run()
    report = fuzzer.report()
    print(report)
    if os.environ.get("TRESTLE_FUZZ_REPORT"):
        with open(os.environ["TRESTLE_FUZZ_REPORT"], "w") as out:
            out.write(report + "\n")
    failures = []
    for crash in fuzzer.crashes:
        commands = crash.minimized or crash.window
        failures.append(f"trestle {crash.kind} ({crash.detail}); reproducer:\n"
                        + "\n".join("  " + show_command(c) for c in commands))
    for command, theirs, mine, _ in fuzzer.core_mismatches:
        failures.append(f"core reply differs: {command}\n  redis   {theirs}\n  trestle {mine}")
    assert not failures, f"seed {SEED} (TRESTLE_FUZZ_SEED={SEED}):\n" + "\n".join(failures[:30])
