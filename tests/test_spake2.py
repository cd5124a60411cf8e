"""SPAKE2 (app/net/spake2.py): RFC 9382's test vectors, and the properties the
room password relies on (docs/SECURITY.md, "Room password: SPAKE2").

The vectors are RFC 9382 Appendix B (SPAKE2-P256-SHA256-HKDF-HMAC), transcribed
by script from the RFC's XML source (github.com/kaduk/spake2,
draft-irtf-cfrg-spake2.xml, section "Test Vectors"); they are the same values
that other implementations test as "RFC 9382". w, x and y are given there, so
the test injects them (Spake2.with_scalars).
"""
import hashlib
import json
import pathlib
import struct
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from app.net import libcrypto
from tests import pythons

pytestmark = pytest.mark.skipif(libcrypto.load() is None, reason="no libcrypto here")
ROOT = pathlib.Path(__file__).resolve().parent.parent

from app.net import spake2  # noqa: E402
from app.net.spake2 import Spake2  # noqa: E402

RFC_9382_VECTORS = [
    {
        "A": b"server", "B": b"client",
        "w": "2ee57912099d31560b3a44b1184b9b4866e904c49d12ac5042c97dca461b1a5f",
        "x": "43dd0fd7215bdcb482879fca3220c6a968e66d70b1356cac18bb26c84a78d729",
        "pA": (
            "04a56fa807caaa53a4d28dbb9853b9815c61a411118a6fe516a8798434751470"
            "f9010153ac33d0d5f2047ffdb1a3e42c9b4e6be662766e1eeb4116988ede5f91"
            "2c"
        ),
        "y": "dcb60106f276b02606d8ef0a328c02e4b629f84f89786af5befb0bc75b6e66be",
        "pB": (
            "0406557e482bd03097ad0cbaa5df82115460d951e3451962f1eaf4367a420676"
            "d09857ccbc522686c83d1852abfa8ed6e4a1155cf8f1543ceca528afb591a1e0"
            "b7"
        ),
        "K": (
            "0412af7e89717850671913e6b469ace67bd90a4df8ce45c2af19010175e37eed"
            "69f75897996d539356e2fa6a406d528501f907e04d97515fbe83db277b715d33"
            "25"
        ),
        "TT": (
            "06000000000000007365727665720600000000000000636c69656e7441000000"
            "0000000004a56fa807caaa53a4d28dbb9853b9815c61a411118a6fe516a87984"
            "34751470f9010153ac33d0d5f2047ffdb1a3e42c9b4e6be662766e1eeb411698"
            "8ede5f912c41000000000000000406557e482bd03097ad0cbaa5df82115460d9"
            "51e3451962f1eaf4367a420676d09857ccbc522686c83d1852abfa8ed6e4a115"
            "5cf8f1543ceca528afb591a1e0b741000000000000000412af7e897178506719"
            "13e6b469ace67bd90a4df8ce45c2af19010175e37eed69f75897996d539356e2"
            "fa6a406d528501f907e04d97515fbe83db277b715d332520000000000000002e"
            "e57912099d31560b3a44b1184b9b4866e904c49d12ac5042c97dca461b1a5f"
        ),
        "hash_tt": "0e0672dc86f8e45565d338b0540abe6915bdf72e2b35b5c9e5663168e960a91b",
        "Ke": "0e0672dc86f8e45565d338b0540abe69",
        "Ka": "15bdf72e2b35b5c9e5663168e960a91b",
        "KcA": "00c12546835755c86d8c0db7851ae86f",
        "KcB": "a9fa3406c3b781b93d804485430ca27a",
        "cA": "58ad4aa88e0b60d5061eb6b5dd93e80d9c4f00d127c65b3b35b1b5281fee38f0",
        "cB": "d3e2e547f1ae04f2dbdbf0fc4b79f8ecff2dff314b5d32fe9fcef2fb26dc459b",
    },
    {
        "A": b"", "B": b"client",
        "w": "0548d8729f730589e579b0475a582c1608138ddf7054b73b5381c7e883e2efae",
        "x": "403abbe3b1b4b9ba17e3032849759d723939a27a27b9d921c500edde18ed654b",
        "pA": (
            "04a897b769e681c62ac1c2357319a3d363f610839c4477720d24cbe32f5fd85f"
            "44fb92ba966578c1b712be6962498834078262caa5b441ecfa9d4a9485720e91"
            "8a"
        ),
        "y": "903023b6598908936ea7c929bd761af6039577a9c3f9581064187c3049d87065",
        "pB": (
            "04e0f816fd1c35e22065d5556215c097e799390d16661c386e0ecc84593974a6"
            "1b881a8c82327687d0501862970c64565560cb5671f696048050ca66ca5f8cc7"
            "fc"
        ),
        "K": (
            "048f83ec9f6e4f87cc6f9dc740bdc2769725f923364f01c84148c049a39a735e"
            "bda82eac03e00112fd6a5710682767cff5361f7e819e53d8d3c3a2922e0d837a"
            "a6"
        ),
        "TT": (
            "00000000000000000600000000000000636c69656e74410000000000000004a8"
            "97b769e681c62ac1c2357319a3d363f610839c4477720d24cbe32f5fd85f44fb"
            "92ba966578c1b712be6962498834078262caa5b441ecfa9d4a9485720e918a41"
            "0000000000000004e0f816fd1c35e22065d5556215c097e799390d16661c386e"
            "0ecc84593974a61b881a8c82327687d0501862970c64565560cb5671f6960480"
            "50ca66ca5f8cc7fc4100000000000000048f83ec9f6e4f87cc6f9dc740bdc276"
            "9725f923364f01c84148c049a39a735ebda82eac03e00112fd6a5710682767cf"
            "f5361f7e819e53d8d3c3a2922e0d837aa620000000000000000548d8729f7305"
            "89e579b0475a582c1608138ddf7054b73b5381c7e883e2efae"
        ),
        "hash_tt": "642f05c473c2cd79909f9a841e2f30a70bf89b18180af97353ba198789c2b963",
        "Ke": "642f05c473c2cd79909f9a841e2f30a7",
        "Ka": "0bf89b18180af97353ba198789c2b963",
        "KcA": "c6be376fc7cd1301fd0a13adf3e7bffd",
        "KcB": "b7243f4ae60440a49b3f8cab3c1fba07",
        "cA": "47d29e6666af1b7dd450d571233085d7a9866e4d49d2645e2df975489521232b",
        "cB": "3313c5cefc361d27fb16847a91c2a73b766ffa90a4839122a9b70a2f6bd1d6df",
    },
    {
        "A": b"server", "B": b"",
        "w": "626e0cdc7b14c9db3e52a0b1b3a768c98e37852d5db30febe0497b14eae8c254",
        "x": "07adb3db6bc623d3399726bfdbfd3d15a58ea776ab8a308b00392621291f9633",
        "pA": (
            "04f88fb71c99bfffaea370966b7eb99cd4be0ff1a7d335caac4211c4afd855e2"
            "e15a873b298503ad8ba1d9cbb9a392d2ba309b48bfd7879aefd0f2cea6009763"
            "b0"
        ),
        "y": "b6a4fc8dbb629d4ba51d6f91ed1532cf87adec98f25dd153a75accafafedec16",
        "pB": (
            "040c269d6be017dccb15182ac6bfcd9e2a14de019dd587eaf4bdfd353f031101"
            "e7cca177f8eb362a6e83e7d5e729c0732e1b528879c086f39ba0f31a9661bd34"
            "db"
        ),
        "K": (
            "0445ee233b8ecb51ebd6e7da3f307e88a1616bae2166121221fdc0dadb986afa"
            "f3ec8a988dc9c626fa3b99f58a7ca7c9b844bb3e8dd9554aafc5b53813504c1c"
            "be"
        ),
        "TT": (
            "06000000000000007365727665720000000000000000410000000000000004f8"
            "8fb71c99bfffaea370966b7eb99cd4be0ff1a7d335caac4211c4afd855e2e15a"
            "873b298503ad8ba1d9cbb9a392d2ba309b48bfd7879aefd0f2cea6009763b041"
            "00000000000000040c269d6be017dccb15182ac6bfcd9e2a14de019dd587eaf4"
            "bdfd353f031101e7cca177f8eb362a6e83e7d5e729c0732e1b528879c086f39b"
            "a0f31a9661bd34db41000000000000000445ee233b8ecb51ebd6e7da3f307e88"
            "a1616bae2166121221fdc0dadb986afaf3ec8a988dc9c626fa3b99f58a7ca7c9"
            "b844bb3e8dd9554aafc5b53813504c1cbe2000000000000000626e0cdc7b14c9"
            "db3e52a0b1b3a768c98e37852d5db30febe0497b14eae8c254"
        ),
        "hash_tt": "005184ff460da2ce59062c87733c299c3521297d736598fc0a1127600efa1afb",
        "Ke": "005184ff460da2ce59062c87733c299c",
        "Ka": "3521297d736598fc0a1127600efa1afb",
        "KcA": "f3da53604f0aeecea5a33be7bddf6edf",
        "KcB": "9e3f86848736f159bd92b6e107ec6799",
        "cA": "bc9f9bbe99f26d0b2260e6456e05a86196a3307ec6663a18bf6ac825736533b2",
        "cB": "c2370e1bf813b086dff0d834e74425a06e6390f48f5411900276dcccc5a297ec",
    },
    {
        "A": b"", "B": b"",
        "w": "7bf46c454b4c1b25799527d896508afd5fc62ef4ec59db1efb49113063d70cca",
        "x": "8cef65df64bb2d0f83540c53632de911b5b24b3eab6cc74a97609fd659e95473",
        "pA": (
            "04a65b367a3f613cf9f0654b1b28a1e3a8a40387956c8ba6063e8658563890f4"
            "6ca1ef6a676598889fc28de2950ab8120b79a5ef1ea4c9f44bc98f585634b46d"
            "66"
        ),
        "y": "d7a66f64074a84652d8d623a92e20c9675c61cb5b4f6a0063e4648a2fdc02d53",
        "pB": (
            "04589f13218822710d98d8b2123a079041052d9941b9cf88c6617ddb2fcc0494"
            "662eea8ba6b64692dc318250030c6af045cb738bc81ba35b043c3dcb46adf6f5"
            "8d"
        ),
        "K": (
            "041a3c03d51b452537ca2a1fea6110353c6d5ed483c4f0f86f4492ca3f378d40"
            "a994b4477f93c64d928edbbcd3e85a7c709b7ea73ee97986ce3d1438e1355437"
            "72"
        ),
        "TT": (
            "00000000000000000000000000000000410000000000000004a65b367a3f613c"
            "f9f0654b1b28a1e3a8a40387956c8ba6063e8658563890f46ca1ef6a67659888"
            "9fc28de2950ab8120b79a5ef1ea4c9f44bc98f585634b46d6641000000000000"
            "0004589f13218822710d98d8b2123a079041052d9941b9cf88c6617ddb2fcc04"
            "94662eea8ba6b64692dc318250030c6af045cb738bc81ba35b043c3dcb46adf6"
            "f58d4100000000000000041a3c03d51b452537ca2a1fea6110353c6d5ed483c4"
            "f0f86f4492ca3f378d40a994b4477f93c64d928edbbcd3e85a7c709b7ea73ee9"
            "7986ce3d1438e13554377220000000000000007bf46c454b4c1b25799527d896"
            "508afd5fc62ef4ec59db1efb49113063d70cca"
        ),
        "hash_tt": "fc6374762ba5cf11f4b2caa08b2cd1b9907ae0e26e8d6234318d91583cd74c86",
        "Ke": "fc6374762ba5cf11f4b2caa08b2cd1b9",
        "Ka": "907ae0e26e8d6234318d91583cd74c86",
        "KcA": "5dbd2f477166b7fb6d61febbd77a5563",
        "KcB": "7689b4654407a5faeffdc8f18359d8a3",
        "cA": "dfb4db8d48ae5a675963ea5e6c19d98d4ea028d8e898dad96ea19a80ade95dca",
        "cB": "d0f0609d1613138d354f7e95f19fb556bf52d751947241e8c7118df5ef0ae175",
    },
]

