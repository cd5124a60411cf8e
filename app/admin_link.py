"""The local link between the server's network process and its admin side.

One AF_UNIX SOCK_SEQPACKET socket pair made before fork: message boundaries
for free, nothing on the network can reach it (so no datagram can pose as the
admin), and EOF tells either side the other one died. Each message is one
JSON object with an "op".

admin -> network: say {text}, kick {name, reason}, list, stats, quit
network -> admin: log {line}, reply {lines}, state {...}, bye
"""
import json
import socket
from collections import deque
from typing import Deque, List, Optional, Tuple

MAX_MESSAGE = 1 << 16
QUEUE_CAP = 10000          # messages held for a slow peer before the oldest go

HELP_LINES = [
    "plain text          sent to everyone as 管理员消息: text",
    "/list               who is online",
    "/kick NAME [reason] remove someone (they may rejoin after a minute)",
    "/stats              counters",
    "/quit               tell every client the server is closing, then stop",
    "/help               this list",
]


def pair() -> Tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


class Link:
    """One end of the pair, non-blocking, with a send queue for a slow peer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.setblocking(False)
        self.queue: Deque[bytes] = deque(maxlen=QUEUE_CAP)
        self.closed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, op: str, **fields) -> None:
        if self.closed:
            return
        fields["op"] = op
        data = json.dumps(fields, ensure_ascii=False).encode("utf-8")
        if len(data) > MAX_MESSAGE:
            return
        self.queue.append(data)
        self.flush()

    def flush(self) -> None:
        while self.queue and not self.closed:
            try:
                self.sock.send(self.queue[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.closed = True
                return
            self.queue.popleft()

    def receive(self) -> Optional[List[dict]]:
        """Waiting messages; None when the other side is gone."""
        messages = []
        while True:
            try:
                data = self.sock.recv(MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return messages
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return None if not messages else messages
            try:
                message = json.loads(data.decode("utf-8"))
            except ValueError:
                continue
            if isinstance(message, dict):
                messages.append(message)


def parse_command(line: str) -> Tuple[str, dict]:
    """An admin's input line -> (op, fields). Unknown commands -> ("unknown", ...)."""
    stripped = line.strip()
    if not stripped:
        return "none", {}
    if not stripped.startswith("/"):
        return "say", {"text": stripped}
    parts = stripped.split(None, 2)
    command = parts[0].lower()
    if command in ("/list", "/who"):
        return "list", {}
    if command == "/kick":
        if len(parts) < 2:
            return "usage", {"text": "/kick NAME [reason]"}
        return "kick", {"name": parts[1], "reason": parts[2] if len(parts) > 2 else ""}
    if command == "/stats":
        return "stats", {}
    if command == "/quit":
        return "quit", {}
    if command == "/help":
        return "help", {}
    return "unknown", {"text": command}
