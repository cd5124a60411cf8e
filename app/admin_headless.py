"""The server's admin side without a terminal UI (`--headless`, or no tty).

Reads admin lines from stdin: plain text goes to everyone as 管理员消息, /list,
/kick, /stats, /quit, /help are commands. Prints the network process's log
lines on stdout. EOF on stdin does not stop the server (nohup, systemd).
"""
import os
import selectors
import signal
import sys

from app import admin_link
from app.admin_link import Link


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
                for message in messages or []:
                    if _show(message):
                        return 0
                if messages is None:
                    return 0                          # the network process is gone
            else:
                data = os.read(stdin_fd, 65536)
                if not data:
                    sel.unregister(stdin_fd)          # EOF: keep serving, log only
                    continue
                lines = (partial + data).split(b"\n")
                partial = lines.pop()
                for raw in lines:
                    _command(link, raw.decode("utf-8", "replace"))


def _print(line: str) -> None:
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass


def _show(message: dict) -> bool:
    """Print what the network process says; True when it says goodbye."""
    op = message.get("op")
    if op == "log":
        _print(str(message.get("line", "")))
    elif op == "reply":
        for line in message.get("lines", []):
            _print(str(line))
    return op == "bye"


def _command(link: Link, line: str) -> None:
    op, fields = admin_link.parse_command(line)
    if op == "none":
        return
    if op == "help":
        for help_line in admin_link.HELP_LINES:
            _print(help_line)
    elif op == "usage":
        _print("usage: " + fields["text"])
    elif op == "unknown":
        _print("unknown command %s; /help lists the commands" % fields["text"])
    else:
        link.send(op, **fields)
