"""Room password, anti-spoofing, replays and hostile input, on the pure core
(simulated network) with an attacker that crafts its own datagrams."""
import random

import pytest
from simnet import SimNet

from app.core import protocol as P
from app.core.auth import ReplayWindow, RoomKey, derive_key
from app.core.client_core import JOINED, REFUSED

CHAT = {P.EV_CHAT}
KEY = RoomKey(derive_key("correct horse"))
OTHER = RoomKey(derive_key("wrong horse"))


def joined_room(net, names):
    addrs = [net.add_client(name)[0] for name in names]
    assert net.run_until(lambda: all(net.clients[a].state == JOINED for a in addrs), 60)
    return addrs


def test_password_room_works_over_a_lossy_link():
    net = SimNet(1, loss=0.2, dup=0.05, room_key=KEY)
    a, b = joined_room(net, ["a1", "b2"])
    for i in range(50):
        net.clients[a].say("secret %d" % i)
    assert net.run_until(lambda: len(net.room_events(b, CHAT)) == 50, 60)


@pytest.mark.parametrize("server_key,client_key,reason", [
    (KEY, OTHER, "wrong room password"),
    (KEY, None, "this room needs a password"),
    (None, KEY, "this room has no password; join without one"),
])
def test_password_mismatch_is_refused_clearly(server_key, client_key, reason):
    net = SimNet(2, room_key=server_key)
    _, client = net.add_client("a1", room_key=client_key)
    assert net.run_until(lambda: client.state == REFUSED, 10)
    assert client.refusal == (P.REFUSE_WRONG_PASSWORD, reason)
    assert net.hub.by_addr == {}


def test_every_datagram_is_tagged_and_verified_before_parsing():
    net = SimNet(3, room_key=KEY)
    a, _ = joined_room(net, ["a1", "b2"])
    session = net.hub.by_addr[a]
    # A forged SAY from the member's own address, with a wrong tag: ignored.
    said = P.encode_said(P.Said(P.SAY, 99, "forged"))
    forged = OTHER.seal(P.encode_header(P.DATA, session.id, 999, 0, 0)
                        + P.encode_frame(session.stream.recv_next, P.SAY, said))
    before = net.hub.stats["messages"]
    net.hub.on_datagram(net.now, forged, a)
    net.hub.on_datagram(net.now, forged[:-16], a)          # untagged: ignored too
    assert net.hub.stats["messages"] == before
    assert all(KEY.open(data) is not None for data, _ in net.hub.take_output()
               if data[3] != P.REFUSE)


def test_a_replayed_datagram_acts_only_once():
    net = SimNet(4, room_key=KEY)
    a, b = joined_room(net, ["a1", "b2"])
    captured = []
    real_transmit = net._transmit

    def tap(src, dst, data):
        if src == a:
            captured.append(data)
        real_transmit(src, dst, data)

    net._transmit = tap
    net.clients[a].say("once")
    net.run(1.0)
    for data in captured:                                   # replay all of it
        net.hub.on_datagram(net.now, data, a)
    net.run(1.0)
    assert [e.text for e in net.room_events(b, CHAT)] == ["once"]


def test_nobody_acts_for_a_session_from_another_address():
    net = SimNet(5)
    a, b = joined_room(net, ["a1", "b2"])
    session = net.hub.by_addr[a]
    said = P.encode_said(P.Said(P.SAY, 50, "spoofed"))
    for pkt in range(1, 20):
        datagram = (P.encode_header(P.DATA, session.id, pkt, 0, 0)
                    + P.encode_frame(session.stream.recv_next, P.SAY, said))
        net.hub.on_datagram(net.now, datagram, ("10.9.9.9", 1234))
        net.hub.on_datagram(net.now, P.encode_header(P.BYE, session.id), ("10.9.9.9", 1234))
    net.run(1.0)
    assert net.room_events(b, CHAT) == [] and session.name in [s.name for s in net.hub.members()]


