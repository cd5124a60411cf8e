"""The room stream: the room's events, sent once for everyone (docs/PROTOCOL.md 6.8).

Pure: no sockets, no clock; `now` comes in and (datagram, address) pairs go out
into the caller's outbox.

Why: in a room of N, every room event goes to N members. Sent in each member's
own reliable stream it costs N sequence numbers, N in-flight records, N headers
and N timers, i.e. Python work per recipient, and at 1000 members that work, not
the network, is the server's limit. Here each datagram's worth of room events
gets ONE number (the ROOM datagram number) and its bytes are made once and kept
in a ring; a member's copy differs from everyone else's only in the 4 bytes of
its session id, so fan-out is one concatenation and one send per member.

Reliability per member is a cursor: the highest number sent to it, the highest
it acknowledged in order (cumulative ack + 32-bit SACK, riding in the member's
own DATA/PING/PONG headers), and one retransmission timer. A member whose acks
fall so far behind that the ring no longer holds what it lacks is reported as
stuck and the hub drops it, as it drops a member whose own stream overflows.

Fan-out is a walk over the members that the caller runs in slices (fan_out with
a limit), looking at its socket between them. A line that arrives during the
walk of an earlier one is numbered at once and joins the walk: every member not
yet visited gets both in ONE datagram (a run, FLAG_ROOM_RUN, if it takes runs),
and those already visited get the new one after the walk's end. A second line
then costs the server one send per member that already had the first, not one
per member after a whole fan-out's wait: the send is the server's cost per
recipient (about 1.8 us of its ~2 us), so packing what is due into one datagram
is the only saving left, and it is one that a server sending each line to each
member as it comes (the naive course server) cannot make.
"""
from collections import deque
from typing import Deque, Dict, List, Optional, Tuple

from app.core import protocol
from app.core.session import FAST_RETRANSMIT_AFTER, NEVER, RTO_MAX, SACK_BITS, RttEstimator

ROOM_WINDOW = 256        # ROOM datagrams in flight to one member before it waits for acks
# Datagrams resent at a member's first time-out in a row (the oldest unacked
# ones); at the next ones, the oldest alone (RFC 6298 5.4): a member silent
# for two time-outs is gone or deaf more likely than unlucky, and 1800 of them
# at 4 resends each were thousands of sealed sends while the room's lines waited.
TIMEOUT_BURST = 4        # ...
RESEND_BURST = 32        # ... and past each ack while it is repaired (see on_ack)
CHECK_EVERY = 0.05       # time-outs are looked for at most this often (one pass, all members)
# Members whose time-out a pass handles at most; the rest wait for the next
# pass. Members sent the same datagram at the same moment time out together:
# 2000 of them are 8000 resends at once (each sealed and sent), which the
# room's lines would wait behind. Spread, a pass costs a few milliseconds.
TIMEOUTS_PER_PASS = 64
# After this back-off (three time-outs in a row, no ack between them: at least
# 1.4 s of silence) a member is sent nothing new until it acks (_catch_up).
# Not after the first time-out: a member whose ack is only late (a busy
# machine) would then wait for that ack for every new line.
SILENT_BACKOFF = 8
# A member's room timer before its first RTT sample: above any client's room ack
# delay (at most 0.3 s, PROTOCOL.md 6.8; ours 0.12-0.28 s), so a new member's
# first datagrams are not resent for want of an ack; no longer, because what a
# new member misses (its first datagrams can overtake its WELCOME, or the
# WELCOME is lost and said again) is repaired by this timer.
ROOM_RTO_INITIAL = 0.5

Outbox = List[Tuple[bytes, tuple]]


class RoomCursor:
    """Where one member is in the room stream."""
    __slots__ = ("head", "run_head", "addr", "rtt", "base", "live", "sent", "acked", "due",
                 "backoff", "resent_upto", "recover", "after", "late_upto")

    def __init__(self, session_id: int, addr: tuple, base: int, runs: bool = False) -> None:
        # Its copies of every ROOM datagram begin with these 10 bytes ...
        session = session_id.to_bytes(4, "big")
        self.head = protocol.room_datagram(session, b"")
        # ... and of every run with these (None: it does not take runs).
        self.run_head = protocol.ROOM_RUN_PREFIX + session if runs else None
        self.addr = addr
        self.rtt = RttEstimator()
        self.rtt.rto = ROOM_RTO_INITIAL
        self.base = base              # the number before the first one it gets (WELCOME)
        self.live = False             # takes new datagrams as they are made ...
        self.after = 0                # ... once its own stream has this message acked
        self.sent = base              # highest number sent to it
        self.acked = base             # highest number it has, with all before it
        self.due = NEVER              # when the oldest unacked one is resent
        self.backoff = 1
        self.resent_upto = base       # every unacked number up to here was resent
        self.recover = 0              # after a time-out: resend up to here as acks come
        self.late_upto = base         # up to here some were sent after they were made

    def rto(self) -> float:
        return min(RTO_MAX, self.rtt.rto * self.backoff)

    def copy(self, tail: bytes, count: int) -> bytes:
        """Its copy of a datagram of `count` numbers (a run if more than one)."""
        # (count > 1 only for a cursor made with runs: run_head is set then)
        return (self.head if count == 1 else self.run_head) + tail  # type: ignore[operator]


