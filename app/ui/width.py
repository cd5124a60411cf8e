"""Display width: how many terminal columns text takes, and wrapping to a width.

These must agree with ncurses, which places cells by glibc's per-code-point
wcwidth (docs/DESIGN.md, "Wide characters"): libc is asked when it answers
usefully under the current locale, else a built-in rule from unicodedata.

Text is cut only between grapheme clusters (graphemes(): a base character with
its marks, an emoji with its skin tone and the emoji it is joined to, a flag's
two letters), so a wrap, a cursor move or a delete never splits what the eye
sees as one character. A cluster is as wide as ncurses counts it: the sum of its
code points' widths.
"""
import functools
import unicodedata
from typing import List

from app.core.text import is_pictographic

TAB_SIZE = 8                        # columns between tab stops, as terminals have them

_wcwidth = None                     # libc's wcwidth once probed and usable, else False


def _libc_wcwidth():
    """libc's wcwidth, or False when it is missing or useless under the current locale."""
    global _wcwidth
    if _wcwidth is None:
        _wcwidth = False
        try:
            import ctypes
            try:
                fn = ctypes.CDLL(None).wcwidth
            except (OSError, AttributeError):
                fn = ctypes.CDLL("libc.so.6").wcwidth  # find_library would spawn ldconfig
            fn.argtypes = [ctypes.c_wchar]
            fn.restype = ctypes.c_int
            # Under a C/POSIX LC_CTYPE glibc answers -1 for every non-ASCII character.
            # Then use the built-in rule for everything, never a mix of two tables.
            if fn("中") == 2 and fn("a") == 1 and fn("\u0301") == 0:
                _wcwidth = fn
        except (ImportError, OSError, AttributeError):
            pass
    return _wcwidth


def _builtin_width(ch: str) -> int:
    """glibc's rule, approximated from unicodedata when libc cannot be asked."""
    if (unicodedata.category(ch) in ("Mn", "Me", "Cf", "Cc", "Cs")
            or unicodedata.combining(ch)
            or "\u1160" <= ch <= "\u11ff" or "\ud7b0" <= ch <= "\ud7ff"):  # Hangul jamo
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


@functools.lru_cache(maxsize=8192)  # bounded: hostile text can hold any code point
def char_width(ch: str) -> int:
    """Columns ncurses gives one code point: libc wcwidth, else a built-in rule.

    The caller sets locale.setlocale(LC_CTYPE, "") before the first call (Python 3
    already does at startup); libc is probed once then. Characters libc calls
    unprintable (-1: controls, or code points newer than its tables) get the
    built-in rule, which gives 0 for controls and surrogates: sanitize_text
    removes those before display, and 0 keeps sums and wrapping well defined.
    """
    fn = _libc_wcwidth()
    if fn:
        width = fn(ch)
        if width >= 0:
            return width
    return _builtin_width(ch)


def text_width(s: str) -> int:
    """Display columns of a string: the sum of char_width."""
    if s.isascii() and s.isprintable():
        return len(s)
    return sum(map(char_width, s))


def _extends(ch: str) -> bool:
    """True when `ch` belongs to the cluster before it (UAX #29 GB9, GB9a): marks
    (spacing ones too), the zero-width joiner, skin-tone modifiers, Hangul vowel
    and final jamo."""
    return _extends_cached(ch)


@functools.lru_cache(maxsize=4096)  # bounded: hostile text can hold any code point
def _extends_cached(ch: str) -> bool:
    cp = ord(ch)
    return (unicodedata.category(ch) in ("Mn", "Me", "Mc") or cp == 0x200D
            or 0x1F3FB <= cp <= 0x1F3FF or 0x1160 <= cp <= 0x11FF or 0xD7B0 <= cp <= 0xD7FF)


def _regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def cluster_end(s: str, i: int) -> int:
    """The end of the grapheme cluster that starts at s[i] (a simplified UAX #29:
    controls stand alone; two regional indicators make one flag; marks, joiners,
    skin tones and Hangul jamo extend; an emoji after a joiner that follows an
    emoji continues the cluster)."""
    n = len(s)
    first = s[i]
    j = i + 1
    if first < " ":                 # LF, TAB: never part of a cluster
        return j
    if _regional(first) and j < n and _regional(s[j]):
        return j + 1 if j + 1 >= n or not _extends(s[j + 1]) else cluster_end(s, j)
    pictographic = is_pictographic(first)
    while j < n:
        ch = s[j]
        if ch >= " " and _extends(ch):
            j += 1
        elif pictographic and s[j - 1] == "\u200d" and is_pictographic(ch):
            j += 1                  # GB11: emoji ZWJ emoji
        else:
            break
    return j


