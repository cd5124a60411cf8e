"""The interpreter's own OpenSSL libcrypto, reached through ctypes, and the two
primitives the secure sessions need from it: ChaCha20-Poly1305 (RFC 8439) and
X25519 (RFC 7748).

Every CPython this program supports loads libcrypto for `hashlib`: a ctypes
handle on the `_hashlib` extension module resolves symbols in the libraries it
was linked against too, so we use exactly the libcrypto the interpreter was
built with, without naming a file and without installing anything.
(docs/SECURITY.md "Where the primitives come from".)

Nothing here is a cipher of our own: each function is a thin call into
OpenSSL's EVP interface, checked against the RFC test vectors in
tests/test_crypto_vectors.py. Every OpenSSL object made here is freed here.
"""
import ctypes
import os
import threading
from _thread import get_ident
from collections import OrderedDict
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_ulong, c_void_p
from typing import Any, Optional, Tuple

_handle: Optional[ctypes.CDLL] = None
_why_not: Optional[str] = None

KEY_LEN = 32      # ChaCha20-Poly1305 key, and X25519 keys and shared secrets
NONCE_LEN = 12
TAG_LEN = 16

_EVP_PKEY_X25519 = 1034              # NID_X25519
_EVP_CTRL_AEAD_GET_TAG = 0x10
_EVP_CTRL_AEAD_SET_TAG = 0x11

# (name, restype, argtypes): declared once, so a call does no type guessing.
_SIGNATURES = (
    ("OpenSSL_version_num", c_ulong, ()),
    ("EVP_chacha20_poly1305", c_void_p, ()),
    ("EVP_CIPHER_CTX_new", c_void_p, ()),
    ("EVP_CIPHER_CTX_free", None, (c_void_p,)),
    ("EVP_CipherInit_ex", c_int, (c_void_p, c_void_p, c_void_p, c_char_p, c_char_p, c_int)),
    ("EVP_CipherUpdate", c_int, (c_void_p, c_void_p, POINTER(c_int), c_char_p, c_int)),
    ("EVP_CipherFinal_ex", c_int, (c_void_p, c_void_p, POINTER(c_int))),
    ("EVP_CIPHER_CTX_ctrl", c_int, (c_void_p, c_int, c_int, c_void_p)),
    ("EVP_PKEY_new_raw_private_key", c_void_p, (c_int, c_void_p, c_char_p, c_size_t)),
    ("EVP_PKEY_new_raw_public_key", c_void_p, (c_int, c_void_p, c_char_p, c_size_t)),
    ("EVP_PKEY_get_raw_public_key", c_int, (c_void_p, c_char_p, POINTER(c_size_t))),
    ("EVP_PKEY_free", None, (c_void_p,)),
    ("EVP_PKEY_CTX_new", c_void_p, (c_void_p, c_void_p)),
    ("EVP_PKEY_CTX_free", None, (c_void_p,)),
    ("EVP_PKEY_derive_init", c_int, (c_void_p,)),
    ("EVP_PKEY_derive_set_peer", c_int, (c_void_p, c_void_p)),
    ("EVP_PKEY_derive", c_int, (c_void_p, c_char_p, POINTER(c_size_t))),
)


def load() -> Optional[ctypes.CDLL]:
    """The libcrypto handle, or None (then `why_unavailable()` says why in one line)."""
    global _handle, _why_not
    if _handle is not None or _why_not is not None:
        return _handle
    try:
        import _hashlib  # type: ignore[import-not-found]
        handle = ctypes.CDLL(_hashlib.__file__)
        handle.OpenSSL_version_num.restype = ctypes.c_ulong
        version = handle.OpenSSL_version_num()
    except (ImportError, OSError, AttributeError) as error:
        _why_not = "no usable OpenSSL libcrypto in this Python ({})".format(error)
        return None
    if version < 0x30000000:
        _why_not = "this Python's OpenSSL is {:#x}; 3.0 or newer is needed".format(version)
        return None
    try:
        for name, restype, argtypes in _SIGNATURES:
            function = getattr(handle, name)
            function.restype = restype
            function.argtypes = argtypes
    except AttributeError as error:
        _why_not = "this Python's OpenSSL lacks a function we need ({})".format(error)
        return None
    _handle = handle
    return _handle


