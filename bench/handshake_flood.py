"""Handshake floods against a real secure server, and what a member sees meanwhile
(issue 16, item 6).

    python3 -m bench.handshake_flood [--seconds 10] [--flooders 2] [--sources 65536]
                                     [--phases none,spoofed,cookie] [--app-root DIR]...
                                     [--rounds R] [--no-pin] [--server-nice N] [--json]

One server (procs.Server, the product's default: secure sessions) per phase.
A quiet member (bench/swarms.py's OursSwarm: the project's own client, secure)
says a timestamped line every 250 ms (under the 5/s per-person limit) and
times its own line's echo: from just before the send to the kernel's arrival
stamp on its socket (SO_TIMESTAMPNS), so the member's own scheduling under the
flood is not counted. One second into the flood `--newcomers` more clients
start to join; the table says how many got in and when the last one did.

Phases:
  none     no flood.
  spoofed  `--flooders` processes send INITs without a cookie as fast as they
           can, each datagram from the next of `--sources` random addresses in
           127.0.0.0/8 (IP_PKTINFO sets the source; Linux routes the whole /8
           to lo): to the server, that many hosts, more than its table of
           per-host INIT buckets holds, so no per-host budget holds them. Their
           CHALLENGEs go to ports nobody listens on. (A flood with forged
           sources off the machine costs the server the same.)
  cookie   one host (127.0.0.9: loopback, like the member and the newcomers,
           127.0.0.1) runs handshakes as fast as it can: INIT, the CHALLENGE's
           cookie, INIT again with the cookie and a fresh ephemeral key, each
           one public-key work for the server if its budgets let it. Counted:
           the RESPONSEs it got (handshakes the server did for it).

Pinned (unless --no-pin): the server alone on CPU 0; flooders, member and
newcomers on the other CPU(s), as on a LAN where the attacker's machine is
not the server. Prints a Markdown table; --json the numbers.
"""
import argparse
import json
import math
import multiprocessing
import os
import random
import selectors
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import time
from typing import Dict, List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import procs  # noqa: E402
from bench.run_all import fmt, table  # noqa: E402

PHASES = ("none", "spoofed", "cookie")
LINE_EVERY = 0.25            # the member's lines: 4/s, under the per-person limit
COOKIE_HOST = "127.0.0.9"
INIT_E = 32                  # Noise message 1 of XX: the ephemeral key alone


# ------------------------------------------------------------------ flooders

def _init(nonce: bytes, cookie: bytes, e: bytes) -> bytes:
    from app.core import secure_wire
    return secure_wire.encode_init(0, nonce, cookie, random.randrange(1, 1 << 32), e)


def _source_addresses(count: int, seed: int) -> List[str]:
    """`count` distinct addresses in 127.1.0.0 - 127.254.255.254."""
    rng = random.Random(seed)
    found: set = set()
    while len(found) < count:
        found.add("127.%d.%d.%d" % (rng.randrange(1, 255), rng.randrange(256),
                                    rng.randrange(1, 255)))
    return sorted(found)


