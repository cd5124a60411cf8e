"""The secure server's own cost per datagram, in process: what it adds to the Hub.

    python3 -m bench.secure_path_cost [--n 100] [--repeat 9] [--app-root DIR]

A SecureServer in front of a stand-in Hub that does nothing (so only the
secure layer is timed) holds `n` established sessions; measured, in the
process's CPU time, fastest of `repeat` loops (as timeit does):

- receive: a member's 24-byte RECORD (an ack's size) through
  SecureServer.receive, the way the server's loop hands it over, up to the
  Hub's on_datagram (the look-up, the checks, the replay window, the AEAD);
- take_output: one 150-byte datagram per member sealed into a RECORD, a
  fan-out's way (SecureServer.take_output);
- the five EVP calls of one seal alone, and a ctypes call of libc's abs(),
  for the floor under both;
- the same seal in OpenSSL's TLS record mode (three calls; a different
  record layout, RFC 7905's), to know what such a wire change would save.

With --app-root the checkout's app/ is measured (run it from this one).
docs/PERFORMANCE.md "Secure sessions: cost, third pass".
"""
import argparse
import json
import os
import struct
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Config:
    max_sessions = 10000
    max_per_ip = 0


class _Hub:
    """What SecureServer needs of a Hub, doing nothing."""

    def __init__(self) -> None:
        self.config, self.stats, self.by_addr, self.out = _Config(), {}, {}, []
        self.identify = None

    def on_datagram(self, now, data, addr) -> None:
        pass

    def malformed(self, now, addr, why) -> None:
        raise AssertionError("the bench's own record was refused: %s" % why)

    def take_output(self, limit=-1):
        return list(self.out)


def fastest_us(run, repeat: int) -> float:
    """µs per item of the fastest of `repeat` runs of run() -> (seconds, items)."""
    best = float("inf")
    for _ in range(repeat):
        seconds, count = run()
        best = min(best, seconds / count)
    return round(best * 1e6, 3)


def measure(n: int, repeat: int) -> dict:
    import ctypes
    from ctypes import byref

    from app.core import noise, secure_server
    from app.core.secure_session import Transport
    from app.net import libcrypto, primitives

    hub = _Hub()
    server = secure_server.SecureServer(hub, primitives.LibcryptoSuite(None),
                                        primitives.new_keypair(), os.urandom(32), False, 0.0)
    clients = []
    for i in range(n):
        to_client, to_server = os.urandom(32), os.urandom(32)

        def key(secret: bytes) -> "noise.CipherState":
            state = noise.CipherState(libcrypto.Aead)
            state.initialize_key(secret)
            return state
        index = 1000 + i
        mine = Transport((key(to_client), key(to_server)), 5000 + i)
        theirs = Transport((key(to_server), key(to_client)), index)
        addr = ("10.0.%d.%d" % (i // 250, i % 250 + 1), 40000 + i)
        peer = secure_server.Peer(index, mine, addr, 0.0, bytes(16), bytes(32), bytes(32))
        server.peers[index] = peer
        hub.by_addr[peer.hub_addr] = True
        hub.out.append((b"r" * 150, peer.hub_addr))
        clients.append((theirs, addr))

    def receive():
        records = [(theirs.seal(bytes(24)), addr) for _ in range(20) for theirs, addr in clients]
        start = time.process_time()
        for data, addr in records:
            server.receive(1.0, data, addr)
        return time.process_time() - start, len(records)

    def take_output():
        start = time.process_time()
        for _ in range(20):
            server.take_output()
        return time.process_time() - start, 20 * n

    space = libcrypto._main_space
    calls = libcrypto._Calls(libcrypto._lib())
    ctx, buffer, outlen = space.context(1), space.buffer, space.outlen
    secret, nonce, header, text = os.urandom(32), bytes(12), bytes(16), b"r" * 150

    def evp():
        init, update, final, ctrl = calls.init, calls.update, calls.final, calls.ctrl
        start = time.process_time()
        for _ in range(2000):
            init(ctx, None, None, secret, nonce, 1)
            update(ctx, None, outlen, header, 16)
            update(ctx, byref(buffer, 16), outlen, text, 150)
            final(ctx, byref(buffer, 166), outlen)
            ctrl(ctx, 0x10, 16, byref(buffer, 166))
        return time.process_time() - start, 2000

    # OpenSSL's TLS record mode (RFC 7905's ChaCha20-Poly1305 record): the
    # 13-byte TLS associated data in one ctrl, then one EVP_Cipher call that
    # encrypts and appends the tag; the nonce is the IV given at init XOR the
    # sequence number in that associated data. Three calls (the key and IV set
    # at each call, as the record layer must for one context shared by every
    # session) instead of five. Timed to see what a wire change to it would
    # save; the product does not use it (docs/SECURITY.md, item 9).
    pydll = ctypes.PyDLL(getattr(libcrypto._lib(), "_name", "libcrypto"),
                         handle=libcrypto._lib()._handle)
    evp_cipher, ctrl = pydll.EVP_Cipher, calls.ctrl
    evp_cipher.restype = ctypes.c_int
    tls_aad = struct.pack("!QBHH", 7, 23, 0x0303, len(text))
    tls_in = text + bytes(16)                # EVP_Cipher's input has room for the tag

    def tls_seal() -> None:
        if (calls.init(ctx, None, None, secret, nonce, 1) != 1
                or ctrl(ctx, 0x16, 13, tls_aad) != 16          # EVP_CTRL_AEAD_TLS1_AAD
                or evp_cipher(ctx, buffer, tls_in, len(tls_in)) != len(tls_in)):
            raise RuntimeError("OpenSSL's TLS mode refused")

    rfc7905_nonce = nonce[:4] + (int.from_bytes(nonce[4:], "big") ^ 7).to_bytes(8, "big")
    tls_seal()
    if buffer.raw[:len(tls_in)] != libcrypto.Aead(secret).seal(rfc7905_nonce, text, tls_aad):
        raise RuntimeError("TLS mode does not give RFC 7905's record: not timed")

    def tls_mode():
        start = time.process_time()
        for _ in range(2000):
            tls_seal()
        return time.process_time() - start, 2000

    libc_abs = ctypes.PyDLL(None).abs

    def ctypes_call():
        start = time.process_time()
        for _ in range(20000):
            libc_abs(1)
        return time.process_time() - start, 20000

    return {"n": n, "receive_us_per_record": fastest_us(receive, repeat),
            "take_output_us_per_datagram": fastest_us(take_output, repeat),
            "five_evp_calls_us": fastest_us(evp, repeat),
            "tls_mode_three_calls_us": fastest_us(tls_mode, repeat),
            "ctypes_call_us": fastest_us(ctypes_call, repeat)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--app-root", default="", help="measure another checkout's app/")
    args = parser.parse_args(argv)
    if args.app_root:
        sys.path.insert(0, os.path.abspath(args.app_root))
    print(json.dumps(measure(args.n, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
