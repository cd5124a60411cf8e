"""The file-transfer core (app/core/transfer.py, congestion.py, file_wire.py)
on a simulated link: loss, reordering, duplication, a lost peer, a restart of
the receiver. Deterministic (seeded), milliseconds each."""
import hashlib
import heapq
import random

import pytest

from app.core import file_wire as fw
from app.core import protocol
from app.core import transfer as tr
from app.core.congestion import Controller, MIN_CWND
from app.core.protocol import ProtocolError


def make_offer(data: bytes, name: str = "讲义.pdf", purpose=fw.Purpose.HANDOUT,
               chunk: int = fw.CHUNK_SIZE) -> fw.Offer:
    return fw.Offer(len(data), chunk, hashlib.sha256(data).digest(), purpose, 0.0, name)


class Link:
    """Two endpoints and a network between them: each message is lost with
    `loss`, duplicated with `dup`, and delayed by `delay` plus up to `jitter`
    (so a jitter larger than the gap between sends reorders). With `rate`
    (bytes a second), the way to the receiver is a link that slow with an
    unbounded queue; with `stall` = (seconds, period), the receiver's process
    is descheduled for those seconds at the start of every period (a loaded
    machine): what comes meanwhile waits for it."""

    def __init__(self, data: bytes, seed: int = 1, loss: float = 0.0, dup: float = 0.0,
                 delay: float = 0.0005, jitter: float = 0.0, budget: int = 32,
                 rate: float = 0.0, stall=(0.0, 1.0)) -> None:
        self.rate, self.stall = rate, stall
        self.link_free = 0.0      # with a rate: when the link to the receiver is idle again
        self.rng = random.Random(seed)
        self.data = data
        self.loss, self.dup, self.delay, self.jitter, self.budget = loss, dup, delay, jitter, budget
        self.sender = tr.Endpoint(lambda src, off, size: src[off:off + size])
        self.receiver = tr.Endpoint(lambda src, off, size: b"")
        self.part = bytearray(len(data))
        self.wire = []            # heap of (time, n, to_receiver, body)
        self.n = 0
        self.now = 0.0
        self.sender_events = []
        self.receiver_events = []
        self.up = True            # False: everything is lost (the peer is away)
        self.held = 0             # chunks the receiver says it has at accept (resume)
        self.sent_bodies = 0
        self.swap = 0.0           # chance a message is held back and goes after the next one
        self.swapped = None
        self.largest = fw.MAX_FILE_DATAGRAM   # a path that drops larger datagrams (sealed)
        self.posted = []          # (to_receiver, body) of every message sent

    def post(self, to_receiver: bool, body: bytes) -> None:
        self.sent_bodies += 1
        self.posted.append((to_receiver, body))
        if not self.up or self.rng.random() < self.loss \
                or len(body) + fw.CHUNK_OVERHEAD - 9 > self.largest:
            return
        if self.swapped is None and self.rng.random() < self.swap:
            self.swapped = (to_receiver, body)
            return
        copies = 2 if self.rng.random() < self.dup else 1
        at = self.now + self.delay
        for _ in range(copies):
            self.n += 1
            at = self.now + self.delay + self.rng.random() * self.jitter
            if to_receiver:
                at = self._to_receiver(at, len(body))
            heapq.heappush(self.wire, (at, self.n, to_receiver, body))
        if self.swapped is not None:
            self.n += 1
            heapq.heappush(self.wire, (at, self.n) + self.swapped)
            self.swapped = None

    def _to_receiver(self, at: float, size: int) -> float:
        """When a message the link would deliver `at` reaches the receiver."""
        if self.rate:
            self.link_free = max(at, self.link_free) + size / self.rate
            at = self.link_free
        seconds, period = self.stall
        into = at % period
        return at - into + seconds if into < seconds else at

    def step(self) -> None:
        for peer, body in self.sender.pull(self.now, self.budget):
            self.post(True, body)
        for peer, body in self.receiver.pull(self.now, self.budget):
            self.post(False, body)
        for event in self.receiver.take_events():
            self.receiver_events.append(event)
            if isinstance(event, tr.Offered):
                self.receiver.accept(self.now, event.peer, event.transfer, self.held)
            elif isinstance(event, tr.Write):
                self.part[event.offset:event.offset + len(event.data)] = event.data
            elif isinstance(event, tr.Complete):
                digest = hashlib.sha256(bytes(self.part)).digest()
                inc = self.receiver.incoming[(event.peer, event.transfer)]
                status = fw.DoneStatus.STORED if digest == inc.offer.sha256 \
                    else fw.DoneStatus.MISMATCH
                self.receiver.finish(self.now, event.peer, event.transfer,
                                     fw.Done(status, digest, "/x/讲义.pdf"))
        self.sender_events += self.sender.take_events()

    def run(self, until=lambda link: False, limit: float = 60.0, steps: int = 200000) -> None:
        for _ in range(steps):
            self.step()
            if until(self) or self.now > limit:
                return
            times = [t for t in (self.sender.next_deadline(self.now),
                                 self.receiver.next_deadline(self.now)) if t is not None]
            if self.wire:
                times.append(self.wire[0][0])
            if not times:
                return
            self.now = max(self.now, min(times))
            while self.wire and self.wire[0][0] <= self.now:
                _, _, to_receiver, body = heapq.heappop(self.wire)
                (self.receiver if to_receiver else self.sender).on_message(self.now, 0, body)
        raise AssertionError("the simulation did not settle in %d steps" % steps)

    def delivered(self):
        return [e for e in self.sender_events if isinstance(e, tr.Delivered)]


