"""The pyenv interpreters the built chat.pyz is checked under (absent ones are skipped)."""
import glob
import os
import re

SUPPORTED = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
TOO_OLD = ("3.6", "3.7")
VERSIONS_DIR = os.path.join(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"), "versions")


def _release(path):
    """(3, 9, 18) for .../versions/3.9.18/bin/python3: sorts 3.9.18 after 3.9.2."""
    name = path.split(os.sep)[-3]
    return tuple(int(part) for part in re.findall(r"\d+", name))


def find(minor):
    """The newest pyenv python3 of one minor version (e.g. "3.9"), or None."""
    found = glob.glob(os.path.join(VERSIONS_DIR, minor + ".*", "bin", "python3"))
    return max(found, key=_release) if found else None


def interpreters(minors=SUPPORTED):
    """[(minor, path)] for each of `minors` that pyenv has here."""
    return [(minor, path) for minor, path in ((m, find(m)) for m in minors) if path]
