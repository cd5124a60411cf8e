"""The server's curses admin console (`chat.pyz server` on a terminal).

The network process forks this side and talks with it over a channel
(app.core.console_messages): ConsoleLog for room events, ConsoleNote and
ConsoleHints for the server's own lines and how to join, an admin result for
what our commands did, ConsoleState once a second (we subscribe), ConsoleBye
when it stops. Lines are parsed by app.core.admin and worded by admin_text in
the console's language (options.lang: Chinese, or English with --lang en), as
in admin_headless. The screen (in English):

    event log (joins, leaves, chat, admin      | online 3  ! muted  ~ away
    actions, warnings, command replies)        |  lisi                12s
                                               | !张三                 5m
                                               | ~王五                 2h
    status: address | uptime | online | msg/s | dropped datagrams
    > input: plain text goes out as 管理员消息, /commands as in admin_headless

One process owns the whole terminal, so no paint lock: keys come from fd 0
through screen.KeyDecoder (raw mode: Ctrl-C is a key and asks before /quit),
signals through screen.SignalPipe, the link and both of those in one selector;
nothing runs between events. The online pane is hidden when the terminal is
narrower than ONLINE_MIN_COLS (the status line keeps the count, /list the rest).
The online pane is the roster (online_rows): a person a line, by name, idle time
since their last line; in two or more columns when one would not hold everyone
(32 people in 100x30 take two columns of 16).

Exits, all through restore_terminal, then one line on stderr where there is
something to say: /quit or Ctrl-C (Ctrl-D on an empty line) confirmed with y
(the network process tells the clients, then answers "bye"); SIGTERM (the
network process puts a line-mode console, admin_headless, in our place on the
terminal, as after a crash); SIGHUP (the terminal is gone; the network process
stops too); the network process gone (EOF on the link). SIGINT is the network
process's business, as in headless mode. A terminal curses cannot drive (TERM
unset, unknown or dumb), or a machine with no UTF-8 locale, gets admin_headless
instead, after one line saying why (app/ui/environment.py decides).
"""
import curses
import locale
import os
import selectors
import signal
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from app.core import admin, protocol
from app.core.admin import LogKind
from app.core.console_messages import (
    ConsoleBye,
    ConsoleHints,
    ConsoleLog,
    ConsoleNote,
    ConsoleState,
    ConsoleSubscribe,
)
from app.core.join_hints import host_port_text
from app.core.options import ServerOptions
from app.core.text import sanitize_text
from app.net.channel import Channel
from app.ui import admin_text, environment, screen, stdin
from app.ui.line_editor import LineEditor, one_line
from app.ui.messages_view import MessagesView, wrap_segments
from app.ui.width import text_width, truncate_to_width

QUIT_WAIT = 3.0             # after /quit, how long we wait for the network's "bye"
ONLINE_MIN_COLS = 64        # narrower than this: no online pane
MARK_MUTED = "!"            # before a name in the roster: muted
MARK_AWAY = "~"             # before a name in the roster: no line for admin.AWAY_SECONDS
CELL_MIN = 10               # narrowest roster cell: a mark, 5 columns of name, " 59m"
IDLE_COLS = 3               # idle times right-aligned in this many ("12s", "5m", "23h")
CELL_GAP = 1                # between roster columns (the mark column adds a second blank)
MAX_INPUT_BYTES = 4 * protocol.MAX_TEXT_BYTES   # the network process splits long lines
STAMP_COLS = 9              # "HH:MM:SS "
HANG_MIN_COLS = 20          # a log pane narrower than the stamp and this wraps to column 0
PROMPT = "> "

Segment = Tuple[str, str]
Line = List[Segment]


