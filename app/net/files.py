"""Files on disk for the transfers of app/core/transfer.py: the shell's half.

  open_source(path, purpose)   a file to send: opened, checked, hashed -> (fd, Offer)
  SourceHash(path, purpose)    a file to send, opened and checked; hashed in steps,
                               or (`offer_now` + FileHasher) offered at once and
                               hashed in a thread while its chunks go (F.3)
  read_at(fd, offset, size)    the endpoints' reader (os.pread)
  route_chunk(addr)            the chunk size for the route to `addr` (its MTU)
  receive_chunk(sock)          the largest chunk our socket buffer takes in bulk
  Landing(folder)              where received files are written: `NAME.part`
                               first, the SHA-256 checked, then renamed to a
                               name nobody has (never over a file, never
                               outside the folder)
  Downloads                    a client's handouts, into --downloads
  downloads_dir(explicit)      the XDG download dir's chat.pyz/, or a fallback

Every failure is an OSError turned into one value (a DONE or REFUSE code, a
line for a person); nothing half-written is left behind.
"""
import errno
import hashlib
import json
import os
import queue
import socket
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, NamedTuple, Optional, Set, Tuple, Union

from app import _pyz_main
from app.core import file_names, problems
from app.core import file_wire as fw
from app.core import transfer as tr

HASH_BLOCK = 1 << 20
HASH_STEP = 8 << 20       # bytes of a file's SHA-256 per loop turn (a few ms: chat goes on)
APP_DIR = "chat.pyz"


class FileProblem(Exception):
    """A file that cannot be sent: its str() is a coded problem
    (app/core/problems.py: open, read, not_file, changed) the front end words."""


