"""File transfers over FILE datagrams: both ends, for any number of files and
peers. Pure: bytes, values and `now` in; message bodies and events out.

One `Endpoint` per process side (the hub has one for every member, a client one
for its server). A transfer is named by (peer, transfer id): the peer is whom
it is with (a member's public instance id on the server, 0 on a client), the
id is chosen by the sender and kept across reconnects and restarts, so an
OFFER for a transfer the receiver already holds part of resumes it.

The sender (`Outgoing`):
  OFFERING   the OFFER goes out, again after each time-out (doubling), until an
             ACK (accepted; it says which chunks the receiver already holds),
             a REFUSE or a DONE comes. Its SHA-256 may be unknown yet
             (fw.NO_SHA256: the owner hashes while the chunks go); once the
             owner has it (`hashed`) the OFFER goes again, at once, with it;
  SENDING    chunks go as the congestion controller allows (congestion.py):
             chunks judged lost first, then new ones. A chunk is lost when one
             sent REORDER_THRESHOLD transmissions after it was acknowledged
             (RACK-style, by send order, so reordering of a few is no loss).
             When nothing is acknowledged for a probe time-out (RFC 9002
             section 6.2, as QUIC does), PROBE_CHUNKS chunks go whatever the
             window says (new ones, or the oldest in flight again) and the
             next time-out is twice as long; nothing is judged lost by the
             clock, so a receiver descheduled for a moment costs two chunks,
             not a window sent twice;
  FINISHING  every chunk acknowledged: the OFFER is sent again after each
             time-out as a probe until the receiver's DONE says it checked the
             SHA-256 and stored the file;
  ENDED      DONE, REFUSE, or cancelled.
The receiver (`Incoming`) keeps a bitmap of the chunks it holds, hands each
new chunk to its owner to write (`Write`), acknowledges every ACK_EVERY chunks
or ACK_DELAY after the first unacknowledged one, and at once on a hole or a
duplicate; when every chunk is in and the SHA-256 is known (from the first
OFFER, or a later one), its owner checks the hash (`Complete`) and
tells the verdict (`finish`), which is sent as DONE, and sent again whenever
the sender asks (a lost DONE).

Chunk bytes are read through the `read(source, offset, size)` callable the
owner gives (the file stays in the shell; an OSError from it cancels the
transfer). Control messages (OFFER, ACK, DONE, REFUSE, CANCEL) always leave
before chunks.
"""
import heapq
from collections import deque
from typing import (Any, Callable, Deque, Dict, List, NamedTuple, Optional, Tuple, Union)

from app.core import file_wire as fw
from app.core import problems
from app.core.congestion import Controller
from app.core.file_wire import FileKind
from app.core.protocol import ProtocolError

Key = Tuple[int, int]                      # (peer, transfer id)
Reader = Callable[[Any, int, int], bytes]

ACK_EVERY = 4            # chunks between two acks when all is in order
ACK_DELAY = 0.005        # ... or this long after the first unacknowledged one
REORDER_THRESHOLD = 3    # transmissions later that must be acked before a chunk is lost
PROBE_CHUNKS = 2         # chunks sent when a probe time-out fires (RFC 9002: one or two)
PERSISTENT_TIMEOUTS = 3  # losses spanning this many time-outs: persistent congestion (7.6)
OFFER_TIMEOUT = 0.3      # the first OFFER's time-out (doubling, up to OFFER_TIMEOUT_MAX)
OFFER_TIMEOUT_MAX = 2.0
PROBE_OFFERS = 3         # padded OFFERs unanswered before falling back to CHUNK_SIZE
ENDED_MEMORY = 600.0     # seconds an ended incoming transfer's verdict is kept (resent DONE)
NEVER = float("inf")


# ---------------------------------------------------------------- events

class Offered(NamedTuple):
    """Incoming: a new file is offered. The owner calls accept or refuse."""
    peer: int
    transfer: int
    offer: fw.Offer


class Write(NamedTuple):
    """Incoming: bytes to write at `offset` of the partial file."""
    peer: int
    transfer: int
    offset: int
    data: bytes


class Complete(NamedTuple):
    """Incoming: every chunk is written. The owner checks the SHA-256, puts the
    file under its final name, and calls finish."""
    peer: int
    transfer: int


