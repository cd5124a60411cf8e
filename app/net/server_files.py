"""The server's files: handouts (/send) and hand-ins (/hand-in), the shell
around app/core/file_desk.py. The network process makes one, gives it the
admin's file commands, and lets it take a turn after the room's own output in
each wake-up of its loop (chat first; then at most a budget of chunks).

Hand-ins are stored as `<submissions>/<name>/<YYYYmmdd-HHMMSS>-<file>`; a
partial is `<file>.part` in the same folder until its SHA-256 matches.

What is under way is kept in the room's database (`save`, as JSON; the server
calls it at most every SAVE_INTERVAL, at once on a new or ended transfer):
each handout within its ttl (path, offer, who has it) and each hand-in being
received (its partial file and the prefix written so far). A restarted server
(kill -9 included) offers the handouts again with the same transfer ids, so a
client resumes from what it holds, and takes up a hand-in's partial again when
its sender offers it anew (PROTOCOL.md F.5).
"""
import json
import os
import socket
import time
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from app.core import admin, file_names, problems
from app.core import file_wire as fw
from app.core import transfer as tr
from app.core.admin import LogKind
from app.core.file_desk import FileDesk, Handout
from app.core.hub import Hub
from app.core.options import ServerOptions
from app.net.files import (FileHasher, FileProblem, Landing, SourceHash, read_at,
                           receive_chunk, route_chunk)

CHUNK_BUDGET = 64            # chunks per loop turn (all transfers together)
SAVE_INTERVAL = 0.5          # seconds between two saves of the hand-ins' progress
SWEEP_INTERVAL = 1.0         # seconds between two looks for silent hand-ins
HASH_POLL = 0.005            # seconds between two looks at a handout's hashing thread
# (name, file, stored path, size, time, sha256 hex): the database's hand_ins rows
StoredHandIn = Tuple[str, str, str, int, float, str]


