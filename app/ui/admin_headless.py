"""The server's admin side without a terminal UI (`--headless`, or no tty).

Reads admin lines from stdin: plain text goes to everyone as 管理员消息, /list,
/kick, /stats, /quit, /help are commands (app.core.admin.parse). Prints the
room's log (one dated line an entry), the server's notes, how to join and the
results of commands on stdout, worded by admin_text in the console's language
(`lines`: the network process prints the same once no console is left). EOF on
stdin does not stop the server (nohup, systemd). Also the line-mode console on
a terminal whose curses console died (app.net.server).
"""
import os
import selectors
import signal
import sys
from typing import Any, List, Sequence

from app.core import admin
from app.core.console_messages import (
    ConsoleBye,
    ConsoleHints,
    ConsoleLog,
    ConsoleNote,
    StartProblem,
)
from app.net.channel import Channel
from app.ui.os_words import problem_text, reason
from app.ui import environment
from app.ui.admin_text import (dated, help_lines, hint_lines, log_body, note_text,
                               result_lines, tr, unknown_line, usage_line)


def run(link: Channel, lang: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the network process handles it
    environment.utf8_streams()    # Chinese as UTF-8 whatever the locale, never an encode error
    sel = selectors.DefaultSelector()
    sel.register(link.fileno(), selectors.EVENT_READ, "link")
    stdin_fd = -1
    try:                                              # closed (sys.stdin None), /dev/null
        stdin_fd = sys.stdin.fileno()                 # (epoll refuses it): log only
        sel.register(stdin_fd, selectors.EVENT_READ, "stdin")
    except (AttributeError, ValueError, OSError):
        pass
    partial = b""
    while True:
        for key, _ in sel.select():
            if key.data == "link":
                messages = link.receive()
                lines: List[str] = []                 # one write for all of them
                bye = any([_show(message, lines, lang) for message in messages or []])
                _print(lines)
                if bye or messages is None:
                    return 0                          # goodbye, or the network process is gone
            else:
                try:
                    data = os.read(stdin_fd, 65536)
                except OSError:                       # EIO: a terminal that hung up
                    data = b""
                if not data:
                    sel.unregister(stdin_fd)          # EOF: keep serving, log only
                    continue
                raw_lines = (partial + data).split(b"\n")
                partial = raw_lines.pop()
                for raw in raw_lines:
                    _command(link, raw.decode("utf-8", "replace"), lang)


def _print(lines: Sequence[str]) -> None:
    if not lines:
        return
    try:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass


def lines(lang: str, message: Any) -> List[str]:
    """What this console prints for a message from the network process."""
    if isinstance(message, ConsoleLog):
        return [dated(entry[0], log_body(entry, lang)[0]) for entry in message.entries]
    if isinstance(message, ConsoleNote):
        return [dated(message.time, note_text(message.key, message.values, lang)[0])]
    if isinstance(message, admin.RESULT_TYPES):
        return result_lines(message, lang)
    if isinstance(message, ConsoleHints):
        return hint_lines(message.hints, lang)
    if isinstance(message, StartProblem):
        values = dict(message.values)
        if message.key == "coded":
            return ["chat.pyz: " + problem_text(values["problem"], lang)]
        if "error" in values:              # an errno name (bind_failed, log_unwritable)
            values["error"] = reason(values["error"], lang) or values["error"]
        return ["chat.pyz: " + tr(lang, "start_" + message.key, **values)]
    return []


def _show(message: Any, out: List[str], lang: str) -> bool:
    """Add what the network process says to `out`; True when it says goodbye."""
    out.extend(lines(lang, message))
    return isinstance(message, ConsoleBye)


def _command(link: Channel, line: str, lang: str) -> None:
    command = admin.parse(line)
    if command is None:
        return
    if isinstance(command, admin.Help):
        _print(help_lines(lang))
    elif isinstance(command, admin.Usage):
        _print([usage_line(command, lang)])
    elif isinstance(command, admin.Unknown):
        _print([unknown_line(command, lang)])
    else:
        link.send(command)
