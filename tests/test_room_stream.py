"""The room stream (docs/PROTOCOL.md 6.8): room events made once per datagram
for every member, with per-member acks, retransmission and catch-up. Pure
core, simulated time."""
import random

import pytest
from simnet import SimNet

from app.core import client_core, room_stream
from app.core import protocol as P
from app.core.client_core import JOINED, ClientCore
from app.core.hub import HubConfig
from app.core.room import Room
from app.core.room_stream import RoomSender

NOW = 1000.0
ADDRS = [("10.0.0.%d" % i, 5000 + i) for i in range(1, 4)]


def live_sender(members=3, cap=4096):
    sender = RoomSender(cap)
    cursors = [sender.add(100 + i, ADDRS[i]) for i in range(members)]
    for cursor in cursors:
        assert sender.go_live(NOW, cursor, [])
    return sender, cursors


def batch(text):
    return P.pack_event_batches([P.encode_event(P.Event(1, NOW, P.EV_CHAT, text=text))])


def send_lines(sender, count, outbox, every=0.0):
    """`count` lines, one ROOM datagram each, made `every` seconds apart from NOW."""
    for i in range(count):
        sender.send(NOW + every * i, batch("line %d" % i), outbox)


def numbers(outbox, addr=None):
    return [P.decode_header(data)[0].pkt for data, to in outbox if addr in (None, to)]


def test_each_batch_is_one_datagram_shared_by_all_but_the_session_id():
    sender, cursors = live_sender()
    outbox = []
    sender.send(NOW, batch("大家好"), outbox)
    assert [to for _, to in outbox] == ADDRS
    headers = [P.decode_header(data) for data, _ in outbox]
    assert [h.session for h, _ in headers] == [100, 101, 102]
    assert {(h.type, h.pkt, h.ack, h.sack) for h, _ in headers} == {(P.ROOM, 1, 0, 0)}
    assert len({body for _, body in headers}) == 1
    assert {data[10:] for data, _ in outbox} == {outbox[0][0][10:]}
    events = P.split_event_batch(headers[0][1])
    assert P.decode_event(events[0]).text == "大家好"


def test_a_member_beyond_its_window_waits_and_acks_bring_the_rest(monkeypatch):
    monkeypatch.setattr(room_stream, "ROOM_WINDOW", 4)
    sender, (cursor,) = live_sender(1)
    outbox = []
    send_lines(sender, 7, outbox)
    assert numbers(outbox) == [1, 2, 3, 4]
    outbox.clear()
    assert sender.on_ack(NOW + 0.01, cursor, 2, 0, outbox)
    assert numbers(outbox) == [5, 6]
    outbox.clear()
    assert sender.on_ack(NOW + 0.02, cursor, 6, 0, outbox)
    assert numbers(outbox) == [7]


def test_a_time_out_resends_the_unacked_with_back_off():
    sender, (cursor,) = live_sender(1)
    outbox = []
    send_lines(sender, 3, outbox)
    assert sender.on_ack(NOW + 0.05, cursor, 1, 0, outbox)
    outbox.clear()
    first_due = cursor.due
    assert sender.tick(first_due - 0.001, outbox) == [] and outbox == []
    assert sender.tick(first_due, outbox) == []
    assert numbers(outbox) == [2, 3]
    outbox.clear()
    second_due = cursor.due
    assert second_due - first_due == pytest.approx(2 * (first_due - (NOW + 0.05)))
    sender.tick(second_due, outbox)
    assert numbers(outbox) == [2]                   # a time-out in a row: the oldest alone
    assert sender.on_ack(second_due + 0.01, cursor, 3, 0, outbox)
    assert cursor.due == float("inf") and cursor.backoff == 1


def test_time_outs_in_a_row_resend_the_oldest_alone():
    """RFC 6298 5.4. Old code: TIMEOUT_BURST (4) at every time-out: 1800
    members that went away together cost 4 sealed resends each, each time."""
    sender, (cursor,) = live_sender(1)
    outbox = []
    send_lines(sender, 6, outbox)
    outbox.clear()
    sender.tick(cursor.due, outbox)
    assert numbers(outbox) == [1, 2, 3, 4]          # the first: TIMEOUT_BURST
    for _ in range(3):
        outbox.clear()
        sender.tick(cursor.due, outbox)
        assert numbers(outbox) == [1]
    assert sender.on_ack(cursor.due - 0.01, cursor, 6, 0, outbox) and cursor.backoff == 1