def run(link: Channel, options: ServerOptions) -> int:
    """The admin console until one of its exits; the exit code for the forked child."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the network process handles it
    # If the network process dies first the shell takes the terminal back; endwin's
    # tcsetattr from a background process would then stop us with SIGTTOU.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    # TERM unset, unknown or dumb, or no UTF-8 locale: one line, then the headless
    # console.
    lang = options.lang
    verdict = environment.for_curses()
    environment.say(verdict.note(lang, "console"))
    if not verdict.curses:
        return _headless(link, lang)
    try:
        console = Console(link, options)
    except curses.error:                 # what terminfo promised, initscr could not do
        screen.restore_terminal()
        environment.say(admin_text.tr(lang, "no_console") + environment.text(lang, "console"))
        return _headless(link, lang)
    farewell = ""
    try:
        farewell = console.loop()
    finally:
        screen.restore_terminal()
    if farewell:
        environment.say(farewell)
    return 0


def _headless(link: Channel, lang: str) -> int:
    from app.ui import admin_headless

    return admin_headless.run(link, lang)


# ---------------------------------------------------------------- pure formatting

def clock(seconds: float) -> str:
    seconds = int(seconds)
    return "%d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def online_width(cols: int) -> int:
    """Columns of the online pane (its edge included) on a terminal `cols` wide."""
    return min(34, max(24, cols // 3)) if cols >= ONLINE_MIN_COLS else 0


def spread(left: str, right: str, width: int) -> str:
    """`left` and `right` on one row of exactly `width` columns (left cut first)."""
    right = truncate_to_width(right, width)
    room = width - text_width(right)
    left = truncate_to_width(left, max(0, room - 1) if right else room)
    return left + " " * (width - text_width(left) - text_width(right)) + right


def log_line(entry: Sequence[Any], when: float, lang: str) -> Line:
    """A room log entry (time, what, name, addr, detail) as a display line,
    stamped `when` (we got it)."""
    return [(time.strftime("%H:%M:%S ", time.localtime(when)), "time"),
            admin_text.log_body(entry, lang)]


def hanging_rows(line: Sequence[Segment], width: int) -> List[Line]:
    """A log pane line (its first segment the time column) as rows of at most
    `width` columns: what does not fit continues under the text, not at column 0,
    where it would read as an entry of its own."""
    indent = text_width(line[0][0]) if line else 0
    if width - indent < HANG_MIN_COLS:
        return wrap_segments(line, width)
    rows = wrap_segments(line[1:], width - indent)
    return [[line[0]] + rows[0]] + [[(" " * indent, "")] + row for row in rows[1:]]


def online_rows(online: admin.MemberRows, width: int, height: int, lang: str) -> List[Line]:
    """The roster, `width` columns by at most `height` rows: a heading (the count,
    and what the marks mean when someone has one), then one cell a person, in the
    order given (by name: admin.member_rows), down the first column and on into
    the next as `ls` does, in as many columns as the count needs and the width
    allows; people beyond that are a count (/list has everyone)."""
    people = [admin.MemberRow(*row) for row in online]
    head = admin_text.tr(lang, "roster_head", count=len(people))
    legend = "  ".join(mark + " " + admin_text.tr(lang, word) for mark, word in
                       ((MARK_MUTED, "mark_muted"), (MARK_AWAY, "mark_away"))
                       if any(_mark(p)[0] == mark for p in people))
    if text_width(head) + 1 + text_width(legend) > width:
        legend = ""
    body = max(0, height - 1)
    across = roster_columns(len(people), width, body)
    cell = (width - CELL_GAP * (across - 1)) // across
    room = across * body
    shown = people if len(people) <= room else people[:max(0, room - 1)]
    cells = [roster_cell(person, cell) for person in shown]
    if len(shown) < len(people):
        more = admin_text.tr(lang, "roster_more", count=len(people) - len(shown))
        if text_width(more) > cell:
            more = admin_text.tr(lang, "roster_more_short", count=len(people) - len(shown))
        cells.append([(admin_text.pad(truncate_to_width(more, cell), cell), "dim")])
    down = -(-len(cells) // across)
    rows: List[Line] = [[(spread(head, legend, width), "head")]]
    for y in range(down):
        row: Line = []
        for x in range(across):
            if x * down + y < len(cells):
                row += ([(" " * CELL_GAP, "")] if x else []) + cells[x * down + y]
        used = sum(text_width(text) for text, _ in row)
        rows.append(row + [(" " * (width - used), "")])
    return rows[:height]


def roster_columns(count: int, width: int, rows: int) -> int:
    """Columns for `count` people in `rows` rows: as few as hold them all, and
    no more than `width` has room for (then some are left out)."""
    fit = max(1, (width + CELL_GAP) // (CELL_MIN + CELL_GAP))
    need = -(-count // rows) if rows else 1          # ceiling division
    return max(1, min(fit, need))


def _mark(person: admin.MemberRow) -> Segment:
    """The column before a name: muted first (the admin acts on it), then away."""
    if person.muted:
        return MARK_MUTED, "warn"
    return (MARK_AWAY, "dim") if person.idle >= admin.AWAY_SECONDS else (" ", "")


def roster_cell(person: admin.MemberRow, width: int) -> Line:
    """One person in exactly `width` display columns: mark, name, idle time at the
    right; a name too wide is cut (never half a Chinese character)."""
    idle = admin_text.idle_text(person.idle).rjust(IDLE_COLS)      # ASCII: len is width
    room = max(0, width - 2 - len(idle))      # the mark, a space; names cut the same in a column
    name = admin_text.pad(truncate_to_width(sanitize_text(person.name), room), room)
    away = person.idle >= admin.AWAY_SECONDS
    return [_mark(person), (name + " ", "dim" if away else ""), (idle, "dim")]


def status_text(state: Optional[ConsoleState], fallback_listen: str, lang: str,
                width: int = 1000) -> str:
    """The status line's fields, closer together when `width` is short."""
    t = admin_text.tr
    if state is None:
        fields = [fallback_listen, t(lang, "status_starting")]
    else:
        fields = [state.listen, t(lang, "status_up", clock=clock(state.uptime)),
                  t(lang, "status_online", count=len(state.online)),
                  t(lang, "status_rate", rate=state.rate),
                  t(lang, "status_dropped", count=state.dropped)]
    text = " " + " | ".join(fields)
    return text if text_width(text) <= width else "|".join(fields)


