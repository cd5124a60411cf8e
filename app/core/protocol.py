"""The wire format: every datagram's bytes, encoded and decoded with `struct`.

Pure: no sockets, no clocks. docs/PROTOCOL.md is the contract this module
implements; change both together. Every decoder checks sizes and fields before
use and raises ProtocolError (never anything else) on a malformed datagram.
"""
import enum
import hashlib
import struct
from typing import List, NamedTuple, Optional, Tuple

MAGIC = b"CZ"
VERSION = 1
DEFAULT_PORT = 9797

MAX_DATAGRAM = 1200          # whole datagram, header and tag included
MAX_FILE_DATAGRAM = 65507    # a FILE datagram (type 12) only: section F.1
TAG_SIZE = 16                # room-password tag (the --insecure mode's)
# Kept free in every datagram: a secure room wraps each in a RECORD (16-byte
# header + 16-byte AEAD tag, app/core/secure_wire.py); --insecure's tag fits too.
RESERVED = 32
MAX_NAME_CHARS = 16
MAX_NAME_BYTES = 64          # 16 code points of at most 4 UTF-8 bytes
MAX_TEXT_BYTES = 960         # one chat line, UTF-8; longer input is split by clients
MAX_REASON_BYTES = 400

class WireCode(enum.IntEnum):
    """A number on the wire. Its members are ints everywhere (struct packs them,
    they compare and hash equal to the plain ints the decoders return), and
    they print as their number on every Python, as they did before they were
    members (3.11's ReprEnum does this; 3.8 needs it said)."""

    __str__ = int.__repr__
    __format__ = int.__format__  # type: ignore[assignment]


class DatagramType(WireCode):
    """Header byte 3."""
    HELLO = 1
    CHALLENGE = 2
    WELCOME = 3
    REFUSE = 4
    DATA = 5
    PING = 6
    PONG = 7
    BYE = 8
    BYE_ACK = 9
    RESET = 10
    ROOM = 11                    # server -> client: room events shared by every member (6.8)
    FILE = 12                    # both ways: a file transfer's message (section F; file_wire.py)


class HeaderFlag(WireCode):
    """Header flag bits. Not an IntFlag: `header.flags & FLAG_ROOM` runs for
    every datagram, and with an IntFlag it would run Python code and make a
    new member; an IntEnum leaves & and | to int (the result is a plain int)."""
    TAGGED = 0x0001              # the last TAG_SIZE bytes are an authentication tag
    EVENTS = 0x0002              # on HELLO: this client takes EVENTS frames (kind 17)
    ROOM = 0x0004                # on HELLO: this client takes ROOM datagrams (type 11)
    ROOM_ACK = 0x0008            # on a client's DATA/PING/PONG: the body starts with ROOM_ACK
    ROOM_RUN = 0x0010            # on HELLO/WELCOME: runs taken / may come; on ROOM: this is a run
    REASONS = 0x0020             # on HELLO: this client takes coded reasons on REFUSE and BYE


class FrameKind(WireCode):
    """A reliable message's kind (frame header)."""
    SAY = 1                      # client -> server
    EMOTE = 2
    PRIVATE = 3
    WHO = 4
    EVENT = 16                   # server -> client
    EVENTS = 17                  # several room events in one frame: ([u16 length][event])*,
                                 # sent only to clients whose HELLO had FLAG_EVENTS


class EventKind(WireCode):
    """What an EVENT is about."""
    JOIN = 1
    LEAVE = 2
    CHAT = 3
    EMOTE = 4
    ADMIN = 5
    PRIVATE = 6
    NOTICE = 7
    WHO = 8
    MEMBERS = 9                  # joins and leaves counted, not each said (a busy room)


class EventFlag(WireCode):
    """Event flag bits (an IntEnum for the reason HeaderFlag is one)."""
    HISTORY = 0x01               # replayed from history to a newcomer


class LeaveCode(WireCode):
    """Why someone left (EV_LEAVE's code)."""
    QUIT = 0
    TIMEOUT = 1
    KICKED = 2
    BANNED = 3
    SERVER_CLOSING = 4