def test_a_hole_with_three_later_datagrams_acked_is_resent_once():
    sender, (cursor,) = live_sender(1)
    outbox = []
    send_lines(sender, 6, outbox)
    outbox.clear()
    sack = 0b1111                       # 3, 4, 5, 6 arrived; 2 did not
    assert sender.on_ack(NOW + 0.01, cursor, 1, sack, outbox)
    assert numbers(outbox) == [2]
    outbox.clear()
    assert sender.on_ack(NOW + 0.02, cursor, 1, sack, outbox)   # the same news again
    assert outbox == []


def test_acks_for_what_was_never_sent_are_ignored():
    sender, (cursor,) = live_sender(1)
    outbox = []
    sender.send(NOW, batch("only one"), outbox)
    assert sender.on_ack(NOW + 0.01, cursor, 500, 0xFFFFFFFF, outbox)
    assert cursor.acked == 0 and cursor.sent == 1


def test_a_member_lacking_what_the_ring_let_go_is_stuck():
    sender, (quiet, busy) = live_sender(2, cap=5)
    outbox = []
    for i in range(10):
        sender.send(NOW, batch("line %d" % i), outbox)
        assert sender.on_ack(NOW, busy, busy.sent, 0, outbox)
    assert sender.first > 1
    stuck = sender.tick(quiet.due, outbox)
    assert stuck == [100]


def test_a_member_that_joins_late_gets_what_came_after_it_once_live():
    sender, _ = live_sender(1)
    outbox = []
    sender.send(NOW, batch("before"), outbox)
    late = sender.add(200, ("10.0.0.9", 9))
    assert late.base == 1
    sender.send(NOW, batch("after 1"), outbox)
    sender.send(NOW, batch("after 2"), outbox)
    assert numbers(outbox, late.addr) == []       # not live yet: its history comes first
    assert sender.go_live(NOW, late, outbox)
    assert numbers(outbox, late.addr) == [2, 3]


# ---------------------------------------------------------------- whole room

def room(net, names):
    return net.join_all(names)


def texts(net, addr, kinds=(P.EV_CHAT,)):
    return [e.text for e in net.room_events(addr, set(kinds))]


def test_members_take_the_room_stream_and_acks_ride_in_their_headers():
    net = SimNet(1)
    a, b = room(net, ["张三", "lisi"])
    assert all(s.cursor is not None and s.cursor.live for s in net.hub.members())
    net.clients[a].say("大家好")
    net.run(1.0)
    assert texts(net, b) == ["大家好"]
    cursor = net.hub.find("lisi").cursor
    assert cursor.acked == cursor.sent == net.hub.room_stream.number


@pytest.mark.parametrize("seed", range(4))
def test_a_newcomer_sees_history_then_the_news_even_when_its_first_datagrams_are_lost(seed):
    net = SimNet(seed, config=HubConfig(history_lines=5, msg_burst=1000))
    (talker,) = room(net, ["talker"])
    for i in range(8):
        net.clients[talker].say("old %d" % i)
    net.run(1.0)
    late, _ = net.add_client("late")
    net.run_until(lambda: net.hub.find("late") is not None, 10)
    net.cut.add(late)                   # its history and the first news are lost
    for i in range(20):
        net.clients[talker].say("new %d" % i)
        net.run(0.01)
    net.run(0.5)
    net.cut.discard(late)
    assert net.run_until(lambda: texts(net, late)[-1:] == ["new 19"], 30)
    net.run(1.0)
    assert texts(net, late) == ["old %d" % i for i in range(3, 8)] + [
        "new %d" % i for i in range(20)]
    seqs = [e.room_seq for e in net.room_events(late) if e.room_seq]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


def welcomed_room_client():
    """A client core welcomed as session 55 with the room stream (base 0)."""
    client = ClientCore("lisi", NOW, rng=random.Random(1))
    client.tick(NOW)
    welcome = P.Welcome(7, 9, NOW, False, 2, "lisi", "")
    client.on_datagram(NOW, P.encode_header(P.WELCOME, 55, 0, flags=P.FLAG_ROOM)
                       + P.encode_welcome(welcome))
    assert client.state == JOINED and client.room_stream is not None
    return client


def room_datagram_for_55(number, *events):
    batch = P.pack_event_batches([P.encode_event(e) for e in events])[0][0]
    return P.room_datagram((55).to_bytes(4, "big"), P.room_tail(number, batch))


