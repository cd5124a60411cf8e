"""Protocol version 2 for the independent client, from docs/PROTOCOL.md section S
and the Noise Protocol Framework (revision 34) alone.

The primitives come from pyca/cryptography (X25519, ChaCha20-Poly1305) and
hashlib/hmac (SHA-256, HMAC, HKDF), not from the app's own suite: two
implementations that agree on the wire are the point. Nothing here imports
`app`. Only the no-password pattern, Noise_XX_25519_ChaChaPoly_SHA256, is
implemented (no SPAKE2); both roles are, so that tests can rebuild the worked
example of S.13 (the server's message 2 too) from its fixed keys.
"""
import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.interop_words import EVEN, ODD

# S.2, S.3, S.12
VERSION = 2
OUTER = struct.Struct("!2sBBI")           # magic version type index
INIT_FIXED = struct.Struct("!8s16sI")     # nonce cookie sender_index
CHALLENGE_BODY = struct.Struct("!8s16s")  # nonce cookie
RESPONSE_FIXED = struct.Struct("!8sI")    # nonce sender_index
RECORD_HEADER = struct.Struct("!2sBBIQ")  # outer header + 64-bit counter
INIT, CHALLENGE, RESPONSE, FINISH, RECORD, REJECT = range(0x21, 0x27)
TAG = 16
REPLAY_WIDTH = 1024
PROTOCOL_NAME = b"Noise_XX_25519_ChaChaPoly_SHA256"
PROLOGUE = b"chat.pyz secure session v2"
TOKEN_LABEL = b"chat.pyz session token v2"
RETRY_FIRST, RETRY_MAX = 0.25, 2.0
FINISH_GIVE_UP, SILENT_BEFORE_REKEY, REKEY_SPACING = 8.0, 3.0, 1.0
# S.10
REJECT_WRONG_PASSWORD, REJECT_NEEDS_PASSWORD, REJECT_NO_PASSWORD = 1, 2, 3
REJECT_UNKNOWN_SESSION, REJECT_HANDSHAKE_FAILED = 4, 5
# What our client reports for REJECT 1-3: a version-1 REFUSE 6 with these reasons.
PASSWORD_REJECTS = {REJECT_WRONG_PASSWORD: "wrong room password",
                    REJECT_NEEDS_PASSWORD: "this room needs a password",
                    REJECT_NO_PASSWORD: "this room has no password; join without one"}
REFUSE_WRONG_PASSWORD, REFUSE_SERVER_KEY = 6, 8


class HandshakeError(Exception):
    """A Noise message that does not verify or parse: the datagram is dropped."""


# ------------------------------------------------------------------ primitives
def public_of(private):
    """X25519(private, 9): the 32-byte public key (X25519 clamps the private key)."""
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def dh(private, public):
    """X25519; an all-zero result (a small-order peer point) is refused (S.4)."""
    try:
        shared = X25519PrivateKey.from_private_bytes(private).exchange(
            X25519PublicKey.from_public_bytes(public))
    except ValueError as err:       # OpenSSL itself refuses an all-zero result
        raise HandshakeError("X25519: %s" % err) from None
    if shared == bytes(32):
        raise HandshakeError("X25519: all-zero result")
    return shared


def aead_nonce(counter):
    """ChaChaPoly's nonce: 32 zero bits, then the counter, 64 bits little-endian."""
    return bytes(4) + struct.pack("<Q", counter)


def seal(key, counter, ad, plaintext):
    return ChaCha20Poly1305(key).encrypt(aead_nonce(counter), plaintext, ad)


def unseal(key, counter, ad, ciphertext):
    """Decrypt and authenticate, or raise HandshakeError."""
    try:
        return ChaCha20Poly1305(key).decrypt(aead_nonce(counter), ciphertext, ad)
    except InvalidTag:
        raise HandshakeError("AEAD tag does not verify") from None


def sha256(data):
    return hashlib.sha256(data).digest()


