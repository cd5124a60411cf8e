"""The optional room password: a key derived once, a tag on every datagram.

Pure (no IO). With a password, every datagram of both sides carries
FLAG_TAGGED and ends in a 16-byte truncated HMAC-SHA256 of everything before
it; the receiver verifies the tag (in constant time) before parsing anything
else. The password itself never travels. This authenticates, it does not
encrypt: see docs/SECURITY.md for what that does and does not protect.
"""
import hashlib
import hmac
import struct
from typing import Optional

from app.core import protocol

# A fixed, public salt: both sides must derive the same key without a round
# trip. It makes chat.pyz keys differ from other programs' for the same
# password; it does not stop a dictionary attack on a captured datagram, so a
# room password should not be a dictionary word (docs/SECURITY.md).
SALT = b"chat.pyz room password v1"
ITERATIONS = 200_000          # ~90 ms once per process on the lab machines here
FLAGS_AT = 4                  # the header's flags field: bytes 4-5 (network order)


def derive_key(password: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), SALT, ITERATIONS)


def is_tagged(data: bytes) -> bool:
    return (len(data) >= protocol.HEADER_SIZE
            and struct.unpack_from("!H", data, FLAGS_AT)[0] & protocol.FLAG_TAGGED != 0)


class RoomKey:
    def __init__(self, key: bytes) -> None:
        self.key = key

    @classmethod
    def from_password(cls, password: str) -> "RoomKey":
        return cls(derive_key(password))

    def _tag(self, data: bytes) -> bytes:
        return hmac.new(self.key, data, hashlib.sha256).digest()[:protocol.TAG_SIZE]

    def seal(self, data: bytes) -> bytes:
        """Set FLAG_TAGGED in the header and append the tag."""
        (flags,) = struct.unpack_from("!H", data, FLAGS_AT)
        flagged = (data[:FLAGS_AT] + struct.pack("!H", flags | protocol.FLAG_TAGGED)
                   + data[FLAGS_AT + 2:])
        return flagged + self._tag(flagged)

    def open(self, data: bytes) -> Optional[bytes]:
        """The datagram without its tag (flag cleared) if the tag is right, else None."""
        if not is_tagged(data) or len(data) < protocol.HEADER_SIZE + protocol.TAG_SIZE:
            return None
        body, tag = data[:-protocol.TAG_SIZE], data[-protocol.TAG_SIZE:]
        if not hmac.compare_digest(tag, self._tag(body)):
            return None
        (flags,) = struct.unpack_from("!H", body, FLAGS_AT)
        return (body[:FLAGS_AT] + struct.pack("!H", flags & ~protocol.FLAG_TAGGED)
                + body[FLAGS_AT + 2:])


class ReplayWindow:
    """Packet numbers seen recently (a 64-wide sliding bitmap, as in IPsec/DTLS):
    a datagram whose number was seen, or is older than the window, is a replay."""

    WIDTH = 64

    def __init__(self) -> None:
        self.highest = 0
        self.bits = 0               # bit i: highest - i was seen

    def accept(self, pkt: int) -> bool:
        if pkt == 0:
            return False
        if pkt > self.highest:
            shift = pkt - self.highest
            self.bits = ((self.bits << shift) | 1) & ((1 << self.WIDTH) - 1)
            self.highest = pkt
            return True
        offset = self.highest - pkt
        if offset >= self.WIDTH or self.bits >> offset & 1:
            return False
        self.bits |= 1 << offset
        return True
