"""The wire format of file transfers: FILE datagrams (version-1 type 12).

Pure. docs/PROTOCOL.md section F is the contract; change both together. A
FILE datagram is an ordinary version-1 datagram of a session (so in a secure
room it travels inside a RECORD, encrypted and authenticated like chat), but
it is not part of the session's reliable stream: its header's pkt, ack and
sack are 0 and the transfer does its own acknowledgements (selective, by
chunk ranges), so a lost chunk never holds up a chat line (no head-of-line
blocking) and file chunks can be paced and backed off on their own.

    v1 header (22 bytes, type 12)  |  kind B, transfer I (5 bytes)  |  body

Decoders raise protocol.ProtocolError (never anything else).
"""
import enum
import struct
from typing import List, NamedTuple, Tuple

from app.core import protocol, secure_wire
from app.core.protocol import ProtocolError, WireCode

FILE = protocol.DatagramType.FILE           # the version-1 datagram type (header byte 3)
FILE_HEAD = struct.Struct("!BI")           # message kind, transfer id
OFFER_FIXED = struct.Struct("!QH32sBd")    # size, chunk size, sha256, purpose, mtime
ACK_FIXED = struct.Struct("!IIB")          # next, latest, range count
RANGE = struct.Struct("!II")               # [start, end) chunk indices
CHUNK_FIXED = struct.Struct("!I")          # chunk index
DONE_FIXED = struct.Struct("!B32s")        # status, sha256 of what was stored
CODE_FIXED = struct.Struct("!B")           # REFUSE / CANCEL code

# The largest version-1 datagram that still fits a RECORD of 1200 bytes.
MAX_INNER = protocol.MAX_DATAGRAM - protocol.RESERVED               # 1168
# What a CHUNK datagram carries besides the chunk: a RECORD's header and tag
# (counted with --insecure too, so one rule serves both), the version-1 header,
# kind + transfer, index: 32 + 22 + 5 + 4.
CHUNK_OVERHEAD = protocol.RESERVED + protocol.HEADER_SIZE + 5 + 4   # 63
# The floor, good on any path (a whole datagram of 1200 bytes, PROTOCOL.md
# 2.4): 1200 - 63 = 1137, and 1136 keeps it a multiple of 8.
CHUNK_SIZE = 1136
# The ceiling: a datagram of MAX_FILE_DATAGRAM bytes (F.1; the largest UDP
# payload over IPv4), as a loopback or jumbo-frame route allows.
MAX_FILE_DATAGRAM = protocol.MAX_FILE_DATAGRAM
MAX_CHUNK = (MAX_FILE_DATAGRAM - CHUNK_OVERHEAD) // 8 * 8           # 65440
IPV4_UDP_HEADERS = 28                      # IPv4 (no options) + UDP
IPV6_UDP_HEADERS = 48
MAX_RANGES = 64                            # an ACK names at most this many ranges
NO_LATEST = 0xFFFFFFFF
# An OFFER's SHA-256 when the sender does not know it yet (F.2): it offers and
# sends while it hashes, and offers again with the hash once it has it.
NO_SHA256 = bytes(32)
MAX_FILE_NAME_BYTES = 255                  # a file name on the wire (a Linux NAME_MAX)
MAX_DETAIL_BYTES = 400


class FileKind(WireCode):
    OFFER = 1        # sender -> receiver: "here is a file" (resent until answered)
    ACK = 2          # receiver -> sender: what it holds (answers OFFER and CHUNKs)
    CHUNK = 3        # sender -> receiver: bytes [index * chunk, ...)
    DONE = 4         # receiver -> sender: all of it, hash checked, stored (or not)
    REFUSE = 5       # receiver -> sender: not this file (before a byte is sent)
    CANCEL = 6       # sender -> receiver: it stops (the file changed, cannot be read)


class Purpose(WireCode):
    HANDOUT = 0      # server -> every member
    HAND_IN = 1      # member -> server (交作业)


class DoneStatus(WireCode):
    STORED = 0       # the SHA-256 matched; the file is under its final name
    MISMATCH = 1     # all bytes came but the hash differs (the file changed while sent)
    WRITE_FAILED = 2 # disk full, folder gone: nothing is left behind


class RefuseCode(WireCode):
    TOO_BIG = 1      # over --max-file-size (detail: the limit in bytes)
    QUOTA = 2        # over the per-person quota (detail: bytes left)
    NO_SPACE = 3     # the disk cannot take it
    UNWRITABLE = 4   # the folder cannot be written
    BAD_NAME = 5     # no usable name is left after sanitising
    NOT_ALLOWED = 6  # e.g. a hand-in to a client, a handout from a member
    BUSY = 7         # too many transfers at once; offer again later
    SMALLER = 8      # chunks too large for the receiver (detail: its largest, in bytes):
                     # offer again with chunks no larger (F.3); not an end


