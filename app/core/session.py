"""A reliable, ordered message stream over datagrams: one per client-server session.

Pure: no sockets and no clock; every call takes `now` (seconds, monotonic) and the
owner sends the bytes that `flush` returns. Each side of a session runs one
ReliableStream, which both sends its own messages and receives the peer's.

Mechanisms (the numbers are argued in docs/DESIGN.md, "Why the numbers are what
they are"; tuned for a LAN):
  * every message has a sequence number (1, 2, ...); every datagram carries the
    cumulative ack (highest in-order seq received) and a 32-bit selective-ack
    bitmap, so a lost ack is repaired by the next datagram;
  * retransmission after RTO = clamp(srtt + 4 * rttvar) doubling on each time-out,
    and at once (fast retransmit) when 3 later messages were acked past a hole;
  * a send window caps unacked messages; beyond it messages wait in a backlog;
  * the receiver buffers up to RECV_AHEAD messages out of order, delivers in order,
    drops duplicates and acks them again;
  * several messages share one datagram whenever they fit (busy rooms then cost
    datagrams, not messages).
"""
from collections import deque
from typing import Deque, Dict, List, Optional, Tuple

from app.core import protocol
from app.core.auth import ReplayWindow
from app.core.protocol import Frame, Header

RTO_INITIAL = 0.3        # a LAN: no need for TCP's 1 s
RTO_MIN = 0.2
RTO_MAX = 2.0
ACK_DELAY = 0.02         # a lone message is acked within 20 ms ...
ACK_EVERY = 2            # ... and at once after every second one (the server's acks)
FAST_RETRANSMIT_AFTER = 3
RECV_AHEAD = 512         # out-of-order messages held at most
SACK_BITS = 32
FAST_DUE = -1.0          # an in-flight deadline meaning "resend now, no back-off"
NEVER = float("inf")


class RttEstimator:
    """Smoothed round-trip time and the retransmission time-out (RFC 6298's
    rules, with a LAN's bounds)."""
    __slots__ = ("srtt", "rttvar", "rto")

    def __init__(self) -> None:
        self.srtt: Optional[float] = None
        self.rttvar = 0.0
        self.rto = RTO_INITIAL

    def sample(self, rtt: float) -> None:
        if self.srtt is None:
            self.srtt = rtt
            self.rttvar = rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.rto = min(RTO_MAX, max(RTO_MIN, self.srtt + 4 * self.rttvar))


class _InFlight:
    __slots__ = ("seq", "frame", "weight", "sent_at", "deadline", "transmissions",
                 "fast_resent")

    def __init__(self, seq: int, frame: bytes, weight: int = 1) -> None:
        self.seq = seq
        self.frame = frame
        self.weight = weight          # events in the frame (an EVENTS frame holds several)
        self.sent_at = 0.0
        self.deadline = 0.0
        self.transmissions = 0
        self.fast_resent = False