def spoofed_flooder(port: int, until: float, sources: List[str], counter) -> None:
    """INITs without a cookie from one socket, each from the next of `sources`:
    IP_PKTINFO's ipi_spec_dst sets a datagram's source address, and every
    address of 127.0.0.0/8 is this machine's, so no privilege is needed. Sent
    with sendmmsg(2) 64 at a time where libc has it (one system call and no
    Python per datagram: the only way this machine's flooders pass ~200 000 a
    second), else one sendmsg() each."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # CHALLENGEs: dropped
    pktinfo = getattr(socket, "IP_PKTINFO", 8)
    datagram = _init(os.urandom(8), bytes(16), os.urandom(INIT_E))
    batch = _MmsgBatch.make(sock, port, datagram, sources, pktinfo)
    sent = 0
    if batch is not None:
        while time.monotonic() < until:
            sent += batch.send_all()
        counter.value = sent
        return
    ancillary = [[(socket.IPPROTO_IP, pktinfo,
                   struct.pack("=I4s4s", 0, socket.inet_aton(host), bytes(4)))]
                 for host in sources]
    server = ("127.0.0.1", port)
    sendmsg = sock.sendmsg
    while time.monotonic() < until:
        for each in ancillary:
            try:
                sendmsg([datagram], each, 0, server)
                sent += 1
            except OSError:
                pass
    counter.value = sent


class _MmsgBatch:
    """Every (source, INIT) message built once in C memory (struct mmsghdr with a
    cmsghdr + in_pktinfo each); send_all() hands them to sendmmsg 64 at a time."""
    BATCH = 64

    @classmethod
    def make(cls, sock, port, datagram, sources, pktinfo):
        import ctypes
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            sendmmsg = libc.sendmmsg
        except (OSError, AttributeError):
            return None
        return cls(ctypes, sendmmsg, sock, port, datagram, sources, pktinfo)

    def __init__(self, ctypes, sendmmsg, sock, port, datagram, sources, pktinfo):
        class IoVec(ctypes.Structure):
            _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

        class MsgHdr(ctypes.Structure):
            _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                        ("iov", ctypes.c_void_p), ("iovlen", ctypes.c_size_t),
                        ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                        ("flags", ctypes.c_int)]

        class MMsgHdr(ctypes.Structure):
            _fields_ = [("hdr", MsgHdr), ("len", ctypes.c_uint)]

        count = len(sources)
        self.keep = []                         # C buffers must outlive the calls
        name = ctypes.create_string_buffer(struct.pack("=HH4s8x", socket.AF_INET,
                                                       socket.htons(port),
                                                       socket.inet_aton("127.0.0.1")))
        body = ctypes.create_string_buffer(datagram, len(datagram))
        iov = IoVec(ctypes.addressof(body), len(datagram))
        space = 32                             # CMSG_SPACE(sizeof(struct in_pktinfo))
        control = ctypes.create_string_buffer(b"".join(
            struct.pack("=Qii", 28, socket.IPPROTO_IP, pktinfo)     # CMSG_LEN(12) = 28
            + struct.pack("=I4s4s", 0, socket.inet_aton(host), bytes(4)) + bytes(4)
            for host in sources))
        self.msgs = (MMsgHdr * count)()
        for i in range(count):
            hdr = self.msgs[i].hdr
            hdr.name, hdr.namelen = ctypes.addressof(name), 16
            hdr.iov, hdr.iovlen = ctypes.addressof(iov), 1
            hdr.control, hdr.controllen = ctypes.addressof(control) + i * space, space
        self.keep += [name, body, iov, control]
        self.base, self.size, self.count = ctypes.addressof(self.msgs), ctypes.sizeof(MMsgHdr), count
        self.fd, self.sendmmsg = sock.fileno(), sendmmsg
        sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]

    def send_all(self) -> int:
        """One pass over every source; how many datagrams the kernel took."""
        sent, sendmmsg, fd = 0, self.sendmmsg, self.fd
        for start in range(0, self.count, self.BATCH):
            took = sendmmsg(fd, self.base + start * self.size,
                            min(self.BATCH, self.count - start), 0)
            if took > 0:
                sent += took
        return sent


def cookie_flooder(port: int, until: float, counter, answered) -> None:
    """One host doing handshakes as fast as it can: every CHALLENGE is
    answered at once with an INIT that carries its cookie and a fresh
    ephemeral key; a batch of cookie-less INITs keeps CHALLENGEs coming."""
    from app.core import secure_wire
    from app.core.secure_wire import SecureType

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((COOKIE_HOST, 0))
    sock.setblocking(False)
    server = ("127.0.0.1", port)
    sent = responses = 0
    while time.monotonic() < until:
        for _ in range(32):
            sock.sendto(_init(os.urandom(8), bytes(16), os.urandom(INIT_E)), server)
            sent += 1
        for _ in range(256):
            try:
                data = sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                break
            if data[:4] == b"CZ\x02" + bytes([SecureType.CHALLENGE]):
                nonce, cookie = secure_wire.decode_challenge(data)
                sock.sendto(_init(nonce, cookie, os.urandom(INIT_E)), server)
                sent += 1
            elif data[:4] == b"CZ\x02" + bytes([SecureType.RESPONSE]):
                responses += 1
    counter.value = sent
    answered.value = responses


# ------------------------------------------------------------------ member

class Room:
    """The member and the newcomers: OursSwarms on one selector."""

    def __init__(self, port: int) -> None:
        from bench import swarms

        self.swarms = swarms
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.groups: list = []
        self.latencies: List[float] = []
        self.sent_at: Dict[str, float] = {}
        self.next_line = 0.0
        self.said = 0

    def add(self, ids: List[int]):
        swarm = self.swarms.OursSwarm(self.port, ids)
        swarm.start(time.monotonic())
        for sock, i in swarm.sockets():
            self.sel.register(sock, selectors.EVENT_READ, (swarm, i))
        self.groups.append(swarm)
        return swarm

    def run(self, until: float, member=None, stop=None) -> None:
        while True:
            now = time.monotonic()
            if now >= until or (stop is not None and stop()):
                return
            if member is not None and now >= self.next_line:
                self.said += 1
                text = "p%d" % self.said
                self.sent_at[text] = time.monotonic()
                member.send(0, text, now)
                self.next_line = now + LINE_EVERY
            wake = min([until, self.next_line if member is not None else until]
                       + [s.next_timer() for s in self.groups])
            for key, _ in self.sel.select(max(0.0, min(wake - time.monotonic(), 0.01))):
                swarm, i = key.data
                for text, arrived in swarm.readable(i, time.monotonic()):
                    if swarm is member and text in self.sent_at:
                        self.latencies.append(arrived - self.sent_at.pop(text))
            now = time.monotonic()
            for swarm in self.groups:
                swarm.run_timers(now)

    def close(self) -> None:
        for swarm in self.groups:
            swarm.close()
        self.sel.close()


def _quantile(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000.0


# ------------------------------------------------------------------ one phase

def run_phase(phase: str, seconds: float, flooders: int, sources: int, newcomers: int,
              app_root, pin: bool, nice: int = 0) -> dict:
    home = tempfile.mkdtemp(prefix="bench-flood-")
    os.environ.update(procs.private_dirs(home))          # the clients' keys: here
    server = procs.Server("ours", app_root=app_root, home=home).start()
    workers: list = []
    room = Room(server.port)
    try:
        if pin:
            server.pin()
            procs.pin_generator(os.getpid())
        for pid in procs.children(server.pid) if nice else ():
            os.setpriority(os.PRIO_PROCESS, pid, nice)
        member = room.add([0])
        room.run(time.monotonic() + 10.0, stop=lambda: member.joined(0))
        if not member.joined(0):
            raise RuntimeError("the member did not get in: %s" % server.stderr())
        room.run(time.monotonic() + 0.5, member)          # warm
        room.latencies.clear()
        room.sent_at.clear()
        until = time.monotonic() + seconds
        counters = []
        if phase == "spoofed":
            addresses = _source_addresses(sources, 16)
            for k in range(flooders):
                counters.append(multiprocessing.Value("q", 0, lock=False))
                workers.append(multiprocessing.Process(
                    target=spoofed_flooder,
                    args=(server.port, until, addresses[k::flooders], counters[-1])))
        elif phase == "cookie":
            counters.append(multiprocessing.Value("q", 0, lock=False))
            answered = multiprocessing.Value("q", 0, lock=False)
            workers.append(multiprocessing.Process(
                target=cookie_flooder, args=(server.port, until, counters[-1], answered)))
        for worker in workers:
            worker.start()
            if pin:
                procs.pin_generator(worker.pid)
        u0 = server.usage()
        drops0 = procs.udp_socket_drops(server.port)
        started = time.monotonic()
        room.run(min(until, started + 1.0), member)
        joiners = room.add(list(range(1, newcomers + 1))) if newcomers else None
        joined_at: Dict[int, float] = {}
        begun = time.monotonic()
        while time.monotonic() < until:
            room.run(min(until, time.monotonic() + 0.05), member)
            if joiners is not None:
                for i in range(newcomers):
                    if i not in joined_at and joiners.joined(i):
                        joined_at[i] = time.monotonic() - begun
        u1 = server.usage()
        measured = time.monotonic() - started
        drops = procs.udp_socket_drops(server.port) - drops0
        for worker in workers:
            worker.join(timeout=30)
        room.next_line = float("inf")                       # no more lines: the last echoes
        room.run(time.monotonic() + 1.0, member)
        elapsed = time.monotonic() - started
        flood = sum(c.value for c in counters)
        cpu = u1["cpu"] - u0["cpu"]
        result = {
            "phase": phase, "seconds": seconds, "secure": server.secure,
            "flood_per_s": flood / elapsed if counters else 0.0,
            # What the server spent per flood datagram it read (those the kernel
            # dropped at its socket cost it nothing): on a shared machine the
            # server may not get a whole core, and this still says what one
            # core absorbs, 1e6 / this a second. (Its own members' traffic is
            # in the CPU too: a few datagrams a second.)
            "server_us_per_flood_datagram": 1e6 * cpu / (flood - drops) if flood > drops
            else None,
            "handshakes_for_flooder": answered.value if phase == "cookie" else None,
            "server_cpu_pct": 100.0 * cpu / measured,
            "server_socket_drops": drops,
            "lines": len(room.latencies), "lost": len(room.sent_at),
            "p50_ms": _quantile(room.latencies, 0.5), "p99_ms": _quantile(room.latencies, 0.99),
            "max_ms": _quantile(room.latencies, 1.0),
            "newcomers": newcomers, "newcomers_in": len(joined_at),
            "last_newcomer_s": max(joined_at.values()) if len(joined_at) == newcomers
            and newcomers else None,
        }
    finally:
        for worker in workers:
            if worker.is_alive():
                procs.stop_pids([worker.pid])
        room.close()
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    return result


KEYS = ("flood_per_s", "handshakes_for_flooder", "server_cpu_pct", "server_socket_drops",
        "server_us_per_flood_datagram",
        "lines", "lost", "p50_ms", "p99_ms", "max_ms", "newcomers_in", "last_newcomer_s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--flooders", type=int, default=2)
    parser.add_argument("--sources", type=int, default=65536)
    parser.add_argument("--newcomers", type=int, default=5)
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--app-root", action="append", default=[],
                        help="the server's checkout (the clients are this one's); "
                             "several: each phase against each, interleaved")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run everything this many times; print every run and medians")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--server-nice", type=int, default=0, metavar="N",
                        help="run the server at this nice value (negative: root only): "
                             "on a shared machine, a server that gets its core as a "
                             "dedicated one would")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    roots = args.app_root or [str(procs.ROOT)]
    results = []
    for round_ in range(args.rounds):
        for phase in [p for p in args.phases.split(",") if p]:
            for root in roots:
                result = run_phase(phase, args.seconds, args.flooders, args.sources,
                                   args.newcomers, root, not args.no_pin, args.server_nice)
                result.update(root=root, round=round_ + 1)
                results.append(result)
                if args.rounds > 1 and not args.json:
                    print("round %d %s %s: %s" % (round_ + 1, phase, root, ", ".join(
                        "%s %s" % (k, fmt(result[k], 2)) for k in KEYS)), flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    rows = []
    for phase in dict.fromkeys(r["phase"] for r in results):
        for root in roots:
            mine = [r for r in results if r["phase"] == phase and r["root"] == root]
            rows.append([phase, root] + [fmt(_median([r[k] for r in mine], k), 2)
                                         for k in KEYS])
    print("\n%.0f s a phase, %s%s, %s\n" % (
        args.seconds, "unpinned" if args.no_pin else "server pinned to CPU 0",
        ", server at nice %d" % args.server_nice if args.server_nice else "",
        "median of %d interleaved rounds" % args.rounds if args.rounds > 1 else "one round"))
    print(table(["flood", "server"] + list(KEYS), rows))
    return 0


def _median(values, key=""):
    if key == "last_newcomer_s":          # None: not all got in, which is the longest
        middle = statistics.median([math.inf if v is None else v for v in values])
        return None if middle == math.inf else middle
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


if __name__ == "__main__":
    sys.exit(main())