class SourceHash:
    """A file to send, opened and checked at once, hashed in steps (`step`), so
    the loop that hashes it (the server's, with the whole room in it) never
    pauses for long on a large or slow file."""

    def __init__(self, path: str, purpose: int) -> None:
        self.path = path
        self.purpose = purpose
        try:
            self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise FileProblem(problems.detail("open", exc.errno, path))
        try:
            self.before = os.fstat(self.fd)
        except OSError as exc:
            os.close(self.fd)
            raise FileProblem(problems.detail("read", exc.errno, path))
        if not _regular(self.before.st_mode):
            os.close(self.fd)
            raise FileProblem(problems.detail("not_file", None, path))
        self.size = self.before.st_size
        self.digest = hashlib.sha256()
        self.offset = 0

    def step(self, budget: int) -> Optional[fw.Offer]:
        """Hash up to `budget` more bytes; the Offer once the whole file is
        hashed (None: not yet). FileProblem (the fd closed) if it cannot be
        read or changed meanwhile."""
        try:
            end = self.offset + budget
            while self.offset < end:
                block = os.pread(self.fd, min(HASH_BLOCK, end - self.offset), self.offset)
                if not block:
                    return self._offer()
                self.digest.update(block)
                self.offset += len(block)
            return None
        except OSError as exc:
            self.close()
            raise FileProblem(problems.detail("read", exc.errno, self.path))

    def _offer(self) -> fw.Offer:
        after = os.fstat(self.fd)
        if (after.st_size, after.st_mtime_ns) != (self.before.st_size, self.before.st_mtime_ns) \
                or self.offset != after.st_size:
            self.close()
            raise FileProblem(problems.detail("changed", None, self.path))
        return self.offer_now()._replace(sha256=self.digest.digest())

    def offer_now(self) -> fw.Offer:
        """The Offer before the hash is known (fw.NO_SHA256, F.2)."""
        stem, ext = file_names.split_ext(os.path.basename(os.path.abspath(self.path)))
        name = file_names.fit(stem, ext, fw.MAX_FILE_NAME_BYTES) or file_names.FALLBACK
        return fw.Offer(self.before.st_size, fw.CHUNK_SIZE, fw.NO_SHA256, self.purpose,
                        self.before.st_mtime, name)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class FileHasher:
    """The SHA-256 of an open file, made in a thread of its own while the loop
    sends the file's chunks (pread and hashlib let go of the GIL: on a second
    core it costs the loop nothing). It reads a duplicate of the descriptor
    (the owner may close its own meanwhile). `done()` once it has ended: then
    `sha256` (the hash), or `problem(about)` (a coded problem: the file could
    not be read, or changed, size or mtime, while it was hashed)."""

    def __init__(self, fd: int, path: str) -> None:
        self.path = path
        self.sha256 = b""
        self.why: Tuple[str, Optional[int]] = ("", None)   # (problem key, errno)
        self.fd = os.dup(fd)
        self.before = os.fstat(self.fd)
        self.thread = threading.Thread(target=self._run, name="sha256-send", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        digest, offset, fd = hashlib.sha256(), 0, self.fd
        try:
            while True:
                block = os.pread(fd, HASH_BLOCK, offset)
                if not block:
                    break
                digest.update(block)
                offset += len(block)
            after = os.fstat(fd)
            if (after.st_size, after.st_mtime_ns) != (self.before.st_size,
                                                      self.before.st_mtime_ns) \
                    or offset != after.st_size:
                self.why = ("changed", None)
            else:
                self.sha256 = digest.digest()
        except OSError as exc:
            self.why = ("read", exc.errno)
        finally:
            os.close(fd)

    def done(self) -> bool:
        return not self.thread.is_alive()

    def problem(self, about: str) -> str:
        return problems.detail(self.why[0], self.why[1], about)


def open_source(path: str, purpose: int) -> Tuple[int, fw.Offer]:
    """Open and hash a file to send, in one go; FileProblem if it cannot be."""
    source = SourceHash(path, purpose)
    while True:
        offer = source.step(1 << 30)
        if offer is not None:
            return source.fd, offer


def _regular(mode: int) -> bool:
    import stat
    return stat.S_ISREG(mode)


def read_at(fd: int, offset: int, size: int) -> bytes:
    return os.pread(fd, size, offset)


# Linux's getsockopt names (the socket module does not export them): the MTU
# of a connected socket's route, as the kernel knows it (the interface's, or a
# smaller path MTU learnt from ICMP "fragmentation needed"; ip(7), ipv6(7)).
IP_MTU = 14
IPV6_MTU = 24
RECEIVE_DEPTH = 32        # full-size chunks our receive buffer must hold at once


def route_chunk(addr: Tuple) -> int:
    """The chunk size for files sent to `addr`: from the route's MTU, so a
    CHUNK datagram leaves whole and is never fragmented (the kernel sets DF on
    datagrams within the path MTU, IP_PMTUDISC_WANT); the OFFER, padded to the
    same size, then proves the whole path carries it (PROTOCOL.md F.3). Where
    the MTU cannot be asked (not Linux, no route): the floor, fw.CHUNK_SIZE."""
    if not sys.platform.startswith("linux"):
        return fw.CHUNK_SIZE
    try:
        ipv6 = ":" in str(addr[0])
        with socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET,
                           socket.SOCK_DGRAM) as probe:
            probe.connect((addr[0], addr[1]))     # (a hub's address may carry more)
            mtu = probe.getsockopt(socket.IPPROTO_IPV6 if ipv6 else socket.IPPROTO_IP,
                                   IPV6_MTU if ipv6 else IP_MTU)
    except (OSError, TypeError, ValueError, IndexError, OverflowError):  # no route, odd address
        return fw.CHUNK_SIZE
    return fw.chunk_for_mtu(mtu, ipv6)


