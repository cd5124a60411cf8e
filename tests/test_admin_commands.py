"""The admin's commands (app.core.admin): the one parser both consoles use, and
`apply` against a real Hub with real ClientCore members joined over the
simulated network (tests/simnet.py); the results as the consoles word them
(app.ui.admin_text), and as they cross the console channel."""
import pytest
from simnet import SimNet

from app.core import admin, messages
from app.core import protocol as P
from app.core.admin import (
    Announced,
    Ban,
    BanList,
    Banned,
    Help,
    Kick,
    Kicked,
    ListBans,
    ListMembers,
    LogKind,
    MemberList,
    Motd,
    MotdIs,
    MotdSet,
    Mute,
    Muted,
    NoSuchMember,
    NotBanned,
    NotMuted,
    Quit,
    Say,
    Stats,
    StatsReport,
    Stopping,
    Unban,
    Unbanned,
    Unknown,
    Unmute,
    Unmuted,
    Usage,
)
from app.core.client_core import CLOSED, JOINED, REFUSED
from app.ui.admin_text import help_lines, result_lines, unknown_line, usage_line

CHAT = {P.EV_CHAT}


# ---------------------------------------------------------------- parse

@pytest.mark.parametrize("line, parsed", [
    ("", None), ("   \t ", None),
    ("下课前提交作业", Say("下课前提交作业")),
    ("  hello  world  ", Say("hello  world")),
    ("/list", ListMembers()), ("/who", ListMembers()), ("/LIST", ListMembers()),
    ("/bans", ListBans()), ("/stats", Stats()), ("/quit", Quit()), ("/help", Help()),
    ("/motd 欢迎来到实验室", Motd("欢迎来到实验室")), ("/motd", Motd("")),
    ("/kick 张三", Kick("张三", "")), ("/kick 张三 刷屏 太多", Kick("张三", "刷屏 太多")),
    ("/unban 10.0.0.5", Unban("10.0.0.5")), ("/unban lisi", Unban("lisi")),
    ("/unmute lisi", Unmute("lisi")),
    ("/ban lisi", Ban("lisi", 10, "")),
    ("/ban lisi 3", Ban("lisi", 3, "")),
    ("/ban lisi 3 noisy and rude", Ban("lisi", 3, "noisy and rude")),
    ("/ban lisi noisy", Ban("lisi", 10, "noisy")),          # no number: it is the reason
    ("/ban 10.0.0.5 0.5", Ban("10.0.0.5", 0.5, "")),
    ("/ban lisi 2h", Ban("lisi", 120, "")), ("/ban lisi 1d", Ban("lisi", 1440, "")),
    ("/ban lisi 30s spam", Ban("lisi", 0.5, "spam")), ("/mute lisi 10m", Mute("lisi", 10)),
    ("/ban lisi 0.01", Ban("lisi", admin.MIN_MINUTES, "")),  # at least MIN_MINUTES
    ("/mute lisi", Mute("lisi", 5)),
    ("/mute lisi 30", Mute("lisi", 30)),
    ("/mute lisi 30 because", Mute("lisi", 30)),           # a mute has no reason
    ("/kick", Usage("/kick")), ("/unban", Usage("/unban")), ("/unmute  ", Usage("/unmute")),
    ("/ban", Usage("/ban")), ("/mute", Usage("/mute")),
    ("/ban lisi 0", Usage("/ban")), ("/ban lisi -3", Usage("/ban")),
    ("/ban lisi 600000", Usage("/ban")), ("/mute lisi nan", Usage("/mute")),
    ("/mute lisi inf", Usage("/mute")),
    ("/frobnicate now", Unknown("/frobnicate")), ("/Kick\tx", Unknown("/kick\tx")),
])
def test_parse(line, parsed):
    assert admin.parse(line) == parsed


def test_defaults_are_the_ones_the_help_gives():
    assert (admin.DEFAULT_BAN_MINUTES, admin.DEFAULT_MUTE_MINUTES) == (10, 5)
    assert Ban("x") == Ban("x", admin.DEFAULT_BAN_MINUTES, "")
    assert Mute("x") == Mute("x", admin.DEFAULT_MUTE_MINUTES)
    assert "(default 10 min;" in help_lines("en")[3] and "(default 5 min)" in help_lines("en")[6]
    assert admin.parse("/ban x") == Ban("x") and admin.parse("/mute x") == Mute("x")


