"""Text rules shared by client and server: names, terminal-safe text, splitting.

Pure: no IO, no curses, stdlib only. Names are checked by the server (the reason
strings go to the user); sanitize_text runs on every line before it reaches a
terminal. How wide text is on a terminal is the front ends' business
(app/ui/width.py).
"""
import re
import unicodedata
from itertools import chain
from typing import Iterable, List, Match, Optional, Pattern, Tuple

from app.core import protocol

MAX_NAME_CHARS = protocol.MAX_NAME_CHARS   # code points, after NFKC
MAX_MARK_RUN = 2             # combining marks allowed in a row, in names and in text

# "Combining mark" here means the zero-width marks (Mn, Me) that stack in one cell
# and make "zalgo" floods; spacing marks (Mc, e.g. Devanagari vowel signs) advance
# the cursor like letters, so they are not limited.
_MARK_CATEGORIES = frozenset(("Mn", "Me"))


def is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in _MARK_CATEGORIES


# --------------------------------------------------------------------------- names

_RESERVED = ("管理员", "管理員", "admin", "administrator", "server", "system", "root")

# Control, format (bidi overrides, zero-width joiners...), surrogate, private-use,
# unassigned, line and paragraph separators: invisible or unpredictable on screen.
_BAD_NAME_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))

# Letters and marks that draw nothing: Hangul fillers (what NFKC makes of U+3164 and
# U+FFA0), Braille blank, Khmer inherent vowels, the combining grapheme joiner. They
# make a name look empty or identical to another one.
_BLANK_CHARS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5\u034f")

# The room renders "name : text", so a colon (or a look-alike) in a name could fake
# the start of a message: "bob : hi" as a name would read like bob saying "hi".
_COLONS = frozenset(":\u2236\ua789\u0589\u05c3")

# Confusables, applied before casefold: Greek/Cyrillic capitals that look like Latin
# capitals (casefold would turn Greek "Η", which looks like H, into "η").
_CONFUSABLE_UPPER = str.maketrans({
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",          # Greek
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J",  # Cyrillic
})
# ...and after casefold and mark stripping: lowercase look-alikes of Latin letters.
# Digits stay distinct from letters (0/o, 1/l): those are visibly different.
_CONFUSABLE_LOWER = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ү": "y",
    "к": "k",                                                             # Cyrillic
    "ο": "o", "α": "a", "ν": "v", "ρ": "p", "τ": "t", "ι": "i", "κ": "k", "υ": "u",
    "χ": "x", "γ": "y", "η": "n",                                         # Greek
    "ı": "i", "ɡ": "g", "ɑ": "a",                                         # Latin
    "օ": "o", "ս": "u",                                                   # Armenian
})
# Kana voicing marks are clearly visible (か/が), so the skeleton keeps them.
_KEPT_MARKS = frozenset("\u3099\u309a")


def normalize_name(raw: str) -> str:
    """NFKC-normalise and strip surrounding whitespace ("ＡＢＣ " -> "ABC")."""
    # NFKC folds compatibility forms (fullwidth letters, ligatures, U+3000 space) so
    # one visible name has one spelling; strip afterwards because NFKC can turn
    # NBSP or the ideographic space into a plain space.
    return unicodedata.normalize("NFKC", raw).strip()


def name_key(name: str) -> str:
    """The key under which names are unique: NFKC + casefold."""
    # casefold can leave a string that is no longer NFKC, so normalise again
    # (Unicode's NFKC_Casefold idea).
    return unicodedata.normalize("NFKC", normalize_name(name).casefold())


def confusable_key(name: str) -> str:
    """A skeleton under which look-alike names collide ("аdmin" with Cyrillic а -> "admin")."""
    folded = normalize_name(name).translate(_CONFUSABLE_UPPER).casefold()
    # Decompose so accents become separate marks, and drop them: "ádmin" ~ "admin".
    bare = "".join(ch for ch in unicodedata.normalize("NFD", folded)
                   if ch in _KEPT_MARKS or not is_mark(ch))
    return unicodedata.normalize("NFC", bare.translate(_CONFUSABLE_LOWER))


_RESERVED_NAME_KEYS = frozenset(name_key(n) for n in _RESERVED)
_RESERVED_SKELETONS = frozenset(confusable_key(n) for n in _RESERVED)


def check_name(raw: str) -> Tuple[Optional[str], Optional[str]]:
    """Return (normalized_name, None) if the name is acceptable, else (None, reason)."""
    name = normalize_name(raw)
    if not name:                    # also catches whitespace-only names
        return None, "name is empty"
    if len(name) > MAX_NAME_CHARS:
        return None, "name is longer than %d characters" % MAX_NAME_CHARS
    marks = 0                       # combining marks in a row so far
    for i, ch in enumerate(name):
        category = unicodedata.category(ch)
        if category in _BAD_NAME_CATEGORIES or ch in _BLANK_CHARS:
            return None, "name contains control or invisible characters"
        if ch.isspace() and (ch != " " or name[i + 1] == " "):
            # Ends are already stripped, so name[i + 1] exists for a space.
            return None, "name may only contain single spaces between words"
        if ch in _COLONS:
            return None, "name cannot contain ':'"
        if category in _MARK_CATEGORIES:
            if i == 0:
                return None, "name cannot start with a combining mark"
            marks += 1
            if marks > MAX_MARK_RUN:
                return None, "name has too many combining marks in a row"
        else:
            marks = 0
    if name_key(name) in _RESERVED_NAME_KEYS or confusable_key(name) in _RESERVED_SKELETONS:
        return None, "name is reserved"
    return name, None