def receive_chunk(sock: socket.socket) -> int:
    """The largest chunk we take (larger: REFUSE SMALLER, F.4): RECEIVE_DEPTH
    full CHUNK datagrams must fit our socket's receive buffer, or a window of
    them overflows it while the loop is busy (the kernel caps the buffer we ask
    for at net.core.rmem_max)."""
    try:
        buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    except OSError:
        return fw.CHUNK_SIZE
    return fw.chunk_for_datagram(buffer // RECEIVE_DEPTH)


def sha256_of(fd: int) -> bytes:
    digest = hashlib.sha256()
    offset = 0
    while True:
        block = os.pread(fd, HASH_BLOCK, offset)
        if not block:
            return digest.digest()
        digest.update(block)
        offset += len(block)


# ---------------------------------------------------------------- landing

class Landed(NamedTuple):
    """A received file: under its final name, or (path "") why not."""
    name: str                 # the final base name ("" if none)
    path: str                 # the final path ("" if not stored)
    status: int               # fw.DoneStatus
    sha256: bytes
    why: str = ""             # for a person, when not stored


THREAD_HASH_MIN = 32 << 10   # chunks at least this large are hashed in the hasher thread
HASH_BATCH = 1 << 20         # bytes of chunks handed to the hasher thread at once


class _Hasher:
    """SHA-256 updates in a thread of the process's own, in the order given:
    hashlib lets go of the GIL while it hashes a large buffer, so the writer
    thread goes on writing the next chunks meanwhile (writing and hashing
    in one thread made a 100 MB handout 15-20 % slower: the hash is the
    larger part of a receiver's work per chunk). Bounded: a writer that
    gets ahead waits. Small chunks (a 1500-byte Ethernet's) are hashed by
    the writer itself: for them the hand-over would cost more than the hash."""

    def __init__(self) -> None:
        self.jobs: "queue.Queue[Tuple[Any, Any]]" = queue.Queue(maxsize=8)
        self.thread: Optional[threading.Thread] = None
        self.pid = 0

    def update(self, digest: Any, data: Any) -> None:
        if self.thread is None or self.pid != os.getpid():   # (a forked child: its own)
            self.jobs = queue.Queue(maxsize=8)
            self.thread = threading.Thread(target=self._run, name="sha256", daemon=True)
            self.pid = os.getpid()
            self.thread.start()
        self.jobs.put((digest, data))

    def _run(self) -> None:
        jobs = self.jobs
        while True:
            digest, batch = jobs.get()
            for data in batch:
                digest.update(data)
            jobs.task_done()

    def wait(self) -> None:
        """Until every update given so far is made."""
        if self.thread is not None and self.pid == os.getpid():
            self.jobs.join()


_hasher = _Hasher()

WRITE_BATCH = 1 << 20        # bytes of chunks handed to the writer thread at once
WRITE_BACKLOG = 32           # batches queued at most (32 MB of 64 KB chunks), then the loop waits


class _Writer:
    """The received chunks' `pwrite`, in a thread of the process's own, in
    the order given; each written chunk goes on to the hasher thread.

    Why a thread: a write to the page cache is fast until the kernel starts
    throttling a writer whose dirty pages the disk has not caught up with
    (balance_dirty_pages: pauses of up to 200 ms). Made in the loop, such a
    pause held everything else too: measured, a quiet member's chat line
    took 60-176 ms while handouts ran once gigabytes of received files
    waited for the disk, and on the server every hand-in stalls the whole
    room the same way. In the thread, the loop goes on receiving, acking and
    showing chat; what it wrote goes on to the hasher thread (`_Hasher`).

    Chunks are handed over in batches of WRITE_BATCH bytes: one hand-over
    per 16 chunks of 64 KB, not one per chunk or per loop turn (each costs a
    wake-up and the GIL going back and forth; handing over at the end of
    every turn made a 30-member handout 25 % slower, where a client's turn
    holds a chunk or two). What is left in a batch goes when a file
    completes, is closed, or its record is written (`wait`). Bounded: a loop
    that gets WRITE_BACKLOG batches ahead waits. A write that fails marks
    its part (`failed`, read by the loop)."""

    def __init__(self) -> None:
        self.jobs: "queue.Queue[List[Tuple[Any, int, Any]]]" = queue.Queue(WRITE_BACKLOG)
        self.thread: Optional[threading.Thread] = None
        self.pid = 0
        self.batch: List[Tuple[Any, int, Any]] = []
        self.batched = 0

    def add(self, part: "_Part", offset: int, data: Any) -> None:
        self.batch.append((part, offset, data))
        self.batched += len(data)
        if self.batched >= WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        """Hand over what was added."""
        if not self.batch:
            return
        if self.thread is None or self.pid != os.getpid():   # (a forked child: its own)
            self.jobs = queue.Queue(WRITE_BACKLOG)
            self.thread = threading.Thread(target=self._run, name="writer", daemon=True)
            self.pid = os.getpid()
            self.thread.start()
        batch, self.batch, self.batched = self.batch, [], 0
        self.jobs.put(batch)

    def _run(self) -> None:
        jobs = self.jobs
        while True:
            batch = jobs.get()
            try:
                for part, offset, data in batch:
                    if offset < 0:                 # settle_soon's mark: all before it done
                        part.hand_over()
                        _hasher.wait()
                        part.settled = True
                        continue
                    if part.failed or part.closed:
                        continue
                    try:
                        os.pwrite(part.fd, data, offset)
                        part.wrote(offset, data)
                    except OSError as exc:
                        part.failed = _errno_name(exc)
                    except Exception:            # never a dead thread that `wait` hangs on
                        part.failed = "EIO"
            finally:
                jobs.task_done()

    def wait(self) -> None:
        """Until every chunk added so far is written (or skipped) and hashed."""
        self.flush()
        if self.thread is not None and self.pid == os.getpid():
            self.jobs.join()


_writer = _Writer()


class _Part:
    """A partial file, and the SHA-256 of its prefix so far: chunks that come
    in order are hashed as they are written (by the writer thread), so
    completing a file costs no second pass over it (only what came out of
    order, or before a resume, is read back). `hashed` is also how much of
    the file is written for sure: what a resume record may claim."""
    __slots__ = ("fd", "path", "name", "offer", "failed", "closed", "settled", "digest",
                 "hashed", "ahead", "threaded", "batch", "batched")

    def __init__(self, fd: int, path: str, name: str, offer: fw.Offer) -> None:
        self.fd = fd
        self.path = path
        self.name = name
        self.offer = offer
        self.failed = ""
        self.closed = False                  # its chunks still queued are skipped
        self.settled = False                 # the writer is past all of it (settle_soon)
        self.digest = hashlib.sha256()
        self.hashed = 0                      # bytes [0, hashed) are in the digest
        self.ahead: Dict[int, int] = {}      # written above `hashed`: offset -> length
        self.threaded = offer.chunk >= THREAD_HASH_MIN
        self.batch: List[Any] = []           # for the hasher thread, not yet handed over
        self.batched = 0

    def _hash(self, data: Any) -> None:
        """Hashed here, or (large chunks) handed to the hasher thread in
        batches of HASH_BATCH bytes: one hand-over per 16 chunks of 64 KB."""
        if not self.threaded:
            self.digest.update(data)
            return
        self.batch.append(data)
        self.batched += len(data)
        if self.batched >= HASH_BATCH:
            self.hand_over()

    def hand_over(self) -> None:
        if self.batch:
            _hasher.update(self.digest, self.batch)
            self.batch, self.batched = [], 0

    def wrote(self, offset: int, data: Any) -> None:
        if offset != self.hashed:
            if offset > self.hashed:
                self.ahead[offset] = len(data)
            return
        self._hash(data)
        self.hashed += len(data)
        ahead = self.ahead
        while self.hashed in ahead:          # a hole filled: what waited behind it
            length = ahead.pop(self.hashed)
            block = os.pread(self.fd, length, self.hashed)
            self._hash(block)
            self.hashed += len(block)

    def finish_digest(self) -> bytes:
        """The whole file's SHA-256: the prefix's, then the rest read back.
        (After the writer is done with this part: Landing.complete sees to it.)"""
        while True:
            block = os.pread(self.fd, HASH_BLOCK, self.hashed)
            if not block:
                self.hand_over()
                _hasher.wait()
                return self.digest.digest()
            self._hash(block)
            self.hashed += len(block)


class Landing:
    """Received files in one folder: `NAME.part` while they come, the final
    name only after the SHA-256 matched."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.parts: Dict[tr.Key, _Part] = {}

    def start(self, key: tr.Key, offer: fw.Offer) -> Optional[Tuple[int, str]]:
        """Make the partial file; None, or a REFUSE (code, detail)."""
        name = file_names.safe_name(offer.name)
        try:
            os.makedirs(self.folder, 0o755, exist_ok=True)
            if not os.access(self.folder, os.W_OK | os.X_OK):
                return fw.RefuseCode.UNWRITABLE, ""
            space = os.statvfs(self.folder)
            if space.f_bavail * space.f_frsize < offer.size:
                return fw.RefuseCode.NO_SPACE, ""
            fd, path = self._create(name)
        except OSError as exc:
            return (fw.RefuseCode.NO_SPACE if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                    else fw.RefuseCode.UNWRITABLE), _errno_name(exc)
        try:
            if offer.size and hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, offer.size)   # a full disk says so now, not midway
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                os.close(fd)
                _unlink(path)
                return fw.RefuseCode.NO_SPACE, ""
        self.parts[key] = _Part(fd, path, name, offer)
        return None

    def resume(self, key: tr.Key, offer: fw.Offer, path: str, name: str) -> bool:
        """Take up the partial file `path` again (a restarted server's hand-in):
        False when it is gone or is not a regular file of the offer's size."""
        if os.path.dirname(os.path.abspath(path)) != os.path.abspath(self.folder) \
                or not path.endswith(file_names.PARTIAL_SUFFIX):
            return False
        try:
            fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return False
        info = os.fstat(fd)
        if not _regular(info.st_mode) or info.st_size != offer.size:
            os.close(fd)
            return False
        self.parts[key] = _Part(fd, path, file_names.safe_name(name), offer)
        return True

    def part_of(self, key: tr.Key) -> Tuple[str, str]:
        """(the partial's path, the name it will get) ("", "" if none)."""
        part = self.parts.get(key)
        return (part.path, part.name) if part is not None else ("", "")

    def _create(self, name: str) -> Tuple[int, str]:
        """A new `NAME.part` (or `NAME (1).part`, ...): never one that exists."""
        for n in range(10000):
            path = os.path.join(self.folder,
                                file_names.numbered(name, n) + file_names.PARTIAL_SUFFIX)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL
                             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0), 0o644)
                return fd, path
            except FileExistsError:
                continue
        raise OSError(errno.EEXIST, "no free name")

    def has(self, key: tr.Key) -> bool:
        return key in self.parts

    def write(self, key: tr.Key, offset: int, data: bytes) -> bool:
        """False once writing failed (the transfer should end: finish)."""
        part = self.parts.get(key)
        if part is None:
            return False
        if part.failed:
            return False
        _writer.add(part, offset, data)      # written (then hashed) off the loop
        return True

    def written(self, key: tr.Key) -> int:
        """Bytes of the file written for sure, from its start (0 if none):
        what a resume record may claim (a chunk still queued is not)."""
        part = self.parts.get(key)
        return part.hashed if part is not None else 0

    def failed(self, key: tr.Key) -> str:
        part = self.parts.get(key)
        return part.failed if part is not None else ""

    def complete(self, key: tr.Key, sha256: Optional[bytes] = None) -> Landed:
        """Check the hash (`sha256`: the one the sender told last, F.4; else
        the first OFFER's); put the file under a free final name, or delete it."""
        part = self.parts.pop(key)
        offer = part.offer if sha256 is None else part.offer._replace(sha256=sha256)
        if not part.settled:
            _writer.wait()
        try:
            if part.failed:
                raise OSError(getattr(errno, part.failed, errno.EIO), part.failed)
            digest = part.finish_digest()
        except OSError as exc:
            self._drop(part)
            return Landed("", "", fw.DoneStatus.WRITE_FAILED, bytes(32), _errno_name(exc))
        if digest != offer.sha256:
            self._drop(part)
            return Landed("", "", fw.DoneStatus.MISMATCH, digest, "mismatch")
        os.close(part.fd)
        try:
            name, path = self._place(part)
        except OSError as exc:
            _unlink(part.path)
            return Landed("", "", fw.DoneStatus.WRITE_FAILED, digest, _errno_name(exc))
        return Landed(name, path, fw.DoneStatus.STORED, digest)

    def _place(self, part: _Part) -> Tuple[str, str]:
        """Link the partial under the first free name (link never replaces a
        file), then remove the partial name."""
        for n in range(10000):
            name = file_names.numbered(part.name, n)
            path = os.path.join(self.folder, name)
            try:
                os.link(part.path, path)
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                if os.path.lexists(path):        # a file system without hard links
                    continue
                os.rename(part.path, path)
                return name, path
            _unlink(part.path)
            return name, path
        raise OSError(errno.EEXIST, "no free name")

    def cancel(self, key: tr.Key) -> None:
        part = self.parts.pop(key, None)
        if part is not None:
            self._drop(part)

    def _drop(self, part: _Part) -> None:
        _close(part)
        _unlink(part.path)

    def close(self) -> None:
        for key in list(self.parts):
            self.cancel(key)

    def detach(self) -> None:
        """Close the partial files and keep them (their record says what they
        hold): what was received is written first."""
        _writer.wait()
        for part in self.parts.values():
            _close(part)
        self.parts.clear()

    def settle_soon(self, key: tr.Key) -> None:
        """A file whose last chunk came: `is_settled` turns True once the
        writer has written and hashed all of it, and `complete` then costs the
        loop no wait (which, behind a throttled disk, took up to the backlog's
        whole write: 100 ms and more, measured)."""
        part = self.parts.get(key)
        if part is not None:
            part.settled = False
            _writer.add(part, -1, b"")
            _writer.flush()

    def is_settled(self, key: tr.Key) -> bool:
        """True once the writer is past `key`'s chunks (or it is gone)."""
        part = self.parts.get(key)
        return part is None or part.settled

    @staticmethod
    def hand_over() -> None:
        """What was received goes to the writer now, not when a batch is
        full: a record is about to say how much is written, and the next one
        then counts it."""
        _writer.flush()

    def settle(self) -> None:
        """Until every chunk given to `write` so far is on the page cache (or
        failed): before a record says how much each partial holds."""
        _writer.wait()


