"""The attacks of issue 17 on a real server, with a quiet member's figures.

    python3 bench/attacks.py [--root DIR] [--seconds 10] [--n 400] [ATTACK ...]
    ATTACK: none crowd flood32 fill who-storm never-ack evasion (default: all)

Runs in a network namespace of its own (`unshare -n`, needs root; nothing on
the machine's own network changes): the loopback device there carries
10.9.0.0/16 and a few fd09:: addresses, so every simulated host sends from an
address of its own that is NOT loopback (the server's own machine is exempt
from the limits per person). The server is the product's (`python3 -m app
server --headless --bind ::`) from `--root` (default: this checkout; give an
older checkout for the "before" figures); the clients are this checkout's
ClientConnection (secure sessions, a key pair each unless said otherwise).

During each attack quiet members on addresses of their own talk: four say a
timestamped line every 250 ms each, B measures when each arrives. Printed per
attack: the attack's own figures, then the quiet members' line p50/p99/max,
how many of their lines B never got, and when the slowest were said. The attackers run in a child process
(their Python work is not in the quiet pair's latency).

  none       no attack: the quiet members alone (this machine's floor)
  crowd      no attack: N members (as who-storm's) that acknowledge as
             clients do: what a room of that size costs the quiet members
  flood32    32 sessions from one address say lines as fast as they can:
             lines/s that reach the room from that address
  fill       one host with 6 addresses opens sessions until refused, in a room
             of 150 (--max-clients 150); then a class of 10 (one address
             each) joins: how many got in
  who-storm  N members (N/25 per address) each ask for the member list once
             and never acknowledge anything: bytes the server sent them, the
             server's RSS growth, how many it dropped
  never-ack  N members that never acknowledge while the room talks (pings
             keep them alive): as above
  evasion    lisi (one key) is kicked from the console; she comes back
             under a new name from the same address, from another address of
             her machine (same key), and with a new key from there
"""
import argparse
import multiprocessing
import os
import pathlib
import selectors
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import procs, pyspy  # noqa: E402
from bench.swarms import _MemberSecurity  # noqa: E402

SERVER_V4, SERVER_V6 = "10.9.0.1", "fd09::1"
V6_HOSTS = ["fd09::%x" % i for i in range(2, 10)]   # (any of fd09::/64 would do)
NETNS_FLAG = "CHAT_ATTACKS_NETNS"
ATTACKS = ("none", "crowd", "flood32", "fill", "who-storm", "never-ack", "evasion")


# ------------------------------------------------------------------ namespace

def enter_namespace(argv) -> int:
    """Run this script again in a private network namespace; its exit code."""
    env = dict(os.environ, **{NETNS_FLAG: "1"})
    return subprocess.call(["unshare", "-n", sys.executable, os.path.abspath(__file__)] + argv,
                           env=env)


def setup_namespace() -> None:
    """Any address of 10.9.0.0/16 and fd09::/64 is this machine's (a "local"
    route), and the server's address is the source of what goes back to them
    (a connected client hears only its server's address)."""
    for command in (["ip", "link", "set", "lo", "up"],
                    ["ip", "addr", "add", SERVER_V4 + "/32", "dev", "lo"],
                    ["ip", "route", "add", "local", "10.9.0.0/16", "dev", "lo", "src", SERVER_V4],
                    ["ip", "-6", "addr", "add", SERVER_V6 + "/128", "dev", "lo", "nodad"],
                    ["ip", "-6", "route", "add", "local", "fd09::/64", "dev", "lo",
                     "src", SERVER_V6]):
        subprocess.run(command, check=True)


class _FreebindSockets:
    """client_net's `socket` module, but IPv6 sockets may bind any fd09::
    address (IPV6_FREEBIND: Linux binds an IPv6 "local" route's address only so)."""
    IPV6_FREEBIND = 78

    def __getattr__(self, name):
        return getattr(socket, name)

    def socket(self, family, kind):
        sock = socket.socket(family, kind)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, self.IPV6_FREEBIND, 1)
        return sock


# ------------------------------------------------------------------ server