def test_parse_problems_are_worded_by_the_ui():
    assert usage_line(admin.parse("/kick"), "en") == "usage: /kick NAME [reason]"
    assert usage_line(admin.parse("/ban x 0"), "en") == "usage: /ban NAME|IP [time] [reason]"
    assert usage_line(admin.parse("/mute"), "en") == "usage: /mute NAME [time]"
    assert usage_line(admin.parse("/unban"), "en") == "usage: /unban NAME|IP"
    assert usage_line(admin.parse("/unmute"), "en") == "usage: /unmute NAME"
    assert unknown_line(admin.parse("/frobnicate"), "en") == \
        "unknown command /frobnicate; /help lists the commands"
    assert unknown_line(Unknown("/x"), "en", tab=True) == \
        "unknown command /x; /help lists the commands, Tab completes them"


def test_log_kinds_keep_their_words():
    assert [k.value for k in LogKind] == [
        "join", "leave", "timeout", "kick", "ban", "chat", "emote", "private", "admin",
        "resume", "refuse", "malformed", "throttle", "shutdown",
        "mute", "motd", "handout", "hand-in"]
    assert str(LogKind.CHAT) == "%s" % LogKind.CHAT == "chat" == LogKind.CHAT


# ---------------------------------------------------------------- apply

def room(seed, names=("a1", "b2")):
    net = SimNet(seed)
    return net, net.join_all(list(names))


def kinds(net):
    return [entry.what for entry in net.hub.take_log()]


def test_say_reaches_everyone_and_an_empty_one_nothing():
    net, (a, b) = room(1)
    assert admin.apply(net.hub, net.now, Say("下课")) == Announced(True)
    assert admin.apply(net.hub, net.now, Say("\x1b\x07")) == Announced(False)
    net.run(1.0)
    assert [e.text for e in net.room_events(b, {P.EV_ADMIN})] == ["下课"]
    assert result_lines(Announced(True), "en") == []


def test_kick_by_name_in_any_case_and_nobody_with_close_names():
    net, (a, b) = room(2, ("a1", "Bob"))
    net.hub.take_log()
    cooldown = net.hub.config.kick_cooldown / 60
    assert admin.apply(net.hub, net.now, Kick("BOB", "spam")) == Kicked("Bob", b[0], cooldown)
    net.run(2.0)
    assert net.clients[b].state in (CLOSED, REFUSED)
    assert [(e.name, e.code, e.text) for e in net.room_events(a, {P.EV_LEAVE})] == \
        [("Bob", P.LEAVE_KICKED, "spam")]
    assert LogKind.KICK in kinds(net)
    assert admin.apply(net.hub, net.now, Kick("nobody")) == NoSuchMember("nobody")
    assert admin.apply(net.hub, net.now, Kick("a2")) == NoSuchMember("a2", ("a1",))
    assert result_lines(NoSuchMember("nobody"), "en") == ["nobody called nobody is here"]
    assert result_lines(NoSuchMember("a2", ("a1",)), "en") == \
        ["nobody called a2 is here; did you mean a1?"]
    assert result_lines(Kicked("Bob", "10.0.0.5", 5), "en") == \
        ["kicked Bob; Bob and 10.0.0.5 refused for 5 minutes (/unban Bob lifts it)"]


def test_a_kicked_name_and_host_are_refused_for_the_cooldown_then_let_in():
    net, (a, b) = room(12, ("a1", "Bob"))
    admin.apply(net.hub, net.now, Kick("Bob"))
    _, same_name = net.add_client("bob")               # another address, the same name
    _, same_host = net.add_client("carol", ip=b[0])    # the same address, another name
    assert net.run_until(lambda: same_name.state == REFUSED and same_host.state == REFUSED, 10)
    assert same_name.refusal_coded.why == P.ReasonCode.KICKED
    assert same_name.refusal_coded.until == pytest.approx(net.now + 300, abs=15)
    net.run(net.hub.config.kick_cooldown + 2)
    _, later = net.add_client("Bob", ip=b[0])
    assert net.run_until(lambda: later.state == JOINED, 10)


