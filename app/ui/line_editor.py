"""The input line: a buffer of code points and a cursor. Pure: no terminal here.

Keys arrive as names ("left", "^W", "M-b", "ctrl-left", ...; see KEYS) from the
front end's key decoder; text arrives as str (one typed character, an IME commit, or a paste).
view(width) gives what to draw: horizontal scrolling by display width, keeping
the last column free so the cursor can sit after the last character (the
bottom-right cell of a terminal cannot be written without scrolling it).

The cursor moves over, and Backspace and Delete remove, whole grapheme clusters
(width.graphemes): an emoji sequence or a letter with its accents is one step.
A multi-line paste keeps its line breaks in the buffer (paste_text); they are
shown as NEWLINE_MARK, and Enter sends the whole buffer as one message.
"""
import unicodedata
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from app.core.text import sanitize_lines, sanitize_text
from app.ui.width import cluster_end, cluster_start, expand_tabs, text_width

NEWLINE_MARK = "\u21b5"    # ↵: a line break inside the input line

HISTORY_SIZE = 100
KILL_RING_SIZE = 10        # killed texts kept for Ctrl-Y / Alt-y, as readline's default

# Word classes for Alt-b/f/d and Ctrl-Left/Right. A word is a run of characters of
# one class: letters and digits of alphabetic scripts (Latin, Greek, Cyrillic, ...;
# "_" too), or CJK (wide letters and digits: Han, kana, Hangul, fullwidth forms).
# Chinese has no spaces and the stdlib has no dictionary to segment it, so a run of
# CJK up to a space, a punctuation mark (，。) or a change of script counts as one
# word: a clause is what Alt-f jumps over and Alt-d deletes ("你好世界 hi" is two
# words, "hello世界" too). Everything else (spaces, punctuation, symbols) separates
# words; a combining mark belongs to the word it follows.
_SEPARATOR, _ALPHA, _CJK = 0, 1, 2


def _word_class(ch: str) -> int:
    category = unicodedata.category(ch)
    if category[0] not in "LN" and ch != "_":
        return _SEPARATOR
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return _CJK
    return _ALPHA