SALT = b"room salt 0123456789abcdef"


def unhex(field) -> bytes:
    return bytes.fromhex("".join(field))


def run(vector):
    w = int(vector["w"], 16)
    a = Spake2.with_scalars("A", w, int(vector["x"], 16), vector["A"], vector["B"])
    b = Spake2.with_scalars("B", w, int(vector["y"], 16), vector["A"], vector["B"])
    return a, b


@pytest.mark.parametrize("vector", RFC_9382_VECTORS, ids=lambda v: "A=%r,B=%r" % (v["A"], v["B"]))
def test_rfc_9382_vectors(vector):
    a, b = run(vector)
    assert a.start() == unhex(vector["pA"])
    assert b.start() == unhex(vector["pB"])
    ke_a, ke_b = a.finish(b.start()), b.finish(a.start())
    for side in (a, b):
        tt = side.transcript()
        assert tt == unhex(vector["TT"])
        # K sits in TT after len(A)||A||len(B)||B||len(pA)||pA||len(pB)||pB.
        at = 8 + len(vector["A"]) + 8 + len(vector["B"]) + 2 * (8 + 65)
        assert struct.unpack("<Q", tt[at:at + 8]) == (65,)
        assert tt[at + 8:at + 8 + 65] == unhex(vector["K"])
        assert hashlib.sha256(tt).digest() == unhex(vector["hash_tt"])
        assert side.ke == unhex(vector["Ke"]) and side.ka == unhex(vector["Ka"])
        assert side.confirmation_keys() == (unhex(vector["KcA"]), unhex(vector["KcB"]))
        assert side.confirmations() == (unhex(vector["cA"]), unhex(vector["cB"]))
    assert ke_a == ke_b == unhex(vector["Ke"]) and len(ke_a) == 16
    assert a.my_confirmation() == unhex(vector["cA"]) and b.my_confirmation() == unhex(vector["cB"])
    assert b.check_peer_confirmation(a.my_confirmation())
    assert a.check_peer_confirmation(b.my_confirmation())


