"""SPAKE2 (RFC 9382), ciphersuite SPAKE2-P256-SHA256-HKDF-HMAC, on the
interpreter's own libcrypto (`app/net/libcrypto.py`).

The room password enters the key exchange here: each side sends one point,
and both get the same 16-byte key Ke only if they used the same password.
A recording of the two points gives nothing to test password guesses
against; an active attacker gets one guess per run (docs/SECURITY.md,
"Room password: SPAKE2").

    a = Spake2("A", password, salt=room_salt)      # the client
    b = Spake2("B", password, salt=room_salt)      # the server
    pA = a.start(); pB = b.start()                 # 65 bytes each
    a.finish(pB) == b.finish(pA)                   # Ke, 16 bytes

Exactly RFC 9382 sections 3-4 and 6: P-256 with the RFC's M and N,
A: pA = x*P + w*M; B: pB = y*P + w*N; K = x*(pB - w*N) = y*(pA - w*M)
(cofactor 1); TT = len(A)||A||len(B)||B||len(pA)||pA||len(pB)||pB||len(K)||K
||len(w)||w with 8-byte little-endian lengths, points uncompressed (SEC1),
w big-endian in 32 bytes; Ke||Ka = SHA-256(TT); KcA||KcB =
HKDF-SHA256(Ka, salt=nil, info="ConfirmationKeys"||AAD, 32); cA =
HMAC-SHA256(KcA, TT), cB = HMAC-SHA256(KcB, TT). tests/test_spake2.py runs
the RFC's Appendix B vectors.

The RFC leaves w to the application: see `password_scalar`.

Every libcrypto object made for one operation is freed before it returns
(points and scalars with their clear_free); the group and the M/N encodings
live as long as the process. Python ints and bytes holding secrets cannot be
wiped; they go when the object does.
"""
import ctypes
import functools
import hashlib
import hmac
import secrets
import struct
from typing import Any, List, Optional, Tuple

from app.net import libcrypto

NID_X9_62_PRIME256V1 = 415
POINT_CONVERSION_UNCOMPRESSED = 4
BN_FLG_CONSTTIME = 0x04
POINT_SIZE = 65      # 0x04 || X || Y
SCALAR_SIZE = 32

# RFC 9382 section 6, "For P256": SEC1 compressed encodings of M and N
# (seeds "1.2.840.10045.3.1.7 point generation seed (M)" / "(N)").
M_COMPRESSED = bytes.fromhex("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f")
N_COMPRESSED = bytes.fromhex("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49")

# w: scrypt (RFC 7914; the RFC 9382 text names it as the usual MHF). 2^14 x 8
# is 16 MiB and ~50 ms, paid once per process on each side. 40 bytes = the
# order's 32 plus 8, reduced mod p: bias below 2^-64 (RFC 9382 section 3.1).
SCRYPT_N = 1 << 14
SCRYPT_R = 8
SCRYPT_P = 1
W_BYTES = SCALAR_SIZE + 8
W_LABEL = b"chat.pyz SPAKE2-P256-SHA256 w v1\x00"


class Unavailable(RuntimeError):
    """No usable libcrypto (or no scrypt) in this Python: one line, from libcrypto."""