class LineEditor:
    def __init__(self, history_size: int = HISTORY_SIZE, max_bytes: Optional[int] = None):
        self.chars: List[str] = []
        self.cursor = 0                  # index into chars
        self.max_bytes = max_bytes
        self._history: List[str] = []
        self._history_size = history_size
        self._browse: Optional[int] = None   # index into history while browsing it
        self._draft = ""                 # the line being typed before browsing began
        self._hscroll = 0                # first char shown
        self._completion: Optional[Tuple[int, int, List[str], int]] = None
        self._kills: List[str] = []      # the kill ring, newest last
        self._last = ""                  # the previous key's name: kills in a row join
        self._yanked: Optional[Tuple[int, int, int]] = None   # (start, end, ring index)

    # ---------------------------------------------------------------- state

    @property
    def text(self) -> str:
        return "".join(self.chars)

    def set_text(self, text: str) -> None:
        self.chars = list(text)
        self.cursor = len(self.chars)

    # ---------------------------------------------------------------- editing

    def insert(self, text: str) -> bool:
        """Insert at the cursor. False (and nothing inserted) when it would pass max_bytes:
        the caller says so visibly; input is never cut silently."""
        if not text:
            return True
        if self.max_bytes is not None and \
                len(self.text.encode("utf-8")) + len(text.encode("utf-8")) > self.max_bytes:
            return False
        self.chars[self.cursor:self.cursor] = list(text)
        self.cursor += len(text)
        self._completion = None
        self._last, self._yanked = "", None
        return True

    def handle(self, key: str, names: Sequence[str] = ()) -> bool:
        """Apply a named key; False if the editor has no use for it.
        `names` are Tab's candidates, the most wanted first."""
        action = KEYS.get(key)
        if action is None:
            return False
        if key != "tab":
            self._completion = None
        if key not in ("^Y", "M-y"):
            self._yanked = None
        if key == "tab":
            self.complete(names)
        else:
            action(self)
        self._last = key
        return True

    def left(self):
        self.cursor = self._before(self.cursor)

    def right(self):
        self.cursor = self._after(self.cursor)

    def _before(self, pos: int) -> int:
        """The start of the cluster before `pos` (pos itself at the start)."""
        return cluster_start(self.text, pos) if pos > 0 else 0

    def _after(self, pos: int) -> int:
        """The end of the cluster at `pos` (pos itself at the end)."""
        return cluster_end(self.text, pos) if pos < len(self.chars) else pos

    def home(self):
        self.cursor = 0

    def end(self):
        self.cursor = len(self.chars)

    def backspace(self):
        start = self._before(self.cursor)
        del self.chars[start:self.cursor]
        self.cursor = start

    def delete(self):
        del self.chars[self.cursor:self._after(self.cursor)]

    def kill_before(self):          # Ctrl-U
        self._kill(0, self.cursor)

    def kill_after(self):           # Ctrl-K
        self._kill(self.cursor, len(self.chars))

    def kill_word(self):            # Ctrl-W: the word before the cursor and the spaces after it
        start = self.cursor         # (words split at spaces only, as in readline and irssi)
        while start > 0 and self.chars[start - 1] == " ":
            start -= 1
        while start > 0 and self.chars[start - 1] != " ":
            start -= 1
        self._kill(start, self.cursor)

    def kill_word_after(self):      # Alt-d: to the end of the word after the cursor
        self._kill(self.cursor, self._word_end(self.cursor))

    def kill_word_before(self):     # Alt-Backspace: to the start of the word before it
        self._kill(self._word_start(self.cursor), self.cursor)

    def _kill(self, start: int, end: int) -> None:
        """Delete chars[start:end] into the kill ring. Kills in a row make one entry (as
        in readline): Ctrl-W Ctrl-W then Ctrl-Y gives both words back."""
        if start >= end:
            return
        text = "".join(self.chars[start:end])
        if self._last in _KILL_KEYS and self._kills:
            # Killed before the cursor: it goes in front of what was killed last.
            joined = text + self._kills[-1] if end == self.cursor else self._kills[-1] + text
            self._kills[-1] = joined
        else:
            self._kills.append(text)
            del self._kills[:-KILL_RING_SIZE]
        del self.chars[start:end]
        self.cursor = start

    def yank(self):                 # Ctrl-Y: the last killed text, at the cursor
        if not self._kills:
            return
        start = self.cursor
        if self.insert(self._kills[-1]):
            self._yanked = (start, self.cursor, len(self._kills) - 1)

    def yank_pop(self):             # Alt-y right after Ctrl-Y: the text killed before it
        if self._yanked is None:
            return
        start, end, index = self._yanked
        index = (index - 1) % len(self._kills)
        text = self._kills[index]
        old = self.chars[start:end]
        self.chars[start:end] = []
        self.cursor = start
        if not self.insert(text):          # too long for the line: leave the first yank
            self.chars[start:start] = old
            self.cursor = end
            text, index = "".join(old), self._yanked[2]
        self._yanked = (start, start + len(text), index)

    # ---------------------------------------------------------------- words

    def word_left(self):            # Alt-b, Ctrl-Left
        self.cursor = self._word_start(self.cursor)

    def word_right(self):           # Alt-f, Ctrl-Right
        self.cursor = self._word_end(self.cursor)

    def _word_end(self, pos: int) -> int:
        """Past the separators after `pos`, then past the word there (see _word_class)."""
        chars = self.chars
        while pos < len(chars) and self._class_at(pos) == _SEPARATOR:
            pos += 1
        if pos < len(chars):
            kind = self._class_at(pos)
            while pos < len(chars) and self._class_at(pos) == kind:
                pos += 1
        return pos

    def _word_start(self, pos: int) -> int:
        """Back over the separators before `pos`, then to the start of the word there."""
        while pos > 0 and self._class_at(pos - 1) == _SEPARATOR:
            pos -= 1
        if pos > 0:
            kind = self._class_at(pos - 1)
            while pos > 0 and self._class_at(pos - 1) == kind:
                pos -= 1
        return pos

    def _class_at(self, index: int) -> int:
        """The word class of chars[index]; a combining mark takes its base's class."""
        while index > 0 and unicodedata.category(self.chars[index])[0] == "M":
            index -= 1
        return _word_class(self.chars[index])

    # ---------------------------------------------------------------- history

    def submit(self) -> str:
        """The line, now remembered in history; the editor is left empty."""
        line = self.text
        if line.strip() and (not self._history or self._history[-1] != line):
            self._history.append(line)
            del self._history[:-self._history_size]
        self.chars, self.cursor, self._hscroll = [], 0, 0
        self._browse, self._completion = None, None
        self._last, self._yanked = "", None
        return line

    def history_prev(self):
        if not self._history or self._browse == 0:
            return
        if self._browse is None:
            self._draft = self.text
            self._browse = len(self._history)
        self._browse -= 1
        self.set_text(self._history[self._browse])

    def history_next(self):
        if self._browse is None:
            return
        self._browse += 1
        if self._browse >= len(self._history):
            self._browse = None
            self.set_text(self._draft)
        else:
            self.set_text(self._history[self._browse])

    # ---------------------------------------------------------------- completion

    def complete(self, names: Sequence[str]) -> None:
        """Tab: complete the word before the cursor from `names` (in their order:
        the most recent speakers first); Tab again cycles through the matches."""
        if self._completion is None:
            start = self.cursor
            while start > 0 and self.chars[start - 1] != " ":
                start -= 1
            prefix = "".join(self.chars[start:self.cursor]).casefold()
            if not prefix:
                return
            matches = [n for n in names if n.casefold().startswith(prefix)]
            if not matches:
                return
            self._completion = (start, self.cursor, matches, -1)
        start, end, matches, index = self._completion
        index = (index + 1) % len(matches)
        # At the start of a line a name is an address ("张三: "); elsewhere, and for a
        # command ("/kick"), just a word.
        match = matches[index]
        word = match + (": " if start == 0 and not match.startswith("/") else " ")
        self.chars[start:end] = list(word)
        self.cursor = start + len(word)
        self._completion = (start, self.cursor, matches, index)

    # ---------------------------------------------------------------- display

    def view(self, width: int) -> Tuple[str, int]:
        """(the visible part of the line, the cursor's column in it) for `width` columns.
        Scrolls only as far as needed to keep the cursor in columns 0..width-1, a
        whole cluster at a time; line breaks are shown as NEWLINE_MARK."""
        room = max(1, width - 1)         # columns for text left of the cursor
        cells = _cells(self.text)        # (start, shown text, columns) per cluster
        at = next((k for k, cell in enumerate(cells) if cell[0] >= self.cursor), len(cells))
        first = next((k for k, cell in enumerate(cells) if cell[0] >= self._hscroll), len(cells))
        first = min(first, at)
        left = sum(cell[2] for cell in cells[first:at])
        while left > room:
            left -= cells[first][2]
            first += 1
        # Use free space on the left when text was deleted (e.g. after Ctrl-U).
        tail = sum(cell[2] for cell in cells[first:])
        while first > 0 and tail + cells[first - 1][2] <= room:
            tail += cells[first - 1][2]
            left += cells[first - 1][2]
            first -= 1
        self._hscroll = cells[first][0] if first < len(cells) else len(self.chars)
        shown, used = [], 0
        for _, text, columns in cells[first:]:
            if used + columns > room:
                break
            shown.append(text)
            used += columns
        return "".join(shown), left