def why_unavailable() -> Optional[str]:
    load()
    return _why_not


def available() -> bool:
    return load() is not None


def _lib() -> Any:
    handle = load()
    if handle is None:
        raise RuntimeError(_why_not)
    return handle


def _unchecked(lib: Any, name: str) -> Any:
    """A second function object for `name`, for the per-datagram calls:

    - without argtypes: ctypes then converts nothing per call (a third of a
      seal's cost), so every argument must already be of its C type: a
      c_void_p for a pointer held as a number, bytes, a ctypes buffer or a
      byref() into one for a pointer to data, None for NULL, and Python ints
      only where C takes an int;
    - through a PyDLL view of the same library: the call keeps the GIL
      instead of releasing and taking it back around a call of a microsecond
      or less (ctypes' documented PyDLL; it also checks for a Python error
      after the call, which these functions never set). ~0.1-0.3 µs a call.

    (lib.name is the checked, GIL-releasing one in _SIGNATURES, used by
    everything else.)"""
    function = ctypes.PyDLL(getattr(lib, "_name", "libcrypto"), handle=lib._handle)[name]
    function.restype = c_int
    return function


class _Scratch:
    """Where seal and open work: one per thread, shared by every key. A
    server holds two keys per session; with a buffer each, a fan-out to 1000
    sessions wrote into 1000 cold buffers (a seal cost 1.6 times as much at
    N = 1000 as at N = 100); one buffer stays in the cache. The same holds
    for OpenSSL's cipher contexts: one per direction here, keyed at each call
    (ChaCha20 has no key schedule: setting a key is a copy), instead of a
    context per key, which a fan-out met cold each time (a seal in the
    server's fan-out to 1800 sessions cost 11 us, against 3 us in a loop
    over one key) and which cost ~8 KiB a session."""

    __slots__ = ("buffer", "view", "size", "outlen", "seal_ctx", "open_ctx")

    def __init__(self, size: int) -> None:
        self.buffer = ctypes.create_string_buffer(size)
        self.view = memoryview(self.buffer).cast("B")
        self.size = size
        self.outlen = ctypes.pointer(c_int())
        # Made at first use (importing this module must not need OpenSSL).
        self.seal_ctx: Optional[c_void_p] = None
        self.open_ctx: Optional[c_void_p] = None

    def context(self, encrypt: int) -> c_void_p:
        """This thread's context for one direction, made now if need be. It
        lives as long as the scratch space: two a thread, freed with it."""
        ctx = self.seal_ctx if encrypt else self.open_ctx
        if ctx is None:
            ctx = _new_context(encrypt)
            if encrypt:
                self.seal_ctx = ctx
            else:
                self.open_ctx = ctx
        return ctx

    def free(self) -> None:
        """Give the contexts back to OpenSSL (a bigger space replaces this one)."""
        for ctx in (self.seal_ctx, self.open_ctx):
            if ctx is not None:
                _lib().EVP_CIPHER_CTX_free(ctx)
        self.seal_ctx = self.open_ctx = None


def _new_context(encrypt: int) -> c_void_p:
    """A ChaCha20-Poly1305 context for one direction, without a key yet."""
    lib = _lib()
    cipher = lib.EVP_chacha20_poly1305()
    if not cipher:
        raise RuntimeError("OpenSSL has no ChaCha20-Poly1305")
    ctx = lib.EVP_CIPHER_CTX_new()
    if not ctx or lib.EVP_CipherInit_ex(ctx, cipher, None, None, None, encrypt) != 1:
        raise RuntimeError("OpenSSL refused to set up ChaCha20-Poly1305")
    return c_void_p(ctx)     # passed unchecked, a c_void_p still passes a whole pointer


_scratch = threading.local()
# The main thread's (the server's loop) without threading.local's look-up,
# which cost ~0.2 µs of a ~2.5 µs seal; other threads use _scratch.
_MAIN_THREAD = threading.main_thread().ident
_main_space = _Scratch(2048)


def _space_for(size: int) -> _Scratch:
    """The calling thread's scratch space, of at least `size` bytes (the hot
    path, main thread and a buffer big enough, is inlined by the callers)."""
    global _main_space
    if get_ident() == _MAIN_THREAD:
        if size > _main_space.size:
            _main_space.free()
            _main_space = _Scratch(size)
        return _main_space
    space = getattr(_scratch, "space", None)
    if space is None or size > space.size:
        if space is not None:
            space.free()
        space = _scratch.space = _Scratch(max(size, 2048))
    return space