class NoticeCode(WireCode):
    """EV_NOTICE's code."""
    INFO = 0
    THROTTLED = 1
    NO_SUCH_USER = 2
    MUTED = 3
    MOTD = 4
    REJECTED = 5                 # a message the server would not accept (empty, too long)
    UNMUTED = 6                  # the mute on you is over (MUTED: it began; origin = its end)


class RefuseCode(WireCode):
    """Why a HELLO was refused (REFUSE's code)."""
    NAME_TAKEN = 1
    NAME_INVALID = 2
    BANNED = 3
    FULL = 4
    BAD_VERSION = 5
    WRONG_PASSWORD = 6
    THROTTLED = 7
    SERVER_KEY = 8               # never on the wire: the client's own refusal of a server
                                 # whose key it does not trust (PROTOCOL.md "Secure sessions")


class ReasonCode(WireCode):
    """Why a REFUSE or BYE (banned, kicked) happened, for a client that asked
    (FLAG_REASONS): it words it in its own language (PROTOCOL.md 5.4)."""
    NONE = 0
    KICKED = 1                   # a kick, and its cooldown
    BANNED_NAME = 2              # a ban that covers this name
    BANNED_HOST = 3              # ... this host (address)
    BANNED_KEY = 4               # ... this client's key (once clients have keys)
    TAKEN = 5                    # REFUSE 1: the name is someone's here (words: their name)
    LOOKS_LIKE = 6               # REFUSE 1: ... looks like a present member's (words: whose)
    ROOM_FULL = 7                # REFUSE 4: the room is full (words: how many are in it)
    HOST_FULL = 8                # REFUSE 4: this host has its most (words: that number)
    # Never on the wire: how the client's secure layer tells its own front end
    # what stopped the join (a REJECT, or its own check of the server's key).
    WRONG_PASSWORD = 9
    NEEDS_PASSWORD = 10
    NO_PASSWORD = 11
    SERVER_KEY = 12              # words: "NEW-WORDS OLD-WORDS" (fingerprints)
    # BYE 4 (DROPPED): the server stopped waiting for this member's acks.
    NO_ACKS = 13                 # nothing acknowledged for a while (words: seconds)
    BACKLOG = 14                 # too much unacknowledged (words: KiB)


class ByeCode(WireCode):
    """BYE's code."""
    LEAVING = 0                  # client -> server: I am leaving
    SERVER_CLOSING = 1           # server -> client from here on
    KICKED = 2
    BANNED = 3
    DROPPED = 4                  # it stopped acknowledging what the server sent (coded why)


# The names docs/PROTOCOL.md, the tests and the rest of the code use: the
# members themselves, module-level.
HELLO, CHALLENGE, WELCOME, REFUSE = (DatagramType.HELLO, DatagramType.CHALLENGE,
                                     DatagramType.WELCOME, DatagramType.REFUSE)
DATA, PING, PONG = DatagramType.DATA, DatagramType.PING, DatagramType.PONG
BYE, BYE_ACK, RESET, ROOM = (DatagramType.BYE, DatagramType.BYE_ACK, DatagramType.RESET,
                             DatagramType.ROOM)
FILE = DatagramType.FILE
# Plain ints: decode_header tests every datagram's type against it.
DATAGRAM_TYPES = frozenset(int(t) for t in DatagramType)

FLAG_TAGGED = HeaderFlag.TAGGED
FLAG_EVENTS = HeaderFlag.EVENTS
FLAG_ROOM = HeaderFlag.ROOM
FLAG_ROOM_ACK = HeaderFlag.ROOM_ACK
FLAG_ROOM_RUN = HeaderFlag.ROOM_RUN
FLAG_REASONS = HeaderFlag.REASONS

SAY, EMOTE, PRIVATE, WHO = FrameKind.SAY, FrameKind.EMOTE, FrameKind.PRIVATE, FrameKind.WHO
CLIENT_KINDS = frozenset((SAY, EMOTE, PRIVATE, WHO))
EVENT, EVENTS = FrameKind.EVENT, FrameKind.EVENTS
SERVER_KINDS = frozenset((EVENT, EVENTS))