def test_a_private_line_overtaken_by_later_room_events_is_still_shown():
    client = welcomed_room_client()
    public = P.Event(11, NOW, P.EV_CHAT, origin=1, msg_id=3, name="张三", text="public")
    private = P.Event(10, NOW, P.EV_PRIVATE, origin=1, msg_id=2, name="张三",
                      target="lisi", text="private")
    client.on_datagram(NOW, room_datagram_for_55(1, public))
    client.on_datagram(NOW, P.encode_header(P.DATA, 55, 1) + P.encode_frame(
        1, P.EVENT, P.encode_event(private)))
    client.on_datagram(NOW, P.encode_header(P.DATA, 55, 2) + P.encode_frame(
        2, P.EVENT, P.encode_event(private)))            # a resend: shown once
    shown = [e.text for e in client.take_events() if isinstance(e, P.Event)]
    assert shown == ["public", "private"]
    assert client.last_seq == 11


def test_a_client_back_after_its_session_ended_gets_its_private_lines_again():
    room_ = Room(5)
    room_.record(NOW, P.EV_CHAT, name="a", text="one")
    room_.record(NOW, P.EV_PRIVATE, name="a", target="b", text="psst", origin=1,
                 msg_id=1, audience=(1, 2))
    room_.record(NOW, P.EV_PRIVATE, name="a", target="c", text="not yours", origin=1,
                 msg_id=2, audience=(1, 3))
    room_.record(NOW, P.EV_CHAT, name="a", text="two")
    room_.record(NOW, P.EV_CHAT, name="a", text="three")
    missed = room_.missed(5, 4, 2)
    assert [e.text for e in missed] == ["psst", "three"]


class ClassicClient(ClientCore):
    """A client written before the room stream (no FLAG_ROOM in its HELLO)."""

    def _send_hello(self, now):
        hello = P.Hello(self.nonce, self.cookie, self.instance_bytes, self.token,
                        self.epoch, self.last_seq, self.name)
        self._send(now, P.encode_header(P.HELLO, flags=P.FLAG_EVENTS) + P.encode_hello(hello))


@pytest.mark.parametrize("seed", range(3))
def test_classic_and_room_stream_clients_share_one_room_order_under_loss(seed):
    net = SimNet(seed, loss=0.2, dup=0.05, delay=(0.0005, 0.02),
                 config=HubConfig(msg_burst=1000))
    addrs = room(net, ["new1", "new2"])
    old_addr = ("10.0.9.9", 4000)
    net.clients[old_addr] = ClassicClient("old", net.now, rng=random.Random(seed))
    net.events[old_addr] = []
    assert net.run_until(lambda: net.clients[old_addr].state == JOINED, 60)
    assert net.hub.find("old").cursor is None
    assert net.clients[old_addr].room_stream is None
    everyone = addrs + [old_addr]
    net.chatter(everyone, 200, seed, pause_every=20)
    assert net.run_until(lambda: all(len(texts(net, a)) >= 200 for a in everyone), 600)
    net.run(2.0)
    orders = [[(e.origin, e.msg_id) for e in net.room_events(a, {P.EV_CHAT})]
              for a in everyone]
    assert len(set(orders[0])) == 200
    assert orders[0] == orders[1] == orders[2]


def test_a_member_that_never_went_live_is_dropped_once_the_ring_lets_go_of_its_start():
    sender, (talker,) = live_sender(1, cap=5)
    sender.add(300, ("10.0.0.8", 8))                 # a member whose history is never acked
    outbox = []
    for i in range(10):
        sender.send(NOW + i, batch("line %d" % i), outbox)
        sender.on_ack(NOW + i, talker, talker.sent, 0, outbox)
    assert sender.tick(NOW + 10, outbox) == [300]


def test_no_rtt_sample_from_a_datagram_sent_later_than_it_was_made():
    sender, _ = live_sender(1)
    late = sender.add(200, ("10.0.0.9", 9))
    outbox = []
    sender.send(NOW, batch("made before it went live"), outbox)
    assert sender.go_live(NOW + 5, late, outbox)
    assert sender.on_ack(NOW + 5.01, late, 1, 0, outbox)
    assert late.rtt.srtt is None                      # not 5 s
    sender.send(NOW + 6, batch("sent as made"), outbox)
    assert sender.on_ack(NOW + 6.02, late, 2, 0, outbox)
    assert late.rtt.srtt == pytest.approx(0.02)


def test_a_replayed_room_datagram_is_no_sign_of_life():
    client = welcomed_room_client()
    event = P.Event(10, NOW, P.EV_CHAT, origin=1, msg_id=1, name="张三", text="hi")
    room_datagram = room_datagram_for_55(1, event)
    client.on_datagram(NOW + 1, room_datagram)
    client.on_datagram(NOW + 5, room_datagram)
    assert client.last_heard == NOW + 1


