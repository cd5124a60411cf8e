"""render: room events as display lines, zh and en, safe for the terminal."""
import time

from hypothesis import given
from hypothesis import strategies as st

from app.core import protocol as P
from app.ui import render

T = 1700000000.0          # 22:13 UTC


def line(event, lang="zh", me="李四", instance=99):
    return render.render(event, lang, me, instance, time.gmtime)


def text(event, **kw):
    return "".join(part for part, _ in line(event, **kw))


def ev(kind, **kw):
    return P.Event(1, T, kind, **kw)


def test_course_texts_in_chinese():
    assert text(ev(P.EV_JOIN, name="张三")) == "[22:13] 张三 进入了聊天室"
    assert text(ev(P.EV_CHAT, name="张三", text="大家好")) == "[22:13] 张三 : 大家好"
    assert text(ev(P.EV_LEAVE, name="张三")) == "[22:13] 张三 退出了聊天室"
    assert text(ev(P.EV_LEAVE, name="张三", code=P.LEAVE_TIMEOUT)) == "[22:13] 张三 退出了聊天室 (超时)"
    assert text(ev(P.EV_ADMIN, name="admin", text="下课前提交作业")) == "[22:13] 管理员消息: 下课前提交作业"
    assert text(ev(P.EV_EMOTE, name="张三", text="waves")) == "[22:13] * 张三 waves"


def test_english():
    assert text(ev(P.EV_JOIN, name="Zhang"), lang="en") == "[22:13] Zhang joined the room"
    assert text(ev(P.EV_LEAVE, name="Zhang", code=P.LEAVE_TIMEOUT), lang="en") == \
        "[22:13] Zhang left the room (timed out)"
    assert text(ev(P.EV_ADMIN, text="hi"), lang="en") == "[22:13] Admin message: hi"


def test_private_in_and_out():
    incoming = ev(P.EV_PRIVATE, name="张三", target="李四", text="悄悄话", origin=5)
    assert text(incoming) == "[22:13] 张三 悄悄对你说: 悄悄话"
    outgoing = ev(P.EV_PRIVATE, name="李四", target="张三", text="好", origin=99)
    assert text(outgoing) == "[22:13] 你悄悄对 张三 说: 好"
    assert text(outgoing, lang="en") == "[22:13] you whisper to 张三: 好"


def test_who_and_notices():
    assert text(ev(P.EV_WHO, text="张三\n李四")) == "[22:13] 在线 2 人: 张三, 李四"
    assert text(ev(P.EV_NOTICE, code=P.NOTICE_NO_SUCH_USER, target="王五")) == \
        "[22:13] -- 没有这个人: 王五"
    assert text(ev(P.EV_NOTICE, code=P.NOTICE_INFO, text="欢迎")) == "[22:13] -- 欢迎"
    assert text(ev(P.EV_NOTICE, code=P.NOTICE_THROTTLED), lang="en") == \
        "[22:13] -- You are sending too fast; wait a moment"


def test_styles():
    chat = line(ev(P.EV_CHAT, name="张三", text="hi", origin=5))
    assert chat[0] == ("[22:13] ", "time")
    assert chat[1] == ("张三", render.name_style("张三"))
    own = line(ev(P.EV_CHAT, name="李四", text="hi", origin=99))
    assert own[1] == ("李四", "self")
    mention = line(ev(P.EV_CHAT, name="张三", text="李四 你好", origin=5))
    assert mention[-1] == ("李四 你好", "mention")
    assert line(ev(P.EV_ADMIN, text="x"))[-1][1] == "admin"


def test_history_is_marked_dim_as_a_whole():
    hist = line(ev(P.EV_CHAT, name="张三", text="old", flags=P.EVF_HISTORY))
    assert {style for _, style in hist} == {"history"}
    assert render.history_divider("zh") == [("—— 以上是历史消息 ——", "history")]


def test_name_colour_is_stable_and_spread():
    assert render.name_style("张三") == render.name_style("张三")
    styles = {render.name_style("user%d" % i) for i in range(60)}
    assert styles == {"name%d" % i for i in range(render.NAME_COLOURS)}


def test_escape_sequences_cannot_reach_the_terminal():
    hostile = ev(P.EV_CHAT, name="evil\x1b[2J", text="\x1b]0;title\x07hi\r\nthere\x9b31m")
    shown = text(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown
    assert "\x9b" not in shown
    assert shown.endswith("hi\nthere31m")       # a message keeps its line break (only LF)


@given(st.text(), st.text(), st.sampled_from(sorted(P.EVENT_KINDS)), st.integers(0, 5))
def test_any_event_renders_printable(name, body, kind, code):
    shown = text(ev(kind, name=name, text=body, code=code))
    # LF only inside a message's text (the pane makes rows of it); never a tab.
    allowed = " \n" if kind in (P.EV_CHAT, P.EV_EMOTE, P.EV_ADMIN, P.EV_PRIVATE) else " "
    assert all(ch.isprintable() or ch in allowed for ch in shown if ord(ch) < 0xA0)
    assert shown.startswith("[22:13] ")


def test_bell_rules():
    chat = ev(P.EV_CHAT, name="张三", text="hello", origin=5)
    named = chat._replace(text="李四 在吗")
    assert not render.wants_bell(chat, "mention", "李四", 99)
    assert render.wants_bell(named, "mention", "李四", 99)
    assert render.wants_bell(chat, "all", "李四", 99)
    assert not render.wants_bell(named, "off", "李四", 99)
    assert render.wants_bell(ev(P.EV_ADMIN, text="x"), "mention", "李四", 99)
    assert render.wants_bell(ev(P.EV_PRIVATE, name="张三", text="x", origin=5), "mention", "李四", 99)
    own = ev(P.EV_CHAT, name="李四", text="李四 here", origin=99)
    assert not render.wants_bell(own, "all", "李四", 99)
    assert not render.wants_bell(named._replace(flags=P.EVF_HISTORY), "all", "李四", 99)


def test_every_text_exists_in_both_languages():
    assert set(render.TEXTS["zh"]) == set(render.TEXTS["en"])


def test_joins_and_leaves_counted_in_one_event_are_worded_from_the_counts():
    counted = ev(P.EV_MEMBERS, origin=P.members_counts(12, 40), online=300,
                 text="12 joined and 40 left (too many at once to say each)")
    assert P.members_of(counted.origin) == (12, 40)
    assert text(counted) == "[22:13] 12 人进入、40 人退出了聊天室（人太多，不逐一显示）"
    assert text(counted, lang="en") == \
        "[22:13] 12 joined and 40 left the room (too many to show each)"
    decoded = P.decode_event(P.encode_event(counted))
    assert decoded.kind == P.EV_MEMBERS and decoded.origin == counted.origin