def send_file(link: Link, transfer: int = 7, chunk: int = fw.CHUNK_SIZE) -> None:
    link.sender.send(link.now, 0, transfer, make_offer(link.data, chunk=chunk), link.data)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size) if hasattr(random.Random, "randbytes") \
        else bytes(random.Random(seed).getrandbits(8) for _ in range(size))


def check_intact(link: Link) -> None:
    done = link.delivered()
    assert len(done) == 1, link.sender_events
    assert done[0].done.status == fw.DoneStatus.STORED
    assert done[0].done.sha256 == hashlib.sha256(link.data).digest()
    assert bytes(link.part) == link.data


@pytest.mark.parametrize("size", [0, 1, fw.CHUNK_SIZE - 1, fw.CHUNK_SIZE, fw.CHUNK_SIZE + 1,
                                  200_000])
def test_clean_link_delivers_exactly(size):
    link = Link(payload(size))
    send_file(link)
    link.run(lambda l: l.delivered())
    check_intact(link)
    assert link.sender.stats["retransmissions"] == 0
    writes = [e for e in link.receiver_events if isinstance(e, tr.Write)]
    assert len(writes) == fw.chunk_count(size, fw.CHUNK_SIZE)   # each chunk written once


@pytest.mark.parametrize("seed", range(6))
def test_loss_reordering_and_duplication(seed):
    link = Link(payload(300_000, seed), seed=seed, loss=0.1, dup=0.05, jitter=0.003)
    send_file(link)
    link.run(lambda l: l.delivered())
    check_intact(link)
    assert link.sender.stats["retransmissions"] > 0
    assert link.receiver.stats["duplicates"] > 0


def test_heavy_loss_still_completes():
    link = Link(payload(100_000, 3), seed=3, loss=0.4, jitter=0.002)
    send_file(link)
    link.run(lambda l: l.delivered(), limit=600)
    check_intact(link)


def test_reordering_alone_is_not_loss():
    """A third of the messages overtaken by the next one: out of order, none
    lost, so nothing is sent twice (the loss test is by send order, with a
    threshold of REORDER_THRESHOLD), though the receiver acks each hole."""
    link = Link(payload(200_000, 4), seed=4)
    link.swap = 0.3
    send_file(link)
    link.run(lambda l: l.delivered())
    check_intact(link)
    assert link.sender.stats["retransmissions"] == 0
    assert link.receiver.stats["duplicates"] == 0


@pytest.mark.parametrize("stall", [0.1, 0.3])
def test_a_receiver_descheduled_for_a_while_gets_nothing_twice(stall):
    """12 MB in 64 KB chunks through a 4 MB/s link to a receiver descheduled
    for `stall` seconds every half second: no ack comes for longer than the
    time-out, yet nothing was lost. The probe time-out sends two chunks, not
    the window again (before it, 0.1 s stalls sent 395 chunks for 184)."""
    data = payload(12_000_000, 8)
    link = Link(data, seed=8, rate=4e6, stall=(stall, 0.5), budget=64)
    send_file(link, chunk=fw.MAX_CHUNK)
    link.run(lambda l: l.delivered(), limit=60)
    check_intact(link)
    chunks = fw.chunk_count(len(data), fw.MAX_CHUNK)
    assert link.sender.stats["chunks_sent"] <= chunks + 2 * 10, link.sender.stats
    assert link.receiver.stats["duplicates"] <= 2 * 10


