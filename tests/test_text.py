"""app.core.text: terminal-safe text, display widths, wrapping and splitting (the name
rules: tests/test_names.py)."""
import functools
import locale
import pathlib
import subprocess
import sys
import timeit
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.core import protocol, text
from app.core.text import sanitize_text, split_utf8
from app.ui import width as display_width
from app.ui.width import char_width, text_width, truncate_to_width, wrap
from tests import pythons

FORBIDDEN_IN_TEXT = {"Cc", "Cf", "Cs", "Zl", "Zp"}
EMOJI_ZWJ = "\u200d"             # allowed between two emoji only

# Any code point, surrogates included, with extra weight on the troublesome ones.
any_char = st.characters(min_codepoint=0, max_codepoint=sys.maxunicode)
tricky_char = st.one_of(
    any_char,
    st.sampled_from("\x00\x1b\t\n\r\x7f\x85\x9b\u00ad\u061c\u200b\u200c\u200d\u200e"
                    "\u202e\u2066\u2069\u2028\u2029\ufeff\ud800\udfff \u0301\u0302\u20dd"
                    "\ufe0f\u3099中あ한é😀\U000e0041\U0001d167"),
    st.characters(whitelist_categories=("Mn", "Me")),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
)
texts = st.text(tricky_char, max_size=300)
# What wrap and split get in practice: sanitised lines.
clean_texts = texts.map(sanitize_text)


def is_mark(ch):
    return unicodedata.category(ch) in ("Mn", "Me")


def longest_mark_run(s):
    longest = run = 0
    for ch in s:
        run = run + 1 if is_mark(ch) else 0
        longest = max(longest, run)
    return longest


# ---------------------------------------------------------------------- chat text

@pytest.mark.parametrize("raw, clean", [
    ("hello", "hello"),
    ("你好世界", "你好世界"),
    ("\x1b[31mred\x1b[0m", "[31mred[0m"),
    ("\x1b]0;title\x07x", "]0;titlex"),
    ("a\x9b31mb", "a31mb"),                      # C1 CSI
    ("a\x00b\x7fc\x85d", "abcd"),
    ("a\tb", "a b"),
    ("line1\nline2", "line1 line2"),
    ("line1\r\nline2", "line1 line2"),
    ("a\rb", "a b"),
    ("a\u2028b\u2029c", "a b c"),
    ("abc\u202edcba\u202c", "abcdcba"),
    ("a\u2066b\u2069\u200e\u200f\u061c", "ab"),
    ("a\u200bb\u200cc\u200dd\u2060e\ufeff", "abcde"),
    ("\U0001f468\u200d\U0001f469\u200d\U0001f467",    # a family: joined emoji keep
     "\U0001f468\u200d\U0001f469\u200d\U0001f467"),   # their joiners
    ("\U0001f469\U0001f3fd\u200d\U0001f4bb", "\U0001f469\U0001f3fd\u200d\U0001f4bb"),
    ("\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f3f3\ufe0f\u200d\U0001f308"),
    ("a\u200d\U0001f4bb\U0001f469\u200db", "a\U0001f4bb\U0001f469b"),  # not between letters
    ("\U0001f469\u200d\u200d\U0001f4bb", "\U0001f469\U0001f4bb"),     # nor doubled
    ("x\ue000\u200dy", "xy"),                  # the joiner's stand-in cannot be smuggled
    ("soft\u00adhyphen", "softhyphen"),
    ("tag\U000e0041\U000e007f", "tag"),
    ("bad\ud800\udfff", "bad"),
    ("e\u0301", "e\u0301"),
    ("e\u0301\u0302", "e\u0301\u0302"),
    ("e\u0301\u0302\u0303\u0304", "e\u0301\u0302"),
    ("a\u0301\u0302\u0303b\u0304\u0305\u0306", "a\u0301\u0302b\u0304\u0305"),
    ("x\U0001d167\U0001d168\U0001d169\U0001d167", "x\U0001d167\U0001d168"),  # astral marks
    ("\u2764\ufe0f", "\u2764\ufe0f"),            # VS16 is one mark: kept
    ("1\ufe0f\u20e3", "1\ufe0f\u20e3"),          # keycap: two marks, kept
    ("😀😀😀", "😀😀😀"),
    ("e\u0301\u200b\u0302\u0303", "e\u0301\u0302"),  # removal cannot smuggle a flood
])
def test_sanitize_text(raw, clean):
    assert sanitize_text(raw) == clean


def test_sanitize_removes_every_format_character_of_this_python():
    formats = "".join(chr(cp) for cp in range(sys.maxunicode + 1)
                      if unicodedata.category(chr(cp)) == "Cf")
    assert sanitize_text(formats) == ""