class ReliableStream:
    """Both directions of one session's reliable message stream."""

    def __init__(self, session_id: int, window: int = 256, ack_every: int = ACK_EVERY,
                 ack_delay: float = ACK_DELAY) -> None:
        self.session_id = session_id
        self.window = window
        self.ack_every = ack_every
        self.ack_delay = ack_delay
        # sending
        self.next_seq = 1
        self.backlog: Deque[_InFlight] = deque()
        self.in_flight: Dict[int, _InFlight] = {}   # insertion order == seq order
        self.rtt = RttEstimator()
        self.backoff = 1
        self.pkt = 0
        self.queued_events = 0        # sum of the weights of unacked messages
        self.unacked_bytes = 0        # ... and of their frames' sizes (the memory they hold)
        # When the peer last acknowledged something new, or when messages went
        # out with none unacknowledged before: "no progress since" for a peer
        # that keeps pinging but never acknowledges (the hub drops it).
        self.progress_at = 0.0
        # No in-flight deadline is earlier than this (it may be earlier than all of
        # them once messages are acked): flush and next_deadline need not look at
        # every message in flight until it has come.
        self.due_at = NEVER
        # receiving
        self.recv_next = 1
        self.ahead: Dict[int, Frame] = {}
        self.recv_window = RECV_AHEAD        # the owner closes it to slow a sender down
        self.replay = ReplayWindow()         # packet numbers seen: replays are dropped
        self.unacked_received = 0
        self.ack_due: Optional[float] = None
        # A receive-only stream whose acks ride in this stream's headers (the
        # client's room stream: FLAG_ROOM_ACK, docs/PROTOCOL.md 6.8).
        self.rider: Optional["ReliableStream"] = None
        # counters
        self.retransmissions = 0
        self.duplicates = 0
        self.replays = 0

    # ------------------------------------------------------------ sending side

    def queue(self, kind: int, body: bytes, weight: int = 1) -> int:
        """Queue one reliable message (carrying `weight` events); returns its
        sequence number."""
        seq = self.next_seq
        self.next_seq += 1
        frame = protocol.encode_frame(seq, kind, body)
        self.backlog.append(_InFlight(seq, frame, weight))
        self.queued_events += weight
        self.unacked_bytes += len(frame)
        return seq

    @property
    def queued(self) -> int:
        """Messages not yet acknowledged (in flight or waiting for the window)."""
        return len(self.backlog) + len(self.in_flight)

    def stalled_for(self, now: float) -> float:
        """How long messages have waited for an ack with none acknowledged
        meanwhile (0 when nothing waits)."""
        return now - self.progress_at if self.in_flight else 0.0

    def acked_through(self, seq: int) -> bool:
        """True when every message numbered up to `seq` is acknowledged."""
        for first in self.in_flight:         # in seq order: the oldest unacked
            return first > seq
        return not self.backlog or self.backlog[0].seq > seq

    def unacked(self, seq: int) -> bool:
        """Whether message `seq` of this stream is not yet acknowledged."""
        return seq in self.in_flight or bool(self.backlog) and seq >= self.backlog[0].seq

    def unacked_messages(self) -> List[Tuple[int, bytes]]:
        """(kind, body) of every message not yet acknowledged, in order: what a
        client re-queues on a new session after a reconnect."""
        items = list(self.in_flight.values()) + list(self.backlog)
        result = []
        for item in items:
            frame = protocol.decode_frames(item.frame)[0]
            result.append((frame.kind, frame.body))
        return result

    def _on_ack(self, now: float, ack: int, sack: int) -> None:
        in_flight = self.in_flight
        if not in_flight:
            return
        acked = []
        for seq in in_flight:                # in seq order: stop past the ack
            if seq > ack:
                break
            acked.append(seq)
        bit = 0
        while sack >> bit:
            if sack >> bit & 1:
                seq = ack + 2 + bit
                if seq in in_flight:
                    acked.append(seq)
            bit += 1
        if not acked:
            return
        highest = max(acked)
        oldest = in_flight[acked[0]]         # (acked[0]: the lowest, taken in seq order)
        for seq in acked:
            item = in_flight.pop(seq)
            self.queued_events -= item.weight
            self.unacked_bytes -= len(item.frame)
        self.progress_at = now
        if not in_flight:
            self.due_at = NEVER
        if oldest.transmissions == 1:        # Karn: time only unambiguous samples
            # One sample per ack, from the oldest message it covers: that one's
            # wait includes the peer's ack delay, which the timer (guarding the
            # oldest unacked message) must allow for. The newest would see only
            # the network (the room stream's lesson, room_stream.py on_ack).
            self.rtt.sample(now - oldest.sent_at)
        self.backoff = 1
        if not sack:
            return                           # no hole (all in flight are past the ack)
        # Fast retransmit: a hole with FAST_RETRANSMIT_AFTER later messages acked.
        for item in in_flight.values():
            if item.seq < highest - FAST_RETRANSMIT_AFTER + 1 and not item.fast_resent:
                item.fast_resent = True
                item.deadline = self.due_at = FAST_DUE
            elif item.seq >= highest:
                break

    # ---------------------------------------------------------- receiving side

    def fresh(self, pkt: int) -> bool:
        """False for a packet number already seen (or too old): a replay or a
        network duplicate; the caller ignores the whole datagram."""
        if self.replay.accept(pkt):
            return True
        self.replays += 1
        return False

    def on_datagram(self, now: float, header: Header, frames: List[Frame]) -> List[Frame]:
        """Take a DATA/PING/PONG datagram's ack fields and frames; return the
        frames that are now deliverable, in order."""
        self._on_ack(now, header.ack, header.sack)
        return self.receive(now, frames) if frames else frames

    def receive(self, now: float, frames: List[Frame]) -> List[Frame]:
        """Take frames; return those now deliverable, in order (and schedule the ack)."""
        delivered: List[Frame] = []
        for frame in frames:
            if frame.seq < self.recv_next or frame.seq in self.ahead:
                self.duplicates += 1
                self._ack_now(now)
                continue
            if frame.seq >= self.recv_next + min(RECV_AHEAD, self.recv_window):
                continue            # beyond the window: dropped unacked, resent later
            if frame.seq != self.recv_next:
                self.ahead[frame.seq] = frame
                self._ack_now(now)  # a hole: tell the sender at once
                continue
            delivered.append(frame)
            self.recv_next += 1
            while self.recv_next in self.ahead:
                delivered.append(self.ahead.pop(self.recv_next))
                self.recv_next += 1
        if delivered:
            self.unacked_received += len(delivered)
            if self.unacked_received >= self.ack_every:
                self._ack_now(now)
            elif self.ack_due is None:
                self.ack_due = now + self.ack_delay
        return delivered

    def _ack_now(self, now: float) -> None:
        self.ack_due = now

    def ack_fields(self) -> Tuple[int, int]:
        """(cumulative ack, selective-ack bitmap) for the next datagram."""
        ack = self.recv_next - 1
        sack = 0
        if self.ahead:
            base = self.recv_next + 1
            for seq in self.ahead:
                offset = seq - base
                if 0 <= offset < SACK_BITS:
                    sack |= 1 << offset
        return ack, sack

    # ------------------------------------------------------------------ output

    def take_ack_fields(self) -> Tuple[int, int]:
        """ack_fields, now sent: no ack is due any more."""
        self.ack_due = None
        self.unacked_received = 0
        return self.ack_fields() if self.ahead else (self.recv_next - 1, 0)

    def header(self, dtype: protocol.DatagramType) -> bytes:
        """A header of type `dtype` carrying the current acks (which it settles),
        and the rider's acks after it when there is a rider."""
        self.pkt = (self.pkt + 1) & 0xFFFFFFFF
        ack, sack = self.take_ack_fields()
        if self.rider is None:
            return protocol.encode_header(dtype, self.session_id, self.pkt, ack, sack)
        return (protocol.encode_header(dtype, self.session_id, self.pkt, ack, sack,
                                       protocol.FLAG_ROOM_ACK)
                + protocol.ROOM_ACK.pack(*self.rider.take_ack_fields()))

    def flush(self, now: float) -> List[bytes]:
        """Datagrams to send now: due retransmissions, new messages the window
        allows, or a bare ack when one is due."""
        frames: List[bytes] = []
        in_flight = self.in_flight
        if self.due_at <= now:
            due = [item for item in in_flight.values() if item.deadline <= now]
            if any(item.deadline != FAST_DUE for item in due):
                self.backoff = min(self.backoff * 2, 64)   # once per time-out, not per message
            self._stamp(now, due, frames)
            self.retransmissions += len(due)
            self.due_at = min([item.deadline for item in in_flight.values()], default=NEVER)
        backlog = self.backlog
        if backlog and len(in_flight) < self.window:
            if not in_flight:
                self.progress_at = now       # nothing was waiting for an ack: the clock starts
            fresh = []
            while backlog and len(in_flight) < self.window:
                item = backlog.popleft()
                in_flight[item.seq] = item
                fresh.append(item)
            self._stamp(now, fresh, frames)
        if frames:
            return self._pack(frames)
        if self._ack_is_due(now) or (self.rider is not None and self.rider._ack_is_due(now)):
            return [self.header(protocol.DATA)]
        return []

    def _ack_is_due(self, now: float) -> bool:
        return self.ack_due is not None and self.ack_due <= now

    def _stamp(self, now: float, items: List[_InFlight], frames: List[bytes]) -> None:
        """(Re)send `items` now: their frames go into `frames`."""
        deadline = now + min(RTO_MAX, self.rtt.rto * self.backoff)
        for item in items:
            item.transmissions += 1
            item.sent_at = now
            item.deadline = deadline
            frames.append(item.frame)
        if items and deadline < self.due_at:
            self.due_at = deadline

    def _pack(self, frames: List[bytes]) -> List[bytes]:
        if len(frames) == 1:                 # the usual case: one EVENTS frame
            return [self.header(protocol.DATA) + frames[0]]
        datagrams = []
        batch: List[bytes] = []
        size = 0
        room = protocol.PAYLOAD_ROOM - (protocol.ROOM_ACK.size if self.rider else 0)
        for frame in frames:
            if batch and size + len(frame) > room:
                datagrams.append(self.header(protocol.DATA) + b"".join(batch))
                batch, size = [], 0
            batch.append(frame)
            size += len(frame)
        if batch:
            datagrams.append(self.header(protocol.DATA) + b"".join(batch))
        return datagrams

    def next_deadline(self) -> Optional[float]:
        """When flush has something to do next (None: nothing pending)."""
        if self.backlog and len(self.in_flight) < self.window:
            return 0.0
        due = self.due_at
        if self.ack_due is not None and self.ack_due < due:
            due = self.ack_due
        if self.rider is not None and self.rider.ack_due is not None and self.rider.ack_due < due:
            due = self.rider.ack_due
        return None if due == NEVER else due
