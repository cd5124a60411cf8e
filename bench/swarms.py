"""Many simulated chat clients in one process, one socket each.

A swarm speaks one server's protocol for clients with global numbers `ids`;
the load generator (loadgen.py) drives it from one epoll loop. Each swarm
offers the same few calls:

    start(now)            open the sockets and begin joining
    joined(i) -> bool     client i is in the room
    sockets()             (socket, i) pairs to register for reading
    readable(i, now)      read client i's socket; returns (text, arrived) pairs
                          for the chat texts it got (arrived: see below)
    send(i, text, now)    client i says `text`
    can_send(i)           False while the protocol's flow control holds i back
    next_timer()/run_timers(now)   protocol timers (acks, pings, retransmits)
    rejoined_at(i)        when client i came back after losing the server
    close()

Chat texts carry "SENDER SEQ SENT_AT ..." (sent_at = time.monotonic(), which
is one clock for every process on the machine), so each receiver can check
order, count losses and measure latency.

Two latencies are measured. One ends when the generator has handled the text
(the worker's `now`): it includes the generator's own queue, for a worker
serves hundreds of clients one after the other, so its cost per datagram
shows up in everyone's latency. The other ends when the datagram that made
the text deliverable reached the client's socket: the kernel stamps each
datagram on arrival (SO_TIMESTAMPNS); for UDP servers this is the server's
own delivery latency, which a real client, alone on its machine, would see
plus its own few microseconds. TCP (IRC) has no such stamp: there both are
the generator's time.

Sinks (`probe_every` > 1): every client but each probe_every-th one sends its
lines as any client does but does not decode what it gets: it counts it
(readable returns the number). Ours still ack what they receive and count the
chat events that are not their own; naive ones count datagrams. Decoding
100 000 events a second is more than a Python load generator on a 2-core
machine can do beside the server; with sinks the server sees the same traffic
and latency is sampled at the probes, spread evenly over the join order (the
order of every fan-out).

Lean sinks (ours, `lean` too): a sink reads one datagram a call and takes a
ROOM datagram that is next in order in a few steps of its own (it goes straight
to the room stream's receiver, whose ack the client core sends in its own
headers); everything else (the handshake, its session's stream, anything out of
order) goes to the whole client. The server gets the same datagrams and acks;
the generator's cost per datagram still is about 3.5 times the naive one's
(PERFORMANCE.md, fourth pass). Probes are always the whole client.

Ours speaks what the server speaks: secure sessions (protocol version 2, the
product's default: a Noise handshake, then every datagram in a RECORD) unless
`secure` is False (`--insecure`, or an app from before issue 16, which has
no secure layer at all: `app_is_secure`). A secure lean sink opens the RECORD
with its session's keys as the client's secure layer would, then treats the
version-1 datagram inside as above. Every simulated client has a key pair of
its own (made in memory) and trusts the server's key on first use; nothing
is written under $XDG_CONFIG_HOME (loadgen points it at a temp dir anyway).
"""
import heapq
import socket
import struct
import time
from typing import List, Optional, Tuple

NAME = "u%d"
INF = float("inf")

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)   # Linux; = SCM_TIMESTAMPNS
TIMESPEC = struct.Struct("@qq")                          # struct timespec (64-bit)
STAMP_SPACE = socket.CMSG_SPACE(TIMESPEC.size)


def stamp_arrivals(sock: socket.socket) -> None:
    """Have the kernel stamp each datagram with its arrival time."""
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


def recv_stamped(sock: socket.socket, size: int) -> Tuple[bytes, float]:
    """One datagram and when it reached the socket, on the time.monotonic()
    clock (the kernel stamps in CLOCK_REALTIME; the two clocks' offset is
    taken now, so a clock step long before does not matter)."""
    data, ancillary, _flags, _addr = sock.recvmsg(size, STAMP_SPACE)
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = TIMESPEC.unpack_from(payload)
            return data, seconds + nanoseconds * 1e-9 - (time.time() - time.monotonic())
    return data, time.monotonic()