def test_ban_by_name_removes_them_and_bans_their_address_too():
    net, (a, b) = room(3)
    result = admin.apply(net.hub, net.now, Ban("b2", 3, "noisy"))
    row = ("ban", "b2", ("b2",), (b[0],), (), 3, "noisy")
    assert result == Banned(row, ("b2",))
    assert result_lines(result, "en") == [
        "banned name b2 and address %s for 3 minutes; removed b2" % b[0]]
    log = net.hub.take_log()
    assert [(e.what, e.name, e.detail) for e in log if e.addr == "console"] == \
        [(LogKind.BAN, "b2", "3 min noisy")]
    net.run(1.0)
    assert [e.code for e in net.room_events(a, {P.EV_LEAVE})] == [P.LEAVE_BANNED]
    _, again = net.add_client("b2")                 # another address, the same name
    assert net.run_until(lambda: again.state == REFUSED, 10)
    assert "3 more minutes (noisy)" in again.refusal[1]
    assert again.refusal_coded == P.Reason(P.ReasonCode.BANNED_NAME,
                                           pytest.approx(net.now + 180, abs=5), "noisy")
    listing = admin.apply(net.hub, net.now, ListBans())
    assert listing == BanList((row,), ())
    assert result_lines(listing, "en") == \
        ["ban b2: name b2 and address %s, 3 min left (noisy)" % b[0]]


def test_unban_lifts_exactly_what_that_ban_added():
    net, (a, b) = room(13)
    admin.apply(net.hub, net.now, Ban(b[0], 10, "the whole machine"))   # its own ban
    admin.apply(net.hub, net.now, Ban("a1", 10))      # name a1 and a1's address
    lifted = admin.apply(net.hub, net.now, Unban("A1"))
    assert lifted == Unbanned("A1", (("ban", "a1", ("a1",), (a[0],), (), 10, ""),))
    assert result_lines(lifted, "en") == ["lifted the ban on name a1 and address %s" % a[0]]
    assert admin.apply(net.hub, net.now, ListBans()).bans == \
        (("ban", b[0], (), (b[0],), (), 10, "the whole machine"),)
    _, back = net.add_client("a1", ip=a[0])
    assert net.run_until(lambda: back.state == JOINED, 10)
    assert admin.apply(net.hub, net.now, Unban("a1")) == NotBanned("a1")
    assert result_lines(NotBanned("x"), "en") == ["x is not banned (/bans lists the bans)"]


def test_ban_of_a_name_nobody_has_and_of_an_address():
    net, (a, b) = room(4)
    absent = admin.apply(net.hub, net.now, Ban("ghost", 10, ""))
    assert absent == Banned(("ban", "ghost", ("ghost",), (), (), 10, ""), (), True)
    assert result_lines(absent, "en") == ["banned name ghost for 10 minutes", "(nobody called "
                                    "ghost is here; the name is banned all the same)"]
    by_ip = admin.apply(net.hub, net.now, Ban("::ffff:" + a[0], 0.5, ""))
    assert by_ip == Banned(("ban", a[0], (), (a[0],), (), 1, ""), ("a1",))
    assert result_lines(by_ip, "en") == ["banned address %s for 1 minutes; removed a1" % a[0]]
    net.run(1.0)
    assert net.clients[a].state in (CLOSED, REFUSED) and net.clients[b].state == JOINED
    assert isinstance(admin.apply(net.hub, net.now, Unban(a[0])), Unbanned)
    assert isinstance(admin.apply(net.hub, net.now, Unban("GHOST")), Unbanned)
    assert admin.apply(net.hub, net.now, Unban("ghost")) == NotBanned("ghost")
    assert admin.apply(net.hub, net.now, ListBans()) == BanList((), ())
    assert result_lines(BanList((), ()), "en") == ["no bans, no mutes"]
    _, back = net.add_client("a1", ip=a[0])
    assert net.run_until(lambda: back.state == JOINED, 10)


def test_mute_then_unmute_and_the_member_is_told_both():
    net, (a, b) = room(5)
    assert admin.apply(net.hub, net.now, Mute("B2")) == Muted("b2", 5)
    assert admin.apply(net.hub, net.now, Mute("nobody")) == NoSuchMember("nobody")
    assert result_lines(Muted("B2", 5), "en") == ["muted B2 for 5 minutes"]
    net.clients[b].say("can you hear me")
    net.run(1.0)
    assert net.room_events(a, CHAT) == []
    notices = net.room_events(b, {P.EV_NOTICE})
    assert [e.code for e in notices] == [P.NOTICE_MUTED, P.NOTICE_MUTED]
    assert notices[0].origin == int(net.hub.moderation.muted(net.now, "b2").until)
    assert admin.apply(net.hub, net.now, ListBans()) == BanList((), (("b2", 5),))
    assert result_lines(BanList((), (("B2", 5),)), "en") == ["mute B2: 5 min left"]
    assert admin.apply(net.hub, net.now, Unmute("b2")) == Unmuted("b2")
    assert admin.apply(net.hub, net.now, Unmute("b2")) == NotMuted("b2")
    assert result_lines(Unmuted("b2"), "en") == ["unmuted b2"]
    assert result_lines(NotMuted("b2"), "en") == ["b2 is not muted"]
    net.run(1.0)
    assert net.room_events(b, {P.EV_NOTICE})[-1].code == P.NOTICE_UNMUTED
    net.clients[b].say("back")
    net.run(1.0)
    assert [e.text for e in net.room_events(a, CHAT)] == ["back"]