def test_clients_cannot_send_server_only_messages():
    net = SimNet(6)
    a, b = joined_room(net, ["a1", "b2"])
    session = net.hub.by_addr[a]
    forged = P.encode_event(P.Event(1, 0.0, P.EV_ADMIN, text="I am the admin"))
    datagram = (P.encode_header(P.DATA, session.id, 10_000, 0, 0)
                + P.encode_frame(session.stream.recv_next, P.EVENT, forged))
    net.hub.on_datagram(net.now, datagram, a)
    for kind in (P.WELCOME, P.CHALLENGE, P.REFUSE, P.RESET):
        net.hub.on_datagram(net.now, P.encode_header(kind, session.id, 10_001), a)
    net.run(1.0)
    assert not any(e.kind == P.EV_ADMIN for e in net.room_events(b))


@pytest.mark.parametrize("key", [None, KEY])
def test_unverified_addresses_never_get_more_than_they_sent(key):
    net = SimNet(7, room_key=key)
    rng = random.Random(7)
    hello = P.encode_header(P.HELLO) + P.encode_hello(
        P.Hello(b"n" * 8, bytes(16), P.instance_of(b"t" * 16), b"t" * 16, 0, 0, "x"))
    samples = [hello, KEY.seal(hello), OTHER.seal(hello), P.encode_header(P.PING, 7),
               KEY.seal(P.encode_header(P.DATA, 7, 3)), b"CZ\x07\x01" + bytes(40)]
    for i in range(5000):
        data = bytearray(rng.choice(samples))
        if rng.random() < 0.5 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        data = bytes(data[:rng.randrange(len(data) + 1)] if rng.random() < 0.2 else data)
        addr = ("192.0.2.%d" % (i % 200), 2000 + i)
        net.hub.on_datagram(net.now, data, addr)
        for reply, to in net.hub.take_output():
            assert to == addr and len(reply) <= len(data)
    assert net.hub.by_addr == {}


def test_replay_window():
    window = ReplayWindow()
    assert [window.accept(p) for p in (1, 3, 2, 2, 3, 70, 7, 7, 6, 1)] == [
        True, True, True, False, False, True, True, False, False, False]
    assert not window.accept(0)


@pytest.mark.parametrize("hostile", [
    "\x1b[2J\x1b[31mred", "\x1b]0;title\x07x", "a\x9bb\x90c", "\u202eevil\u202c",
    "zero\u200b\u200d\ufeffwidth", "e" + "\u0301" * 500, "x" * 10_000, "bell\x07\x08\x7f",
])
def test_hostile_text_reaches_others_harmless(hostile):
    net = SimNet(8)
    a, b = joined_room(net, ["a1", "b2"])
    net.clients[a].say(hostile)
    net.run(2.0)
    for event in net.room_events(b, CHAT):
        assert not any(ch in event.text for ch in "\x1b\x07\x08\x7f\x9b\x90\u202e\u200b\ufeff")
        assert "\u0301\u0301\u0301" not in event.text
        assert len(event.text.encode()) <= P.MAX_TEXT_BYTES
    assert len(net.room_events(b, CHAT)) >= 1


def test_sessions_per_address_and_in_all_are_capped():
    from app.core.hub import HubConfig
    net = SimNet(9, config=HubConfig(max_per_ip=2, max_sessions=3))
    first = [net.add_client("same%d" % i, ip="10.5.5.5")[1] for i in range(3)]
    assert net.run_until(lambda: all(c.state in (JOINED, REFUSED) for c in first), 10)
    assert [c.state for c in first].count(JOINED) == 2
    refused = [c for c in first if c.state == REFUSED][0]
    assert refused.refusal[0] == P.REFUSE_FULL and "10.5.5.5" in refused.refusal[1]
    others = [net.add_client("other%d" % i)[1] for i in range(2)]
    assert net.run_until(lambda: all(c.state in (JOINED, REFUSED) for c in others), 10)
    assert [c.state for c in others].count(JOINED) == 1              # 3 in all
