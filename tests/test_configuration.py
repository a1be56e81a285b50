"""Settings from a configuration file (`--config FILE`) and from TRESTLE_* environment
variables: the command line wins over the environment, which wins over the file; CONFIG
GET shows the effective values; a bad file or variable is refused at start with a message
naming it."""

import subprocess

import pytest

from conftest import trestle_binary


def test_file_then_environment_then_command_line(server_factory, tmp_path, monkeypatch):
    config = tmp_path / "trestle.conf"
    config.write_text("# settings\nhz 20\nmaxclients 500\nnotify-keyspace-events Ex\n"
                      "requirepass \"from the file\"\nprotected-mode no\n")
    monkeypatch.setenv("TRESTLE_HZ", "30")
    monkeypatch.setenv("TRESTLE_MAXCLIENTS", "600")
    server = server_factory("--config", str(config), "--maxclients", "700")
    client = server.client(password="from the file", decode_responses=True)
    assert client.config_get("hz") == {"hz": "30"}                      # environment over file
    assert client.config_get("maxclients") == {"maxclients": "700"}     # command line over both
    assert client.config_get("notify-keyspace-events") == {"notify-keyspace-events": "xE"}
    assert client.config_get("protected-mode") == {"protected-mode": "no"}


@pytest.mark.parametrize("content, environment, message", [
    ("bogus 1\n", {}, "trestle.conf:1: unknown setting 'bogus'"),
    ("port 7001\nrepair maybe\n", {}, "trestle.conf:2: 'repair' is a flag: give yes or no, not 'maybe'"),
    ("", {"TRESTLE_REPAIR": "maybe"}, "TRESTLE_REPAIR: 'repair' is a flag"),
    ("hz lots\n", {}, "hz"),
])
def test_bad_settings_are_refused_with_their_source(tmp_path, content, environment, message):
    config = tmp_path / "trestle.conf"
    config.write_text(content)
    result = subprocess.run([trestle_binary(), "server", "--config", str(config), "--port", "0", "--dir", str(tmp_path / "d")],
                            capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin", **environment})
    assert result.returncode != 0
    assert message in result.stderr


def test_missing_file_is_refused(tmp_path):
    result = subprocess.run([trestle_binary(), "node", "--id", "1", "--config", str(tmp_path / "none.conf")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "cannot read --config file" in result.stderr