def _close(part: _Part) -> None:
    """Close a part's file once the writer is past it (its queued chunks are
    skipped): the descriptor is never closed under a pending pwrite, whose
    number a new file could have taken by then."""
    part.closed = True
    _writer.wait()
    try:
        os.close(part.fd)
    except OSError:
        pass


def _errno_name(exc: OSError) -> str:
    """Why a write failed, as its errno name (`ENOSPC`; EIO for none): the
    front ends word it (app/ui/os_words.py), the C library's English never
    reaches a person."""
    name = problems.errno_name(exc.errno)
    return "EIO" if name == problems.NO_ERRNO else name


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# ---------------------------------------------------------------- a client's handouts

class FileReceived(NamedTuple):
    """A handout stored: what the front end shows (line mode: one line)."""
    name: str
    size: int
    path: str
    transfer: int = 0         # which (the front end's progress bar for it)


class FileFailed(NamedTuple):
    """A handout that could not be stored: its name and why (a key the front
    end words: mismatch, write, no_space, unwritable, cancelled)."""
    name: str
    why: str
    detail: str = ""
    transfer: int = 0


class HandedIn(NamedTuple):
    """Our hand-in is stored on the server: the receipt (its SHA-256)."""
    name: str
    size: int
    sha256: str               # hex
    stored: str               # where the server put it
    transfer: int = 0


