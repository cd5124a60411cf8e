"""The admin consoles' words: help, usage, the results of commands and the
room's log entries as the curses console shows them. Both consoles (admin_tui,
admin_headless) use these; the core (app.core.admin) gives values only.

The headless log's dated line (`2026-11-26 19:10:47 chat 张三 ...`) is
app.net.admin_log.log_text: the network process prints it too, once its
console is gone.
"""
import re
from typing import Any, List, Sequence, Tuple

from app.core import admin
from app.core.admin import LogKind
from app.core.text import sanitize_text
from app.net.admin_log import log_text
from app.ui.width import text_width

def pad(text: str, width: int) -> str:
    """`text` with spaces after it to `width` display columns (a Chinese character
    takes two: str.ljust counts it as one and the columns after it slip)."""
    return text + " " * max(0, width - text_width(text))


def columns(rows: Sequence[Sequence[str]], gap: int = 2) -> List[str]:
    """Rows of fields as lines whose fields start at the same display column:
    every field but the last padded to its column's widest, `gap` spaces apart."""
    widths = [max(text_width(row[i]) for row in rows if i < len(row) - 1)
              for i in range(max(len(row) for row in rows) - 1)] if rows else []
    return ["".join(pad(field, widths[i] + gap) for i, field in enumerate(row[:-1])) + row[-1]
            for row in rows]


HELP_LINES = columns([
    ("plain text", "sent to everyone as 管理员消息: text"),
    ("/list", "who is online, by name (idle: since their last line)"),
    ("/kick NAME [reason]", "remove someone (they may rejoin after a minute)"),
    ("/ban NAME|IP [min] [reason]", "refuse a name and its address, or an address "
     "(default %d min)" % admin.DEFAULT_BAN_MINUTES),
    ("/unban NAME|IP", "lift a ban"),
    ("/bans", "bans and mutes in force"),
    ("/mute NAME [min]", "silence someone (default %d min)" % admin.DEFAULT_MUTE_MINUTES),
    ("/unmute NAME", "let them speak again"),
    ("/motd [TEXT]", "message shown to each joiner (empty: none)"),
    ("/stats", "counters"),
    ("/quit", "tell every client the server is closing, then stop"),
    ("/help", "this list"),
], gap=1)
COMMANDS = ("/list", "/kick", "/ban", "/unban", "/bans", "/mute", "/unmute", "/motd",
            "/stats", "/quit", "/help")            # what Tab completes
USAGES = {"/kick": "/kick NAME [reason]", "/unban": "/unban NAME|IP",
          "/unmute": "/unmute NAME", "/ban": "/ban NAME|IP [minutes] [reason]",
          "/mute": "/mute NAME [minutes]"}
DATED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")   # the headless log's stamp


