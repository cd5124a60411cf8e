"""The secure sessions' primitives against their published test vectors:
ChaCha20-Poly1305 (RFC 8439 §2.8.2), X25519 (RFC 7748 §5.2, §6.1), HKDF
(RFC 5869 A.1-A.3) and the Noise handshakes XX and XXpsk3 (cacophony's
vector file). Plus: two real handshakes with the real primitives, a wrong psk,
tampered bytes, and no OpenSSL object leaked.

Runs under pytest, and also as a plain script (`python3 tests/test_crypto_vectors.py`)
on a Python without pytest: each test is a plain function of no arguments.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core import noise  # noqa: E402
from app.net import libcrypto  # noqa: E402

H = bytes.fromhex


def raises(error, function, *args):
    try:
        function(*args)
    except error:
        return True
    return False


# ---- ChaCha20-Poly1305, RFC 8439 §2.8.2 ---------------------------------

RFC8439_KEY = bytes(range(0x80, 0xa0))
RFC8439_NONCE = H("070000004041424344454647")
RFC8439_AD = H("50515253c0c1c2c3c4c5c6c7")
RFC8439_PLAINTEXT = (b"Ladies and Gentlemen of the class of '99: If I could offer you only"
                     b" one tip for the future, sunscreen would be it.")
RFC8439_CIPHERTEXT = H(
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116")
RFC8439_TAG = H("1ae10b594f09e26a7e902ecbd0600691")


def test_libcrypto_is_available_here():
    assert libcrypto.available(), libcrypto.why_unavailable()
    assert libcrypto.why_unavailable() is None


def test_aead_rfc8439_seal_and_open():
    aead = libcrypto.Aead(RFC8439_KEY)
    sealed = aead.seal(RFC8439_NONCE, RFC8439_PLAINTEXT, RFC8439_AD)
    assert sealed == RFC8439_CIPHERTEXT + RFC8439_TAG
    assert aead.open(RFC8439_NONCE, sealed, RFC8439_AD) == RFC8439_PLAINTEXT
    # Same object, again and interleaved: the reused contexts carry nothing over.
    assert aead.seal(RFC8439_NONCE, RFC8439_PLAINTEXT, RFC8439_AD) == sealed
    assert aead.open(RFC8439_NONCE, sealed, RFC8439_AD) == RFC8439_PLAINTEXT


def test_aead_rejects_every_tampering_with_none():
    aead = libcrypto.Aead(RFC8439_KEY)
    sealed = RFC8439_CIPHERTEXT + RFC8439_TAG
    for flip in (0, len(RFC8439_CIPHERTEXT) - 1, len(sealed) - 1):  # text, last byte, tag
        bad = bytearray(sealed)
        bad[flip] ^= 1
        assert aead.open(RFC8439_NONCE, bytes(bad), RFC8439_AD) is None
    assert aead.open(RFC8439_NONCE, sealed, RFC8439_AD[:-1]) is None          # other AD
    assert aead.open(H("08") + RFC8439_NONCE[1:], sealed, RFC8439_AD) is None  # other nonce
    assert libcrypto.Aead(bytes(32)).open(RFC8439_NONCE, sealed, RFC8439_AD) is None
    # Malformed input: None, never an exception.
    assert aead.open(RFC8439_NONCE, sealed[:15], RFC8439_AD) is None
    assert aead.open(RFC8439_NONCE, b"", b"") is None
    assert aead.open(RFC8439_NONCE[:11], sealed, RFC8439_AD) is None
    assert aead.open("not bytes", sealed, RFC8439_AD) is None  # type: ignore[arg-type]
    # ...and the object still works after all that.
    assert aead.open(RFC8439_NONCE, sealed, RFC8439_AD) == RFC8439_PLAINTEXT


def test_aead_edges_empty_large_and_bytes_likes():
    aead = libcrypto.Aead(RFC8439_KEY)
    empty = aead.seal(RFC8439_NONCE, b"", b"")
    assert len(empty) == 16 and aead.open(RFC8439_NONCE, empty, b"") == b""
    big = bytes(range(256)) * 300                      # past the kept buffer: it grows
    sealed = aead.seal(RFC8439_NONCE, big, b"x")
    assert aead.open(RFC8439_NONCE, sealed, b"x") == big
    assert aead.open(RFC8439_NONCE, memoryview(sealed), bytearray(b"x")) == big
    assert aead.seal(RFC8439_NONCE, bytearray(RFC8439_PLAINTEXT), memoryview(RFC8439_AD)) \
        == RFC8439_CIPHERTEXT + RFC8439_TAG
    assert raises(ValueError, libcrypto.Aead, bytes(31))
    assert raises(ValueError, aead.seal, bytes(8), b"", b"")
    aead.close()
    assert raises(RuntimeError, aead.seal, RFC8439_NONCE, b"", b"")


# ---- X25519, RFC 7748 ---------------------------------------------------

RFC7748_5_2 = [  # scalar, u-coordinate, output (the second u has its top bit set)
    ("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
    ("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
     "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
     "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
]
RFC7748_ITERATED = {1: "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079",
                    1000: "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"}
ALICE_PRIVATE = H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
ALICE_PUBLIC = H("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
BOB_PRIVATE = H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
BOB_PUBLIC = H("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
SHARED = H("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


def test_x25519_rfc7748_section_5_2():
    for scalar, u, out in RFC7748_5_2:
        assert libcrypto.x25519(H(scalar), H(u)) == H(out)


def test_x25519_rfc7748_iterated_1000():
    k = u = (9).to_bytes(32, "little")
    for i in range(1, 1001):
        k, u = libcrypto.x25519(k, u), k
        if i in RFC7748_ITERATED:
            assert k.hex() == RFC7748_ITERATED[i], i


def test_x25519_rfc7748_section_6_1():
    assert libcrypto.x25519_public(ALICE_PRIVATE) == ALICE_PUBLIC
    assert libcrypto.x25519_public(BOB_PRIVATE) == BOB_PUBLIC
    assert libcrypto.x25519(ALICE_PRIVATE, BOB_PUBLIC) == SHARED
    assert libcrypto.x25519(BOB_PRIVATE, ALICE_PUBLIC) == SHARED


def test_x25519_refuses_small_order_points_and_bad_lengths():
    # u = 0 and u = 1 are of small order: the shared secret is all zeros (§6.1's check).
    for point in (bytes(32), (1).to_bytes(32, "little")):
        assert raises(ValueError, libcrypto.x25519, ALICE_PRIVATE, point)
    assert raises(ValueError, libcrypto.x25519, ALICE_PRIVATE, BOB_PUBLIC[:31])
    assert raises(ValueError, libcrypto.x25519, ALICE_PRIVATE[:31], BOB_PUBLIC)
    assert raises(ValueError, libcrypto.x25519_public, b"")


def test_x25519_after_forgetting_the_kept_keys():
    assert libcrypto.x25519(ALICE_PRIVATE, BOB_PUBLIC) == SHARED
    libcrypto.forget_keys()
    assert libcrypto.x25519(ALICE_PRIVATE, BOB_PUBLIC) == SHARED
    for _ in range(20):                          # past the bound: the oldest are freed
        libcrypto.x25519_keypair()
    assert libcrypto.x25519(BOB_PRIVATE, ALICE_PUBLIC) == SHARED


def test_without_libcrypto_one_line_says_why():
    # A Python built without OpenSSL has no _hashlib (pyenv's 3.6 here): the
    # loader says so in one line and the primitives refuse, naming the reason.
    import subprocess
    code = ("import sys; sys.modules['_hashlib'] = None\n"
            "from app.net import libcrypto\n"
            "print(libcrypto.available()); print(libcrypto.why_unavailable())\n"
            "try:\n    libcrypto.Aead(bytes(32))\n"
            "except RuntimeError as error:\n    print(error)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    lines = out.splitlines()
    assert lines[0] == "False" and len(lines) == 3, out
    assert lines[1].startswith("no usable OpenSSL libcrypto in this Python") and lines[2] == lines[1]


def test_x25519_keypairs_are_fresh_and_agree():
    (a, a_public), (b, b_public) = libcrypto.x25519_keypair(), libcrypto.x25519_keypair()
    assert a != b and len(a) == len(a_public) == 32
    assert libcrypto.x25519_public(a) == a_public
    assert libcrypto.x25519(a, b_public) == libcrypto.x25519(b, a_public)


# ---- HKDF, RFC 5869 appendix A.1-A.3 (SHA-256) --------------------------

RFC5869 = [  # ikm, salt, info, length, okm
    ("0b" * 22, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
    (bytes(range(0x00, 0x50)).hex(), bytes(range(0x60, 0xb0)).hex(),
     bytes(range(0xb0, 0x100)).hex(), 82,
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
     "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
     "cc30c58179ec3e87c14c01d5c1f3434f1d87"),
    ("0b" * 22, "", "", 42,
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
]


def test_hkdf_sha256_rfc5869():
    for ikm, salt, info, length, okm in RFC5869:
        assert noise.hkdf_sha256(H(salt), H(ikm), H(info), length) == H(okm)
    assert raises(ValueError, noise.hkdf_sha256, b"", b"", b"", 255 * 32 + 1)


def test_noise_hkdf_is_rfc5869_with_empty_info():
    ck, ikm = bytes(range(32)), b"input key material"
    two, three = noise.hkdf(ck, ikm, 2), noise.hkdf(ck, ikm, 3)
    assert b"".join(two) == noise.hkdf_sha256(ck, ikm, b"", 64)
    assert b"".join(three) == noise.hkdf_sha256(ck, ikm, b"", 96)


# ---- Noise: XX and XXpsk3 against cacophony's (and snow's) vectors ------

DH = libcrypto.X25519Dh()


def _keypair(private_hex):
    private = H(private_hex)
    return private, libcrypto.x25519_public(private)


def _vector_sides(vector):
    def side(prefix, initiator):
        psks = vector.get(prefix + "psks") or [None]
        return noise.HandshakeState(
            vector["protocol_name"], initiator, DH, libcrypto.Aead,
            s=_keypair(vector[prefix + "static"]), prologue=H(vector[prefix + "prologue"]),
            psk=None if psks[0] is None else H(psks[0]),
            e=_keypair(vector[prefix + "ephemeral"]))
    return side("init_", True), side("resp_", False)


def _load(name):
    with open(str(VECTORS / name), encoding="utf-8") as file:
        return json.load(file)["vectors"]


def _check_vector(vector):
    initiator, responder = _vector_sides(vector)
    messages = vector["messages"]
    handshake = 0
    while not initiator.complete:
        writer, reader = ((initiator, responder) if initiator.my_turn
                          else (responder, initiator))
        message = messages[handshake]
        sent = writer.write_message(H(message["payload"]))
        assert sent.hex() == message["ciphertext"], (vector["protocol_name"], handshake)
        assert reader.read_message(sent) == H(message["payload"])
        handshake += 1
    assert responder.complete and handshake == 3
    assert initiator.handshake_hash == responder.handshake_hash
    if "handshake_hash" in vector:
        assert initiator.handshake_hash.hex() == vector["handshake_hash"]
    assert initiator.remote_static == libcrypto.x25519_public(H(vector["resp_static"]))
    assert responder.remote_static == libcrypto.x25519_public(H(vector["init_static"]))
    # Transport: the vector files go on alternating, the responder first.
    i_send, i_receive = initiator.split()
    r_send, r_receive = responder.split()
    for index, message in enumerate(messages[handshake:], start=handshake):
        send, receive = (i_send, r_receive) if index % 2 == 0 else (r_send, i_receive)
        n = send.n
        sealed = send.encrypt_with_ad(b"", H(message["payload"]))
        assert sealed.hex() == message["ciphertext"], (vector["protocol_name"], index)
        # The explicit-nonce calls give the same bytes for the same counter.
        assert send.encrypt_with_nonce(n, b"", H(message["payload"])) == sealed
        assert receive.decrypt_with_nonce(n, b"", sealed) == H(message["payload"])
        assert receive.decrypt_with_ad(b"", sealed) == H(message["payload"])


def test_noise_vectors_cacophony_xx_and_xxpsk3():
    vectors = _load("noise_cacophony.json")
    assert sorted(v["protocol_name"] for v in vectors) == [
        "Noise_XX_25519_ChaChaPoly_SHA256", "Noise_XXpsk3_25519_ChaChaPoly_SHA256"]
    for vector in vectors:
        _check_vector(vector)


def test_noise_vector_snow_xx():
    for vector in _load("noise_snow.json"):
        _check_vector(vector)


# ---- Noise: real handshakes with the real primitives --------------------

XX = "Noise_XX_25519_ChaChaPoly_SHA256"
XXPSK3 = "Noise_XXpsk3_25519_ChaChaPoly_SHA256"
PSK = bytes(range(32))


def _pair(name, psk_i=None, psk_r=None, prologue_i=b"chat.pyz", prologue_r=b"chat.pyz"):
    s_i, s_r = libcrypto.x25519_keypair(), libcrypto.x25519_keypair()
    initiator = noise.HandshakeState(name, True, DH, libcrypto.Aead, s=s_i,
                                     prologue=prologue_i, psk=psk_i)
    responder = noise.HandshakeState(name, False, DH, libcrypto.Aead, s=s_r,
                                     prologue=prologue_r, psk=psk_r)
    return initiator, responder, s_i, s_r


def _handshake_messages(initiator, responder):
    """Run the handshake; the three messages sent."""
    sent = []
    while not (initiator.complete and responder.complete):
        writer, reader = ((initiator, responder) if initiator.my_turn
                          else (responder, initiator))
        message = writer.write_message(("payload %d 你好" % len(sent)).encode("utf-8"))
        assert reader.read_message(message) == ("payload %d 你好" % len(sent)).encode("utf-8")
        sent.append(message)
    return sent


def test_noise_real_handshakes_agree_and_carry_transport_both_ways():
    for name, psk in ((XX, None), (XXPSK3, PSK)):
        initiator, responder, s_i, s_r = _pair(name, psk, psk)
        _handshake_messages(initiator, responder)
        assert initiator.remote_static == s_r[1] and responder.remote_static == s_i[1]
        assert initiator.handshake_hash == responder.handshake_hash
        i_send, i_receive = initiator.split()
        r_send, r_receive = responder.split()
        # Datagram style: explicit counters, out of order, the header as AD.
        sealed = [(n, i_send.encrypt_with_nonce(n, b"hdr%d" % n, b"line %d" % n))
                  for n in range(5)]
        for n, datagram in reversed(sealed):
            assert r_receive.decrypt_with_nonce(n, b"hdr%d" % n, datagram) == b"line %d" % n
            assert r_receive.decrypt_with_nonce(n + 1, b"hdr%d" % n, datagram) is None
            assert r_receive.decrypt_with_nonce(n, b"hdr", datagram) is None
        back = r_send.encrypt_with_nonce(7, b"", b"reply")
        assert i_receive.decrypt_with_nonce(7, b"", back) == b"reply"
        assert r_receive.decrypt_with_nonce(7, b"", back) is None  # keys differ per direction
        assert i_receive.decrypt_with_nonce(-1, b"", back) is None
        assert i_receive.decrypt_with_nonce(2 ** 64 - 1, b"", back) is None
        # Rekey on both ends keeps them in step, and changes the key.
        i_send.rekey()
        r_receive.rekey()
        again = i_send.encrypt_with_nonce(0, b"", b"after rekey")
        assert again != sealed[0][1] and r_receive.decrypt_with_nonce(0, b"", again) \
            == b"after rekey"


def test_noise_wrong_psk_fails_at_message_3():
    initiator, responder, _, _ = _pair(XXPSK3, PSK, bytes(32))
    responder.read_message(initiator.write_message())
    initiator.read_message(responder.write_message())
    third = initiator.write_message()
    assert raises(noise.NoiseError, responder.read_message, third)
    assert not responder.complete


def test_noise_wrong_prologue_fails_at_message_2():
    initiator, responder, _, _ = _pair(XX, prologue_r=b"other")
    responder.read_message(initiator.write_message())
    assert raises(noise.NoiseError, initiator.read_message, responder.write_message())


def test_noise_tampered_bytes_fail_and_do_not_abort_the_handshake():
    for name, psk in ((XX, None), (XXPSK3, PSK)):
        # Messages 2 and 3: every byte is authenticated. A forged copy fails,
        # and the genuine one still completes the handshake afterwards.
        initiator, responder, _, _ = _pair(name, psk, psk)
        responder.read_message(initiator.write_message(b"one"))
        for writer, reader in ((responder, initiator), (initiator, responder)):
            message = writer.write_message(b"secret")
            for at in range(0, len(message), 7):
                forged = bytearray(message)
                forged[at] ^= 0x40
                assert raises(noise.NoiseError, reader.read_message, bytes(forged)), (name, at)
            assert raises(noise.NoiseError, reader.read_message, message[:40])
            assert raises(noise.NoiseError, reader.read_message, message + b"x")
            assert reader.read_message(message) == b"secret"
        assert initiator.complete and responder.complete
        assert initiator.handshake_hash == responder.handshake_hash
        # Message 1: in XX it is in clear, so a changed ephemeral key or
        # payload is caught when the initiator reads message 2; in XXpsk3 its
        # payload is already encrypted under a key mixed from e (§9.2).
        for at in (0, 31, 33):
            initiator, responder, _, _ = _pair(name, psk, psk)
            forged = bytearray(initiator.write_message(b"hello"))
            forged[at] ^= 0x40
            if psk is None:
                responder.read_message(bytes(forged))
                assert raises(noise.NoiseError, initiator.read_message,
                              responder.write_message())
            else:
                assert raises(noise.NoiseError, responder.read_message, bytes(forged))


def test_noise_refuses_small_order_keys_and_misuse():
    initiator, responder, _, _ = _pair(XX)
    first = bytearray(initiator.write_message())
    first[:32] = bytes(32)                       # u = 0: the DH gives all zeros
    responder.read_message(bytes(first))
    assert raises(noise.NoiseError, responder.write_message)
    initiator, responder, _, _ = _pair(XX)
    assert raises(noise.NoiseError, responder.write_message)      # not its turn
    assert raises(noise.NoiseError, initiator.read_message, b"")  # not its turn
    assert raises(noise.NoiseError, initiator.split)              # not complete
    # A payload too long for one Noise message is refused before any state moves.
    assert raises(noise.NoiseError, initiator.write_message, bytes(65535 - 32 - 16 + 1))
    _handshake_messages(initiator, responder)
    assert initiator.handshake_hash == responder.handshake_hash
    assert raises(ValueError, noise.HandshakeState, "Noise_NN_25519_ChaChaPoly_SHA256",
                  True, DH, libcrypto.Aead)
    assert raises(ValueError, noise.HandshakeState, XXPSK3, True, DH, libcrypto.Aead,
                  libcrypto.x25519_keypair())                     # no psk
    assert raises(ValueError, noise.HandshakeState, XX, True, DH, libcrypto.Aead)  # no s


# ---- No OpenSSL object leaks --------------------------------------------

def _rss_kib():
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4  # resident pages (4 KiB here)
    except OSError:
        return None


def _rss_growth_kib(operation, rounds):
    for _ in range(rounds // 4):          # warm up: allocator pools, ctypes caches
        operation()
    before = _rss_kib()
    for _ in range(rounds):
        operation()
    after = _rss_kib()
    return None if before is None or after is None else after - before


def _aead_lifecycle():
    aead = libcrypto.Aead(RFC8439_KEY)
    aead.open(RFC8439_NONCE, aead.seal(RFC8439_NONCE, RFC8439_PLAINTEXT, RFC8439_AD), RFC8439_AD)


def _x25519_exchange():
    private, public = libcrypto.x25519_keypair()
    libcrypto.x25519(private, BOB_PUBLIC)


def test_no_openssl_object_is_leaked():
    # A leaked cipher context costs ~1 KiB and a leaked key ~0.5 KiB: 20 000
    # rounds would grow the process by tens of MiB; allow 2 MiB of noise.
    for operation, rounds in ((_aead_lifecycle, 20000), (_x25519_exchange, 10000)):
        growth = _rss_growth_kib(operation, rounds)
        if growth is not None:
            assert growth < 2048, (operation.__name__, growth)


def _run_as_script():
    tests = [(name, f) for name, f in sorted(globals().items())
             if name.startswith("test_") and callable(f)]
    failed = 0
    for name, function in tests:
        try:
            function()
        except Exception as error:  # report every failure, then the count
            failed += 1
            print("FAIL", name, repr(error))
    print("%s: %d passed, %d failed" % (sys.version.split()[0], len(tests) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_run_as_script())
