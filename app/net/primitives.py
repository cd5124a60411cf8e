"""The secure layer's `Suite` (app/core/secure_session.py): Noise XX or
XXpsk3 over X25519, ChaCha20-Poly1305 and SHA-256, and SPAKE2 over P-256 for
a room password — every primitive from the interpreter's own libcrypto.

Which published pieces, and why, in docs/SECURITY.md "Secure sessions".
"""
import os
from typing import Optional, Tuple

from app.core import noise, words
from app.core.secure_session import (PAKE_ID_CLIENT, PAKE_ID_SERVER, PROLOGUE, CipherLike,
                                     KeyPair)
from app.net import libcrypto, spake2

NOISE_XX = "Noise_XX_25519_ChaChaPoly_SHA256"
NOISE_XX_PSK = "Noise_XXpsk3_25519_ChaChaPoly_SHA256"
# SPAKE2's w is scrypt(password, salt): the PAKE already keeps a recorded
# handshake from testing guesses, so the salt only matters if w leaks from a
# process's memory; one fixed salt for every room (docs/SECURITY.md).
PAKE_SALT = b"chat.pyz room password"
PSK_INFO = b"chat.pyz noise psk from spake2 ke"
PSK_UNKNOWN = bytes(32)


class NoiseHandshake:
    """noise.HandshakeState in the shape the secure layer uses: a message that
    does not verify gives None, not an exception; the psk (from SPAKE2) is
    given when it is known, before the third message."""

    def __init__(self, state: noise.HandshakeState) -> None:
        self.state = state

    def write_message(self, payload: bytes) -> bytes:
        return self.state.write_message(payload)

    def read_message(self, message: bytes) -> Optional[bytes]:
        try:
            return self.state.read_message(message)
        except noise.NoiseError:
            return None

    def set_psk(self, psk: bytes) -> None:
        # psk3 reads the psk only in the third message; until SPAKE2 gave it,
        # the state holds PSK_UNKNOWN, which no message is ever made with.
        self.state._psk = psk

    @property
    def remote_static(self) -> Optional[bytes]:
        return self.state.remote_static

    @property
    def handshake_hash(self) -> bytes:
        return self.state.handshake_hash

    def transport(self) -> Tuple[CipherLike, CipherLike]:
        """(sending, receiving) for this side."""
        return self.state.split()


class LibcryptoSuite:
    def __init__(self, password: Optional[str] = None) -> None:
        # A room code read off a projector and typed sloppily still matches.
        self.password = words.room_password(password).encode("utf-8") if password else b""
        self.dh = libcrypto.X25519Dh()

    def handshake(self, initiator: bool, pake: bool, static: KeyPair) -> NoiseHandshake:
        name = NOISE_XX_PSK if pake else NOISE_XX
        return NoiseHandshake(noise.HandshakeState(
            name, initiator, self.dh, libcrypto.Aead, s=static, prologue=PROLOGUE,
            psk=PSK_UNKNOWN if pake else None))

    def pake(self, server: bool) -> spake2.Spake2:
        return spake2.Spake2("B" if server else "A", self.password, PAKE_ID_CLIENT,
                             PAKE_ID_SERVER, salt=PAKE_SALT)

    def psk(self, pake_key: bytes) -> bytes:
        return noise.hkdf_sha256(b"", pake_key, PSK_INFO, 32)

    def random(self, size: int) -> bytes:
        return os.urandom(size)


def new_keypair() -> KeyPair:
    return libcrypto.x25519_keypair()


def public_of(private: bytes) -> bytes:
    return libcrypto.x25519_public(private)


def unavailable() -> Optional[str]:
    """None when every primitive is there; else one line saying what is not."""
    why = libcrypto.why_unavailable()
    if why is not None:
        return why
    try:
        libcrypto.x25519_keypair()
        libcrypto.Aead(bytes(32)).seal(bytes(12), b"", b"")   # (its context is made at first use)
        spake2.curve()
    except (RuntimeError, OSError, AttributeError, spake2.Unavailable) as exc:
        return "this Python's libcrypto lacks what chat.pyz needs (%s)" % exc
    return None
