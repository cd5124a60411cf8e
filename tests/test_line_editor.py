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


# ---------------------------------------------------------------- words and the kill ring

def test_word_moves_by_letters_and_digits():
    for back, forward in (("M-b", "M-f"), ("ctrl-left", "ctrl-right")):
        ed = typed("foo, bar_2  baz", back)
        assert ed.cursor == 12
        ed.handle(back)
        assert ed.cursor == 5                   # "bar_2": "_" is part of a word
        ed.handle(back)
        ed.handle(back)
        assert ed.cursor == 0
        ed.handle(forward)
        assert ed.cursor == 3                   # the end of "foo", before ","
        ed.handle(forward)
        assert ed.cursor == 10
        ed.handle(forward)
        ed.handle(forward)
        assert ed.cursor == 15


def test_a_run_of_cjk_is_one_word_and_a_script_change_is_a_boundary():
    ed = typed("你好世界，hello世界 Ωμέγα")
    ed.handle("home")
    stops = []
    for _ in range(5):
        ed.handle("M-f")
        stops.append(ed.cursor)
    assert stops == [4, 10, 12, 18, 18]         # 你好世界 | ，hello | 世界 | Ωμέγα
    back = []
    for _ in range(5):
        ed.handle("M-b")
        back.append(ed.cursor)
    assert back == [13, 10, 5, 0, 0]


def test_a_combining_mark_belongs_to_its_word():
    ed = typed("cafe\u0301 ok", "home", "M-f")
    assert ed.cursor == 5
    ed = typed("ab \u0301cd", "M-b")             # a stray mark at a word's start
    assert ed.cursor == 4


def test_alt_d_kills_the_word_after_the_cursor():
    assert state(typed("hello big world", "home", "M-d")) == (" big world", 0)
    assert state(typed("hello big world", "home", "M-f", "M-d")) == ("hello world", 5)
    assert state(typed("你好世界 hi", "home", "M-d")) == (" hi", 0)
    assert state(typed("abc", "M-d")) == ("abc", 3)
    assert state(typed("hello big", "M-backspace")) == ("hello ", 6)


def test_ctrl_y_yanks_what_any_kill_key_killed():
    assert state(typed("hello world", "^U", "^Y")) == ("hello world", 11)
    assert state(typed("hello world", "home", "^K", "x", "^Y")) == ("xhello world", 12)
    assert state(typed("hello world", "^W", "^A", "^Y")) == ("worldhello ", 5)
    assert state(typed("hello world", "^A", "M-d", "^E", "^Y")) == (" worldhello", 11)
    assert state(typed("abc", "^Y")) == ("abc", 3)                  # nothing killed yet
    assert state(typed("abc", "^U", "^Y", "^Y")) == ("abcabc", 6)


def test_kills_in_a_row_are_one_entry_in_their_order():
    assert typed("one two three", "^W", "^W", "^Y").text == "one two three"
    assert typed("one two three", "^W", "^W", "^A", "^Y").text == "two threeone "
    assert typed("one two three", "^A", "M-d", "M-d", "^Y").text == "one two three"
    # Typing between kills starts a new entry.
    assert typed("one two", "^W", "x", "backspace", "^W", "^Y").text == "one "


def test_alt_y_after_ctrl_y_rotates_the_ring():
    ed = typed("aa", "^U")
    ed.insert("bb")
    ed.handle("^U")
    ed.insert("cc")
    ed.handle("^U")                              # ring: aa, bb, cc
    ed.insert("> ")
    ed.handle("^Y")
    assert state(ed) == ("> cc", 4)
    ed.handle("M-y")
    assert state(ed) == ("> bb", 4)
    ed.handle("M-y")
    ed.handle("M-y")
    assert state(ed) == ("> cc", 4)              # round the ring
    ed.handle("left")
    ed.handle("M-y")                             # not right after a yank: nothing
    assert state(ed) == ("> cc", 3)
    assert state(typed("abc", "M-y")) == ("abc", 3)


def test_the_kill_ring_keeps_the_last_ten():
    ed = LineEditor()
    for i in range(15):
        ed.insert("k%d" % i)
        ed.handle("^U")
    ed.handle("^Y")
    for _ in range(9):
        ed.handle("M-y")
    assert ed.text == "k5"
    ed.handle("M-y")
    assert ed.text == "k14"


def test_yank_respects_max_bytes():
    ed = LineEditor(max_bytes=6)
    ed.insert("abcd")
    ed.handle("^U")
    ed.insert("xyz")
    ed.handle("^Y")                              # 7 bytes: refused, as a paste would be
    assert state(ed) == ("xyz", 3)
    ed.handle("^U")
    ed.insert("1")
    ed.handle("^Y")                              # ring: abcd, xyz
    ed.handle("M-y")                             # "1abcd" is 5 bytes: it fits
    assert ed.text == "1abcd"