def test_a_whole_window_lost_is_sent_again_after_the_probes():
    """Everything in flight dropped at once (a queue that overflowed): the
    probes' acks show the hole, the window goes again and the file arrives."""
    data = payload(2_000_000, 9)
    link = Link(data, seed=9)
    send_file(link)
    link.run(lambda l: l.receiver.incoming and l.receiver.incoming[(0, 7)].count > 300)
    sender = link.sender.outgoing[(0, 7)]
    link.run(lambda l: len(sender.in_flight) >= 8)
    dropped = sum(1 for m in link.wire if m[2])
    link.wire = [m for m in link.wire if not m[2]]      # all on its way to the receiver: gone
    heapq.heapify(link.wire)
    link.run(lambda l: l.delivered())
    check_intact(link)
    assert dropped >= 8
    assert link.sender.stats["retransmissions"] >= dropped


def test_changed_file_is_a_mismatch_not_stored():
    data = payload(50_000, 5)
    link = Link(data)
    changed = bytearray(data)
    changed[100] ^= 1
    link.sender.send(0.0, 0, 9, make_offer(data), bytes(changed))   # offered hash: the old one
    link.run(lambda l: l.delivered())
    assert link.delivered()[0].done.status == fw.DoneStatus.MISMATCH


def test_refused_before_any_chunk():
    link = Link(payload(50_000))
    send_file(link)
    link.step()                                   # the OFFER goes
    link.run(lambda l: any(isinstance(e, tr.Offered) for e in l.receiver_events) or l.wire == [])
    # accept was already called by step(); a refusing receiver instead:
    other = Link(payload(50_000))
    other.receiver.accept = lambda *a, **k: None   # never accepts ...
    send_file(other)
    for _ in range(3):
        other.step()
        other.run(lambda l: bool(l.receiver_events))
    offered = [e for e in other.receiver_events if isinstance(e, tr.Offered)][0]
    other.receiver.refuse(other.now, 0, offered.transfer, fw.RefuseCode.TOO_BIG, "104857600")
    other.run(lambda l: any(isinstance(e, tr.Refused) for e in l.sender_events))
    refused = [e for e in other.sender_events if isinstance(e, tr.Refused)][0]
    assert (refused.code, refused.reason) == (fw.RefuseCode.TOO_BIG, "104857600")
    assert other.sender.stats["chunks_sent"] == 0


def test_lost_peer_resumes_where_it_stopped():
    data = payload(400_000, 6)
    link = Link(data, seed=6)
    send_file(link)
    link.run(lambda l: l.receiver.incoming and
             l.receiver.incoming[(0, 7)].count > 150)
    got_before = link.receiver.incoming[(0, 7)].count
    link.up = False                               # the session is lost ...
    link.sender.peer_lost(link.now, 0)
    link.run(limit=link.now + 1.0)
    link.up = True                                # ... and back: the OFFER is answered
    link.run(lambda l: l.delivered())
    check_intact(link)
    writes = [e for e in link.receiver_events if isinstance(e, tr.Write)]
    assert len(writes) == fw.chunk_count(len(data), fw.CHUNK_SIZE)   # nothing twice
    assert got_before > 150


def test_receiver_restart_resumes_from_its_prefix():
    """A restarted receiver knows only the chunks its partial file holds in
    order; it accepts with that prefix and the sender sends the rest."""
    data = payload(300_000, 7)
    link = Link(data, seed=7)
    send_file(link)
    link.run(lambda l: l.receiver.incoming and l.receiver.incoming[(0, 7)].next > 100)
    prefix = link.receiver.incoming[(0, 7)].next
    link.receiver = tr.Endpoint(lambda src, off, size: b"")     # the restart
    link.wire.clear()
    link.held = prefix
    link.sender.peer_lost(link.now, 0)
    link.receiver_events.clear()
    link.run(lambda l: l.delivered())
    check_intact(link)
    writes = [e for e in link.receiver_events if isinstance(e, tr.Write)]
    assert len(writes) == fw.chunk_count(len(data), fw.CHUNK_SIZE) - prefix


