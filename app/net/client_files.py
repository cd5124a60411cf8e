"""A client's files: handouts it receives (into --downloads) and hand-ins it
sends (/hand-in, /交作业), around the core's Endpoint (app/core/transfer.py)
that ClientCore carries. The client's network shell (client_net.py) gives it
a turn after its chat output in every wake-up."""
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from app.core import file_wire as fw
from app.core import transfer as tr
from app.core.client_core import ClientCore
from app.net.files import (HASH_STEP, Downloads, FileNews, FileProblem, HandedIn,
                           HandInRefused, SourceHash, read_at, route_chunk)

CHUNK_BUDGET = 64            # chunks per turn
SETTLE_POLL = 0.005          # seconds between two looks at a complete file's writes

__all__ = ["ClientFiles", "FileNews"]


class ClientFiles:
    def __init__(self, core: ClientCore, downloads: Optional[str], server: Any = None,
                 max_chunk: int = fw.CHUNK_SIZE) -> None:
        self.core = core
        self.server = server                 # its address: the route our hand-ins take
        self.endpoint = tr.Endpoint(read_at, max_chunk)
        core.files = self.endpoint
        self.downloads = Downloads(downloads)
        self.sending: Dict[int, Tuple[int, fw.Offer]] = {}    # transfer -> (fd, offer)
        self.hashing: List[SourceHash] = []                   # hand-ins not yet offered
        self.news: List[FileNews] = []
        # Sends what is queued in the core's output now (the shell's send): the
        # acks of the chunks just received leave before those chunks are
        # written and hashed, so the sender's next window is on its way while
        # we write this one (the ack says "received"; DONE says "stored").
        self.flush: Callable[[], None] = lambda: None

    def hand_in(self, path: str, now: float) -> Optional[str]:
        """Start handing `path` in: None, or why not (it cannot be opened, is
        not a file). Its SHA-256 is computed in steps by the next turns (a
        large file does not stop the chat); the offer follows."""
        try:
            self.hashing.append(SourceHash(path, fw.Purpose.HAND_IN))
        except FileProblem as exc:
            return str(exc)
        return None

    def _hash_step(self, now: float) -> None:
        source = self.hashing[0]
        try:
            offer = source.step(HASH_STEP)
        except FileProblem as exc:
            self.hashing.pop(0)
            self.news.append(HandInRefused(os.path.basename(source.path), 0, str(exc)))
            return
        if offer is None:
            return
        self.hashing.pop(0)
        if self.server is not None:
            offer = offer._replace(chunk=route_chunk(self.server))
        transfer = int.from_bytes(os.urandom(4), "big") or 1
        self.sending[transfer] = (source.fd, offer)
        self.endpoint.send(now, 0, transfer, offer, source.fd)

    def progress(self) -> List[Tuple[int, str, int, int, bool]]:
        """(transfer, name, bytes done, size, outgoing) of every transfer under
        way (the news that ends one names its transfer too)."""
        rows = []
        for out in self.endpoint.outgoing.values():
            if out.state != tr.ENDED:
                rows.append((out.transfer, out.offer.name, out.sent_bytes, out.offer.size, True))
        for inc in self.endpoint.incoming.values():
            if inc.state in (tr.OPEN, tr.COMPLETE):
                rows.append((inc.transfer, inc.offer.name, inc.received_bytes, inc.offer.size,
                             False))
        return rows

    def turn(self, now: float) -> bool:
        """Events handled, what is due queued; True when there is output."""
        if self.hashing:
            self._hash_step(now)
        self.core.pull_files(now, CHUNK_BUDGET)
        events = self.endpoint.take_events()
        if events and self.core.out:
            self.flush()
        if events:
            self.news += self.downloads.handle(now, self.endpoint, events)
            for event in events:
                if isinstance(event, (tr.Delivered, tr.Refused)):
                    self._ended(event)
            self.core.pull_files(now, 0)       # the answers (ACK, DONE) at once
        if self.downloads.settling:
            landed = self.downloads.land_settled(now, self.endpoint)
            if landed:
                self.news += landed
                self.core.pull_files(now, 0)   # their DONE at once
        self.downloads.save(now, self.endpoint)
        return bool(self.core.out)

    def _ended(self, event: Union[tr.Delivered, tr.Refused]) -> None:
        fd, offer = self.sending.pop(event.transfer, (-1, None))
        if offer is None:
            return
        os.close(fd)
        if isinstance(event, tr.Refused):
            self.news.append(HandInRefused(offer.name, event.code, event.reason,
                                           event.transfer))
        elif event.done.status == fw.DoneStatus.STORED:
            self.news.append(HandedIn(offer.name, offer.size, event.done.sha256.hex(),
                                      event.done.detail, event.transfer))
        elif event.done.status == fw.DoneStatus.MISMATCH:
            self.news.append(HandInRefused(offer.name, 0, "mismatch", event.transfer))
        else:                 # the server could not write it (a full disk, ...): its why
            self.news.append(HandInRefused(offer.name, fw.RefuseCode.UNWRITABLE,
                                           event.done.detail, event.transfer))

    def next_deadline(self, now: float) -> Optional[float]:
        if self.hashing or self.news:
            return now                           # the next step of a hand-in's hash; news to show
        due = self.endpoint.next_deadline(now) if self.core.state == "joined" else None
        if self.downloads.settling:              # a look at the writer thread
            due = now + SETTLE_POLL if due is None else min(due, now + SETTLE_POLL)
        return due

    def take_news(self) -> List[FileNews]:
        news, self.news = self.news, []
        return news

    def close(self) -> None:
        self.downloads.close(time.monotonic(), self.endpoint)
        for fd, _ in self.sending.values():
            os.close(fd)
        self.sending.clear()
        for source in self.hashing:
            source.close()
        self.hashing.clear()