class CancelCode(WireCode):
    CHANGED = 1      # the file changed while it was being sent
    UNREADABLE = 2   # it cannot be read any more
    STOPPED = 3      # the sender gave up


class Offer(NamedTuple):
    size: int
    chunk: int
    sha256: bytes
    purpose: int
    mtime: float
    name: str

    @property
    def chunks(self) -> int:
        return chunk_count(self.size, self.chunk)

    @property
    def hashed(self) -> bool:
        """Whether the SHA-256 is known (not NO_SHA256, F.2)."""
        return self.sha256 != NO_SHA256


class Ack(NamedTuple):
    next: int                              # every chunk below this is held
    latest: int                            # the chunk whose arrival sent this ack (RTT)
    ranges: Tuple[Tuple[int, int], ...]    # held above `next`: [start, end), ascending


class Done(NamedTuple):
    status: int
    sha256: bytes
    detail: str                            # e.g. where it was stored (a receipt)


class Coded(NamedTuple):
    """A REFUSE's or CANCEL's body."""
    code: int
    reason: str


def chunk_count(size: int, chunk: int) -> int:
    return (size + chunk - 1) // chunk


def chunk_for_datagram(datagram: int) -> int:
    """The chunk size whose CHUNK datagrams (sealed) are at most `datagram`
    bytes: a multiple of 8, within [CHUNK_SIZE, MAX_CHUNK]."""
    return max(CHUNK_SIZE, min(MAX_CHUNK, (datagram - CHUNK_OVERHEAD) // 8 * 8))


def chunk_for_mtu(mtu: int, ipv6: bool) -> int:
    """The chunk size for a route of `mtu` bytes (the IP packet): a datagram
    that leaves whole, never fragmented (PROTOCOL.md F.1)."""
    return chunk_for_datagram(mtu - (IPV6_UDP_HEADERS if ipv6 else IPV4_UDP_HEADERS))


def size_ok(data: bytes) -> bool:
    """Whether a received datagram's size is allowed: at most MAX_DATAGRAM,
    or up to MAX_FILE_DATAGRAM when it may be a FILE datagram (a version-1
    type 12, or a version-2 RECORD, whose inside protocol.decode_header checks
    once it is opened). Everything else stays within 1200 bytes (F.1)."""
    if len(data) <= protocol.MAX_DATAGRAM:
        return True
    return len(data) <= MAX_FILE_DATAGRAM and data[:2] == protocol.MAGIC and (
        data[2:4] == bytes((protocol.VERSION, FILE)) or data[2:4] == _RECORD_TYPE)


_RECORD_TYPE = bytes((secure_wire.VERSION, secure_wire.SecureType.RECORD))


# ---------------------------------------------------------------- encode

def head(kind: FileKind, transfer: int) -> bytes:
    return FILE_HEAD.pack(kind, transfer)


def _str16(value: str, limit: int) -> bytes:
    raw = value.encode("utf-8")[:limit].decode("utf-8", "ignore").encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def encode_offer(transfer: int, offer: Offer, pad: bool = False) -> bytes:
    """`pad`: zero bytes up to the size of a full CHUNK datagram of this
    offer's chunk size, so an OFFER that is answered proves the path carries
    datagrams that large (the path-MTU probe of F.3, after RFC 8899)."""
    raw = offer.name.encode("utf-8")
    if len(raw) > MAX_FILE_NAME_BYTES:
        raise ProtocolError("file name of %d bytes exceeds %d" % (len(raw), MAX_FILE_NAME_BYTES))
    body = (head(FileKind.OFFER, transfer)
            + OFFER_FIXED.pack(offer.size, offer.chunk, offer.sha256, offer.purpose, offer.mtime)
            + struct.pack("!H", len(raw)) + raw)
    if pad:
        body += bytes(max(0, offer.chunk + FILE_HEAD.size + CHUNK_FIXED.size - len(body)))
    return body


def encode_ack(transfer: int, ack: Ack) -> bytes:
    ranges = ack.ranges[:MAX_RANGES]
    return (head(FileKind.ACK, transfer) + ACK_FIXED.pack(ack.next, ack.latest, len(ranges))
            + b"".join(RANGE.pack(a, b) for a, b in ranges))


def encode_chunk_head(transfer: int, index: int) -> bytes:
    return FILE_HEAD.pack(FileKind.CHUNK, transfer) + CHUNK_FIXED.pack(index)


def encode_done(transfer: int, done: Done) -> bytes:
    return (head(FileKind.DONE, transfer) + DONE_FIXED.pack(done.status, done.sha256)
            + _str16(done.detail, MAX_DETAIL_BYTES))


def encode_coded(kind: FileKind, transfer: int, coded: Coded) -> bytes:
    return head(kind, transfer) + CODE_FIXED.pack(coded.code) + _str16(coded.reason,
                                                                        MAX_DETAIL_BYTES)


# ---------------------------------------------------------------- decode

def decode_head(body: bytes) -> Tuple[int, int, bytes]:
    """A FILE datagram's body (after the v1 header) -> (kind, transfer, rest).
    A CHUNK's rest is a memoryview of `body` (no copy of up to 64 KB per
    chunk; file writes and hashes take it as it is)."""
    if len(body) < FILE_HEAD.size:
        raise ProtocolError("truncated FILE message")
    kind, transfer = FILE_HEAD.unpack_from(body)
    if kind == FileKind.CHUNK:
        return kind, transfer, memoryview(body)[FILE_HEAD.size:]
    return kind, transfer, bytes(body[FILE_HEAD.size:])    # (a padded OFFER comes as a view)


def _get_str16(rest: bytes, pos: int, limit: int) -> Tuple[str, int]:
    if pos + 2 > len(rest):
        raise ProtocolError("truncated string length")
    (length,) = struct.unpack_from("!H", rest, pos)
    pos += 2
    if length > limit or pos + length > len(rest):
        raise ProtocolError("bad string length %d" % length)
    try:
        return rest[pos:pos + length].decode("utf-8"), pos + length
    except UnicodeDecodeError:
        raise ProtocolError("invalid UTF-8")


def decode_offer(rest: bytes) -> Offer:
    if len(rest) < OFFER_FIXED.size:
        raise ProtocolError("truncated OFFER")
    size, chunk, sha, purpose, mtime = OFFER_FIXED.unpack_from(rest)
    if not 1 <= chunk <= MAX_CHUNK:
        raise ProtocolError("bad chunk size %d" % chunk)
    if chunk_count(size, chunk) > 0xFFFFFFFE:
        raise ProtocolError("file too large for 32-bit chunk numbers")
    if mtime != mtime:
        raise ProtocolError("mtime is NaN")
    name, pos = _get_str16(rest, OFFER_FIXED.size, MAX_FILE_NAME_BYTES)
    if rest.count(0, pos) != len(rest) - pos:
        raise ProtocolError("trailing bytes after OFFER (padding is zero bytes)")
    return Offer(size, chunk, sha, purpose, mtime, name)


def decode_ack(rest: bytes) -> Ack:
    if len(rest) < ACK_FIXED.size:
        raise ProtocolError("truncated ACK")
    nxt, latest, count = ACK_FIXED.unpack_from(rest)
    if count > MAX_RANGES or len(rest) != ACK_FIXED.size + count * RANGE.size:
        raise ProtocolError("bad ACK range count %d" % count)
    ranges: List[Tuple[int, int]] = []
    floor = nxt
    for i in range(count):
        start, end = RANGE.unpack_from(rest, ACK_FIXED.size + i * RANGE.size)
        if not floor < start < end:     # ascending, disjoint, above next, not empty
            raise ProtocolError("bad ACK range [%d, %d)" % (start, end))
        ranges.append((start, end))
        floor = end
    return Ack(nxt, latest, tuple(ranges))


def decode_chunk(rest: bytes) -> Tuple[int, bytes]:
    if len(rest) < CHUNK_FIXED.size:
        raise ProtocolError("truncated CHUNK")
    (index,) = CHUNK_FIXED.unpack_from(rest)
    return index, rest[CHUNK_FIXED.size:]


def decode_done(rest: bytes) -> Done:
    if len(rest) < DONE_FIXED.size:
        raise ProtocolError("truncated DONE")
    status, sha = DONE_FIXED.unpack_from(rest)
    detail, pos = _get_str16(rest, DONE_FIXED.size, MAX_DETAIL_BYTES)
    if pos != len(rest):
        raise ProtocolError("trailing bytes after DONE")
    return Done(status, sha, detail)


def decode_coded(rest: bytes) -> Coded:
    if len(rest) < CODE_FIXED.size:
        raise ProtocolError("truncated REFUSE/CANCEL")
    (code,) = CODE_FIXED.unpack_from(rest)
    reason, pos = _get_str16(rest, CODE_FIXED.size, MAX_DETAIL_BYTES)
    if pos != len(rest):
        raise ProtocolError("trailing bytes after REFUSE/CANCEL")
    return Coded(code, reason)


def file_header(session: int) -> bytes:
    """The version-1 header of a FILE datagram of `session` (pkt, ack, sack 0)."""
    return protocol.HEADER.pack(protocol.MAGIC, protocol.VERSION, FILE, 0, session, 0, 0, 0)
