"""Text rules shared by client and server: names, terminal-safe text, splitting.

Pure: no IO, no curses, stdlib only. Names are checked by the server and by the
client before it asks (the reason is a NameProblem the front end words);
sanitize_text runs on every one-line string (names, reasons) and
sanitize_message on every message's text before it reaches a terminal: a
message keeps its line breaks, its indentation and its tabs. How wide text is
on a terminal is the front ends' business (app/ui/width.py).
"""
import enum
import functools
import re
import unicodedata
from itertools import chain
from typing import Dict, FrozenSet, Iterable, List, Match, Optional, Pattern, Tuple

from app.core import protocol

MAX_NAME_CHARS = protocol.MAX_NAME_CHARS   # code points, after NFKC
MAX_MARK_RUN = 2             # combining marks allowed in a row, in names and in text
MAX_MESSAGE_LINES = 24       # lines in one message: a screenful (PROTOCOL.md 11.2)
MAX_BLANK_LINES = 2          # blank lines in a row inside a message (code has two)

# "Combining mark" here means the zero-width marks (Mn, Me) that stack in one cell
# and make "zalgo" floods; spacing marks (Mc, e.g. Devanagari vowel signs) advance
# the cursor like letters, so they are not limited.
_MARK_CATEGORIES = frozenset(("Mn", "Me"))


def is_mark(ch: str) -> bool:
    return unicodedata.category(ch) in _MARK_CATEGORIES


# --------------------------------------------------------------------------- names
#
# The rules, and why (docs/SECURITY.md "Names" has the whole story):
# - one spelling per visible name: NFKC, surrounding whitespace stripped;
# - unique case-blind (name_key: NFKC + casefold);
# - no whitespace at all, so every command that takes a name ends it at the
#   first whitespace (split_name) and can address every name;
# - nothing invisible or unpredictable on a terminal; at most MAX_MARK_RUN
#   combining marks in a row; the first character a letter or a digit, so a
#   name cannot start a line that looks like a notice ("-- ...", "* ...");
# - nothing that looks like ':' (a name could fake "bob : hi"), no IP address
#   (/ban and /unban take a name or an address);
# - not the admin's label or the system's, nor a look-alike of them, nor one
#   that begins like them ("管理员消息" would fake an announcement);
# - not a look-alike of someone in the room (the hub asks looks_alike).
# Look-alikes come from Unicode's data (UTS #39 skeletons, confusables.txt in
# app/core/confusables_data.py), not from lists written here.


class NameProblem(enum.Enum):
    """Why check_name refused a name. The value is the server's English detail
    (the REFUSE reason on the wire); each front end words it (app/ui/render.py
    NAME_PROBLEM_WORDS)."""

    EMPTY = "name is empty"
    TOO_LONG = "name is longer than %d characters" % MAX_NAME_CHARS
    INVISIBLE = "name contains control or invisible characters"
    SPACE = "name cannot contain spaces"
    FIRST = "name must start with a letter or a digit"
    MARKS = "name has too many combining marks in a row"
    COLON = "name cannot contain ':'"
    ADDRESS = "name cannot be an IP address"
    RESERVED = "name is reserved"

    @classmethod
    def from_detail(cls, detail: str) -> Optional["NameProblem"]:
        """The problem a REFUSE reason names, or None for any other text."""
        return _PROBLEM_BY_DETAIL.get(detail)


_PROBLEM_BY_DETAIL = {problem.value: problem for problem in NameProblem}

# Control, format (bidi overrides, zero-width joiners...), surrogate, private-use,
# unassigned, line and paragraph separators: invisible or unpredictable on screen.
_BAD_NAME_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))

# Letters and marks that draw nothing: Hangul fillers (what NFKC makes of U+3164 and
# U+FFA0), Braille blank, Khmer inherent vowels, the combining grapheme joiner. They
# make a name look empty or identical to another one.
_BLANK_CHARS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5\u034f")

# The admin's label and the system's, in the languages the room speaks (the
# announcement line is "管理员消息: ..." or "Admin message: ..."). Any name whose
# letters begin with one of these, or with a look-alike, is reserved: "admin.",
# "adrnin", "Ꭺdmin", "a.d.m.i.n", "管理员消息", "系统通知", "server1".
_RESERVED_PREFIXES = ("管理员", "管理員", "系统", "系統", "admin", "server", "system",
                      # a student must not pass for the teacher either; a teacher who
                      # joins from a lab machine is "王老师" (only the start counts)
                      "老师", "老師", "教师", "教師", "teacher")
