"""Curses helpers for two processes that share one terminal (client and admin console).

docs/DESIGN.md ("The two-process curses client") explains why each piece exists; in
short, after fork() each process has a private ncurses model of the whole screen
and never sees what the other wrote. What keeps the glass right:

  * Painter: every write to the tty happens under an flock on a lock file that
    each process opened itself after fork (a descriptor inherited across fork
    shares one open file description, and flock then excludes nothing). Before
    each update the real cursor is moved, with a raw `cup`, to where ncurses
    believes it is, because the other process moved it.
  * hide_from_model: the other process's windows are filled with a sentinel in
    our model only (the doupdate goes to /dev/null), so ncurses never repaints,
    scrolls over or "moves right through" rows it does not own.
  * SignalPipe: SIGWINCH, SIGTERM, SIGHUP, SIGINT become bytes on a self-pipe
    that the process's one selector loop reads.
  * KeyDecoder: keys are read from fd 0 by us, never by get_wch(), which may
    refresh a window outside the lock and emits the keypad sequence unasked. It
    also sees bracketed paste.
"""
import codecs
import contextlib
import curses
import fcntl
import os
import re
import struct
import termios
from typing import Callable, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from app.net.signals import SignalPipe  # noqa: F401  (the front ends use screen.SignalPipe)

SENTINEL = "~"                      # what "the other process's cell" looks like to us
BRACKETED_PASTE_ON = b"\x1b[?2004h"
BRACKETED_PASTE_OFF = b"\x1b[?2004l"
_PADDING = re.compile(rb"\$<[0-9.*/]+>")   # terminfo delays, e.g. vt100's cup=...$<5>


# ---------------------------------------------------------------- layout

class Layout(NamedTuple):
    """Rows of a chat screen: a pane on top, a status line, an input line at the bottom."""

    lines: int
    cols: int

    @property
    def pane_height(self) -> int:
        return max(1, self.lines - 2)

    @property
    def status_y(self) -> int:
        return self.lines - 2

    @property
    def input_y(self) -> int:
        return self.lines - 1

    @property
    def usable(self) -> bool:
        return self.lines >= 3 and self.cols >= 4


class ChatWindows(NamedTuple):
    pane: "curses.window"
    status: "curses.window"
    input: "curses.window"

    @classmethod
    def create(cls, layout: Layout) -> "ChatWindows":
        cols = layout.cols
        return cls(curses.newwin(layout.pane_height, cols, 0, 0),
                   curses.newwin(1, cols, max(0, layout.status_y), 0),
                   curses.newwin(1, cols, max(0, layout.input_y), 0))


