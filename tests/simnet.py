"""A simulated network for the pure core: a Hub and ClientCores exchanging
datagrams through a channel that loses, duplicates, reorders and delays them,
on a simulated clock. Deterministic for a given seed; runs in milliseconds."""
import heapq
import itertools
import random
from typing import Any, List, Optional, Tuple

from app.core.client_core import JOINED, ClientCore
from app.core.hub import Hub, HubConfig
from app.core.pacing import LOOK, TAKE_HELD, FanOutPacer

SERVER = ("10.0.0.1", 9797)
START = 1_000_000.0


class SimNet:
    def __init__(self, seed=0, loss=0.0, dup=0.0, delay=(0.0002, 0.002),
                 config=HubConfig(), room_key=None, send_cost=0.0, fan_out_slice=None):
        self.room_key = room_key
        self.rng = random.Random(seed)
        self.seed = seed
        self.loss = loss
        self.dup = dup
        self.delay = delay
        self.now = START
        self.config = config
        self.hub = Hub(self.now, b"s" * 32, config, rng=random.Random(seed + 1),
                       room_key=room_key)
        self.server_up = True
        self.clients = {}          # addr -> ClientCore
        self.events = {}           # addr -> list of events taken from that client
        self.cut = set()           # addrs whose traffic is dropped both ways
        self.wire = []             # heap of (time, n, dst, src, data)
        self.counter = itertools.count()
        self.sent_sizes = []       # (request size, reply size) bookkeeping for tests
        # With a send_cost, each datagram the server sends takes that long, and
        # a fan-out goes as app/net/server.py sends it: paced by the core's
        # FanOutPacer (app/core/pacing.py), a slice at a time (fan_out_slice, or
        # the pacer's own), taking in what came meanwhile while the pacer says
        # LOOK; 0: sends are free.
        self.send_cost = send_cost
        self.fan_out_slice = fan_out_slice
        self.server_free_at = START
        self.server_inbox = []     # (src, data) arrived while the server was sending
        self.pacer: Optional[FanOutPacer] = None   # of the fan-out under way

    # ------------------------------------------------------------ setup

    def add_client(self, name, port=None, room_key="same", ip=None):
        port = port or 40000 + len(self.clients)
        addr = (ip or "10.0.1.%d" % (len(self.clients) + 1), port)
        key = self.room_key if room_key == "same" else room_key
        client = ClientCore(name, self.now, rng=random.Random(self.rng.random()),
                            room_key=key)
        self.clients[addr] = client
        self.events[addr] = []
        return addr, client

    def remove_client(self, addr):
        """The client vanishes without a word (kill -9, cable pulled)."""
        del self.clients[addr]

    def restart_server(self):
        self.hub = Hub(self.now, b"t" * 32, self.config, rng=random.Random(self.seed + 7),
                       room_key=self.room_key)

    # ------------------------------------------------------------ channel

    def _transmit(self, src, dst, data, leaves=None):
        if src in self.cut or dst in self.cut:
            return
        copies = 2 if self.rng.random() < self.dup else 1
        for _ in range(copies):
            if self.rng.random() < self.loss:
                continue
            when = (leaves or self.now) + self.rng.uniform(*self.delay)
            heapq.heappush(self.wire, (when, next(self.counter), dst, src, data))

    def _pump(self):
        self._server_sends()
        for addr, client in self.clients.items():
            for data in client.take_output():
                self._transmit(addr, SERVER, data)
            self.events[addr].extend(client.take_events())

    def _server_sends(self) -> None:
        if not self.send_cost:
            for data, addr in self.hub.take_output():
                self._transmit(SERVER, addr, data)
            return
        if self.now < self.server_free_at:
            return                                   # still sending the last slice
        pacer = self.pacer
        if pacer is None:
            pacer = self.pacer = FanOutPacer(self.now, self.fan_out_slice)
        leaves = self._send_at(self.now, self.hub.take_output(pacer.slice))
        if not self.hub.fanning_out:                 # the fan-out's end
            self.pacer = None
            if pacer.held:
                self._take_in(pacer.take_held())
                leaves = self._send_at(leaves, self.hub.take_output())
        self.server_free_at = leaves

    def _send_at(self, leaves: float, output: List[Tuple[bytes, Any]]) -> float:
        for data, addr in output:
            leaves += self.send_cost
            self._transmit(SERVER, addr, data, leaves)
        return leaves

    def _take_in(self, datagrams: List[Tuple[bytes, Any]],
                 pacer: Optional[FanOutPacer] = None) -> None:
        """The server takes (data, src) in; bare room acks wait in `pacer`."""
        for data, src in datagrams:
            if pacer is None or not pacer.hold(data, src):
                self.hub.on_datagram(self.now, data, src)
        self.hub.flush(self.now)

    def _server_receives(self) -> None:
        """Between two slices of a fan-out, what the pacer says; else all."""
        pacer = self.pacer
        step = LOOK if pacer is None else pacer.after_slice(self.now)
        if pacer is not None and step == TAKE_HELD:
            self._take_in(pacer.take_held())
        elif step == LOOK:
            inbox, self.server_inbox = self.server_inbox, []
            self._take_in([(data, src) for src, data in inbox], pacer)

    # ------------------------------------------------------------ clock

    def _next_time(self):
        if self.now < self.server_free_at or (self.send_cost and self.hub.fanning_out):
            times = [max(self.now, self.server_free_at)]    # the server is sending
        else:
            times = [self.hub.next_deadline()]
        if self.wire:
            times.append(self.wire[0][0])
        for client in self.clients.values():
            deadline = client.next_deadline()
            if deadline is not None:
                times.append(deadline)
        return min(times)

    def step(self, limit):
        self.now = max(self.now, min(self._next_time(), limit))
        while self.wire and self.wire[0][0] <= self.now:
            _, _, dst, src, data = heapq.heappop(self.wire)
            if dst == SERVER:
                self.server_inbox.append((src, data))
            elif dst in self.clients:
                self.clients[dst].on_datagram(self.now, data)
        if self.now >= self.server_free_at:
            self._server_receives()
        self.hub.tick(self.now)
        for client in self.clients.values():
            client.tick(self.now)
        self._pump()

    def run(self, seconds):
        end = self.now + seconds
        while self.now < end:
            self.step(end)

    def run_until(self, condition, seconds=120.0):
        """Run until condition() holds; False if `seconds` of simulated time pass."""
        end = self.now + seconds
        self._pump()
        while not condition():
            if self.now >= end:
                return False
            self.step(end)
        return True

    # ------------------------------------------------------------ views

    def join_all(self, names, seconds=120.0):
        """Add one client per name and run until all are joined; their addresses."""
        addrs = [self.add_client(name)[0] for name in names]
        assert self.run_until(lambda: all(self.clients[a].state == JOINED for a in addrs),
                              seconds)
        return addrs

    def chatter(self, addrs, lines, seed, pause_every):
        """`lines` chat lines "line i", each from a random one of `addrs`, with a
        short run of the network after every `pause_every` of them."""
        rng = random.Random(seed)
        for i in range(lines):
            self.clients[rng.choice(addrs)].say("line %d" % i)
            if i % pause_every == 0:
                self.run(0.05)

    def room_events(self, addr, kinds=None):
        from app.core.protocol import Event
        return [e for e in self.events[addr]
                if isinstance(e, Event) and (kinds is None or e.kind in kinds)]