class _Swarm:
    def __init__(self, port: int, ids: List[int], probe_every: int = 1,
                 lean: bool = False) -> None:
        self.port = port
        self.ids = ids
        self.probe_every = probe_every      # > 1: sinks but every probe_every-th
        self.lean = lean                    # lean sinks (ours)
        self.socks: List[Optional[socket.socket]] = [None] * len(ids)

    def is_sink(self, g: int) -> bool:
        """Client number g counts what it gets instead of reading it."""
        return g % self.probe_every != 0

    def sockets(self):
        return [(sock, i) for i, sock in enumerate(self.socks) if sock is not None]

    def can_send(self, i: int) -> bool:
        return True

    def next_timer(self) -> float:
        return INF

    def run_timers(self, now: float) -> None:
        pass

    def rejoined_at(self, i: int) -> Optional[float]:
        """When client i was back in the room after its first join (None: never)."""
        return None

    def close(self) -> None:
        for sock in self.socks:
            if sock is not None:
                sock.close()


def app_is_secure() -> bool:
    """The app on sys.path has secure sessions (issue 16 and later): its
    ClientConnection takes `security`."""
    import inspect

    from app.net import client_net
    return "security" in inspect.signature(client_net.ClientConnection.__init__).parameters


class _MemberSecurity:
    """app.net.identity.ClientSecurity's shape for one simulated client: the
    worker's suite, a key pair of its own, the server's key trusted on first
    use in memory (no file per client)."""

    def __init__(self, shared, static) -> None:
        self.suite = shared.suite
        self.password = shared.password
        self.static = static
        self.known = self
        self.notes: List[str] = []      # what KnownServers would say (nothing: in memory)

    @staticmethod
    def checker(address: str):
        return lambda key: None

    @staticmethod
    def rememberer(address: str):
        return lambda key: None