EV_JOIN = EventKind.JOIN
EV_LEAVE = EventKind.LEAVE
EV_CHAT = EventKind.CHAT
EV_EMOTE = EventKind.EMOTE
EV_ADMIN = EventKind.ADMIN
EV_PRIVATE = EventKind.PRIVATE
EV_NOTICE = EventKind.NOTICE
EV_WHO = EventKind.WHO
EV_MEMBERS = EventKind.MEMBERS
EVENT_KINDS = frozenset(EventKind)

EVF_HISTORY = EventFlag.HISTORY


def members_counts(joined: int, left: int) -> int:
    """EV_MEMBERS's origin field: how many joined (high 32 bits) and left."""
    return (min(joined, 0xFFFFFFFF) << 32) | min(left, 0xFFFFFFFF)


def members_of(origin: int) -> Tuple[int, int]:
    """(joined, left) from EV_MEMBERS's origin field."""
    return origin >> 32, origin & 0xFFFFFFFF

LEAVE_QUIT = LeaveCode.QUIT
LEAVE_TIMEOUT = LeaveCode.TIMEOUT
LEAVE_KICKED = LeaveCode.KICKED
LEAVE_BANNED = LeaveCode.BANNED
LEAVE_SERVER_CLOSING = LeaveCode.SERVER_CLOSING

NOTICE_INFO = NoticeCode.INFO
NOTICE_THROTTLED = NoticeCode.THROTTLED
NOTICE_NO_SUCH_USER = NoticeCode.NO_SUCH_USER
NOTICE_MUTED = NoticeCode.MUTED
NOTICE_MOTD = NoticeCode.MOTD
NOTICE_REJECTED = NoticeCode.REJECTED
NOTICE_UNMUTED = NoticeCode.UNMUTED

REFUSE_NAME_TAKEN = RefuseCode.NAME_TAKEN
REFUSE_NAME_INVALID = RefuseCode.NAME_INVALID
REFUSE_BANNED = RefuseCode.BANNED
REFUSE_FULL = RefuseCode.FULL
REFUSE_BAD_VERSION = RefuseCode.BAD_VERSION
REFUSE_SERVER_KEY = RefuseCode.SERVER_KEY
REFUSE_WRONG_PASSWORD = RefuseCode.WRONG_PASSWORD
REFUSE_THROTTLED = RefuseCode.THROTTLED

BYE_LEAVING = ByeCode.LEAVING
BYE_SERVER_CLOSING = ByeCode.SERVER_CLOSING
BYE_KICKED = ByeCode.KICKED
BYE_BANNED = ByeCode.BANNED
BYE_DROPPED = ByeCode.DROPPED

HEADER = struct.Struct("!2sBBHIIII")      # magic ver type flags session pkt ack sack
FRAME = struct.Struct("!IBH")             # seq kind length
HELLO_FIXED = struct.Struct("!8s16s8s16sII")  # nonce cookie instance token epoch room_seq
CHALLENGE_BODY = struct.Struct("!8s16s")  # nonce cookie
WELCOME_FIXED = struct.Struct("!IIdBH")   # epoch room_seq server_time resumed online
REFUSE_FIXED = struct.Struct("!B")
REASON_FIXED = struct.Struct("!Bd")       # after a REFUSE/BYE reason: why, until (FLAG_REASONS)
BYE_FIXED = struct.Struct("!B")
EVENT_FIXED = struct.Struct("!IdBBBHQI")  # room_seq time kind flags code online origin msg_id
MSG_ID = struct.Struct("!I")
ROOM_ACK = struct.Struct("!II")           # room ack, room sack (after the header)

HEADER_SIZE = HEADER.size
# Room for frames in one datagram: the tag's space is always kept free.
PAYLOAD_ROOM = MAX_DATAGRAM - HEADER_SIZE - RESERVED


class ProtocolError(ValueError):
    """A datagram that does not follow docs/PROTOCOL.md."""


class Header(NamedTuple):
    type: int
    flags: int
    session: int
    pkt: int
    ack: int
    sack: int


