"""The reliable stream alone: two ReliableStreams over a lossy, reordering,
duplicating channel on a simulated clock."""
import heapq
import random

import pytest

from app.core import protocol
from app.core.session import RTO_INITIAL, RTO_MAX, ReliableStream


class Pair:
    """Two streams, A sending to B, through a channel with the given faults."""

    def __init__(self, seed, loss=0.0, dup=0.0, delay=(0.001, 0.001)):
        self.rng = random.Random(seed)
        self.loss, self.dup, self.delay = loss, dup, delay
        self.now = 0.0
        self.a, self.b = ReliableStream(7), ReliableStream(7)
        self.wire = []
        self.n = 0
        self.got = {"a": [], "b": []}
        self.datagrams = 0

    def send(self, src, data):
        self.datagrams += 1
        for _ in range(2 if self.rng.random() < self.dup else 1):
            if self.rng.random() >= self.loss:
                self.n += 1
                heapq.heappush(self.wire, (self.now + self.rng.uniform(*self.delay),
                                           self.n, src, data))

    def step(self):
        times = [t for t in (self.a.next_deadline(), self.b.next_deadline()) if t is not None]
        if self.wire:
            times.append(self.wire[0][0])
        self.now = max(self.now, min(times))
        while self.wire and self.wire[0][0] <= self.now:
            _, _, src, data = heapq.heappop(self.wire)
            header, body = protocol.decode_header(data)
            dst = self.b if src == "a" else self.a
            frames = dst.on_datagram(self.now, header, protocol.decode_frames(body))
            self.got["b" if src == "a" else "a"].extend(f.body for f in frames)
        for name, stream in (("a", self.a), ("b", self.b)):
            for data in stream.flush(self.now):
                self.send(name, data)

    def run_until(self, cond, limit=10_000):
        for _ in range(limit):
            if cond():
                return True
            self.step()
        return cond()


def messages(n):
    return [("message %d 你好" % i).encode() for i in range(n)]


def test_in_order_exactly_once_on_a_clean_channel():
    pair = Pair(0)
    for body in messages(500):
        pair.a.queue(protocol.SAY, body)
    assert pair.run_until(lambda: len(pair.got["b"]) == 500 and not pair.a.queued)
    assert pair.got["b"] == messages(500)
    assert pair.a.retransmissions == 0
    # Bundling: far fewer datagrams than messages.
    assert pair.datagrams < 500 / 4


@pytest.mark.parametrize("seed", range(8))
def test_loss_duplication_reordering_both_ways(seed):
    pair = Pair(seed, loss=0.3, dup=0.1, delay=(0.0005, 0.05))
    for body in messages(300):
        pair.a.queue(protocol.SAY, body)
        pair.b.queue(protocol.EVENT, body)
    assert pair.run_until(lambda: len(pair.got["b"]) == 300 and len(pair.got["a"]) == 300
                          and not pair.a.queued and not pair.b.queued)
    assert pair.got["b"] == messages(300)
    assert pair.got["a"] == messages(300)
    assert pair.a.retransmissions + pair.b.retransmissions > 0   # faults did happen


def test_window_limits_messages_in_flight():
    pair = Pair(1)
    pair.a.window = 16
    for body in messages(100):
        pair.a.queue(protocol.SAY, body)
    pair.a.flush(0.0)
    assert len(pair.a.in_flight) == 16 and len(pair.a.backlog) == 84


def test_retransmission_backs_off_to_the_cap():
    stream = ReliableStream(1)
    stream.queue(protocol.SAY, b"x")
    now, gaps = 0.0, []
    stream.flush(now)
    for _ in range(8):
        due = stream.next_deadline()
        gaps.append(due - now)
        now = due
        assert len(stream.flush(now)) == 1     # nobody acks: it is resent
    assert gaps[0] == pytest.approx(RTO_INITIAL)
    assert gaps[1] == pytest.approx(2 * RTO_INITIAL)
    assert max(gaps) == pytest.approx(RTO_MAX)