class _Lib:
    """The libcrypto functions we call, typed. Our own prototypes bound to the
    shared handle, so another module's argtypes on the same handle never
    change ours."""

    def __init__(self, handle: ctypes.CDLL) -> None:
        p, i, sz = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
        buf = ctypes.c_char_p

        def fn(name: str, restype: Any, *argtypes: Any) -> Any:
            return ctypes.CFUNCTYPE(restype, *argtypes)((name, handle))

        self.group_new = fn("EC_GROUP_new_by_curve_name", p, i)
        self.group_order = fn("EC_GROUP_get0_order", p, p)
        self.point_new = fn("EC_POINT_new", p, p)
        self.point_free = fn("EC_POINT_clear_free", None, p)
        self.point_mul = fn("EC_POINT_mul", i, p, p, p, p, p, p)
        self.point_add = fn("EC_POINT_add", i, p, p, p, p, p)
        self.point_invert = fn("EC_POINT_invert", i, p, p, p)
        self.oct2point = fn("EC_POINT_oct2point", i, p, p, buf, sz, p)
        self.point2oct = fn("EC_POINT_point2oct", sz, p, p, i, buf, sz, p)
        self.on_curve = fn("EC_POINT_is_on_curve", i, p, p, p)
        self.at_infinity = fn("EC_POINT_is_at_infinity", i, p, p)
        self.bn_bin2bn = fn("BN_bin2bn", p, buf, i, p)
        self.bn_bn2binpad = fn("BN_bn2binpad", i, p, buf, i)
        self.bn_free = fn("BN_clear_free", None, p)
        self.bn_set_flags = fn("BN_set_flags", None, p, i)
        self.ctx_new = fn("BN_CTX_new", p)
        self.ctx_free = fn("BN_CTX_free", None, p)


class _Scope:
    """One operation's libcrypto objects, all freed by `close` (use in `with`)."""

    def __init__(self, curve: "_Curve") -> None:
        self.curve = curve
        self.lib = curve.lib
        self._points: List[int] = []
        self._scalars: List[int] = []
        self.ctx = self.lib.ctx_new()
        if not self.ctx:
            raise MemoryError("BN_CTX_new")

    def __enter__(self) -> "_Scope":
        return self

    def __exit__(self, *exc: object) -> None:
        for point in self._points:
            self.lib.point_free(point)
        for scalar in self._scalars:
            self.lib.bn_free(scalar)
        self.lib.ctx_free(self.ctx)

    def point(self) -> int:
        point = self.lib.point_new(self.curve.group)
        if not point:
            raise MemoryError("EC_POINT_new")
        self._points.append(point)
        return int(point)

    def scalar(self, value: int) -> int:
        raw = value.to_bytes(SCALAR_SIZE, "big")
        bn = self.lib.bn_bin2bn(raw, SCALAR_SIZE, None)
        if not bn:
            raise MemoryError("BN_bin2bn")
        self._scalars.append(bn)
        self.lib.bn_set_flags(bn, BN_FLG_CONSTTIME)
        return int(bn)

    def decode(self, data: bytes) -> int:
        """A point of the group from its encoding; ValueError if it is none."""
        point = self.point()
        if self.lib.oct2point(self.curve.group, point, data, len(data), self.ctx) != 1:
            raise ValueError("not a point on P-256")
        if self.lib.on_curve(self.curve.group, point, self.ctx) != 1:
            raise ValueError("not a point on P-256")
        if self.lib.at_infinity(self.curve.group, point):
            raise ValueError("the identity point")
        return point

    def encode(self, point: int) -> bytes:
        if self.lib.at_infinity(self.curve.group, point):
            raise ValueError("the identity point")
        out = ctypes.create_string_buffer(POINT_SIZE)
        size = self.lib.point2oct(self.curve.group, point, POINT_CONVERSION_UNCOMPRESSED,
                                  out, POINT_SIZE, self.ctx)
        if size != POINT_SIZE:
            raise RuntimeError("EC_POINT_point2oct failed")
        return out.raw

    def check(self, ok: int, what: str) -> None:
        if ok != 1:
            raise RuntimeError(what + " failed")

    # Each multiplication is a single-scalar call: OpenSSL then takes its
    # constant-time path (fixed-base table or ladder); a two-scalar
    # EC_POINT_mul would take the variable-time wNAF one.
    def base_mul(self, k: int) -> int:
        out = self.point()
        self.check(self.lib.point_mul(self.curve.group, out, self.scalar(k), None, None,
                                      self.ctx), "EC_POINT_mul")
        return out

    def mul(self, k: int, point: int) -> int:
        out = self.point()
        self.check(self.lib.point_mul(self.curve.group, out, None, point, self.scalar(k),
                                      self.ctx), "EC_POINT_mul")
        return out

    def add(self, a: int, b: int) -> int:
        out = self.point()
        self.check(self.lib.point_add(self.curve.group, out, a, b, self.ctx), "EC_POINT_add")
        return out

    def negate(self, point: int) -> int:
        self.check(self.lib.point_invert(self.curve.group, point, self.ctx), "EC_POINT_invert")
        return point