class Server:
    def __init__(self, root: str, extra=()) -> None:
        self.port = procs.free_port()
        self.tmp = tempfile.mkdtemp(prefix="attacks-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "server", "--headless", "--port", str(self.port),
             "--bind", "::"] + list(extra), cwd=root, stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, "stderr"), "w"),
            env=dict(os.environ, **procs.private_dirs(self.tmp)))
        deadline = time.monotonic() + 10
        while not procs.listening(self.port, "udp6"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start: %s" % open(
                    os.path.join(self.tmp, "stderr")).read()[-1500:])
            time.sleep(0.02)

    def admin(self, line: str) -> None:
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def rss_mib(self) -> float:
        pids = [self.proc.pid] + procs.children(self.proc.pid)
        return max(procs.status(pid).get("VmRSS", 0) for pid in pids) / 1024

    def stop(self) -> None:
        procs.stop_pids([self.proc.pid] + procs.children(self.proc.pid))
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------------ clients

_SHARED = None


def client(port: int, name: str, source: str, static=None):
    """A secure client from `source`, with key pair `static` (a new one if None)."""
    global _SHARED
    from app.net import client_net, identity, primitives
    if _SHARED is None:
        _SHARED = identity.client_security(None, insecure=False, accept_new_key=True)
        client_net.socket = _FreebindSockets()
    security = _MemberSecurity(_SHARED, static or primitives.new_keypair())
    server = SERVER_V6 if ":" in source else SERVER_V4
    return client_net.ClientConnection(server, port, name, time.monotonic(),
                                       security=security, source=source)


class Pump:
    """One selector over many clients: their datagrams and their timers."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.conns = []

    def add(self, conn) -> None:
        self.sel.register(conn.fileno(), selectors.EVENT_READ, conn)
        self.conns.append(conn)

    def run(self, seconds: float, on_event=None) -> None:
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= end:
                break
            timeout = min([c.tick(now) for c in self.conns] + [end - now, 0.005])
            for key, _ in self.sel.select(max(0.0, timeout)):
                key.data.on_readable(time.monotonic())
            for conn in self.conns:
                events = conn.take_events()
                if on_event:
                    for event in events:
                        on_event(conn, event)

    def joined(self) -> int:
        from app.core import client_core
        return sum(c.state == client_core.JOINED for c in self.conns)

    def close(self) -> None:
        for conn in self.conns:
            conn.sock.close()
        self.sel.close()


def stop_acking(conn) -> None:
    """From now on this client acknowledges nothing (it still pings)."""
    for stream in (conn.core.stream, conn.core.room_stream):
        if stream is not None:
            stream.take_ack_fields = lambda: (0, 0)


def count_bytes(conn, counter) -> None:
    """Add the size of every datagram the client takes to counter[0]."""
    take = conn.front.on_datagram

    def counted(now, data):
        counter[0] += len(data)
        take(now, data)
    conn.front.on_datagram = counted


# ------------------------------------------------------------------ attackers

def _flood32(port, seconds, n, report):
    pump = Pump()
    for i in range(32):
        pump.add(client(port, "flood%02d" % i, "10.9.2.1"))
    pump.run(3.0)
    report.put(("joined", pump.joined()))
    end = time.monotonic() + seconds
    count = 0
    while time.monotonic() < end:
        for conn in pump.conns:
            for _ in range(5):
                conn.say("flood %d" % count)
                count += 1
        pump.run(0.02)
    pump.close()


def _fill(port, seconds, n, report):
    pump = Pump()
    sources = ["10.9.3.%d" % i for i in range(1, 7)]
    for i in range(240):                     # 40 an address, 6 addresses
        pump.add(client(port, "fill%03d" % i, sources[i % 6]))
        if i % 20 == 19:
            pump.run(0.05)
    pump.run(3.0)
    report.put(("joined", pump.joined()))
    pump.run(seconds)
    pump.close()


def _deaf_members(port, seconds, n, report, ask, deaf=True):
    """n members that never acknowledge; `ask`: each asks for the member list
    once; not `deaf`: they acknowledge as clients do (a control: the room's
    size alone)."""
    pump = Pump()
    for i in range(n):
        pump.add(client(port, "deaf%04d" % i, "10.9.6.%d" % (1 + i // 25)))
        if i % 25 == 24:
            pump.run(0.05)
    pump.run(3.0)
    report.put(("joined", pump.joined()))
    received = [0]
    for conn in pump.conns:
        if deaf:
            stop_acking(conn)
        count_bytes(conn, received)
        if ask:
            conn.core.who()
    from app.core import protocol
    dropped = set()

    def note(conn, event) -> None:
        if conn.core.farewell is not None and conn.core.farewell[0] == protocol.BYE_DROPPED:
            dropped.add(id(conn))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pump.run(0.5, note)
        for conn in pump.conns:
            note(conn, None)
    report.put(("bytes", received[0]))
    report.put(("dropped", len(dropped)))
    pump.close()


def _who_storm(port, seconds, n, report):
    _deaf_members(port, seconds, n, report, ask=True)


def _never_ack(port, seconds, n, report):
    _deaf_members(port, seconds, n, report, ask=False)


def _crowd(port, seconds, n, report):
    _deaf_members(port, seconds, n, report, ask=False, deaf=False)


def _none(port, seconds, n, report):
    """No attack: the quiet members' figures on this machine as it is now."""
    time.sleep(seconds)