def test_m_and_n_are_the_rfc_points_and_the_order_is_p256s():
    curve = spake2.curve()
    assert curve.order == 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551
    # RFC 9382 section 6 prints them compressed; the sign byte must survive the round trip.
    for full, compressed in ((curve.m, spake2.M_COMPRESSED), (curve.n, spake2.N_COMPRESSED)):
        assert full[1:33] == compressed[1:] and full[64] % 2 == compressed[0] % 2


def pair(password_a: bytes, password_b: bytes, salt_a: bytes = SALT, salt_b: bytes = SALT):
    a = Spake2("A", password_a, b"client", b"server", salt=salt_a)
    b = Spake2("B", password_b, b"client", b"server", salt=salt_b)
    return a, b, a.finish(b.start()), b.finish(a.start())


def test_the_same_password_agrees_and_confirms():
    a, b, ke_a, ke_b = pair("口令 correct horse".encode(), "口令 correct horse".encode())
    assert ke_a == ke_b and len(ke_a) == 16
    assert a.check_peer_confirmation(b.my_confirmation())
    assert b.check_peer_confirmation(a.my_confirmation())


def test_a_different_password_or_salt_disagrees_and_fails_confirmation():
    a, b, ke_a, ke_b = pair(b"correct horse", b"correct horsf")
    assert ke_a != ke_b
    assert not a.check_peer_confirmation(b.my_confirmation())
    assert not b.check_peer_confirmation(a.my_confirmation())
    _, _, ke_a, ke_b = pair(b"same", b"same", salt_a=b"room 1", salt_b=b"room 2")
    assert ke_a != ke_b


