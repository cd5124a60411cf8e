"""A UDP relay that loses, duplicates, reorders and delays datagrams both ways.

Clients talk to the relay's port; for each client address the relay opens its
own upstream socket, so the server sees one address per client. Runs in a
thread; stop() ends it. Every loop is bounded by the stop flag."""
import heapq
import itertools
import random
import selectors
import socket
import threading
import time


class LossyRelay:
    def __init__(self, server_port, loss=0.2, dup=0.05, max_delay=0.03, seed=0,
                 host="127.0.0.1", record=False, rate=None, queue=0.1):
        self.server = (host, server_port)
        # With rate (bytes a second, each way): a link that slow, with a queue
        # of `queue` seconds in front of it (a router's buffer: beyond it, drops).
        self.rate, self.queue = rate, queue
        self.busy_until = {}           # the sending socket -> when its link is free
        self.loss, self.dup, self.max_delay = loss, dup, max_delay
        self.rng = random.Random(seed)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind((host, 0))
        self.front.setblocking(False)
        self.port = self.front.getsockname()[1]
        self.upstream = {}             # client addr -> socket to the server
        self.client_of = {}            # upstream socket -> client addr
        self.pending = []              # heap of (when, n, sock, data, addr)
        self.counter = itertools.count()
        # large: datagrams over 1200 bytes forwarded (file chunks), to the server and back;
        # sent_large: those the client (up) or the server (down) sent into the relay,
        # counted as they come in (a chunk still queued here is counted as sent)
        self.stats = {"forwarded": 0, "dropped": 0, "duplicated": 0, "large_up": 0,
                      "large_down": 0, "sent_large_up": 0, "sent_large_down": 0}
        self.large_to = {}             # client addr -> large datagrams forwarded to it
        self.gone = set()              # client addrs whose datagrams are dropped (forget)
        # With record: every datagram that came through, as (data, where it goes):
        # what a sniffer on the path would see.
        self.recorded = [] if record else None
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.front, selectors.EVENT_READ)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def forget(self, addr):
        """A client that is gone: what comes for it is dropped before the link
        (as by the last router), so it takes no share of a `rate`."""
        self.gone.add(addr)

    def _schedule(self, sock, data, addr):
        if addr in self.gone:
            return
        if self.recorded is not None:
            self.recorded.append((data, addr))
        copies = 2 if self.rng.random() < self.dup else 1
        self.stats["duplicated"] += copies - 1
        for _ in range(copies):
            if self.rng.random() < self.loss:
                self.stats["dropped"] += 1
                continue
            when = time.monotonic() + self.rng.uniform(0, self.max_delay)
            if self.rate:
                now = time.monotonic()
                start = max(now, self.busy_until.get(sock, now))
                if start - now > self.queue:
                    self.stats["dropped"] += 1
                    continue
                self.busy_until[sock] = start + len(data) / self.rate
                when = self.busy_until[sock] + self.rng.uniform(0, self.max_delay)
            heapq.heappush(self.pending, (when, next(self.counter), sock, data, addr))

    def _upstream_for(self, addr):
        sock = self.upstream.get(addr)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((self.server[0], 0))
            sock.setblocking(False)
            self.upstream[addr] = sock
            self.client_of[sock] = addr
            self.sel.register(sock, selectors.EVENT_READ)
        return sock

    def _run(self):
        while not self.stopping.is_set():
            timeout = 0.05
            if self.pending:
                timeout = max(0.0, min(timeout, self.pending[0][0] - time.monotonic()))
            for key, _ in self.sel.select(timeout):
                sock = key.fileobj
                try:
                    data, addr = sock.recvfrom(65535)
                except (BlockingIOError, ConnectionRefusedError):
                    continue
                if len(data) > 1200:
                    self.stats["sent_large_up" if sock is self.front else "sent_large_down"] += 1
                if sock is self.front:
                    self._schedule(self._upstream_for(addr), data, self.server)
                else:
                    self._schedule(self.front, data, self.client_of[sock])
            now = time.monotonic()
            while self.pending and self.pending[0][0] <= now:
                _, _, sock, data, addr = heapq.heappop(self.pending)
                try:
                    sock.sendto(data, addr)
                    self.stats["forwarded"] += 1
                    if len(data) > 1200:           # file chunks
                        self.stats["large_down" if sock is self.front else "large_up"] += 1
                        if sock is self.front:
                            self.large_to[addr] = self.large_to.get(addr, 0) + 1
                except OSError:
                    pass

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        for sock in [self.front, *self.upstream.values()]:
            sock.close()
        self.sel.close()