# ---------------------------------------------------------------- chunk sizes (F.3)

def test_large_chunks_with_loss_and_reordering():
    data = payload(3_000_000, 20)
    link = Link(data, seed=20, loss=0.05, jitter=0.002)
    send_file(link, chunk=fw.MAX_CHUNK)
    link.run(lambda l: l.delivered())
    check_intact(link)
    chunks = [b for to, b in link.posted if to and b[0] == fw.FileKind.CHUNK]
    assert max(len(b) for b in chunks) == fw.MAX_CHUNK + 9                  # kind, ids, index
    assert fw.MAX_CHUNK + fw.CHUNK_OVERHEAD <= fw.MAX_FILE_DATAGRAM          # sealed, it fits
    offer = next(b for to, b in link.posted if to and b[0] == fw.FileKind.OFFER)
    assert len(offer) == max(len(b) for b in chunks)          # padded: the path probe


def test_a_path_that_drops_large_datagrams_falls_back_to_the_floor():
    """The padded OFFERs vanish (a smaller MTU on the way, ICMP filtered):
    after PROBE_OFFERS of them the sender offers CHUNK_SIZE, unpadded."""
    data = payload(200_000, 21)
    link = Link(data, seed=21)
    link.largest = protocol.MAX_DATAGRAM
    send_file(link, chunk=8000)
    link.run(lambda l: l.delivered())
    check_intact(link)
    offers = [b for to, b in link.posted if to and b[0] == fw.FileKind.OFFER]
    assert [len(b) > 1200 for b in offers[:tr.PROBE_OFFERS + 1]] == [True] * tr.PROBE_OFFERS + [False]
    assert link.sender.stats["chunks_sent"] == fw.chunk_count(len(data), fw.CHUNK_SIZE)
    assert link.now < 3.0                  # 0.3 + 0.6 + 1.2 s of unanswered probes


def test_a_small_receiver_says_smaller():
    data = payload(500_000, 22)
    link = Link(data, seed=22)
    link.receiver.max_chunk = 4096
    send_file(link, chunk=fw.MAX_CHUNK)
    link.run(lambda l: l.delivered())
    check_intact(link)
    writes = [e for e in link.receiver_events if isinstance(e, tr.Write)]
    assert {len(e.data) for e in writes[:-1]} == {4096}
    assert not [e for e in link.sender_events if isinstance(e, tr.Refused)]
    assert not [e for e in link.receiver_events if isinstance(e, tr.Offered)
                and e.offer.chunk != 4096]                     # refused before it was known


def test_the_same_file_offered_in_other_chunks_keeps_the_prefix():
    """The sender restarts and offers the file in larger chunks (its route's
    MTU): the receiver keeps what its prefix holds, in bytes."""
    data = payload(400_000, 23)
    link = Link(data, seed=23)
    send_file(link)
    link.run(lambda l: l.receiver.incoming and l.receiver.incoming[(0, 7)].next > 100)
    held = link.receiver.incoming[(0, 7)].next * fw.CHUNK_SIZE
    link.sender = tr.Endpoint(lambda src, off, size: src[off:off + size])    # the restart
    link.wire.clear()
    link.receiver_events.clear()
    send_file(link, chunk=8192)
    link.run(lambda l: l.delivered())
    check_intact(link)
    written = sum(len(e.data) for e in link.receiver_events if isinstance(e, tr.Write))
    assert written == len(data) - held // 8192 * 8192


def test_size_ok_lets_only_file_datagrams_be_large():
    big = bytes(5000)
    file_dg = fw.file_header(1) + big
    assert fw.size_ok(file_dg) and fw.size_ok(b"CZ\x02\x25" + big)
    assert not fw.size_ok(protocol.encode_header(protocol.DATA) + big)
    assert not fw.size_ok(file_dg + bytes(fw.MAX_FILE_DATAGRAM))
    assert protocol.decode_header(file_dg)[0].type == protocol.FILE
    with pytest.raises(ProtocolError):
        protocol.decode_header(protocol.encode_header(protocol.DATA) + big)


