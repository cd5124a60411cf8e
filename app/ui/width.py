"""Display width: how many terminal columns text takes, and wrapping to a width.

These must agree with ncurses, which places cells by glibc's per-code-point
wcwidth (docs/DESIGN.md, "Wide characters"): libc is asked when it answers
usefully under the current locale, else a built-in rule from unicodedata.
"""
import functools
import unicodedata
from typing import List

from app.core.text import is_mark

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


def truncate_to_width(s: str, width: int) -> str:
    """The longest prefix of s that fits in width columns (trailing marks included)."""
    if text_width(s) <= width:
        return s
    used = 0
    for i, ch in enumerate(s):
        used += char_width(ch)
        if used > width:
            return s[:i]
    return s


def _space_break_ok(s: str, i: int) -> bool:
    # A space carrying a combining mark is that mark's base: don't break there.
    return i + 1 >= len(s) or not is_mark(s[i + 1])


def wrap(s: str, width: int) -> List[str]:
    """Wrap one line to lines of at most width columns.

    Never splits a wide character or separates a mark from its base. Breaks at the
    last space when that keeps the line at least two thirds full (like irssi); the
    break space itself is dropped. width < 2 is clamped to 2, so a wide character
    always fits. wrap("", w) == [""].
    """
    width = max(width, 2)
    if text_width(s) <= width:
        return [s]
    min_break_col = width - width // 3
    lines = []
    start = used = 0                # current line is s[start:i], `used` columns wide
    brk = brk_col = -1              # last breakable space in the line, and its column
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        w = char_width(ch)
        if used + w <= width:
            if ch == " " and i > start and _space_break_ok(s, i):
                brk, brk_col = i, used
            used += w
            i += 1
            continue
        # s[i] does not fit: end the line (never empty: s[i] fits on an empty line).
        if ch == " " and _space_break_ok(s, i):
            lines.append(s[start:i])        # break at this very space, dropping it
            start = i = i + 1
        elif brk >= 0 and brk_col >= min_break_col:
            lines.append(s[start:brk])      # break at the last space, dropping it
            start = brk + 1
        else:
            lines.append(s[start:i])        # hard break before s[i]
            start = i
        used = text_width(s[start:i])
        brk = brk_col = -1                  # no breakable space after the old brk
    if start < n:
        lines.append(s[start:])
    return lines
