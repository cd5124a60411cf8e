"""The admin's commands, what they did, and the kinds of the room's log. Pure.

Both consoles (curses and headless) read a line with `parse`, which gives a
command value (or a parse problem: Help, Usage, Unknown, or None for a blank
line); the network process lets `apply` run a command against its Hub and
sends the result value back; the console words it (app/ui/admin_text.py).
Nothing here is English for a person to read: the defaults and limits of the
syntax are defined here once, the words live in the UI.

The command and result values are themselves messages (app.core.messages):
the console sends a command over its channel, the network process answers
with the result. Their fields are JSON's own values, so a tuple of rows comes
back as a tuple of plain tuples.
"""
import dataclasses
import enum
from typing import TYPE_CHECKING, Dict, NamedTuple, Optional, Tuple, Type, Union

from app.core.messages import message
from app.core.moderation import Rule, looks_like_ip, minutes_left
from app.core.text import name_key, split_name

if TYPE_CHECKING:                # hub.py imports this module (LogKind)
    from app.core.hub import Hub

DEFAULT_BAN_MINUTES = 10.0
DEFAULT_MUTE_MINUTES = 5.0
MIN_MINUTES = 0.1              # a shorter ban or mute is made this long
MAX_MINUTES = 60 * 24 * 365    # a longer one is a typing mistake: usage
MOTD_CLEAR = "-"               # `/motd -` clears the message of the day
AWAY_SECONDS = 10 * 60         # no line for this long: away (/list and the roster say so)


class LogKind(str, enum.Enum):
    """What a room log entry (hub.LogEntry.what) is about. The values are the
    words of the --log transcript ("event") and of the room's database: fixed.
    The details are the people's own words (a chat line, the admin's reason) or,
    where the core has something to say, values in a fixed form that the
    consoles word in their language (app/ui/admin_text.py log_body):
    RESUME "was ADDR", PRIVATE "to NAME", BAN "N min REASON" or "lifted", MUTE
    "N min", "lifted" or "over", REFUSE refuse_detail, MALFORMED malformed_detail."""

    JOIN = "join"
    LEAVE = "leave"
    TIMEOUT = "timeout"
    KICK = "kick"
    BAN = "ban"                # a member removed by a ban, or (addr "console") the ban itself
    CHAT = "chat"
    EMOTE = "emote"
    PRIVATE = "private"
    ADMIN = "admin"            # the admin's announcement
    RESUME = "resume"
    REFUSE = "refuse"
    MALFORMED = "malformed"
    THROTTLE = "throttle"
    SHUTDOWN = "shutdown"
    MUTE = "mute"              # the admin's /mute ("N min"), /unmute ("lifted"), or its end ("over")
    MOTD = "motd"              # the admin set the motd (detail: it, "" for none)
    HANDOUT = "handout"        # a file handed out (name "-"), or received by a member (name)
    HAND_IN = "hand-in"        # a member handed a file in (detail: file, size, sha256)

    def __str__(self) -> str:
        return self.value      # "%s" and str() give the word, as a plain str would


# Kept in the room's database and the --log transcript, not shown on the console:
# the console shows the result of the admin's own /mute, /unmute and /motd, and
# the roster shows whether someone is muted.
NOT_FOR_CONSOLE = frozenset((LogKind.MUTE, LogKind.MOTD))


def refuse_detail(why: str, until: float = 0.0, words: str = "") -> str:
    """A REFUSE entry's detail: `why` (a protocol.ReasonCode's name in lower
    case, e.g. "taken", "banned_host", or "name_" and a text.NameProblem's name
    in lower case, e.g. "name_space"), until when (whole wall-clock seconds; 0:
    not said) and the words (whose name, how many, the admin's reason), space
    separated: `taken 0 张三`, `banned_host 1764900000 rude`."""
    return "%s %d %s" % (why, int(until), words) if words else "%s %d" % (why, int(until))


def parse_refuse_detail(detail: str) -> Tuple[str, float, str]:
    """refuse_detail's (why, until, words); ("", 0, detail) for any other text
    (an entry an older server stored, with its English reason)."""
    why, _, rest = detail.partition(" ")
    until, _, words = rest.partition(" ")
    if not why.replace("_", "").isalpha() or not until.isdigit():
        return "", 0.0, detail
    return why, float(until), words


def malformed_detail(count: int, why: str) -> str:
    """A MALFORMED entry's detail: how many were dropped since the last entry
    (at most one a second: hub.malformed), then the codec's reason (technical,
    English: protocol.ProtocolError)."""
    return "%d %s" % (count, why)


def parse_malformed_detail(detail: str) -> Tuple[int, str]:
    count, _, why = detail.partition(" ")
    return (int(count), why) if count.isdigit() else (1, detail)


