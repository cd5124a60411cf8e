"""The worked example of a secure session (protocol version 2) in docs/PROTOCOL.md.

    python3 bench/protocol_examples.py            # print it (Markdown)
    python3 bench/protocol_examples.py --update   # ... and put it into docs/PROTOCOL.md

With fixed keys (static and ephemeral X25519 key pairs, given below), a fixed
cookie secret and clock, fixed indices, nonce and run id, the REAL client and
server code (SecureClient + ClientCore, SecureServer + Hub, Noise and
libcrypto as the app uses them) make a whole no-password handshake and the
first RECORD each way. Only the randomness is replaced: the ephemeral keys
(noise.HandshakeState's `e`), the suite's random bytes, the cores' rng.

Every value the document states is also recomputed here independently of
the code that made the datagram (the cookie's HMAC, the token, the transport
keys from Noise's Split, the RECORD's AEAD with its nonce and associated
data): the script stops with an AssertionError if the code and the
document's description ever part. tests/test_protocol_examples.py checks
that docs/PROTOCOL.md holds this script's output exactly.
"""
import hashlib
import os
import random
import struct
import sys
from typing import List, Sequence, Tuple

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.core import noise, words  # noqa: E402
from app.core import protocol as P  # noqa: E402
from app.core import secure_wire as W  # noqa: E402
from app.core.client_core import ClientCore  # noqa: E402
from app.core.hub import Hub, HubConfig  # noqa: E402
from app.core.secure_client import SecureClient  # noqa: E402
from app.core.secure_server import COOKIE_BUCKET, SecureServer  # noqa: E402
from app.core.secure_session import PROLOGUE, TOKEN_LABEL  # noqa: E402
from app.net import libcrypto, primitives  # noqa: E402

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                   "PROTOCOL.md")
BEGIN = "<!-- begin: output of bench/protocol_examples.py -->\n"
END = "<!-- end: output of bench/protocol_examples.py -->\n"

CLIENT_STATIC = bytes(range(0x00, 0x20))
CLIENT_EPHEMERAL = bytes(range(0x20, 0x40))
SERVER_STATIC = bytes(range(0x40, 0x60))
SERVER_EPHEMERAL = bytes(range(0x60, 0x80))
COOKIE_SECRET = bytes(range(0xa0, 0xc0))
CLOCK = 1700000000.0                       # the server's clock (seconds) throughout
CLIENT_ADDR = ("192.0.2.10", 40000)
CLIENT_INDEX = bytes.fromhex("11223344")
SERVER_INDEX = bytes.fromhex("55667788")
INIT_NONCE = bytes.fromhex("0102030405060708")
RUN_ID = bytes(range(0xf0, 0x100))
NAME = "张三"
CORE_SEED, HUB_SEED = 16, 2                # the ClientCore's and the Hub's rng


class FixedSuite(primitives.LibcryptoSuite):
    """The app's suite, with the ephemeral key and the random bytes given."""

    def __init__(self, ephemeral: bytes, randoms: Sequence[bytes]) -> None:
        super().__init__(None)
        self.ephemeral = (ephemeral, primitives.public_of(ephemeral))
        self.randoms = list(randoms)
        self.made: List[primitives.NoiseHandshake] = []

    def handshake(self, initiator: bool, pake: bool,
                  static: Tuple[bytes, bytes]) -> primitives.NoiseHandshake:
        made = super().handshake(initiator, pake, static)
        made.state._e = self.ephemeral         # what HandshakeState(e=...) does
        self.made.append(made)
        return made

    def random(self, size: int) -> bytes:
        value = self.randoms.pop(0)
        assert len(value) == size, (size, value)
        return value


# ------------------------------------------------------------------ output

def hexdump(data: bytes) -> List[str]:
    lines = []
    for at in range(0, len(data), 16):
        chunk = data[at:at + 16]
        text = "".join(chr(b) if 0x20 <= b < 0x7f else "." for b in chunk)
        lines.append("    %04x  %-47s  %s" % (at, " ".join("%02x" % b for b in chunk), text))
    return lines


def short(raw: bytes) -> str:
    if len(raw) <= 4:
        return " ".join("%02x" % b for b in raw)
    return "%02x %02x … %02x" % (raw[0], raw[1], raw[-1])


def fields(data: bytes, layout: Sequence[Tuple[int, str]]) -> List[str]:
    """Annotation lines: `layout` is (size, meaning) in order; size -1 = the rest."""
    lines, at = [], 0
    for size, meaning in layout:
        size = len(data) - at if size < 0 else size
        raw = data[at:at + size]
        span = "%02x" % at if size == 1 else "%02x-%02x" % (at, at + size - 1)
        lines.append("    %-5s %-14s %s" % (span, short(raw), meaning))
        at += size
    assert at == len(data), (at, len(data))
    return lines