@given(texts)
@example("\r\r\n\n")
@example("a\u0301\x00\u0302\u200b\u0303")
def test_sanitize_text_properties(raw):
    clean = sanitize_text(raw)
    assert not any(unicodedata.category(ch) in FORBIDDEN_IN_TEXT for ch in
                   clean.replace(EMOJI_ZWJ, ""))
    assert all(text.is_pictographic(clean[i - 1]) or clean[i - 1] == "\ufe0f"
               for i, ch in enumerate(clean) if ch == "\u200d")
    assert "\x1b" not in clean
    assert longest_mark_run(clean) <= 2
    assert sanitize_text(clean) == clean
    assert set(clean) <= set(raw) | {" "}


def test_sanitize_is_fast_on_long_lines():
    lines = ["ab中\u0301 " * 200, "中文消息" * 250, "a\u0301\u0302\u0303\u0304" * 200,
             "\x1b[31m" * 200, "😀x" * 500]
    for line in lines:
        per_call = min(timeit.repeat(lambda: sanitize_text(line), number=20, repeat=3)) / 20
        assert per_call < 0.002, (line[:10], per_call)


# ------------------------------------------------------------------ display width

@pytest.fixture
def builtin_widths():
    """Force the built-in width rule, as when libc's wcwidth is missing."""
    saved = display_width._wcwidth
    display_width._wcwidth = False
    char_width.cache_clear()
    yield
    display_width._wcwidth = saved
    char_width.cache_clear()


@pytest.fixture
def c_locale():
    """LC_CTYPE=C, where glibc's wcwidth answers -1 for all non-ASCII; probe afresh."""
    saved_locale = locale.setlocale(locale.LC_CTYPE)
    saved = display_width._wcwidth
    locale.setlocale(locale.LC_CTYPE, "C")
    display_width._wcwidth = None
    char_width.cache_clear()
    yield
    locale.setlocale(locale.LC_CTYPE, saved_locale)
    display_width._wcwidth = saved
    char_width.cache_clear()


WIDTHS = [("中", 2), ("a", 1), ("\u0301", 0), ("Ａ", 2), ("α", 1), ("Ж", 1), ("한", 2),
          ("あ", 2), ("。", 2), (" ", 1), ("\u200b", 0), ("\u20dd", 0), ("\x1b", 0),
          ("\x00", 0), ("\ud800", 0)]


@pytest.mark.parametrize("ch, width", WIDTHS)
def test_char_width(ch, width):
    assert char_width(ch) == width


@pytest.mark.parametrize("ch, width", WIDTHS)
def test_char_width_builtin_rule(builtin_widths, ch, width):
    assert char_width(ch) == width


@pytest.mark.parametrize("ch, width", WIDTHS)
def test_char_width_under_c_locale_uses_builtin_rule(c_locale, ch, width):
    assert char_width(ch) == width
    assert display_width._wcwidth is False


def test_libc_and_builtin_rules_agree_on_common_scripts():
    if not display_width._libc_wcwidth():
        pytest.skip("no usable libc wcwidth here")
    sample = ("Hello, Zoë! Ωμέγα Привет 你好世界 こんにちは カタカナ 한국어 ＡＢＣ１２３ 。、"
              "e\u0301\u0302 \u0e01\u0e34 \u05d0\u05b8")
    for ch in sample:
        assert char_width(ch) == display_width._builtin_width(ch), ch


def test_text_width():
    assert text_width("") == 0
    assert text_width("hello") == 5
    assert text_width("hello 世界") == 10
    assert text_width("e\u0301") == 1


# -------------------------------------------------------------------------- wrap

@pytest.mark.parametrize("s, width, lines", [
    ("你好世界", 5, ["你好", "世界"]),
    ("你好世界", 4, ["你好", "世界"]),
    ("你好世界", 3, ["你", "好", "世", "界"]),
    ("你好世界", 8, ["你好世界"]),
    ("你好 世界", 5, ["你好", "世界"]),
    ("abcd中", 5, ["abcd", "中"]),            # a wide char never straddles the edge
    ("", 10, [""]),
    ("abc", 0, ["ab", "c"]),                  # width clamped to 2
    ("中文", 1, ["中", "文"]),
    ("hello world", 7, ["hello", "world"]),   # space in the last third: break there
    ("abcdef ghi", 6, ["abcdef", "ghi"]),     # the overflowing char is the space
    ("a bcdefghij", 6, ["a bcde", "fghij"]),  # space too early: hard break
    ("aaaa bbbbbbbbbb", 6, ["aaaa", "bbbbbb", "bbbb"]),
    ("abcde\u0301f", 5, ["abcde\u0301", "f"]),  # the mark stays with its base
    ("abcd \u0301fg", 6, ["abcd \u0301f", "g"]),  # a space carrying a mark: no break
    ("abcd ", 4, ["abcd"]),
    ("hello 世界", 80, ["hello 世界"]),
])
def test_wrap(s, width, lines):
    assert wrap(s, width) == lines