# ---------------------------------------------------------------- commands

@message
@dataclasses.dataclass(frozen=True)
class Say:
    """Plain text: an announcement to everyone (管理员消息)."""
    text: str


@message
@dataclasses.dataclass(frozen=True)
class Kick:
    name: str
    reason: str = ""


@message
@dataclasses.dataclass(frozen=True)
class Ban:
    target: str                # a name or an IP address
    minutes: float = DEFAULT_BAN_MINUTES
    reason: str = ""


@message
@dataclasses.dataclass(frozen=True)
class Unban:
    target: str


@message
@dataclasses.dataclass(frozen=True)
class ListBans:
    pass


@message
@dataclasses.dataclass(frozen=True)
class Mute:
    name: str
    minutes: float = DEFAULT_MUTE_MINUTES


@message
@dataclasses.dataclass(frozen=True)
class Unmute:
    name: str


@message
@dataclasses.dataclass(frozen=True)
class Motd:
    text: str                  # "": show it; MOTD_CLEAR: no message of the day


@message
@dataclasses.dataclass(frozen=True)
class ListMembers:
    pass


@message
@dataclasses.dataclass(frozen=True)
class Stats:
    pass


@message
@dataclasses.dataclass(frozen=True)
class Quit:
    """Stop the server (the curses console asks first)."""


@message
@dataclasses.dataclass(frozen=True)
class SendFile:
    """/send PATH: hand a file out to everyone (the network process opens it)."""
    path: str


@message
@dataclasses.dataclass(frozen=True)
class ListHandIns:
    """/hand-ins: who has handed in what, and who has not."""


# What parse gives that never goes to the network process: the console answers.

@dataclasses.dataclass(frozen=True)
class Help:
    pass


@dataclasses.dataclass(frozen=True)
class Usage:
    """A command without what it needs, or with bad minutes."""
    command: str               # "/kick", "/unban", "/unmute", "/ban" or "/mute"


@dataclasses.dataclass(frozen=True)
class Unknown:
    command: str               # as typed, lower case


Command = Union[Say, Kick, Ban, Unban, ListBans, Mute, Unmute, Motd, ListMembers, Stats, Quit,
                SendFile, ListHandIns]
Parsed = Union[Command, Help, Usage, Unknown]
COMMAND_TYPES: Tuple[Type[Command], ...] = (Say, Kick, Ban, Unban, ListBans, Mute, Unmute,
                                            Motd, ListMembers, Stats, Quit, SendFile,
                                            ListHandIns)
# Commands the network process carries out itself (they need its files and
# database), not `apply`.
FILE_COMMANDS: Tuple[Type[Command], ...] = (SendFile, ListHandIns)

_SIMPLE: Dict[str, Parsed] = {"/list": ListMembers(), "/who": ListMembers(),
                              "/bans": ListBans(), "/stats": Stats(), "/quit": Quit(),
                              "/help": Help(), "/hand-ins": ListHandIns()}
_NEEDS_WORDS = ("/kick", "/unban", "/unmute", "/ban", "/mute", "/send")


def parse(line: str) -> Optional[Parsed]:
    """An admin's input line as a command; None for a blank line."""
    stripped = line.strip()
    if not stripped:
        return None
    if not stripped.startswith("/"):
        return Say(stripped)
    command, _, rest = stripped.partition(" ")
    command = command.lower()
    rest = rest.strip()
    # A name ends at the first whitespace: names have none (text.check_name).
    target, more = split_name(rest)
    simple = _SIMPLE.get(command)
    if simple is not None:
        return simple
    if command == "/motd":
        return Motd(rest)
    if command in _NEEDS_WORDS and not target:
        return Usage(command)
    if command == "/send":                       # a path may hold spaces: all of the rest
        return SendFile(rest)
    if command == "/kick":
        return Kick(target, more)
    if command == "/unban":
        return Unban(target)
    if command == "/unmute":
        return Unmute(target)
    if command in ("/ban", "/mute"):
        default = DEFAULT_BAN_MINUTES if command == "/ban" else DEFAULT_MUTE_MINUTES
        timed = _target_minutes_reason(rest, default)
        if timed is None:
            return Usage(command)
        target, minutes, reason = timed
        return Ban(target, minutes, reason) if command == "/ban" else Mute(target, minutes)
    return Unknown(command)


def _target_minutes_reason(rest: str, default: float) -> Optional[Tuple[str, float, str]]:
    """'TARGET [minutes] [reason]' -> (TARGET, minutes, reason); None for minutes
    out of range. A second word that is no number starts the reason."""
    target, more = split_name(rest)
    number, reason = split_name(more)
    if not number:
        return target, default, ""
    minutes = duration_minutes(number)
    if minutes is None:
        return target, default, more
    if not 0 < minutes <= MAX_MINUTES:          # NaN too
        return None
    return target, max(MIN_MINUTES, minutes), reason