class Frame(NamedTuple):
    seq: int
    kind: int
    body: bytes


class Hello(NamedTuple):
    nonce: bytes
    cookie: bytes
    instance: bytes
    token: bytes
    epoch: int
    room_seq: int
    name: str


class Welcome(NamedTuple):
    epoch: int
    room_seq: int
    server_time: float
    resumed: bool
    online: int
    name: str
    motd: str


class Reason(NamedTuple):
    """A refusal's or farewell's coded part (FLAG_REASONS clients only)."""
    why: int                 # ReasonCode
    until: float             # wall-clock seconds when it ends; 0: not said
    words: str = ""          # the admin's own words, "" for none


class Refuse(NamedTuple):
    code: int
    reason: str              # English, for people and for clients without FLAG_REASONS
    coded: Optional[Reason] = None


class Event(NamedTuple):
    room_seq: int
    time: float
    kind: int
    flags: int = 0
    code: int = 0
    online: int = 0
    origin: int = 0          # the sending client's public instance id, as an integer
    msg_id: int = 0          # the sending client's message number
    name: str = ""           # who acted (sender, joiner, ...)
    target: str = ""         # second party (private message recipient)
    text: str = ""


class Said(NamedTuple):
    """A client message: SAY, EMOTE or PRIVATE (target set)."""

    kind: int
    msg_id: int
    text: str
    target: str = ""


def instance_of(token: bytes) -> bytes:
    """A client's public instance id: the first 8 bytes of SHA-256 of its secret
    resume token. Others see it on the client's messages; nobody can claim it
    without the token, because the server checks it on HELLO."""
    return hashlib.sha256(token).digest()[:8]


# ---------------------------------------------------------------- helpers

_LENGTHS = {"B": struct.Struct("!B"), "H": struct.Struct("!H")}   # string length prefixes


def _put_str(value: str, limit: int, width: str = "B") -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > limit:
        raise ProtocolError("string of %d bytes exceeds %d" % (len(raw), limit))
    return _LENGTHS[width].pack(len(raw)) + raw


def _get_str(buf: bytes, pos: int, limit: int, width: str = "B") -> Tuple[str, int]:
    size_struct = _LENGTHS[width]
    if pos + size_struct.size > len(buf):
        raise ProtocolError("truncated string length")
    (length,) = size_struct.unpack_from(buf, pos)
    pos += size_struct.size
    if length > limit or pos + length > len(buf):
        raise ProtocolError("bad string length %d" % length)
    return _utf8(buf[pos:pos + length]), pos + length


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("invalid UTF-8")


# ---------------------------------------------------------------- header

def encode_header(dtype: DatagramType, session: int = 0, pkt: int = 0, ack: int = 0,
                  sack: int = 0, flags: int = 0) -> bytes:
    return HEADER.pack(MAGIC, VERSION, dtype, flags, session, pkt, ack, sack)


def peek_version(data: bytes) -> Optional[int]:
    """The version byte if `data` starts with our magic, else None."""
    if len(data) >= 4 and data[:2] == MAGIC:
        return data[2]
    return None


def decode_header(data: bytes) -> Tuple[Header, bytes]:
    """Split a datagram into its header and body. Checks size, magic, version, type."""
    if len(data) > MAX_DATAGRAM and not (len(data) <= MAX_FILE_DATAGRAM and data[3] == FILE):
        raise ProtocolError("datagram of %d bytes exceeds %d" % (len(data), MAX_DATAGRAM))
    if len(data) < HEADER_SIZE:
        raise ProtocolError("datagram shorter than the header")
    magic, version, dtype, flags, session, pkt, ack, sack = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError("bad magic")
    if version != VERSION:
        raise ProtocolError("unsupported version %d" % version)
    if dtype not in DATAGRAM_TYPES:
        raise ProtocolError("unknown datagram type %d" % dtype)
    if dtype == FILE and len(data) > MAX_DATAGRAM:   # a large chunk: no 64 KB copy
        return Header(dtype, flags, session, pkt, ack, sack), memoryview(data)[HEADER_SIZE:]
    return Header(dtype, flags, session, pkt, ack, sack), data[HEADER_SIZE:]