# Reserved only as the whole name (and its look-alikes): "rootbeer" is a name.
_RESERVED_NAMES = ("root",)

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


def split_name(rest: str) -> Tuple[str, str]:
    """'NAME more text' -> ('NAME', 'more text'): the one way every command reads
    a name. A name has no whitespace (check_name), so it ends at the first."""
    parts = rest.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


_skeleton_table: Optional[Dict[int, Optional[str]]] = None


def _skeleton_map() -> Dict[int, Optional[str]]:
    """The translate table of skeleton: a combining mark to nothing, a look-alike
    to its prototype. Made once, the first time a name is checked (~2 ms), from
    the bundled table and this Python's marks (the sanitize scan's)."""
    global _skeleton_table
    if _skeleton_table is None:
        from app.core.confusables_data import TABLE

        table: Dict[int, Optional[str]] = {cp: None for cp in _ALL_MARKS
                                           if chr(cp) not in _KEPT_MARKS}
        for row in TABLE.splitlines():
            target, _, sources = row.partition(":")
            prototype = "".join(chr(int(cp, 16)) for cp in target.split())
            for cp in sources.split():
                table[int(cp, 16)] = prototype
        _skeleton_table = table
    return _skeleton_table


def skeleton(text: str) -> str:
    """UTS #39's skeleton (NFD, each character to its prototype, NFD), with the
    combining marks dropped (kana voicing marks kept): two strings with the same
    skeleton look alike. Accents are dropped because on a terminal "Zoë" and
    "Zoe" are easy to take for each other; the table was trimmed to match
    (tools/gen_confusables.py: its prototypes carry no marks). Not for display."""
    return unicodedata.normalize(
        "NFD", unicodedata.normalize("NFD", text).translate(_skeleton_map()))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text.casefold())


@functools.lru_cache(maxsize=1024)   # the hub asks up to three times per join
def lookalike_keys(name: str) -> FrozenSet[str]:
    """The keys under which `name` may look like another name: two names look
    alike when their key sets meet (looks_alike).

    Skeletons are case-sensitive ("0" looks like "O", "I" like "l") but names are
    unique case-blind, so a name is looked at as written and as case-folded (the
    same name, name_key), and each skeleton is case-folded and taken again (the
    prototype "A" of Cherokee "Ꭺ" is the name "a"). So "aIice" (capital I), "Ꭺlice",
    "ꓮlice" and "ᴀlice" all look like "alice", "ADMIN" like "adrnin"."""
    written = normalize_name(name)
    return frozenset(_fold(skeleton(_fold(skeleton(form))))
                     for form in {written, _fold(written)})


def looks_alike(a: str, b: str) -> bool:
    return not lookalike_keys(a).isdisjoint(lookalike_keys(b))


def _letters(name: str) -> str:
    """Only the letters and digits of a name ("a.d-min_" -> "admin"), for the
    reserved check: punctuation in or around a reserved word still shows it."""
    return "".join(ch for ch in name if unicodedata.category(ch)[0] in "LN")


def _keys_of(words: Iterable[str]) -> FrozenSet[str]:
    return frozenset(key for word in words for key in lookalike_keys(word))


@functools.lru_cache(maxsize=None)
def _reserved_keys() -> Tuple[FrozenSet[str], Tuple[str, ...]]:
    """(keys of the reserved names, keys of the reserved prefixes), made on first use."""
    return _keys_of(_RESERVED_NAMES), tuple(sorted(_keys_of(_RESERVED_PREFIXES)))


def is_reserved(name: str) -> bool:
    """The admin's or the system's name, or one that begins like it, or a look-alike
    of either, punctuation and symbols aside."""
    names, prefixes = _reserved_keys()
    keys = lookalike_keys(_letters(name))
    return not keys.isdisjoint(names) or any(key.startswith(prefixes) for key in keys)


