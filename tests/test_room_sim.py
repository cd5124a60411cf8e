"""Whole-room scenarios on the pure core (Hub + ClientCores) over a simulated,
faulty network: deterministic, simulated time, milliseconds of real time."""
import random

import pytest
from simnet import SimNet

from app.core import protocol as P
from app.core.client_core import JOINED, RECONNECTING, REFUSED, valid_name
from app.core.hub import HubConfig

CHAT = {P.EV_CHAT}


def joined(net, *addrs):
    return lambda: all(net.clients[a].state == JOINED for a in addrs)


def chat_keys(net, addr):
    return [(e.origin, e.msg_id) for e in net.room_events(addr, CHAT)]


def room(net, names):
    return net.join_all(names)


@pytest.mark.parametrize("seed", range(6))
def test_lossy_room_delivers_everything_once_in_one_order(seed):
    net = SimNet(seed, loss=0.3, dup=0.05, delay=(0.0005, 0.03))
    addrs = room(net, ["张三", "lisi", "wang"])
    net.chatter(addrs, 500, seed, pause_every=50)
    assert net.run_until(lambda: all(len(chat_keys(net, a)) >= 500 for a in addrs), 600)
    net.run(2.0)
    orders = [chat_keys(net, a) for a in addrs]
    assert len(set(orders[0])) == 500                # no duplicates
    assert orders[0] == orders[1] == orders[2]       # one order everywhere
    texts = [e.text for e in net.room_events(addrs[0], CHAT)]
    for sender in addrs:                            # each sender's lines in its own order
        mine = [int(t.split()[1]) for t, k in zip(texts, orders[0])
                if k[0] == net.clients[sender].instance]
        assert mine == sorted(mine)


def test_course_features_join_chat_leave_admin():
    net = SimNet(1)
    (zhang,) = room(net, ["张三"])
    (li,) = room(net, ["lisi"])
    net.clients[zhang].say("大家好")
    net.run(1.0)
    net.hub.admin_say(net.now, "下课前提交作业")
    net.run(1.0)
    net.clients[li].leave(net.now)
    net.run(1.0)
    seen = [(e.kind, e.name, e.text, e.code) for e in net.room_events(zhang)]
    assert (P.EV_JOIN, "lisi", "", 0) in seen
    assert (P.EV_CHAT, "张三", "大家好", 0) in seen          # the server echoes to the sender
    assert (P.EV_ADMIN, "", "下课前提交作业", 0) in seen
    assert (P.EV_LEAVE, "lisi", "", P.LEAVE_QUIT) in seen
    assert [e.text for e in net.room_events(li, CHAT)] == ["大家好"]


def test_taken_name_is_refused_with_a_reason_and_can_retry():
    net = SimNet(2)
    room(net, ["张三"])
    addr, other = net.add_client("张三")
    assert net.run_until(lambda: other.state == REFUSED, 30)
    assert other.refusal[0] == P.REFUSE_NAME_TAKEN and "taken" in other.refusal[1]
    other.rename("李四", net.now)
    assert net.run_until(lambda: other.state == JOINED, 30)
    assert other.name == "李四"


@pytest.mark.parametrize("name,code", [
    ("admin", P.REFUSE_NAME_INVALID), ("管理员", P.REFUSE_NAME_INVALID),
    ("x\x1b[31m", P.REFUSE_NAME_INVALID), ("a" * 17, P.REFUSE_NAME_INVALID),
    ("ＺＨＡＮＧ", P.REFUSE_NAME_TAKEN),        # NFKC + casefold: the same as "zhang"
    ("zhаng", P.REFUSE_NAME_TAKEN),             # Cyrillic а: looks like "zhang"
])
def test_bad_and_lookalike_names_are_refused(name, code):
    net = SimNet(3)
    room(net, ["zhang"])
    _, client = net.add_client("placeholder")
    if code == P.REFUSE_NAME_INVALID:
        with pytest.raises(ValueError):
            valid_name(name)                       # our client does not even send it
    client.name = name                             # ... but another client might
    assert net.run_until(lambda: client.state == REFUSED, 30)
    assert client.refusal[0] == code and client.refusal[1]


