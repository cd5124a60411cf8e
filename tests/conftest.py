"""Shared fixtures: the built chat.pyz, free ports, process cleanup."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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