def hkdf(chaining_key, ikm, outputs):
    """Noise's HKDF (section 4.3 of the specification), HMAC-SHA256."""
    temp = hmac.new(chaining_key, ikm, hashlib.sha256).digest()
    out, previous = [], b""
    for i in range(1, outputs + 1):
        previous = hmac.new(temp, previous + bytes([i]), hashlib.sha256).digest()
        out.append(previous)
    return out


# ------------------------------------------------------------------ Noise XX
class SymmetricState:
    """CipherState and SymmetricState of the Noise specification, sections 5.1-5.2."""

    def __init__(self, protocol_name):
        if len(protocol_name) <= 32:
            self.h = protocol_name + bytes(32 - len(protocol_name))
        else:
            self.h = sha256(protocol_name)
        self.ck, self.k, self.n = self.h, None, 0

    def mix_hash(self, data):
        self.h = sha256(self.h + data)

    def mix_key(self, ikm):
        self.ck, self.k = hkdf(self.ck, ikm, 2)
        self.n = 0

    def encrypt_and_hash(self, plaintext):
        if self.k is None:
            out = plaintext
        else:
            out = seal(self.k, self.n, self.h, plaintext)
            self.n += 1
        self.mix_hash(out)
        return out

    def decrypt_and_hash(self, ciphertext):
        if self.k is None:
            out = ciphertext
        else:
            out = unseal(self.k, self.n, self.h, ciphertext)
            self.n += 1
        self.mix_hash(ciphertext)
        return out

    def split(self):
        """(k1, k2): k1 for the initiator's messages, k2 for the responder's."""
        return tuple(hkdf(self.ck, b"", 2))


XX = [("e",), ("e", "ee", "s", "es"), ("s", "se")]


class Handshake:
    """Noise_XX_25519_ChaChaPoly_SHA256, either role, no pre-messages.

    Every read works on a copy of the state, taken over only when the whole
    message verified: a forged message leaves the handshake as it was (S.4).
    """

    def __init__(self, initiator, static_private, ephemeral_private=None, prologue=PROLOGUE):
        self.initiator = initiator
        self.s = static_private
        self.e = ephemeral_private          # drawn at the first `e` when None
        self.re = self.rs = None
        self.sym = SymmetricState(PROTOCOL_NAME)
        self.sym.mix_hash(prologue)
        self.h_after_prologue = self.sym.h
        self.message = 0                    # index into XX of the next message

    def _copy(self):
        other = Handshake.__new__(Handshake)
        other.__dict__.update(self.__dict__)
        other.sym = SymmetricState.__new__(SymmetricState)
        other.sym.__dict__.update(self.sym.__dict__)
        return other

    def _dh_token(self, token):
        # es: the initiator's e with the responder's s; se: the other way round.
        mine, theirs = {"ee": ("e", "re"), "es": ("e", "rs"), "se": ("s", "re")}[token]
        if not self.initiator and token in ("es", "se"):
            mine, theirs = {"es": ("s", "re"), "se": ("e", "rs")}[token]
        return dh(getattr(self, mine), getattr(self, theirs))

    def write(self, payload=b""):
        out = b""
        for token in XX[self.message]:
            if token == "e":
                if self.e is None:
                    self.e = os.urandom(32)
                pub = public_of(self.e)
                out += pub
                self.sym.mix_hash(pub)
            elif token == "s":
                out += self.sym.encrypt_and_hash(public_of(self.s))
            else:
                self.sym.mix_key(self._dh_token(token))
        out += self.sym.encrypt_and_hash(payload)
        self.message += 1
        return out

    def read(self, message):
        """Read the next message; return its payload. Raises HandshakeError."""
        state, pos = self._copy(), 0
        for token in XX[state.message]:
            if token == "e":
                if len(message) < pos + 32:
                    raise HandshakeError("message too short for e")
                state.re = message[pos:pos + 32]
                state.sym.mix_hash(state.re)
                pos += 32
            elif token == "s":
                size = 32 + (TAG if state.sym.k is not None else 0)
                if len(message) < pos + size:
                    raise HandshakeError("message too short for s")
                state.rs = state.sym.decrypt_and_hash(message[pos:pos + size])
                pos += size
            else:
                state.sym.mix_key(state._dh_token(token))
        if state.sym.k is not None and len(message) < pos + TAG:
            raise HandshakeError("message too short for its payload tag")
        payload = state.sym.decrypt_and_hash(message[pos:])
        state.message += 1
        self.__dict__.update(state.__dict__)
        return payload

    @property
    def h(self):
        return self.sym.h

    def split(self):
        """(sending key, receiving key) for this side (S.4: k1 client -> server)."""
        k1, k2 = self.sym.split()
        return (k1, k2) if self.initiator else (k2, k1)