class _Curve:
    """P-256: the group and its order, and M and N (process lifetime)."""

    def __init__(self, handle: ctypes.CDLL) -> None:
        self.lib = _Lib(handle)
        self.group = self.lib.group_new(NID_X9_62_PRIME256V1)
        if not self.group:
            raise Unavailable("this libcrypto has no P-256")
        order = ctypes.create_string_buffer(SCALAR_SIZE)
        size = self.lib.bn_bn2binpad(self.lib.group_order(self.group), order, SCALAR_SIZE)
        if size != SCALAR_SIZE:
            raise Unavailable("cannot read the order of P-256")
        self.order = int.from_bytes(order.raw, "big")
        with _Scope(self) as scope:
            self.m = scope.encode(scope.decode(M_COMPRESSED))
            self.n = scope.encode(scope.decode(N_COMPRESSED))


_curve: Optional[_Curve] = None


def curve() -> _Curve:
    """The process's P-256, or Unavailable with libcrypto's one line."""
    global _curve
    if _curve is None:
        handle = libcrypto.load()
        if handle is None:
            raise Unavailable(libcrypto.why_unavailable() or "no libcrypto")
        _curve = _Curve(handle)
    return _curve


def password_scalar(password: bytes, salt: bytes) -> int:
    """w = scrypt(password, W_LABEL || salt, N=2^14, r=8, p=1, 40 bytes) mod p.

    RFC 9382 leaves the memory-hard function to the application and says it
    MUST be defined: this is ours, the same on every side (no fallback to
    another function: a peer that derived w differently would look exactly
    like a wrong password). `salt` is per room (the server chooses it; the
    client must know it before its first message). The PAKE already keeps
    the password from offline guessing on the wire; scrypt and the salt are
    for the case where w itself leaks (a server's memory), so that one table
    does not serve every room. About 50 ms: cached per process.
    """
    return _password_scalar(bytes(password), bytes(salt))


@functools.lru_cache(maxsize=4)
def _password_scalar(password: bytes, salt: bytes) -> int:
    if not password:
        raise ValueError("SPAKE2 needs a password")
    scrypt = getattr(hashlib, "scrypt", None)
    if scrypt is None:
        raise Unavailable("this Python's hashlib has no scrypt")
    stretched = scrypt(password, salt=W_LABEL + salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                       maxmem=64 * 1024 * 1024, dklen=W_BYTES)
    return int.from_bytes(stretched, "big") % curve().order


@functools.lru_cache(maxsize=4)
def _blinds(w: int) -> Tuple[bytes, bytes, bytes, bytes]:
    """w*M, w*N, -w*M, -w*N: fixed per password, so computed once (the
    server's per-join cost is then one fixed-base and one variable-base
    multiplication)."""
    c = curve()
    with _Scope(c) as scope:
        wm = scope.mul(w, scope.decode(c.m))
        wn = scope.mul(w, scope.decode(c.n))
        out = (scope.encode(wm), scope.encode(wn))
        return out + (scope.encode(scope.negate(wm)), scope.encode(scope.negate(wn)))


def _framed(*fields: bytes) -> bytes:
    return b"".join(struct.pack("<Q", len(f)) + f for f in fields)


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with HMAC-SHA256; an empty salt is HashLen zero bytes."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


