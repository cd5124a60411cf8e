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
from app.core.noise import MAX_NONCE, AeadCipher

KeyPair = Tuple[bytes, bytes]            # (private, public) X25519
PROLOGUE = b"chat.pyz secure session v2"
PAKE_ID_CLIENT = b"chat.pyz client"
PAKE_ID_SERVER = b"chat.pyz server"
TOKEN_LABEL = b"chat.pyz session token v2"
REPLAY_WIDTH = 1024                      # counters remembered behind the highest (WireGuard: 2048 - 64)
SEAL_AFTER_MIN = 16 << 10                # inner datagrams this large (file chunks) sealed in place


class CipherLike(Protocol):
    """A transport key (noise.CipherState): `explicit_nonce()` is its AEAD and
    Noise's nonce of a counter, used per datagram without further frames."""
    def encrypt_with_nonce(self, nonce: int, ad: bytes, plaintext: bytes,
                           prefix: bytes = b"") -> bytes: ...
    def decrypt_with_nonce(self, nonce: int, ad: bytes, ciphertext: bytes) -> Optional[bytes]: ...
    def explicit_nonce(self) -> Tuple[AeadCipher, Callable[[int], bytes]]: ...


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
    """The keys of an established session and their counters.

    seal and open run once per datagram (a fan-out seals one per member), so
    they call the AEAD directly with Noise's nonce (CipherState.explicit_nonce)
    and keep the counter's range themselves, as CipherState's
    encrypt_with_nonce / decrypt_with_nonce would: two Python frames fewer."""

    __slots__ = ("peer_index", "next_counter", "window", "seal_cipher", "open_cipher",
                 "_prefix", "_seal", "_seal_after", "_open", "_nonce")

    def __init__(self, keys: Tuple[CipherLike, CipherLike], peer_index: int) -> None:
        self.seal_cipher, self.open_cipher = keys
        self.peer_index = peer_index       # what the peer calls this session (in our RECORDs)
        self.next_counter = 0
        self.window = ReplayWindow()
        # Once per session, not per datagram: the header's first 8 bytes, the methods.
        self._prefix = secure_wire.record_header(peer_index, 0)[:secure_wire.OUTER_SIZE]
        sealing, self._nonce = self.seal_cipher.explicit_nonce()
        self._seal = sealing.seal_trusted   # (a 12-byte nonce, bytes: made here)
        # A file chunk's RECORD is sealed straight into its own buffer when the
        # AEAD can (libcrypto.Aead.seal_after): no copy out of the scratch buffer.
        self._seal_after = getattr(sealing, "seal_after", None)
        opening = self.open_cipher.explicit_nonce()[0]
        # (libcrypto.Aead.open_trusted: open() without the conversions of its
        # arguments, which are bytes here: the nonce ours, the rest slices of one.)
        self._open = getattr(opening, "open_trusted", opening.open)

    def seal(self, inner: bytes) -> bytes:
        """header || ChaCha20-Poly1305(inner, ad=header): one RECORD."""
        counter = self.next_counter
        if counter >= MAX_NONCE:
            raise ValueError("this session's counter is spent: it must be renewed")
        self.next_counter = counter + 1
        header = self._prefix + counter.to_bytes(8, "big")   # secure_wire.record_header
        if len(inner) >= SEAL_AFTER_MIN and self._seal_after is not None:
            return self._seal_after(header, self._nonce(counter), inner, header)
        return self._seal(self._nonce(counter), inner, header, header)   # one copy

    def open(self, counter: int, header: bytes, ciphertext: bytes) -> Optional[bytes]:
        """The inner datagram, or None (forged, damaged or replayed)."""
        window = self.window
        highest = window.highest
        # In order (nearly every record): ReplayWindow.check and .mark inlined.
        if counter > highest:
            if counter >= MAX_NONCE:
                return None
            inner = self._open(self._nonce(counter), ciphertext, header)
            if inner is not None:
                window.bits = ((window.bits << (counter - highest)) | 1) & window.mask
                window.highest = counter
            return inner
        if not window.check(counter):
            return None
        inner = self._open(self._nonce(counter), ciphertext, header)
        if inner is not None:
            window.mark(counter)
        return inner


# The server's key -> None (trusted, or met for the first time) or the
# fingerprint words of the key trusted for that server instead.
Checker = Callable[[bytes], Optional[str]]
