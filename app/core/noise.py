"""The Noise Protocol Framework (revision 34), as far as chat.pyz needs it:
Noise_XX_25519_ChaChaPoly_SHA256 and Noise_XXpsk3_25519_ChaChaPoly_SHA256.

Pure. The spec's three objects (CipherState, SymmetricState, HandshakeState,
§5) with its names, and the handshake patterns as token lists read by one small
interpreter (§5.3), checked against the cacophony test vectors
(tests/test_crypto_vectors.py). Nothing here is a design of our own; the two
additions are named where they are: transport messages with an explicit
nonce (WireGuard's record layer: the 64-bit counter travels in clear, so a
datagram may be lost or reordered), and a failed `read_message` leaving the
handshake as it was (a forged datagram cannot abort a handshake in progress).

The curve and the cipher are injected (`Dh`, `AeadFactory`) so this module does
no IO: app/net/libcrypto.py provides them (`X25519Dh()`, `Aead`), and tests can
fix the ephemeral keys. SHA-256 and HMAC come from hashlib/hmac.
"""
import hashlib
import hmac
import struct
from typing import Callable, Dict, List, Optional, Protocol, Tuple

HASHLEN = 32
DHLEN = 32
TAGLEN = 16
MAX_MESSAGE = 65535                 # §3: every Noise message fits in this
MAX_NONCE = 2 ** 64 - 1             # §5.1: reserved, never used to encrypt
PSK_LEN = 32
SUFFIX = "_25519_ChaChaPoly_SHA256"

KeyPair = Tuple[bytes, bytes]       # (private, public)


class NoiseError(ValueError):
    """A handshake or transport message that does not verify or does not fit."""


class Dh(Protocol):
    """DH functions (§4.1): X25519 in practice. `dh` raises ValueError for an
    all-zero result (a small-order point); that becomes a NoiseError here."""

    def generate_keypair(self) -> KeyPair: ...

    def dh(self, private: bytes, public: bytes) -> bytes: ...


class AeadCipher(Protocol):
    """ChaCha20-Poly1305 under one key (RFC 8439): ciphertext || 16-byte tag."""

    def seal(self, nonce: bytes, plaintext: bytes, ad: bytes, prefix: bytes = b"") -> bytes:
        """prefix || ciphertext || tag (the prefix: a record's header, in the same copy)."""

    def seal_trusted(self, nonce: bytes, plaintext: bytes, ad: bytes, prefix: bytes) -> bytes:
        """seal() without its checks: the caller gives a 12-byte nonce and bytes."""

    def open(self, nonce: bytes, ciphertext: bytes, ad: bytes) -> Optional[bytes]: ...


AeadFactory = Callable[[bytes], AeadCipher]

# The handshake patterns (§7.5 XX, §9.3 the psk3 modifier), one list of tokens
# per message, initiator first. No pre-messages: neither pattern has any.
PATTERNS: Dict[str, List[List[str]]] = {
    "XX": [["e"], ["e", "ee", "s", "es"], ["s", "se"]],
    "XXpsk3": [["e"], ["e", "ee", "s", "es"], ["s", "se", "psk"]],
}


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def hkdf(chaining_key: bytes, ikm: bytes, n: int) -> Tuple[bytes, ...]:
    """Noise's HKDF (§4.3): 2 or 3 outputs of 32 bytes."""
    if n not in (2, 3):
        raise ValueError("Noise's HKDF gives 2 or 3 outputs")
    temp_key = _hmac(chaining_key, ikm)
    outputs = [_hmac(temp_key, b"\x01")]
    for i in range(2, n + 1):
        outputs.append(_hmac(temp_key, outputs[-1] + bytes((i,))))
    return tuple(outputs)


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 of RFC 5869 (extract, then expand to `length` bytes)."""
    if not 0 <= length <= 255 * HASHLEN:
        raise ValueError("HKDF-SHA256 gives at most 8160 bytes")
    prk = _hmac(salt or bytes(HASHLEN), ikm)
    output, block = b"", b""
    counter = 1
    while len(output) < length:
        block = _hmac(prk, block + info + bytes((counter,)))
        output += block
        counter += 1
    return output[:length]


_NONCE = struct.Struct("<4xQ")


def _nonce(n: int) -> bytes:
    """ChaChaPoly's 96-bit nonce (§12.3): 32 zero bits, then n little-endian."""
    return _NONCE.pack(n)