def idle_text(seconds: float) -> str:
    """Idle time in at most three or four columns, whole units rounded down:
    12s, 5m, 2h, 3d."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def marks(row: admin.MemberRow) -> List[str]:
    """What /list says about someone beyond their numbers."""
    return (["muted"] if row.muted else []) + (["away"] if row.idle >= admin.AWAY_SECONDS
                                                 else [])


def usage_line(usage: admin.Usage) -> str:
    return "usage: " + USAGES[usage.command]


def unknown_line(unknown: admin.Unknown, tab: bool = False) -> str:
    """`tab`: the console completes commands with Tab (the curses one)."""
    return "unknown command %s; /help lists the commands%s" % (
        unknown.command, ", Tab completes them" if tab else "")


def result_lines(result: admin.Result) -> List[str]:
    """What the console shows for a command's result (maybe nothing: the room's
    log shows a kick or an announcement already)."""
    if isinstance(result, admin.NoSuchMember):
        return ["nobody called %s is here" % result.name]
    if isinstance(result, admin.Banned):
        if result.name:
            what = "name %s" % result.name + (
                " and address %s" % result.address if result.address else "")
        else:
            what = "address %s" % result.address
        return ["banned %s for %d minutes%s" % (
            what, result.minutes,
            "; removed " + ", ".join(result.removed) if result.removed else "")]
    if isinstance(result, (admin.Unbanned, admin.NotBanned)):
        return [("unbanned %s" if isinstance(result, admin.Unbanned) else "%s is not banned")
                % result.target]
    if isinstance(result, (admin.Unmuted, admin.NotMuted)):
        return [("unmuted %s" if isinstance(result, admin.Unmuted) else "%s is not muted")
                % result.name]
    if isinstance(result, admin.BanList):
        return _ban_lines(result)
    if isinstance(result, admin.Muted):
        return ["muted %s for %d minutes" % (result.name, result.minutes)]
    if isinstance(result, admin.MotdSet):
        return ["motd: %s" % (result.motd or "(none)")]
    if isinstance(result, admin.MemberList):
        return _member_lines(result.rows)
    if isinstance(result, admin.StatsReport):
        return ["online %d; %s" % (result.online,
                                   ", ".join("%s %d" % item for item in result.counters))]
    if isinstance(result, admin.CommandFailed):
        return ["that command failed: %s" % result.error]
    return []                    # Announced, Kicked, Stopping: the log says it


def _member_lines(rows: admin.MemberRows) -> List[str]:
    """/list: a count, then a person a line in columns (by name, as the rows come)."""
    head = "%d online" % len(rows)
    people = [admin.MemberRow(*row) for row in rows]
    return [head] + ["  " + line.rstrip() for line in columns(
        [(sanitize_text(row.name), row.addr, "idle " + idle_text(row.idle),
          "said %d" % row.said, " ".join(marks(row))) for row in people])]


def _ban_lines(listing: admin.BanList) -> List[str]:
    lines = ["ban %s %s: %d min left%s" % (kind, label, left, " (%s)" % reason if reason else "")
             for kind, label, left, reason in listing.bans]
    lines += ["mute %s: %d min left" % (label, left) for label, left in listing.mutes]
    return lines or ["no bans, no mutes"]


def log_body(entry: Sequence[Any]) -> Tuple[str, str]:
    """A room log entry (time, what, name, addr, detail) as the curses console
    words it, and its style."""
    what = entry[1]
    name, addr, detail = (sanitize_text(str(field)) for field in entry[2:5])
    because = " (%s)" % detail if detail else ""
    if what == LogKind.JOIN:
        return "%s 进入了聊天室  %s" % (name, addr), "room"
    if what in (LogKind.LEAVE, LogKind.TIMEOUT, LogKind.KICK) or (
            what == LogKind.BAN and addr != "console"):
        why = {LogKind.LEAVE: "", LogKind.TIMEOUT: "timed out", LogKind.KICK: "kicked",
               LogKind.BAN: "banned"}[LogKind(what)]
        why = ": ".join(part for part in (why, detail) if part)
        return ("%s 退出了聊天室%s" % (name, " (%s)" % why if why else ""),
                "room" if what == LogKind.LEAVE else "action")
    if what == LogKind.CHAT:
        return "%s : %s" % (name, detail), ""
    if what == LogKind.EMOTE:
        return "* %s %s" % (name, detail), ""
    if what == LogKind.PRIVATE:
        return "%s sent a private message %s" % (name, detail), ""
    if what == LogKind.ADMIN:
        return "管理员消息: %s" % detail, "admin"
    if what == LogKind.BAN:
        return "ban %s: %s" % (name, detail.replace(" min", " minutes", 1)), "action"
    if what == LogKind.RESUME:
        return "%s is back from %s%s" % (name, addr, because), "room"
    if what == LogKind.REFUSE:
        return "refused %s from %s%s" % (name or "a client", addr, because), "warn"
    if what == LogKind.MALFORMED:
        return "malformed datagram from %s%s" % (addr, because), "warn"
    if what == LogKind.THROTTLE:
        return "%s is sending too fast: throttled" % name, "warn"
    if what == LogKind.SHUTDOWN:
        return "telling every client the server is closing", "action"
    if what == LogKind.STOP:
        return "server stopping" + because, "action"
    if what in (LogKind.START, LogKind.CONSOLE):
        return detail, "action"
    # A kind new to this console: as the headless log has it, without the date.
    return DATED.sub("", sanitize_text(log_text(entry))), ""
