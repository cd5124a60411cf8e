"""What the server's network process and its admin console say to each other.

The console is a forked child; the two talk over one app.net.channel pair
(`run(options, run_console)` in app/net/server.py makes it). Every message is
registered with app.core.messages.message: those below here, the admin
commands and results in app.core.admin.

console -> network
  ConsoleSubscribe   send me ConsoleState once a second (the curses console
                     does; the headless one does not need it)
  a Command          an admin command value itself (app.core.admin: Say, Kick,
                     Ban, ..., Quit) for the network process to apply to its Hub

network -> console
  a Result           what that command did, the value itself (app.core.admin:
                     Kicked, Banned, ...; Stopping after Quit): one for each
                     command, in order
  ConsoleLog         room log entries (hub.LogEntry as plain 5-tuples), in
                     batches: a busy room logs thousands of lines a second, and
                     one message each would cost both processes a syscall and
                     a JSON document per line
  ConsoleNote        a line of the network process's own (listening, the state
                     kept, the console replaced, stopping): a NOTE_* key and its
                     values; the console words it (app/ui/admin_text.py), as it
                     words the room's log: the network process says nothing in
                     a language
  ConsoleState       the status line and online pane, once a second
  ConsoleHints       how to join (app.core.join_hints.Hint), under the start line
  ConsoleBye         the server is stopping: nothing more will come
"""
import dataclasses
from typing import NamedTuple, Tuple

from app.core import admin
from app.core.messages import message

# (time, what, name, addr, detail): hub.LogEntry's fields, in its order. `what`
# arrives as a plain str equal to its admin.LogKind.
LogRow = Tuple[float, str, str, str, str]
# A note's or a hint's values: (name, value) pairs, values as text.
Values = Tuple[Tuple[str, str], ...]

# What a ConsoleNote says (its key; the values it comes with after the colon).
NOTE_LISTENING = "listening"        # host ("" for all interfaces), port, rcvbuf
NOTE_STATE_KEPT = "state_kept"      # path: the room's database
NOTE_STATE = "state"                # problem: a key of app/net/state_dir.py (StateDir.note)
                                    # or state_db.py (StateError), with its values; memory:
                                    # "run" (in memory for this run), "now" (a write failed:
                                    # in memory from now on) or "" (the state is kept)
NOTE_CONSOLE_REPLACED = "console_replaced"   # the curses console died; line mode took over
NOTE_CONSOLE_ENDED = "console_ended"         # the line-mode console died; going on headless
NOTE_STOPPING = "stopping"          # why: "quit" or a signal's name (SIGINT, SIGTERM, ...)


@message
@dataclasses.dataclass(frozen=True)
class ConsoleSubscribe:
    """console -> network: ConsoleState once a second from now on."""


@message
@dataclasses.dataclass(frozen=True)
class ConsoleLog:
    """network -> console: room log entries, oldest first."""
    entries: Tuple[LogRow, ...]


@message
@dataclasses.dataclass(frozen=True)
class ConsoleState:
    """network -> console (subscribed): the room now."""
    listen: str                 # the UDP socket's address, host:port
    uptime: int                 # seconds since the server started
    online: admin.MemberRows    # admin.MemberRow tuples, by name (admin.roster_key)
    dropped: int                # malformed datagrams dropped since the start
    rate: float                 # chat lines a second since the last state


class StartProblem(NamedTuple):
    """Why the server cannot start (no console yet): a key (bind_in_use,
    bind_in_use_on, bind_denied, bind_not_here, bind_failed, bind_bad,
    log_unwritable; `error` an errno name) and its values; or `coded` with
    `problem` a coded problem (app/core/problems.py: a key file's, also the
    "cannot keep a key" note the server starts with). The front end words it
    as one line on stderr (app/ui/admin_headless.py lines)."""
    key: str
    values: Values = ()

    @classmethod
    def of(cls, key: str, **values: object) -> "StartProblem":
        return cls(key, tuple((name, str(value)) for name, value in sorted(values.items())))


@message
@dataclasses.dataclass(frozen=True)
class ConsoleNote:
    """network -> console: a line of the server's own, as a key and values."""
    time: float
    key: str
    values: Values = ()


@message
@dataclasses.dataclass(frozen=True)
class ConsoleHints:
    """network -> console: how to join (join_hints.Hint as plain pairs)."""
    hints: Tuple[Tuple[str, Values], ...]


@message
@dataclasses.dataclass(frozen=True)
class ConsoleBye:
    """network -> console: the server stops; the console should end."""