def _is_address(name: str) -> bool:
    if name.strip("0123456789."):  # an IPv6 address has ':', refused already
        return False
    import ipaddress                # here: the client rarely needs it

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def check_name(raw: str) -> Tuple[Optional[str], Optional[NameProblem]]:
    """Return (normalized_name, None) if the name is acceptable, else (None, why)."""
    name = normalize_name(raw)
    if not name:                    # also catches whitespace-only names
        return None, NameProblem.EMPTY
    if len(name) > MAX_NAME_CHARS:
        return None, NameProblem.TOO_LONG
    marks = 0                       # combining marks in a row so far
    for ch in name:
        category = unicodedata.category(ch)
        if category in _BAD_NAME_CATEGORIES or ch in _BLANK_CHARS:
            return None, NameProblem.INVISIBLE
        if ch.isspace():            # the same whitespace str.split splits at
            return None, NameProblem.SPACE
        if category in _MARK_CATEGORIES:
            marks += 1
            if marks > MAX_MARK_RUN:
                return None, NameProblem.MARKS
        else:
            marks = 0
    if unicodedata.category(name[0])[0] not in "LN":
        return None, NameProblem.FIRST
    if ":" in skeleton(name):       # ':' and whatever Unicode says looks like it
        return None, NameProblem.COLON
    if _is_address(name):
        return None, NameProblem.ADDRESS
    if is_reserved(name):
        return None, NameProblem.RESERVED
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


_ALL_MARKS: List[int] = []         # filled by _build_sanitize_patterns, at import


def _build_sanitize_patterns() -> Tuple[Pattern[str], Pattern[str], Pattern[str]]:
    """Regexes: characters to drop, characters to blank, runs that may hold a mark flood."""
    # C0 controls (ESC among them), DEL, C1 controls.
    drop = set(range(0x00, 0x20)) | set(range(0x7F, 0xA0))
    # A one-line text: tab, newlines and line/paragraph separators become spaces
    # (sanitize_message keeps LF and TAB and turns the other breaks into LF first).
    blank = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x2028, 0x2029}
    # Lone surrogates can come from decode errors (surrogateescape) and break encoders.
    drop |= set(range(0xD800, 0xE000))
    # Bidi controls reorder the rest of the screen line; zero-width characters hide
    # text. Both are Cf and also caught by the scan below; listed to say so. The
    # zero-width joiner is dropped here too; _join_emoji puts back the ones that
    # join two emoji (a family, a profession), where it hides nothing.
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
        elif category in _MARK_CATEGORIES:
            _ALL_MARKS.append(cp)   # every mark: the names' skeleton drops them
            if cp < 0x10000:
                bmp_marks.append(cp)
    # Runs of 3+ characters that are BMP marks or anything astral: a superset of mark
    # floods that the regex engine scans with a bitmap (a class holding all astral
    # marks would be a slow range list); _limit_marks then checks each run exactly.
    maybe_marks = _char_class(bmp_marks, "\\U00010000-\\U0010ffff")
    return (re.compile(_char_class(sorted(drop - blank)) + "+"),
            re.compile(_char_class(sorted(blank))),
            re.compile("%s{%d,}" % (maybe_marks, MAX_MARK_RUN + 1)))


_DROP, _BLANK, _MAYBE_MARK_FLOOD = _build_sanitize_patterns()
_LINE_BREAK = re.compile("\r\n?|[\u2028\u2029]")   # every line break but LF: made LF
_OTHER_BLANK = re.compile("[\x0b\x0c]")            # VT, FF: a space in a message too

# Emoji, as far as joining them goes: the blocks that hold Unicode's
# Extended_Pictographic characters (the stdlib has no such property), and what may
# stand between an emoji and the joiner after it (VS16, skin tones).
_EMOJI_CLASS = ("[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u2300-\u23ff"
                "\u25aa-\u27bf\u2934\u2935\u2b00-\u2bff\u3030\u303d\u3297\u3299"
                "\U0001f000-\U0001faff%s]")
_PICTOGRAPHIC = re.compile(_EMOJI_CLASS % "")
_ZWJ_SEQUENCE = re.compile("(?<=%s)\u200d(?=%s)" % (_EMOJI_CLASS % "\ufe0f", _EMOJI_CLASS % ""))
_ZWJ_MARK = "\ue000"    # private use: stands for a kept joiner while the rest is dropped


def is_pictographic(ch: str) -> bool:
    """True for an emoji-like symbol (what a zero-width joiner may join; UAX #29 GB11)."""
    return _PICTOGRAPHIC.match(ch) is not None


def _limit_marks(match: Match[str]) -> str:
    """Keep at most MAX_MARK_RUN combining marks in a row within a matched run."""
    kept, run = [], 0
    for ch in match.group():
        run = run + 1 if is_mark(ch) else 0
        if run <= MAX_MARK_RUN:
            kept.append(ch)
    return "".join(kept)


