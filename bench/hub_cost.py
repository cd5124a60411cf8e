"""The pure core's fan-out cost, without sockets: CPU per delivery in the Hub.

    python3 -m bench.hub_cost [--n 100] [--lines 30] [--rounds 200] [--repeat 5] [--app-root DIR]
                              [--secure]

N ClientCores join a Hub in memory; each round 10 of them say `lines` lines
between them, the Hub fans them out, every client takes its datagrams and acks
as it would after ACK_DELAY. Only the Hub's work is timed (on_datagram for the
lines and the acks, flush, take_output), with time.process_time. The socket
costs (sendto, recvfrom) are not in it: together with the loaded runs of
bench.loadgen this tells the Python share of a delivery from the kernel's.
The run is repeated and the fastest kept (as timeit does): slower ones measure
the other work on a shared machine, not the code.
"""
import argparse
import json
import os
import random
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _SecureMember:
    """A ClientCore behind its SecureClient (as app/net/client_net.py builds
    one), in the ClientCore's shape that measure() drives."""

    def __init__(self, name: str, now: float, rng: random.Random) -> None:
        from app.core.client_core import ClientCore
        from app.core.secure_client import SecureClient
        from app.core.secure_session import client_token
        from app.net import primitives

        suite = primitives.LibcryptoSuite(None)
        static = primitives.new_keypair()
        run = suite.random(16)
        self.core = ClientCore(name, now, rng=rng, token=client_token(static[1], run))
        self.front = SecureClient(self.core, suite, static, run, lambda key: None, False, now)
        self.on_datagram, self.take_output = self.front.on_datagram, self.front.take_output
        self.tick = self.front.tick
        self.say, self.take_events = self.core.say, self.core.take_events

    @property
    def state(self) -> str:
        return self.core.state


def measure(n: int, lines: int, rounds: int, senders: int = 10, secure: bool = False) -> dict:
    """secure: the server is the secure layer in front of the Hub (SecureServer,
    every datagram sealed or opened with the real libcrypto), the clients
    SecureClients; only the server's work is timed, as without."""
    try:
        from app.core import client_core, hub, session
    except ImportError:            # --app-root of a checkout from before app/core (15)
        from app import client_core, hub, session  # type: ignore[no-redef]
    ClientCore, Hub, HubConfig = client_core.ClientCore, hub.Hub, hub.HubConfig

    # When every client's delayed ack is due (the clients' own delay where they have one).
    ack_delay = getattr(client_core, "CLIENT_ACK_DELAY", session.ACK_DELAY)
    now = 1000.0
    config = HubConfig(msg_rate=1e9, msg_burst=1e9, hold_cap=1 << 30, max_sessions=n + 10,
                       max_per_ip=n + 10, **({"addresses_verified": True} if secure else {}))
    hub = Hub(now, b"k" * 32, config, rng=random.Random(1))
    if secure:
        from app.core.secure_server import SecureServer
        from app.net import primitives

        hub = SecureServer(hub, primitives.LibcryptoSuite(None), primitives.new_keypair(),
                           os.urandom(32), False, now)
    member = _SecureMember if secure else ClientCore
    clients = {}
    for i in range(n):
        addr = ("10.0.%d.%d" % (i // 250, i % 250 + 1), 40000 + i)
        clients[addr] = member("u%d" % i, now, rng=random.Random(i))
    hub_cpu = 0.0
    datagrams_out = datagrams_in = 0

    def pump(timed: bool) -> int:
        """Clients -> hub -> clients once; returns the events the clients got."""
        nonlocal hub_cpu, datagrams_out, datagrams_in
        inbound = [(data, addr) for addr, client in clients.items()
                   for data in client.take_output()]
        start = time.process_time()
        for data, addr in inbound:
            hub.on_datagram(now, data, addr)
        hub.tick(now)
        outbound = hub.take_output()
        if timed:
            hub_cpu += time.process_time() - start
            datagrams_in += len(inbound)
            datagrams_out += len(outbound)
        got = 0
        for data, addr in outbound:
            client = clients.get(addr[:2])
            if client is not None:
                client.on_datagram(now, data)
                got += len(client.take_events())
        return got

    for _ in range(500):                         # the handshakes (secure: a few round trips)
        for client in clients.values():
            client.tick(now)
        pump(False)
        now += 0.001
        if all(c.state == "joined" for c in clients.values()):
            break
    joined = sum(1 for c in clients.values() if c.state == "joined")
    for _ in range(5):                           # the join events settle
        now += ack_delay
        for client in clients.values():
            client.tick(now)
        pump(False)
    speakers = list(clients.values())[:senders]
    delivered = 0
    for r in range(rounds):
        for i in range(lines):
            speakers[i % senders].say("%s %06d %.6f %s" % ("u", r * lines + i, now, "x" * 20))
        for client in speakers:
            client.tick(now)
        delivered += pump(True)
        now += ack_delay                         # every client's delayed ack is due
        for client in clients.values():
            client.tick(now)
        delivered += pump(True)
    return {"n": n, "secure": secure, "joined": joined, "lines": lines * rounds, "delivered": delivered,
            "hub_cpu_s": round(hub_cpu, 3),
            "us_per_delivery": round(1e6 * hub_cpu / max(1, delivered), 3),
            "datagrams_out": datagrams_out, "datagrams_in": datagrams_in,
            "deliveries_per_datagram": round(delivered / max(1, datagrams_out), 2),
            "us_per_datagram_out": round(1e6 * hub_cpu / max(1, datagrams_out), 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--lines", type=int, default=30, help="lines said per round")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--app-root", default="", help="measure another checkout's app/")
    parser.add_argument("--secure", action="store_true",
                        help="the secure layer (protocol version 2) in front of the Hub")
    args = parser.parse_args(argv)
    if args.app_root:
        sys.path.insert(0, args.app_root)
    runs = [measure(args.n, args.lines, args.rounds, secure=args.secure)
            for _ in range(args.repeat)]
    print(json.dumps(min(runs, key=lambda run: run["hub_cpu_s"]), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