def test_fast_retransmit_fills_a_hole_before_the_timeout():
    a, b = ReliableStream(1), ReliableStream(1)
    for body in messages(6):
        a.queue(protocol.SAY, body)
    sent = [protocol.decode_frames(protocol.decode_header(d)[1]) for d in a.flush(0.0)]
    frames = [f for batch in sent for f in batch]
    # Seq 1 is lost; 2..6 arrive. B holds them and acks with a SACK bitmap.
    header = protocol.Header(protocol.DATA, 0, 1, 1, 0, 0)
    assert b.on_datagram(0.001, header, frames[1:]) == []
    ack_datagram = b.flush(0.001)[0]
    ack_header, _ = protocol.decode_header(ack_datagram)
    assert ack_header.ack == 0 and ack_header.sack == 0b11111
    a.on_datagram(0.002, ack_header, [])
    resent = a.flush(0.002)                     # long before RTO_INITIAL
    assert [f.seq for f in protocol.decode_frames(protocol.decode_header(resent[0])[1])] == [1]


def test_lone_message_is_acked_after_the_delay_and_two_at_once():
    a, b = ReliableStream(1), ReliableStream(1)
    a.queue(protocol.SAY, b"one")
    header, body = protocol.decode_header(a.flush(0.0)[0])
    b.on_datagram(0.0, header, protocol.decode_frames(body))
    assert b.flush(0.0) == []                   # delayed ack
    assert b.next_deadline() == pytest.approx(0.02)
    assert len(b.flush(0.02)) == 1
    for body in (b"two", b"three"):
        a.queue(protocol.SAY, body)
    header, body = protocol.decode_header(a.flush(0.03)[0])
    b.on_datagram(0.03, header, protocol.decode_frames(body))
    assert len(b.flush(0.03)) == 1              # two unacked: ack at once


def test_unacked_messages_survive_for_a_new_session():
    stream = ReliableStream(1)
    for body in messages(5):
        stream.queue(protocol.SAY, body)
    stream.flush(0.0)
    stream.on_datagram(0.01, protocol.Header(protocol.DATA, 0, 1, 1, 2, 0), [])
    assert [body for _, body in stream.unacked_messages()] == messages(5)[2:]


def test_timer_follows_the_oldest_unacked_message_and_never_resends_an_acked_one():
    a = ReliableStream(1)
    a.queue(protocol.SAY, b"one")
    a.flush(0.0)                                # due at 0.3
    a.queue(protocol.SAY, b"two")
    a.flush(0.1)                                # due at 0.4
    assert a.next_deadline() == pytest.approx(RTO_INITIAL)
    a.on_datagram(0.15, protocol.Header(protocol.DATA, 0, 1, 1, 1, 0), [])   # "one" acked
    wake_ups = 0
    while a.next_deadline() < 0.1 + RTO_INITIAL - 1e-9:   # an early wake-up at most
        assert a.flush(a.next_deadline()) == []
        wake_ups += 1
    assert wake_ups <= 1
    assert a.next_deadline() == pytest.approx(0.1 + RTO_INITIAL)
    resent = a.flush(0.1 + RTO_INITIAL)
    bodies = [f.body for d in resent for f in protocol.decode_frames(protocol.decode_header(d)[1])]
    assert bodies == [b"two"]
    a.on_datagram(0.5, protocol.Header(protocol.DATA, 0, 1, 2, 2, 0), [])   # "two" acked
    assert a.next_deadline() is None and a.flush(0.6) == []


def test_the_rtt_is_timed_from_the_oldest_message_an_ack_covers():
    sender = ReliableStream(7)
    sender.queue(protocol.SAY, b"one")
    sender.flush(0.0)
    sender.queue(protocol.SAY, b"two")
    sender.flush(0.01)
    header = protocol.decode_header(protocol.encode_header(protocol.DATA, 7, 1, 2, 0))[0]
    sender.on_datagram(0.06, header, [])               # one delayed ack for both
    # The first waited 60 ms (the peer's ack delay among it), not the second's 50.
    assert sender.rtt.srtt == pytest.approx(0.06)
    assert sender.queued == 0
