"""The secure layer's datagrams (protocol version 2): layouts only, no crypto.

Every datagram of a secure room starts with the 8-byte outer header
`!2sBBI` = magic "CZ", version 2, type, index. Four carry the Noise handshake
(docs/PROTOCOL.md "Secure sessions"), one (RECORD) carries an encrypted
version-1 datagram, and REJECT tells a peer that has proved nothing why it
gets nothing more. Nothing here allocates state or does public-key work.
"""
import enum
import struct
from typing import NamedTuple, Tuple

from app.core import protocol
from app.core.protocol import ProtocolError

VERSION = 2
OUTER = struct.Struct("!2sBBI")            # magic, version, type, index
OUTER_SIZE = OUTER.size                    # 8
RECORD_HEADER = struct.Struct("!2sBBIQ")   # ... and the 64-bit counter
RECORD_HEADER_SIZE = RECORD_HEADER.size    # 16
AEAD_TAG = 16
RECORD_OVERHEAD = RECORD_HEADER_SIZE + AEAD_TAG          # 32: protocol.RESERVED
INNER_MAX = protocol.MAX_DATAGRAM - RECORD_OVERHEAD      # a version-1 datagram inside
NONCE = 8
COOKIE = 16
KEY = 32                                   # an X25519 public key
PAKE_MESSAGE = 65                          # an uncompressed P-256 point (SPAKE2)
INIT_FIXED = struct.Struct("!8s16sI")      # nonce, cookie, sender index
RESPONSE_FIXED = struct.Struct("!8sI")     # the INIT's nonce, the server's index
FLAG_PAKE = 0x01                           # INIT: the client runs SPAKE2 (a room password)


class SecureType(enum.IntEnum):
    INIT = 0x21        # client -> server: Noise message 1 (+ the cookie)
    CHALLENGE = 0x22   # server -> client: a cookie; nothing kept
    RESPONSE = 0x23    # server -> client: Noise message 2
    FINISH = 0x24      # client -> server: Noise message 3
    RECORD = 0x25      # both: an encrypted version-1 datagram
    REJECT = 0x26      # server -> client: why not (never larger than the request)


class RejectCode(enum.IntEnum):
    WRONG_PASSWORD = 1      # message 3 did not authenticate under a password room
    NEEDS_PASSWORD = 2      # the room has a password and the INIT ran no PAKE
    NO_PASSWORD = 3         # the INIT ran a PAKE and the room has no password
    UNKNOWN_SESSION = 4     # a RECORD for an index the server does not know: hand-shake again
    HANDSHAKE_FAILED = 5    # message 3 did not authenticate (no password in the room)
    BAD_VERSION = 6         # not a version this server speaks


class Init(NamedTuple):
    flags: int
    nonce: bytes
    cookie: bytes
    sender: int
    noise: bytes            # Noise message 1


def outer(kind: SecureType, index: int = 0, flags: int = 0) -> bytes:
    """The 8-byte header. `flags` only on INIT, where the index field is
    unused: INIT's index holds its flags."""
    return OUTER.pack(protocol.MAGIC, VERSION, kind, flags if kind == SecureType.INIT else index)


def peek(data: bytes) -> Tuple[int, int]:
    """(type, index) of a version-2 datagram; ProtocolError if it is not one."""
    if len(data) < OUTER_SIZE or data[:2] != protocol.MAGIC or data[2] != VERSION:
        raise ProtocolError("not a secure datagram")
    _, _, kind, index = OUTER.unpack_from(data)
    return kind, index


def is_secure(data: bytes) -> bool:
    return len(data) >= OUTER_SIZE and data[:2] == protocol.MAGIC and data[2] == VERSION


def encode_init(flags: int, nonce: bytes, cookie: bytes, sender: int, noise: bytes) -> bytes:
    return outer(SecureType.INIT, flags=flags) + INIT_FIXED.pack(nonce, cookie, sender) + noise


def decode_init(data: bytes) -> Init:
    end = OUTER_SIZE + INIT_FIXED.size
    if len(data) < end + KEY:
        raise ProtocolError("INIT too short")
    flags = OUTER.unpack_from(data)[3]
    nonce, cookie, sender = INIT_FIXED.unpack_from(data, OUTER_SIZE)
    if sender == 0:
        raise ProtocolError("INIT with sender index 0")
    return Init(flags, nonce, cookie, sender, data[end:])


def encode_challenge(nonce: bytes, cookie: bytes) -> bytes:
    return outer(SecureType.CHALLENGE) + nonce + cookie


def decode_challenge(data: bytes) -> Tuple[bytes, bytes]:
    if len(data) != OUTER_SIZE + NONCE + COOKIE:
        raise ProtocolError("CHALLENGE of the wrong size")
    return data[OUTER_SIZE:OUTER_SIZE + NONCE], data[OUTER_SIZE + NONCE:]


def encode_response(receiver: int, nonce: bytes, sender: int, noise: bytes) -> bytes:
    return outer(SecureType.RESPONSE, receiver) + RESPONSE_FIXED.pack(nonce, sender) + noise


def decode_response(data: bytes) -> Tuple[bytes, int, bytes]:
    """(nonce, the server's index, Noise message 2)."""
    end = OUTER_SIZE + RESPONSE_FIXED.size
    if len(data) < end + KEY:
        raise ProtocolError("RESPONSE too short")
    nonce, sender = RESPONSE_FIXED.unpack_from(data, OUTER_SIZE)
    if sender == 0:
        raise ProtocolError("RESPONSE with sender index 0")
    return nonce, sender, data[end:]


def encode_finish(receiver: int, noise: bytes) -> bytes:
    return outer(SecureType.FINISH, receiver) + noise


def record_header(receiver: int, counter: int) -> bytes:
    return RECORD_HEADER.pack(protocol.MAGIC, VERSION, SecureType.RECORD, receiver, counter)


def decode_record(data: bytes) -> Tuple[int, int, bytes, bytes]:
    """(receiver index, counter, header (the AEAD's associated data), ciphertext)."""
    if len(data) < RECORD_OVERHEAD:
        raise ProtocolError("RECORD too short")
    _, _, _, receiver, counter = RECORD_HEADER.unpack_from(data)
    return receiver, counter, data[:RECORD_HEADER_SIZE], data[RECORD_HEADER_SIZE:]


def encode_reject(code: RejectCode, room: int, index: int) -> bytes:
    """REJECT to an address that proved nothing: never more than `room` bytes
    (the size of what it answers), so the server amplifies nothing. `index`
    is the client's index of the handshake it answers (the INIT's sender
    index) or, to a RECORD, the RECORD's receiver index: only someone who saw
    the request can forge a REJECT the client believes."""
    data = outer(SecureType.REJECT, index) + bytes([code])
    return data if len(data) <= room else b""


def decode_reject(data: bytes) -> int:
    if len(data) != OUTER_SIZE + 1:
        raise ProtocolError("REJECT of the wrong size")
    return data[OUTER_SIZE]
