"""Our own lines while the server is away (LinePending, LineSettled) and the
server's farewell (kicked, banned, closing), on the pure core over the
simulated network (tests/simnet.py): deterministic, milliseconds."""
import pytest
from simnet import SimNet

from app.core import protocol as P
from app.core.client_core import (CLOSED, JOINED, RECONNECTING, LinePending, LineSettled,
                                  Status)

CHAT = {P.EV_CHAT}


def own(net, addr):
    """What the client reported about its own lines, in order: pending, settled,
    and the echo of its own chat lines."""
    client = net.clients[addr]
    out = []
    for e in net.events[addr]:
        if isinstance(e, LinePending):
            out.append(("pending", e.msg_id, e.text))
        elif isinstance(e, LineSettled):
            out.append(("settled", e.msg_id, e.delivered))
        elif isinstance(e, P.Event) and e.origin == client.instance and e.kind in (
                P.EV_CHAT, P.EV_EMOTE, P.EV_PRIVATE):
            out.append(("echo", e.msg_id, e.text))
        elif isinstance(e, P.Event) and e.kind == P.EV_NOTICE:
            out.append(("notice", e.code))
    return out


def test_a_line_said_while_joined_is_never_pending():
    net = SimNet(1, loss=0.05)
    zhang, _ = net.join_all(["张三", "lisi"])
    net.clients[zhang].say("hello")
    net.run(2.0)
    assert own(net, zhang) == [("echo", 1, "hello")]


def test_a_pasted_paragraph_held_by_flood_control_is_never_pending():
    net = SimNet(7)
    zhang, li = net.join_all(["张三", "lisi"])
    for i in range(45):                   # past the burst: the last ones wait at the server
        net.clients[zhang].say("line %d" % i)
    net.run(10.0)
    assert [e.code for e in net.room_events(zhang, {P.EV_NOTICE})] == [P.NOTICE_THROTTLED]
    # Acknowledged at once, echoed over seconds: the server has them, no mark.
    assert not [x for x in own(net, zhang) if x[0] in ("pending", "settled")]
    assert [x for x in own(net, zhang) if x[0] == "echo"] == [
        ("echo", i + 1, "line %d" % i) for i in range(45)]
    assert len(net.room_events(li, CHAT)) == 45


def test_a_line_the_silent_server_never_acknowledged_is_pending_after_a_second():
    net = SimNet(8)
    zhang, li = net.join_all(["张三", "lisi"])
    client = net.clients[zhang]
    net.cut.add(zhang)                    # the server went quiet (crashed, cable pulled)
    client.say("anyone?")
    said_at = net.now
    assert net.run_until(lambda: own(net, zhang), 5)
    assert client.state == JOINED         # long before the 8 s that prove it gone
    assert own(net, zhang) == [("pending", 1, "anyone?")]
    assert 1.0 <= net.now - said_at < 1.5
    net.cut.discard(zhang)
    assert net.run_until(lambda: len(own(net, zhang)) == 3, 15)
    assert own(net, zhang) == [("pending", 1, "anyone?"), ("settled", 1, True),
                               ("echo", 1, "anyone?")]
    net.run(2.0)
    assert [e.text for e in net.room_events(li, CHAT)] == ["anyone?"]


def test_a_line_echoed_whose_ack_was_lost_is_not_pending_again():
    net = SimNet(9)
    zhang, _ = net.join_all(["张三", "lisi"])
    client = net.clients[zhang]
    transmit = net._transmit

    def only_room_datagrams_reach_zhang(src, dst, data, leaves=None):
        if dst != zhang or data[:6] in (P.ROOM_PREFIX, P.ROOM_RUN_PREFIX):
            transmit(src, dst, data, leaves)

    net._transmit = only_room_datagrams_reach_zhang     # the echo comes, the acks never
    client.say("seen by all")
    assert net.run_until(lambda: client.state == RECONNECTING, 15)
    assert own(net, zhang) == [("echo", 1, "seen by all")] and client.stream.queued
    net._transmit = transmit
    assert net.run_until(lambda: client.state == JOINED, 10)
    net.run(2.0)
    assert own(net, zhang) == [("echo", 1, "seen by all")]


def test_lines_said_while_the_server_is_away_are_pending_then_delivered_once():
    net = SimNet(2, loss=0.1)
    zhang, li = net.join_all(["张三", "lisi"])
    client = net.clients[zhang]
    client.say("before")
    net.run(1.0)
    net.restart_server()                  # the room is gone; the client learns it by RESET
    assert net.run_until(lambda: client.state == RECONNECTING, 20)
    net.events[zhang].clear()
    client.say("during 1")
    client.say("waves", P.EMOTE)
    net._pump()
    # Reported at once, before any reconnect.
    assert client.state == RECONNECTING
    assert own(net, zhang) == [("pending", 2, "during 1"), ("pending", 3, "waves")]
    assert net.run_until(lambda: client.state == JOINED and not client.unsettled, 60)
    net.run(2.0)
    assert own(net, zhang) == [("pending", 2, "during 1"), ("pending", 3, "waves"),
                               ("settled", 2, True), ("echo", 2, "during 1"),
                               ("settled", 3, True), ("echo", 3, "waves")]
    # The room saw each once.
    assert [e.text for e in net.room_events(li, CHAT)].count("during 1") == 1


