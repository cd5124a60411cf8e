"""The curses client's slash commands (app/ui/client/commands.py) and the
vocabulary its two processes speak (app/ui/client/messages.py)."""
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import messages as codec
from app.ui import render
from app.ui.client import messages
from app.ui.client.commands import parse_command
from app.ui.client.messages import (Activity, ClearPane, ConnectionStatus, EmoteLine,
                                    HandIn, LeaveRoom, PrivateLine, ReceiverLeaving, ReceiverReady,
                                    RepaintWindows, SayLine, ScrollEnd, ScrollPane, SearchPane,
                                    ShowHelp, ShowNote, TabNames, WhoQuery)

VOCABULARY = (SayLine, EmoteLine, PrivateLine, WhoQuery, ShowHelp, ShowNote, LeaveRoom,
              ScrollPane, ScrollEnd, ClearPane, SearchPane, RepaintWindows, ReceiverReady,
              ReceiverLeaving, ConnectionStatus, TabNames, Activity, HandIn)


# ---------------------------------------------------------------- the parser

@pytest.mark.parametrize("line, command", [
    ("hello", SayLine("hello")),
    ("  leading and trailing  ", SayLine("  leading and trailing  ")),
    ("你好，世界 🌏", SayLine("你好，世界 🌏")),
    ("//etc/passwd", SayLine("/etc/passwd")),
    ("//", SayLine("/")),
    ("/quit", LeaveRoom()),
    ("/exit", LeaveRoom()),
    ("/QUIT now", LeaveRoom()),
    ("/who", WhoQuery()),
    ("/WHO", WhoQuery()),
    ("/names", WhoQuery()),
    ("/help", ShowHelp()),
    ("/me 挥手", EmoteLine("挥手")),
    ("/me   waves  ", EmoteLine("waves")),
    ("/msg 张三  你好 呀", PrivateLine("张三", "你好 呀")),
    ("/m 王小明 晚上好", PrivateLine("王小明", "晚上好")),
    ("/MSG Αλφα γεια", PrivateLine("Αλφα", "γεια")),
    ("/clear", ClearPane()),
    ("/CLEAR all", ClearPane()),
    ("/lastlog 作业", SearchPane("作业")),
    ("/hand-in ~/作业 1.txt ", HandIn("~/作业 1.txt")),
    ("/交作业 a.pdf", HandIn("a.pdf")),
    ("/HAND-IN a.pdf", HandIn("a.pdf")),
    ("/lastlog  two words ", SearchPane("two words")),
])
def test_commands_parse_to_their_values(line, command):
    parsed = parse_command(line, "zh")
    assert parsed == command and type(parsed) is type(command)


@pytest.mark.parametrize("line", ["", "   ", "\t"])
def test_a_blank_line_is_nothing(line):
    assert parse_command(line, "zh") is None


@pytest.mark.parametrize("line, lang, hint", [
    ("/msg 张三", "zh", "用法: /msg 名字 内容"),
    ("/msg 张三   ", "zh", "用法: /msg 名字 内容"),
    ("/msg", "en", "usage: /msg NAME text"),
    ("/me", "en", "usage: /me action"),
    ("/me   ", "zh", render.tr("zh", "usage_me")),
    ("/lastlog", "zh", "用法: /lastlog 文字"),
    ("/lastlog   ", "en", "usage: /lastlog TEXT"),
    ("/hand-in", "en", "usage: /hand-in PATH (or /交作业 PATH)"),
    ("/交作业  ", "zh", render.tr("zh", "usage_hand_in")),
    ("/foo bar", "zh", "未知命令 /foo，输入 /help 查看命令"),
    ("/Frob", "en", render.tr("en", "unknown_command", command="/frob")),
    ("/ spaced", "zh", render.tr("zh", "unknown_command", command="/")),
])
def test_usage_errors_are_notes_for_our_eyes_only(line, lang, hint):
    assert parse_command(line, lang) == ShowNote(hint)


def test_the_hints_are_translated():
    assert parse_command("/msg", "zh") != parse_command("/msg", "en")


@given(st.text(min_size=1).filter(lambda s: s.strip() and not s.startswith("/")))
def test_any_other_text_is_said_as_typed(text):
    assert parse_command(text, "en") == SayLine(text)


# ---------------------------------------------------------------- the vocabulary

def test_every_message_is_registered_under_its_own_name():
    registered = codec.registered()
    for cls in VOCABULARY:
        assert registered["%s.%s" % (cls.__module__, cls.__qualname__)] is cls
    declared = {name for name, value in vars(messages).items()
                if isinstance(value, type) and dataclasses.is_dataclass(value)}
    assert declared == {cls.__name__ for cls in VOCABULARY}, "a message not tested here"


def test_every_command_value_is_a_message():
    """No twin types: what the parser returns is what goes down the channel."""
    lines = ["hi", "/me x", "/msg a b", "/who", "/help", "/msg", "/quit", "/clear",
             "/lastlog x"]
    for line in lines:
        assert type(parse_command(line, "en")) in VOCABULARY


def test_messages_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SayLine("x").text = "y"                # type: ignore[misc]


texts = st.text(max_size=60)
names = st.text(min_size=1, max_size=20)
values = st.one_of(
    st.builds(SayLine, texts), st.builds(EmoteLine, texts),
    st.builds(PrivateLine, names, texts), st.builds(ShowNote, texts),
    st.builds(ScrollPane, st.sampled_from([-1, 1])), st.builds(ScrollEnd, st.booleans()),
    st.builds(SearchPane, texts), st.builds(HandIn, texts), st.builds(Activity, st.integers(0, 10 ** 9),
              st.floats(allow_nan=False)),   # (NaN != NaN: not a round-trip failure)
    st.builds(ConnectionStatus, st.sampled_from(["connecting", "joined", "reconnecting",
                                                "refused", "closed"]),
              st.integers(0, 100000), texts, names),
    st.builds(TabNames, st.lists(names, max_size=8).map(tuple)),
    st.sampled_from([WhoQuery(), ShowHelp(), LeaveRoom(), RepaintWindows(), ReceiverReady(),
                     ReceiverLeaving(), ClearPane()]))


@given(values)
def test_vocabulary_round_trips_through_the_codec(value):
    decoded = codec.decode(codec.encode(value))
    assert decoded == value and type(decoded) is type(value)


def test_cjk_survives_the_codec_readably():
    value = PrivateLine("张三", "悄悄话 🤫")
    data = codec.encode(value)
    assert "张三".encode() in data and codec.decode(data) == value


def test_tab_names_come_back_as_a_tuple():
    assert codec.decode(codec.encode(TabNames(("张三", "lisi")))).names == ("张三", "lisi")