def test_silent_client_times_out_and_frees_its_name():
    net = SimNet(4)
    zhang, li = room(net, ["张三", "lisi"])
    net.remove_client(li)                          # kill -9
    start = net.now
    assert net.run_until(lambda: any(e.kind == P.EV_LEAVE for e in net.room_events(zhang)), 30)
    leave = [e for e in net.room_events(zhang) if e.kind == P.EV_LEAVE][0]
    assert leave.name == "lisi" and leave.code == P.LEAVE_TIMEOUT
    assert net.now - start <= 15
    _, again = net.add_client("lisi")
    assert net.run_until(lambda: again.state == JOINED, 10)


def test_server_restart_clients_rejoin_nothing_lost_or_doubled():
    net = SimNet(5, loss=0.1)
    zhang, li = room(net, ["张三", "lisi"])
    net.clients[zhang].say("before")
    net.run(1.0)
    net.restart_server()                           # the room is gone, clients are not
    net.clients[zhang].say("during 1")
    net.clients[zhang].say("during 2")
    assert net.run_until(lambda: net.hub.stats["joins"] == 2 and
                         joined(net, zhang, li)(), 60)
    net.clients[li].say("after")
    net.run(3.0)
    expected = ["before", "during 1", "during 2", "after"]
    assert [e.text for e in net.room_events(li, CHAT)] == expected
    assert [e.text for e in net.room_events(zhang, CHAT)] == expected


def test_partition_then_resume_takes_over_the_session_silently():
    net = SimNet(6)
    zhang, li = room(net, ["张三", "lisi"])
    net.cut.add(li)
    net.clients[zhang].say("while you were away")
    net.clients[li].say("typed while cut off")
    assert net.run_until(lambda: net.clients[li].state == RECONNECTING, 15)
    net.cut.discard(li)                            # back before the server gave up
    assert net.run_until(lambda: net.clients[li].state == JOINED, 10)
    net.run(2.0)
    assert [e.text for e in net.room_events(li, CHAT)] == ["while you were away",
                                                          "typed while cut off"]
    assert [e.text for e in net.room_events(zhang, CHAT)] == ["while you were away",
                                                             "typed while cut off"]
    assert not any(e.kind == P.EV_LEAVE for e in net.room_events(zhang))


def test_newcomer_gets_last_lines_as_history_without_join_noise():
    net = SimNet(7, config=HubConfig(history_lines=20))
    (zhang,) = room(net, ["张三"])
    for i in range(30):
        net.clients[zhang].say("old %d" % i)
    net.run(2.0)
    net.hub.admin_say(net.now, "notice")
    late, _ = net.add_client("late")
    assert net.run_until(joined(net, late), 10)
    net.run(1.0)
    events = net.room_events(late)
    history = [e for e in events if e.flags & P.EVF_HISTORY]
    assert [e.text for e in history] == ["old %d" % i for i in range(11, 30)] + ["notice"]
    assert events.index(history[-1]) < min(i for i, e in enumerate(events)
                                           if e.kind == P.EV_JOIN)


def test_private_message_reaches_only_its_recipient():
    net = SimNet(8)
    a, b, c = room(net, ["a1", "b2", "c3"])
    net.clients[a].say("psst", P.PRIVATE, "b2")
    net.clients[a].say("hello?", P.PRIVATE, "nobody")
    net.run(1.0)
    assert [(e.name, e.target, e.text) for e in net.room_events(b, {P.EV_PRIVATE})] == [
        ("a1", "b2", "psst")]
    assert net.room_events(c, {P.EV_PRIVATE}) == []
    assert [e.code for e in net.room_events(a, {P.EV_NOTICE})] == [P.NOTICE_NO_SUCH_USER]


def test_who_lists_everyone():
    net = SimNet(9)
    a, _, _ = room(net, ["甲", "乙", "丙"])
    net.clients[a].who()
    net.run(1.0)
    (who,) = net.room_events(a, {P.EV_WHO})
    assert sorted(who.text.split("\n")) == sorted(["甲", "乙", "丙"])


def test_kick_removes_and_blocks_the_auto_reconnect():
    net = SimNet(10)
    a, b = room(net, ["a1", "b2"])
    assert net.hub.kick(net.now, "b2", "spam")
    net.run(3.0)
    assert net.clients[b].state in ("closed", "refused")
    assert [(e.name, e.code) for e in net.room_events(a, {P.EV_LEAVE})] == [("b2", P.LEAVE_KICKED)]


def test_stuck_client_is_dropped_at_the_queue_cap():
    net = SimNet(11, config=HubConfig(queue_cap=50, msg_burst=100))
    a, b = room(net, ["a1", "b2"])
    net.cut.add(b)                                 # b stops acking
    for i in range(60):
        net.clients[a].say("x%d" % i)
    net.run(3.0)
    assert "b2" not in [s.name for s in net.hub.members()]