class OursSwarm(_Swarm):
    """Our protocol, through the project's own ClientConnection / ClientCore."""

    def __init__(self, port: int, ids: List[int], probe_every: int = 1,
                 lean: bool = False, secure: bool = True) -> None:
        super().__init__(port, ids, probe_every, lean)
        from app.core import client_core, protocol
        from app.net import client_net

        self._core, self._net, self._protocol = client_core, client_net, protocol
        self.secure = secure
        self._shared = None
        if secure:
            from app.core import secure_wire
            from app.net import identity, primitives

            self._wire, self._new_keypair = secure_wire, primitives.new_keypair
            self._shared = identity.client_security(None, insecure=False, accept_new_key=True)
        self.conns: list = [None] * len(ids)
        self.sched = [INF] * len(ids)
        self.heap: List[Tuple[float, int]] = []
        self.join_times: List[List[float]] = [[] for _ in ids]
        self.counted = [0] * len(ids)
        self.last_state = [""] * len(ids)

    def start(self, now: float) -> None:
        for i, g in enumerate(self.ids):
            if self.secure:
                security = _MemberSecurity(self._shared, self._new_keypair())
                conn = self._net.ClientConnection("127.0.0.1", self.port, NAME % g, now,
                                                  security=security)
            elif app_is_secure():
                conn = self._net.ClientConnection("127.0.0.1", self.port, NAME % g, now,
                                                  security=None)
            else:                                # an app from before issue 16
                conn = self._net.ClientConnection("127.0.0.1", self.port, NAME % g, now)
            if self.is_sink(g):
                self._make_sink(i, conn.core)
            else:
                stamp_arrivals(conn.sock)
            self.conns[i] = conn
            self.socks[i] = conn.sock
            self._schedule(i, self._front(conn).next_deadline())

    @staticmethod
    def _front(conn):
        """What takes the client's datagrams and runs its timers: the secure
        layer where there is one, else the core (and an older app's core)."""
        return getattr(conn, "front", conn.core)

    def _schedule(self, i: int, due: Optional[float]) -> None:
        if due is not None and due < self.sched[i]:
            self.sched[i] = due
            heapq.heappush(self.heap, (due, i))

    def joined(self, i: int) -> bool:
        return self.conns[i] is not None and self.conns[i].state == self._core.JOINED

    def _make_sink(self, i: int, core) -> None:
        """Replace the core's frame handler (after the stream has delivered and
        acked the frame) with a count of others' chat events."""
        protocol = self._protocol
        own = core.instance.to_bytes(8, "big")
        kind_at, origin_at = 12, 17          # in EVENT_FIXED (docs/PROTOCOL.md)

        def count(frame) -> None:
            if frame.kind == protocol.EVENTS:
                bodies = protocol.split_event_batch(frame.body)
            elif frame.kind == protocol.EVENT:
                bodies = [frame.body]
            else:
                return
            self.counted[i] += sum(1 for body in bodies if body[kind_at] == protocol.EV_CHAT
                                   and body[origin_at:origin_at + 8] != own)

        core._on_frame = count

    def readable(self, i: int, now: float):
        """(text, arrived) for the chat texts client i got; for a sink, their number."""
        conn = self.conns[i]
        if self.is_sink(self.ids[i]):
            self.counted[i] = 0
            if self.lean and conn.core.room_stream is not None:
                self._lean_take(i, now)
            else:
                conn.on_readable(now)
                self._after_client(i, now)
            return self.counted[i]
        texts = self._probe_drain(i, now)
        self._after_client(i, now)
        return texts

    def _after_client(self, i: int, now: float) -> None:
        """Bookkeeping after the whole client ran: its state, its next timer."""
        self._note_state(i, now)
        self._schedule(i, self._front(self.conns[i]).next_deadline())

    def _probe_drain(self, i: int, now: float) -> List[Tuple[str, float]]:
        """ClientConnection.on_readable, one datagram at a time, so that each
        chat text is paired with the arrival of the datagram that made it
        deliverable (a text waiting for a hole to fill gets the filler's)."""
        conn = self.conns[i]
        core, protocol = conn.core, self._protocol
        front = self._front(conn)
        texts = []
        for _ in range(4096):
            try:
                data, arrived = recv_stamped(conn.sock, protocol.MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                conn.on_readable(now)            # the client's own error handling
                break
            if len(data) <= protocol.MAX_DATAGRAM:
                front.on_datagram(now, data)
            for event in core.take_events():
                if isinstance(event, protocol.Event) and event.kind == protocol.EV_CHAT:
                    texts.append((event.text, arrived))
        conn._send_output()
        return texts

    def _note_state(self, i: int, now: float) -> None:
        state = self.conns[i].state
        if state != self.last_state[i]:
            self.last_state[i] = state
            if state == self._core.JOINED:
                self.join_times[i].append(now)

    def send(self, i: int, text: str, now: float) -> None:
        conn = self.conns[i]
        conn.say(text)
        self.sched[i] = INF                      # tick now: sends what say queued
        self._schedule(i, now + conn.tick(now))

    def can_send(self, i: int) -> bool:
        core = self.conns[i].core
        if core.stream is None or core.state != self._core.JOINED:
            return len(core.pending) < self._core.CLIENT_WINDOW
        return core.stream.queued < self._core.CLIENT_WINDOW

    def _lean_take(self, i: int, now: float) -> None:
        """A lean sink reads one datagram a call (epoll reports the socket again
        while more wait, and no call ends in an EAGAIN exception). The next
        ROOM datagram in order goes straight to the room stream; anything else
        to the whole client."""
        conn = self.conns[i]
        core, protocol = conn.core, self._protocol
        room = core.room_stream
        try:
            data = conn.sock.recv(protocol.MAX_DATAGRAM + 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            conn.on_readable(now)                # the client's own error handling
            self._after_client(i, now)
            return
        front = self._front(conn)
        if self.secure:
            inner = self._open_record(conn.secure, data, now)
            if inner is None:                    # the handshake, a new session, junk
                if len(data) <= protocol.MAX_DATAGRAM:
                    front.on_datagram(now, data)
                conn._send_output()
                self._after_client(i, now)
                return
            data, front = inner, core            # opened: the core takes what is inside
        prefix = data[:6]
        # (getattr: the app measured may be older than runs)
        run = prefix == getattr(protocol, "ROOM_RUN_PREFIX", None) \
            and getattr(core, "room_runs", False)
        if (prefix == protocol.ROOM_PREFIX or run) and protocol.HEADER_SIZE < len(data):
            session, number, ack, sack = protocol.ROOM_FIELDS.unpack_from(data, 6)
            if (number == room.recv_next and session == core.session_id
                    and not room.ahead and not ack and not sack
                    and len(data) <= protocol.MAX_DATAGRAM):
                body = data[protocol.HEADER_SIZE:]
                try:
                    bodies = protocol.split_room_run(body) if run else [body]
                except protocol.ProtocolError:
                    bodies = []                  # the whole client counts it
            else:
                bodies = []
            if bodies:
                core.last_heard = now
                for frame in room.receive(now, [protocol.Frame(number + i, protocol.EVENTS, b)
                                                for i, b in enumerate(bodies)]):
                    core._on_frame(frame)
                if room.ack_due is not None:     # an ack is due, now or soon
                    if room.ack_due <= now:
                        self.sched[i] = INF
                        self._schedule(i, now + conn.tick(now))
                    else:
                        self._schedule(i, room.ack_due)
                return
        if len(data) <= protocol.MAX_DATAGRAM:
            front.on_datagram(now, data)
        conn._send_output()
        self._after_client(i, now)

    def _open_record(self, secure, data: bytes, now: float) -> Optional[bytes]:
        """The version-1 datagram inside a RECORD of the client's confirmed
        session, opened as SecureClient.on_datagram would (keys, counter
        window, `heard_at`); None for anything else, which then goes to the
        whole secure client (handshake, a session not yet confirmed, junk)."""
        wire = self._wire
        if not secure.confirmed or len(data) < wire.RECORD_OVERHEAD \
                or data[:4] != b"CZ\x02\x25":
            return None
        receiver, counter, header, ciphertext = wire.decode_record(data)
        keys = secure.sessions.get(receiver)
        if keys is None or keys is not secure.sending:
            return None
        inner = keys.open(counter, header, ciphertext)
        if inner is not None:
            secure.heard_at = now
        return inner

    def next_timer(self) -> float:
        return self.heap[0][0] if self.heap else INF

    def run_timers(self, now: float) -> None:
        heap = self.heap
        while heap and heap[0][0] <= now:
            due, i = heapq.heappop(heap)
            if self.sched[i] != due:
                continue                         # superseded by an earlier entry
            self.sched[i] = INF
            self._schedule(i, now + self.conns[i].tick(now))
            self._note_state(i, now)

    def rejoined_at(self, i: int) -> Optional[float]:
        times = self.join_times[i]
        return times[1] if len(times) > 1 else None

    def states(self) -> dict:
        result: dict = {}
        for conn in self.conns:
            if conn is not None:
                result[conn.state] = result.get(conn.state, 0) + 1
        return result


class NaiveSwarm(_Swarm):
    """The course's text protocol: L / C / Q, no acks (a client is 'joined'
    once its L is sent). With `probe_every` > 1, as for ours: only every
    probe_every-th client reads the texts; the others count datagrams (the
    server never sends one its own line)."""

    def start(self, now: float) -> None:
        server = ("127.0.0.1", self.port)
        for i, g in enumerate(self.ids):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.connect(server)
            sock.setblocking(False)
            if not self.is_sink(g):
                stamp_arrivals(sock)
            self.socks[i] = sock
        self.logged_in = 0

    def login_some(self, count: int) -> None:
        """Send the next `count` L commands (the server never answers them)."""
        for i in range(self.logged_in, min(len(self.ids), self.logged_in + count)):
            self.socks[i].send(b"L " + (NAME % self.ids[i]).encode())
        self.logged_in = min(len(self.ids), self.logged_in + count)

    def joined(self, i: int) -> bool:
        return i < self.logged_in

    def readable(self, i: int, now: float):
        """(text, arrived) pairs; for a sink, how many datagrams (one a call,
        as ours: epoll reports the socket again while more wait)."""
        sock = self.socks[i]
        if self.is_sink(self.ids[i]):
            try:
                sock.recv(2048)
            except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                return 0
            return 1
        texts = []
        for _ in range(4096):
            try:
                data, arrived = recv_stamped(sock, 2048)
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionRefusedError:
                continue
            texts.append((data.partition(b" : ")[2].decode(), arrived))
        return texts

    def send(self, i: int, text: str, now: float) -> None:
        try:
            self.socks[i].send(b"C %s %s" % ((NAME % self.ids[i]).encode(), text.encode()))
        except (BlockingIOError, ConnectionRefusedError):
            pass                                 # lost, as the course's client would

    def close(self) -> None:
        for i, sock in enumerate(self.socks):
            if sock is not None and i < getattr(self, "logged_in", 0):
                try:
                    sock.send(b"Q " + (NAME % self.ids[i]).encode())
                except OSError:
                    pass
        super().close()


class IrcSwarm(_Swarm):
    """IRC over TCP: NICK/USER, JOIN #bench, PRIVMSG #bench."""

    CHANNEL = b"#bench"

    def start(self, now: float) -> None:
        self.inbuf = [b""] * len(self.ids)
        self.outbuf = [b""] * len(self.ids)
        self.is_joined = [False] * len(self.ids)
        self.unsent = set(range(len(self.ids)))
        self.retry_at = now
        for i, g in enumerate(self.ids):
            if i % 8 == 7:
                time.sleep(0.02)     # ngircd's accept queue is short: pace the connects
            sock = socket.create_connection(("127.0.0.1", self.port))
            sock.setblocking(False)
            self.socks[i] = sock
            nick = (NAME % g).encode()
            self.outbuf[i] = (b"NICK %s\r\nUSER %s 0 * :bench\r\nJOIN %s\r\n"
                              % (nick, nick, self.CHANNEL))

    def _write(self, i: int, data: bytes) -> None:
        pending = self.outbuf[i] + data
        try:
            sent = self.socks[i].send(pending)
        except (BlockingIOError, OSError):
            sent = 0                             # not connected yet, or buffer full
        self.outbuf[i] = pending[sent:]
        if self.outbuf[i]:
            self.unsent.add(i)
        else:
            self.unsent.discard(i)

    def next_timer(self) -> float:
        return self.retry_at if self.unsent else INF

    def run_timers(self, now: float) -> None:
        """Every 5 ms, push what TCP's flow control (or a pending connect) held back."""
        if self.unsent and now >= self.retry_at:
            self.retry_at = now + 0.005
            for i in list(self.unsent):
                self._write(i, b"")

    def joined(self, i: int) -> bool:
        return self.is_joined[i]

    def readable(self, i: int, now: float) -> List[Tuple[str, float]]:
        if self.outbuf[i]:
            self._write(i, b"")
        try:
            data = self.socks[i].recv(1 << 18)
        except (BlockingIOError, InterruptedError):
            return []
        lines = (self.inbuf[i] + data).split(b"\r\n")
        self.inbuf[i] = lines.pop()
        texts = []
        for line in lines:
            if b" PRIVMSG " in line:
                texts.append((line.split(b" :", 1)[1].decode(), now))   # TCP: no stamp
            elif b" 366 " in line:               # end of NAMES: we are in the channel
                self.is_joined[i] = True
            elif line.startswith(b"PING"):
                self._write(i, b"PONG" + line[4:] + b"\r\n")
        return texts

    def send(self, i: int, text: str, now: float) -> None:
        self._write(i, b"PRIVMSG %s :%s\r\n" % (self.CHANNEL, text.encode()))

    def can_send(self, i: int) -> bool:
        return not self.outbuf[i]                # TCP's flow control: our send buffer


SWARMS = {"ours": OursSwarm, "naive": NaiveSwarm, "irc": IrcSwarm}
