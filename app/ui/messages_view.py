"""The message pane's model: scrollback, wrapping, paging. Pure.

Lines are lists of (text, style) segments (see render.py). They are wrapped by
display width (text.wrap), never splitting a wide character, and only when shown:
a resize re-wraps lazily, so 5000 lines of scrollback cost nothing until paged
through. A line break inside a line (a multi-line message) starts a new row,
indented to where the message's text began (after `name : `).

The scroll position is an anchor on a line, not a row count from the bottom:
new lines arriving below, old ones dropping off the top, and re-wrapping after a
resize all leave the view where the reader put it (weechat #338 is the bug this
avoids).
"""
from collections import deque
from typing import Callable, List, Optional, Sequence, Tuple

from app.ui.width import text_width, wrap

Segment = Tuple[str, str]
Row = List[Segment]

CAPACITY = 5000
CONTINUATION_MIN = 2            # a message's later lines' indent when `name : ` is too wide


def wrap_segments(line: Sequence[Segment], width: int) -> List[Row]:
    """Rows of at most `width` columns, as text.wrap breaks the line's text (at a
    space when that keeps a row two thirds full, never inside a wide character),
    each row keeping the styles of the characters it holds.

    A line break in the text ends a row; the rows after it are indented by the
    width of the segments before the one holding the first break (the time and
    `name : `), so a pasted block stays a block under its first line. When that
    indent would take more than half the pane, it is CONTINUATION_MIN columns."""
    plain = "".join(text for text, _ in line)
    if "\n" not in plain:
        return _wrap_range(line, plain, 0, len(plain), width)
    first_break = plain.index("\n")
    offset = 0
    for text, _ in line:
        if offset + len(text) > first_break:
            break
        offset += len(text)
    indent = text_width(plain[:offset])
    if indent > width // 2:
        indent = min(CONTINUATION_MIN, width // 2)
    pad: Row = [(" " * indent, "")] if indent else []
    rows = _wrap_range(line, plain, 0, first_break, width)
    start = first_break + 1
    while start <= len(plain):
        end = plain.find("\n", start)
        end = len(plain) if end < 0 else end
        rows += [pad + row for row in _wrap_range(line, plain, start, end, width - indent)]
        start = end + 1
    return rows


def _wrap_range(line: Sequence[Segment], plain: str, start: int, end: int,
                width: int) -> List[Row]:
    """The rows of plain[start:end] (no line break inside) at `width`."""
    rows: List[Row] = []
    pos = start
    for piece in wrap(plain[start:end], width):
        # wrap() drops the (breakable) space at each line break; a space it kept
        # (one carrying a combining mark) is part of the next piece.
        if pos > start and plain[pos:pos + 1] == " " and plain.startswith(piece, pos + 1):
            pos += 1
        rows.append(_slice(line, pos, pos + len(piece)))
        pos += len(piece)
    return rows


def _slice(line: Sequence[Segment], start: int, end: int) -> Row:
    """The segments covering characters start..end of the line's text."""
    row: Row = []
    offset = 0
    for text, style in line:
        lo, hi = max(start, offset), min(end, offset + len(text))
        if lo < hi:
            row.append((text[lo - offset:hi - offset], style))
        offset += len(text)
    return row


class _Entry:
    __slots__ = ("segments", "width", "rows", "searchable")

    def __init__(self, segments, searchable: bool = True):
        self.segments = list(segments)
        self.width = 0
        self.rows: List[Row] = []
        self.searchable = searchable


class MessagesView:
    """Scrollback of `capacity` lines shown in a pane of width x height cells.

    `indicator(new_below)` gives the row shown at the bottom while scrolled back;
    `wrap(line, width)` makes a line's rows (wrap_segments unless told).
    """

    def __init__(self, width: int, height: int, capacity: int = CAPACITY,
                 indicator: Optional[Callable[[int], Row]] = None,
                 wrap: Callable[[Sequence[Segment], int], List[Row]] = wrap_segments):
        self._lines: deque = deque(maxlen=capacity)
        self._first = 0                 # absolute number of self._lines[0]
        self._anchor: Optional[Tuple[int, int]] = None   # (line number, row): bottom row shown
        self._arrived = 0               # lines added since scrolling back
        self._indicator = indicator or (lambda n: [("-- %d new below --" % n, "indicator")])
        self._wrap = wrap
        self.width = max(1, width)
        self.height = max(1, height)

    # ---------------------------------------------------------------- input

    def add(self, segments: Sequence[Segment], searchable: bool = True) -> int:
        """A line at the bottom; its number (for `replace`). `searchable` False
        keeps it out of find() (the results of a search, which would otherwise
        match the next search)."""
        if len(self._lines) == self._lines.maxlen:
            self._first += 1
        self._lines.append(_Entry(segments, searchable))
        if self._anchor is not None:
            self._arrived += 1
            self._clamp()
        return self._first + len(self._lines) - 1

    def replace(self, number: int, segments: Sequence[Segment]) -> bool:
        """Put `segments` in place of line `number` (a pending line becoming what
        the room saw); False when that line has left the scrollback."""
        if not self._first <= number < self._first + len(self._lines):
            return False
        self._lines[number - self._first] = _Entry(segments)
        self._clamp()                   # it may wrap into another number of rows
        return True

    def resize(self, width: int, height: int) -> None:
        self.width, self.height = max(1, width), max(1, height)
        self._clamp()

    def page_up(self) -> None:
        if self._anchor is None:
            if self._total_rows_at_least(self.height + 1) <= self.height:
                return          # everything fits: nothing to scroll to
            self._anchor = self._last_row()
        self._anchor = self._move(self._anchor, -self._content_height())
        self._clamp()

    def page_down(self) -> None:
        if self._anchor is None:
            return
        moved = self._move(self._anchor, self._content_height())
        if moved == self._last_row():
            self.follow()
        else:
            self._anchor = moved

    def oldest(self) -> None:
        """To the top of the scrollback (Ctrl-Home): the oldest line at the pane's top."""
        if self._total_rows_at_least(self.height + 1) <= self.height:
            return              # everything fits: nothing to scroll to
        self._anchor = (self._first, 0)
        self._clamp()           # down to a full page below the top

    def clear(self) -> None:
        """Forget every line (/clear)."""
        self._first += len(self._lines)
        self._lines.clear()
        self.follow()

    def find(self, text: str) -> List[Row]:
        """The searchable lines whose text contains `text`, ignoring case (casefold),
        oldest first."""
        wanted = text.casefold()
        return [list(entry.segments) for entry in self._lines if entry.searchable and
                wanted in "".join(part for part, _ in entry.segments).casefold()]

    def follow(self) -> None:
        """Back to the bottom, following new lines."""
        self._anchor = None
        self._arrived = 0

    @property
    def new_below(self) -> int:
        """New lines waiting below the view (those that arrived while scrolled back)."""
        if self._anchor is None:
            return 0
        below = self._first + len(self._lines) - 1 - self._anchor[0]
        return min(self._arrived, below)

    @property
    def scrolled(self) -> bool:
        return self._anchor is not None

    def __len__(self) -> int:
        return len(self._lines)

    # ---------------------------------------------------------------- output

    def rows(self) -> List[Row]:
        """What the pane shows, top to bottom, at most `height` rows."""
        if self._anchor is None:
            rows = self._rows_up_to(self._last_row(), self.height)
            return rows
        rows = self._rows_up_to(self._anchor, self._content_height())
        return rows + [self._indicator(self.new_below)]

    # ---------------------------------------------------------------- internals

    def _content_height(self) -> int:
        return max(1, self.height - 1) if self._anchor is not None else self.height

    def _wrapped(self, number: int) -> List[Row]:
        entry = self._lines[number - self._first]
        if entry.width != self.width:
            entry.rows = self._wrap(entry.segments, self.width)
            entry.width = self.width
        return entry.rows

    def _last_row(self) -> Tuple[int, int]:
        if not self._lines:
            return (self._first - 1, 0)
        last = self._first + len(self._lines) - 1
        return (last, len(self._wrapped(last)) - 1)

    def _rows_up_to(self, anchor: Tuple[int, int], count: int) -> List[Row]:
        """Up to `count` rows ending with the row `anchor`."""
        number, row = anchor
        out: List[List[Row]] = []
        need = count
        while need > 0 and number >= self._first:
            rows = self._wrapped(number)[:row + 1]
            take = rows[-need:]
            out.append(take)
            need -= len(take)
            number -= 1
            row = len(self._wrapped(number)) - 1 if number >= self._first else 0
        return [r for chunk in reversed(out) for r in chunk]

    def _move(self, anchor: Tuple[int, int], delta: int) -> Tuple[int, int]:
        """The anchor `delta` rows further down (negative: up), stopping at the ends."""
        number, row = anchor
        last = self._first + len(self._lines) - 1
        while delta < 0:
            if row + delta >= 0:
                return (number, row + delta)
            if number <= self._first:
                return (number, 0)
            delta += row + 1
            number -= 1
            row = len(self._wrapped(number)) - 1
        while delta > 0:
            size = len(self._wrapped(number))
            if row + delta < size:
                return (number, row + delta)
            if number >= last:
                return (number, size - 1)
            delta -= size - row
            number += 1
            row = 0
        return (number, row)

    def _total_rows_at_least(self, limit: int) -> int:
        """The number of rows, counted only up to `limit` (cheap on a long scrollback)."""
        return len(self._rows_up_to(self._last_row(), limit)) if self._lines else 0

    def _clamp(self) -> None:
        """Keep the anchor on a line that still exists, with a full page above it."""
        if self._anchor is None:
            return
        number, row = self._anchor
        if number < self._first:
            number, row = self._first, 0
        row = min(row, len(self._wrapped(number)) - 1)
        need = self._content_height()
        top = (self._first, 0)
        lowest = self._move(top, need - 1)
        if (number, row) < lowest:
            number, row = lowest
        self._anchor = (number, row)
        if self._anchor == self._last_row():
            self.follow()