_UNITS = {"s": 1 / 60, "m": 1.0, "h": 60.0, "d": 1440.0}


def duration_minutes(word: str) -> Optional[float]:
    """`10` (minutes), `30s`, `10m`, `2h`, `1d` as minutes; None if it is no
    duration (then it starts the reason)."""
    unit = _UNITS.get(word[-1:].lower())
    try:
        return float(word[:-1] if unit else word) * (unit or 1.0)
    except ValueError:
        return None


# ---------------------------------------------------------------- results

class MemberRow(NamedTuple):
    """One person online (/list, and the console's online pane)."""
    name: str
    addr: str                  # as the log writes it (hub.addr_text)
    idle: int                  # seconds since their last line (or their join): keepalives
                               # and acks are not activity; idle >= AWAY_SECONDS is away
    said: int                  # lines said since they joined
    muted: bool                # a /mute is in force on their name


# Rows arrive at the console as plain tuples in this order (JSON has no names).
MemberRows = Tuple[Tuple[str, str, int, int, bool], ...]


def roster_key(name: str) -> Tuple[str, str]:
    """The order of names in /list and the roster: by the room's name key (NFKC
    and casefold: "Bob" as "bob", full-width "Ａnn" as "ann"), by code point.
    So Latin names come before Chinese ones, and Chinese names are in the order of
    Unicode's CJK Unified Ideographs block, which is radical-and-stroke order (the
    Kangxi dictionary's), not pinyin: the standard library has no readings (Unihan's
    kMandarin is not in unicodedata), and the program ships none. The name itself
    breaks ties, so the order never depends on who joined first."""
    return name_key(name), name


@message
@dataclasses.dataclass(frozen=True)
class Announced:
    sent: bool                 # False: nothing left of the line once made safe


@message
@dataclasses.dataclass(frozen=True)
class Kicked:
    name: str                  # as the room spells it
    host: str                  # refused with the name ...
    minutes: float             # ... for this long (--kick-cooldown)


@message
@dataclasses.dataclass(frozen=True)
class NoSuchMember:
    name: str                  # as the admin typed it
    suggestions: Tuple[str, ...] = ()   # names in the room close to it


class BanRow(NamedTuple):
    """What a ban (or kick cooldown) covers, for /bans and /unban."""
    kind: str                  # moderation.BAN or moderation.KICK
    label: str
    names: Tuple[str, ...]     # name keys
    hosts: Tuple[str, ...]
    keys: Tuple[str, ...]      # client keys (none until clients have keys)
    minutes_left: int
    reason: str


@message
@dataclasses.dataclass(frozen=True)
class Banned:
    ban: Tuple[str, str, Tuple[str, ...], Tuple[str, ...], Tuple[str, ...], int, str]   # BanRow
    removed: Tuple[str, ...]   # the members it put out
    absent: bool = False       # a name nobody here has (banned all the same)
    suggestions: Tuple[str, ...] = ()


@message
@dataclasses.dataclass(frozen=True)
class Unbanned:
    target: str
    lifted: Tuple[Tuple[str, str, Tuple[str, ...], Tuple[str, ...], Tuple[str, ...], int, str], ...]


@message
@dataclasses.dataclass(frozen=True)
class NotBanned:
    target: str


@message
@dataclasses.dataclass(frozen=True)
class BanList:
    bans: Tuple[Tuple[str, str, Tuple[str, ...], Tuple[str, ...], Tuple[str, ...], int, str], ...]
    mutes: Tuple[Tuple[str, int], ...]             # (name, minutes left)


@message
@dataclasses.dataclass(frozen=True)
class Muted:
    name: str
    minutes: float


@message
@dataclasses.dataclass(frozen=True)
class Unmuted:
    name: str


@message
@dataclasses.dataclass(frozen=True)
class NotMuted:
    name: str


@message
@dataclasses.dataclass(frozen=True)
class MotdSet:
    motd: str                  # as joiners will see it (made safe, cut); "" for none


@message
@dataclasses.dataclass(frozen=True)
class MotdIs:
    motd: str                  # `/motd` alone: what it is now ("" for none)


@message
@dataclasses.dataclass(frozen=True)
class MemberList:
    rows: MemberRows


@message
@dataclasses.dataclass(frozen=True)
class StatsReport:
    online: int
    counters: Tuple[Tuple[str, int], ...]          # (counter, value), by counter name


@message
@dataclasses.dataclass(frozen=True)
class Stopping:
    """Quit: the network process tells everyone and stops."""


