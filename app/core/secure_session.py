"""What both ends of a secure session share: the crypto they are given, the
transport keys after the handshake, and the inner token bound to a client key.

Pure: the primitives (X25519, ChaCha20-Poly1305, SPAKE2) come in a `Suite`
from the network shell (app/net/primitives.py, over the interpreter's own
libcrypto), so this layer, like the rest of the core, takes bytes and `now`.
The pattern is WireGuard's: a Noise handshake, then one key per direction from
Noise's Split(), an explicit 64-bit counter in clear as the AEAD nonce, and a
sliding replay window on the receiving side (docs/SECURITY.md).
"""
import hashlib
from typing import Callable, Optional, Tuple

try:
    from typing import Protocol
except ImportError:                      # Python 3.7 is below our range; mypy runs 3.8+
    Protocol = object                    # type: ignore

from app.core import secure_wire

KeyPair = Tuple[bytes, bytes]            # (private, public) X25519
PROLOGUE = b"chat.pyz secure session v2"
PAKE_ID_CLIENT = b"chat.pyz client"
PAKE_ID_SERVER = b"chat.pyz server"
TOKEN_LABEL = b"chat.pyz session token v2"
REPLAY_WIDTH = 1024                      # counters remembered behind the highest (WireGuard: 2048 - 64)


class CipherLike(Protocol):
    def encrypt_with_nonce(self, nonce: int, ad: bytes, plaintext: bytes) -> bytes: ...
    def seal_record(self, nonce: int, header: bytes, plaintext: bytes) -> bytes: ...
    def decrypt_with_nonce(self, nonce: int, ad: bytes, ciphertext: bytes) -> Optional[bytes]: ...


class Handshake(Protocol):
    """One side of a Noise XX / XXpsk3 handshake (app/core/noise.py)."""
    def write_message(self, payload: bytes) -> bytes: ...
    def read_message(self, message: bytes) -> Optional[bytes]: ...
    def set_psk(self, psk: bytes) -> None: ...
    @property
    def remote_static(self) -> Optional[bytes]: ...
    @property
    def handshake_hash(self) -> bytes: ...
    def transport(self) -> Tuple[CipherLike, CipherLike]: ...   # (sending, receiving)


class Pake(Protocol):
    """SPAKE2 (RFC 9382): start() the message to send, finish(peer's) the key."""
    def start(self) -> bytes: ...
    def finish(self, peer_message: bytes) -> bytes: ...


class Suite(Protocol):
    """The primitives a secure session is given (app/net/primitives.py)."""
    def handshake(self, initiator: bool, pake: bool, static: KeyPair) -> Handshake: ...
    def pake(self, server: bool) -> Pake: ...          # only in a room with a password
    def psk(self, pake_key: bytes) -> bytes: ...       # the Noise psk from SPAKE2's Ke
    def random(self, size: int) -> bytes: ...


def client_token(static_public: bytes, run_id: bytes) -> bytes:
    """The version-1 HELLO token of a client: bound to its long-term key (proved
    in the handshake) and to its run, so no value seen on the wire, nor any
    chosen by another peer, can claim its session (PROTOCOL.md "Secure sessions")."""
    return hashlib.sha256(TOKEN_LABEL + static_public + run_id).digest()[:16]


class ReplayWindow:
    """Counters seen lately, as a bitmap behind the highest (RFC 6479's idea,
    WireGuard's use): a counter seen before, or older than the window, is a replay."""

    __slots__ = ("highest", "bits", "mask")

    def __init__(self, width: int = REPLAY_WIDTH) -> None:
        self.highest = -1
        self.bits = 0
        self.mask = (1 << width) - 1

    def check(self, counter: int) -> bool:
        """Could this counter be new? (Cheap; call before decrypting.)"""
        if counter > self.highest:
            return True
        offset = self.highest - counter
        return (self.mask >> offset) & 1 == 1 and not (self.bits >> offset) & 1

    def mark(self, counter: int) -> None:
        """Remember it (only after it authenticated)."""
        if counter > self.highest:
            shift = counter - self.highest
            self.bits = ((self.bits << shift) | 1) & self.mask
            self.highest = counter
        else:
            self.bits |= 1 << (self.highest - counter)


class Transport:
    """The keys of an established session and their counters."""

    __slots__ = ("peer_index", "next_counter", "window", "seal_cipher", "open_cipher",
                 "_prefix", "_seal")

    def __init__(self, keys: Tuple[CipherLike, CipherLike], peer_index: int) -> None:
        self.seal_cipher, self.open_cipher = keys
        self.peer_index = peer_index       # what the peer calls this session (in our RECORDs)
        self.next_counter = 0
        self.window = ReplayWindow()
        # Once per session, not per datagram: the header's first 8 bytes, the method.
        self._prefix = secure_wire.record_header(peer_index, 0)[:secure_wire.OUTER_SIZE]
        self._seal = self.seal_cipher.seal_record

    def seal(self, inner: bytes) -> bytes:
        counter = self.next_counter
        self.next_counter = counter + 1
        header = self._prefix + counter.to_bytes(8, "big")   # secure_wire.record_header
        return self._seal(counter, header, inner)

    def open(self, counter: int, header: bytes, ciphertext: bytes) -> Optional[bytes]:
        """The inner datagram, or None (forged, damaged or replayed)."""
        if not self.window.check(counter):
            return None
        inner = self.open_cipher.decrypt_with_nonce(counter, header, ciphertext)
        if inner is not None:
            self.window.mark(counter)
        return inner


# The server's key -> None (trusted, or met for the first time) or the
# fingerprint words of the key trusted for that server instead.
Checker = Callable[[bytes], Optional[str]]