ATTACKERS = {"none": _none, "crowd": _crowd, "flood32": _flood32, "fill": _fill, "who-storm": _who_storm,
             "never-ack": _never_ack}


# ------------------------------------------------------------------ quiet pair

class Quiet:
    """Four quiet speakers (an address each) say a timestamped line every
    250 ms, staggered (16 lines/s in all: enough lines that p99 is not just
    the slowest one); a listener on an address of its own times them."""
    SPEAKERS = 4

    def __init__(self, port: int) -> None:
        self.speakers = [client(port, "quietA%d" % i, "10.9.1.%d" % (i + 1))
                         for i in range(self.SPEAKERS)]
        self.a = self.speakers[0]
        self.b = client(port, "quietB", "10.9.1.100")
        self.pump = Pump()
        for conn in self.speakers + [self.b]:
            self.pump.add(conn)
        self.latencies = []
        self.got = set()
        self.sent = 0
        self.floods = 0
        self.slow = []                 # (latency, when it was said, s after start)
        self.pump.run(2.0)
        self.start = time.monotonic()

    def _on_event(self, conn, event) -> None:
        text = getattr(event, "text", "")
        if conn is self.b and text.startswith("q "):
            _, seq, sent = text.split()
            self.got.add(int(seq))
            self.latencies.append(time.monotonic() - float(sent))
            self.slow.append((time.monotonic() - float(sent), float(sent) - self.start))
        elif conn is self.b and text.startswith("flood "):
            self.floods += 1

    def talk(self, seconds: float, watch=None) -> None:
        end = time.monotonic() + seconds
        step = 0.25 / self.SPEAKERS
        while time.monotonic() < end:
            for speaker in self.speakers:           # 4 lines/s each: under the 5/s budget
                speaker.say("q %d %.6f" % (self.sent, time.monotonic()))
                self.sent += 1
                self.pump.run(step, self._on_event)
            if watch:
                watch()

    def figures(self) -> str:
        self.pump.run(3.0, self._on_event)           # what is late still counts
        lat = sorted(self.latencies)
        if not lat:
            return "quiet: no line arrived (%d sent)" % self.sent
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
        worst = sorted(self.slow, reverse=True)[:4]
        return "quiet: %d lines, p50 %.1f ms, p99 %.1f ms, max %.1f ms, lost %d (slowest: %s)" % (
            self.sent, pick(0.5), pick(0.99), lat[-1] * 1000, self.sent - len(self.got),
            ", ".join("%.0f ms at %.1f s" % (late * 1000, at) for late, at in worst))


# ------------------------------------------------------------------ runs

