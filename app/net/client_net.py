"""The client's network shell: one UDP socket around the pure ClientCore.

The front ends (line mode, curses) own the loop: they register `fileno()` in
their selector, call `on_readable` when it is readable and `tick` when the
returned time-out expires. `now` is time.monotonic().
"""
import errno
import socket
from typing import List, NamedTuple, Optional, Tuple, Union

from app.core import file_wire as fw
from app.core import problems
from app.core import protocol
from app.core.auth import RoomKey
from app.core.client_core import ClientCore, ClientEvent, ConnectionState, Status
from app.core.secure_client import SecureClient
from app.core.secure_session import client_token
from app.net import identity
from app.net.client_files import ClientFiles, FileNews
from app.net.files import receive_chunk

RECV_BUFFER = 4 << 20      # a window of large file chunks (files.receive_chunk)
IDLE_TICK = 60.0           # upper bound on a select time-out when nothing is due

# Errors a UDP send or receive reports for a missing server or network. They are
# hints (an ICMP message), not proof: the client keeps trying and says so.
# (Keys the front ends word: app/ui/render.py detail_text.)
UNREACHABLE = {
    errno.ECONNREFUSED: "net_refused",
    errno.ENETUNREACH: "net_unreachable",
    errno.EHOSTUNREACH: "net_no_route",
    errno.EHOSTDOWN: "net_host_down",
    errno.EPERM: "net_firewall",        # send() refused here: an nftables/iptables output drop
}


class ClientNote(NamedTuple):
    """A coded problem for the person (app/core/problems.py) that is neither a
    status nor a file's news: the server's key could not be remembered
    (known_keep). Each front end words it in its language."""
    problem: str


class ConnectError(Exception):
    """The server's address cannot be used at all (unknown host name): its
    str() is a coded problem (app/core/problems.py) the front end words."""


def resolve(host: str, port: int) -> Tuple[int, tuple]:
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise ConnectError(problems.detail("resolve", None, host))
    infos.sort(key=lambda info: info[0] != socket.AF_INET)   # IPv4 first on a LAN
    family, _, _, _, addr = infos[0]
    return family, addr