class _Calls:
    """The four EVP functions of a seal or an open, unchecked (`_unchecked`),
    made once for the process and shared by every key (a set for each Aead
    was four ctypes objects a key: ~1 KiB a session)."""

    def __init__(self, lib: Any) -> None:
        self.init = _unchecked(lib, "EVP_CipherInit_ex")
        self.update = _unchecked(lib, "EVP_CipherUpdate")
        self.final = _unchecked(lib, "EVP_CipherFinal_ex")
        self.ctrl = _unchecked(lib, "EVP_CIPHER_CTX_ctrl")


_calls: Optional[_Calls] = None


class Aead:
    """ChaCha20-Poly1305 (RFC 8439) under one 32-byte key.

    Made for one call per datagram: each operation keys the thread's context
    for its direction (`_Scratch`) with the key and the nonce in one call,
    feeds the associated data and the text and takes or checks the tag: the
    five EVP calls OpenSSL needs, made through unchecked function objects
    (`_unchecked`) on arguments checked here, writing into the thread's
    scratch buffer. An Aead itself holds only its key (~0.4 KiB a session).
    """

    __slots__ = ("_key", "_init", "_update", "_final", "_ctrl")

    def __init__(self, key: bytes) -> None:
        global _calls
        if type(key) is not bytes or len(key) != KEY_LEN:
            raise ValueError("a ChaCha20-Poly1305 key is 32 bytes")
        self._key: Optional[bytes] = key
        calls = _calls = _calls or _Calls(_lib())
        self._init, self._update, self._final, self._ctrl = (
            calls.init, calls.update, calls.final, calls.ctrl)

    def seal(self, nonce: bytes, plaintext: bytes, ad: bytes, prefix: bytes = b"") -> bytes:
        """prefix || ciphertext || 16-byte tag. A nonce must never repeat under
        one key. `prefix` (e.g. a record's header, usually also the `ad`) is
        written into the same buffer, so a whole datagram costs one copy."""
        if type(nonce) is not bytes or len(nonce) != NONCE_LEN:
            raise ValueError("a ChaCha20-Poly1305 nonce is 12 bytes")
        return self.seal_trusted(nonce, bytes(plaintext) if type(plaintext) is not bytes
                                 else plaintext, bytes(ad) if type(ad) is not bytes else ad,
                                 bytes(prefix))

    def seal_trusted(self, nonce: bytes, plaintext: bytes, ad: bytes, prefix: bytes) -> bytes:
        """seal() for a caller that guarantees its arguments: a 12-byte nonce
        that never repeats, and bytes for the rest (what a record layer makes
        itself; anything else makes ctypes raise, never reads wrong memory).
        Per datagram, seal()'s checks were a sixth of the cost."""
        key = self._key
        if key is None:
            raise RuntimeError("this Aead was closed")
        at = len(prefix)
        size = len(plaintext)
        end = at + size
        space = _main_space
        if get_ident() != _MAIN_THREAD or end + TAG_LEN > space.size:
            space = _space_for(end + TAG_LEN)
        ctx = space.seal_ctx or space.context(1)
        buffer, outlen, update = space.buffer, space.outlen, self._update
        if at:
            space.view[:at] = prefix
        tag = byref(buffer, end)
        # Each call returns 1 on success (0 or -1 otherwise). Final writes
        # nothing for a stream cipher; it computes the tag, which ctrl copies
        # out right after the ciphertext.
        if (self._init(ctx, None, None, key, nonce, 1) != 1
                or (ad and update(ctx, None, outlen, ad, len(ad)) != 1)
                or (size and update(ctx, byref(buffer, at), outlen, plaintext, size) != 1)
                or self._final(ctx, tag, outlen) != 1
                or self._ctrl(ctx, _EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag) != 1):
            raise RuntimeError("OpenSSL failed to seal")
        return space.view[:end + TAG_LEN].tobytes()

    def seal_after(self, prefix: bytes, nonce: bytes, plaintext: bytes,
                   ad: bytes) -> bytearray:
        """prefix || ciphertext || tag, the cipher writing straight into the
        one new buffer: a 64 KB file chunk is not copied again after it is
        encrypted (seal and seal_trusted copy the sealed datagram out of the
        thread's scratch buffer). Same key, nonce and rules as seal; the
        record layer uses it for file chunks (secure_session.SEAL_AFTER_MIN)."""
        if type(nonce) is not bytes or len(nonce) != NONCE_LEN:
            raise ValueError("a ChaCha20-Poly1305 nonce is 12 bytes")
        if type(plaintext) is not bytes:
            plaintext = bytes(plaintext)
        if type(ad) is not bytes:
            ad = bytes(ad)
        key = self._key
        if key is None:
            raise RuntimeError("this Aead was closed")
        size, start = len(plaintext), len(prefix)
        out = bytearray(start + size + TAG_LEN)
        out[:start] = prefix
        window = (ctypes.c_char * len(out)).from_buffer(out)
        base = ctypes.addressof(window)
        space = _main_space if get_ident() == _MAIN_THREAD else _space_for(0)
        ctx = space.seal_ctx or space.context(1)
        outlen, update = space.outlen, self._update
        # As in seal; the cipher text goes to out[start:], the tag after it.
        ok = (self._init(ctx, None, None, key, nonce, 1) == 1
              and (not ad or update(ctx, None, outlen, ad, len(ad)) == 1)
              and (not size or update(ctx, c_void_p(base + start), outlen, plaintext,
                                      size) == 1)
              and self._final(ctx, space.buffer, outlen) == 1
              and self._ctrl(ctx, _EVP_CTRL_AEAD_GET_TAG, TAG_LEN,
                             c_void_p(base + start + size)) == 1)
        del window                    # the bytearray's buffer is released
        if not ok:
            raise RuntimeError("OpenSSL failed to seal")
        return out

    def open(self, nonce: bytes, ciphertext: bytes, ad: bytes) -> Optional[bytes]:
        """The plaintext, or None when the tag does not match or the input is
        malformed (wrong nonce length, shorter than a tag). Never raises for input."""
        try:
            if type(nonce) is not bytes:
                nonce = bytes(nonce)
            if type(ciphertext) is not bytes:
                ciphertext = bytes(ciphertext)
            if type(ad) is not bytes:
                ad = bytes(ad)
        except TypeError:
            return None
        if len(nonce) != NONCE_LEN:
            return None
        return self.open_trusted(nonce, ciphertext, ad)

    def open_trusted(self, nonce: bytes, ciphertext: bytes, ad: bytes) -> Optional[bytes]:
        """open() for a caller that passes bytes and a 12-byte nonce (a record
        layer: the nonce its own, the rest slices of the datagram); a
        ciphertext shorter than a tag is still None. Anything but bytes (a
        bytearray, say: a file chunk sealed in place and opened in the same
        process) makes ctypes refuse it, never read wrong memory, and is then
        opened by open(), which converts it."""
        size = len(ciphertext) - TAG_LEN
        if size < 0:
            return None
        key = self._key
        if key is None:
            raise RuntimeError("this Aead was closed")
        space = _main_space
        if get_ident() != _MAIN_THREAD or size > space.size:
            space = _space_for(size)
        ctx = space.open_ctx or space.context(0)
        outlen, buffer, update = space.outlen, space.buffer, self._update
        # Final checks the tag; what Update wrote is dropped unless it matches.
        try:
            if (self._init(ctx, None, None, key, nonce, 0) != 1
                    or (ad and update(ctx, None, outlen, ad, len(ad)) != 1)
                    or (size and update(ctx, buffer, outlen, ciphertext, size) != 1)
                    or self._ctrl(ctx, _EVP_CTRL_AEAD_SET_TAG, TAG_LEN, ciphertext[size:]) != 1
                    or self._final(ctx, buffer, outlen) != 1):
                return None
        except ctypes.ArgumentError:
            if type(nonce) is bytes and type(ciphertext) is bytes and type(ad) is bytes:
                raise
            return self.open(nonce, ciphertext, ad)
        return space.view[:size].tobytes()

    def close(self) -> None:
        """Forget the key now; the object is unusable after."""
        self._key = None