class Cancelled(NamedTuple):
    """Incoming: the sender stopped (its code and reason). The partial is the
    owner's to delete."""
    peer: int
    transfer: int
    code: int
    reason: str


class Delivered(NamedTuple):
    """Outgoing: the receiver's DONE (stored, or why not)."""
    peer: int
    transfer: int
    done: fw.Done


class Refused(NamedTuple):
    """Outgoing: the receiver refused it, or (code 0) the sender stopped it."""
    peer: int
    transfer: int
    code: int
    reason: str


FileEvent = Union[Offered, Write, Complete, Cancelled, Delivered, Refused]


# ---------------------------------------------------------------- sender

OFFERING, SENDING, FINISHING, ENDED = "offering", "sending", "finishing", "ended"


class Outgoing:
    """One file on its way to one peer."""

    def __init__(self, now: float, peer: int, transfer: int, offer: fw.Offer,
                 source: Any) -> None:
        self.peer = peer
        self.transfer = transfer
        self.offer = offer
        self.source = source
        self._use(offer)
        self.state = OFFERING
        self.offer_due = now
        self.offer_wait = OFFER_TIMEOUT
        self.retransmissions = 0
        self.started = now
        self._reset(now)

    def _use(self, offer: fw.Offer) -> None:
        """Offer with this chunk size. One above the floor is a path probe: its
        OFFER is padded to a full CHUNK datagram, and falls back to the floor
        when PROBE_OFFERS of them go unanswered (F.3)."""
        self.offer = offer
        self.chunks = offer.chunks
        self.probing = offer.chunk > fw.CHUNK_SIZE
        self.offer_body = fw.encode_offer(self.transfer, offer, pad=self.probing)
        self.unanswered = 0
        self.tell = False                     # the OFFER with the new hash is due at once

    def hashed(self, sha256: bytes) -> None:
        """The owner has the file's SHA-256 now: the OFFER carries it from now
        on, and goes at once if chunks are already going (F.3)."""
        self.offer = self.offer._replace(sha256=sha256)
        self.offer_body = fw.encode_offer(self.transfer, self.offer, pad=self.probing)
        self.tell = self.state in (SENDING, FINISHING)

    def smaller(self, now: float, largest: int) -> bool:
        """Offer again with smaller chunks (a path that drops the probe, or the
        receiver's REFUSE SMALLER). False: no smaller chunk size is left."""
        chunk = max(fw.CHUNK_SIZE, largest // 8 * 8)
        if chunk >= self.offer.chunk or self.state != OFFERING:
            return False
        self._use(self.offer._replace(chunk=chunk))
        self._reset(now)
        self.offer_due = now
        self.offer_wait = OFFER_TIMEOUT
        return True

    def _reset(self, now: float) -> None:
        """Forget what the receiver holds: it tells us again in its next ACK."""
        self.cc = Controller(now, self.offer.chunk)
        self.cum = 0                          # every chunk below is acknowledged
        self.ranges: Tuple[Tuple[int, int], ...] = ()   # held above cum (the last ACK)
        self.next_new = 0                     # the lowest chunk never sent (this round)
        self.lost: List[int] = []             # a heap of chunks to send again
        # chunk -> (serial, sent_at, transmissions); `order`: (serial, chunk) in send order
        self.in_flight: Dict[int, Tuple[int, float, int]] = {}
        self.order: Deque[Tuple[int, int]] = deque()
        self.serial = 0
        self.acked_serial = -1
        self.acked_sent_at = now              # when the chunk of acked_serial was sent
        self.last_sent = now                  # the probe time-out runs from here
        self.probes = 0                       # chunks due as probes, the window aside

    # ------------------------------------------------------------ state

    def held(self, index: int) -> bool:
        if index < self.cum:
            return True
        for start, end in self.ranges:
            if index < start:
                return False
            if index < end:
                return True
        return False

    @property
    def sent_bytes(self) -> int:
        """Bytes the receiver has acknowledged."""
        if self.state == ENDED:
            return self.offer.size
        held = self.cum + sum(end - start for start, end in self.ranges)
        return min(self.offer.size, held * self.offer.chunk)

    def lost_peer(self, now: float) -> None:
        """The peer's session is gone: offer again when it is back."""
        if self.state in (SENDING, FINISHING):
            self.state = OFFERING
        self.offer_due = now
        self.offer_wait = OFFER_TIMEOUT
        self._reset(now)

    # ------------------------------------------------------------ input

    def on_ack(self, now: float, ack: fw.Ack) -> None:
        if self.state == ENDED:
            return
        self.unanswered = 0
        if self.probing:                      # this size has been through: no fallback,
            self.probing = False              # and no more padded OFFERs (the probe is the
            self.offer_body = fw.encode_offer(self.transfer, self.offer)   # first OFFER's)
        if self.state == OFFERING:
            self.state = SENDING
            self.next_new = ack.next
        nxt = min(ack.next, self.chunks)
        in_flight = self.in_flight
        newly = 0
        rtt = None
        top, top_sent_at = self.acked_serial, self.acked_sent_at
        popped: List[Tuple[int, Tuple[int, float, int]]] = []
        if nxt > self.cum:
            if in_flight:
                for index in range(self.cum, nxt):
                    record = in_flight.pop(index, None)
                    if record is not None:
                        popped.append((index, record))
            newly += nxt - self.cum
            self.cum = nxt
        self.ranges = tuple((a, min(b, self.chunks)) for a, b in ack.ranges if a < self.chunks)
        if self.ranges and in_flight:
            for index in [i for i in in_flight if self.held(i)]:
                popped.append((index, in_flight.pop(index)))
                newly += 1
        for index, (serial, sent_at, sends) in popped:
            if sends > 1 and now - sent_at < self.cc.base:
                continue        # sooner than any round trip: the ack was the first sending's
            if serial > top:
                top, top_sent_at = serial, sent_at
            if index == ack.latest and sends == 1:
                rtt = now - sent_at
        self.acked_serial, self.acked_sent_at = top, top_sent_at
        if newly:
            self.probes = 0                   # the peer answers: no probe needed
        self.next_new = max(self.next_new, self.cum)
        self._detect_losses(now)
        self.cc.on_acked(now, newly, rtt)
        if self.cum >= self.chunks and self.state == SENDING:
            self.state = FINISHING
            self.offer_due = now + self.cc.timeout()
            self.offer_wait = OFFER_TIMEOUT

    def _detect_losses(self, now: float) -> None:
        threshold = self.acked_serial - REORDER_THRESHOLD
        order, in_flight = self.order, self.in_flight
        span_start: Optional[float] = None    # the first of the losses in a row: when sent
        while order:
            serial, index = order[0]
            record = in_flight.get(index)
            if record is None or record[0] != serial:
                order.popleft()                  # acknowledged, or sent again since
                if record is None:
                    span_start = None            # acknowledged: the losses are not in a row
                continue
            if serial > threshold:
                break
            order.popleft()
            del in_flight[index]
            heapq.heappush(self.lost, index)
            self.cc.on_lost(now, record[1])
            if span_start is None:
                span_start = record[1]
        if span_start is not None and \
                self.acked_sent_at - span_start > PERSISTENT_TIMEOUTS * self.cc.rto:
            self.cc.on_persistent_congestion(now)

    def _check_probe_timeout(self, now: float) -> None:
        if self.in_flight and not self.probes and now >= self.last_sent + self.cc.timeout():
            self.cc.on_probe_timeout()
            self.probes = PROBE_CHUNKS

    def _oldest_in_flight(self) -> Optional[Tuple[int, int]]:
        """(index, transmissions so far) of the chunk in flight longest."""
        for serial, index in self.order:
            record = self.in_flight.get(index)
            if record is not None and record[0] == serial:
                return index, record[2]
        return None

    # ------------------------------------------------------------ output

    def _next_chunk(self) -> Optional[Tuple[int, int]]:
        """(index, transmissions so far) of the next chunk to send, or None."""
        lost = self.lost
        while lost:
            index = heapq.heappop(lost)
            if not self.held(index) and index not in self.in_flight:
                return index, 1
        while self.next_new < self.chunks:
            index = self.next_new
            self.next_new += 1
            if not self.held(index) and index not in self.in_flight:
                return index, 0
        return None

    def take_chunks(self, now: float, budget: int) -> List[Tuple[int, int]]:
        """(index, transmissions before) of the chunks to send now (at most `budget`)."""
        if self.state != SENDING:
            return []
        self._check_probe_timeout(now)
        allowed = min(budget, self.cc.allowed(now, len(self.in_flight)))
        if self.probes:                        # RFC 9002 7.5: not held back by the window
            allowed = max(allowed, min(budget, self.probes))
        picked: List[Tuple[int, int]] = []
        while len(picked) < allowed:
            nxt = self._next_chunk()
            if nxt is None and self.probes:
                nxt = self._oldest_in_flight()
            if nxt is None:
                break
            index, before = nxt
            self.serial += 1
            self.in_flight[index] = (self.serial, now, before + 1)
            self.order.append((self.serial, index))
            if before:
                self.retransmissions += 1
            picked.append(nxt)
        if picked:
            self.last_sent = now
            self.probes = max(0, self.probes - len(picked))
        self.cc.spent(len(picked))
        return picked

    def take_offer(self, now: float) -> bool:
        """True when the OFFER (or the FINISHING probe) is due now."""
        if self.state not in (OFFERING, FINISHING) or now < self.offer_due:
            return False
        if self.state == OFFERING and self.probing:
            if self.unanswered >= PROBE_OFFERS:   # a black hole for this size: the floor
                self.smaller(now, fw.CHUNK_SIZE)
            self.unanswered += 1
        self.offer_due = now + self.offer_wait
        self.offer_wait = min(OFFER_TIMEOUT_MAX, self.offer_wait * 2)
        return True

    def deadline(self, now: float) -> float:
        if self.state in (OFFERING, FINISHING):
            return self.offer_due
        if self.state != SENDING:
            return NEVER
        if self.probes:
            return now
        due = self.last_sent + self.cc.timeout() if self.in_flight else NEVER
        if (self.lost or self.next_new < self.chunks) and len(self.in_flight) < int(self.cc.cwnd):
            due = min(due, self.cc.next_token(now))
        return due


# ---------------------------------------------------------------- receiver

PENDING, OPEN, COMPLETE, DONE, REFUSED, CANCELLED = (
    "pending", "open", "complete", "done", "refused", "cancelled")


class Incoming:
    """One file coming from one peer."""

    def __init__(self, now: float, peer: int, transfer: int, offer: fw.Offer) -> None:
        self.peer = peer
        self.transfer = transfer
        self.offer = offer
        self.chunks = offer.chunks
        self.state = PENDING
        self.have = bytearray(self.chunks)
        self.next = 0                         # every chunk below is held
        self.count = 0                        # chunks held
        self.highest = -1
        self.latest = fw.NO_LATEST
        self.unacked = 0
        self.ack_due: Optional[float] = None
        self.answer: Optional[bytes] = None   # the DONE or REFUSE, sent again when asked
        self.ended_at = NEVER
        self.last_heard = now

    @property
    def received_bytes(self) -> int:
        return min(self.offer.size, self.count * self.offer.chunk)

    @property
    def ready(self) -> bool:
        """Every chunk is held and the SHA-256 to check them against is known."""
        return self.count == self.chunks and self.offer.hashed

    def hold_prefix(self, chunks: int) -> None:
        """Resume: the first `chunks` chunks are already in the partial file."""
        chunks = max(0, min(chunks, self.chunks))
        for index in range(chunks):
            self.have[index] = 1
        self.next = self.count = chunks
        self.highest = chunks - 1

    def rechunked(self, now: float, offer: fw.Offer) -> "Incoming":
        """The same file offered again in chunks of another size (the sender's
        probe fell back, or it restarted): what is held of the prefix is kept."""
        again = Incoming(now, self.peer, self.transfer, offer)
        again.state = self.state
        if self.state == OPEN:
            again.hold_prefix(self.next * self.offer.chunk // offer.chunk)
            again.ack_due = now
        return again

    def ack(self) -> fw.Ack:
        ranges: List[Tuple[int, int]] = []
        if self.highest >= self.next:
            have = self.have
            index, top = self.next, self.highest
            while index <= top and len(ranges) < fw.MAX_RANGES:
                start = have.find(1, index, top + 1)
                if start < 0:
                    break
                end = have.find(0, start, top + 1)
                end = top + 1 if end < 0 else end
                ranges.append((start, end))
                index = end
        return fw.Ack(self.next, self.latest, tuple(ranges))

    def on_chunk(self, now: float, index: int, data: bytes) -> bool:
        """True when the chunk is new (the owner writes it)."""
        if index >= self.chunks:
            raise ProtocolError("chunk %d of a file of %d chunks" % (index, self.chunks))
        expected = min(self.offer.chunk, self.offer.size - index * self.offer.chunk)
        if len(data) != expected:
            raise ProtocolError("chunk %d of %d bytes, not %d" % (index, len(data), expected))
        self.last_heard = now
        self.latest = index
        if self.have[index]:
            self.ack_due = now                # a duplicate: our ack was lost, say it again
            return False
        self.have[index] = 1
        self.count += 1
        in_order = index == self.next
        if index > self.highest:
            self.highest = index
        while self.next < self.chunks and self.have[self.next]:
            self.next += 1
        self.unacked += 1
        if not in_order or self.unacked >= ACK_EVERY or self.count == self.chunks \
                or self.highest >= self.next:
            self.ack_due = now                # a hole (or filled one), or enough of them
        elif self.ack_due is None:
            self.ack_due = now + ACK_DELAY
        return True


# ---------------------------------------------------------------- endpoint

class Endpoint:
    """Every transfer of one side, with whom it is and what is due."""

    def __init__(self, read: Reader, max_chunk: int = fw.MAX_CHUNK) -> None:
        self.read = read
        self.max_chunk = max_chunk       # larger offered chunks: REFUSE SMALLER (F.4)
        self.outgoing: Dict[Key, Outgoing] = {}
        self.incoming: Dict[Key, Incoming] = {}
        self.events: List[FileEvent] = []
        self.control: List[Tuple[int, bytes]] = []      # (peer, body): before any chunk
        self.turn = 0                                   # round-robin start among senders
        self.stats = dict.fromkeys(("chunks_sent", "chunks_received", "duplicates",
                                    "malformed", "retransmissions"), 0)

    # ------------------------------------------------------------ owner's calls

    def send(self, now: float, peer: int, transfer: int, offer: fw.Offer, source: Any) -> None:
        """Start sending a file (a new transfer, or the same again after a restart)."""
        key = (peer, transfer)
        if key not in self.outgoing or self.outgoing[key].state == ENDED:
            self.outgoing[key] = Outgoing(now, peer, transfer, offer, source)

    def hashed(self, transfer: int, sha256: bytes) -> None:
        """The SHA-256 of the file sent as `transfer` (to any peer) is known now."""
        for (_, number), out in self.outgoing.items():
            if number == transfer and out.state != ENDED and not out.offer.hashed:
                out.hashed(sha256)

    def stop(self, peer: int, transfer: int, code: fw.CancelCode, reason: str) -> None:
        """The sender gives up (the file changed, cannot be read): CANCEL."""
        out = self.outgoing.get((peer, transfer))
        if out is None or out.state == ENDED:
            return
        out.state = ENDED
        self.control.append((peer, fw.encode_coded(FileKind.CANCEL, transfer,
                                                   fw.Coded(code, reason))))
        self.events.append(Refused(peer, transfer, 0, reason))

    def accept(self, now: float, peer: int, transfer: int, held: int = 0) -> None:
        """Take an offered file; `held`: chunks already in the partial (resume)."""
        inc = self.incoming.get((peer, transfer))
        if inc is None or inc.state != PENDING:
            return
        inc.state = OPEN
        inc.hold_prefix(held)
        if inc.ready:
            inc.state = COMPLETE
            self.events.append(Complete(peer, transfer))
        inc.ack_due = now

    def refuse(self, now: float, peer: int, transfer: int, code: fw.RefuseCode,
               reason: str) -> None:
        inc = self.incoming.get((peer, transfer))
        if inc is None or inc.state in (DONE, REFUSED):
            return
        inc.state = REFUSED
        inc.ended_at = now
        inc.answer = fw.encode_coded(FileKind.REFUSE, transfer, fw.Coded(code, reason))
        self.control.append((peer, inc.answer))

    def finish(self, now: float, peer: int, transfer: int, done: fw.Done) -> None:
        """The owner's verdict on a complete file (hash checked, stored or not)."""
        inc = self.incoming.get((peer, transfer))
        if inc is None:
            return
        inc.state = DONE
        inc.ended_at = now
        inc.answer = fw.encode_done(transfer, done)
        self.control.append((peer, inc.answer))

    def peer_lost(self, now: float, peer: int) -> None:
        """The peer's session ended: what we send it is offered again when it is back."""
        for out in self.outgoing.values():
            if out.peer == peer and out.state != ENDED:
                out.lost_peer(now)
        self.control = [(p, body) for p, body in self.control if p != peer]

    def forget_peer(self, peer: int) -> None:
        """Drop everything with `peer` (gone for good, e.g. banned)."""
        for table in (self.outgoing, self.incoming):
            for key in [k for k in table if k[0] == peer]:
                del table[key]

    def take_events(self) -> List[FileEvent]:
        events, self.events = self.events, []
        return events

    def busy(self) -> bool:
        """Transfers under way (sending, or receiving and not yet ended)."""
        return any(o.state != ENDED for o in self.outgoing.values()) or any(
            i.state in (PENDING, OPEN, COMPLETE) for i in self.incoming.values())

    # ------------------------------------------------------------ input

    def on_message(self, now: float, peer: int, body: bytes) -> None:
        """A FILE datagram's body (after the version-1 header) from `peer`.
        Never raises: a malformed message is counted and dropped."""
        try:
            self._on_message(now, peer, body)
        except ProtocolError:
            self.stats["malformed"] += 1

    def _on_message(self, now: float, peer: int, body: bytes) -> None:
        kind, transfer, rest = fw.decode_head(body)
        key = (peer, transfer)
        if kind == FileKind.CHUNK:
            index, data = fw.decode_chunk(rest)
            inc = self.incoming.get(key)
            if inc is None:
                return
            if inc.state == OPEN:
                if inc.on_chunk(now, index, data):
                    self.stats["chunks_received"] += 1
                    self.events.append(Write(peer, transfer, index * inc.offer.chunk, data))
                    if inc.ready:
                        inc.state = COMPLETE
                        self.events.append(Complete(peer, transfer))
                else:
                    self.stats["duplicates"] += 1
            elif inc.answer is not None:
                self.control.append((peer, inc.answer))
            return
        if kind == FileKind.OFFER:
            offer = fw.decode_offer(rest)
            inc = self.incoming.get(key)
            if inc is not None:
                if inc.offer.size != offer.size or (
                        inc.offer.hashed and offer.hashed and inc.offer.sha256 != offer.sha256):
                    raise ProtocolError("an OFFER that changes a transfer")
                if not offer.hashed:              # (an older OFFER, overtaken)
                    offer = offer._replace(sha256=inc.offer.sha256)
                elif not inc.offer.hashed:        # the hash, now known (F.4)
                    inc.offer = inc.offer._replace(sha256=offer.sha256)
                    if inc.state == OPEN and inc.ready:
                        inc.state = COMPLETE
                        self.events.append(Complete(peer, transfer))
            if offer.chunk > self.max_chunk and (inc is None or inc.answer is None):
                self.control.append((peer, fw.encode_coded(
                    FileKind.REFUSE, transfer, fw.Coded(fw.RefuseCode.SMALLER,
                                                        str(self.max_chunk)))))
                return
            if inc is not None and inc.offer.chunk != offer.chunk \
                    and inc.state in (PENDING, OPEN):
                self.incoming[key] = inc.rechunked(now, offer)
                return
            if inc is None:
                self.incoming[key] = Incoming(now, peer, transfer, offer)
                self.events.append(Offered(peer, transfer, offer))
            elif inc.answer is not None:
                self.control.append((peer, inc.answer))
            elif inc.state in (OPEN, COMPLETE):
                inc.ack_due = now
            return
        if kind == FileKind.CANCEL:
            coded = fw.decode_coded(rest)
            inc = self.incoming.get(key)
            if inc is not None and inc.state in (PENDING, OPEN, COMPLETE):
                inc.state = CANCELLED
                inc.ended_at = now
                self.events.append(Cancelled(peer, transfer, coded.code, coded.reason))
            return
        out = self.outgoing.get(key)
        if kind == FileKind.ACK:
            ack = fw.decode_ack(rest)
            if out is not None:
                out.on_ack(now, ack)
        elif kind == FileKind.DONE:
            done = fw.decode_done(rest)
            if out is not None and out.state != ENDED:
                out.state = ENDED
                self.events.append(Delivered(peer, transfer, done))
        elif kind == FileKind.REFUSE:
            coded = fw.decode_coded(rest)
            if out is not None and coded.code == fw.RefuseCode.SMALLER \
                    and coded.reason.isdigit() and out.smaller(now, int(coded.reason)):
                return
            if out is not None and out.state != ENDED:
                out.state = ENDED
                self.events.append(Refused(peer, transfer, coded.code, coded.reason))
        else:
            raise ProtocolError("unknown FILE message kind %d" % kind)

    # ------------------------------------------------------------ output

    def pull(self, now: float, budget: int,
             live: Callable[[int], bool] = lambda peer: True,
             head: Callable[[int], bytes] = lambda peer: b"") -> List[Tuple[int, bytes]]:
        """Message bodies to send now, as (peer, head(peer) + body): control
        first (acks, answers, offers), then up to `budget` chunks shared
        round-robin among the transfers whose peer is `live` (has a session
        now). `head` is the owner's datagram header, put in front here so that
        a 64 KB chunk is copied once (one join), not once per layer."""
        out = [(p, head(p) + body) for p, body in self.control if live(p)]
        self.control = []
        for inc in self.incoming.values():
            if inc.ack_due is not None and inc.ack_due <= now:
                inc.ack_due = None
                inc.unacked = 0
                if live(inc.peer) and inc.state in (OPEN, COMPLETE):
                    out.append((inc.peer, head(inc.peer) + fw.encode_ack(inc.transfer, inc.ack())))
        senders = [o for o in self.outgoing.values() if o.state != ENDED and live(o.peer)]
        for sender in senders:
            if sender.take_offer(now) or sender.tell:
                sender.tell = False
                out.append((sender.peer, head(sender.peer) + sender.offer_body))
        active = [o for o in senders if o.state == SENDING]
        if active and budget > 0:
            self.turn = (self.turn + 1) % len(active)
            active = active[self.turn:] + active[:self.turn]
            share = max(1, budget // len(active))
            for sender in active:
                if budget <= 0:
                    break
                for index, before in sender.take_chunks(now, min(share, budget)):
                    data = self._read(sender, index)
                    if data is None:
                        break
                    out.append((sender.peer, b"".join((
                        head(sender.peer), fw.encode_chunk_head(sender.transfer, index), data))))
                    budget -= 1
                    self.stats["chunks_sent"] += 1
                    if before:
                        self.stats["retransmissions"] += 1
        return out

    def _read(self, sender: Outgoing, index: int) -> Optional[bytes]:
        offer = sender.offer
        offset = index * offer.chunk
        size = min(offer.chunk, offer.size - offset)
        try:
            data = self.read(sender.source, offset, size)
        except OSError as exc:
            # The reasons are coded problems (app/core/problems.py): worded by
            # whoever shows them, in their language.
            self.stop(sender.peer, sender.transfer, fw.CancelCode.UNREADABLE,
                      problems.detail("read", exc.errno, offer.name))
            return None
        if len(data) != size:
            self.stop(sender.peer, sender.transfer, fw.CancelCode.CHANGED,
                      problems.detail("changed", None, offer.name))
            return None
        return data

    def next_deadline(self, now: float) -> Optional[float]:
        """When pull has something to do next (None: nothing pending)."""
        if self.control:
            return now
        due = NEVER
        for inc in self.incoming.values():
            if inc.ack_due is not None and inc.ack_due < due:
                due = inc.ack_due
        for out in self.outgoing.values():
            if out.state != ENDED:
                due = min(due, out.deadline(now))
        return None if due == NEVER else due

    def sweep(self, now: float) -> None:
        """Forget ended incoming transfers after ENDED_MEMORY."""
        for key in [k for k, i in self.incoming.items() if now - i.ended_at > ENDED_MEMORY]:
            del self.incoming[key]
        for key in [k for k, o in self.outgoing.items() if o.state == ENDED]:
            del self.outgoing[key]