def test_padded_offer_decodes_and_nonzero_padding_is_malformed():
    offer = make_offer(b"x" * 100_000, chunk=9000)
    body = fw.encode_offer(7, offer, pad=True)
    assert len(body) == 9000 + 9
    kind, transfer, rest = fw.decode_head(body)
    assert fw.decode_offer(rest) == offer
    with pytest.raises(ProtocolError):
        fw.decode_offer(rest[:-1] + b"\x01")
    assert [fw.chunk_for_mtu(m, False) for m in (576, 1280, 1500, 9000, 65536)] == [
        fw.CHUNK_SIZE, 1184, 1408, 8904, fw.MAX_CHUNK]


def test_lost_done_is_asked_for_again():
    data = payload(20_000, 8)
    link = Link(data, seed=8)
    send_file(link)
    original = link.post

    def drop_done(to_receiver, body):
        if not to_receiver and body[0] == fw.FileKind.DONE and not getattr(link, "dropped", 0):
            link.dropped = 1
            return
        original(to_receiver, body)
    link.post = drop_done
    link.run(lambda l: l.delivered())
    check_intact(link)
    assert link.dropped == 1


def test_unreadable_source_cancels():
    link = Link(payload(50_000))

    def broken(src, off, size):
        raise OSError(5, "Input/output error")
    link.sender.read = broken
    send_file(link)
    link.run(lambda l: any(isinstance(e, tr.Cancelled) for e in l.receiver_events))
    cancelled = [e for e in link.receiver_events if isinstance(e, tr.Cancelled)][0]
    assert cancelled.code == fw.CancelCode.UNREADABLE
    assert [e for e in link.sender_events if isinstance(e, tr.Refused)]


def test_two_transfers_share_the_budget():
    data = payload(200_000, 9)
    link = Link(data, budget=8)
    link.sender.send(0.0, 0, 1, make_offer(data), data)
    link.sender.send(0.0, 0, 2, make_offer(data, "b"), data)
    link.run(lambda l: l.receiver.incoming.get((0, 1)) and l.receiver.incoming.get((0, 2))
             and l.receiver.incoming[(0, 1)].count > 40)
    one, two = (link.receiver.incoming[(0, t)].count for t in (1, 2))
    assert abs(one - two) <= max(one, two) // 2     # neither starves


# ------------------------------------------------------------ wire

def test_wire_round_trips():
    offer = make_offer(b"abc", "作业 1.txt")
    kind, tid, rest = fw.decode_head(fw.encode_offer(5, offer))
    assert (kind, tid, fw.decode_offer(rest)) == (fw.FileKind.OFFER, 5, offer)
    ack = fw.Ack(3, 9, ((5, 7), (9, 10)))
    assert fw.decode_ack(fw.decode_head(fw.encode_ack(5, ack))[2]) == ack
    done = fw.Done(0, bytes(32), "/tmp/x")
    assert fw.decode_done(fw.decode_head(fw.encode_done(5, done))[2]) == done
    body = fw.encode_chunk_head(5, 2) + b"xyz"
    assert fw.decode_chunk(fw.decode_head(body)[2]) == (2, b"xyz")
    big = fw.file_header(1) + fw.encode_chunk_head(1, 0) + bytes(fw.CHUNK_SIZE)
    assert len(big) <= fw.MAX_INNER


@pytest.mark.parametrize("body", [b"", b"\x02\x00\x00\x00\x01", b"\x02" + bytes(4) + bytes(8),
                                  fw.encode_ack(1, fw.Ack(5, 0, ((3, 4),))),
                                  fw.encode_ack(1, fw.Ack(5, 0, ((7, 7),))),
                                  b"\x09" + bytes(4),
                                  fw.head(fw.FileKind.OFFER, 1) + bytes(10)])
def test_malformed_messages_are_counted(body):
    end = tr.Endpoint(lambda *a: b"")
    end.on_message(0.0, 0, body)
    assert end.stats["malformed"] == 1
    assert not end.take_events()


def test_chunk_of_wrong_size_is_malformed():
    link = Link(payload(5000))
    send_file(link)
    link.run(lambda l: l.receiver.incoming and l.receiver.incoming[(0, 7)].state == tr.OPEN)
    link.receiver.on_message(link.now, 0, fw.encode_chunk_head(7, 0) + b"short")
    link.receiver.on_message(link.now, 0, fw.encode_chunk_head(7, 99) + b"x")
    assert link.receiver.stats["malformed"] == 2


# ------------------------------------------------------------ congestion

