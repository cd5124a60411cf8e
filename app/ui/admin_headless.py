"""The server's admin side without a terminal UI (`--headless`, or no tty).

Reads admin lines from stdin: plain text goes to everyone as 管理员消息, /list,
/kick, /stats, /quit, /help are commands. Prints the network process's log
lines on stdout. EOF on stdin does not stop the server (nohup, systemd).
"""
import os
import selectors
import signal
import sys

from app.net import admin_link
from app.net.admin_link import Link


def run(link: Link) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the network process handles it
    sel = selectors.DefaultSelector()
    sel.register(link.fileno(), selectors.EVENT_READ, "link")
    stdin_fd = sys.stdin.fileno()
    try:
        sel.register(stdin_fd, selectors.EVENT_READ, "stdin")
    except (ValueError, OSError, PermissionError):
        pass                                          # no usable stdin: log only
    partial = b""
    while True:
        for key, _ in sel.select():
            if key.data == "link":
                messages = link.receive()
                lines = []                            # one write for all of them
                bye = any([_show(message, lines) for message in messages or []])
                _print(lines)
                if bye or messages is None:
                    return 0                          # goodbye, or the network process is gone
            else:
                data = os.read(stdin_fd, 65536)
                if not data:
                    sel.unregister(stdin_fd)          # EOF: keep serving, log only
                    continue
                lines = (partial + data).split(b"\n")
                partial = lines.pop()
                for raw in lines:
                    _command(link, raw.decode("utf-8", "replace"))


def _print(lines) -> None:
    if not lines:
        return
    try:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass


def _show(message: dict, lines: list) -> bool:
    """Add what the network process says to `lines`; True when it says goodbye."""
    op = message.get("op")
    if op == "log":
        lines.append(admin_link.log_text(message))
    elif op == "reply":
        lines.extend(str(line) for line in message.get("lines", []))
    return op == "bye"


def _command(link: Link, line: str) -> None:
    op, fields = admin_link.parse_command(line)
    if op == "none":
        return
    if op == "help":
        _print(admin_link.HELP_LINES)
    elif op == "usage":
        _print(["usage: " + fields["text"]])
    elif op == "unknown":
        _print(["unknown command %s; /help lists the commands" % fields["text"]])
    else:
        link.send(op, **fields)