# ----------------------------------------------------------- room stream

# Every ROOM datagram starts with these 6 bytes; then the member's session id,
# then what ROOM_TAIL packs: the same bytes for every member (section 6.8).
ROOM_PREFIX = HEADER.pack(MAGIC, VERSION, ROOM, 0, 0, 0, 0, 0)[:6]
ROOM_TAIL = struct.Struct("!III")         # room datagram number, 0, 0
ROOM_FIELDS = struct.Struct("!IIII")      # session, number, 0, 0: a ROOM header from byte 6


def room_tail(number: int, batch: bytes) -> bytes:
    """A ROOM datagram without its first 10 bytes (prefix and session id)."""
    return ROOM_TAIL.pack(number, 0, 0) + batch


def room_datagram(session: bytes, tail: bytes) -> bytes:
    """One member's copy: `session` is its session id as 4 big-endian bytes."""
    return ROOM_PREFIX + session + tail


# A client's bare room ack: a DATA with FLAG_ROOM_ACK, the ROOM_ACK and no frames
# (a member of a busy room sends ~10 a second; the server takes them apart in one
# step: session pkt ack sack room_ack room_sack from byte 6).
BARE_ROOM_ACK_PREFIX = HEADER.pack(MAGIC, VERSION, DATA, FLAG_ROOM_ACK, 0, 0, 0, 0)[:6]
BARE_ROOM_ACK_SIZE = HEADER_SIZE + ROOM_ACK.size
BARE_ROOM_ACK_FIELDS = struct.Struct("!IIIIII")


def is_bare_room_ack(data: bytes) -> bool:
    return len(data) == BARE_ROOM_ACK_SIZE and data[:6] == BARE_ROOM_ACK_PREFIX


# A ROOM run (FLAG_ROOM_RUN, section 6.8): consecutive numbers from the header's
# pkt on, in one datagram; its body is their bodies, each behind a !H length.
ROOM_RUN_PREFIX = HEADER.pack(MAGIC, VERSION, ROOM, FLAG_ROOM_RUN, 0, 0, 0, 0)[:6]


def room_run_part(batch: bytes) -> bytes:
    """One number's body as a part of a run."""
    return BATCH_LEN.pack(len(batch)) + batch


def split_room_run(body: bytes) -> List[bytes]:
    """A run's body -> the bodies of its numbers, in order (2 or more)."""
    parts = split_event_batch(body)
    if len(parts) < 2:
        raise ProtocolError("a ROOM run of fewer than 2 numbers")
    return parts


# ---------------------------------------------------------------- frames

def encode_frame(seq: int, kind: int, body: bytes) -> bytes:
    # (an int: a client re-queues the kinds of its unacked frames as it read them back)
    return FRAME.pack(seq, kind, len(body)) + body


def decode_frames(body: bytes) -> List[Frame]:
    frames = []
    pos = 0
    end = len(body)
    while pos < end:
        if pos + FRAME.size > end:
            raise ProtocolError("truncated frame header")
        seq, kind, length = FRAME.unpack_from(body, pos)
        pos += FRAME.size
        if pos + length > end:
            raise ProtocolError("frame runs past the datagram")
        if seq == 0:
            raise ProtocolError("frame sequence number 0")
        frames.append(Frame(seq, kind, body[pos:pos + length]))
        pos += length
    return frames


# ---------------------------------------------------------------- handshake

def encode_hello(hello: Hello) -> bytes:
    return HELLO_FIXED.pack(hello.nonce, hello.cookie, hello.instance, hello.token,
                            hello.epoch, hello.room_seq) + _put_str(hello.name, MAX_NAME_BYTES)


def decode_hello(body: bytes) -> Hello:
    if len(body) < HELLO_FIXED.size:
        raise ProtocolError("truncated HELLO")
    nonce, cookie, instance, token, epoch, room_seq = HELLO_FIXED.unpack_from(body)
    name, pos = _get_str(body, HELLO_FIXED.size, MAX_NAME_BYTES)
    if pos != len(body):
        raise ProtocolError("trailing bytes after HELLO")
    return Hello(nonce, cookie, instance, token, epoch, room_seq, name)