def test_a_muted_member_who_comes_back_is_told_at_once():
    net, (a, b) = room(15)
    admin.apply(net.hub, net.now, Mute("b2", 10))
    net.run(1.0)
    net.clients[b].leave(net.now)
    net.run(2.0)
    _, back = net.add_client("b2")
    assert net.run_until(lambda: back.state == JOINED, 10)
    net.run(1.0)
    assert [e.code for e in net.events[_] if getattr(e, "kind", None) == P.EV_NOTICE] == \
        [P.NOTICE_MUTED]


def test_a_mute_that_runs_out_is_told_too():
    net, (a, b) = room(14)
    admin.apply(net.hub, net.now, Mute("b2", 0.5))
    net.run(32.0)
    assert [e.code for e in net.room_events(b, {P.EV_NOTICE})] == \
        [P.NOTICE_MUTED, P.NOTICE_UNMUTED]
    assert admin.apply(net.hub, net.now, ListBans()) == BanList((), ())
    from app.ui.admin_text import log_body

    mutes = [e for e in net.hub.take_log() if e.what == LogKind.MUTE]
    assert [log_body(e, "en")[0] for e in mutes] == ["b2 muted for 0.5 minutes", "b2's mute is over"]
    admin.apply(net.hub, net.now, Motd("欢迎"))
    admin.apply(net.hub, net.now, Motd("-"))
    assert [log_body(e, "en")[0] for e in net.hub.take_log() if e.what == LogKind.MOTD] == \
        ["motd changed", "motd cleared"]


def test_motd_is_made_safe_shown_to_joiners_shown_alone_and_cleared_with_a_dash():
    net, _ = room(6)
    assert admin.apply(net.hub, net.now, Motd("  欢迎\x1b[31m  ")) == MotdSet("欢迎[31m")
    assert result_lines(MotdSet("欢迎"), "en") == ["motd: 欢迎"]
    c, = net.join_all(["c3"])
    net.run(1.0)
    assert [e.text for e in net.events[c] if getattr(e, "code", None) == P.NOTICE_MOTD] == \
        ["欢迎[31m"]
    assert admin.apply(net.hub, net.now, Motd("")) == MotdIs("欢迎[31m")
    assert net.hub.motd == "欢迎[31m"
    assert admin.apply(net.hub, net.now, Motd("-")) == MotdSet("")
    assert result_lines(MotdSet(""), "en") == ["motd: (none)"]
    assert admin.apply(net.hub, net.now, Motd("")) == MotdIs("")


def test_list_and_stats():
    net, (a, b) = room(7)
    net.clients[a].say("hi")
    net.run(1.0)
    listed = admin.apply(net.hub, net.now, ListMembers())
    assert isinstance(listed, MemberList)
    assert [(name, addr, said, muted) for name, addr, _, said, muted in listed.rows] == \
        [("a1", "%s:%d" % a, 1, False), ("b2", "%s:%d" % b, 0, False)]
    assert all(0 <= idle <= 2 for _, _, idle, _, _ in listed.rows)
    assert result_lines(MemberList((("a1", "10.0.1.1:40000", 3, 1, False),)), "en") == \
        ["1 online", "  a1  10.0.1.1:40000  idle 3s  said 1"]
    stats = admin.apply(net.hub, net.now, Stats())
    assert isinstance(stats, StatsReport) and stats.online == 2
    counters = dict(stats.counters)
    assert (counters["joins"], counters["messages"]) == (2, 1)
    assert [name for name, _ in stats.counters] == sorted(counters)
    assert result_lines(StatsReport(2, (("joins", 2), ("messages", 1))), "en") == \
        ["online 2; joins 2, messages 1"]


def test_quit_is_stopping_and_the_room_is_untouched():
    net, _ = room(8)
    assert admin.apply(net.hub, net.now, Quit()) == Stopping()
    assert len(net.hub.members()) == 2 and result_lines(Stopping(), "en") == []
    assert result_lines(admin.CommandFailed("KeyError('x')"), "en") == \
        ["that command failed (a bug in the program); the error:", "KeyError('x')"]