def test_a_client_that_asks_and_never_acks_is_dropped_after_the_ack_timeout():
    net = SimNet(12, config=HubConfig(queue_cap=40, who_rate=1e6, who_burst=1e6,
                                      ack_timeout=5.0))
    a, b = room(net, ["a1", "b2"])
    transmit = net._transmit

    def lose_replies_to_b(src, dst, data):            # so b never acks its own stream
        if not (dst == b and data[3] == P.DATA):
            transmit(src, dst, data)

    net._transmit = lose_replies_to_b
    for _ in range(60):
        net.clients[b].who()
        net.run(0.05)
    # It asked 60 times: one page of the list waits for its ack, nothing more.
    assert all(s.stream.queued_events <= 1 for s in net.hub.members())
    net.run(4.0)
    leaves = {(e.name, e.code, e.text) for e in net.room_events(a, {P.EV_LEAVE})}
    assert leaves == {("b2", P.LEAVE_TIMEOUT, "stopped acknowledging (nothing for 5 s)")}


def test_someone_who_takes_a_name_later_never_gets_its_former_holders_private_lines():
    net = SimNet(13)
    a, b = room(net, ["a1", "b2"])
    net.clients[a].say("for b2 only", P.PRIVATE, "b2")
    net.run(1.0)
    assert texts(net, b, (P.EV_PRIVATE,)) == ["for b2 only"]
    net.clients[b].leave(net.now)
    net.run(1.0)
    impostor_addr, impostor = net.add_client("b2")
    impostor.epoch, impostor.last_seq = net.hub.room.epoch, 1   # "I missed it all"
    assert net.run_until(lambda: impostor.state == JOINED, 10)
    net.run(1.0)
    assert texts(net, impostor_addr, (P.EV_PRIVATE,)) == []


def test_each_member_acks_after_its_own_delay_spread_around_the_mean():
    delays = [client_core.room_ack_delay(sid) for sid in random.Random(7).sample(
        range(1, 1 << 32), 2000)]
    low = client_core.ROOM_ACK_DELAY * (1 - client_core.ROOM_ACK_SPREAD)
    high = client_core.ROOM_ACK_DELAY * (1 + client_core.ROOM_ACK_SPREAD)
    assert all(low <= d < high for d in delays)
    assert min(delays) < low + 0.01 and max(delays) > high - 0.01     # the whole range used
    assert abs(sum(delays) / len(delays) - client_core.ROOM_ACK_DELAY) < 0.005
    assert client_core.room_ack_delay(123456) == client_core.room_ack_delay(123456)


def test_a_rooms_acks_for_one_line_come_as_a_trickle_not_a_crowd():
    net = SimNet(3)
    addrs = room(net, ["m%d" % i for i in range(40)])
    net.run(1.0)                                      # the joins' acks are all in
    acks = []
    transmit = net._transmit

    def record(src, dst, data):
        if src in net.clients and len(data) == P.HEADER_SIZE + P.ROOM_ACK.size:   # a bare ack
            acks.append(net.now)
        transmit(src, dst, data)

    net._transmit = record
    said_at = net.now
    net.clients[addrs[0]].say("一句话")
    net.run(1.0)
    after = sorted(t - said_at for t in acks)
    assert len(after) >= 39                           # every listener acked the line
    # One delay for all would put every ack within the channel's 2 ms of jitter.
    assert after[-1] - after[0] > 0.05
    assert after[0] >= client_core.ROOM_ACK_DELAY * (1 - client_core.ROOM_ACK_SPREAD)


def test_the_rtt_is_timed_from_the_oldest_datagram_an_ack_covers():
    sender, (cursor,) = live_sender(1)
    outbox = []
    send_lines(sender, 10, outbox, every=0.01)        # one every 10 ms ...
    assert sender.on_ack(NOW + 0.12, cursor, 10, 0, outbox)   # ... one delayed ack
    # The first waited 120 ms for it (not the last's 30): the time-out, which
    # guards the oldest, must allow for the member's ack delay.
    assert cursor.rtt.srtt == pytest.approx(0.12)


def test_a_late_ack_after_a_time_out_ends_the_resending():
    sender, (cursor,) = live_sender(1)
    outbox = []
    send_lines(sender, 40, outbox)
    outbox.clear()
    sender.tick(cursor.due, outbox)
    assert numbers(outbox) == [1, 2, 3, 4]           # only the oldest few at a time-out
    outbox.clear()
    # The member had everything; its ack was only late (a busy machine).
    assert sender.on_ack(cursor.due - 0.01, cursor, 30, 0, outbox)
    assert outbox == [] and cursor.recover == 0      # nothing more resent
    assert sender.on_ack(cursor.due - 0.005, cursor, 40, 0, outbox)
    assert outbox == [] and cursor.acked == 40