def test_a_line_left_unacknowledged_when_the_server_went_silent_becomes_pending():
    net = SimNet(3)
    zhang, li = net.join_all(["张三", "lisi"])
    client = net.clients[zhang]
    net.cut.add(zhang)
    client.say("typed while cut off")
    assert net.run_until(lambda: client.state == RECONNECTING, 15)
    assert own(net, zhang) == [("pending", 1, "typed while cut off")]
    net.cut.discard(zhang)                # back before the server gave up: resumed
    assert net.run_until(lambda: client.state == JOINED, 10)
    net.run(2.0)
    assert own(net, zhang) == [("pending", 1, "typed while cut off"), ("settled", 1, True),
                               ("echo", 1, "typed while cut off")]
    assert [e.text for e in net.room_events(li, CHAT)] == ["typed while cut off"]


def test_a_pending_line_that_goes_nowhere_is_settled_undelivered_before_the_notice():
    net = SimNet(4)
    zhang, _ = net.join_all(["张三", "lisi"])
    client = net.clients[zhang]
    net.cut.add(zhang)
    assert net.run_until(lambda: client.state == RECONNECTING, 15)
    net.hub.moderation.mute(net.now, "张三", 5)
    client.say("can you hear me")
    net.cut.discard(zhang)
    assert net.run_until(lambda: client.state == JOINED, 10)
    net.run(2.0)
    assert own(net, zhang) == [("pending", 1, "can you hear me"), ("settled", 1, False),
                               ("notice", P.NOTICE_MUTED)]
    assert not client.unsettled


def settled_after_the_outage(seed, *lines):
    """Say `lines` ((text, kind, target)) while the server is away; the
    LineSettled reports after the return, in order."""
    net = SimNet(seed)
    zhang, _ = net.join_all(["张三", "lisi"])
    client = net.clients[zhang]
    net.cut.add(zhang)
    assert net.run_until(lambda: client.state == RECONNECTING, 15)
    for line, kind, target in lines:
        client.say(line, kind, target)
    net.cut.discard(zhang)
    assert net.run_until(lambda: client.state == JOINED, 10)
    net.run(2.0)
    assert not client.unsettled
    return [entry[1:] for entry in own(net, zhang) if entry[0] == "settled"]


def test_no_such_person_settles_only_the_private_line_to_that_name():
    for seed in range(6):
        settled = settled_after_the_outage(seed, ("for everyone", P.SAY, ""),
                                           ("psst", P.PRIVATE, "nobody"))
        assert sorted(settled) == [(1, True), (2, False)], seed


def test_a_line_settled_undelivered_by_anothers_notice_is_corrected_by_its_echo():
    """Notices carry no msg_id: a "rejected" for one line settles every
    acknowledged line still waiting, also one whose echo is on its way in the
    room stream (usually behind the notice); that echo settles it again, as
    delivered."""
    corrected = 0
    for seed in range(6):
        settled = settled_after_the_outage(seed, ("for everyone", P.SAY, ""),
                                           (" \x07 ", P.SAY, ""))     # empty once made safe
        assert dict(settled) == {1: True, 2: False}, seed    # the last word on each
        corrected += (1, False) in settled
    assert corrected                       # the race happened, and was repaired


def test_kicked_and_banned_keep_the_servers_farewell():
    net = SimNet(5)
    a, b, c = net.join_all(["a1", "b2", "c3"])
    assert net.clients[a].farewell is None
    assert net.hub.kick(net.now, "b2", "spam")
    net.hub.ban(net.now, "c3", 10, "rude")
    assert net.run_until(lambda: net.clients[b].state == CLOSED
                         and net.clients[c].state == CLOSED, 10)
    net.run(1.0)                          # the BYE's repeats change nothing
    assert net.clients[b].farewell == (P.BYE_KICKED, "kicked by the admin: spam")
    assert net.clients[b].farewell_coded == P.Reason(
        P.ReasonCode.KICKED, pytest.approx(net.now + 300, abs=5), "spam")
    assert net.clients[c].farewell == (P.BYE_BANNED, "you are banned for 10 more minutes (rude)")
    assert net.clients[c].farewell_coded.why == P.ReasonCode.BANNED_NAME
    statuses = [e for e in net.events[b] if isinstance(e, Status) and e.state == CLOSED]
    assert len(statuses) == 1


