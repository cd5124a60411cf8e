"""messages_view: scrollback, wrapping by display width, paging that stays put."""
from hypothesis import given
from hypothesis import strategies as st

from app.ui.messages_view import MessagesView, wrap_segments
from app.ui.width import text_width, wrap


def plain(rows):
    return ["".join(part for part, _ in row) for row in rows]


def view_of(n, width=20, height=5, **kw):
    view = MessagesView(width, height, **kw)
    for i in range(n):
        view.add([("line %d" % i, "")])
    return view


def test_follows_the_bottom_and_is_top_aligned_when_short():
    assert plain(view_of(2).rows()) == ["line 0", "line 1"]
    assert plain(view_of(30).rows()) == ["line %d" % i for i in range(25, 30)]


def test_wrap_by_display_width_never_splits_a_wide_character():
    rows = wrap_segments([("[12:00] ", "time"), ("张三", "n"), (" : 你好世界abc", "")], 10)
    assert plain(rows) == ["[12:00]", "张三 : 你", "好世界abc"]
    assert rows[1] == [("张三", "n"), (" : 你", "")]
    assert plain(wrap_segments([("一二三四五六", "")], 5)) == ["一二", "三四", "五六"]
    odd = wrap_segments([("a你好", "")], 4)       # 你 would straddle columns 3-4
    assert plain(odd) == ["a你", "好"]


def test_wrap_breaks_at_spaces_and_keeps_styles():
    rows = wrap_segments([("[12:00] ", "time"), ("lisi", "n"), (" : hello wonderful world", "")],
                         20)
    assert plain(rows) == ["[12:00] lisi : hello", "wonderful world"]
    assert rows[1] == [("wonderful world", "")]
    assert rows[0][:2] == [("[12:00] ", "time"), ("lisi", "n")]


@given(st.lists(st.tuples(st.text(alphabet="ab 你好é\u0301", max_size=30),
                          st.sampled_from(["", "x"])), max_size=4),
       st.integers(2, 12))
def test_wrap_rows_are_text_wrap_with_the_styles_kept(line, width):
    rows = wrap_segments(line, width)
    text = "".join(part for part, _ in line)
    assert plain(rows) == wrap(text, width)
    assert all(text_width(r) <= width for r in plain(rows))

    def styled(segments):   # every character but the spaces wrap() may drop, with its style
        return [(ch, style) for part, style in segments for ch in part if ch != " "]

    assert styled(seg for row in rows for seg in row) == styled(line)


def test_page_up_stays_put_while_messages_arrive_and_counts_them():
    view = view_of(30)
    view.page_up()
    shown = view.rows()
    assert plain(shown) == ["line 22", "line 23", "line 24", "line 25", "-- 0 new below --"]
    for i in range(30, 40):
        view.add([("line %d" % i, "")])
    assert plain(view.rows())[:4] == plain(shown)[:4]
    assert view.new_below == 10 and plain(view.rows())[-1] == "-- 10 new below --"
    view.page_down()
    view.page_down()
    assert view.new_below == 6          # line 33 is at the bottom now
    for _ in range(2):
        view.page_down()
    assert not view.scrolled and view.new_below == 0
    assert plain(view.rows()) == ["line %d" % i for i in range(35, 40)]


def test_page_up_stops_at_the_top_with_a_full_page():
    view = view_of(12)
    for _ in range(10):
        view.page_up()
    assert plain(view.rows()) == ["line 0", "line 1", "line 2", "line 3", "-- 0 new below --"]


def test_nothing_to_scroll_when_everything_fits():
    view = view_of(3)
    view.page_up()
    assert not view.scrolled


def test_capacity_of_5000_and_eviction_while_scrolled():
    view = view_of(6000)
    assert len(view) == 5000
    for _ in range(2000):
        view.page_up()
    assert plain(view.rows())[0] == "line 1000"
    view.add([("more", "")])                  # evicts line 1000 from under the view
    assert plain(view.rows())[0] == "line 1001"


def test_resize_rewraps_and_keeps_the_scrolled_line():
    view = MessagesView(10, 4, indicator=lambda n: [("v", "")])
    for i in range(20):
        view.add([("%02d 你好世界" % i, "")])          # 11 columns: two rows at width 10
    view.page_up()
    before = plain(view.rows())
    view.resize(40, 4)
    after = plain(view.rows())
    assert after[-2].startswith(before[-2][:2])         # same line at the bottom
    assert all(text_width(r) <= 40 for r in after)
    view.resize(10, 4)
    assert plain(view.rows()) == before


def test_custom_indicator():
    view = MessagesView(20, 3, indicator=lambda n: [("%d new" % n, "indicator")])
    for i in range(10):
        view.add([(str(i), "")])
    view.page_up()
    view.add([("x", "")])
    assert view.rows()[-1] == [("1 new", "indicator")]


def test_oldest_shows_the_first_page_and_stays_there():
    view = view_of(3000)
    view.oldest()                              # Ctrl-Home
    assert plain(view.rows()) == ["line 0", "line 1", "line 2", "line 3", "-- 0 new below --"]
    view.add([("new", "")])
    assert plain(view.rows())[:4] == ["line 0", "line 1", "line 2", "line 3"]
    assert view.new_below == 1
    view.follow()                              # Ctrl-End
    assert plain(view.rows())[-1] == "new" and not view.scrolled
    short = view_of(3)
    short.oldest()                             # everything fits: nothing to scroll to
    assert not short.scrolled


def test_clear_forgets_every_line_and_follows_again():
    view = view_of(30)
    view.page_up()
    view.clear()
    assert plain(view.rows()) == [] and len(view) == 0 and not view.scrolled
    view.add([("after", "")])
    assert plain(view.rows()) == ["after"]
    view.page_up()                             # one line: nothing to scroll
    assert not view.scrolled


def test_find_ignores_case_and_skips_unsearchable_lines():
    view = MessagesView(20, 5)
    view.add([("[09:00] ", "time"), ("Zhang", "name1"), (" : HomeWork due", "text")])
    view.add([("交作业", "text")])
    view.add([("homework? none", "text")], searchable=False)
    view.add([("ΣΊΣΥΦΟΣ", "text")])
    assert plain(view.find("homework")) == ["[09:00] Zhang : HomeWork due"]
    assert plain(view.find("作业")) == ["交作业"]
    assert plain(view.find("σίσυφος")) == ["ΣΊΣΥΦΟΣ"]
    assert view.find("nothing") == []