def test_after_a_time_out_a_real_loss_is_repaired_as_acks_come():
    sender, (cursor,) = live_sender(1)
    outbox = []
    send_lines(sender, 40, outbox)                    # all of them lost
    outbox.clear()
    sender.tick(cursor.due, outbox)
    assert numbers(outbox) == [1, 2, 3, 4]
    outbox.clear()
    assert sender.on_ack(cursor.due - 0.01, cursor, 4, 0, outbox)   # just what was resent
    assert numbers(outbox) == list(range(5, 37))      # the next RESEND_BURST
    outbox.clear()
    assert sender.on_ack(cursor.due - 0.005, cursor, 36, 0, outbox)
    assert numbers(outbox) == [37, 38, 39, 40]


def test_a_bare_room_ack_is_taken_once_and_a_replay_of_it_is_counted():
    net = SimNet(4)
    addrs = room(net, ["a", "b"])
    acks = []
    transmit = net._transmit

    def record(src, dst, data, leaves=None):
        if src == addrs[1] and P.is_bare_room_ack(data):
            acks.append(data)
        transmit(src, dst, data, leaves)
    net._transmit = record
    net.clients[addrs[0]].say("一")
    net.run(1.0)
    assert acks
    session = net.hub.by_addr[addrs[1]]
    acked, replays = session.cursor.acked, session.stream.replays
    net.hub.on_datagram(net.now, acks[-1], addrs[1])           # the same datagram again
    net.hub.on_datagram(net.now, acks[-1], ("10.9.9.9", 1))    # ... from elsewhere
    assert session.stream.replays == replays + 1 and session.cursor.acked == acked
    assert net.hub.take_output() == [(P.encode_header(P.RESET, session.id), ("10.9.9.9", 1))]


def test_a_new_members_first_datagrams_wait_longer_than_any_ack_delay():
    sender, (cursor,) = live_sender(1)
    outbox = []
    send_lines(sender, 1, outbox)
    assert cursor.due == NOW + room_stream.ROOM_RTO_INITIAL
    slowest_ack = client_core.ROOM_ACK_DELAY * (1 + client_core.ROOM_ACK_SPREAD)
    assert slowest_ack <= 0.3 < room_stream.ROOM_RTO_INITIAL     # (PROTOCOL.md 6.8)


def test_after_time_outs_in_a_row_a_member_gets_nothing_new_until_it_acks():
    """TCP's loss window (RFC 5681 3.1), once the path looks dead. Old code: a member that stopped
    acknowledging was sent every new line until its window (256) was full:
    2000 deaf members cost a copy of each line each."""
    sender, (deaf, good) = live_sender(2)
    outbox = []
    send_lines(sender, 3, outbox)
    assert sender.on_ack(NOW + 0.05, good, 3, 0, outbox)
    outbox.clear()
    sender.tick(deaf.due, outbox)                    # one time-out: maybe only slow ...
    sender.send(deaf.due - 0.01, batch("more"), outbox)
    assert 4 in numbers(outbox, ADDRS[0])            # ... so it still gets news
    sender.on_ack(deaf.due - 0.005, good, 4, 0, outbox)
    while deaf.backoff < room_stream.SILENT_BACKOFF:  # bounded: it doubles each time
        sender.tick(deaf.due, outbox)
    outbox.clear()
    due = deaf.due
    sender.send(due - 0.01, batch("news"), outbox)
    assert numbers(outbox, ADDRS[1]) == [5] and numbers(outbox, ADDRS[0]) == []
    outbox.clear()
    assert sender.on_ack(due - 0.005, deaf, 4, 0, outbox)   # it hears again
    assert numbers(outbox, ADDRS[0]) == [5]


def test_members_that_time_out_together_are_resent_to_a_few_a_pass(monkeypatch):
    """Old code: every member due was resent to in one pass (2000 members sent
    one datagram together: 8000 resends at once)."""
    monkeypatch.setattr(room_stream, "TIMEOUTS_PER_PASS", 2)
    sender, cursors = live_sender(3)
    outbox = []
    send_lines(sender, 1, outbox)
    outbox.clear()
    due = cursors[0].due
    assert {c.due for c in cursors} == {due}          # the same datagram, the same moment
    sender.tick(due, outbox)
    assert len(outbox) == 2
    outbox.clear()
    assert sender.check_at <= due + room_stream.CHECK_EVERY
    sender.tick(due + room_stream.CHECK_EVERY, outbox)
    assert [to for _, to in outbox] == [ADDRS[2]]     # the third, one pass later
