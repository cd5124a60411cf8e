"""The input line: a buffer of code points and a cursor. Pure: no terminal here.

Keys arrive as names ("left", "^W", ...; see KEYS) from the front end's key
decoder; text arrives as str (one typed character, an IME commit, or a paste).
view(width) gives what to draw: horizontal scrolling by display width, keeping
the last column free so the cursor can sit after the last character (the
bottom-right cell of a terminal cannot be written without scrolling it).
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from app.core.text import sanitize_text
from app.ui.width import char_width

HISTORY_SIZE = 100


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
        return True

    def handle(self, key: str, names: Sequence[str] = ()) -> bool:
        """Apply a named key; False if the editor has no use for it.
        `names` are Tab's candidates, the most wanted first."""
        action = KEYS.get(key)
        if action is None:
            return False
        if key != "tab":
            self._completion = None
        if key == "tab":
            self.complete(names)
        else:
            action(self)
        return True

    def left(self):
        self.cursor = max(0, self.cursor - 1)

    def right(self):
        self.cursor = min(len(self.chars), self.cursor + 1)

    def home(self):
        self.cursor = 0

    def end(self):
        self.cursor = len(self.chars)

    def backspace(self):
        if self.cursor > 0:
            del self.chars[self.cursor - 1]
            self.cursor -= 1

    def delete(self):
        del self.chars[self.cursor:self.cursor + 1]

    def kill_before(self):          # Ctrl-U
        del self.chars[:self.cursor]
        self.cursor = 0

    def kill_after(self):           # Ctrl-K
        del self.chars[self.cursor:]

    def kill_word(self):            # Ctrl-W: the word before the cursor and the spaces after it
        start = self.cursor
        while start > 0 and self.chars[start - 1] == " ":
            start -= 1
        while start > 0 and self.chars[start - 1] != " ":
            start -= 1
        del self.chars[start:self.cursor]
        self.cursor = start

    # ---------------------------------------------------------------- history

    def submit(self) -> str:
        """The line, now remembered in history; the editor is left empty."""
        line = self.text
        if line.strip() and (not self._history or self._history[-1] != line):
            self._history.append(line)
            del self._history[:-self._history_size]
        self.chars, self.cursor, self._hscroll = [], 0, 0
        self._browse, self._completion = None, None
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
        Scrolls only as far as needed to keep the cursor in columns 0..width-1."""
        room = max(1, width - 1)         # columns for text left of the cursor
        chars = self.chars
        self._hscroll = min(self._hscroll, self.cursor)
        left = _width(chars[self._hscroll:self.cursor])
        while left > room:
            left -= max(char_width(chars[self._hscroll]), 0)
            self._hscroll += 1
        # Use free space on the left when text was deleted (e.g. after Ctrl-U).
        tail = _width(chars[self._hscroll:])
        while self._hscroll > 0:
            w = max(char_width(chars[self._hscroll - 1]), 0)
            if tail + w > room:
                break
            tail += w
            left += w
            self._hscroll -= 1
        shown, used = [], 0
        for ch in self.chars[self._hscroll:]:
            w = max(char_width(ch), 0)
            if used + w > room:
                break
            shown.append(ch)
            used += w
        return "".join(shown), left


def _width(chars: Sequence[str]) -> int:
    return sum(max(char_width(ch), 0) for ch in chars)


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
    "up": LineEditor.history_prev,
    "down": LineEditor.history_next,
    "tab": LineEditor.complete,
}


def one_line(paste: str) -> str:
    """A multi-line paste becomes one message: its lines joined with spaces."""
    lines = paste.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    return sanitize_text(" ".join(line.rstrip() for line in lines))