class RoomSender:
    def __init__(self, cap_events: int) -> None:
        self.cap_events = cap_events  # events the ring holds for members behind
        self.number = 0               # the newest ROOM datagram's number
        self.first = 1                # the oldest number still in the ring
        # (tail, part, events, when made) of every number from `first` on: its
        # datagram without the member's head, and its body as a part of a run
        self.ring: Deque[Tuple[bytes, bytes, int, float]] = deque()
        self.ring_events = 0
        self.cursors: Dict[int, RoomCursor] = {}         # by session id
        self.check_at = NEVER
        self.retransmissions = 0
        self.walk: List[RoomCursor] = []   # members the fan-out visits, in order ...
        self.walk_at = 0                    # ... from here on
        self.walk_now = 0.0                 # when the walk's newest number was made

    # ------------------------------------------------------------ members

    def add(self, session_id: int, addr: tuple, runs: bool = False) -> RoomCursor:
        """A new member: it gets every datagram numbered after the current one
        (not before go_live, though: see go_live). `runs`: it takes runs."""
        cursor = RoomCursor(session_id, addr, self.number, runs)
        self.cursors[session_id] = cursor
        return cursor

    def remove(self, session_id: int) -> None:
        cursor = self.cursors.pop(session_id, None)
        if cursor is not None:
            cursor.live = False       # a walk may still hold it: it gets nothing more

    def go_live(self, now: float, cursor: RoomCursor, outbox: Outbox) -> bool:
        """From now on the member gets new datagrams as they are made; what was
        made since it joined is sent now. The hub calls it once the member has
        acknowledged its history, so history comes before the room's news.
        False: the ring no longer holds what it needs (stuck)."""
        cursor.live = True
        return self._pump(now, cursor, outbox)

    # ------------------------------------------------------------ sending

    def send(self, now: float, batches: List[Tuple[bytes, int]], outbox: Outbox) -> None:
        """Number and keep each batch of encoded events, and send the whole
        fan-out at once."""
        self.add_batches(now, batches)
        self.fan_out(outbox)

    def add_batches(self, now: float, batches: List[Tuple[bytes, int]]) -> None:
        """Number each batch of encoded events and keep it; fan_out sends them.
        Members the current walk has visited are visited again after the rest."""
        if not batches:
            return
        for batch, events in batches:
            self.number += 1
            self._keep(protocol.room_tail(self.number, batch),
                       protocol.room_run_part(batch), events, now)
        walk, at = self.walk, self.walk_at
        if at >= len(walk):
            self.walk = list(self.cursors.values())
        elif at:
            self.walk = walk[at:] + walk[:at]
        self.walk_at = 0
        self.walk_now = now

    @property
    def fanning_out(self) -> bool:
        return self.walk_at < len(self.walk)

    def fan_out(self, outbox: Outbox, limit: int = -1) -> None:
        """Visit `limit` more members of the walk (all if negative): each live
        one that lacks numbers and whose window is open gets them in one
        datagram (as many as fit)."""
        walk, at = self.walk, self.walk_at
        end = len(walk) if limit < 0 else min(len(walk), at + limit)
        number, now = self.number, self.walk_now
        previous = number - 1
        newest = self.ring[-1][0] if self.ring else b""
        append = outbox.append
        earliest = self.check_at
        plans: Dict[Tuple[int, bool], Optional[List[Tuple[bytes, int]]]] = {}
        for cursor in walk[at:end]:
            sent = cursor.sent
            # Not live (yet, or any more), its window is full, it has all, or
            # it timed out and has not acked since (the loss window, below):
            # not now (go_live or an ack pumps it; tick finds one that is stuck).
            if sent >= number or sent - cursor.acked >= ROOM_WINDOW or not cursor.live \
                    or cursor.backoff >= SILENT_BACKOFF:
                continue
            if sent == previous:                 # in step: the newest only (hot)
                append((cursor.head + newest, cursor.addr))
            elif number - cursor.acked > ROOM_WINDOW:
                self.check_at = earliest         # the window lets only some go
                self._catch_up(now, cursor, outbox)
                earliest = self.check_at
                continue
            else:                                # behind: as many runs as it takes,
                key = (sent, cursor.run_head is not None)   # made once for all at `sent`
                if key not in plans:
                    plans[key] = self._plan(*key)
                plan = plans[key]
                if plan is None:
                    continue                     # stuck: tick drops it
                for tail, count in plan:
                    append((cursor.copy(tail, count), cursor.addr))
            cursor.sent = number
            if cursor.due == NEVER:
                due = cursor.due = now + cursor.rto()
                if due < earliest:
                    earliest = due
        self.check_at = earliest
        if end >= len(walk):
            self.walk, end = [], 0
        self.walk_at = end

    def _keep(self, tail: bytes, part: bytes, events: int, now: float) -> None:
        self.ring.append((tail, part, events, now))
        self.ring_events += events
        first = self.first
        while self.ring_events > self.cap_events and len(self.ring) > 1:
            self.ring_events -= self.ring.popleft()[2]
            self.first += 1
        if self.first != first:
            self.check_at = min(self.check_at, now)   # who lacks what just went?

    def _send_next(self, now: float, cursor: RoomCursor, outbox: Outbox) -> bool:
        """One datagram with the next numbers the member has not been sent, as
        many as its window allows and one datagram holds (one unless it takes
        runs). False: the ring no longer holds the next (stuck)."""
        chunk = self._chunk(cursor.sent + 1, min(self.number, cursor.acked + ROOM_WINDOW),
                            cursor.run_head is not None)
        if chunk is None:
            return False
        outbox.append((cursor.copy(*chunk), cursor.addr))
        cursor.sent += chunk[1]
        self._arm(now, cursor)
        return True

    def _chunk(self, first_number: int, last: int, runs: bool) -> Optional[Tuple[bytes, int]]:
        """(datagram without its member's head, numbers in it) for the numbers
        from first_number on, up to last: a run of as many as fit if `runs`.
        None: the ring no longer holds first_number."""
        index = first_number - self.first
        if index < 0:
            return None
        ring = self.ring
        tail, part, _, _ = ring[index]
        if last == first_number or not runs:
            return tail, 1
        parts = [part]
        size = len(part)
        for later in range(index + 1, index + 1 + last - first_number):
            part = ring[later][1]
            size += len(part)
            if size > protocol.BATCH_ROOM:
                break
            parts.append(part)
        if len(parts) == 1:
            return tail, 1
        return tail[:protocol.ROOM_TAIL.size] + b"".join(parts), len(parts)

    def _plan(self, sent: int, runs: bool) -> Optional[List[Tuple[bytes, int]]]:
        """The chunks that bring a member from `sent` to the newest number:
        the same for every member at `sent`, so a fan-out makes them once."""
        chunks = []
        while sent < self.number:
            chunk = self._chunk(sent + 1, self.number, runs)
            if chunk is None:
                return None
            chunks.append(chunk)
            sent += chunk[1]
        return chunks

    def _resend(self, cursor: RoomCursor, number: int, outbox: Outbox) -> bool:
        if number < self.first:
            return False
        tail = self.ring[number - self.first][0]
        outbox.append((cursor.head + tail, cursor.addr))
        return True

    def _catch_up(self, now: float, cursor: RoomCursor, outbox: Outbox) -> bool:
        """Send what the member has not been sent yet, as far as its window
        allows. Nothing new after repeated time-outs until an ack comes
        (backoff back to 1): TCP's loss window (RFC 5681 3.1: after a
        retransmission time-out only the resent segment is in flight), applied
        once the path looks dead rather than slow (RFC 1122 4.2.3.5's R1:
        a few retransmissions). A member that stopped acknowledging then costs
        its time-outs' few resends, not a copy of every line the room says (a
        window's worth, 256 datagrams, each)."""
        if cursor.backoff >= SILENT_BACKOFF:
            return True
        while cursor.sent < self.number and cursor.sent - cursor.acked < ROOM_WINDOW:
            if not self._send_next(now, cursor, outbox):
                return False
        return True

    def _pump(self, now: float, cursor: RoomCursor, outbox: Outbox) -> bool:
        """_catch_up for a member that waited (for its window, or to go live):
        what it gets now was made a while ago, so no RTT sample from it."""
        sent = cursor.sent
        caught_up = self._catch_up(now, cursor, outbox)
        if cursor.sent != sent:
            cursor.late_upto = cursor.sent
        return caught_up

    def _arm(self, now: float, cursor: RoomCursor) -> None:
        if cursor.due == NEVER:
            cursor.due = now + cursor.rto()
            if cursor.due < self.check_at:
                self.check_at = cursor.due

    # ------------------------------------------------------------ acks

    def on_ack(self, now: float, cursor: RoomCursor, ack: int, sack: int,
               outbox: Outbox) -> bool:
        """A member's room ack (cumulative number, SACK bits for ack+2 ...).
        False: the member is stuck (it lacks what the ring no longer holds)."""
        if ack > cursor.sent or ack < cursor.acked:
            return True                        # not sent yet (bogus) or an old ack
        if ack > cursor.acked:
            oldest = cursor.acked + 1             # what waited longest for this ack
            if oldest > cursor.resent_upto and oldest > cursor.late_upto \
                    and not cursor.recover and oldest >= self.first:
                # Timed from the oldest datagram this ack covers: that is the one
                # the time-out guards, and its wait includes the member's ack
                # delay (ours: up to 0.28 s) and any lateness of a busy machine. Timed
                # from the newest, the estimate saw only the network, the RTO sat
                # at its 0.2 s floor, and a member whose acks ran 60 ms late got
                # everything twice. Only datagrams sent once, as they were made
                # (Karn's rule; one that waited for the window or for going live
                # would look slower).
                cursor.rtt.sample(now - self.ring[oldest - self.first][3])
            cursor.acked = ack
            cursor.backoff = 1
            cursor.due = NEVER
            if ack < cursor.sent:
                self._arm(now, cursor)          # a new timer for the new oldest
            if cursor.recover:
                if ack > cursor.resent_upto:
                    # It has datagrams we did not resend: the originals arrived,
                    # only its ack was late (a busy machine). The time-out was
                    # spurious; resending the rest would only double the load
                    # on a member that is already slow (Eifel's idea, RFC 3522).
                    cursor.recover = 0
                elif ack < cursor.recover:      # a real loss: resend the next ones
                    start = max(ack, cursor.resent_upto) + 1
                    end = min(ack + RESEND_BURST, cursor.recover)
                    if not self._resend_range(cursor, start, end, outbox):
                        return False
                else:
                    cursor.recover = 0
        if sack and not self._fast_retransmit(cursor, ack, sack, outbox):
            return False
        if cursor.live:
            return self._pump(now, cursor, outbox)
        return True

    def _fast_retransmit(self, cursor: RoomCursor, ack: int, sack: int,
                         outbox: Outbox) -> bool:
        """Holes with FAST_RETRANSMIT_AFTER later datagrams acked: resent once."""
        have = set()
        for bit in range(SACK_BITS):
            if sack >> bit & 1:
                number = ack + 2 + bit
                if number <= cursor.sent:
                    have.add(number)
        if not have:
            return True
        highest = max(have)
        limit = highest - FAST_RETRANSMIT_AFTER
        for number in range(max(ack, cursor.resent_upto) + 1, limit + 1):
            if number not in have:
                if not self._resend(cursor, number, outbox):
                    return False
                self.retransmissions += 1
        cursor.resent_upto = max(cursor.resent_upto, limit)
        return True

    def _resend_range(self, cursor: RoomCursor, start: int, end: int,
                      outbox: Outbox) -> bool:
        for number in range(start, end + 1):
            if not self._resend(cursor, number, outbox):
                return False
            self.retransmissions += 1
        cursor.resent_upto = max(cursor.resent_upto, end)
        return True

    # ------------------------------------------------------------ timers

    def tick(self, now: float, outbox: Outbox) -> List[int]:
        """Resend to members whose oldest unacked datagram timed out; returns the
        session ids of members that are stuck (to be dropped)."""
        if now < self.check_at:
            return []
        stuck = []
        earliest = NEVER
        budget = TIMEOUTS_PER_PASS
        for session_id, cursor in self.cursors.items():
            if cursor.acked + 1 < self.first:
                stuck.append(session_id)        # (live or not) it can never catch up
                continue
            if cursor.due <= now and budget:
                budget -= 1
                burst = TIMEOUT_BURST if cursor.backoff == 1 else 1
                end = min(cursor.sent, cursor.acked + burst)
                if not self._resend_range(cursor, cursor.acked + 1, end, outbox):
                    stuck.append(session_id)
                    continue
                cursor.recover = cursor.sent
                cursor.backoff = min(cursor.backoff * 2, 64)
                cursor.due = now + cursor.rto()
            if cursor.due < earliest:
                earliest = cursor.due
        self.check_at = max(earliest, now + CHECK_EVERY) if earliest != NEVER else NEVER
        return stuck

