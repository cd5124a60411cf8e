"""Shared fixtures: the built chat.pyz, free ports, process cleanup."""
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Keys and known servers (app/net/identity.py) of what runs outside a test's
# own directories (below) go to one of this run, never the user's own.
_KEYS = tempfile.mkdtemp(prefix="chat-test-keys-")
os.environ.setdefault("XDG_CONFIG_HOME", os.path.join(_KEYS, "config"))
os.environ.setdefault("XDG_STATE_HOME", os.path.join(_KEYS, "state"))


@pytest.fixture(autouse=True)
def _private_state_home(tmp_path_factory, monkeypatch):
    """Every server a test starts keeps its room's database and its key
    (app/net/state_dir.py) under a directory of this test's own, never in the
    real ~/.local/state, and never one an earlier test left on the same port;
    its clients keep their keys and known servers in one of this test's own
    too (a later test's server on the same port has another key)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture
def procs():
    """Every process a test starts (tests/chatproc.Proc); all stopped, by PID,
    at the end, last started first."""
    started = []
    yield started
    for proc in reversed(started):
        proc.stop()


@pytest.fixture(scope="session")
def pyz():
    """Path to the built chat.pyz (./build.sh test builds it and sets CHAT_PYZ)."""
    path = os.environ.get("CHAT_PYZ") or str(ROOT / "chat.pyz")
    if not os.path.exists(path):
        subprocess.run([str(ROOT / "build.sh")], check=True, stdout=subprocess.DEVNULL)
    return path
