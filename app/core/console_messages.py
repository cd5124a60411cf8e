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
  ConsoleState       the status line and online pane, once a second
  ConsoleHints       lines to show as they are, under the start line (how to join)
  ConsoleBye         the server is stopping: nothing more will come
"""
import dataclasses
from typing import Tuple

from app.core import admin
from app.core.messages import message

# (time, what, name, addr, detail): hub.LogEntry's fields, in its order. `what`
# arrives as a plain str equal to its admin.LogKind.
LogRow = Tuple[float, str, str, str, str]


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


@message
@dataclasses.dataclass(frozen=True)
class ConsoleHints:
    """network -> console: lines to show as they are (joining hints at start)."""
    lines: Tuple[str, ...]


@message
@dataclasses.dataclass(frozen=True)
class ConsoleBye:
    """network -> console: the server stops; the console should end."""