def encode_challenge(nonce: bytes, cookie: bytes) -> bytes:
    return CHALLENGE_BODY.pack(nonce, cookie)


def decode_challenge(body: bytes) -> Tuple[bytes, bytes]:
    if len(body) != CHALLENGE_BODY.size:
        raise ProtocolError("bad CHALLENGE size")
    return CHALLENGE_BODY.unpack(body)


def encode_welcome(welcome: Welcome) -> bytes:
    return (WELCOME_FIXED.pack(welcome.epoch, welcome.room_seq, welcome.server_time,
                               int(welcome.resumed), welcome.online)
            + _put_str(welcome.name, MAX_NAME_BYTES)
            + _put_str(welcome.motd, MAX_TEXT_BYTES, "H"))


def decode_welcome(body: bytes) -> Welcome:
    if len(body) < WELCOME_FIXED.size:
        raise ProtocolError("truncated WELCOME")
    epoch, room_seq, server_time, resumed, online = WELCOME_FIXED.unpack_from(body)
    name, pos = _get_str(body, WELCOME_FIXED.size, MAX_NAME_BYTES)
    motd, pos = _get_str(body, pos, MAX_TEXT_BYTES, "H")
    if pos != len(body):
        raise ProtocolError("trailing bytes after WELCOME")
    return Welcome(epoch, room_seq, server_time, bool(resumed), online, name, motd)


def encode_refuse(code: RefuseCode, reason: str, limit: int = MAX_REASON_BYTES,
                  coded: Optional[Reason] = None) -> bytes:
    """A REFUSE body; `limit` caps the reason's bytes (cut on a character
    boundary); `coded` only to a client whose HELLO had FLAG_REASONS."""
    return _encode_coded(code, reason, limit, coded)


def _encode_coded(code: int, reason: str, limit: int = MAX_REASON_BYTES,
                  coded: Optional[Reason] = None) -> bytes:
    """The layout REFUSE and BYE share: a code, then the reason cut to fit,
    then (FLAG_REASONS) why, until and the admin's words."""
    raw = reason.encode("utf-8")[:max(0, min(limit, MAX_REASON_BYTES))]
    raw = raw.decode("utf-8", "ignore").encode("utf-8")
    body = REFUSE_FIXED.pack(code) + struct.pack("!H", len(raw)) + raw
    if coded is not None:
        words = coded.words.encode("utf-8")[:MAX_REASON_BYTES]
        words = words.decode("utf-8", "ignore").encode("utf-8")
        body += REASON_FIXED.pack(coded.why, coded.until) + struct.pack("!H", len(words)) + words
    return body


def decode_refuse(body: bytes) -> Refuse:
    if len(body) < REFUSE_FIXED.size:
        raise ProtocolError("truncated REFUSE")
    (code,) = REFUSE_FIXED.unpack_from(body)
    reason, pos = _get_str(body, REFUSE_FIXED.size, MAX_REASON_BYTES, "H")
    if pos == len(body):
        return Refuse(code, reason)
    if len(body) < pos + REASON_FIXED.size:
        raise ProtocolError("truncated coded reason")
    why, until = REASON_FIXED.unpack_from(body, pos)
    if until != until or until < 0:                    # NaN, or before the epoch
        raise ProtocolError("bad time in a coded reason")
    words, pos = _get_str(body, pos + REASON_FIXED.size, MAX_REASON_BYTES, "H")
    if pos != len(body):
        raise ProtocolError("trailing bytes after REFUSE")
    return Refuse(code, reason, Reason(why, until, words))


def encode_bye(code: ByeCode, reason: str = "", coded: Optional[Reason] = None) -> bytes:
    """A BYE body: the same layout as REFUSE (code, reason cut to fit, coded part)."""
    return _encode_coded(code, reason, MAX_REASON_BYTES, coded)


def decode_bye(body: bytes) -> Refuse:
    if not body:
        return Refuse(BYE_LEAVING, "")
    return decode_refuse(body)