# ------------------------------------------------------------------ S.7, S.11
def client_token(static_public, run_id):
    """S.7: the HELLO's token, bound to the client's key and run."""
    return sha256(TOKEN_LABEL + static_public + run_id)[:16]


def fingerprint(static_public):
    """S.11: SHA-256's first 4 bytes as PGP words, even list for bytes 0 and 2."""
    digest = sha256(static_public)[:4]
    return "-".join((EVEN if i % 2 == 0 else ODD)[b] for i, b in enumerate(digest))


# ------------------------------------------------------------------ datagrams
def outer(dtype, index):
    return OUTER.pack(b"CZ", VERSION, dtype, index)


def encode_init(nonce, cookie, index, message1, flags=0):
    return outer(INIT, flags) + INIT_FIXED.pack(nonce, cookie, index) + message1


def encode_response(client_index, nonce, server_index, message2):
    return outer(RESPONSE, client_index) + RESPONSE_FIXED.pack(nonce, server_index) + message2


def encode_finish(server_index, message3):
    return outer(FINISH, server_index) + message3


class ReplayWindow:
    """S.6: the highest counter and the REPLAY_WIDTH below it (a bitmap)."""

    def __init__(self):
        self.highest, self.bits = -1, 0     # bit i: highest - i was seen

    def fresh(self, counter):
        if counter > self.highest:
            return True
        behind = self.highest - counter
        return behind <= REPLAY_WIDTH and not (self.bits >> behind) & 1

    def mark(self, counter):
        if counter > self.highest:
            shift = counter - self.highest
            self.bits = ((self.bits << shift) | 1) & ((1 << (REPLAY_WIDTH + 1)) - 1)
            self.highest = counter
        else:
            self.bits |= 1 << (self.highest - counter)


class Session:
    """One established secure session: our index, the server's, keys, counters."""

    def __init__(self, my_index, peer_index, send_key, recv_key):
        self.my_index, self.peer_index = my_index, peer_index
        self.send_key, self.recv_key = send_key, recv_key
        self.send_counter, self.window = 0, ReplayWindow()

    def seal(self, inner):
        header = RECORD_HEADER.pack(b"CZ", VERSION, RECORD, self.peer_index, self.send_counter)
        self.send_counter += 1
        return header + seal(self.send_key, self.send_counter - 1, header, inner)

    def open(self, data):
        """The inner datagram of one of our RECORDs, or None (dropped)."""
        if len(data) < RECORD_HEADER.size + TAG:
            return None
        counter = RECORD_HEADER.unpack_from(data)[4]
        if not self.window.fresh(counter):
            return None
        header = data[:RECORD_HEADER.size]
        try:
            inner = unseal(self.recv_key, counter, header, data[RECORD_HEADER.size:])
        except HandshakeError:
            return None
        self.window.mark(counter)       # only once it authenticated
        return inner


def random_index(avoid=()):
    while True:
        index = int.from_bytes(os.urandom(4), "big")
        if index and index not in avoid:
            return index