# ---------------------------------------------------------------------- chat text

def _char_class(code_points: Iterable[int], extra: str = "") -> str:
    """A regex character class matching exactly the given (sorted) code points."""
    ranges: List[List[int]] = []    # [first, last] runs keep the class compact
    for cp in code_points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[%s%s]" % ("".join("\\U%08x-\\U%08x" % (a, b) for a, b in ranges), extra)


def _build_sanitize_patterns() -> Tuple[Pattern[str], Pattern[str], Pattern[str]]:
    """Regexes: characters to drop, characters to blank, runs that may hold a mark flood."""
    # C0 controls (ESC among them), DEL, C1 controls.
    drop = set(range(0x00, 0x20)) | set(range(0x7F, 0xA0))
    # A chat line is one line: tab, newlines and line/paragraph separators become spaces.
    blank = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x2028, 0x2029}
    # Lone surrogates can come from decode errors (surrogateescape) and break encoders.
    drop |= set(range(0xD800, 0xE000))
    # Bidi controls reorder the rest of the screen line; zero-width characters hide
    # text. Both are Cf and also caught by the scan below; listed to say so.
    # Dropping ZWJ breaks emoji ZWJ sequences (family, profession emoji) into their
    # parts, which is acceptable: ncurses gives each part its own cells anyway.
    drop |= set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}
    drop |= set(range(0x200B, 0x200E)) | {0x2060, 0xFEFF}
    # Every other format character (soft hyphen, tags, ...) and the BMP marks come
    # from this Python's Unicode database. Planes 0, 1 and 14 hold all Cf; planes
    # 2-13 are CJK ideographs or unassigned, 15-16 private use. Takes ~15 ms.
    bmp_marks = []
    for cp in chain(range(0x20000), range(0xE0000, 0xE1000)):
        category = unicodedata.category(chr(cp))
        if category == "Cf":
            drop.add(cp)
        elif category in _MARK_CATEGORIES and cp < 0x10000:
            bmp_marks.append(cp)
    # Runs of 3+ characters that are BMP marks or anything astral: a superset of mark
    # floods that the regex engine scans with a bitmap (a class holding all astral
    # marks would be a slow range list); _limit_marks then checks each run exactly.
    maybe_marks = _char_class(bmp_marks, "\\U00010000-\\U0010ffff")
    return (re.compile(_char_class(sorted(drop - blank)) + "+"),
            re.compile(_char_class(sorted(blank))),
            re.compile("%s{%d,}" % (maybe_marks, MAX_MARK_RUN + 1)))


_DROP, _BLANK, _MAYBE_MARK_FLOOD = _build_sanitize_patterns()


def _limit_marks(match: Match[str]) -> str:
    """Keep at most MAX_MARK_RUN combining marks in a row within a matched run."""
    kept, run = [], 0
    for ch in match.group():
        run = run + 1 if is_mark(ch) else 0
        if run <= MAX_MARK_RUN:
            kept.append(ch)
    return "".join(kept)


def sanitize_text(text: str) -> str:
    """Make untrusted text safe for a terminal, as one line (idempotent)."""
    if text.isascii() and text.isprintable():
        return text                 # the common case: nothing to do
    # Regex classes rather than str.translate: ~3x faster on 1000-character lines.
    # Dropping ESC with all other controls leaves the rest of an escape sequence
    # ("[31m") as harmless visible text. CRLF first, so it becomes one space.
    text = _BLANK.sub(" ", text.replace("\r\n", "\n"))
    text = _DROP.sub("", text)
    return _MAYBE_MARK_FLOOD.sub(_limit_marks, text)


# ------------------------------------------------------------- splitting messages

def _utf8_char_at(data: bytes, k: int) -> str:
    lead = data[k]
    size = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    return data[k:k + size].decode("utf-8", "surrogatepass")


def _mark_at(data: bytes, k: int) -> bool:
    return k < len(data) and data[k] >= 0x80 and is_mark(_utf8_char_at(data, k))


def split_utf8(text: str, max_bytes: int) -> List[str]:
    """Split text into pieces of at most max_bytes UTF-8 bytes; ''.join(pieces) == text.

    Cuts at character boundaries, preferring just after a space in the last fifth
    of a piece (the space ends the earlier piece), else before a base character
    rather than between it and its marks (unless that would leave the piece less
    than half full). Text that fits is one piece ("" -> [""]).
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must be at least 4 (the longest UTF-8 character)")
    # surrogatepass: a lone surrogate is still a character, never dropped here.
    data = text.encode("utf-8", "surrogatepass")
    pieces = []
    pos = 0
    while len(data) - pos > max_bytes:
        cut = pos + max_bytes
        while data[cut] & 0xC0 == 0x80:     # continuation byte: inside a character
            cut -= 1
        space = data.rfind(b" ", pos + max_bytes - max_bytes // 5, cut)
        if space >= 0 and not _mark_at(data, space + 1):
            cut = space + 1
        else:
            base = cut
            while base > pos and _mark_at(data, base):
                base -= 1
                while data[base] & 0xC0 == 0x80:
                    base -= 1
            if base > pos + max_bytes // 2:  # else a mark flood: keep pieces half full
                cut = base
        pieces.append(data[pos:cut].decode("utf-8", "surrogatepass"))
        pos = cut
    pieces.append(data[pos:].decode("utf-8", "surrogatepass"))
    return pieces
