"""Delivery latency for quiet clients while another floods (issue 6, item 4).

    python3 bench/flood_latency.py [--seconds 10]

Starts a server on 127.0.0.1, two quiet clients in this process (A says a
timestamped line every 250 ms, B measures when it arrives), and runs three
phases: no flood; a member flooding chat lines as fast as its client can
queue them (the server's rate limit holds them back); a raw flood of junk
datagrams at full speed from another process. Prints p50/p99/max per phase.
Server and clients speak what the product speaks by default (secure sessions),
with their keys in a temporary directory. Floods of handshakes from forged
addresses: bench/handshake_flood.py.
"""
import argparse
import multiprocessing
import os
import selectors
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from app.net import identity  # noqa: E402
from app.net.client_net import ClientConnection  # noqa: E402
from bench import procs  # noqa: E402

HOST = "127.0.0.1"


def pump(conns, seconds, on_event=None):
    """Run the clients' loops for `seconds`."""
    sel = selectors.DefaultSelector()
    for conn in conns:
        sel.register(conn.fileno(), selectors.EVENT_READ, conn)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        timeout = min([c.tick(time.monotonic()) for c in conns] + [end - time.monotonic()])
        for key, _ in sel.select(max(0.0, min(timeout, 0.005))):
            key.data.on_readable(time.monotonic())
        for conn in conns:
            for event in conn.take_events():
                if on_event:
                    on_event(conn, event)
    sel.close()


def connect(port, name):
    """A client as the product makes one (secure), keys under $XDG_CONFIG_HOME."""
    security = identity.client_security(None, insecure=False, accept_new_key=True)
    return ClientConnection(HOST, port, name, time.monotonic(), security=security)


def chat_flooder(port, seconds):
    conn = connect(port, "flooder")
    pump([conn], 1.0)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        for _ in range(50):
            conn.say("flood %d" % n)
            n += 1
        pump([conn], 0.01)


def junk_flooder(port, seconds):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    junk = os.urandom(200)
    end = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < end:
        for _ in range(1000):
            try:
                sock.sendto(junk, (HOST, port))
                sent += 1
            except OSError:
                pass
    print("  junk datagrams sent: %d (%.0f/s)" % (sent, sent / seconds))


def measure(a, b, seconds):
    latencies = []

    def on_event(conn, event):
        text = getattr(event, "text", "")
        if conn is b and text.startswith("ping "):
            latencies.append(time.monotonic() - float(text.split()[1]))

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        a.say("ping %.6f" % time.monotonic())
        pump([a, b], 0.25, on_event)   # 4 lines/s: under the 5/s rate limit
    pump([a, b], 1.0, on_event)
    latencies.sort()
    if not latencies:
        return "no deliveries!"
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return "n=%d p50 %.2f ms  p99 %.2f ms  max %.2f ms" % (
        len(latencies), pick(0.5), pick(0.99), latencies[-1] * 1000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-flood-latency-")
    os.environ.update(procs.private_dirs(home))          # keys and state: not the user's
    server = procs.Server("ours", home=home).start()
    port = server.port
    try:
        a = connect(port, "quiet-a")
        b = connect(port, "quiet-b")
        pump([a, b], 1.0)
        print("no flood:        ", measure(a, b, args.seconds))
        for label, target in (("chat flood:      ", chat_flooder),
                              ("junk flood:      ", junk_flooder)):
            flooder = multiprocessing.Process(target=target, args=(port, args.seconds + 2))
            flooder.start()
            pump([a, b], 1.0)
            print(label, measure(a, b, args.seconds))
            flooder.join()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
