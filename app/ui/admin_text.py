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
from app.core.file_names import human_size
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
    ("/kick NAME [reason]", "remove someone; their name and address are refused "
     "for the kick cooldown (--kick-cooldown)"),
    ("/ban NAME|IP [time] [reason]", "refuse a name and its address, or an address "
     "(default %d min; time: 10 minutes, or 30s, 10m, 2h, 1d)" % admin.DEFAULT_BAN_MINUTES),
    ("/unban NAME|IP", "lift a ban or kick, and all it covered"),
    ("/bans", "bans, kicks and mutes in force, and what each covers"),
    ("/mute NAME [time]", "silence someone (default %d min)" % admin.DEFAULT_MUTE_MINUTES),
    ("/unmute NAME", "let them speak again"),
    ("/motd [TEXT|-]", "message shown to each joiner: alone shows it, - clears it"),
    ("/send PATH", "hand a file out to everyone online, and to those who join "
     "within --file-ttl"),
    ("/hand-ins", "who has handed in what (and when), and who has not"),
    ("/stats", "counters"),
    ("/quit", "tell every client the server is closing, then stop"),
    ("/help", "this list"),
], gap=1)
COMMANDS = ("/list", "/kick", "/ban", "/unban", "/bans", "/mute", "/unmute", "/motd",
            "/send", "/hand-ins", "/stats", "/quit", "/help")            # what Tab completes
USAGES = {"/kick": "/kick NAME [reason]", "/unban": "/unban NAME|IP",
          "/unmute": "/unmute NAME", "/ban": "/ban NAME|IP [time] [reason]",
          "/mute": "/mute NAME [time]", "/send": "/send PATH"}
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
        return ["nobody called %s is here%s" % (result.name, did_you_mean(result.suggestions))]
    if isinstance(result, admin.Kicked):
        return ["kicked %s; %s refused for %s minutes (/unban %s lifts it)" % (
            result.name, " and ".join(p for p in (result.name, result.host) if p),
            "%g" % result.minutes, result.name)]
    if isinstance(result, admin.Banned):
        row = admin.BanRow(*result.ban)
        lines = ["banned %s for %d minutes%s" % (
            covers_text(row), row.minutes_left,
            "; removed " + ", ".join(result.removed) if result.removed else "")]
        if result.absent:
            lines.append("(nobody called %s is here%s; the name is banned all the same)"
                         % (row.label, did_you_mean(result.suggestions)))
        return lines
    if isinstance(result, admin.Unbanned):
        return ["lifted the %s on %s" % (row[0], covers_text(admin.BanRow(*row)))
                for row in result.lifted]
    if isinstance(result, admin.NotBanned):
        return ["%s is not banned (/bans lists the bans)" % result.target]
    if isinstance(result, (admin.Unmuted, admin.NotMuted)):
        return [("unmuted %s" if isinstance(result, admin.Unmuted) else "%s is not muted")
                % result.name]
    if isinstance(result, admin.BanList):
        return _ban_lines(result)
    if isinstance(result, admin.Muted):
        return ["muted %s for %d minutes" % (result.name, result.minutes)]
    if isinstance(result, (admin.MotdSet, admin.MotdIs)):
        return ["motd: %s" % (result.motd or "(none)")]
    if isinstance(result, admin.MemberList):
        return _member_lines(result.rows)
    if isinstance(result, admin.StatsReport):
        return ["online %d; %s" % (result.online,
                                   ", ".join("%s %d" % item for item in result.counters))]
    if isinstance(result, admin.CommandFailed):
        return ["that command failed: %s" % result.error]
    if isinstance(result, admin.FileQueued):
        return ["handing out %s (%s) to %d online, and to whoever joins within the file ttl"
                % (result.name, human_size(result.size), result.online)]
    if isinstance(result, admin.FileNotSent):
        return ["not sent: %s" % result.why]
    if isinstance(result, admin.HandInList):
        return _hand_in_lines(result)
    return []                    # Announced, Kicked, Stopping: the log says it


def _hand_in_lines(listing: admin.HandInList) -> List[str]:
    import time
    rows = [(name, time.strftime("%m-%d %H:%M", time.localtime(when)), human_size(size),
             stored, sha[:16]) for name, stored, size, when, sha in listing.rows]
    lines = ["%d hand-ins" % len(rows)] + columns(rows) if rows else ["no hand-ins yet"]
    if listing.missing:
        lines.append("online without a hand-in: " + ", ".join(listing.missing))
    return lines


def _member_lines(rows: admin.MemberRows) -> List[str]:
    """/list: a count, then a person a line in columns (by name, as the rows come)."""
    head = "%d online" % len(rows)
    people = [admin.MemberRow(*row) for row in rows]
    return [head] + ["  " + line.rstrip() for line in columns(
        [(sanitize_text(row.name), row.addr, "idle " + idle_text(row.idle),
          "said %d" % row.said, " ".join(marks(row))) for row in people])]


def did_you_mean(names: Sequence[str]) -> str:
    return "; did you mean %s?" % ", ".join(names) if names else ""


def covers_text(row: admin.BanRow) -> str:
    """What a ban covers: `name lisi and address 10.0.0.5`."""
    parts = ["name %s" % row.label] if row.names else []
    parts += ["address %s" % host for host in row.hosts]
    parts += ["client key %s" % key[:16] for key in row.keys]
    return " and ".join(parts) or row.label


def _ban_lines(listing: admin.BanList) -> List[str]:
    lines = ["%s %s: %s, %d min left%s" % (
        row.kind, row.label, covers_text(row), row.minutes_left,
        " (%s)" % row.reason if row.reason else "")
        for row in (admin.BanRow(*ban) for ban in listing.bans)]
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
    if what == LogKind.MUTE:
        said = {"lifted": "%s unmuted", "over": "%s's mute is over"}.get(detail)
        return (said % name if said else "%s muted for %s" % (
            name, detail.replace(" min", " minutes", 1))), "action"
    if what == LogKind.MOTD:
        return ("motd changed" if detail else "motd cleared"), "action"
    if what == LogKind.HANDOUT:
        return ("%s got %s" % (name, detail) if name else "handout: %s" % detail), "action"
    if what == LogKind.HAND_IN:
        return "%s handed in %s" % (name, detail), "action"
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
