"""LAN discovery's wire format and the server's answer to a probe. Pure.

The format is docs/LAN.md section 6 ("Discovery datagrams"). A client sends a
PROBE (fixed size, random nonce); a server answers each probe with one ANSWER
-- never larger than the probe, so discovery cannot amplify a spoofed source's
traffic -- carrying its name, port, online count, protocol version and a random
id of this server run. Neither datagram starts with the chat magic b"CZ", so
`protocol.peek_version` / `decode_header` never take one for a chat datagram
of some version, and an older server simply counts a probe as malformed.

`Responder` is the server's decision (which probe gets which answer, at most
ANSWER_RATE a second); the server's network loop sends what it returns.
"""
import struct
from typing import NamedTuple, Optional, Tuple

from app.core import protocol
from app.core.flood import TokenBucket
from app.core.text import sanitize_text

PROBE_MAGIC = b"czd?"          # 63 7a 64 3f: never b"CZ", so never a chat datagram
ANSWER_MAGIC = b"czd!"         # 63 7a 64 21
FORMAT = 1                     # discovery layout version (byte 4)
PROBE_SIZE = 128               # every probe we send is padded to this size
PROBE_FIXED = struct.Struct("!4sBB8s")          # magic format version nonce
ANSWER_FIXED = struct.Struct("!4sBB8s8sHHB")    # magic format version nonce id port online flags
ANSWER_MIN = ANSWER_FIXED.size + 2              # two empty str8 strings: 29 bytes
MAX_SERVER_NAME = 64           # UTF-8 bytes of the server's name in an answer
MAX_SOFTWARE = 32              # UTF-8 bytes of the software version in an answer
FLAG_PASSWORD = 0x01           # answer flags: the room has a password

ANSWER_RATE = 500.0            # answers per second a server sends at most ...
ANSWER_BURST = 1000.0          # ... after a burst (a whole lab starting at once)


class Probe(NamedTuple):
    version: int               # the chat protocol version the prober speaks
    nonce: bytes


class Answer(NamedTuple):
    version: int               # the chat protocol version the server speaks
    nonce: bytes
    server_id: bytes           # random per server run: same id = same server
    port: int
    online: int
    name: str                  # the server's host name, sanitised for a terminal
    software: str              # the server's chat.pyz version, e.g. "0.1.0"
    flags: int = 0


class ServerInfo(NamedTuple):
    """What a server says about itself in an answer. `software` has no default:
    the core does not know the build's version (app.__version__ is above it)."""

    server_id: bytes
    name: str
    port: int
    online: int
    version: int
    software: str
    flags: int = 0


class Found(NamedTuple):
    """One server, however many addresses it answered from."""

    name: str
    host: str                  # the address to connect to (preferred of `addresses`)
    port: int
    online: int
    addresses: Tuple[str, ...]  # every address it answered from, `host` first
    version: int = protocol.VERSION
    software: str = ""
    server_id: bytes = b""
    password: bool = False     # the room has a password (--password / CHAT_PASSWORD)

    @property
    def compatible(self) -> bool:
        return self.version == protocol.VERSION


# ============================================================ codec

def cut_utf8(text: str, limit: int) -> bytes:
    """`text` as UTF-8, cut to at most `limit` bytes at a character boundary."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return raw
    raw = raw[:max(0, limit)]
    while raw and raw[-1] & 0xC0 == 0x80:      # inside a multi-byte character
        raw = raw[:-1]
    if raw and raw[-1] >= 0xC0:                  # a lead byte without its tail
        raw = raw[:-1]
    return raw


def encode_probe(nonce: bytes, version: int = protocol.VERSION, size: int = PROBE_SIZE) -> bytes:
    if len(nonce) != 8:
        raise ValueError("the nonce is 8 bytes")
    head = PROBE_FIXED.pack(PROBE_MAGIC, FORMAT, version, nonce)
    return head + bytes(max(0, size - len(head)))


def is_probe(data: bytes) -> bool:
    """Cheap test for the server's receive loop: does this look like a probe?"""
    return data[:4] == PROBE_MAGIC