def test_every_run_sends_fresh_points():
    first = Spake2("A", b"pw", salt=SALT).start()
    second = Spake2("A", b"pw", salt=SALT).start()
    assert first != second and len(first) == 65 and first[0] == 4


def test_w_is_scrypt_of_the_password_mod_the_order():
    """The definition of w that every side must share (RFC 9382 leaves it to us)."""
    stretched = hashlib.scrypt(b"pw", salt=spake2.W_LABEL + SALT, n=1 << 14, r=8, p=1, dklen=40)
    expected = int.from_bytes(stretched, "big") % spake2.curve().order
    assert spake2.password_scalar(b"pw", SALT) == expected
    assert spake2.password_scalar(b"pw", b"other room") != spake2.password_scalar(b"pw", SALT)
    with pytest.raises(ValueError):
        spake2.password_scalar(b"", SALT)


# A point of P-256 (the first vector's pA), to damage in the ways below.
POINT = unhex(RFC_9382_VECTORS[0]["pA"])


INVALID = [
    (b"", "empty"),
    (b"\x00", "the identity's SEC1 encoding"),
    (bytes(65), "65 zero bytes"),
    (b"\x04" + bytes(64), "(0, 0)"),
    (POINT[:33], "33 bytes"),
    (b"\x02" + POINT[1:33], "compressed form (valid, refused: one encoding only)"),
    (POINT[:64], "short"),
    (POINT + b"\x00", "long"),
    (b"\x06" + POINT[1:], "hybrid form"),
    (POINT[:64] + bytes([POINT[64] ^ 1]), "off the curve"),
    (b"\x04" + b"\xff" * 64, "coordinates above the field prime"),
]


@pytest.mark.parametrize("message", [m for m, _ in INVALID], ids=[why for _, why in INVALID])
def test_invalid_points_are_refused(message):
    for role in ("A", "B"):
        side = Spake2.with_scalars(role, 1234, 5678)
        with pytest.raises(ValueError):
            side.finish(message)


def test_a_peer_point_that_makes_k_the_identity_is_refused():
    """pA = w*M makes pA - w*M the identity: K would be the identity."""
    w = 0x1234567
    wm, wn, _, _ = spake2._blinds(w)
    with pytest.raises(ValueError):
        Spake2.with_scalars("B", w, 99).finish(wm)
    with pytest.raises(ValueError):
        Spake2.with_scalars("A", w, 99).finish(wn)


