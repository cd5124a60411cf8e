"""Where a server keeps what must outlive it: one private directory per port.

    state_dir(port, explicit=None) -> StateDir(path or None, note)

Shared by everything a server stores between runs: the room's database
(app/net/state_db.py, `room.sqlite3`) and, later, the server's identity key
(the secure-sessions issue). A caller takes `StateDir.path` and joins its own
file name; `note` is what to say (a key and values) when the directory is not the
usual one (a fallback), or why there is none ("" when all is as expected).

The default is the XDG state directory, `$XDG_STATE_HOME/chat.pyz/PORT/`
(`~/.local/state/chat.pyz/PORT/` without the variable), one per port so two
rooms on one machine never share a database. Lab homes are sometimes
read-only, missing or on NFS without working locks, so the same rules and
fallbacks as the unpack directory apply (app/_pyz_main.py, which has the
checks): the directory must be ours, not a symlink, not group- or
world-writable, writable, with working `flock` (SQLite needs locks); else
`$XDG_RUNTIME_DIR/chat.pyz/state/PORT`, then `chat.pyz-UID/state/PORT` in
the temporary directories. `--state DIR` names the directory itself: if it is
not usable there is no fallback to somewhere else (the teacher asked for that
place), and the caller runs in memory, saying so.
"""
import os
import tempfile
from typing import Iterator, NamedTuple, Optional, Tuple

from app import _pyz_main

APP_DIR = "chat.pyz"


Values = Tuple[Tuple[str, str], ...]


class StateDir(NamedTuple):
    path: Optional[str]     # None: nowhere usable (the caller keeps its state in memory)
    # What to say when it is not the usual place: a key (dir_refused, dir_fallback,
    # dir_none) and its values, for the console to word; ("", ()) when all is well.
    note: Tuple[str, Values] = ("", ())


def default_dir(port: int) -> str:
    """The XDG state directory of this port's room (it may not exist yet)."""
    base = os.environ.get("XDG_STATE_HOME") or ""
    if not os.path.isabs(base):           # the spec: a relative value is ignored
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, APP_DIR, str(port))


def _fallbacks(port: int) -> Iterator[str]:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        yield os.path.join(runtime, APP_DIR, "state", str(port))
    tmps: Tuple[str, ...] = _pyz_main.TMP_DIRS
    try:
        tmps = (tempfile.gettempdir(),) + tmps
    except OSError:                       # no usable temporary directory at all
        pass
    for tmp in dict.fromkeys(tmps):       # (in order, each once)
        yield os.path.join(tmp, "chat.pyz-%d" % os.getuid(), "state", str(port))


def usable(path: str) -> bool:
    """Made (mode 700) or found: ours, private, writable, with working locks."""
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, 0o700, exist_ok=True)
    except OSError:
        return False
    return _pyz_main._private_dir_ok(path)


def state_dir(port: int, explicit: Optional[str] = None) -> StateDir:
    """The directory for this port's state, and the line to show about it."""
    if explicit is not None:
        path = os.path.abspath(os.path.expanduser(explicit))
        if usable(path):
            return StateDir(path)
        return StateDir(None, ("dir_refused", (("given", explicit),)))
    usual = default_dir(port)
    if usable(usual):
        return StateDir(usual)
    for path in _fallbacks(port):
        if usable(path):
            return StateDir(path, ("dir_fallback", (("path", path), ("usual", usual))))
    return StateDir(None, ("dir_none", (("usual", usual),)))


def find_state(port: int, file_name: str) -> Optional[str]:
    """For a reader (`chat.pyz log`): the directory of this port's state that
    holds `file_name`, the usual place first, then the fallbacks a server may
    have used; None if none does. Creates nothing."""
    for path in [default_dir(port)] + list(_fallbacks(port)):
        if os.path.isfile(os.path.join(path, file_name)) and _pyz_main._ours(path):
            return path
    return None