def decode_probe(data: bytes) -> Optional[Probe]:
    """A probe, or None. Any format byte is accepted: the first 14 bytes are frozen."""
    if len(data) < PROBE_FIXED.size or len(data) > protocol.MAX_DATAGRAM:
        return None
    magic, _format, version, nonce = PROBE_FIXED.unpack_from(data)
    if magic != PROBE_MAGIC:
        return None
    return Probe(version, nonce)


def encode_answer(probe: Probe, info: ServerInfo, limit: int) -> Optional[bytes]:
    """The answer to `probe` in at most `limit` bytes (the probe's size): the
    name is cut to fit, the software version left out (empty) unless it fits
    whole; None if not even that fits."""
    if limit < ANSWER_MIN:
        return None
    room = limit - ANSWER_MIN
    name = cut_utf8(info.name, min(MAX_SERVER_NAME, room))
    software = info.software.encode("utf-8", "replace")
    if len(software) > min(MAX_SOFTWARE, room - len(name)):
        software = b""
    head = ANSWER_FIXED.pack(ANSWER_MAGIC, FORMAT, info.version & 0xFF, probe.nonce,
                             info.server_id, info.port, min(info.online, 0xFFFF),
                             info.flags & 0xFF)
    answer = (head + struct.pack("!B", len(name)) + name
              + struct.pack("!B", len(software)) + software)
    assert len(answer) <= limit
    return answer


def answer_for(probe_bytes: bytes, info: ServerInfo) -> Optional[bytes]:
    """The server's answer to a datagram: None unless it is a probe; never
    larger than the probe."""
    probe = decode_probe(probe_bytes)
    if probe is None:
        return None
    return encode_answer(probe, info, len(probe_bytes))


def decode_answer(data: bytes) -> Optional[Answer]:
    """An answer, or None for anything else (checked strictly: lengths, UTF-8).
    Bytes after the two strings are ignored (room for later additions)."""
    if len(data) < ANSWER_MIN or len(data) > protocol.MAX_DATAGRAM:
        return None
    (magic, _format, version, nonce, server_id, port, online,
     flags) = ANSWER_FIXED.unpack_from(data)
    if magic != ANSWER_MAGIC:
        return None
    pos = ANSWER_FIXED.size
    strings = []
    for limit in (MAX_SERVER_NAME, MAX_SOFTWARE):
        if pos >= len(data):
            return None
        length = data[pos]
        pos += 1
        if length > limit or pos + length > len(data):
            return None
        try:
            strings.append(data[pos:pos + length].decode("utf-8"))
        except UnicodeDecodeError:
            return None
        pos += length
    name, software = (sanitize_text(s).strip() for s in strings)
    return Answer(version, nonce, server_id, port, online, name, software, flags)


# ============================================================ the server's decision

class Responder:
    """Which probe gets which answer: one per probe, at most ANSWER_RATE a
    second after a burst of ANSWER_BURST (one app.core.flood.TokenBucket for
    the whole server, whoever asks), so a flood of probes costs the room little."""

    def __init__(self, server_id: bytes, name: str, software: str, now: float,
                 version: int = protocol.VERSION) -> None:
        self.server_id = server_id
        self.name = name
        self.software = software
        self.version = version
        self.bucket = TokenBucket(ANSWER_RATE, ANSWER_BURST, now)
        self.answered = 0
        self.dropped = 0               # over the rate, or not an answerable probe

    def answer(self, now: float, data: bytes, port: int, online: int,
               password: bool = False) -> Optional[bytes]:
        """The answer to the datagram `data` that came to `port` (the chat
        port: the answer goes out from it), or None to send nothing."""
        # A token is spent before the datagram is read, as for any datagram on
        # the port: junk that looks like a probe is rate-limited as well.
        if not self.bucket.take(now):
            self.dropped += 1
            return None
        answer = answer_for(data, ServerInfo(self.server_id, self.name, port, online,
                                             self.version, self.software,
                                             FLAG_PASSWORD if password else 0))
        if answer is None:
            self.dropped += 1
            return None
        self.answered += 1
        return answer