class CipherState:
    """§5.1: a key (or none) and a counter. Transport use adds the explicit-
    nonce calls, for datagrams: the caller sends n in clear and keeps the
    replay window; these never change the counter."""

    def __init__(self, aead: AeadFactory, key: Optional[bytes] = None) -> None:
        self._factory = aead
        self._aead: Optional[AeadCipher] = None
        self.n = 0
        if key is not None:
            self.initialize_key(key)

    def initialize_key(self, key: Optional[bytes]) -> None:
        self._aead = None if key is None else self._factory(key)
        self.n = 0

    def has_key(self) -> bool:
        return self._aead is not None

    def set_nonce(self, n: int) -> None:
        self.n = n

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        if self._aead is None:
            return plaintext
        if self.n >= MAX_NONCE:
            raise NoiseError("nonce exhausted: the session must be rekeyed or renewed")
        ciphertext = self._aead.seal(_nonce(self.n), plaintext, ad)
        self.n += 1
        return ciphertext

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        """The plaintext; NoiseError (counter unchanged) when it does not verify."""
        if self._aead is None:
            return ciphertext
        if self.n >= MAX_NONCE:
            raise NoiseError("nonce exhausted: the session must be rekeyed or renewed")
        plaintext = self._aead.open(_nonce(self.n), ciphertext, ad)
        if plaintext is None:
            raise NoiseError("a Noise message failed to decrypt")
        self.n += 1
        return plaintext

    def encrypt_with_nonce(self, n: int, ad: bytes, plaintext: bytes,
                           prefix: bytes = b"") -> bytes:
        """Transport: seal under the explicit nonce n (0 <= n < 2**64 - 1). The
        caller must never use one n twice under this key. The result starts
        with `prefix` (a datagram's header, made in one copy)."""
        if self._aead is None:
            raise NoiseError("no key yet")
        if not 0 <= n < MAX_NONCE:
            raise NoiseError("nonce out of range")
        return self._aead.seal(_NONCE.pack(n), plaintext, ad, prefix)

    def decrypt_with_nonce(self, n: int, ad: bytes, ciphertext: bytes) -> Optional[bytes]:
        """Transport: the plaintext, or None when it does not verify or n is out
        of range. Replays verify: rejecting them is the caller's window."""
        if self._aead is None or not 0 <= n < MAX_NONCE:
            return None
        return self._aead.open(_NONCE.pack(n), ciphertext, ad)

    def explicit_nonce(self) -> Tuple[AeadCipher, Callable[[int], bytes]]:
        """(the AEAD, n -> its nonce): encrypt_with_nonce and decrypt_with_nonce
        in the caller's own frame, for a record layer that seals or opens every
        datagram (app/core/secure_session.py). The caller keeps
        0 <= n < MAX_NONCE and never seals under one n twice. Not after a
        rekey: the AEAD returned is this key's."""
        if self._aead is None:
            raise NoiseError("no key yet")
        return self._aead, _NONCE.pack

    def rekey(self) -> None:
        """§4.2 REKEY: the first 32 bytes of ENCRYPT(k, maxnonce, "", zeros)."""
        if self._aead is None:
            raise NoiseError("no key to rekey")
        n = self.n
        self.initialize_key(self._aead.seal(_nonce(MAX_NONCE), bytes(32), b"")[:32])
        self.n = n