# ---------------------------------------------------------------- the console

# Styles (log_line, online_rows, the status and input lines) on any terminal, then
# in colour where there is colour and no NO_COLOR: (style, foreground, background, extra).
LOOK = {"time": curses.A_DIM, "dim": curses.A_DIM, "echo": curses.A_DIM,
        "head": curses.A_BOLD, "warn": curses.A_BOLD, "action": curses.A_BOLD,
        "admin": curses.A_BOLD, "status": curses.A_REVERSE, "indicator": curses.A_REVERSE}
COLOURS = (("warn", curses.COLOR_YELLOW, None, curses.A_BOLD),
           ("room", curses.COLOR_CYAN, None, 0),
           ("reply", curses.COLOR_GREEN, None, 0),
           ("admin", curses.COLOR_WHITE, curses.COLOR_RED, curses.A_BOLD))


def _rule() -> str:
    """The online pane's left edge: a box-drawing line where the locale can say it."""
    try:
        "\u2502".encode(locale.getpreferredencoding(False))
        return "\u2502 "
    except (UnicodeError, LookupError):
        return "| "


class Console:
    def __init__(self, link: Channel, options: ServerOptions) -> None:
        self.link = link
        self.lang = options.lang
        self.listen = host_port_text(options.bind or "*", options.port)
        self.stdscr = curses.initscr()
        curses.raw()                  # Ctrl-C, Ctrl-Z, Ctrl-\ arrive as keys
        curses.noecho()
        curses.typeahead(-1)
        try:
            curses.curs_set(1)
        except curses.error:
            pass
        self.attrs = screen.colour_attributes(LOOK, COLOURS)
        self.rule = _rule()
        self.keys = screen.KeyDecoder()
        self.signals = screen.SignalPipe((signal.SIGWINCH, signal.SIGTERM, signal.SIGHUP))
        self.editor = LineEditor(max_bytes=MAX_INPUT_BYTES)
        self.view = MessagesView(1, 1, wrap=hanging_rows, indicator=lambda count: [
            (admin_text.tr(self.lang, "new_below", count=count), "indicator")])
        self.state: Optional[ConsoleState] = None
        self.recent: List[str] = []   # speakers, most recent first (Tab offers them first)
        self.confirming = False
        self.quit_by: Optional[float] = None   # deadline once /quit was confirmed
        self.wins: Dict[str, "curses.window"] = {}
        self.resize()
        os.write(1, screen.BRACKETED_PASTE_ON)

    # ------------------------------------------------------------ loop

    def loop(self) -> str:
        """Run until an exit; return the line to print after the terminal is back."""
        sel = selectors.DefaultSelector()
        sel.register(self.link.fileno(), selectors.EVENT_READ, "link")
        sel.register(0, selectors.EVENT_READ, "keys")
        sel.register(self.signals.fileno(), selectors.EVENT_READ, "signals")
        self.link.send(ConsoleSubscribe())
        while True:
            self.paint()
            link_events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.link.wants_write
                                                  else 0)
            sel.modify(self.link.fileno(), link_events, "link")
            ready = {key.data for key, _ in sel.select(self._timeout())}
            if "signals" in ready:
                for signum in self.signals.take():
                    if signum != signal.SIGWINCH:
                        return ""            # SIGTERM, SIGHUP: the room carries on
                    self.resize()
            if "link" in ready:
                self.link.flush()
                messages = self.link.receive()
                for message in messages or []:
                    if isinstance(message, ConsoleBye):
                        return self.tr("stopped")
                    self.on_message(message)
                if messages is None:
                    return self.tr("network_gone")
            if "keys" in ready or self.keys.pending:
                try:
                    data = os.read(0, stdin.READ_SIZE) if "keys" in ready else b""
                except OSError:
                    data = b""
                if "keys" in ready and not data:
                    return ""                # the terminal is gone
                for kind, value in self.keys.feed(data) if data else self.keys.flush():
                    self.on_key(kind, value)
            if self.quit_by and time.monotonic() > self.quit_by:
                return self.tr("quit_unanswered")

    def _timeout(self) -> Optional[float]:
        timeout = stdin.ESC_WAIT if self.keys.pending else None
        if self.quit_by:
            left = max(0.0, self.quit_by - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        return timeout

    # ------------------------------------------------------------ from the network

    def on_message(self, message: Any) -> None:
        if isinstance(message, ConsoleLog):
            now = time.time()
            for entry in message.entries:
                self.view.add(log_line(entry, now, self.lang))
                if entry[1] in (LogKind.CHAT, LogKind.EMOTE):
                    self._spoke(entry[2])
        elif isinstance(message, ConsoleNote):
            self.view.add([(time.strftime("%H:%M:%S ", time.localtime()), "time"),
                           admin_text.note_text(message.key, message.values, self.lang)])
        elif isinstance(message, admin.RESULT_TYPES):
            self.show(*admin_text.result_lines(message, self.lang), style="reply")
        elif isinstance(message, ConsoleHints):
            self.show(*admin_text.hint_lines(message.hints, self.lang), style="reply")
        elif isinstance(message, ConsoleState):
            self.state = message

    def tr(self, key: str, **values: Any) -> str:
        return admin_text.tr(self.lang, key, **values)

    def _spoke(self, name: str) -> None:
        if name in self.recent:
            self.recent.remove(name)
        self.recent.insert(0, name)
        del self.recent[50:]

    def show(self, *lines: str, style: str = "") -> None:
        """Lines of our own (replies, help, hints), under the time column."""
        for line in lines:
            self.view.add([(" " * STAMP_COLS, "time"), (sanitize_text(line), style)])

    # ------------------------------------------------------------ keys

    def on_key(self, kind: str, value: str) -> None:
        if self.quit_by:
            return                           # stopping: keys mean nothing now
        if self.confirming:
            self.confirming = False
            if kind == "text" and value[:1] in ("y", "Y"):
                self.quit_by = time.monotonic() + QUIT_WAIT
                self.show(self.tr("stopping"), style="action")
                self.link.send(admin.Quit())
            else:
                self.show(self.tr("quit_cancelled"), style="echo")
            return
        editor = self.editor
        if kind in ("text", "paste"):
            text = one_line(value) if kind == "paste" else sanitize_text(value)
            if not editor.insert(text):
                self.show(self.tr("too_long", limit=MAX_INPUT_BYTES), style="warn")
        elif value == "enter":
            self.submit(editor.submit())
        elif value == "^C" or (value == "^D" and not editor.chars):
            self.confirming = True
        elif value == "pgup":
            self.view.page_up()
        elif value == "pgdn":
            self.view.page_down()
        elif value == "^L":
            self.stdscr.clear()
        elif value == "tab":
            editor.handle(value, self._candidates())
        else:
            editor.handle("delete" if value == "^D" else value)

    def _candidates(self) -> Sequence[str]:
        """Tab: command names for the first word, else the online names (recent
        speakers first)."""
        before = self.editor.text[:self.editor.cursor]
        if before.startswith("/") and " " not in before:
            return admin_text.COMMANDS
        online = [row[0] for row in self.state.online] if self.state else []
        return [n for n in self.recent if n in online] + \
            [n for n in online if n not in self.recent]

    def submit(self, line: str) -> None:
        """What admin_headless does with a line, plus /quit's confirmation."""
        command = admin.parse(line)
        if command is None:
            return
        self.view.follow()
        if not isinstance(command, admin.Say):
            self.view.add([(time.strftime("%H:%M:%S ", time.localtime()), "time"),
                           (PROMPT + sanitize_text(line.strip()), "echo")])
        if isinstance(command, admin.Help):
            self.show(*admin_text.help_lines(self.lang))
        elif isinstance(command, admin.Usage):
            self.show(admin_text.usage_line(command, self.lang), style="warn")
        elif isinstance(command, admin.Unknown):
            self.show(admin_text.unknown_line(command, self.lang, tab=True), style="warn")
        elif isinstance(command, admin.Quit):
            self.confirming = True
        else:
            self.link.send(command)

    # ------------------------------------------------------------ screen

    def resize(self) -> None:
        """New size from the kernel (SIGWINCH, or found changed at a paint): new
        windows, the log re-wrapped, everything repainted from a cleared screen."""
        self.layout = screen.apply_size(*screen.terminal_size())
        cols = self.layout.cols
        side = online_width(cols)
        height = self.layout.pane_height
        self.wins = {"log": curses.newwin(height, cols - side, 0, 0),
                     "status": curses.newwin(1, cols, max(0, self.layout.status_y), 0),
                     "input": curses.newwin(1, cols, max(0, self.layout.input_y), 0)}
        if side:
            self.wins["online"] = curses.newwin(height, side, 0, cols - side)
        self.view.resize(cols - side, height)
        self.stdscr.clear()

    def paint(self) -> None:
        if screen.terminal_size() != tuple(self.layout):
            self.resize()
        if not self.layout.usable:
            return
        self.stdscr.noutrefresh()            # a no-op unless cleared (resize, ^L)
        self._draw_log()
        if "online" in self.wins:
            self._draw_online()
        self._draw_status()
        self._draw_input()
        for name in ("log", "online", "status", "input"):
            if name in self.wins:
                self.wins[name].noutrefresh()   # input last: the cursor stays there
        try:
            curses.doupdate()
        except curses.error:
            pass

    def _draw_log(self) -> None:
        screen.draw_rows(self.wins["log"], self.view.rows(), self.attrs)

    def _draw_online(self) -> None:
        window = self.wins["online"]
        height, width = window.getmaxyx()
        rows = online_rows(self.state.online if self.state else (), width - 2, height, self.lang)
        rows += [[]] * (height - len(rows))
        screen.draw_rows(window, [[(self.rule, "dim")] + row for row in rows], self.attrs)

    def _draw_status(self) -> None:
        right = self.tr("status_stopping") if self.quit_by else (
            self.tr("status_scrolled") if self.view.scrolled else "")
        cols = self.layout.cols
        text = spread(status_text(self.state, self.listen, self.lang, cols - text_width(right)),
                      right, cols)
        screen.draw_rows(self.wins["status"], [[(text, "status")]], self.attrs)

    def _draw_input(self) -> None:
        window = self.wins["input"]
        cols = self.layout.cols
        prompt = truncate_to_width(self.tr("confirm") if self.confirming else PROMPT,
                                   max(0, cols - 2))
        shown, cursor = "", 0
        if not self.confirming and not self.quit_by:
            shown, cursor = self.editor.view(cols - text_width(prompt))
        screen.draw_rows(window, [[(prompt, "head" if self.confirming else ""), (shown, "")]],
                         self.attrs)
        window.move(0, min(cols - 1, text_width(prompt) + cursor))