# ------------------------------------------------------------------ S.8 client
class SecureChannel:
    """The client procedure of S.8 around a connected UDP socket: handshakes,
    RECORDs both ways, REJECTs. The version-1 client hands it every datagram it
    sends (`send`) and every datagram it receives (`receive`), and calls `tick`
    for the resends; `receive` returns the version-1 datagram inside, or None.

    Trust: the first server key seen is accepted (S.11's first use; this client
    keeps no known_servers file), then held for the rest of the run; with
    `known_key` it must be that key. A key that is not trusted raises
    Refused(8, the one line of S.11)."""

    def __init__(self, sock, address, static_private=None, known_key=None, run_id=None):
        from tests.interop_client import Refused   # loaded: it imports us lazily
        self.Refused = Refused
        self.sock, self.address = sock, address
        self.static_private = static_private or os.urandom(32)
        self.static_public = public_of(self.static_private)
        self.run_id = run_id or os.urandom(16)          # S.8 step 1: once per run
        self.token = client_token(self.static_public, self.run_id)
        self.known_key = known_key
        self.server_key = None          # the server's static key, once a RESPONSE read
        self.hs = None                  # the handshake under way (a dict), or None
        self.sessions = []              # newest first; the previous one until confirmed
        self.confirmed = False          # the newest session had an authenticated RECORD
        self.connecting = True          # the version-1 layer is (re)connecting
        self.last_auth = None           # when a RECORD last authenticated
        self.last_start = None          # when the latest handshake started
        self.pending_hello = None       # a HELLO discarded for want of keys
        self.handshakes = 0             # started, for tests
        self.rejects = []               # (code, index) of every REJECT received
        self.malformed = 0

    # ------------------------------------------------------------ handshake
    def start(self, now):
        """S.8 step 3: a new ephemeral key, index and nonce; INIT with no cookie."""
        noise = Handshake(True, self.static_private)
        index = random_index({s.my_index for s in self.sessions})
        nonce = os.urandom(8)
        self.hs = {"noise": noise, "index": index, "nonce": nonce,
                   "message1": noise.write(b""), "cookie": bytes(16),
                   "finish": None, "response_at": None}
        self.last_start, self.handshakes = now, self.handshakes + 1
        self._send_init(now, first=True)

    def _send_init(self, now, first=False):
        hs = self.hs
        self._raw(encode_init(hs["nonce"], hs["cookie"], hs["index"], hs["message1"]))
        hs["interval"] = RETRY_FIRST if first else min(hs["interval"] * 2, RETRY_MAX)
        hs["due"] = now + hs["interval"]

    def tick(self, now):
        """Resends (S.8 steps 4 and 6) and the FINISH give-up."""
        hs = self.hs
        if hs is None or now < hs["due"]:
            return
        if hs["finish"] is None:
            self._send_init(now)
        elif now - hs["response_at"] >= FINISH_GIVE_UP:
            self.start(now)
        else:
            self._raw(hs["finish"])
            hs["interval"] = min(hs["interval"] * 2, RETRY_MAX)
            hs["due"] = now + hs["interval"]

    def next_due(self):
        return None if self.hs is None else self.hs["due"]

    def _on_challenge(self, data, now):
        hs = self.hs
        if len(data) != 32 or hs is None or hs["finish"] is not None:
            return
        nonce, cookie = CHALLENGE_BODY.unpack_from(data, OUTER.size)
        if nonce == hs["nonce"]:
            hs["cookie"] = cookie
            self._send_init(now, first=True)

    def _on_response(self, data, index, now):
        hs = self.hs
        if len(data) < OUTER.size + RESPONSE_FIXED.size + 32:
            self.malformed += 1
            return
        nonce, server_index = RESPONSE_FIXED.unpack_from(data, OUTER.size)
        if (hs is None or hs["finish"] is not None or nonce != hs["nonce"]
                or index != hs["index"] or server_index == 0):
            return
        noise = hs["noise"]
        try:
            payload = noise.read(data[OUTER.size + RESPONSE_FIXED.size:])
        except HandshakeError:
            self.malformed += 1
            return                      # keep waiting: the state is as before
        if payload:                     # no password: message 2's payload is empty
            self.malformed += 1         # (S.4); this handshake is spoilt: a new one
            self.start(now)
            return
        trusted = self.known_key or self.server_key
        if trusted is not None and noise.rs != trusted:
            self.hs = None
            raise self.Refused(REFUSE_SERVER_KEY, (
                "the server at %s has a different key (%s, was %s): if the teacher made "
                "a new one, join with --accept-new-key"
                % (self.address, fingerprint(noise.rs), fingerprint(trusted))))
        self.server_key = noise.rs
        hs["finish"] = encode_finish(server_index, noise.write(self.run_id))
        send_key, recv_key = noise.split()
        self.sessions = [Session(hs["index"], server_index, send_key, recv_key)] + \
            self.sessions[:1]
        self.confirmed = False
        hs["response_at"] = now
        self._raw(hs["finish"])
        hs["interval"], hs["due"] = RETRY_FIRST, now + RETRY_FIRST
        if self.pending_hello is not None:   # S.8 step 7: MAY go right behind the FINISH
            hello, self.pending_hello = self.pending_hello, None
            self.send(hello, now)

    def _on_reject(self, data, index, now):
        if len(data) != OUTER.size + 1:
            return
        code = data[OUTER.size]
        self.rejects.append((code, index))
        hs = self.hs
        ours = hs is not None and index == hs["index"]
        if code in PASSWORD_REJECTS and ours:
            self.hs = None
            raise self.Refused(REFUSE_WRONG_PASSWORD, PASSWORD_REJECTS[code])
        if code == REJECT_HANDSHAKE_FAILED and ours:
            self.start(now)
        elif (code == REJECT_UNKNOWN_SESSION and hs is None and self.sessions
              and index == self.sessions[0].peer_index
              and now - (self.last_start or -1e9) >= REKEY_SPACING
              and now - (self.last_auth or -1e9) >= REKEY_SPACING):
            self.start(now)
        # anything else: ignored (S.10)

    # ------------------------------------------------------------ records
    def send(self, inner, now):
        """Seal a version-1 datagram under the newest keys (S.8 step 7)."""
        if inner[2:4] == b"\x01\x01":    # a HELLO: maybe a handshake first (step 2)
            if self.hs is None and (not self.sessions or self.last_auth is None
                                    or now - self.last_auth >= SILENT_BEFORE_REKEY):
                self.start(now)
            if not self.sessions or (self.hs is not None and self.hs["finish"] is None):
                self.pending_hello = inner
        if self.sessions:
            self._raw(self.sessions[0].seal(inner))

    def receive(self, data, now):
        """One datagram from the socket -> the version-1 datagram inside, or None."""
        if len(data) > 1200 or data[:2] != b"CZ":
            return None
        if data[2] != VERSION:
            # A version-1 REFUSE (S.8 step 8), only while (re)connecting.
            if data[3] == 4 and len(data) > 22 and self.connecting:
                return data
            return None
        if len(data) < OUTER.size:
            return None
        _, _, dtype, index = OUTER.unpack_from(data)
        if dtype == RECORD:
            return self._on_record(data, index, now)
        if dtype == CHALLENGE:
            self._on_challenge(data, now)
        elif dtype == RESPONSE:
            self._on_response(data, index, now)
        elif dtype == REJECT:
            self._on_reject(data, index, now)
        else:
            self.malformed += 1         # INIT, FINISH, unknown: a client drops them
        return None

    def _on_record(self, data, index, now):
        for position, session in enumerate(self.sessions):
            if session.my_index != index:
                continue
            inner = session.open(data)
            if inner is None:
                self.malformed += 1
                return None
            self.last_auth = now
            if position == 0 and not self.confirmed:
                # The server's first RECORD confirms the newest session (step 6).
                self.confirmed, self.sessions = True, self.sessions[:1]
                if self.hs is not None and self.hs["finish"] is not None:
                    self.hs = None
            return inner
        self.malformed += 1
        return None

    def _raw(self, datagram):
        try:
            self.sock.send(datagram)
        except ConnectionRefusedError:
            pass                        # an ICMP hint from an earlier send: like a loss