# Importing a private key costs OpenSSL a scalar multiplication (it computes
# the public key), as much as the DH itself. A handshake uses each private key
# two or three times (the static key in every handshake), so the last few
# imported keys are kept: a handshake costs about half as much. Bounded, and
# each evicted key is freed; the lock keeps a key alive while it is used.
_KEY_CACHE_SIZE = 8
_keys: "OrderedDict[bytes, int]" = OrderedDict()
_keys_lock = threading.Lock()


def _private_key(lib: Any, private: bytes) -> int:
    """The EVP_PKEY of a private key (call with _keys_lock held)."""
    if type(private) is not bytes or len(private) != KEY_LEN:
        raise ValueError("an X25519 private key is 32 bytes")
    pkey = _keys.get(private)
    if pkey is not None:
        _keys.move_to_end(private)
        return pkey
    pkey = lib.EVP_PKEY_new_raw_private_key(_EVP_PKEY_X25519, None, private, KEY_LEN)
    if not pkey:
        raise RuntimeError("OpenSSL refused an X25519 private key")
    _keys[private] = pkey
    if len(_keys) > _KEY_CACHE_SIZE:
        lib.EVP_PKEY_free(_keys.popitem(last=False)[1])
    return int(pkey)


def forget_keys() -> None:
    """Free the kept private keys now (e.g. after a handshake, or at exit)."""
    lib = load()
    if lib is None:
        return
    with _keys_lock:
        while _keys:
            lib.EVP_PKEY_free(_keys.popitem()[1])