def rebuilds(s, lines):
    """True if s is the lines joined, each break optionally having eaten one space."""
    @functools.lru_cache(maxsize=None)
    def from_(k, pos):
        if k == len(lines):
            return s[pos:] in ("", " ")
        line = lines[k]
        if k and s.startswith(" " + line, pos) and from_(k + 1, pos + 1 + len(line)):
            return True
        return s.startswith(line, pos) and from_(k + 1, pos + len(line))
    return from_(0, 0)


@given(clean_texts, st.integers(min_value=-3, max_value=90))
@example("你好世界", 5)
@example("a " * 50, 3)
def test_wrap_properties(s, width):
    lines = wrap(s, width)
    assert lines
    assert all(text_width(line) <= max(width, 2) for line in lines)
    assert rebuilds(s, lines)
    assert len(s) - len("".join(lines)) <= len(lines)
    if s:
        assert all(lines)
    for line in lines[1:]:                    # a mark never loses its base to a break
        assert not is_mark(line[0]) or s.startswith(line) or " " + line in s


@pytest.mark.parametrize("s, width, prefix", [
    ("你好世界", 5, "你好"),
    ("你好世界", 4, "你好"),
    ("abc", 10, "abc"),
    ("abc", 0, ""),
    ("e\u0301x", 1, "e\u0301"),
    ("", 3, ""),
])
def test_truncate_to_width(s, width, prefix):
    assert truncate_to_width(s, width) == prefix


@given(clean_texts, st.integers(min_value=0, max_value=60))
def test_truncate_properties(s, width):
    prefix = truncate_to_width(s, width)
    assert s.startswith(prefix)
    assert text_width(prefix) <= width
    if prefix != s:
        assert text_width(s[:len(prefix) + 1]) > width


# ------------------------------------------------------------------------- split

def utf8_len(s):
    return len(s.encode("utf-8", "surrogatepass"))


def test_split_short_text_is_one_piece():
    assert split_utf8("", 960) == [""]
    assert split_utf8("hello 世界", 960) == ["hello 世界"]
    assert split_utf8("中" * 320, 960) == ["中" * 320]


def test_split_cjk():
    pieces = split_utf8("中" * 400, 960)
    assert pieces == ["中" * 320, "中" * 80]


def test_split_prefers_a_space_in_the_last_fifth():
    assert split_utf8("hello world again", 12) == ["hello world ", "again"]
    assert split_utf8("hello world", 8) == ["hello wo", "rld"]   # space too early


def test_split_keeps_marks_with_their_base():
    assert split_utf8("abcde\u0301", 6) == ["abcd", "e\u0301"]


def test_split_never_cuts_a_character():
    assert split_utf8("😀😀", 5) == ["😀", "😀"]
    assert split_utf8("a😀", 4) == ["a", "😀"]
    assert split_utf8("\ud800abc", 4) == ["\ud800a", "bc"]


def test_split_needs_room_for_one_character():
    with pytest.raises(ValueError):
        split_utf8("abc", 3)


@given(texts, st.integers(min_value=4, max_value=64))
@example("\u0301" * 20, 4)
@example("a " * 40, 7)
def test_split_properties(s, max_bytes):
    pieces = split_utf8(s, max_bytes)
    assert "".join(pieces) == s
    assert all(utf8_len(piece) <= max_bytes for piece in pieces)
    assert all(pieces) or pieces == [""]
    # Greedy enough: each piece but the last is over half full, so a message is
    # never split into many more pieces than it needs.
    assert all(utf8_len(piece) > max_bytes // 2 - 4 for piece in pieces[:-1])


@settings(max_examples=30)
@given(st.text(st.sampled_from("ab 中😀é\u0301"), min_size=500, max_size=1500))
def test_split_at_protocol_limit(s):
    pieces = split_utf8(s, protocol.MAX_TEXT_BYTES)
    assert "".join(pieces) == s
    assert all(utf8_len(piece) <= protocol.MAX_TEXT_BYTES for piece in pieces)


# ------------------------------------------------------------ other interpreters

SMOKE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from app.core import text
from app.ui import width
assert text.check_name("张三") == ("张三", None)
assert text.check_name("\u0430dmin") == (None, text.NameProblem.RESERVED)
assert text.looks_alike("alice", "\u13aalice")     # the bundled table loads here too
assert text.sanitize_text("\x1b[31mx\u202e\u0301\u0301\u0301") == "[31mx\u0301\u0301"
assert width.wrap("你好世界", 5) == ["你好", "世界"]
assert width.char_width("中") == 2 and width.char_width("\u0301") == 0
assert "".join(text.split_utf8("中" * 400, 960)) == "中" * 400
print("ok")
"""


@pytest.mark.parametrize("minor, python", pythons.interpreters())
def test_module_works_under_supported_pythons(minor, python):
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    result = subprocess.run([python, "-c", SMOKE, root], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.stdout == "ok\n", result.stdout