def _cells(text: str) -> List[Tuple[int, str, int]]:
    """(start, what is drawn, its columns) for each cluster of the input line."""
    cells = []
    pos = 0
    while pos < len(text):
        end = cluster_end(text, pos)
        shown = NEWLINE_MARK if text[pos] == "\n" else text[pos:end]
        cells.append((pos, shown, text_width(shown)))
        pos = end
    return cells


KEYS: Dict[str, Callable[..., None]] = {
    "left": LineEditor.left, "^B": LineEditor.left,
    "right": LineEditor.right, "^F": LineEditor.right,
    "home": LineEditor.home, "^A": LineEditor.home,
    "end": LineEditor.end, "^E": LineEditor.end,
    "backspace": LineEditor.backspace,
    "delete": LineEditor.delete,
    "^U": LineEditor.kill_before,
    "^K": LineEditor.kill_after,
    "^W": LineEditor.kill_word,
    "M-d": LineEditor.kill_word_after,
    "M-backspace": LineEditor.kill_word_before,
    "^Y": LineEditor.yank,
    "M-y": LineEditor.yank_pop,
    "M-b": LineEditor.word_left, "ctrl-left": LineEditor.word_left,
    "M-f": LineEditor.word_right, "ctrl-right": LineEditor.word_right,
    "up": LineEditor.history_prev,
    "down": LineEditor.history_next,
    "tab": LineEditor.complete,
}

_KILL_KEYS = ("^U", "^K", "^W", "M-d", "M-backspace")


def paste_text(paste: str) -> str:
    """A bracketed paste as the input line takes it: made safe with its line breaks
    (as LF) and indentation kept, tabs expanded to spaces (what is seen is what is
    sent), the line breaks at its end dropped."""
    return expand_tabs(sanitize_lines(paste)).rstrip("\n")


def one_line(paste: str) -> str:
    """A multi-line paste as one line: its lines joined with spaces (the admin
    console, whose announcements are one line)."""
    lines = paste.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    return sanitize_text(" ".join(line.rstrip() for line in lines))