def block(title: str, data: bytes, layout: Sequence[Tuple[int, str]]) -> List[str]:
    return ["**%s** (%d bytes)" % (title, len(data)), ""] + hexdump(data) + [""] \
        + fields(data, layout) + [""]


def values(pairs: Sequence[Tuple[str, bytes]]) -> List[str]:
    width = max(len(name) for name, _ in pairs)
    return ["    %-*s %s" % (width, name, value.hex()) for name, value in pairs] + [""]


# ------------------------------------------------------------------ the run

def run() -> List[str]:
    c_static = (CLIENT_STATIC, primitives.public_of(CLIENT_STATIC))
    s_static = (SERVER_STATIC, primitives.public_of(SERVER_STATIC))
    c_eph_pub = primitives.public_of(CLIENT_EPHEMERAL)
    s_eph_pub = primitives.public_of(SERVER_EPHEMERAL)

    # The client, as app/net/client_net.py makes it (run id first, then the token).
    c_suite = FixedSuite(CLIENT_EPHEMERAL, [RUN_ID, CLIENT_INDEX, INIT_NONCE])
    run_id = c_suite.random(16)
    token = hashlib.sha256(TOKEN_LABEL + c_static[1] + run_id).digest()[:16]
    core = ClientCore(NAME, 0.0, rng=random.Random(CORE_SEED), token=token)
    client = SecureClient(core, c_suite, c_static, run_id, lambda key: None, False, 0.0)

    # The server, as app/net/server.py makes it, with a Hub behind it.
    s_suite = FixedSuite(SERVER_EPHEMERAL, [SERVER_INDEX])
    hub = Hub(CLOCK, os.urandom(32), HubConfig(addresses_verified=True),
              rng=random.Random(HUB_SEED))
    server = SecureServer(hub, s_suite, s_static, COOKIE_SECRET, False, CLOCK)

    def to_server(data: bytes) -> List[bytes]:
        server.on_datagram(CLOCK, data, CLIENT_ADDR)
        server.flush(CLOCK)
        return [d for d, addr in server.take_output() if addr == CLIENT_ADDR]

    client.tick(0.0)                    # the core says HELLO: no keys yet, so a handshake
    (init1,) = client.take_output()
    c_hs = c_suite.made[0]
    h1 = c_hs.handshake_hash
    (challenge,) = to_server(init1)
    client.on_datagram(0.0, challenge)
    (init2,) = client.take_output()
    (response,) = to_server(init2)
    s_hs = s_suite.made[0]
    h2 = s_hs.handshake_hash
    client.on_datagram(0.0, response)
    (finish,) = client.take_output()
    assert to_server(finish) == []
    h3 = s_hs.handshake_hash
    assert h3 == c_hs.handshake_hash
    ck = s_hs.state._symmetric.ck
    k_c2s, k_s2c = noise.hkdf(ck, b"", 2)

    client.tick(core.next_deadline())   # the core's next HELLO: now sealed in a RECORD
    (record_hello,) = client.take_output()
    replies = to_server(record_hello)
    record_welcome = replies[0]
    client.on_datagram(0.0, record_welcome)
    assert core.state == "joined", core.state

    # --- what the document says, recomputed without the code that made the bytes
    bucket = int(CLOCK // COOKIE_BUCKET)
    cookie = hashlib.blake2s(("%s %d " % CLIENT_ADDR).encode() + INIT_NONCE
                             + bucket.to_bytes(8, "big"), key=COOKIE_SECRET,
                             digest_size=16).digest()
    assert challenge == b"CZ\x02\x22" + bytes(4) + INIT_NONCE + cookie
    assert init1 == b"CZ\x02\x21" + bytes(4) + INIT_NONCE + bytes(16) + CLIENT_INDEX + c_eph_pub
    assert init2 == init1[:16] + cookie + init1[32:]
    assert response[:8] == b"CZ\x02\x23" + CLIENT_INDEX
    assert response[8:20] == INIT_NONCE + SERVER_INDEX and response[20:52] == s_eph_pub
    assert finish[:8] == b"CZ\x02\x24" + SERVER_INDEX and len(finish) == 8 + 48 + 16 + 16
    dh_ee = libcrypto.x25519(CLIENT_EPHEMERAL, s_eph_pub)
    dh_es = libcrypto.x25519(CLIENT_EPHEMERAL, s_static[1])
    dh_se = libcrypto.x25519(CLIENT_STATIC, s_eph_pub)
    h0 = hashlib.sha256(primitives.NOISE_XX.encode().ljust(32, b"\0") + PROLOGUE).digest()
    # MixHash(e), then EncryptAndHash(empty payload) = MixHash(b"") (no key yet)
    assert h1 == hashlib.sha256(hashlib.sha256(h0 + c_eph_pub).digest()).digest()

    def opened(record: bytes, key: bytes) -> bytes:
        header, sealed = record[:16], record[16:]
        counter = struct.unpack("!Q", header[8:16])[0]
        nonce = bytes(4) + struct.pack("<Q", counter)
        inner = libcrypto.Aead(key).open(nonce, sealed, header)
        assert inner is not None
        assert libcrypto.Aead(key).seal(nonce, inner, header) == sealed
        return inner

    hello = opened(record_hello, k_c2s)
    welcome = opened(record_welcome, k_s2c)
    assert record_hello[:16] == b"CZ\x02\x25" + SERVER_INDEX + bytes(8)
    assert record_welcome[:16] == b"CZ\x02\x25" + CLIENT_INDEX + bytes(8)
    instance = hashlib.sha256(token).digest()[:8]
    assert hello[22 + 24:22 + 32] == instance and hello[22 + 32:22 + 48] == token
    assert hello[3] == P.HELLO and welcome[3] == P.WELCOME

    # --- the document's text
    out = ["Fixed inputs. X25519 private keys (the public key is X25519(private, 9);",
           "X25519 clamps the private key itself):", ""]
    out += values([("client static private", CLIENT_STATIC),
                   ("client static public", c_static[1]),
                   ("client ephemeral private", CLIENT_EPHEMERAL),
                   ("client ephemeral public", c_eph_pub),
                   ("server static private", SERVER_STATIC),
                   ("server static public", s_static[1]),
                   ("server ephemeral private", SERVER_EPHEMERAL),
                   ("server ephemeral public", s_eph_pub)])
    fingerprint = words.fingerprint_words(hashlib.sha256(s_static[1]).digest(), 4)
    out += ["The server's fingerprint (S.11) is `%s`. The client is at" % fingerprint,
            "%s port %d; its index is 0x%s, its INIT nonce %s,"
            % (CLIENT_ADDR[0], CLIENT_ADDR[1], CLIENT_INDEX.hex(), INIT_NONCE.hex()),
            "its run id %s, its name `%s`. The server's" % (RUN_ID.hex(), NAME),
            "cookie secret is the 32 bytes %s %s … %s, its clock %.1f (cookie bucket"
            % (COOKIE_SECRET[:1].hex(), COOKIE_SECRET[1:2].hex(), COOKIE_SECRET[-1:].hex(),
               CLOCK),
            "%d), its index 0x%s. No room password, so the pattern is" % (bucket,
                                                                          SERVER_INDEX.hex()),
            "Noise_XX_25519_ChaChaPoly_SHA256.", ""]
    out += ["Noise's initial h is the protocol name itself (it is exactly 32 bytes);",
            "then h = SHA-256(h || prologue):", ""]
    out += values([("h after the prologue", h0)])

    out += block("1. INIT, no cookie yet", init1, [
        (2, 'magic "CZ"'), (1, "version 2"), (1, "type 0x21 INIT"),
        (4, "flags 0 (no FLAG_PAKE)"), (8, "nonce"), (16, "cookie: none yet (zeros)"),
        (4, "sender index: the client's"),
        (32, "Noise message 1: e (client ephemeral public), no payload")])
    out += values([("h after message 1", h1)])

    out += block("2. CHALLENGE", challenge, [
        (4, "magic, version 2, type 0x22 CHALLENGE"), (4, "index 0"),
        (8, "the INIT's nonce"),
        (16, "cookie (opaque to the client)")])
    out += ["Our server's cookie: BLAKE2s-128 keyed with the secret (RFC 7693, as",
            "WireGuard's cookie MAC) of the ASCII text `%s` || nonce || bucket" % (
                "%s %d " % CLIENT_ADDR),
            "as 8 bytes big-endian, %016x." % bucket, ""]

    out += block("3. INIT with the cookie", init2, [
        (8, "magic, version 2, type INIT, flags 0"), (8, "the same nonce"),
        (16, "the cookie"), (4, "sender index"),
        (32, "the same Noise message 1 (a resent INIT is byte for byte the same)")])

    out += block("4. RESPONSE", response, [
        (4, "magic, version 2, type 0x23 RESPONSE"),
        (4, "receiver index: the client's (from the INIT)"),
        (8, "the INIT's nonce"), (4, "sender index: the server's"),
        (32, "Noise message 2: e (server ephemeral public)"),
        (48, "s: server static public, encrypted (32 + 16-byte tag)"),
        (16, "payload: empty, encrypted (the tag alone)")])
    out += ["DH results (X25519; each side computes its own half):", ""]
    out += values([("ee = DH(client e, server e)", dh_ee),
                   ("es = DH(client e, server s)", dh_es),
                   ("se = DH(client s, server e)", dh_se)])
    out += values([("h after message 2", h2)])

    out += block("5. FINISH", finish, [
        (4, "magic, version 2, type 0x24 FINISH"),
        (4, "receiver index: the server's (from the RESPONSE)"),
        (48, "Noise message 3: s (client static public, encrypted)"),
        (32, "payload: the run id (16 bytes), encrypted (16 + 16-byte tag)")])
    out += ["After message 3 the handshake is complete. Split(): (k1, k2) =",
            "HKDF(ck, empty, 2); k1 seals client → server, k2 server → client.", ""]
    out += values([("handshake hash h", h3), ("final ck", ck),
                   ("k1 (client -> server)", k_c2s), ("k2 (server -> client)", k_s2c)])
    out += ["The server's view of the client: token = SHA-256(\"%s\" ||"
            % TOKEN_LABEL.decode(),
            "client static public || run id)[:16], instance = SHA-256(token)[:8]:", ""]
    out += values([("token", token), ("instance", instance)])

    n_hello = len(record_hello) - 32
    out += block("6. RECORD: the client's HELLO", record_hello, [
        (4, "magic, version 2, type 0x25 RECORD"),
        (4, "receiver index: the server's"), (8, "counter 0 (64-bit big-endian)"),
        (n_hello, "ciphertext of the %d-byte HELLO below, under k1" % n_hello),
        (16, "Poly1305 tag")])
    out += ["AEAD: ChaCha20-Poly1305, key k1, nonce = 4 zero bytes and the counter as a",
            "64-bit little-endian number = `000000000000000000000000`, associated data =",
            "bytes 00-0f (the 16-byte record header). The plaintext, a version-1 HELLO",
            "(section 3.1) whose token and instance are the ones derived above:", ""]
    out += hexdump(hello) + [""] + fields(hello, [
        (4, "magic, version 1, type HELLO"),
        (2, "flags " + flag_names(hello)),
        (16, "session, pkt, ack, sack: 0"), (8, "nonce (any; ours is random)"),
        (16, "cookie: zeros (not checked in a secure room)"),
        (8, "instance = SHA-256(token)[:8]"), (16, "token (derived, above)"),
        (4, "epoch 0"), (4, "room_seq 0"), (1, "name length"),
        (-1, "name \"%s\" in UTF-8" % NAME)]) + [""]

    n_welcome = len(record_welcome) - 32
    out += block("7. RECORD: the server's WELCOME", record_welcome, [
        (4, "magic, version 2, type RECORD"),
        (4, "receiver index: the client's"), (8, "counter 0: the server's first RECORD"),
        (n_welcome, "ciphertext of the %d-byte WELCOME below, under k2" % n_welcome),
        (16, "Poly1305 tag")])
    out += ["AEAD: key k2, nonce `000000000000000000000000` (counter 0; each direction",
            "counts from 0 under its own key), associated data = bytes 00-0f. The",
            "plaintext, a version-1 WELCOME (section 3.3) with " + flag_names(welcome),
            "(the HELLO asked for the room stream; base 0):", ""]
    out += hexdump(welcome) + [""] + fields(welcome, [
        (4, "magic, version 1, type WELCOME"),
        (2, "flags " + flag_names(welcome)), (4, "session id"),
        (4, "pkt: the room stream's base, 0"), (8, "ack, sack: 0"),
        (4, "epoch"), (4, "room_seq 0"), (8, "server_time %.1f (binary64)" % CLOCK),
        (1, "resumed 0"), (2, "online 1"), (1, "name length"),
        (len(NAME.encode()), "name"), (2, "motd length 0")]) + [""]
    return out


def flag_names(datagram: bytes) -> str:
    """The version-1 header's flags (bytes 4-5), named: read from the datagram, so
    the explanation cannot fall behind what the code sends."""
    value = struct.unpack_from("!H", datagram, 4)[0]
    names = ["FLAG_" + flag.name for flag in P.HeaderFlag if flag & value]
    return " | ".join(names) if names else "0"


def main(argv: Sequence[str]) -> int:
    text = "\n".join(run()) + "\n"
    if "--update" in argv:
        with open(DOC, encoding="utf-8") as handle:
            doc = handle.read()
        head, found, rest = doc.partition(BEGIN)
        _, found_end, tail = rest.partition(END)
        if not found or not found_end:
            print("protocol_examples: no markers in %s" % DOC, file=sys.stderr)
            return 1
        with open(DOC, "w", encoding="utf-8") as handle:
            handle.write(head + BEGIN + text + END + tail)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
