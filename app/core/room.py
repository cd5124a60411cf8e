"""The room: who is in it, the numbered sequence of room events, the history.

Pure: no sockets, no clock (times are passed in). The server stamps every event
with the next room sequence number, so every client sees one order; the ring of
recent events lets a newcomer see the last chat lines and lets a client that
reconnects catch up on exactly what it missed.
"""
from collections import deque
from typing import Deque, Dict, FrozenSet, Generic, Iterable, List, NamedTuple, Optional, TypeVar

from app.core import protocol
from app.core.protocol import Event

# Events a newcomer sees as history: chat and admin notices, not join/leave noise.
HISTORY_KINDS = frozenset((protocol.EV_CHAT, protocol.EV_EMOTE, protocol.EV_ADMIN))


class Logged(NamedTuple):
    event: Event
    # The clients allowed to see it, by instance (bound to their secret token,
    # not to a name someone else may take later); None = everyone.
    audience: Optional[FrozenSet[int]]
    # The event encoded, once: the broadcast and every catch-up share it (a
    # burst of N members back after a gap of M events is N x M queue entries,
    # not N x M encodings as well).
    body: bytes


Member = TypeVar("Member")   # the server's session object (hub.ServerSession)


class Room(Generic[Member]):
    def __init__(self, epoch: int, history_lines: int = 20, ring_size: int = 2000) -> None:
        self.epoch = epoch
        self.history_lines = history_lines
        self.seq = 0
        self.ring: Deque[Logged] = deque(maxlen=ring_size)
        self.members: Dict[str, Member] = {}     # name key -> the server's session object
        # Lines of earlier runs (the room's database), oldest first, for the
        # history of a newcomer while this run has fewer than history_lines.
        # Numbered 0: they are not in this run's order (a client orders by
        # room_seq and would drop this run's lines after a higher old number).
        self.past: List[Event] = []

    def record(self, now: float, kind: int, *, name: str = "", target: str = "",
               text: str = "", code: int = 0, origin: int = 0, msg_id: int = 0,
               audience: Optional[Iterable[int]] = None) -> Event:
        """Number a new room event, keep it in the ring and return it."""
        self.seq += 1
        event = Event(self.seq, now, kind, 0, code, len(self.members), origin, msg_id,
                      name, target, text)
        self.ring.append(Logged(event, frozenset(audience) if audience is not None else None,
                                protocol.encode_event(event)))
        return event

    def body(self, event: Event) -> bytes:
        """`event` encoded: the ring's copy when it is the newest event."""
        if self.ring and self.ring[-1].event is event:
            return self.ring[-1].body
        return protocol.encode_event(event)

    def history(self) -> List[Event]:
        """The last `history_lines` chat lines and admin notices, oldest first,
        flagged as history."""
        picked: List[Event] = []
        for logged in reversed(self.ring):
            if len(picked) >= self.history_lines:
                break
            if logged.audience is None and logged.event.kind in HISTORY_KINDS:
                picked.append(logged.event._replace(flags=protocol.EVF_HISTORY))
        if len(picked) < self.history_lines and self.past:
            wanted = self.history_lines - len(picked)
            picked += [event._replace(room_seq=0, flags=protocol.EVF_HISTORY)
                       for event in reversed(self.past[-wanted:])]
        picked.reverse()
        return picked

    def missed(self, epoch: int, after_seq: int, instance: int) -> Optional[List[Event]]:
        """The events a returning client missed after `after_seq`, or None when
        they cannot be told (older than the ring)."""
        found = self._missed(epoch, after_seq, instance)
        return None if found is None else [logged.event for logged in found]

    def missed_bodies(self, epoch: int, after_seq: int, instance: int) -> Optional[List[bytes]]:
        """missed(), encoded (the ring's copies)."""
        found = self._missed(epoch, after_seq, instance)
        return None if found is None else [logged.body for logged in found]

    def _missed(self, epoch: int, after_seq: int, instance: int) -> Optional[List[Logged]]:
        if epoch != self.epoch:
            # A client of an earlier run (the server restarted under it): every
            # public line of this run, while the ring still holds the whole run.
            if not epoch or not self.ring or self.ring[0].event.room_seq != 1:
                return None
            return [logged for logged in self.ring
                    if logged.audience is None and logged.event.kind in HISTORY_KINDS]
        if after_seq > self.seq:
            return None
        if self.ring and self.ring[0].event.room_seq > after_seq + 1:
            return None
        # Private events travel in the session's own stream, so one numbered
        # below after_seq may still have been on its way when the client lost
        # us: all of this client's private events go again (it drops the ones
        # it has by sender and msg_id, PROTOCOL.md 7.5).
        return [logged for logged in self.ring
                if (logged.audience is None and logged.event.room_seq > after_seq)
                or (logged.audience is not None and instance in logged.audience)]
