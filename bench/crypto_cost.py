"""What the secure sessions' primitives cost, one call at a time.

    python3 -m bench.crypto_cost [--repeat 5] [--ops 100000] [--json] [--quick]

µs per ChaCha20-Poly1305 seal and open (app.net.libcrypto.Aead) at 100 and
1200 bytes with a 16-byte header as associated data; per X25519 (one DH, and
one fresh key pair); per complete Noise XX and XXpsk3 handshake (both sides,
key generation included); today's HMAC-SHA256 datagram tag for comparison;
and a whole RECORD as the server makes and reads one per datagram
(secure_session.Transport: seal = header + AEAD; open = decode_record, the
replay window and the AEAD). Each figure is the fastest of `repeat` timed
loops (as timeit does), in the process's CPU time: the slower ones measure
the other sessions on a shared machine, not the code.

Then the resident set's drift over `ops` operations (after a warm-up of a
quarter as many): new Aead + seal + open, and key pair + X25519. A leaked
OpenSSL object (~0.5-1 KiB each) would show as tens of MiB.
"""
import argparse
import hmac
import json
import os
import platform
import ssl
import sys
import time
from typing import Callable, Dict, List

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.core import noise, secure_wire  # noqa: E402
from app.core.secure_session import Transport  # noqa: E402
from app.net import libcrypto  # noqa: E402

HEADER = bytes(range(16))
NONCE = bytes(12)
PSK = bytes(32)
SCALE = 1.0        # --quick: a hundredth of the calls (a smoke run, not a measurement)


def per_call_us(function: Callable[[], object], calls: int, repeat: int) -> float:
    calls = max(1, int(calls * SCALE))
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(calls):
            function()
        best = min(best, time.process_time() - start)
    return best / calls * 1e6


def handshake(name: str, psk: bytes = b"") -> Callable[[], object]:
    dh = libcrypto.X25519Dh()
    s_i, s_r = libcrypto.x25519_keypair(), libcrypto.x25519_keypair()

    def run() -> object:
        initiator = noise.HandshakeState(name, True, dh, libcrypto.Aead, s=s_i,
                                         psk=psk or None)
        responder = noise.HandshakeState(name, False, dh, libcrypto.Aead, s=s_r,
                                         psk=psk or None)
        responder.read_message(initiator.write_message())
        initiator.read_message(responder.write_message())
        responder.read_message(initiator.write_message())
        return initiator.split(), responder.split()
    return run


def record_timings(repeat: int) -> Dict[str, float]:
    """A RECORD sealed and opened as the server does per datagram; the opens
    go through fresh counters (a replayed one would stop at the window)."""
    keys = bytes(range(32)), bytes(range(1, 33))

    def transport(a: bytes, b: bytes) -> Transport:
        return Transport((noise.CipherState(libcrypto.Aead, a),
                          noise.CipherState(libcrypto.Aead, b)), 7)
    results = {}
    for size in (100, 1200):
        inner = bytes(size)
        sender, receiver = transport(*keys), transport(*keys[::-1])
        results["record seal %d B" % size] = per_call_us(lambda: sender.seal(inner),
                                                         20000, repeat)
        records = iter([sender.seal(inner) for _ in range(int(20000 * SCALE) * repeat + 1)])

        def read() -> object:
            _, counter, header, ciphertext = secure_wire.decode_record(next(records))
            return receiver.open(counter, header, ciphertext)
        results["record open %d B" % size] = per_call_us(read, 20000, repeat)
    return results


def timings(repeat: int) -> Dict[str, float]:
    aead = libcrypto.Aead(bytes(range(32)))
    results = {}
    for size in (100, 1200):
        plaintext = bytes(size)
        sealed = aead.seal(NONCE, plaintext, HEADER)
        results["aead seal %d B" % size] = per_call_us(
            lambda: aead.seal(NONCE, plaintext, HEADER), 20000, repeat)
        results["aead open %d B" % size] = per_call_us(
            lambda: aead.open(NONCE, sealed, HEADER), 20000, repeat)
        datagram = HEADER + plaintext
        results["hmac-sha256 tag %d B (today's)" % size] = per_call_us(
            lambda: hmac.digest(PSK, datagram, "sha256")[:16], 20000, repeat)
    results.update(record_timings(repeat))
    results["aead new (per key)"] = per_call_us(
        lambda: libcrypto.Aead(PSK), 5000, repeat)
    private, public = libcrypto.x25519_keypair()
    results["x25519 (one DH)"] = per_call_us(
        lambda: libcrypto.x25519(private, public), 2000, repeat)
    results["x25519 key pair"] = per_call_us(libcrypto.x25519_keypair, 2000, repeat)
    results["XX handshake (both sides)"] = per_call_us(
        handshake("Noise_XX_25519_ChaChaPoly_SHA256"), 300, repeat)
    results["XXpsk3 handshake (both sides)"] = per_call_us(
        handshake("Noise_XXpsk3_25519_ChaChaPoly_SHA256", PSK), 300, repeat)
    return results


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def rss_drift(ops: int) -> Dict[str, List[int]]:
    def aead_lifecycle() -> None:
        aead = libcrypto.Aead(PSK)
        aead.open(NONCE, aead.seal(NONCE, bytes(1200), HEADER), HEADER)

    def exchange() -> None:
        private, _ = libcrypto.x25519_keypair()
        libcrypto.x25519(private, libcrypto.x25519_public(PSK))

    drift = {}
    for name, operation in (("new Aead + seal + open", aead_lifecycle),
                            ("key pair + X25519", exchange)):
        for _ in range(ops // 4):
            operation()
        before = rss_kib()
        for _ in range(ops):
            operation()
        drift[name] = [before, rss_kib()]
    return drift


def machine() -> Dict[str, str]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"nproc": str(os.cpu_count()), "cpu": model,
            "python": platform.python_version(), "openssl": ssl.OPENSSL_VERSION}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ops", type=int, default=100000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    global SCALE
    SCALE = 0.01 if args.quick else 1.0
    if not libcrypto.available():
        print("crypto_cost: %s" % libcrypto.why_unavailable(), file=sys.stderr)
        return 1
    report = {"machine": machine(), "us_per_call": timings(args.repeat),
              "rss_kib_before_after": rss_drift(args.ops), "ops": args.ops}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print("machine: %(nproc)s cores, %(cpu)s, Python %(python)s, %(openssl)s"
          % report["machine"])
    for name, us in report["us_per_call"].items():
        print("%-34s %8.2f µs" % (name, us))
    for name, (before, after) in report["rss_kib_before_after"].items():
        print("RSS over %d × %-24s %d -> %d KiB (%+d KiB)"
              % (args.ops, name, before, after, after - before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
