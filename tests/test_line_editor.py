"""line_editor: editing keys, history, Tab completion, horizontal scroll by width."""
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ui.line_editor import HISTORY_SIZE, KEYS, LineEditor
from app.ui.width import text_width


def typed(text, *keys, names=()):
    ed = LineEditor()
    ed.insert(text)
    for key in keys:
        if len(key) == 1:
            ed.insert(key)
        else:
            assert ed.handle(key, names), key
    return ed


def state(ed):
    return ed.text, ed.cursor


def test_moves_and_deletes():
    assert state(typed("hello 世界", "left", "left", "backspace")) == ("hello世界", 5)
    assert state(typed("hello 世界", "home", "delete", "end", "backspace")) == ("ello 世", 6)
    assert state(typed("abc", "^A", "x", "^E", "y")) == ("xabcy", 5)
    assert state(typed("abc", "left", "x", "right", "right")) == ("abxc", 4)
    assert state(typed("", "backspace", "delete", "left", "right")) == ("", 0)


def test_kill_keys():
    assert state(typed("hello big world", "left", "left", "^U")) == ("ld", 0)
    assert state(typed("hello big world", "home", "right", "^K")) == ("h", 1)
    assert state(typed("hello big  ", "^W")) == ("hello ", 6)
    assert state(typed("你好 世界", "^W", "^W")) == ("", 0)


def test_unknown_keys_are_left_to_the_caller():
    ed = LineEditor()
    assert not ed.handle("pgup")
    assert not ed.handle("^X")


def test_history_up_down_keeps_the_draft():
    ed = LineEditor()
    for line in ("one", "two", "two", "  ", "three"):
        ed.insert(line)
        ed.submit()
    ed.insert("draft")
    ed.handle("up")
    assert ed.text == "three"
    ed.handle("up")
    ed.handle("up")
    assert ed.text == "one"          # "two" once (no repeats), blank lines not kept
    ed.handle("up")
    assert ed.text == "one"
    ed.handle("down")
    ed.handle("down")
    ed.handle("down")
    assert state(ed) == ("draft", 5)


def test_history_keeps_100_entries():
    ed = LineEditor()
    for i in range(150):
        ed.insert("line %d" % i)
        ed.submit()
    for _ in range(200):
        ed.handle("up")
    assert HISTORY_SIZE == 100 and ed.text == "line 50"


def test_tab_completes_recent_speakers_first_and_cycles():
    names = ["zhou", "zhang", "张三", "张三丰", "li"]
    assert state(typed("zh", "tab", names=names)) == ("zhou: ", 6)
    assert typed("zh", "tab", "tab", names=names).text == "zhang: "
    assert typed("zh", "tab", "tab", "tab", names=names).text == "zhou: "
    assert typed("hi 张", "tab", names=names).text == "hi 张三 "
    assert typed("hi 张", "tab", "tab", names=names).text == "hi 张三丰 "
    assert typed("hi ZH", "tab", names=names).text == "hi zhou "
    assert state(typed("hi x", "tab", names=names)) == ("hi x", 4)
    assert typed("zh", "tab", "x", "tab", names=names).text == "zhou: x"
    assert typed("/k", "tab", names=["/kick", "/list"]).text == "/kick "


def test_view_scrolls_by_display_width_and_keeps_the_last_column_free():
    ed = typed("你好世界" * 5)                   # 40 columns
    assert ed.view(11) == ("界你好世界", 10)       # 10 columns of text, cursor in column 10
    ed.handle("home")
    assert ed.view(11) == ("你好世界你", 0)
    ed.handle("end")
    ed.insert("a")
    text, col = ed.view(11)
    assert text_width(text) <= 10 and col == text_width(text) and text.endswith("a")
    ed.handle("^U")
    assert ed.view(11) == ("", 0)


def test_view_after_deleting_uses_the_space_on_the_left():
    ed = typed("abcdefghijklmnop")
    ed.view(10)
    for _ in range(10):
        ed.handle("backspace")
    assert ed.view(10) == ("abcdef", 6)


def test_max_bytes_refuses_instead_of_cutting():
    ed = LineEditor(max_bytes=10)
    assert ed.insert("你好世")            # 9 bytes
    assert not ed.insert("界")
    assert ed.text == "你好世"
    assert ed.insert("a")


KEY_NAMES = sorted(k for k in KEYS if k != "tab")


@settings(max_examples=300)
@given(st.lists(st.one_of(st.sampled_from(KEY_NAMES),
                          st.text(alphabet="ab 你好é\u0301", min_size=1, max_size=3))),
       st.integers(2, 30))
def test_random_edits_keep_the_cursor_in_view(actions, width):
    ed = LineEditor()
    for action in actions:
        if action in KEYS:
            ed.handle(action)
        else:
            ed.insert(action)
        assert 0 <= ed.cursor <= len(ed.chars)
        text, col = ed.view(width)
        assert text_width(text) <= max(1, width - 1)
        assert 0 <= col <= max(1, width - 1)
        assert text in ed.text