class ServerFiles:
    def __init__(self, hub: Hub, options: ServerOptions, state_path: Optional[str],
                 sock: Optional[socket.socket] = None) -> None:
        self.hub = hub
        self.options = options
        self.desk = FileDesk(read_at, options.file_ttl)
        if sock is not None:                         # chunk sizes from the routes (F.3)
            self.desk.chunk_for = route_chunk
            self.desk.endpoint.max_chunk = receive_chunk(sock)
        hub.files = self.desk
        default = os.path.join(state_path, "submissions") if state_path else None
        self.submissions = os.path.abspath(os.path.expanduser(options.submissions)) \
            if options.submissions else default
        self.landings: Dict[str, Landing] = {}       # a member's name -> its folder
        self.hand_in_names: Dict[tr.Key, str] = {}   # incoming -> whose (name at the offer)
        self.handed: Dict[str, int] = {}             # name -> bytes handed in (quota)
        self.rows: List[admin.HandInRow] = []        # every hand-in kept, oldest first
        # Writes a hand-in into the room's database (the network process's
        # StateDB, or nothing when it runs in memory).
        self.record: Callable[[StoredHandIn], None] = lambda row: None
        self.next_transfer = int.from_bytes(os.urandom(4), "big") or 1
        # The transfers under way, into the database (the server's StateDB.save_files).
        self.save: Callable[[str], None] = lambda value: None
        self.saved_at = float("-inf")
        self.swept_at = float("-inf")
        self.hashing: Dict[int, FileHasher] = {}     # handouts whose hash is not done
        self.settling: Set[tr.Key] = set()           # hand-ins complete, their writes not yet
        self.paths: Dict[int, str] = {}              # handout transfer -> its path
        self.resumable: Dict[tr.Key, dict] = {}      # hand-ins of an earlier run
        # Sends the hub's outbox now (the server's send): acks of the chunks
        # just received leave before those chunks are written and hashed.
        self.flush: Callable[[], None] = lambda: None

    def restore(self, stored: Sequence[StoredHandIn]) -> None:
        """The hand-ins of earlier runs (the database): listed, and counted in
        each person's quota."""
        for name, file, path, size, when, sha in stored:
            self.rows.append((name, os.path.basename(path), size, when, sha))
            self.handed[name] = self.handed.get(name, 0) + size

    def restore_files(self, now: float, stored: str) -> None:
        """The transfers an earlier run had under way (save): handouts still
        within their ttl whose file is unchanged (size and mtime) are offered
        again; hand-ins' partials wait for their senders' new offers."""
        try:
            state = json.loads(stored) if stored else {}
            handouts, partials = state.get("handouts", []), state.get("partials", [])
            for h in handouts:
                if now - h["created"] <= self.options.file_ttl:
                    self._reopen(h)
            for p in partials:
                if now - float(p.get("saved", now)) > self.options.file_ttl:
                    _remove(str(p["path"]))   # its sender has not come back within the ttl
                    continue
                key = (int(p["instance"]), int(p["transfer"]))
                self.resumable[key] = p
                self.handed[p["owner"]] = self.handed.get(p["owner"], 0) + int(p["size"])
        except (ValueError, KeyError, TypeError, AttributeError):
            self.hub.note(now, LogKind.HANDOUT, "", "-", problems.detail("saved_unreadable"))
        self.saved_at = float("-inf")

    def _reopen(self, h: dict) -> None:
        offer = fw.Offer(int(h["size"]), fw.CHUNK_SIZE, bytes.fromhex(h["sha256"] or "00" * 32),
                         fw.Purpose.HANDOUT, float(h["mtime"]), str(h["name"]))
        try:
            fd = os.open(h["path"], os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return
        info = os.fstat(fd)
        if (info.st_size, info.st_mtime) != (offer.size, offer.mtime):
            os.close(fd)                  # changed since: not the file that was offered
            return
        transfer = int(h["transfer"])
        self.paths[transfer] = h["path"]
        self.desk.hand_out(float(h["created"]), Handout(transfer, offer, fd, float(h["created"])))
        self.desk.got[transfer] = set(int(i) for i in h.get("got", ()))
        if not offer.hashed:              # stopped before its hash was known: hashed again
            self.hashing[transfer] = FileHasher(fd, h["path"])

    def _state(self) -> str:
        handouts = [dict(transfer=h.transfer, path=self.paths.get(h.transfer, ""),
                         name=h.offer.name, size=h.offer.size,
                         sha256=h.offer.sha256.hex() if h.offer.hashed else "",
                         mtime=h.offer.mtime, created=h.created,
                         got=sorted(self.desk.got.get(h.transfer, ())))
                    for h in self.desk.handouts.values()]
        partials = list(self.resumable.values())
        for key, owner in self.hand_in_names.items():
            inc = self.desk.endpoint.incoming.get(key)
            landing = self.landings.get(owner)
            if inc is None or landing is None:
                continue
            path, name = landing.part_of(key)
            if path:
                partials.append(dict(instance=key[0], transfer=key[1], owner=owner, path=path,
                                     name=name, size=inc.offer.size, saved=inc.last_heard,
                                     sha256=inc.offer.sha256.hex(),
                                     prefix=min(inc.offer.size, inc.next * inc.offer.chunk,
                                                landing.written(key))))
        return json.dumps(dict(handouts=handouts, partials=partials), ensure_ascii=False)

    def _changed(self) -> None:
        self.saved_at = float("-inf")     # saved at the end of this turn

    def _maybe_save(self, now: float) -> None:
        if now - self.saved_at < SAVE_INTERVAL:
            return
        if self.saved_at == float("-inf") or self.hand_in_names:
            self.saved_at = now
            Landing.hand_over()
            self.save(self._state())

    # ------------------------------------------------------------ commands

    def command(self, now: float, command: admin.Command) -> admin.Result:
        if isinstance(command, admin.SendFile):
            return self.hand_out(now, command.path)
        if isinstance(command, admin.ListHandIns):
            names = {row[0] for row in self.rows}
            missing = tuple(sorted(s.name for s in self.hub.members() if s.name not in names))
            return admin.HandInList(tuple(self.rows), missing)
        raise TypeError("not a file command: %r" % (command,))

    def hand_out(self, now: float, path: str) -> admin.Result:
        """/send PATH: checked now (it opens, it is a file, within
        --max-file-size) and offered at once, its SHA-256 not yet known: a
        thread hashes it while the chunks go, and the OFFER goes again with
        the hash when it is done (F.3)."""
        try:
            source = SourceHash(path, fw.Purpose.HANDOUT)
        except FileProblem as exc:
            return admin.FileNotSent(str(exc))
        if source.size > self.options.max_file_size:
            source.close()
            return admin.FileNotSent(problems.detail("too_big", None, "%d %d %s" % (
                source.size, self.options.max_file_size, path)))
        try:
            hasher = FileHasher(source.fd, path)
        except OSError as exc:
            source.close()
            return admin.FileNotSent(problems.detail("read", exc.errno, path))
        offer = source.offer_now()
        transfer = self.next_transfer
        self.next_transfer = (self.next_transfer + 1) & 0xFFFFFFFF or 1
        self.hashing[transfer] = hasher
        self.desk.hand_out(now, Handout(transfer, offer, source.fd, now))
        self.paths[transfer] = os.path.abspath(source.path)
        self._changed()
        self.hub.note(now, LogKind.HANDOUT, "", "console", "%s (%s)" % (
            offer.name, file_names.human_size(offer.size)))
        name = os.path.basename(os.path.abspath(path))
        return admin.FileQueued(name, source.size, len(self.hub.members()))

    def _hashes_done(self, now: float) -> None:
        """Handouts whose hashing thread has ended: the OFFER with the hash,
        or (the file changed or cannot be read) CANCEL and forgotten."""
        for transfer, hasher in list(self.hashing.items()):
            if not hasher.done():
                continue
            del self.hashing[transfer]
            self._changed()
            if hasher.sha256:
                self.desk.hashed(transfer, hasher.sha256)
                continue
            code = fw.CancelCode.CHANGED if hasher.why[0] == "changed" \
                else fw.CancelCode.UNREADABLE
            handout = self.desk.handouts.get(transfer)
            handout = self.desk.withdraw(transfer, code, hasher.problem(
                handout.offer.name if handout is not None else ""))
            self.paths.pop(transfer, None)
            if handout is not None:
                try:
                    os.close(handout.source)
                except OSError:
                    pass
            self.hub.note(now, LogKind.HANDOUT, "", "console",
                          problems.detail("not_handed_out", None,
                                          hasher.problem(hasher.path)))

    # ------------------------------------------------------------ loop

    def turn(self, now: float) -> None:
        """Handle what the transfers reported, then put what is due (control,
        then chunks) into the hub's outbox."""
        if self.hashing:
            self._hashes_done(now)
        self.desk.pull(now, self.hub, CHUNK_BUDGET)
        events = self.desk.take_events()
        if events and self.hub.outbox:
            self.flush()
        for event in events:
            self._on_event(now, event)
        if self.settling:
            self._land_settled(now)
        for handout in self.desk.expired(now):
            self.paths.pop(handout.transfer, None)
            self._changed()
            try:
                os.close(handout.source)
            except OSError:
                pass
        if self.hand_in_names and now >= self.swept_at + SWEEP_INTERVAL:
            self.swept_at = now
            self._sweep_silent(now)
        self._maybe_save(now)

    def next_deadline(self, now: float) -> Optional[float]:
        due = self.desk.next_deadline(now)
        if self.hashing or self.settling:        # a look at the hashing or writer threads
            due = now + HASH_POLL if due is None else min(due, now + HASH_POLL)
        return due

    def _landing_of(self, key: tr.Key) -> Optional[Landing]:
        """The folder a hand-in under way is written into (None if none)."""
        owner = self.hand_in_names.get(key)
        return self.landings.get(owner) if owner else None

    def _land_settled(self, now: float) -> None:
        """The complete hand-ins the writer thread is done with: landed."""
        for key in list(self.settling):
            landing = self._landing_of(key)
            if landing is None or landing.is_settled(key):
                self.settling.discard(key)
                self._landed(now, key)

    def _on_event(self, now: float, event: tr.FileEvent) -> None:
        endpoint = self.desk.endpoint
        key = (event.peer, event.transfer)
        if isinstance(event, (tr.Delivered, tr.Complete, tr.Cancelled)):
            self._changed()
        if isinstance(event, tr.Delivered):
            handout = self.desk.handouts.get(event.transfer)
            name = self.desk.name_of(event.peer)
            if handout is not None and event.done.status == fw.DoneStatus.STORED:
                self.hub.note(now, LogKind.HANDOUT, name, "-", handout.offer.name)
            elif handout is not None:
                self.hub.note(now, LogKind.HANDOUT, name, "-", problems.detail(
                    "not_stored_mismatch" if event.done.status == fw.DoneStatus.MISMATCH
                    else "not_stored", None, handout.offer.name))
        elif isinstance(event, tr.Refused):
            handout = self.desk.handouts.get(event.transfer)
            if handout is not None and event.code == 0:
                # Code 0: our own side stopped (the file could not be read, or got
                # shorter: transfer.stop's coded reason).
                self.hub.note(now, LogKind.HANDOUT, self.desk.name_of(event.peer), "-",
                              problems.detail("not_handed_out", None, event.reason))
            elif handout is not None:
                # The client's reason: an errno name (ours), else an older client's English.
                why = problems.errno_number(event.reason)
                self.hub.note(now, LogKind.HANDOUT, self.desk.name_of(event.peer), "-",
                              problems.detail("handout_refused", why, "%d %s" % (
                                  event.code, handout.offer.name)))
        elif isinstance(event, tr.Offered):
            self._offered(now, event)
        elif isinstance(event, tr.Write):
            landing = self._landing_of(key)
            if landing is not None and not landing.write(key, event.offset, event.data) \
                    and landing.has(key):
                self._landed(now, key)
        elif isinstance(event, tr.Complete):
            landing = self._landing_of(key)
            if landing is not None and landing.has(key):
                landing.settle_soon(key)         # landed by _land_settled, a turn later
                self.settling.add(key)
        elif isinstance(event, tr.Cancelled):
            inc = endpoint.incoming.get(key)
            self._abandon(now, key, "abandoned_cancelled", "",
                          inc.offer if inc is not None else None)

    # ------------------------------------------------------------ hand-ins

    def _abandon(self, now: float, key: tr.Key, why: str, figures: str,
                 offer: Optional[fw.Offer]) -> None:
        """A hand-in that will not finish: its partial deleted, its quota given
        back; the log says `why` (a problems key) with `figures` before the name."""
        owner = self.hand_in_names.pop(key, None)
        if owner is None:
            return
        if owner in self.landings:
            self.landings[owner].cancel(key)
        if offer is not None:
            self.handed[owner] = max(0, self.handed.get(owner, 0) - offer.size)
            self.hub.note(now, LogKind.HAND_IN, owner, "-", problems.detail(
                why, None, figures + offer.name))
        self._changed()

    def _sweep_silent(self, now: float) -> None:
        """Hand-ins not heard from for --file-ttl (the student went away for
        good): abandoned, so their partials and reservations do not stay."""
        for key in list(self.hand_in_names):
            inc = self.desk.endpoint.incoming.get(key)
            if inc is not None and inc.state == tr.OPEN \
                    and now - inc.last_heard > self.options.file_ttl:
                self.desk.endpoint.refuse(now, key[0], key[1], fw.RefuseCode.BUSY,
                                          "abandoned")
                self._abandon(now, key, "abandoned_silent", "%d " % self.options.file_ttl,
                              inc.offer)

    def _offered(self, now: float, event: tr.Offered) -> None:
        endpoint = self.desk.endpoint
        offer = event.offer
        session = self.desk.sessions.get(event.peer) or next(
            (s for s in self.hub.members() if s.instance == event.peer), None)
        if offer.purpose != fw.Purpose.HAND_IN or session is None:
            endpoint.refuse(now, event.peer, event.transfer, fw.RefuseCode.NOT_ALLOWED, "")
            return
        name = session.name
        if self.submissions is None:
            endpoint.refuse(now, event.peer, event.transfer, fw.RefuseCode.UNWRITABLE, "")
            return
        key = (event.peer, event.transfer)
        earlier = self.resumable.pop(key, None)
        if earlier is not None and self._resume(now, key, offer, earlier):
            return
        if offer.size > self.options.max_file_size:
            endpoint.refuse(now, event.peer, event.transfer, fw.RefuseCode.TOO_BIG,
                            str(self.options.max_file_size))
            return
        left = self.options.quota - self.handed.get(name, 0)
        if offer.size > left:
            endpoint.refuse(now, event.peer, event.transfer, fw.RefuseCode.QUOTA,
                            str(max(0, left)))
            return
        landing = self.landings.get(name)
        if landing is None:
            landing = self.landings[name] = Landing(os.path.join(
                self.submissions, file_names.safe_name(name)))
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        stamped = offer._replace(name=file_names.fit(stamp + "-", "", 32)
                                 + file_names.safe_name(offer.name))
        refusal = landing.start((event.peer, event.transfer), stamped)
        if refusal is not None:
            endpoint.refuse(now, event.peer, event.transfer, fw.RefuseCode(refusal[0]),
                            refusal[1])
            # The teacher must hear of it too: it is their disk or folder (coded:
            # the refusal's code, its errno name if any, the file's name).
            self.hub.note(now, LogKind.HAND_IN, name, "-", problems.detail(
                "hand_in_not_taken", problems.errno_number(refusal[1]),
                "%d %s" % (refusal[0], offer.name)))
            return
        self.hand_in_names[(event.peer, event.transfer)] = name
        self.handed[name] = self.handed.get(name, 0) + offer.size    # reserved now
        endpoint.accept(now, event.peer, event.transfer)
        self._changed()

    def _resume(self, now: float, key: tr.Key, offer: fw.Offer, earlier: dict) -> bool:
        """A hand-in an earlier run was receiving, offered again: its partial
        taken up, the prefix it had written held (its quota stays reserved)."""
        owner = str(earlier["owner"])
        self.handed[owner] = self.handed.get(owner, 0) - int(earlier["size"])
        if offer.size != int(earlier["size"]) or self.submissions is None or (
                offer.hashed and earlier["sha256"] not in ("", fw.NO_SHA256.hex(),
                                                           offer.sha256.hex())):
            return False
        landing = self.landings.get(owner)
        if landing is None:
            landing = self.landings[owner] = Landing(os.path.join(
                self.submissions, file_names.safe_name(owner)))
        if not landing.resume(key, offer, str(earlier["path"]), str(earlier["name"])):
            return False             # (gone, or not what it was: a new partial instead)
        self.hand_in_names[key] = owner
        self.handed[owner] = self.handed.get(owner, 0) + offer.size
        self.desk.endpoint.accept(now, key[0], key[1], int(earlier["prefix"]) // offer.chunk)
        self.hub.note(now, LogKind.HAND_IN, owner, "-", problems.detail(
            "resumed", None, "%d %d %s" % (int(earlier["prefix"]), offer.size, offer.name)))
        self._changed()
        return True

    def _landed(self, now: float, key: tr.Key) -> None:
        name = self.hand_in_names.pop(key, None)
        landing = self.landings.get(name) if name else None
        if name is None or landing is None or not landing.has(key):
            return
        inc = self.desk.endpoint.incoming[key]
        landed = landing.complete(key, inc.offer.sha256)
        detail = landed.path if landed.path else landed.why
        self.desk.endpoint.finish(now, key[0], key[1],
                                  fw.Done(landed.status, landed.sha256, detail))
        if landed.status != fw.DoneStatus.STORED:
            self.handed[name] -= inc.offer.size
            self.hub.note(now, LogKind.HAND_IN, name, "-", problems.detail(
                "hand_in_mismatch" if landed.status == fw.DoneStatus.MISMATCH
                else "hand_in_failed", problems.errno_number(landed.why), inc.offer.name))
            return
        sha = landed.sha256.hex()
        self.rows.append((name, landed.name, inc.offer.size, now, sha))
        self.record((name, inc.offer.name, landed.path, inc.offer.size, now, sha))
        self.hub.note(now, LogKind.HAND_IN, name, "-", "%s (%s) sha256 %s → %s" % (
            inc.offer.name, file_names.human_size(inc.offer.size), sha, landed.path))

    def close(self) -> None:
        for landing in self.landings.values():
            landing.close()
        for handout in self.desk.handouts.values():
            try:
                os.close(handout.source)
            except OSError:
                pass
        self.hashing.clear()                     # (their threads read their own fds)


def _remove(path: str) -> None:
    """A partial hand-in given up on (only ever a `.part`, never a stored file)."""
    if path.endswith(file_names.PARTIAL_SUFFIX):
        try:
            os.unlink(path)
        except OSError:
            pass