def _clean(text: str, blank: Pattern[str]) -> str:
    """Blank `blank`, drop controls and invisibles (keeping the joiners of emoji
    sequences), limit mark runs."""
    text = blank.sub(" ", text)
    # A joiner is kept only between two emoji (a skin tone's modifier and VS16 are
    # part of the emoji before it: 👩🏽‍💻 is 👩 🏽 ZWJ 💻): between letters it is
    # one of the zero-width characters that hide or split words (UTS #39, TR36).
    # A private-use character stands for each kept joiner while _DROP runs.
    joined = "\u200d" in text
    if joined:
        text = _ZWJ_SEQUENCE.sub(_ZWJ_MARK, text.replace(_ZWJ_MARK, ""))
    text = _MAYBE_MARK_FLOOD.sub(_limit_marks, _DROP.sub("", text))
    return text.replace(_ZWJ_MARK, "\u200d") if joined else text


def sanitize_text(text: str) -> str:
    """Make untrusted text safe for a terminal, as one line (idempotent)."""
    if text.isascii() and text.isprintable():
        return text                 # the common case: nothing to do
    # Regex classes rather than str.translate: ~3x faster on 1000-character lines.
    # Dropping ESC with all other controls leaves the rest of an escape sequence
    # ("[31m") as harmless visible text. CRLF first, so it becomes one space.
    return _clean(text.replace("\r\n", "\n"), _BLANK)


def sanitize_lines(text: str) -> str:
    """Make untrusted text safe for a terminal, keeping its line breaks and tabs
    (idempotent): every line break (CR LF, CR, U+2028, U+2029) becomes LF; LF and
    TAB stay (a front end expands TAB); VT and FF become spaces; everything else
    sanitize_text removes is removed."""
    if text.isascii() and text.isprintable():
        return text
    return _clean(_LINE_BREAK.sub("\n", text), _OTHER_BLANK)


def sanitize_message(text: str) -> str:
    """A message's text made safe for a terminal, keeping its shape (idempotent).

    sanitize_lines, then the shape is tidied: trailing spaces of each line and
    blank lines at the ends go, at most MAX_BLANK_LINES blank lines in a row stay,
    lines past MAX_MESSAGE_LINES are joined with spaces to the last one (a message
    cannot be taller than a screen), and a message of one line is stripped of the
    spaces around it. Indentation is kept. "" when nothing visible is left.
    """
    if text.isascii() and text.isprintable():
        return text.strip()         # one line: the common case
    kept: List[str] = []
    blanks = 0
    for line in sanitize_lines(text).split("\n"):
        line = line.rstrip()
        blanks = blanks + 1 if not line else 0
        if blanks <= MAX_BLANK_LINES and (line or kept):
            kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    if len(kept) > MAX_MESSAGE_LINES:
        rest = [line.strip() for line in kept[MAX_MESSAGE_LINES - 1:]]
        kept[MAX_MESSAGE_LINES - 1:] = [" ".join(part for part in rest if part)]
    if len(kept) == 1:
        return kept[0].strip()
    return "\n".join(kept)


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


def split_message(text: str, max_bytes: int, max_lines: int = MAX_MESSAGE_LINES) -> List[str]:
    """Split a message into messages of at most max_bytes UTF-8 bytes and max_lines
    lines, cutting at line breaks: whole lines are packed into each piece, and a
    line too long for one piece is cut by split_utf8 (its pieces are messages of
    their own). The line breaks between pieces are the cuts, so
    "\\n".join(pieces) == text when no line had to be cut. Text that fits is one
    piece ("" -> [""])."""
    if "\n" not in text:
        return split_utf8(text, max_bytes)
    pieces: List[str] = []
    lines: List[str] = []           # the piece being packed
    size = 0                        # its bytes, line breaks included
    for line in text.split("\n"):
        length = len(line.encode("utf-8", "surrogatepass"))
        if lines and (size + 1 + length > max_bytes or len(lines) >= max_lines):
            pieces.append("\n".join(lines))
            lines, size = [], 0
        if length > max_bytes:
            cut = split_utf8(line, max_bytes)
            pieces.extend(cut[:-1])
            line, length = cut[-1], len(cut[-1].encode("utf-8", "surrogatepass"))
        size += length + (1 if lines else 0)
        lines.append(line)
    pieces.append("\n".join(lines))
    return pieces