@message
@dataclasses.dataclass(frozen=True)
class FileQueued:
    """/send: the file is going out (to `online` members now, later joiners too)."""
    name: str
    size: int
    online: int


@message
@dataclasses.dataclass(frozen=True)
class FileNotSent:
    """/send: the file cannot be handed out; why, in one line."""
    why: str


HandInRow = Tuple[str, str, int, float, str]     # name, stored file, size, time, sha256 hex


@message
@dataclasses.dataclass(frozen=True)
class HandInList:
    """/hand-ins: the hand-ins kept, oldest first, and who online has none."""
    rows: Tuple[HandInRow, ...]
    missing: Tuple[str, ...]


@message
@dataclasses.dataclass(frozen=True)
class CommandFailed:
    """The command raised (a bug): the room goes on; this is its repr."""
    error: str


Result = Union[Announced, Kicked, NoSuchMember, Banned, Unbanned, NotBanned, BanList, Muted,
               Unmuted, NotMuted, MotdSet, MotdIs, MemberList, StatsReport, Stopping,
               CommandFailed, FileQueued, FileNotSent, HandInList]
RESULT_TYPES: Tuple[Type[Result], ...] = (Announced, Kicked, NoSuchMember, Banned, Unbanned,
                                          NotBanned, BanList, Muted, Unmuted, NotMuted,
                                          MotdSet, MotdIs, MemberList, StatsReport, Stopping,
                                          CommandFailed, FileQueued, FileNotSent, HandInList)
# The commands after which the rules or the motd may have changed: the network
# process stores them (app/net/state_db.py) after each.
CHANGES_RULES: Tuple[Type[Command], ...] = (Kick, Ban, Unban, Mute, Unmute, Motd)


# ---------------------------------------------------------------- apply

def ban_row(now: float, rule: "Rule") -> BanRow:
    return BanRow(rule.kind, rule.label, rule.names, rule.hosts, rule.keys,
                  minutes_left(now, rule.until), rule.reason)


def apply(hub: "Hub", now: float, command: Command) -> Result:
    """Do what `command` says to the room; what was done."""
    if isinstance(command, Say):
        return Announced(hub.admin_say(now, command.text))
    if isinstance(command, Kick):
        kicked = hub.kick(now, command.name, command.reason)
        if kicked is None:
            return NoSuchMember(command.name, hub.suggest(command.name))
        return Kicked(kicked.label, kicked.hosts[0] if kicked.hosts else "",
                      round((kicked.until - now) / 60, 1))
    if isinstance(command, Ban):
        target = command.target
        absent = hub.find(target) is None and not looks_like_ip(target)
        rule, removed = hub.ban(now, target, command.minutes, command.reason)
        return Banned(ban_row(now, rule), removed, absent,
                      hub.suggest(target) if absent else ())
    if isinstance(command, Unban):
        lifted = hub.unban(now, command.target)
        if not lifted:
            return NotBanned(command.target)
        return Unbanned(command.target, tuple(ban_row(now, rule) for rule in lifted))
    if isinstance(command, ListBans):
        bans, mutes = hub.moderation.in_force(now)
        return BanList(tuple(ban_row(now, rule) for rule in bans),
                       tuple((rule.label, minutes_left(now, rule.until)) for rule in mutes))
    if isinstance(command, Mute):
        muted = hub.mute(now, command.name, command.minutes)
        if muted is None:
            return NoSuchMember(command.name, hub.suggest(command.name))
        return Muted(muted.label, command.minutes)
    if isinstance(command, Unmute):
        unmuted = hub.unmute(now, command.name)
        return Unmuted(unmuted.label) if unmuted is not None else NotMuted(command.name)
    if isinstance(command, Motd):
        if not command.text.strip():
            return MotdIs(hub.motd)
        return MotdSet(hub.admin_motd(now, "" if command.text.strip() == MOTD_CLEAR
                                      else command.text))
    if isinstance(command, ListMembers):
        return MemberList(member_rows(hub, now))
    if isinstance(command, Stats):
        return StatsReport(len(hub.members()), tuple(sorted(hub.stats.items())))
    if isinstance(command, Quit):
        return Stopping()
    raise TypeError("not an admin command: %r" % (command,))


def member_rows(hub: "Hub", now: float) -> Tuple[MemberRow, ...]:
    """Everyone online, by name (roster_key)."""
    from app.core.hub import addr_text  # here: hub.py imports this module at its top

    return tuple(MemberRow(s.name, addr_text(s.addr), max(0, int(now - s.said_at)), s.said,
                           hub.moderation.muted(now, s.key) is not None)
                 for s in sorted(hub.members(), key=lambda s: roster_key(s.name)))