class ClientConnection:
    def __init__(self, host: str, port: int, name: str, now: float,
                 room_key: Optional[RoomKey] = None, security=None,
                 downloads: Optional[str] = None, source: Optional[str] = None) -> None:
        """`security`: app.net.identity.ClientSecurity, or None for --insecure
        (protocol version 1, nothing encrypted). `downloads`: the folder for
        handouts (None: they are refused). `source`: the local address to send
        from (the attack benches give each simulated host its own)."""
        family, self.server = resolve(host, port)
        self.server_text = "%s:%d" % (host, port)
        self.security = security
        self.secure: Optional[SecureClient] = None
        self.front: Union[ClientCore, SecureClient]   # what takes the datagrams and timers
        if security is None:
            self.core = ClientCore(name, now, room_key=room_key)   # ValueError for a bad name
            self.front = self.core
        else:
            run_id = security.suite.random(16)
            self.core = ClientCore(name, now, token=client_token(security.static[1], run_id))
            self.secure = self.front = SecureClient(
                self.core, security.suite, security.static, run_id,
                security.known.checker(self.server_text), security.password, now,
                security.known.rememberer(self.server_text))
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        except OSError:
            pass
        self.sock.setblocking(False)
        if source is not None:
            self.sock.bind((source, 0))
        self.hint = ""
        self.connected = False
        self.files = ClientFiles(self.core, downloads, self.server, receive_chunk(self.sock))
        self.files.flush = self._send_output
        self.tick(now)

    # ------------------------------------------------------------ loop

    def fileno(self) -> int:
        return self.sock.fileno()

    def on_readable(self, now: float) -> None:
        for _ in range(4096):       # drain, but let timers run under a flood
            try:
                data = self.sock.recv(fw.MAX_FILE_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._network_error(exc)
                break
            if fw.size_ok(data):              # longer: not ours, truncated
                self.hint = ""
                self.front.on_datagram(now, data)
        self._send_output()
        self._file_turn(now)

    def tick(self, now: float) -> float:
        """Run due timers; return seconds until the next call is needed."""
        self.front.tick(now)
        self._send_output()
        self._file_turn(now)
        deadline = self.front.next_deadline()
        files_due = self.files.next_deadline(now)
        if files_due is not None:
            deadline = files_due if deadline is None else min(deadline, files_due)
        if deadline is None:
            return IDLE_TICK
        return min(IDLE_TICK, max(0.0, deadline - now))

    def _file_turn(self, now: float) -> None:
        """File transfers after chat: the chat output has gone (_send_output)."""
        if self.files.turn(now):
            self._send_output()

    def _connect(self) -> bool:
        """connect(): the kernel then filters out datagrams from anyone but the
        server, and tells us (ECONNREFUSED) when nothing listens on its port. It
        fails at once without a route; we try again with the next datagram."""
        if not self.connected:
            try:
                self.sock.connect(self.server)
                self.connected = True
            except OSError as exc:
                self._network_error(exc)
        return self.connected

    def _send_output(self) -> None:
        if not self._connect():
            self.front.take_output()   # like lost datagrams: the core resends them
            return
        for data in self.front.take_output():
            try:
                self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                pass                 # like a lost datagram: retransmission covers it
            except OSError as exc:
                self._network_error(exc)

    def _network_error(self, exc: OSError) -> None:
        # Another errno: its name (`ENOBUFS`), worded by the front end too.
        hint = UNREACHABLE.get(exc.errno) or problems.errno_name(exc.errno)
        if hint != self.hint:
            self.hint = hint
            self.core.events.append(Status(self.core.state, self.core.online, hint))

    # ------------------------------------------------------------ API

    def take_events(self) -> List[Union[ClientEvent, FileNews, ClientNote]]:
        events: List[Union[ClientEvent, FileNews, ClientNote]] = list(self.core.take_events())
        events.extend(self.files.take_news())
        if self.security is not None and self.security.known.notes:
            events.extend(ClientNote(note) for note in self.security.known.notes)
            self.security.known.notes.clear()
        return events

    def hand_in(self, path: str, now: float) -> Optional[str]:
        """Hand a file in (交作业); None, or why it cannot be (one line)."""
        problem = self.files.hand_in(path, now)
        self.tick(now)
        return problem

    def say(self, line: str) -> None:
        self.core.say(line)

    def emote(self, line: str) -> None:
        self.core.say(line, protocol.EMOTE)

    def private(self, name: str, line: str) -> None:
        self.core.say(line, protocol.PRIVATE, name)

    def who(self) -> None:
        self.core.who()

    def rename(self, name: str, now: float) -> None:
        self.core.rename(name, now)
        self.tick(now)

    def leave(self, now: float) -> None:
        self.core.leave(now)
        self._send_output()

    def close(self) -> None:
        self.files.close()
        self.sock.close()

    @property
    def state(self) -> ConnectionState:
        """The core's state: a str, equal to "joined" etc. (see ConnectionState)."""
        return self.core.state

    @property
    def server_key(self) -> Optional[bytes]:
        """The server's long-term public key, once a handshake has shown it."""
        return self.secure.server_key if self.secure is not None else None

    @property
    def server_fingerprint(self) -> Optional[str]:
        """The server key as words people compare aloud (None: not secure, or not yet)."""
        key = self.server_key
        return identity.fingerprint(key) if key is not None else None

    @property
    def online(self) -> int:
        return self.core.online

    @property
    def name(self) -> str:
        return self.core.name

    @property
    def instance(self) -> int:
        return self.core.instance

    @property
    def refusal(self) -> Optional[Tuple[int, str]]:
        return self.core.refusal

    @property
    def farewell(self) -> Optional[Tuple[int, str]]:
        return self.core.farewell

    @property
    def refusal_coded(self) -> Optional[protocol.Reason]:
        return self.core.refusal_coded

    @property
    def farewell_coded(self) -> Optional[protocol.Reason]:
        return self.core.farewell_coded

    @property
    def ever_joined(self) -> bool:
        return self.core.ever_joined

    def goodbye(self, now_fn, timeout: float = 0.6) -> None:
        """Leave the room and wait (at most `timeout`) until the server has
        acknowledged or every BYE repeat went out; then close the socket."""
        import select

        start = now_fn()
        self.leave(start)
        while not self.core.leaving_done and now_fn() - start < timeout:
            wait = min(self.tick(now_fn()), timeout - (now_fn() - start))
            readable, _, _ = select.select([self.sock], [], [], max(0.0, wait))
            if readable:
                self.on_readable(now_fn())
        self.close()