class SymmetricState:
    """§5.2: the chaining key ck, the handshake hash h and a CipherState."""

    def __init__(self, protocol_name: bytes, aead: AeadFactory) -> None:
        if len(protocol_name) <= HASHLEN:
            self.h = protocol_name.ljust(HASHLEN, b"\0")
        else:
            self.h = hashlib.sha256(protocol_name).digest()
        self.ck = self.h
        self._factory = aead
        self.cipher = CipherState(aead)

    def mix_key(self, ikm: bytes) -> None:
        self.ck, temp_k = hkdf(self.ck, ikm, 2)
        self.cipher.initialize_key(temp_k)

    def mix_hash(self, data: bytes) -> None:
        self.h = hashlib.sha256(self.h + data).digest()

    def mix_key_and_hash(self, ikm: bytes) -> None:
        self.ck, temp_h, temp_k = hkdf(self.ck, ikm, 3)
        self.mix_hash(temp_h)
        self.cipher.initialize_key(temp_k)

    def get_handshake_hash(self) -> bytes:
        return self.h

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> Tuple[CipherState, CipherState]:
        """(initiator -> responder, responder -> initiator)."""
        temp_k1, temp_k2 = hkdf(self.ck, b"", 2)
        return CipherState(self._factory, temp_k1), CipherState(self._factory, temp_k2)

    def snapshot(self) -> Tuple[bytes, bytes, Optional[AeadCipher], int]:
        return self.ck, self.h, self.cipher._aead, self.cipher.n

    def restore(self, saved: Tuple[bytes, bytes, Optional[AeadCipher], int]) -> None:
        self.ck, self.h, self.cipher._aead, self.cipher.n = saved