def test_unverified_addresses_never_get_more_bytes_than_they_sent():
    net = SimNet(12)
    rng = random.Random(12)
    samples = [
        P.encode_header(P.HELLO) + P.encode_hello(P.Hello(b"n" * 8, bytes(16), b"i" * 8,
                                                          b"t" * 16, 0, 0, "x")),
        P.encode_header(P.DATA, 5) + b"junk",
        P.encode_header(P.PING, 5), P.encode_header(P.BYE, 5),
        b"CZ\x09\x01" + bytes(30),                 # another protocol version
    ]
    for i in range(3000):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randrange(4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data[:rng.randrange(len(data) + 1)] if rng.random() < 0.3 else data)
        addr = ("192.0.2.%d" % (i % 250), 1000 + i)
        net.hub.on_datagram(net.now, data, addr)
        for reply, to in net.hub.take_output():
            assert to == addr and len(reply) <= len(data)
    assert net.hub.by_addr == {}                   # no state kept for any of them
    assert net.hub.stats["malformed"] > 0


def test_nobody_can_claim_another_clients_public_instance():
    net = SimNet(13)
    (victim,) = room(net, ["victim"])
    addr, impostor = net.add_client("impostor")
    impostor.instance_bytes = net.clients[victim].instance_bytes   # copied from events
    net.run(3.0)
    assert impostor.state != JOINED
    assert net.hub.stats["malformed"] > 0


def test_a_pasted_paragraph_is_not_throttled():
    net = SimNet(14)
    a, b = room(net, ["a1", "b2"])
    for i in range(20):
        net.clients[a].say("paste line %d" % i)
    net.run(1.0)
    assert len(net.room_events(b, CHAT)) == 20
    assert net.room_events(a, {P.EV_NOTICE}) == []


def test_a_flooder_is_slowed_visibly_loses_nothing_and_others_stay_fast():
    net = SimNet(15, config=HubConfig(msg_rate=5, msg_burst=30, hold_cap=50))
    flooder, quiet, listener = room(net, ["flood", "quiet", "listen"])
    for i in range(300):
        net.clients[flooder].say("spam %d" % i)
    net.run(2.0)
    notices = net.room_events(flooder, {P.EV_NOTICE})
    assert [n.code for n in notices] == [P.NOTICE_THROTTLED]      # told once
    said_at = net.now
    net.clients[quiet].say("still here")
    assert net.run_until(lambda: any(e.text == "still here"
                                     for e in net.room_events(listener, CHAT)), 5)
    assert net.now - said_at < 0.1                               # not stuck behind the flood
    assert net.run_until(lambda: len(net.room_events(listener, CHAT)) == 301, 200)
    spam = [e.text for e in net.room_events(listener, CHAT) if e.name == "flood"]
    assert spam == ["spam %d" % i for i in range(300)]             # all of it, in order
    assert net.hub.members()[0].name == "flood"                    # never banned or kicked


def test_mute_ban_unban_and_motd():
    net = SimNet(16)
    a, b = room(net, ["a1", "b2"])
    net.hub.mute(net.now, "B2", 5)
    net.clients[b].say("can you hear me")
    net.run(1.0)
    assert net.room_events(a, CHAT) == []
    assert [e.code for e in net.room_events(b, {P.EV_NOTICE})] == [P.NOTICE_MUTED] * 2
    assert net.hub.ban(net.now, "b2", 10, "rude")
    net.run(1.0)
    assert [e.code for e in net.room_events(a, {P.EV_LEAVE})] == [P.LEAVE_BANNED]
    _, again = net.add_client("b2")
    assert net.run_until(lambda: again.state == REFUSED, 10)
    assert again.refusal[0] == P.REFUSE_BANNED and "10 more minutes" in again.refusal[1]
    assert len(net.hub.unban(net.now, "b2")) == 1 and not net.hub.unban(net.now, "10.0.1.2")
    net.hub.motd = "welcome to the lab"
    _, third = net.add_client("c3")
    assert net.run_until(lambda: third.state == JOINED, 10)
    net.run(1.0)
    assert [e.text for e in net.events[_] if getattr(e, "code", None) == P.NOTICE_MOTD
            and getattr(e, "kind", None) == P.EV_NOTICE] == ["welcome to the lab"]