def run_attack(name: str, root: str, seconds: float, n: int, spy: str = "",
               extra=()) -> None:
    extra = (["--max-clients", "150"] if name == "fill" else []) + list(extra)
    server = Server(root, extra)
    try:
        quiet = Quiet(server.port)
        sampler = pyspy.record(server.proc.pid, seconds + 4.0, os.path.join(
            spy, "%s.raw" % name)) if spy else None
        rss0 = server.rss_mib()
        report = multiprocessing.Queue()
        child = multiprocessing.Process(target=ATTACKERS[name],
                                        args=(server.port, seconds, n, report))
        child.start()
        peak = [rss0]
        quiet.talk(seconds + 4.0, lambda: peak.append(server.rss_mib()))
        pyspy.finish(sampler)
        child.join(timeout=seconds + 60)
        found = {}
        while not report.empty():
            key, value = report.get()
            found[key] = value
        line = ["%s:" % name]
        if name == "flood32":
            line.append("%d flooding sessions joined, %.1f lines/s from their address reached "
                        "the room" % (found.get("joined", 0), quiet.floods / (seconds + 4.0)))
        elif name == "fill":
            klass = Pump()
            for i in range(10):
                klass.add(client(server.port, "student%d" % i, "10.9.5.%d" % (i + 1)))
            klass.run(5.0)
            line.append("one host (6 addresses) holds %d of 150 seats; a class of 10 then: "
                        "%d joined" % (found.get("joined", 0), klass.joined()))
            klass.close()
        elif name == "none":
            line.append("no attack")
        else:
            line.append("%d of %d joined; %.1f MB sent to them in %.0f s; server RSS %+.0f MiB "
                        "(peak); %d dropped by the server" % (
                            found.get("joined", 0), n, found.get("bytes", 0) / 1e6, seconds,
                            max(peak) - rss0, found.get("dropped", 0)))
        print(" ".join(line))
        print("  " + quiet.figures())
        sys.stdout.flush()
    finally:
        server.stop()


def run_evasion(root: str) -> None:
    from app.core import client_core
    from app.net import primitives
    server = Server(root)
    try:
        quiet = Quiet(server.port)
        key = primitives.new_keypair()
        lisi = client(server.port, "lisi", "10.9.4.1", key)
        pump = Pump()
        pump.add(lisi)
        pump.run(2.0)
        assert lisi.state == client_core.JOINED, lisi.state
        server.admin("/kick lisi")
        pump.run(1.0)
        results = []
        for label, name, source, static in (
                ("same address, new name", "lisi2", "10.9.4.1", key),
                ("IPv6 address of her machine, same key", "lisi3", V6_HOSTS[0], key),
                ("IPv6 address, a new key", "lisi4", V6_HOSTS[1], None)):
            conn = client(server.port, name, source, static)
            one = Pump()
            one.add(conn)
            one.run(3.0)
            results.append("%s: %s" % (label, "joined" if conn.state == client_core.JOINED
                                       else "refused"))
            one.close()
        print("evasion: after /kick lisi -> " + "; ".join(results))
        quiet.talk(1.0)
        print("  " + quiet.figures())
    finally:
        server.stop()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("attacks", nargs="*", metavar="ATTACK", help=" ".join(ATTACKS))
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose server runs")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--n", type=int, default=400, help="members of who-storm, never-ack")
    parser.add_argument("--spy", default="", metavar="DIR",
                        help="sample the server with py-spy into DIR/ATTACK.raw "
                             "(python3 -m bench.pyspy DIR/ATTACK.raw summarises)")
    args = parser.parse_args(argv)
    unknown = set(args.attacks) - set(ATTACKS)
    if unknown:
        parser.error("no such attack: %s (choose from %s)" % (", ".join(sorted(unknown)),
                                                             ", ".join(ATTACKS)))
    if os.environ.get(NETNS_FLAG) != "1":
        return enter_namespace(argv)
    setup_namespace()
    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="attacks-config-"))
    print("server from %s" % args.root)
    for name in args.attacks or ATTACKS:
        if name == "evasion":
            run_evasion(args.root)
        else:
            run_attack(name, args.root, args.seconds, args.n, args.spy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