def x25519_public(private: bytes) -> bytes:
    """The public key (u-coordinate) of a 32-byte private key (RFC 7748 §6.1)."""
    lib = _lib()
    public = ctypes.create_string_buffer(KEY_LEN)
    length = c_size_t(KEY_LEN)
    with _keys_lock:
        pkey = _private_key(lib, private)
        if lib.EVP_PKEY_get_raw_public_key(pkey, public, length) != 1 or length.value != KEY_LEN:
            raise RuntimeError("OpenSSL failed to give an X25519 public key")
    return public.raw


def x25519_keypair() -> Tuple[bytes, bytes]:
    """A fresh (private, public) pair; the private key is 32 bytes of os.urandom
    (X25519 clamps it when it is used, RFC 7748 §5)."""
    private = os.urandom(KEY_LEN)
    return private, x25519_public(private)


def x25519(private: bytes, peer_public: bytes) -> bytes:
    """The 32-byte shared secret X25519(private, peer_public). ValueError when it
    is all zeros, i.e. the peer sent a small-order point (RFC 7748 §6.1), or
    when a key is not 32 bytes."""
    lib = _lib()
    if type(peer_public) is not bytes or len(peer_public) != KEY_LEN:
        raise ValueError("an X25519 public key is 32 bytes")
    shared = ctypes.create_string_buffer(KEY_LEN)
    length = c_size_t(KEY_LEN)
    peer = ctx = None
    with _keys_lock:
        try:
            pkey = _private_key(lib, private)
            peer = lib.EVP_PKEY_new_raw_public_key(_EVP_PKEY_X25519, None, peer_public,
                                                   KEY_LEN)
            ctx = lib.EVP_PKEY_CTX_new(pkey, None)
            if not peer or not ctx or lib.EVP_PKEY_derive_init(ctx) != 1:
                raise RuntimeError("OpenSSL refused to set up X25519")
            # OpenSSL itself fails the derivation on an all-zero result; the
            # explicit check below holds whichever way a version behaves.
            if (lib.EVP_PKEY_derive_set_peer(ctx, peer) != 1
                    or lib.EVP_PKEY_derive(ctx, shared, length) != 1
                    or length.value != KEY_LEN or shared.raw == bytes(KEY_LEN)):
                raise ValueError("X25519 gave an all-zero shared secret"
                                 " (a small-order public key)")
        finally:
            if ctx:
                lib.EVP_PKEY_CTX_free(ctx)
            if peer:
                lib.EVP_PKEY_free(peer)
    return shared.raw


class X25519Dh:
    """The X25519 functions in the shape app.core.noise injects (its `Dh`)."""

    def generate_keypair(self) -> Tuple[bytes, bytes]:
        return x25519_keypair()

    def dh(self, private: bytes, public: bytes) -> bytes:
        return x25519(private, public)