def test_the_servers_closing_is_kept_until_welcomed_again():
    net = SimNet(6)
    (a,) = net.join_all(["a1"])
    client = net.clients[a]
    client.on_datagram(net.now, P.encode_header(P.BYE, client.session_id)
                       + P.encode_bye(P.BYE_SERVER_CLOSING, "the server is closing"))
    assert client.state == RECONNECTING
    assert client.farewell == (P.BYE_SERVER_CLOSING, "the server is closing")
    assert net.run_until(lambda: client.state == JOINED, 10)
    assert client.farewell is None


# ------------------------------------------------------------ the words and the pane

def test_farewell_words_say_what_happened_and_what_to_do():
    import time as _time

    from app.ui import render

    now = 1700000000.0                    # 22:13 UTC
    words = lambda code, reason, lang="zh", coded=None: render.farewell_text(
        (code, reason), lang, now, _time.gmtime, coded)
    kicked = P.Reason(P.ReasonCode.KICKED, now + 300, "刷屏")
    assert words(P.BYE_KICKED, "kicked by the admin: 刷屏", coded=kicked) == \
        "你被管理员移出了聊天室 (原因: 刷屏)。22:18 以后可以重新运行客户端加入"
    assert words(P.BYE_KICKED, "x", "en", kicked._replace(words="")) == \
        "The admin removed you from the room. You may start the client again after 22:18"
    banned = P.Reason(P.ReasonCode.BANNED_NAME, now + 600, "rude")
    assert words(P.BYE_BANNED, "you are banned for 10 more minutes (rude)", coded=banned) == \
        "你被管理员禁止进入聊天室，到 22:23 为止 (原因: rude)。之后可以重新运行客户端加入"
    tomorrow = P.Reason(P.ReasonCode.BANNED_HOST, now + 86400, "")
    assert words(P.BYE_BANNED, "", "en", tomorrow) == \
        "The admin banned you from the room until 11-15 22:13. You may start the client " \
        "again after that"
    # From a server without coded reasons: its words shown whole, no English parsed.
    assert words(P.BYE_KICKED, "kicked by the admin: spam", "en") == \
        "The admin removed you from the room (reason: kicked by the admin: spam). You may " \
        "start the client again in a while"
    assert words(P.BYE_BANNED, "odd \x1b[2J") == \
        "你被管理员禁止进入聊天室 (原因: odd [2J)。禁令结束后可以重新运行客户端加入"
    assert words(P.BYE_SERVER_CLOSING, "the server is closing").startswith("服务器已关闭。")
    assert render.farewell_text(None, "zh", now) == ""


def test_refusal_words_say_what_the_ban_covers_and_until_when():
    import time as _time

    from app.ui import render

    now = 1700000000.0
    refused = lambda why, lang="zh", words="": render.refusal_reason(
        (P.REFUSE_BANNED, "you are banned"), lang, P.Reason(why, now + 600, words), "lisi",
        now, _time.gmtime)
    assert refused(P.ReasonCode.KICKED, words="刷屏") == \
        "你刚被管理员移出聊天室 (原因: 刷屏)，22:23 以后才能再加入"
    assert refused(P.ReasonCode.BANNED_NAME) == "名字 lisi 被管理员禁止进入聊天室，到 22:23 为止"
    assert refused(P.ReasonCode.BANNED_HOST, "en") == \
        "The admin banned your computer from the room until 22:23; another name will not help"
    assert refused(P.ReasonCode.BANNED_KEY, "en").startswith("The admin banned your client")
    assert render.refusal_reason((P.REFUSE_BANNED, "you are banned"), "zh") == \
        "你已被禁止进入 (you are banned)"       # an older server: its details kept


def test_a_pending_line_is_dim_and_marked_and_can_be_replaced_in_place():
    from app.ui import render
    from app.ui.messages_view import MessagesView

    line = render.pending_line(P.SAY, "hi", "", "zh", "me", 1700000000.0, localtime=_gmtime)
    assert "".join(t for t, _ in line) == "[22:13] me : hi (待发送)"
    assert {style for _, style in line} == {"pending"}
    view = MessagesView(20, 5)
    view.add([("a", "")])
    number = view.add(line)
    view.add([("b", "")])
    assert view.replace(number, [("me : hi", "text")])
    assert ["".join(t for t, _ in row) for row in view.rows()] == ["a", "me : hi", "b"]
    view2 = MessagesView(20, 5, capacity=2)
    gone = view2.add([("old", "")])
    view2.add([("1", "")])
    view2.add([("2", "")])
    assert not view2.replace(gone, [("new", "")])      # scrolled off: nothing replaced


def _gmtime(when):
    import time as _time
    return _time.gmtime(when)