def test_controller_halves_once_per_round_and_backs_off_on_delay():
    cc = Controller(0.0)
    for i in range(50):
        cc.on_acked(i * 0.001, 1, 0.001)
    grown = cc.cwnd
    assert grown > 16
    cc.on_lost(1.0, 0.9)
    cc.on_lost(1.0, 0.95)                       # the same round: no second cut
    assert cc.cwnd == pytest.approx(grown / 2)
    before = cc.cwnd
    for i in range(20):                         # queueing delay far above the target
        cc.on_acked(2.0 + i * 0.01, 1, 0.001 + 0.05)
    assert cc.cwnd < before
    shrunk, timeout = cc.cwnd, cc.timeout()
    cc.on_probe_timeout()                       # not a loss: the window stays
    assert (cc.cwnd, cc.timeout()) == (shrunk, 2 * timeout)
    cc.on_persistent_congestion(3.0)
    assert cc.cwnd == MIN_CWND


class _LiveSession:
    """What FileDesk reads of a hub's session."""

    class phase:
        value = "live"

    def __init__(self, instance: int, session_id: int) -> None:
        self.instance, self.id, self.addr = instance, session_id, ("10.0.0.7", 4000 + session_id)


class _Room:
    def __init__(self, *sessions) -> None:
        self.sessions = list(sessions)
        self.outbox = []

    def members(self):
        return self.sessions


def test_a_refused_handout_is_not_offered_again_on_that_session_only_on_a_new_one():
    from app.core.file_desk import FileDesk, Handout
    data = payload(50_000)
    desk = FileDesk(lambda src, off, size: src[off:off + size], ttl=3600.0)
    member = tr.Endpoint(lambda src, off, size: b"")
    head = len(fw.file_header(0))
    room = _Room(_LiveSession(instance=77, session_id=5))
    desk.hand_out(0.0, Handout(9, make_offer(data), data, 0.0))
    offers, now = 0, 0.0
    while now < 10.0:                     # 10 s of the server's turns, 10 ms apart
        desk.pull(now, room)
        for datagram, _ in room.outbox:
            member.on_message(now, 0, datagram[head:])
        room.outbox.clear()
        for event in member.take_events():
            if isinstance(event, tr.Offered):
                offers += 1
                member.refuse(now, 0, event.transfer, fw.RefuseCode.NO_SPACE, "")
        for _, body in member.pull(now, 32):
            desk.on_message(now, room.sessions[0], body)
        if now >= 5.0 and room.sessions[0].id == 5:
            # Refused once, and never offered again meanwhile: before, the desk
            # offered it again at each look, and the member's endpoint refused
            # each again (a log line each, twice a second).
            assert offers == 1
            assert [e.code for e in desk.events if isinstance(e, tr.Refused)] \
                == [fw.RefuseCode.NO_SPACE]
            # The student frees some space and starts the client again: the
            # same instance (its resume token) on a new session.
            room.sessions = [_LiveSession(instance=77, session_id=6)]
            member = tr.Endpoint(lambda src, off, size: b"")
        now += 0.01
    assert offers == 2


# ---------------------------------------------------------------- the hash at the end (F.3)

def send_unhashed(link: Link, transfer: int = 7, chunk: int = fw.CHUNK_SIZE) -> None:
    """Offer before the SHA-256 is known, as the server's /send does."""
    offer = make_offer(link.data, chunk=chunk)._replace(sha256=fw.NO_SHA256)
    link.sender.send(link.now, 0, transfer, offer, link.data)


@pytest.mark.parametrize("hash_after", [0.0, 0.001, 10.0])
def test_offered_before_the_hash_completes_only_once_the_hash_comes(hash_after):
    """Chunks go while the sender hashes; the receiver holds them all but
    checks nothing (no Complete) until an OFFER brings the hash: then it
    completes at once and the file is checked against it."""
    data = payload(300_000, 31)
    link = Link(data, seed=31, loss=0.05, jitter=0.002)
    send_unhashed(link, chunk=8000)
    link.run(lambda l: l.now >= hash_after or l.delivered())
    if hash_after >= 10.0:                 # every chunk is held, and nothing is complete
        inc = link.receiver.incoming[(0, 7)]
        assert inc.count == inc.chunks and inc.state == tr.OPEN
        assert not [e for e in link.receiver_events if isinstance(e, tr.Complete)]
    link.sender.hashed(7, hashlib.sha256(data).digest())
    link.run(lambda l: l.delivered())
    check_intact(link)
    hashed = [b for to, b in link.posted if to and b[0] == fw.FileKind.OFFER
              and fw.decode_offer(fw.decode_head(b)[2]).hashed]
    assert hashed