class HandInRefused(NamedTuple):
    """The server would not take our hand-in (fw.RefuseCode), or it failed
    (code 0; `detail` says why: mismatch, write, a cancel reason)."""
    name: str
    code: int
    detail: str
    transfer: int = 0


FileNews = Union[FileReceived, FileFailed, HandedIn, HandInRefused]
NEWS_TYPES = (FileReceived, FileFailed, HandedIn, HandInRefused)   # for isinstance

_REFUSE_WHY: Dict[int, str] = {fw.RefuseCode.NO_SPACE: "no_space",
                               fw.RefuseCode.UNWRITABLE: "unwritable"}


PARTIALS_FILE = ".chat.pyz-partials.json"   # in the downloads folder: what a new run resumes
PARTIALS_MEMORY = 7 * 86400                  # seconds an entry is kept for a resume
PARTIALS_SAVE_INTERVAL = 0.5


class Downloads:
    """A client's receiving side: handouts from the server into its folder.

    Its partial files outlive the process (a crash, kill -9, or leaving while
    a file comes): PARTIALS_FILE records each one's transfer id, size, mtime,
    SHA-256 (when known yet) and the in-order prefix written (at most every
    PARTIALS_SAVE_INTERVAL), so when the server offers the same transfer again
    (to a later run, within its --file-ttl) the partial is taken up and only
    the rest is sent. Whether the prefix is still the file's is checked at the
    end like every byte: the whole partial is hashed, a changed file is a
    mismatch (nothing kept); an offer whose known SHA-256 differs from the
    recorded one is not resumed at all (F.5)."""

    def __init__(self, folder: Optional[str]) -> None:
        self.settling: Set[tr.Key] = set()      # complete, waiting for the writer thread
        self.writer = RecordWriter()
        self.landing = Landing(folder) if folder else None
        self.record = os.path.join(folder, PARTIALS_FILE) if folder else None
        self.resumable: Dict[str, dict] = self._load()
        self.saved_at = float("-inf")
        self.changed = False

    @staticmethod
    def _id(transfer: int, offer: fw.Offer) -> str:
        return "%d:%d:%r" % (transfer, offer.size, offer.mtime)

    def _load(self) -> Dict[str, dict]:
        if self.record is None:
            return {}
        try:
            with open(self.record, encoding="utf-8") as f:
                stored = json.load(f)
            return {k: v for k, v in stored.items()
                    if time.time() - float(v["saved"]) < PARTIALS_MEMORY
                    and os.path.isfile(str(v["part"]))}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}                   # none, or unreadable: nothing to resume

    def save(self, now: float, endpoint: tr.Endpoint, force: bool = False) -> None:
        """The partials under way (and those kept for a resume) into PARTIALS_FILE."""
        if self.record is None or self.landing is None:
            return
        if not (force or self.changed or (self.landing.parts and
                                          now - self.saved_at >= PARTIALS_SAVE_INTERVAL)):
            return
        self.saved_at, self.changed = now, False
        self.landing.hand_over()
        state = dict(self.resumable)
        for key in self.landing.parts:
            inc = endpoint.incoming.get(key)
            path, name = self.landing.part_of(key)
            if inc is not None:
                state[self._id(key[1], inc.offer)] = dict(
                    part=path, name=name, saved=time.time(),
                    sha256=inc.offer.sha256.hex() if inc.offer.hashed else "",
                    prefix=min(inc.offer.size, inc.next * inc.offer.chunk,
                               self.landing.written(key)))
        text = json.dumps(state, ensure_ascii=False) if state else None
        if force:
            self.writer.close()
            _write_record(self.record, text)
        else:
            self.writer.put(self.record, text)

    def _resume(self, now: float, endpoint: tr.Endpoint, key: tr.Key,
                offer: fw.Offer) -> bool:
        earlier = self.resumable.pop(self._id(key[1], offer), None)
        if earlier is None or self.landing is None:
            return False
        self.changed = True
        if offer.hashed and earlier.get("sha256") not in (None, "", offer.sha256.hex()):
            _unlink_partial(str(earlier["part"]))   # another file under the same id
            return False
        if not self.landing.resume(key, offer, str(earlier["part"]), str(earlier["name"])):
            return False
        endpoint.accept(now, key[0], key[1], int(earlier["prefix"]) // offer.chunk)
        return True

    def handle(self, now: float, endpoint: tr.Endpoint,
               events: List[tr.FileEvent]) -> List[FileNews]:
        """The incoming side's events (the rest are ignored)."""
        news: List[FileNews] = []
        for event in events:
            key = (event.peer, event.transfer)
            if isinstance(event, tr.Offered):
                offer = event.offer
                if offer.purpose != fw.Purpose.HANDOUT:
                    endpoint.refuse(now, event.peer, event.transfer,
                                    fw.RefuseCode.NOT_ALLOWED, "")
                    continue
                if self._resume(now, endpoint, key, offer):
                    continue
                if self.landing is None:
                    refusal: Optional[Tuple[int, str]] = (fw.RefuseCode.UNWRITABLE, "")
                else:
                    refusal = self.landing.start(key, offer)
                if refusal is None:
                    endpoint.accept(now, event.peer, event.transfer)
                else:
                    endpoint.refuse(now, event.peer, event.transfer,
                                    fw.RefuseCode(refusal[0]), refusal[1])
                    news.append(FileFailed(file_names.safe_name(offer.name),
                                           _REFUSE_WHY.get(refusal[0], "unwritable"),
                                           refusal[1], event.transfer))
            elif isinstance(event, tr.Write) and self.landing is not None:
                if not self.landing.write(key, event.offset, event.data) \
                        and self.landing.has(key):
                    self._land(now, endpoint, key, news)
            elif isinstance(event, tr.Complete) and self.landing is not None \
                    and self.landing.has(key):
                self.landing.settle_soon(key)      # landed by land_settled, a turn later
                self.settling.add(key)
            elif isinstance(event, tr.Cancelled) and self.landing is not None:
                inc = endpoint.incoming.get(key)
                self.landing.cancel(key)
                self.changed = True
                news.append(FileFailed(file_names.safe_name(inc.offer.name) if inc else "?",
                                       "cancelled", event.reason, event.transfer))
        return news

    def land_settled(self, now: float, endpoint: tr.Endpoint) -> List[FileNews]:
        """The complete files the writer thread is done with: checked and
        placed (or dropped), each one's DONE queued. Every loop turn."""
        news: List[FileNews] = []
        if self.landing is None:
            return news
        for key in [k for k in self.settling if self.landing.is_settled(k)]:
            self.settling.discard(key)
            if self.landing.has(key) and key in endpoint.incoming:
                self._land(now, endpoint, key, news)
        return news

    def _land(self, now: float, endpoint: tr.Endpoint, key: tr.Key,
              news: List[FileNews]) -> None:
        assert self.landing is not None
        inc = endpoint.incoming[key]
        landed = self.landing.complete(key, inc.offer.sha256)
        self.changed = True
        endpoint.finish(now, key[0], key[1], fw.Done(landed.status, landed.sha256, landed.name))
        if landed.status == fw.DoneStatus.STORED:
            news.append(FileReceived(landed.name, inc.offer.size, landed.path, key[1]))
        else:
            news.append(FileFailed(file_names.safe_name(inc.offer.name),
                                   "mismatch" if landed.status == fw.DoneStatus.MISMATCH
                                   else "write", landed.why, key[1]))

    def close(self, now: float, endpoint: tr.Endpoint) -> None:
        """Leaving: the partials stay, recorded, for a later run to resume."""
        if self.landing is not None:
            self.landing.settle()             # what came is written before the record
            self.save(now, endpoint, force=True)
            self.landing.detach()


def _unlink_partial(path: str) -> None:
    """A recorded partial that cannot be resumed (only ever a `.part`)."""
    if path.endswith(file_names.PARTIAL_SUFFIX):
        _unlink(path)


def _write_record(path: str, text: Optional[str]) -> None:
    """The partials record: replaced whole (a crash leaves the old or the new
    one), or removed when `text` is None."""
    try:
        if text is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        temporary = path + ".new"
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except OSError:
        pass                             # no resume after a restart, nothing worse


class RecordWriter:
    """Writes the partials record in a thread of its own, the newest text
    only. Why: the rename waits for the file system's journal, and on ext4
    (data=ordered) a journal commit first writes out the dirty pages of the
    file being received: 30 ms and more with a large download under way,
    measured, which the loop would spend not receiving (and not acking)."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.due: Optional[Tuple[str, Optional[str]]] = None
        self.thread: Optional[threading.Thread] = None
        self.closing = False

    def put(self, path: str, text: Optional[str]) -> None:
        with self.lock:
            self.due = (path, text)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="partials", daemon=True)
                self.thread.start()
            self.lock.notify()

    def _run(self) -> None:
        while True:
            with self.lock:
                while self.due is None and not self.closing:
                    self.lock.wait()
                if self.due is None:
                    return
                path, text = self.due
                self.due = None
            _write_record(path, text)

    def close(self) -> None:
        """Wait until what was put is written, and end the thread."""
        with self.lock:
            self.closing = True
            self.lock.notify()
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        self.closing = False


# ---------------------------------------------------------------- where

def xdg_download_dir() -> str:
    """The XDG download directory: $XDG_DOWNLOAD_DIR, else user-dirs.dirs's
    XDG_DOWNLOAD_DIR, else ~/Downloads."""
    home = os.path.expanduser("~")
    value = os.environ.get("XDG_DOWNLOAD_DIR", "")
    if not value:
        config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        try:
            with open(os.path.join(config, "user-dirs.dirs"), encoding="utf-8") as f:
                for line in f:
                    key, _, rest = line.strip().partition("=")
                    if key == "XDG_DOWNLOAD_DIR":
                        value = rest.strip().strip('"').replace("$HOME", home)
        except (OSError, UnicodeDecodeError):
            pass
    if not value or not os.path.isabs(value):
        value = os.path.join(home, "Downloads")
    return value


def _writable_dir(path: str) -> Optional[int]:
    """None when `path` is (made) a folder we can write in, else why not (an errno)."""
    try:
        os.makedirs(path, 0o755, exist_ok=True)
    except OSError as exc:
        return exc.errno or errno.EIO
    if not os.path.isdir(path):
        return errno.ENOTDIR
    return None if os.access(path, os.W_OK | os.X_OK) else errno.EACCES


def downloads_dir(explicit: Optional[str]) -> Tuple[Optional[str], str]:
    """(folder or None, a note for the person when it is not the usual one: a
    coded problem, app/core/problems.py, downloads_*). --downloads DIR is
    taken as given (no fallback: it was asked for)."""
    if explicit is not None:
        path = os.path.abspath(os.path.expanduser(explicit))
        why = _writable_dir(path)
        if why is None:
            return path, ""
        return None, problems.detail("downloads_refused", why, explicit)
    usual = os.path.join(xdg_download_dir(), APP_DIR)
    if _writable_dir(usual) is None:
        return usual, ""
    tmps: Tuple[str, ...] = _pyz_main.TMP_DIRS
    try:
        tmps = (tempfile.gettempdir(),) + tmps
    except OSError:
        pass
    for tmp in dict.fromkeys(tmps):
        path = os.path.join(tmp, "chat.pyz-%d" % os.getuid(), "downloads")
        if _writable_dir(path) is None:
            return path, problems.detail("downloads_fallback", None, usual + "\t" + path)
    return None, problems.detail("downloads_none", None, usual)