class Spake2:
    """One side of one SPAKE2 run. Role "A" sends first (our client), "B" answers
    (our server); both must agree on the identities, salt and AAD."""

    def __init__(self, role: str, password: bytes, id_a: bytes = b"", id_b: bytes = b"",
                 *, salt: bytes, aad: bytes = b"") -> None:
        self._setup(role, password_scalar(password, salt), None, id_a, id_b, aad)

    @classmethod
    def with_scalars(cls, role: str, w: int, secret: int, id_a: bytes = b"",
                     id_b: bytes = b"", aad: bytes = b"") -> "Spake2":
        """TEST ONLY: a run with w and x (or y) given, to reproduce RFC 9382's
        vectors. A real run's secret scalar must be fresh and uniformly random,
        as the constructor draws it."""
        self = cls.__new__(cls)
        self._setup(role, w, secret, id_a, id_b, aad)
        return self

    def _setup(self, role: str, w: int, secret: Optional[int], id_a: bytes, id_b: bytes,
               aad: bytes) -> None:
        if role not in ("A", "B"):
            raise ValueError("role is 'A' or 'B'")
        c = curve()
        self.role = role
        self._w = w % c.order
        self._secret = secret if secret is not None else 1 + secrets.randbelow(c.order - 1)
        self._ids = (bytes(id_a), bytes(id_b))
        self._aad = bytes(aad)
        self._mine: Optional[bytes] = None
        self._tt: Optional[bytes] = None
        self.ke = self.ka = self.kc_a = self.kc_b = b""

    def start(self) -> bytes:
        """pA (role A) or pB (role B): 65 bytes, 0x04 || X || Y."""
        if self._mine is None:
            wm, wn, _, _ = _blinds(self._w)
            with _Scope(curve()) as scope:
                blind = scope.decode(wm if self.role == "A" else wn)
                self._mine = scope.encode(scope.add(scope.base_mul(self._secret), blind))
        return self._mine

    def finish(self, peer_message: bytes) -> bytes:
        """Ke (16 bytes) from the peer's point. ValueError if that is not a
        65-byte uncompressed point of P-256 other than the identity, or if the
        shared point K comes out as the identity."""
        if self._tt is not None:
            raise RuntimeError("SPAKE2 finished already")
        mine = self.start()
        peer = bytes(peer_message)
        if len(peer) != POINT_SIZE or peer[0] != 4:
            raise ValueError("a SPAKE2 message is a 65-byte uncompressed P-256 point")
        _, _, neg_wm, neg_wn = _blinds(self._w)
        with _Scope(curve()) as scope:
            unblind = scope.decode(neg_wn if self.role == "A" else neg_wm)
            unblinded = scope.add(scope.decode(peer), unblind)
            k = scope.encode(scope.mul(self._secret, unblinded))
        p_a, p_b = (mine, peer) if self.role == "A" else (peer, mine)
        self._tt = _framed(self._ids[0], self._ids[1], p_a, p_b, k,
                           self._w.to_bytes(SCALAR_SIZE, "big"))
        digest = hashlib.sha256(self._tt).digest()
        self.ke, self.ka = digest[:16], digest[16:]
        kc = hkdf_sha256(self.ka, b"", b"ConfirmationKeys" + self._aad, 32)
        self.kc_a, self.kc_b = kc[:16], kc[16:]
        return self.ke

    def transcript(self) -> bytes:
        """TT (secret: it holds K and w); for the test vectors."""
        if self._tt is None:
            raise RuntimeError("SPAKE2 not finished")
        return self._tt

    def confirmation_keys(self) -> Tuple[bytes, bytes]:
        """(KcA, KcB)."""
        self.transcript()
        return self.kc_a, self.kc_b

    def confirmations(self) -> Tuple[bytes, bytes]:
        """(cA, cB) = (HMAC(KcA, TT), HMAC(KcB, TT)). With Ke as the Noise psk,
        Noise's message-3 AEAD confirms the key and these need not travel."""
        tt = self.transcript()
        return (hmac.new(self.kc_a, tt, hashlib.sha256).digest(),
                hmac.new(self.kc_b, tt, hashlib.sha256).digest())

    def my_confirmation(self) -> bytes:
        return self.confirmations()[0 if self.role == "A" else 1]

    def check_peer_confirmation(self, mac: bytes) -> bool:
        expected = self.confirmations()[1 if self.role == "A" else 0]
        return hmac.compare_digest(expected, bytes(mac))