def test_the_hash_that_comes_later_still_catches_a_changed_file():
    data = payload(50_000, 32)
    link = Link(data, seed=32)
    changed = bytearray(data)
    changed[7] ^= 1
    offer = make_offer(data)._replace(sha256=fw.NO_SHA256)
    link.sender.send(0.0, 0, 9, offer, bytes(changed))
    link.run(lambda l: l.now > 1.0)
    link.sender.hashed(9, hashlib.sha256(data).digest())   # of the file before it changed
    link.run(lambda l: l.delivered())
    assert link.delivered()[0].done.status == fw.DoneStatus.MISMATCH


def test_an_offer_may_learn_its_hash_but_never_change_it():
    data = payload(5000, 33)
    offer = make_offer(data)
    receiver = tr.Endpoint(lambda src, off, size: b"")
    receiver.on_message(0.0, 0, fw.encode_offer(3, offer._replace(sha256=fw.NO_SHA256)))
    receiver.accept(0.0, 0, 3)
    receiver.on_message(0.1, 0, fw.encode_offer(3, offer))                 # learnt
    assert receiver.incoming[(0, 3)].offer.sha256 == offer.sha256
    receiver.on_message(0.2, 0, fw.encode_offer(3, offer._replace(sha256=fw.NO_SHA256)))
    assert receiver.incoming[(0, 3)].offer.sha256 == offer.sha256          # a late one: kept
    assert receiver.stats["malformed"] == 0
    receiver.on_message(0.3, 0, fw.encode_offer(3, offer._replace(sha256=bytes([1]) * 32)))
    assert receiver.stats["malformed"] == 1
    assert receiver.incoming[(0, 3)].offer.sha256 == offer.sha256


def test_only_the_offers_before_the_first_ack_are_padded():
    """The padded OFFER is the path probe (F.1): once an ACK has come, the
    OFFERs that follow (the hash, the FINISHING probes, a lost peer's new
    offer) are not padded."""
    data = payload(100_000, 34)
    link = Link(data, seed=34)
    send_unhashed(link, chunk=8000)
    link.run(lambda l: l.now > 0.5)
    link.sender.hashed(7, hashlib.sha256(data).digest())
    link.run(lambda l: l.delivered())
    check_intact(link)
    offers = [b for to, b in link.posted if to and b[0] == fw.FileKind.OFFER]
    assert len(offers) >= 2
    assert len(offers[0]) == 8000 + 9 and all(len(b) < 200 for b in offers[1:])


# ---------------------------------------------------------------- PROTOCOL.md F.8

def _doc_dumps(after: str, count: int):
    import pathlib
    doc = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "PROTOCOL.md").read_text(
        encoding="utf-8")
    section = doc.split("### F.8 Worked example (hex dumps)")[1].split("\n## ")[0]
    dumps, text = [], section.split(after, 1)[1]
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line.startswith("    00")]
        if lines and len(lines) == len(block.strip("\n").split("\n")):
            dumps.append(bytes.fromhex("".join(line[10:].split("  ")[0] for line in lines)))
            if len(dumps) == count:
                return dumps
    raise AssertionError("dumps not found")


def test_the_hex_dumps_of_protocol_f8_are_what_the_code_makes():
    data = b"hello\n"
    head = fw.file_header(0x01020304)
    offer = fw.Offer(6, fw.CHUNK_SIZE, hashlib.sha256(data).digest(), fw.Purpose.HANDOUT,
                     1700000000.0, "讲义.txt")
    made = [
        head + fw.encode_offer(7, offer._replace(sha256=fw.NO_SHA256)),
        head + fw.encode_offer(7, offer),
        head + fw.encode_ack(7, fw.Ack(0, fw.NO_LATEST, ())),
        head + fw.encode_chunk_head(7, 0) + data,
        head + fw.encode_done(7, fw.Done(fw.DoneStatus.STORED, offer.sha256, "讲义.txt")),
        head + fw.encode_coded(fw.FileKind.REFUSE, 7, fw.Coded(fw.RefuseCode.TOO_BIG,
                                                                "104857600")),
    ]
    assert _doc_dumps("Session `0x01020304`", len(made)) == made