def test_file_commands_parse_and_are_worded():
    assert admin.parse("/send /tmp/讲义 1.pdf") == admin.SendFile("/tmp/讲义 1.pdf")
    assert admin.parse("/send") == Usage("/send")
    assert admin.parse("/hand-ins") == admin.ListHandIns()
    assert result_lines(admin.FileQueued("讲义.pdf", 1_200_000, 3), "en") == [
        "handing out 讲义.pdf (1.2 MB) to 3 online, and to whoever joins within --file-ttl"]
    assert result_lines(admin.HandInList((), ("lisi", "张三")), "en") == [
        "no hand-ins yet", "online without a hand-in: lisi, 张三"]


def test_apply_refuses_what_is_not_a_command():
    net, _ = room(9, ())
    with pytest.raises(TypeError):
        admin.apply(net.hub, net.now, Help())


# ---------------------------------------------------------------- the channel

COMMANDS = [Say("大家好"), Kick("张三", "刷屏"), Ban("10.0.0.5", 2.5, "x"), Unban("lisi"),
            ListBans(), Mute("lisi", 5), Unmute("lisi"), Motd(""), ListMembers(), Stats(),
            Quit(), admin.SendFile("/tmp/讲义 1.pdf"), admin.ListHandIns()]
BAN_ROW = ("ban", "b2", ("b2",), ("::1",), (), 3, "x")
RESULTS = [Announced(True), Kicked("张三", "10.0.0.5", 5), NoSuchMember("x", ("y",)),
           Banned(BAN_ROW, ("b2",), True, ("b3",)), Unbanned("x", (BAN_ROW,)), NotBanned("x"),
           BanList((BAN_ROW,), (("c", 1),)), Muted("x", 5), Unmuted("x"), NotMuted("x"),
           MotdSet("欢迎"), MotdIs(""),
           MemberList((("a", "1.2.3.4:5", 1, 2, True),)), StatsReport(1, (("joins", 1),)),
           Stopping(), admin.CommandFailed("boom"), admin.FileQueued("讲义.pdf", 1200000, 3),
           admin.FileNotSent("cannot open x: No such file or directory"),
           admin.HandInList((("张三", "20261205-101500-a.py", 300, 1.5e9, "ab" * 32),), ("lisi",))]


def test_every_command_and_result_crosses_the_channel_unchanged():
    assert {type(c) for c in COMMANDS} == set(admin.COMMAND_TYPES)
    assert {type(r) for r in RESULTS} == set(admin.RESULT_TYPES)
    for command in COMMANDS:
        assert messages.decode(messages.encode(command)) == command
    for result in RESULTS:
        back = messages.decode(messages.encode(result))
        assert back == result and result_lines(back, "en") == result_lines(result, "en")


def test_a_command_of_another_build_is_not_a_message():
    with pytest.raises(messages.MessageError):
        messages.decode(b'{"t":"app.core.admin.Reboot"}')
    with pytest.raises(messages.MessageError):
        messages.decode(b'{"t":"app.core.admin.Kick","name":"only a name"}')


def test_refusals_are_logged_coded_for_the_console_to_word():
    """The hub logs why it refused in admin.refuse_detail's form (whatever the
    client asked for on the wire), and the console words it in its language."""
    from app.ui.admin_text import log_body

    net, (a, b) = room(14, ("a1", "Bob"))
    admin.apply(net.hub, net.now, Ban("Bob", 3, "rude"))
    net.hub.take_log()
    _, again = net.add_client("bob")
    _, twin = net.add_client("a1")
    assert net.run_until(lambda: all(c.state == REFUSED for c in (again, twin)), 10)
    refused = {e.name: e for e in net.hub.take_log() if e.what == LogKind.REFUSE}
    why, until, words = admin.parse_refuse_detail(refused["bob"].detail)
    assert (why, words) == ("banned_name", "rude")
    assert until == pytest.approx(net.now + 180, abs=5)
    assert admin.parse_refuse_detail(refused["a1"].detail) == ("taken", 0, "a1")
    assert log_body(refused["bob"], "zh")[0] == \
        "拒绝了 bob (来自 %s)：名字被封禁，还有 3 分钟 (原因: rude)" % refused["bob"].addr
    assert log_body(refused["a1"], "en")[0] == \
        "refused a1 from %s: the name is taken by a1" % refused["a1"].addr
