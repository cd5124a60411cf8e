"""What a room datagram costs the server to protect: a seal per member (what
the product does) against one seal under a room key plus the server's
Ed25519 signature for every member (the framing MLS, RFC 9420, gives a
group's messages; not built: it would change issue 16 item 1's "keys unique
to the session and direction"). For the decision item 9 asks for; see
docs/SECURITY.md "What the secure sessions cost".

    python3 -m bench.room_key_cost [--n 100 --n 1000] [--size 1000] [--repeat 7]

Process CPU time, fastest of `repeat` loops, the interpreter's own libcrypto
through ctypes (as app/net/libcrypto.py reaches it):

- per_member_us: one room datagram of `size` bytes sealed for each of n
  sessions with the record layer (secure_session.Transport.seal), per member;
- room_key_us: the same datagram sealed once (Aead.seal_trusted under a room
  key), signed once (Ed25519, EVP_DigestSign over header || ciphertext ||
  tag), and each member's copy made (its 4-byte session id in front), per
  member;
- sign_us, verify_us: one Ed25519 signature and one check (what each
  client would add per room datagram).
"""
import argparse
import ctypes
import json
import os
import sys
import time
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_void_p

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.secure_path_cost import fastest_us  # noqa: E402

_EVP_PKEY_ED25519 = 1087             # NID_ED25519


class Ed25519:
    """One Ed25519 key pair in OpenSSL (RFC 8032), signing and checking."""

    def __init__(self, lib) -> None:
        for name, restype, argtypes in (
                ("EVP_PKEY_new_raw_private_key", c_void_p, (c_int, c_void_p, c_char_p, c_size_t)),
                ("EVP_MD_CTX_new", c_void_p, ()),
                ("EVP_DigestSignInit", c_int, (c_void_p, c_void_p, c_void_p, c_void_p, c_void_p)),
                ("EVP_DigestSign", c_int, (c_void_p, c_char_p, POINTER(c_size_t), c_char_p,
                                           c_size_t)),
                ("EVP_DigestVerifyInit", c_int, (c_void_p, c_void_p, c_void_p, c_void_p,
                                                 c_void_p)),
                ("EVP_DigestVerify", c_int, (c_void_p, c_char_p, c_size_t, c_char_p, c_size_t))):
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        self.lib = lib
        self.key = c_void_p(lib.EVP_PKEY_new_raw_private_key(_EVP_PKEY_ED25519, None,
                                                             os.urandom(32), 32))
        self.ctx = c_void_p(lib.EVP_MD_CTX_new())
        self.signature = ctypes.create_string_buffer(64)
        self.length = c_size_t(64)

    def sign(self, message: bytes) -> bytes:
        lib = self.lib
        self.length.value = 64
        if (lib.EVP_DigestSignInit(self.ctx, None, None, None, self.key) != 1
                or lib.EVP_DigestSign(self.ctx, self.signature, byref(self.length), message,
                                      len(message)) != 1):
            raise RuntimeError("OpenSSL failed to sign")
        return self.signature.raw

    def verify(self, signature: bytes, message: bytes) -> bool:
        lib = self.lib
        if lib.EVP_DigestVerifyInit(self.ctx, None, None, None, self.key) != 1:
            raise RuntimeError("OpenSSL failed to start a check")
        return lib.EVP_DigestVerify(self.ctx, signature, 64, message, len(message)) == 1


def measure(n: int, size: int, repeat: int) -> dict:
    from app.core import noise
    from app.core.secure_session import Transport
    from app.net import libcrypto

    def cipher(secret: bytes) -> "noise.CipherState":
        state = noise.CipherState(libcrypto.Aead)
        state.initialize_key(secret)
        return state

    sessions = [Transport((cipher(os.urandom(32)), cipher(os.urandom(32))), 1000 + i)
                for i in range(n)]
    data = os.urandom(size)
    signer = Ed25519(libcrypto._lib())
    room = libcrypto.Aead(os.urandom(32))
    ids = [(1000 + i).to_bytes(4, "big") for i in range(n)]
    rounds = max(1, 20000 // n)

    def per_member():
        start = time.process_time()
        for _ in range(rounds):
            for session in sessions:
                session.seal(data)
        return time.process_time() - start, rounds * n

    counter = [0]

    def room_key():
        start = time.process_time()
        for _ in range(rounds):
            counter[0] += 1
            header = b"\x02\x09" + counter[0].to_bytes(8, "big")
            sealed = room.seal_trusted(bytes(4) + counter[0].to_bytes(8, "little"), data,
                                       header, header)
            body = sealed + signer.sign(sealed)
            copies = [member + body for member in ids]
        del copies
        return time.process_time() - start, rounds * n

    message = os.urandom(size + 26)
    signature = signer.sign(message)
    if not signer.verify(signature, message) or signer.verify(signature, message + b"x"):
        raise RuntimeError("Ed25519 check is wrong: not timed")

    def sign():
        start = time.process_time()
        for _ in range(2000):
            signer.sign(message)
        return time.process_time() - start, 2000

    def verify():
        start = time.process_time()
        for _ in range(2000):
            signer.verify(signature, message)
        return time.process_time() - start, 2000

    return {"n": n, "size": size, "per_member_us": fastest_us(per_member, repeat),
            "room_key_us": fastest_us(room_key, repeat), "sign_us": fastest_us(sign, repeat),
            "verify_us": fastest_us(verify, repeat)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    for n in args.n or [100, 1000]:
        print(json.dumps(measure(n, args.size, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