def test_finish_once_only():
    a, b = Spake2.with_scalars("A", 3, 4), Spake2.with_scalars("B", 3, 5)
    a.finish(b.start())
    with pytest.raises(RuntimeError):
        a.finish(b.start())
    with pytest.raises(RuntimeError):
        Spake2.with_scalars("A", 3, 4).transcript()
    with pytest.raises(ValueError):
        Spake2.with_scalars("C", 3, 4)


def test_a_recorded_transcript_gives_no_key_to_test_a_guess_against():
    """A passive recorder has pA and pB. With a guessed password it can run
    either side's computation on them, but it lacks x and y: it gets a key
    that is not Ke, whether the guess is wrong or even right, so it has no
    way to tell the right guess from the wrong ones offline."""
    a, b, ke, _ = pair(b"correct horse", b"correct horse")
    recorded_pa, recorded_pb = a.start(), b.start()
    for guess in (b"wrong guess", b"correct horse"):
        as_b = Spake2("B", guess, b"client", b"server", salt=SALT)
        as_a = Spake2("A", guess, b"client", b"server", salt=SALT)
        assert as_b.finish(recorded_pa) != ke
        assert as_a.finish(recorded_pb) != ke


def test_an_active_guesser_learns_one_guess_per_run():
    """A wrong guess against the real server: the keys differ, so the
    confirmation (or Noise's AEAD on message 3) fails and the attempt ends."""
    guesser, server, ke_guesser, ke_server = pair(b"guess 1", b"room password")
    assert ke_guesser != ke_server
    assert not server.check_peer_confirmation(guesser.my_confirmation())


scalars = st.integers(min_value=1, max_value=(1 << 256) - 1)


@settings(max_examples=40, deadline=None)
@given(w=scalars, x=scalars, y=scalars, other=scalars)
def test_property_same_w_agrees_other_w_does_not(w, x, y, other):
    order = spake2.curve().order
    if x % order == 0 or y % order == 0:
        return
    a, b = Spake2.with_scalars("A", w, x % order), Spake2.with_scalars("B", w, y % order)
    assert a.finish(b.start()) == b.finish(a.start())
    if (w - other) % order:
        b2 = Spake2.with_scalars("B", other, y % order)
        assert Spake2.with_scalars("A", w, x % order).finish(b2.start()) != b2.finish(a.start())


@pytest.mark.parametrize("salt, info, okm", [
    (bytes(range(13)), bytes(range(0xf0, 0xfa)),       # A.1
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
    (b"", b"",                                         # A.3: no salt, as for KcA || KcB
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
])
def test_hkdf_sha256_matches_rfc_5869(salt, info, okm):
    """The KDF under KcA || KcB, against RFC 5869's SHA-256 cases (values as
    printed in the RFC; corroborated by other implementations' tests)."""
    assert spake2.hkdf_sha256(bytes([0x0b] * 22), salt, info, 42).hex() == okm


MATRIX_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from app.net.spake2 import Spake2
v = json.loads(sys.argv[2])
w = int(v["w"], 16)
a = Spake2.with_scalars("A", w, int(v["x"], 16), v["A"].encode(), v["B"].encode())
b = Spake2.with_scalars("B", w, int(v["y"], 16), v["A"].encode(), v["B"].encode())
ke = a.finish(b.start())
real_a, real_b = Spake2("A", b"pw", salt=b"s"), Spake2("B", b"pw", salt=b"s")
agree = real_a.finish(real_b.start()) == real_b.finish(real_a.start())
print(json.dumps([a.start().hex(), b.start().hex(), ke.hex(), a.my_confirmation().hex(), agree]))
"""


@pytest.mark.parametrize("minor, python", pythons.interpreters(), ids=lambda v: str(v))
def test_every_supported_python_reproduces_the_vectors(minor, python):
    """Python 3.8-3.13 from pyenv: each one's own libcrypto, the same results."""
    vector = dict(RFC_9382_VECTORS[0], A="server", B="client")
    vector = {key: "".join(value) if isinstance(value, tuple) else value
              for key, value in vector.items()}
    done = subprocess.run([python, "-c", MATRIX_SCRIPT, str(ROOT), json.dumps(vector)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [vector["pA"], vector["pB"], vector["Ke"], vector["cA"], True]


def test_the_cost_bench_runs_and_reports_microseconds_per_join():
    from bench import spake2_cost
    figures = spake2_cost.measure(joins=5, repeat=1)
    assert figures["joins"] == 5 and 0 < figures["server_us_per_join"] < 1e6
    assert figures["client_us_per_join"] > 0 and figures["w_derivation_ms_once_per_process"] >= 0
