"""The local link between the server's network process and its admin side.

One AF_UNIX SOCK_SEQPACKET socket pair made before fork: message boundaries
for free, nothing on the network can reach it (so no datagram can pose as the
admin), and EOF tells either side the other one died. Each message is one
JSON object with an "op".

admin -> network: say {text}, kick {name, reason}, ban {target, minutes, reason},
                  unban {target}, bans, mute {name, minutes}, unmute {name},
                  motd {text}, list, stats, subscribe (state once a second), quit
network -> admin: logs {entries: [[time, what, name, addr, detail], ...]} (Link.receive
                  unpacks each into a "log" message with those fields), reply {lines},
                  state {listen, uptime, online: [...], stats, rate}, bye
"""
import json
import socket
import time
from collections import deque
from typing import Deque, List, Optional, Tuple

MAX_MESSAGE = 1 << 16
QUEUE_CAP = 10000          # messages held for a slow peer before the oldest go

DEFAULT_BAN_MINUTES = 10
DEFAULT_MUTE_MINUTES = 5

HELP_LINES = [
    "plain text                  sent to everyone as 管理员消息: text",
    "/list                       who is online",
    "/kick NAME [reason]         remove someone (they may rejoin after a minute)",
    "/ban NAME|IP [min] [reason] refuse a name and its address, or an address "
    "(default %d min)" % DEFAULT_BAN_MINUTES,
    "/unban NAME|IP              lift a ban",
    "/bans                       bans and mutes in force",
    "/mute NAME [min]            silence someone (default %d min)" % DEFAULT_MUTE_MINUTES,
    "/unmute NAME                let them speak again",
    "/motd [TEXT]                message shown to each joiner (empty: none)",
    "/stats                      counters",
    "/quit                       tell every client the server is closing, then stop",
    "/help                       this list",
]
COMMANDS = ("/list", "/kick", "/ban", "/unban", "/bans", "/mute", "/unmute", "/motd",
            "/stats", "/quit", "/help")


LOG_FIELDS = ("time", "what", "name", "addr", "detail")
_stamps = {}                        # whole second -> its text: a busy room logs many a second


def log_text(entry: dict) -> str:
    """A log entry as one line of the headless log:
    `2026-11-26 19:10:47 chat 张三 10.0.0.5:40000 大家好`."""
    when = int(entry.get("time") or 0)
    stamp = _stamps.get(when)
    if stamp is None:
        _stamps.clear()
        stamp = _stamps[when] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
    parts = [stamp, str(entry.get("what", "")), str(entry.get("name") or "-"),
             str(entry.get("addr", ""))]
    if entry.get("detail"):
        parts.append(str(entry["detail"]))
    return " ".join(parts)


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
            if not isinstance(message, dict):
                continue
            if message.get("op") == "logs":       # a batch of "log" messages
                for entry in message.get("entries", []):
                    if isinstance(entry, list) and len(entry) == len(LOG_FIELDS):
                        log = dict(zip(LOG_FIELDS, entry))
                        log["op"] = "log"
                        messages.append(log)
            else:
                messages.append(message)


def parse_command(line: str) -> Tuple[str, dict]:
    """An admin's input line -> (op, fields). Unknown commands -> ("unknown", ...)."""
    stripped = line.strip()
    if not stripped:
        return "none", {}
    if not stripped.startswith("/"):
        return "say", {"text": stripped}
    command, _, rest = stripped.partition(" ")
    command = command.lower()
    rest = rest.strip()
    words = rest.split(None, 1)
    simple = {"/list": "list", "/who": "list", "/bans": "bans", "/stats": "stats",
              "/quit": "quit", "/help": "help"}
    if command in simple:
        return simple[command], {}
    if command == "/motd":
        return "motd", {"text": rest}
    if command in ("/kick", "/unban", "/unmute", "/ban", "/mute") and not words:
        return "usage", {"text": _usage(command)}
    if command == "/kick":
        return "kick", {"name": words[0], "reason": words[1] if len(words) > 1 else ""}
    if command == "/unban":
        return "unban", {"target": words[0]}
    if command == "/unmute":
        return "unmute", {"name": words[0]}
    if command in ("/ban", "/mute"):
        target, minutes, reason = _target_minutes_reason(rest, command)
        if minutes is None:
            return "usage", {"text": _usage(command)}
        if command == "/mute":
            return "mute", {"name": target, "minutes": minutes}
        return "ban", {"target": target, "minutes": minutes, "reason": reason}
    return "unknown", {"text": command}


def _usage(command: str) -> str:
    return {"/kick": "/kick NAME [reason]", "/unban": "/unban NAME|IP",
            "/unmute": "/unmute NAME", "/ban": "/ban NAME|IP [minutes] [reason]",
            "/mute": "/mute NAME [minutes]"}[command]


def _target_minutes_reason(rest: str, command: str):
    """'NAME [minutes] [reason]' -> (NAME, minutes or None if bad, reason)."""
    words = rest.split(None, 2)
    default = DEFAULT_BAN_MINUTES if command == "/ban" else DEFAULT_MUTE_MINUTES
    if len(words) == 1:
        return words[0], default, ""
    try:
        minutes = float(words[1])
    except ValueError:
        return words[0], default, " ".join(words[1:])   # no number: it is the reason
    if not 0 < minutes <= 60 * 24 * 365:
        return words[0], None, ""
    return words[0], minutes, words[2] if len(words) > 2 else ""
