"""Messages keep their shape (issue 18, items 4 and 9): line breaks, indentation and
tabs survive from a paste to every screen; grapheme clusters (emoji sequences,
flags, skin tones, marks) are never split by a wrap, a cursor move or a delete.
The pty tests are in test_client_tui.py (the paste, the real room) and
test_emoji_tui.py."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import protocol as P
from app.core.text import (MAX_MESSAGE_LINES, sanitize_lines, sanitize_message,
                           sanitize_text, split_message, split_utf8)
from app.ui import client_plain, render
from app.ui.line_editor import NEWLINE_MARK, LineEditor, paste_text
from app.ui.messages_view import wrap_segments
from app.ui.width import cluster_start, expand_tabs, graphemes, text_width, wrap

WOMAN_CODER = "\U0001f469\u200d\U0001f4bb"            # 👩‍💻
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧
FLAG_CN = "\U0001f1e8\U0001f1f3"                      # 🇨🇳
THUMB = "\U0001f44d\U0001f3fd"                        # 👍🏽
CLUSTERS = [WOMAN_CODER, FAMILY, FLAG_CN, THUMB, "e\u0301\u0302", "中", "a", "한"]


# ------------------------------------------------------------- the text rules

@pytest.mark.parametrize("raw, clean", [
    ("  hi  ", "hi"),                                      # one line: stripped
    ("def f():\r\n    return 1\r\n", "def f():\n    return 1"),
    ("a\rb\u2028c\u2029d", "a\nb\nc\nd"),
    ("\n\n  x\n  y  \n\n", "  x\n  y"),                    # indentation kept
    ("a\n\n\n\n\nb", "a\n\n\nb"),                          # two blank lines at most
    ("a\tb\n\tc", "a\tb\n\tc"),                            # tabs kept on the wire
    ("a\x1b[31m\nb\x0bc\x0c", "a[31m\nb c"),
    ("\u202eevil\nx\u200by", "evil\nxy"),
    ("\n \n\t\n", ""),
])
def test_sanitize_message(raw, clean):
    assert sanitize_message(raw) == clean


def test_a_message_is_never_taller_than_max_lines():
    raw = "\n".join("l%d" % i for i in range(40))
    clean = sanitize_message(raw)
    assert clean.count("\n") == MAX_MESSAGE_LINES - 1
    assert clean.split("\n")[-1] == " ".join("l%d" % i for i in range(23, 40))


messages = st.text(st.sampled_from("ab 中\t\n\r\x0b\u2028\x1b\u200d\u0301\U0001f469\U0001f4bb"),
                   max_size=80)


@given(messages)
def test_sanitize_message_is_idempotent_and_one_line_text_stays_one_line(raw):
    clean = sanitize_message(raw)
    assert sanitize_message(clean) == clean
    assert "\r" not in clean and "\x1b" not in clean and "\x0b" not in clean
    assert clean.count("\n") < MAX_MESSAGE_LINES
    assert "\n" not in sanitize_text(raw) and "\t" not in sanitize_text(raw)
    assert sanitize_lines(sanitize_lines(raw)) == sanitize_lines(raw)


def test_split_message_cuts_at_line_breaks():
    block = "\n".join("%02d %s" % (i, "x" * 60) for i in range(40))   # 2.5 KB, 40 lines
    pieces = split_message(block, P.MAX_TEXT_BYTES)
    assert "\n".join(pieces) == block
    assert all(len(p.encode()) <= P.MAX_TEXT_BYTES for p in pieces)
    assert all(p.count("\n") < MAX_MESSAGE_LINES for p in pieces)
    assert [p[:2] for p in pieces] == ["00", "15", "30"]      # 15 lines of 64 bytes fit 960
    assert split_message("a\n" + "长" * 700, P.MAX_TEXT_BYTES) == \
        ["a"] + split_utf8("长" * 700, P.MAX_TEXT_BYTES)     # a long line: cut inside
    assert split_message("one line", 960) == ["one line"]


@given(st.text(st.sampled_from("ab 中\n"), max_size=200), st.integers(4, 40),
       st.integers(1, 5))
def test_split_message_properties(text, max_bytes, max_lines):
    pieces = split_message(text, max_bytes, max_lines)
    assert all(len(p.encode()) <= max_bytes and p.count("\n") < max_lines for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


# ------------------------------------------------------------- clusters and width

def test_graphemes_keep_sequences_whole():
    text = "".join(CLUSTERS)
    assert graphemes(text) == CLUSTERS
    assert graphemes(FLAG_CN * 3) == [FLAG_CN] * 3            # flags pair up
    assert graphemes("a\nb\tc") == ["a", "\n", "b", "\t", "c"]
    assert graphemes("a\u200db") == ["a\u200d", "b"]          # no emoji: no join
    for end in range(1, len(text) + 1):
        start = cluster_start(text, end)
        assert "".join(graphemes(text[:end])) == text[:end] and start <= end


@pytest.mark.parametrize("width", range(6, 14))     # the family takes 6 columns
def test_wrap_never_splits_a_cluster(width):
    text = " ".join(CLUSTERS * 3)
    rows = wrap(text, width)
    wanted = set(CLUSTERS)
    for row in rows:
        assert text_width(row) <= width
        assert all(g in wanted or g == " " for g in graphemes(row)), (width, row)


def test_a_cluster_wider_than_the_pane_is_cut_at_code_points():
    rows = wrap(FAMILY * 2, 2)                 # each emoji 2 columns, the family 6
    assert all(text_width(r) <= 2 for r in rows) and "".join(rows) == FAMILY * 2


def test_expand_tabs_counts_columns_from_each_line_start():
    assert expand_tabs("a\tb") == "a" + " " * 7 + "b"
    assert expand_tabs("中\tb\n\tc") == "中" + " " * 6 + "b\n" + " " * 8 + "c"
    assert expand_tabs("x\t", 4) == "x   "


# ------------------------------------------------------------- the input line

def test_cursor_moves_and_deletes_whole_clusters():
    ed = LineEditor()
    ed.insert("a" + WOMAN_CODER + FLAG_CN + THUMB + "e\u0301")
    ed.handle("left")
    assert ed.text[ed.cursor:] == "e\u0301"
    ed.handle("backspace")                     # 👍🏽 as a whole
    assert ed.text == "a" + WOMAN_CODER + FLAG_CN + "e\u0301"
    ed.handle("left")
    ed.handle("left")
    assert ed.text[:ed.cursor] == "a"
    ed.handle("delete")                        # 👩‍💻 as a whole
    assert ed.text == "a" + FLAG_CN + "e\u0301"
    ed.handle("right")
    ed.handle("right")
    assert ed.cursor == len(ed.chars)


@given(st.lists(st.sampled_from(CLUSTERS), max_size=30), st.integers(3, 20))
def test_the_input_line_view_shows_whole_clusters(clusters, width):
    ed = LineEditor()
    ed.insert("".join(clusters))
    for _ in range(len(clusters) + 1):
        shown, col = ed.view(width)
        assert text_width(shown) <= width - 1 and 0 <= col <= width - 1
        assert all(g in CLUSTERS for g in graphemes(shown))
        ed.handle("left")


def test_a_paste_keeps_its_lines_and_shows_them_as_marks():
    assert paste_text("def f():\r\n\treturn 1\r\n\r\n") == "def f():\n        return 1"
    assert paste_text("a\x1b[31mb") == "a[31mb"
    ed = LineEditor()
    ed.insert(paste_text("x\ny"))
    assert ed.view(20) == ("x%sy" % NEWLINE_MARK, 3)
    assert ed.submit() == "x\ny"


# ------------------------------------------------------------- rendering

def event(text, kind=P.EV_CHAT, name="张三"):
    return P.Event(0, 0.0, kind, name=name, text=text)


def rows_text(line, width):
    return ["".join(part for part, _ in row) for row in wrap_segments(line, width)]


def test_the_pane_indents_a_message_s_further_lines_under_its_text():
    line = render.render(event("def f():\n\treturn 1\n\nx"), "zh", localtime=lambda t: (
        2026, 1, 1, 17, 52, 0, 0, 1, 0))
    assert rows_text(line, 40) == [
        "[17:52] 张三 : def f():",
        " " * 15 + "        return 1",
        " " * 15,
        " " * 15 + "x"]
    # On a pane too narrow for that indent, the further lines start 2 columns in.
    assert rows_text(line, 20) == ["[17:52] 张三 : def", "f():", "          return 1",
                                   "  ", "  x"]


@pytest.mark.parametrize("kind, first, indent", [
    (P.EV_EMOTE, "* 张三 a", len("* 张三 ") + 2),
    (P.EV_ADMIN, "管理员消息: a", len("管理员消息: ") + 5),
    (P.EV_PRIVATE, "张三 悄悄对你说: a", len("张三 悄悄对你说: ") + 7),
])
def test_every_kind_of_message_indents_under_its_text(kind, first, indent):
    line = [seg for seg in render.render(event("a\nb", kind), "zh", "me") if seg[1] != "time"]
    assert rows_text(line, 80) == [first, " " * indent + "b"]


def test_line_mode_prints_further_lines_after_the_continuation_prefix():
    text = client_plain.event_text(event("def f():\n\treturn 1\n\nx"), "zh", "me", 0)
    assert text.split("\n") == ["张三 : def f():", " |         return 1", " | ", " | x"]
    assert client_plain.event_text(event("one"), "en", "me", 0) == "张三 : one"