def terminal_size(fd: int = 1) -> Tuple[int, int]:
    """(lines, cols) from the kernel (ncurses' own idea is stale after a resize)."""
    try:
        rows, cols, _, _ = struct.unpack("hhhh", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return curses.LINES, curses.COLS
    return (rows or curses.LINES), (cols or curses.COLS)


def apply_size(lines: int, cols: int) -> Layout:
    """Tell ncurses the new size. resize_term, not resizeterm: the latter repaints
    the whole screen from this process's (partly sentinel) model."""
    curses.resize_term(lines, cols)
    curses.update_lines_cols()
    return Layout(lines, cols)


def colour_attributes(attrs: dict, colours: Sequence[Tuple[str, int, Optional[int], int]]
                      ) -> dict:
    """Style -> curses attribute. `attrs` is the look on any terminal (bold, reverse,
    dim); each (style, foreground, background or None for the terminal's own, extra
    attribute) then replaces it with colour | extra, unless NO_COLOR is set or the
    terminal has no colour (vt100). Call after initscr, once, before fork."""
    attrs = dict(attrs)
    if os.environ.get("NO_COLOR") or not curses.has_colors():
        return attrs
    try:
        curses.start_color()
        try:
            curses.use_default_colors()
            default = -1
        except curses.error:
            default = curses.COLOR_BLACK
        for pair, (style, foreground, background, extra) in enumerate(colours, 1):
            curses.init_pair(pair, foreground, default if background is None else background)
            attrs[style] = curses.color_pair(pair) | extra
    except curses.error:
        pass                          # claims colour but has too few pairs
    return attrs


def draw_rows(window: "curses.window", rows, attrs: dict) -> None:
    """Erase `window` and draw rows of (text, style) segments (messages_view.py) from its
    top; styles map through `attrs` (colour_attributes)."""
    window.erase()
    for y, row in enumerate(rows):
        try:
            window.move(y, 0)
            for text, style in row:
                window.addstr(text, attrs.get(style, 0))
        except curses.error:
            pass                      # a row that ends in the window's last cell


# ---------------------------------------------------------------- painting

def cup(y: int, x: int) -> bytes:
    """The terminal's cursor-address sequence, padding removed (we write it raw)."""
    seq = curses.tparm(curses.tigetstr("cup") or b"", max(0, y), max(0, x))
    return _PADDING.sub(b"", seq)


class Painter:
    """Locked, cursor-synchronised updates of this process's own windows."""

    def __init__(self, lock_path: str, fd: int = 1):
        self.fd = fd
        self.lock_fd = os.open(lock_path, os.O_RDWR)   # our own open file description
        self.believed: Tuple[int, int] = curses.getsyx()

    @contextlib.contextmanager
    def locked(self):
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    def paint(self, windows: Iterable["curses.window"],
              park: Optional[Callable[[], Tuple[int, int]]] = None,
              after: Optional[Callable[[int, int], None]] = None,
              extra: bytes = b"") -> Tuple[int, int]:
        """noutrefresh `windows` (the last one's cursor is where ncurses leaves the glass
        cursor), doupdate, then, still under the lock: `after(y, x)` (the sender publishes
        its cursor), `extra` raw bytes (a bell), and a raw move to `park()` (the receiver
        parks the cursor on the input line; ncurses itself must never move there)."""
        with self.locked():
            if self.believed[0] >= 0:
                os.write(self.fd, cup(*self.believed))
            for window in windows:
                window.noutrefresh()
            curses.doupdate()
            self.believed = curses.getsyx()
            if after is not None:
                after(*self.believed)
            tail = extra
            spot = park() if park is not None else (-1, -1)
            if spot[0] >= 0:
                tail += cup(*spot)
            if tail:
                os.write(self.fd, tail)
        return self.believed

    def write(self, data: bytes) -> None:
        with self.locked():
            os.write(self.fd, data)

    def hide(self, windows: Iterable["curses.window"]) -> None:
        """hide_from_model, then take ncurses' new cursor belief: the /dev/null update
        moved the cursor it believes in, not the one on the glass."""
        hide_from_model(windows)
        self.believed = curses.getsyx()


def hide_from_model(windows: Iterable["curses.window"]) -> None:
    """Fill the other process's windows with SENTINEL in our model only.

    The doupdate runs with fd 1 on /dev/null: ncurses now believes those cells are on
    the glass and never touches them. Call it again after every resize."""
    for window in windows:
        height, width = window.getmaxyx()
        for y in range(height):
            try:
                window.addstr(y, 0, SENTINEL * width)
            except curses.error:
                pass                 # the bottom-right cell: drawn, but addstr complains
        window.noutrefresh()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        curses.doupdate()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def restore_terminal(fd: int = 1) -> None:
    """Leave curses: bracketed paste off, the shell's tty modes and screen back.
    Safe to call when the terminal is gone (SIGHUP)."""
    try:
        os.write(fd, BRACKETED_PASTE_OFF)
    except OSError:
        pass
    try:
        curses.endwin()
    except curses.error:
        pass


# ---------------------------------------------------------------- signals

# ---------------------------------------------------------------- keys

ESC = "\x1b"
PASTE_START = ESC + "[200~"
PASTE_END = ESC + "[201~"
_CSI_FINAL = {"A": "up", "B": "down", "C": "right", "D": "left", "H": "home", "F": "end"}
_CSI_TILDE = {"1": "home", "7": "home", "4": "end", "8": "end", "3": "delete",
              "5": "pgup", "6": "pgdn", "2": "insert"}
_CONTROL = {"\r": "enter", "\n": "enter", "\t": "tab", "\x7f": "backspace", "\b": "backspace"}
# Keys that have a Ctrl- variant worth telling apart (word moves; the pane's ends).
# Spellings: xterm and its kin (VTE, konsole, tmux, iTerm2) put a modifier parameter
# in the sequence, ESC[1;5D, whose value - 1 is a bit mask (Shift 1, Alt 2, Ctrl 4);
# old xterm and PuTTY-like terminals send ESC[5D or ESC O 5 D; rxvt sends ESC O d /
# ESC O c for Ctrl-Left/Right and ends Ctrl-Home/End with ^ instead of ~ (ESC[7^).
_CTRL_KEYS = ("left", "right", "home", "end")
_RXVT_SS3 = {"a": "ctrl-up", "b": "ctrl-down", "c": "ctrl-right", "d": "ctrl-left"}
_CTRL_BIT = 4


def _with_modifier(name: Optional[str], params: str) -> Optional[str]:
    """`name` with Ctrl- when the modifier parameter (the last of `params`) has the
    Ctrl bit. Other modifiers (Shift, Alt) leave the key as it is."""
    if name is None or not params:
        return name
    try:
        modifier = int(params.split(";")[-1]) - 1
    except ValueError:
        return name
    if modifier > 0 and modifier & _CTRL_BIT and name in _CTRL_KEYS:
        return "ctrl-" + name
    return name


class KeyDecoder:
    """Bytes from the terminal -> [("text", s) | ("key", name) | ("paste", s)].

    Key names: up down left right home end delete pgup pgdn insert enter tab
    backspace esc, "^A".."^Z" for control keys, ctrl-left ctrl-right ctrl-home
    ctrl-end, and "M-x" for Alt (Meta) with a printable ASCII key x, sent by
    terminals as ESC x (also "M-backspace"). Handles the xterm, vt100/SS3, rxvt
    and Linux-console spellings; a sequence cut between two reads waits for the rest.
    """

    def __init__(self):
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._buf = ""
        self._paste: Optional[List[str]] = None

    @property
    def pending(self) -> bool:
        """True if a lone ESC (or a cut sequence) waits: call flush() after a pause."""
        return bool(self._buf) and self._paste is None

    def feed(self, data: bytes) -> List[Tuple[str, str]]:
        self._buf += self._utf8.decode(data)
        return self._parse(final=False)

    def flush(self) -> List[Tuple[str, str]]:
        return self._parse(final=True)

    def _parse(self, final: bool) -> List[Tuple[str, str]]:
        out: List[Tuple[str, str]] = []
        buf, i = self._buf, 0
        while i < len(buf):
            if self._paste is not None:
                end = buf.find(PASTE_END, i)
                if end < 0:
                    keep = _partial_suffix(buf, PASTE_END)
                    self._paste.append(buf[i:len(buf) - keep])
                    i = len(buf) - keep
                    break
                self._paste.append(buf[i:end])
                out.append(("paste", "".join(self._paste)))
                self._paste = None
                i = end + len(PASTE_END)
                continue
            ch = buf[i]
            if ch == ESC:
                item, size = _escape(buf, i)
                if size == 0:            # incomplete
                    if not final:
                        break
                    item, size = ("key", "esc"), 1
                i += size
                if item == ("paste", ""):
                    self._paste = []
                elif item is not None:
                    out.append(item)
            elif ch in _CONTROL:
                out.append(("key", _CONTROL[ch]))
                i += 1
            elif ord(ch) < 0x20:
                if "\x01" <= ch <= "\x1a":
                    out.append(("key", "^" + chr(ord(ch) + 64)))
                i += 1
            else:
                j = i
                while j < len(buf) and buf[j] >= " " and buf[j] not in (ESC, "\x7f"):
                    j += 1
                if out and out[-1][0] == "text":
                    out[-1] = ("text", out[-1][1] + buf[i:j])
                else:
                    out.append(("text", buf[i:j]))
                i = j
        self._buf = buf[i:]
        return out


def _partial_suffix(buf: str, marker: str) -> int:
    """Length of the longest end of `buf` that could be the start of `marker`."""
    for size in range(min(len(marker) - 1, len(buf)), 0, -1):
        if marker.startswith(buf[-size:]):
            return size
    return 0


def _escape(buf: str, i: int):
    """(item or None, length) for the escape sequence at buf[i]; length 0 = incomplete."""
    if i + 1 >= len(buf):
        return None, 0
    kind = buf[i + 1]
    if kind == "O":                      # SS3: vt100 / keypad-mode arrows, Home, End
        j = i + 2
        while j < len(buf) and buf[j] in "0123456789;":
            j += 1                       # ESC O 5 D: a modifier (old xterm)
        if j >= len(buf):
            return None, 0
        name = _RXVT_SS3.get(buf[j]) or _with_modifier(_CSI_FINAL.get(buf[j]), buf[i + 2:j])
        return (("key", name) if name else None), j + 1 - i
    if kind == "\x7f":
        return ("key", "M-backspace"), 2
    if " " <= kind <= "~" and kind != "[":
        # Alt+key: terminals send ESC then the key, in one write. A human's Esc and
        # a letter typed after it come in two reads, the Esc alone (flush()).
        return ("key", "M-" + kind), 2
    if kind != "[":
        return ("key", "esc"), 1         # a lone ESC before a control key or non-ASCII
    j = i + 2
    if j < len(buf) and buf[j] == "[":   # Linux console F1-F5: ESC [ [ A
        return (None, 4) if j + 1 < len(buf) else (None, 0)
    while j < len(buf) and buf[j] in "0123456789;?<=>":
        j += 1
    if j >= len(buf):
        return None, 0
    params, final = buf[i + 2:j], buf[j]
    size = j + 1 - i
    if final in "~^":
        first = params.split(";")[0]
        if first == "200":
            return ("paste", ""), size   # start of a bracketed paste
        name = _CSI_TILDE.get(first)
        if final == "^":                 # rxvt: Ctrl- ends in ^ instead of ~
            name = "ctrl-" + name if name in _CTRL_KEYS else name
        elif ";" in params:              # ESC[1;5~ and kin
            name = _with_modifier(name, params)
    else:
        name = _with_modifier(_CSI_FINAL.get(final), params)
    return (("key", name) if name else None), size
