"""The server's side of files: handouts to every member (and to those who
join within the handout's time to live), hand-ins from members. Pure: the
shell reads and writes the files (app/net/files.py) and passes `now`.

Members are named by their public instance id, which a member keeps across
reconnects (its resume token) and server restarts, so a transfer to or from
it resumes where it stopped (docs/PROTOCOL.md F.5). The desk learns who is in
the room by looking at the hub's members (at most every LOOK_INTERVAL), not by
hooks in the hub: a member who is new, or came back on a new session, is
offered what it has not got; a member whose session changed or ended makes
its transfers wait for the next offer.
"""
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Set

from app.core import file_wire as fw
from app.core.transfer import Delivered, Endpoint, FileEvent, Reader, Refused

if TYPE_CHECKING:
    from app.core.hub import Hub, ServerSession

LOOK_INTERVAL = 0.05     # seconds between two looks at who is in the room, while busy
IDLE_LOOK_INTERVAL = 0.5 # ... while only waiting for late joiners
CHUNK_BUDGET = 64        # chunks per pull: a loop's turn, after chat has gone


class Handout(NamedTuple):
    transfer: int
    offer: fw.Offer
    source: Any          # the shell's handle (an open file)
    created: float       # wall-clock seconds


class FileDesk:
    def __init__(self, read: Reader, ttl: float) -> None:
        self.endpoint = Endpoint(read)
        self.ttl = ttl
        self.handouts: Dict[int, Handout] = {}
        self.got: Dict[int, Set[int]] = {}          # transfer -> instances that have it
        # transfer -> {instance: the session that refused it}: not offered again
        # on that session (a full disk refused it: offered every look, it was
        # refused and logged twice a second); offered again on a new one.
        self.refused: Dict[int, Dict[int, int]] = {}
        self.sessions: Dict[int, "ServerSession"] = {}   # instance -> its live session
        self.looked_at = -LOOK_INTERVAL
        self.events: List[FileEvent] = []
        # A member's address -> the chunk size for its route (the shell asks the
        # kernel for the route's MTU, app/net/files.py route_chunk).
        self.chunk_for: Callable[[Any], int] = lambda addr: fw.CHUNK_SIZE

    # ------------------------------------------------------------ handouts

    def hand_out(self, now: float, handout: Handout) -> int:
        """Send a file to every member now and to those who join within the ttl;
        how many members it is going to now."""
        self.handouts[handout.transfer] = handout
        self.got.setdefault(handout.transfer, set())
        self.looked_at = -LOOK_INTERVAL               # look at the room at once
        return len(self.sessions) if self.sessions else -1

    def hashed(self, transfer: int, sha256: bytes) -> None:
        """A handout offered before its SHA-256 was known: now it is (F.3)."""
        handout = self.handouts.get(transfer)
        if handout is not None:
            self.handouts[transfer] = handout._replace(
                offer=handout.offer._replace(sha256=sha256))
        self.endpoint.hashed(transfer, sha256)

    def withdraw(self, transfer: int, code: fw.CancelCode, reason: str) -> Optional[Handout]:
        """A handout that cannot go on (its file changed, or cannot be read,
        while it was hashed): CANCEL to whoever was getting it, and forgotten
        (the shell closes it)."""
        for (peer, number) in list(self.endpoint.outgoing):
            if number == transfer:
                self.endpoint.stop(peer, transfer, code, reason)
        self.got.pop(transfer, None)
        self.refused.pop(transfer, None)
        return self.handouts.pop(transfer, None)

    def expired(self, now: float) -> List[Handout]:
        """Handouts past their time to live: forgotten here (the shell closes them)."""
        gone = [h for h in self.handouts.values()
                if now - h.created > self.ttl and not self._sending(h.transfer)]
        for handout in gone:
            del self.handouts[handout.transfer]
            self.got.pop(handout.transfer, None)
            self.refused.pop(handout.transfer, None)
        return gone

    def _sending(self, transfer: int) -> bool:
        return any(key[1] == transfer and out.state != "ended"
                   for key, out in self.endpoint.outgoing.items())

    def _sending_to(self, instance: int, transfer: int) -> bool:
        out = self.endpoint.outgoing.get((instance, transfer))
        return out is not None and out.state != "ended"

    def _look(self, now: float, hub: "Hub") -> None:
        """Who is in the room: offer handouts to whoever lacks them; a member on
        a new session (or gone) has its transfers wait for the next offer."""
        self.looked_at = now
        live = {s.instance: s for s in hub.members() if s.phase.value == "live"}
        for instance, session in self.sessions.items():
            now_session = live.get(instance)
            if now_session is None or now_session.id != session.id:
                self.endpoint.peer_lost(now, instance)
        self.sessions = live
        for handout in self.handouts.values():
            if now - handout.created > self.ttl:
                continue
            got = self.got[handout.transfer]
            refused = self.refused.get(handout.transfer, {})
            for instance, session in live.items():
                if instance not in got and refused.get(instance) != session.id \
                        and not self._sending_to(instance, handout.transfer):
                    offer = handout.offer._replace(chunk=self.chunk_for(session.addr))
                    self.endpoint.send(now, instance, handout.transfer, offer, handout.source)

    # ------------------------------------------------------------ the hub's calls

    def on_message(self, now: float, session: "ServerSession", body: bytes) -> None:
        self.endpoint.on_message(now, session.instance, body)

    def pull(self, now: float, hub: "Hub", budget: int = CHUNK_BUDGET) -> None:
        """What is due, into the hub's outbox (the secure layer seals it there)."""
        due = self._look_due()
        if due is not None and now >= due:
            self._look(now, hub)
        sessions = self.sessions
        for instance, datagram in self.endpoint.pull(
                now, budget, sessions.__contains__,
                lambda instance: fw.file_header(sessions[instance].id)):
            hub.outbox.append((datagram, sessions[instance].addr))
        for event in self.endpoint.take_events():
            if isinstance(event, Delivered) and event.transfer in self.got:
                self.got[event.transfer].add(event.peer)
            elif isinstance(event, Refused) and event.code and event.transfer in self.handouts \
                    and event.peer in sessions:
                self.refused.setdefault(event.transfer, {})[event.peer] = sessions[event.peer].id
            self.events.append(event)

    def _look_due(self) -> Optional[float]:
        if self.endpoint.busy():
            return self.looked_at + LOOK_INTERVAL
        if self.handouts:
            return self.looked_at + IDLE_LOOK_INTERVAL
        return None

    def next_deadline(self, now: float) -> Optional[float]:
        due = self.endpoint.next_deadline(now)
        look = self._look_due()
        if look is not None:
            due = look if due is None else min(due, look)
        return due

    def take_events(self) -> List[FileEvent]:
        events, self.events = self.events, []
        return events

    def name_of(self, instance: int) -> str:
        session = self.sessions.get(instance)
        return session.name if session is not None else "?"