# ---------------------------------------------------------------- messages

def encode_said(said: Said) -> bytes:
    raw = said.text.encode("utf-8")
    if len(raw) > MAX_TEXT_BYTES:
        raise ProtocolError("text of %d bytes exceeds %d" % (len(raw), MAX_TEXT_BYTES))
    head = MSG_ID.pack(said.msg_id)
    if said.kind == PRIVATE:
        head += _put_str(said.target, MAX_NAME_BYTES)
    return head + raw


def decode_said(kind: int, body: bytes) -> Said:
    if kind not in (SAY, EMOTE, PRIVATE):
        raise ProtocolError("not a chat message kind: %d" % kind)
    if len(body) < MSG_ID.size:
        raise ProtocolError("truncated chat message")
    (msg_id,) = MSG_ID.unpack_from(body)
    pos = MSG_ID.size
    target = ""
    if kind == PRIVATE:
        target, pos = _get_str(body, pos, MAX_NAME_BYTES)
    if len(body) - pos > MAX_TEXT_BYTES:
        raise ProtocolError("chat text too long")
    return Said(kind, msg_id, _utf8(body[pos:]), target)


def encode_event(event: Event) -> bytes:
    raw = event.text.encode("utf-8")
    if len(raw) > MAX_TEXT_BYTES:
        raise ProtocolError("event text too long")
    return (EVENT_FIXED.pack(event.room_seq, event.time, event.kind, event.flags,
                             event.code, event.online, event.origin, event.msg_id)
            + _put_str(event.name, MAX_NAME_BYTES)
            + _put_str(event.target, MAX_NAME_BYTES)
            + raw)


def decode_event(body: bytes) -> Event:
    if len(body) < EVENT_FIXED.size:
        raise ProtocolError("truncated EVENT")
    room_seq, time, kind, flags, code, online, origin, msg_id = EVENT_FIXED.unpack_from(body)
    # An unknown kind is kept (a newer server may send it); the front end shows
    # its text as a notice.
    if time != time:  # NaN
        raise ProtocolError("event time is NaN")
    name, pos = _get_str(body, EVENT_FIXED.size, MAX_NAME_BYTES)
    target, pos = _get_str(body, pos, MAX_NAME_BYTES)
    if len(body) - pos > MAX_TEXT_BYTES:
        raise ProtocolError("event text too long")
    return Event(room_seq, time, kind, flags, code, online, origin, msg_id,
                 name, target, _utf8(body[pos:]))


BATCH_LEN = struct.Struct("!H")
# Bytes of events one EVENTS frame may carry: a whole datagram's frame room.
BATCH_ROOM = PAYLOAD_ROOM - FRAME.size


def pack_event_batches(bodies: List[bytes]) -> List[Tuple[bytes, int]]:
    """Encoded events -> (EVENTS frame body, events in it), each body fitting
    one datagram."""
    batches: List[Tuple[bytes, int]] = []
    parts: List[bytes] = []
    size = 0
    for body in bodies:
        item = BATCH_LEN.pack(len(body)) + body
        if parts and size + len(item) > BATCH_ROOM:
            batches.append((b"".join(parts), len(parts)))
            parts, size = [], 0
        parts.append(item)
        size += len(item)
    if parts:
        batches.append((b"".join(parts), len(parts)))
    return batches


def split_event_batch(body: bytes) -> List[bytes]:
    """An EVENTS frame body -> the encoded events in it."""
    events = []
    pos, end = 0, len(body)
    while pos < end:
        if pos + BATCH_LEN.size > end:
            raise ProtocolError("truncated event length")
        (length,) = BATCH_LEN.unpack_from(body, pos)
        pos += BATCH_LEN.size
        if length == 0 or pos + length > end:
            raise ProtocolError("bad event length %d" % length)
        events.append(body[pos:pos + length])
        pos += length
    return events


def frame_fits(current_size: int, body: bytes) -> bool:
    """True if one more frame with `body` fits in a datagram whose frames so far
    take `current_size` bytes."""
    return current_size + FRAME.size + len(body) <= PAYLOAD_ROOM