class HandshakeState:
    """§5.3: one side of a handshake. `write_message` and `read_message` take
    turns as the pattern says; when `complete`, `split()` gives this side's
    (send, receive) transport CipherStates and `handshake_hash` is final
    (channel binding: both sides hold the same value, a third party cannot).

    `e` fixes the ephemeral key pair (test vectors only). `rs` is the peer's
    static public key once read (`remote_static`): the caller decides whether
    it trusts it.
    """

    def __init__(self, protocol_name: str, initiator: bool, dh: Dh, aead: AeadFactory,
                 s: Optional[KeyPair] = None, prologue: bytes = b"",
                 psk: Optional[bytes] = None, e: Optional[KeyPair] = None) -> None:
        pattern = _pattern_of(protocol_name)
        self._messages = PATTERNS[pattern]
        self._psk_mode = "psk" in pattern
        if self._psk_mode != (psk is not None):
            raise ValueError("%s %s a psk" % (protocol_name, "needs" if self._psk_mode
                                              else "takes no"))
        if psk is not None and len(psk) != PSK_LEN:
            raise ValueError("a Noise psk is 32 bytes")
        mine = self._messages[0 if initiator else 1::2]
        if s is None and any("s" in tokens for tokens in mine):
            raise ValueError("%s needs this side's static key pair" % protocol_name)
        self.initiator = initiator
        self._dh = dh
        self._s = s
        self._e = e
        self._psk = psk
        self.re: Optional[bytes] = None
        self.rs: Optional[bytes] = None
        self._step = 0
        self._symmetric = SymmetricState(protocol_name.encode("ascii"), aead)
        self._symmetric.mix_hash(prologue)

    @property
    def complete(self) -> bool:
        return self._step == len(self._messages)

    @property
    def my_turn(self) -> bool:
        """True when the next call is write_message (False once complete)."""
        return not self.complete and (self._step % 2 == 0) == self.initiator

    @property
    def handshake_hash(self) -> bytes:
        return self._symmetric.get_handshake_hash()

    @property
    def remote_static(self) -> Optional[bytes]:
        return self.rs

    def write_message(self, payload: bytes = b"") -> bytes:
        """The next handshake message, carrying `payload` (encrypted from
        message 2 on; in clear in XX's message 1). NoiseError, with the state
        unchanged, when it is not this side's turn or the payload is too long;
        NoiseError when the peer's key is unusable (small-order): then the
        handshake is dead and must be dropped."""
        if not self.my_turn:
            raise NoiseError("not this side's turn to write")
        tokens = self._messages[self._step]
        overhead = TAGLEN + sum(DHLEN if token == "e" else DHLEN + TAGLEN if token == "s"
                                else 0 for token in tokens)
        if len(payload) + overhead > MAX_MESSAGE:
            raise NoiseError("a Noise message is at most 65535 bytes")
        symmetric = self._symmetric
        out = []
        for token in tokens:
            if token == "e":
                if self._e is None:
                    self._e = self._dh.generate_keypair()
                out.append(self._e[1])
                symmetric.mix_hash(self._e[1])
                if self._psk_mode:
                    symmetric.mix_key(self._e[1])
            elif token == "s":
                assert self._s is not None  # checked in __init__
                out.append(symmetric.encrypt_and_hash(self._s[1]))
            elif token == "psk":
                assert self._psk is not None
                symmetric.mix_key_and_hash(self._psk)
            else:
                symmetric.mix_key(self._dh_token(token))
        out.append(symmetric.encrypt_and_hash(payload))
        self._step += 1
        return b"".join(out)

    def read_message(self, message: bytes) -> bytes:
        """The payload. NoiseError when the message is short, does not verify
        or carries a small-order key; the state is then as before the call."""
        if not self.my_turn and not self.complete:
            saved = self._symmetric.snapshot(), self.re, self.rs
            try:
                payload = self._read_tokens(bytes(message))
            except NoiseError:
                self._symmetric.restore(saved[0])
                self.re, self.rs = saved[1], saved[2]
                raise
            self._step += 1
            return payload
        raise NoiseError("not this side's turn to read")

    def _read_tokens(self, message: bytes) -> bytes:
        if len(message) > MAX_MESSAGE:
            raise NoiseError("a Noise message is at most 65535 bytes")
        symmetric = self._symmetric
        at = 0
        for token in self._messages[self._step]:
            if token == "e":
                self.re = _take(message, at, DHLEN)
                at += DHLEN
                symmetric.mix_hash(self.re)
                if self._psk_mode:
                    symmetric.mix_key(self.re)
            elif token == "s":
                size = DHLEN + (TAGLEN if symmetric.cipher.has_key() else 0)
                self.rs = symmetric.decrypt_and_hash(_take(message, at, size))
                at += size
            elif token == "psk":
                assert self._psk is not None
                symmetric.mix_key_and_hash(self._psk)
            else:
                symmetric.mix_key(self._dh_token(token))
        return symmetric.decrypt_and_hash(message[at:])

    def _dh_token(self, token: str) -> bytes:
        """ee, es, se, ss: the first letter names the initiator's key, the
        second the responder's (§7.1); each side uses its own private half."""
        initiator_key, responder_key = token[0], token[1]
        mine, theirs = ((initiator_key, responder_key) if self.initiator
                        else (responder_key, initiator_key))
        private = (self._e if mine == "e" else self._s)
        public = self.re if theirs == "e" else self.rs
        if private is None or public is None:
            raise NoiseError("token %s before its keys" % token)
        try:
            return self._dh.dh(private[0], public)
        except ValueError as error:
            raise NoiseError("the peer's key is not usable: %s" % error) from None

    def split(self) -> Tuple[CipherState, CipherState]:
        """This side's (send, receive) transport CipherStates (§5.2 Split)."""
        if not self.complete:
            raise NoiseError("the handshake is not complete")
        to_responder, to_initiator = self._symmetric.split()
        return (to_responder, to_initiator) if self.initiator else (to_initiator, to_responder)


def _pattern_of(protocol_name: str) -> str:
    """'Noise_XXpsk3_25519_ChaChaPoly_SHA256' -> 'XXpsk3' (the suites we have)."""
    if protocol_name.startswith("Noise_") and protocol_name.endswith(SUFFIX):
        pattern = protocol_name[len("Noise_"):-len(SUFFIX)]
        if pattern in PATTERNS:
            return pattern
    raise ValueError("unsupported Noise protocol: %s" % protocol_name)


def _take(message: bytes, at: int, size: int) -> bytes:
    if len(message) < at + size:
        raise NoiseError("a Noise message is too short")
    return message[at:at + size]