def test_lines_held_for_the_rate_are_said_before_the_sender_leaves():
    net = SimNet(17, config=HubConfig(msg_rate=5, msg_burst=10))
    a, b = room(net, ["a1", "b2"])
    for i in range(40):
        net.clients[a].say("line %d" % i)
    net.run(0.5)
    net.clients[a].leave(net.now)                  # while 30 lines are still held
    assert net.run_until(lambda: any(e.kind == P.EV_LEAVE for e in net.room_events(b)), 30)
    events = [e for e in net.room_events(b) if e.kind in (P.EV_CHAT, P.EV_LEAVE)]
    assert [e.text for e in events[:-1]] == ["line %d" % i for i in range(40)]
    assert events[-1].kind == P.EV_LEAVE and events[-1].code == P.LEAVE_QUIT


def test_the_held_journal_follows_what_is_held_and_a_kick_gives_it_up():
    """What the room's database keeps of held lines (Hub.take_held) is what
    the hub holds: each line in when held, out when said or given up."""
    net = SimNet(20, config=HubConfig(msg_rate=5, msg_burst=10))
    a, b = room(net, ["a1", "b2"])
    journal = {}

    def follow():
        new, gone = net.hub.take_held()
        journal.update(((line.origin, line.msg_id), line.text) for line in new)
        for key in gone:
            del journal[key]                       # never given up before it was held

    def held_now():
        return {(s.instance, said.msg_id): said.text for s in net.hub.members()
                for said in s.held}

    for i in range(40):
        net.clients[a].say("line %d" % i)
    net.run(0.5)
    follow()
    assert journal == held_now() and len(journal) > 20
    net.run(1.0)                                   # ~5 said meanwhile
    follow()
    assert journal == held_now() and 0 < len(journal) < 30
    assert net.hub.kick(net.now, "a1", "")
    net.run(0.5)
    follow()
    assert journal == {}


def test_long_reasons_and_motd_are_cut_not_fatal():
    net = SimNet(18)
    a, b = room(net, ["a1", "b2"])
    net.hub.set_motd("🎉" * 400)
    assert len(net.hub.motd.encode()) <= P.MAX_TEXT_BYTES
    assert net.hub.kick(net.now, "b2", "原因" * 300)
    net.run(1.0)
    _, late = net.add_client("c3")
    assert net.run_until(lambda: late.state == JOINED, 10)


def test_a_line_the_crashed_server_acked_but_never_passed_on_still_arrives_once():
    net = SimNet(19)
    a, b = room(net, ["a1", "b2"])
    net.cut.add(b)                                  # b hears nothing for a while
    net.clients[a].say("acked, then the server died")
    net.run(1.0)
    assert net.clients[a].stream.queued == 0        # the old server had acknowledged it
    net.restart_server()
    net.cut.discard(b)
    assert net.run_until(lambda: net.hub.stats["joins"] == 2 and joined(net, a, b)(), 60)
    net.run(3.0)
    assert [e.text for e in net.room_events(b, CHAT)] == ["acked, then the server died"]
    assert [e.text for e in net.room_events(a, CHAT)] == ["acked, then the server died"]


def test_member_list_requests_are_rate_limited_with_one_notice():
    net = SimNet(14, config=HubConfig(who_rate=1.0, who_burst=5.0))
    a, _ = room(net, ["甲", "乙"])
    for _ in range(20):                   # one at a time: each once the last list came
        net.clients[a].who()
        net.run(0.05)
    lists = len(net.room_events(a, {P.EV_WHO}))
    assert 5 <= lists <= 6                # the burst, and what 1 s refilled
    assert [e.code for e in net.room_events(a, {P.EV_NOTICE})] == [P.NOTICE_THROTTLED]
    net.run(1.5)
    net.clients[a].who()
    net.run(1.0)
    assert len(net.room_events(a, {P.EV_WHO})) == lists + 1   # the bucket refilled


def test_member_list_requests_while_a_list_is_on_its_way_are_that_list():
    net = SimNet(14, config=HubConfig(who_rate=1.0, who_burst=5.0))
    a, _ = room(net, ["甲", "乙"])
    for _ in range(20):                   # in one datagram: one list, no budget spent
        net.clients[a].who()
    net.run(1.0)
    assert len(net.room_events(a, {P.EV_WHO})) == 1
    assert net.room_events(a, {P.EV_NOTICE}) == []
