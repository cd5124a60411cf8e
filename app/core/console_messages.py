"""What the server's network process and its admin console say to each other.

The console is a forked child; the two talk over one app.net.channel pair
(`run(options, run_console)` in app/net/server.py makes it). Every message is
registered here with app.core.messages.message. Their names start with
"Console" so they never meet a name of another pair's vocabulary.

console -> network
  ConsoleSubscribe   send me ConsoleState once a second (the curses console
                     does; the headless one does not need it)
  ConsoleCommand     an admin command (app.core.admin: Say, Kick, Ban, ...,
                     Quit) for the network process to apply to its Hub

network -> console
  ConsoleResult      what a command did (app.core.admin: Kicked, Banned, ...;
                     Stopping after Quit): one for each ConsoleCommand, in order
  ConsoleLog         room log entries (hub.LogEntry as plain 5-tuples), in
                     batches: a busy room logs thousands of lines a second, and
                     one message each would cost both processes a syscall and
                     a JSON document per line
  ConsoleState       the status line and online pane, once a second
  ConsoleHints       lines to show as they are, under the start line (how to join)
  ConsoleBye         the server is stopping: nothing more will come

A command or result travels as its class name and its field values in order
(the codec carries flat JSON values); `command()` and `result()` make the
value again, or None if this build does not know it (dropped, like any
message of another vocabulary).
"""
import dataclasses
from typing import Any, Dict, Optional, Tuple, Type, TypeVar

from app.core import admin
from app.core.messages import message

# (time, what, name, addr, detail): hub.LogEntry's fields, in its order. `what`
# arrives as a plain str equal to its admin.LogKind.
LogRow = Tuple[float, str, str, str, str]

V = TypeVar("V")


def _values(value: Any) -> Tuple[Any, ...]:
    return tuple(getattr(value, field.name) for field in dataclasses.fields(value))


def _rebuild(table: Dict[str, Type[V]], kind: str, values: Tuple[Any, ...]) -> Optional[V]:
    cls = table.get(kind)
    if cls is None or len(values) != len(dataclasses.fields(cls)):
        return None
    return cls(*values)


_COMMANDS: Dict[str, Type[admin.Command]] = {c.__name__: c for c in admin.COMMAND_TYPES}
_RESULTS: Dict[str, Type[admin.Result]] = {c.__name__: c for c in admin.RESULT_TYPES}


@message
class ConsoleSubscribe:
    """console -> network: ConsoleState once a second from now on."""


@message
class ConsoleCommand:
    """console -> network: apply this admin command (see `of`, `command`)."""
    kind: str                   # the admin.Command class's name
    values: Tuple[Any, ...]     # its fields, in order

    @staticmethod
    def of(command: admin.Command) -> "ConsoleCommand":
        return ConsoleCommand(type(command).__name__, _values(command))

    def command(self) -> Optional[admin.Command]:
        return _rebuild(_COMMANDS, self.kind, self.values)


@message
class ConsoleResult:
    """network -> console: what the last command did (see `of`, `result`)."""
    kind: str                   # the admin.Result class's name
    values: Tuple[Any, ...]

    @staticmethod
    def of(result: admin.Result) -> "ConsoleResult":
        return ConsoleResult(type(result).__name__, _values(result))

    def result(self) -> Optional[admin.Result]:
        return _rebuild(_RESULTS, self.kind, self.values)


@message
class ConsoleLog:
    """network -> console: room log entries, oldest first."""
    entries: Tuple[LogRow, ...]


@message
class ConsoleState:
    """network -> console (subscribed): the room now."""
    listen: str                 # the UDP socket's address, host:port
    uptime: int                 # seconds since the server started
    online: admin.MemberRows    # admin.MemberRow tuples, in the order they joined
    dropped: int                # malformed datagrams dropped since the start
    rate: float                 # chat lines a second since the last state


@message
class ConsoleHints:
    """network -> console: lines to show as they are (joining hints at start)."""
    lines: Tuple[str, ...]


@message
class ConsoleBye:
    """network -> console: the server stops; the console should end."""