def cluster_start(s: str, i: int) -> int:
    """The start of the cluster that ends at s[i] (s[:i] ends with a whole cluster);
    0 < i <= len(s)."""
    pos = max(0, i - 1)
    while pos > 0 and (s[pos] >= " " and _extends(s[pos])
                       or s[pos - 1] == "\u200d" or _regional(s[pos])):
        pos -= 1                    # back over what may belong to an earlier base
    while True:                     # then forward, cluster by cluster, to i
        end = cluster_end(s, pos)
        if end >= i:
            return pos
        pos = end


def graphemes(s: str) -> List[str]:
    """s cut into grapheme clusters; "".join(graphemes(s)) == s."""
    out = []
    i, n = 0, len(s)
    while i < n:
        j = cluster_end(s, i)
        out.append(s[i:j])
        i = j
    return out


def expand_tabs(s: str, tab_size: int = TAB_SIZE) -> str:
    """Each TAB as spaces to the next tab stop, counted in display columns from the
    start of its line (a message's lines are separated by LF)."""
    if "\t" not in s:
        return s
    out = []
    for line in s.split("\n"):
        pieces, col = [], 0
        for k, part in enumerate(line.split("\t")):
            if k:
                pad = tab_size - col % tab_size
                pieces.append(" " * pad)
                col += pad
            pieces.append(part)
            col += text_width(part)
        out.append("".join(pieces))
    return "\n".join(out)


def truncate_to_width(s: str, width: int) -> str:
    """The longest prefix of s that fits in width columns, whole clusters only."""
    if text_width(s) <= width:
        return s
    used = 0
    for i, cluster in _positions(s):
        used += text_width(cluster)
        if used > width:
            return s[:i]
    return s


def _positions(s: str):
    """(start, cluster) for each grapheme cluster of s."""
    i, n = 0, len(s)
    while i < n:
        j = cluster_end(s, i)
        yield i, s[i:j]
        i = j


def _units(s: str, width: int):
    """(start, text, columns) for each cluster of s; a cluster wider than `width`
    (an emoji sequence on a tiny terminal) comes as its code points, which fit."""
    for i, cluster in _positions(s):
        w = text_width(cluster)
        if w <= width or len(cluster) == 1:
            yield i, cluster, w
        else:
            for k, ch in enumerate(cluster):
                yield i + k, ch, char_width(ch)


def wrap(s: str, width: int) -> List[str]:
    """Wrap one line to lines of at most width columns.

    Never splits a grapheme cluster (a wide character, a base and its marks, an
    emoji sequence). Breaks at the last space when that keeps the line at least
    two thirds full (like irssi); the break space itself is dropped. width < 2 is
    clamped to 2, so a wide character always fits. wrap("", w) == [""].
    """
    width = max(width, 2)
    if text_width(s) <= width:
        return [s]
    min_break_col = width - width // 3
    lines = []
    start = used = 0                # the current line is s[start:i], `used` columns wide
    brk = brk_col = -1              # last breakable space in the line, and its column
    units = list(_units(s, width))
    k = 0
    while k < len(units):
        i, unit, w = units[k]
        if used + w <= width:
            if unit == " " and i > start:
                brk, brk_col = i, used
            used += w
            k += 1
            continue
        # The unit does not fit: end the line (never empty: a unit fits an empty line).
        if unit == " ":
            lines.append(s[start:i])        # break at this very space, dropping it
            start = i + 1
            k += 1
        elif brk >= 0 and brk_col >= min_break_col:
            lines.append(s[start:brk])      # break at the last space, dropping it
            start = brk + 1
        else:
            lines.append(s[start:i])        # hard break before the unit
            start = i
        used = text_width(s[start:i]) if start <= i else 0
        brk = brk_col = -1                  # no breakable space after the old brk
    if start < len(s):
        lines.append(s[start:])
    return lines
