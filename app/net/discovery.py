"""LAN discovery: `chat.pyz client` with no HOST finds the server by itself.

A client sends a PROBE (fixed size, random nonce) to the broadcast address of
every IPv4 interface, to 255.255.255.255 and 127.0.0.1, and (where IPv6 works)
to the all-nodes group ff02::1 on every interface and to ::1, all on the chat
port. A server answers each probe that reaches its socket with one ANSWER --
never larger than the probe -- sent back to the probe's source address: its
name, port, online count, protocol version and a random id of this server run.
Answers with the same server id are one server (two network cards, IPv4 and
IPv6): it is listed once, at the address on one of our own subnets if it has one.

The wire format is docs/LAN.md section "Discovery datagrams". It never starts
with the chat magic b"CZ", so `protocol.peek_version` / `decode_header` never
take a discovery datagram for a chat datagram of some version, and an older
server simply counts a probe as malformed.

Layers: encode/decode and `answer_for` are pure; `Responder` is the server
side (rate limit, sendto); `list_interfaces`, `Prober`, `discover` and
`find_for_client` do the client's sockets; `choose`, `describe` and
`join_hints` make the user's texts.
"""
import ipaddress
import os
import selectors
import socket
import struct
import sys
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from app import __version__
from app.core import protocol
from app.core.exit_codes import ExitCode

try:
    import fcntl
except ImportError:            # Windows has no fcntl: interfaces are then not listed
    fcntl = None

PROBE_MAGIC = b"czd?"          # 63 7a 64 3f: never b"CZ", so never a chat datagram
ANSWER_MAGIC = b"czd!"         # 63 7a 64 21
FORMAT = 1                     # discovery layout version (byte 4)
PROBE_SIZE = 128               # every probe we send is padded to this size
PROBE_FIXED = struct.Struct("!4sBB8s")          # magic format version nonce
ANSWER_FIXED = struct.Struct("!4sBB8s8sHHB")    # magic format version nonce id port online flags
ANSWER_MIN = ANSWER_FIXED.size + 2              # two empty str8 strings: 29 bytes
MAX_SERVER_NAME = 64           # UTF-8 bytes of the server's name in an answer
MAX_SOFTWARE = 32              # UTF-8 bytes of the software version in an answer

DISCOVER_TIMEOUT = 2.0         # seconds a client listens for answers at most
SETTLE = 0.5                   # ... or this long after the last new server answered
ROUNDS = (0.0, 0.25, 0.5)      # probes are sent at these fractions of the timeout
ANSWER_RATE = 500.0            # answers per second a server sends at most ...
ANSWER_BURST = 1000.0          # ... after a burst (a whole lab starting at once)

# Linux ioctls on an AF_INET socket (linux/sockios.h), and interface flags.
SIOCGIFFLAGS = 0x8913
SIOCGIFADDR = 0x8915
SIOCGIFBRDADDR = 0x8919
SIOCGIFNETMASK = 0x891B
IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_LOOPBACK = 0x8
IFF_MULTICAST = 0x1000

IPV6_ALL_NODES = "ff02::1"
FLAG_PASSWORD = 0x01           # answer flags: the room has a password


class Probe(NamedTuple):
    version: int               # the chat protocol version the prober speaks
    nonce: bytes


class Answer(NamedTuple):
    version: int               # the chat protocol version the server speaks
    nonce: bytes
    server_id: bytes           # random per server run: same id = same server
    port: int
    online: int
    name: str                  # the server's host name, sanitised for a terminal
    software: str              # the server's chat.pyz version, e.g. "0.1.0"
    flags: int = 0


class ServerInfo(NamedTuple):
    """What a server says about itself in an answer."""

    server_id: bytes
    name: str
    port: int
    online: int
    version: int = protocol.VERSION
    software: str = __version__
    flags: int = 0


class Found(NamedTuple):
    """One server, however many addresses it answered from."""

    name: str
    host: str                  # the address to connect to (preferred of `addresses`)
    port: int
    online: int
    addresses: Tuple[str, ...]  # every address it answered from, `host` first
    version: int = protocol.VERSION
    software: str = ""
    server_id: bytes = b""
    password: bool = False     # the room has a password (--password / CHAT_PASSWORD)

    @property
    def compatible(self) -> bool:
        return self.version == protocol.VERSION


# ============================================================ pure codec

def cut_utf8(text: str, limit: int) -> bytes:
    """`text` as UTF-8, cut to at most `limit` bytes at a character boundary."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return raw
    raw = raw[:max(0, limit)]
    while raw and raw[-1] & 0xC0 == 0x80:      # inside a multi-byte character
        raw = raw[:-1]
    if raw and raw[-1] >= 0xC0:                  # a lead byte without its tail
        raw = raw[:-1]
    return raw


def encode_probe(nonce: bytes, version: int = protocol.VERSION, size: int = PROBE_SIZE) -> bytes:
    if len(nonce) != 8:
        raise ValueError("the nonce is 8 bytes")
    head = PROBE_FIXED.pack(PROBE_MAGIC, FORMAT, version, nonce)
    return head + bytes(max(0, size - len(head)))


def is_probe(data: bytes) -> bool:
    """Cheap test for the server's receive loop: does this look like a probe?"""
    return data[:4] == PROBE_MAGIC


def decode_probe(data: bytes) -> Optional[Probe]:
    """A probe, or None. Any format byte is accepted: the first 14 bytes are frozen."""
    if len(data) < PROBE_FIXED.size or len(data) > protocol.MAX_DATAGRAM:
        return None
    magic, _format, version, nonce = PROBE_FIXED.unpack_from(data)
    if magic != PROBE_MAGIC:
        return None
    return Probe(version, nonce)


def encode_answer(probe: Probe, info: ServerInfo, limit: int) -> Optional[bytes]:
    """The answer to `probe` in at most `limit` bytes (the probe's size): the
    name is cut to fit, the software version left out (empty) unless it fits
    whole; None if not even that fits."""
    if limit < ANSWER_MIN:
        return None
    room = limit - ANSWER_MIN
    name = cut_utf8(info.name, min(MAX_SERVER_NAME, room))
    software = info.software.encode("utf-8", "replace")
    if len(software) > min(MAX_SOFTWARE, room - len(name)):
        software = b""
    head = ANSWER_FIXED.pack(ANSWER_MAGIC, FORMAT, info.version & 0xFF, probe.nonce,
                             info.server_id, info.port, min(info.online, 0xFFFF),
                             info.flags & 0xFF)
    answer = (head + struct.pack("!B", len(name)) + name
              + struct.pack("!B", len(software)) + software)
    assert len(answer) <= limit
    return answer


def answer_for(probe_bytes: bytes, info: ServerInfo) -> Optional[bytes]:
    """The server's answer to a datagram: None unless it is a probe; never
    larger than the probe."""
    probe = decode_probe(probe_bytes)
    if probe is None:
        return None
    return encode_answer(probe, info, len(probe_bytes))


def decode_answer(data: bytes) -> Optional[Answer]:
    """An answer, or None for anything else (checked strictly: lengths, UTF-8).
    Bytes after the two strings are ignored (room for later additions)."""
    if len(data) < ANSWER_MIN or len(data) > protocol.MAX_DATAGRAM:
        return None
    (magic, _format, version, nonce, server_id, port, online,
     flags) = ANSWER_FIXED.unpack_from(data)
    if magic != ANSWER_MAGIC:
        return None
    pos = ANSWER_FIXED.size
    strings = []
    for limit in (MAX_SERVER_NAME, MAX_SOFTWARE):
        if pos >= len(data):
            return None
        length = data[pos]
        pos += 1
        if length > limit or pos + length > len(data):
            return None
        try:
            strings.append(data[pos:pos + length].decode("utf-8"))
        except UnicodeDecodeError:
            return None
        pos += length
    from app.core.text import sanitize_text

    name, software = (sanitize_text(s).strip() for s in strings)
    return Answer(version, nonce, server_id, port, online, name, software, flags)


# ============================================================ server side

def server_name() -> str:
    try:
        return socket.gethostname() or "chat.pyz"
    except OSError:
        return "chat.pyz"


class Responder:
    """The server's half: answers probes, at most ANSWER_RATE a second."""

    def __init__(self, server_id: Optional[bytes] = None, name: Optional[str] = None) -> None:
        self.server_id = server_id or os.urandom(8)
        self.name = server_name() if name is None else name
        self.tokens = ANSWER_BURST
        self.stamp = time.monotonic()
        self.answered = 0
        self.dropped = 0

    def _allowed(self, now: float) -> bool:
        self.tokens = min(ANSWER_BURST, self.tokens + (now - self.stamp) * ANSWER_RATE)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def reply(self, sock: socket.socket, data: bytes, addr, online: int,
              password: bool = False) -> bool:
        """Answer the probe `data` from `addr` on `sock` (the chat socket, so the
        answer comes from the chat port). True if an answer went out."""
        if not self._allowed(time.monotonic()):
            self.dropped += 1
            return False
        port = sock.getsockname()[1]
        answer = answer_for(data, ServerInfo(self.server_id, self.name, port, online,
                                             flags=FLAG_PASSWORD if password else 0))
        if answer is None:
            self.dropped += 1
            return False
        try:
            sock.sendto(answer, addr)
        except OSError:                # a full buffer or an unreachable prober: its loss
            self.dropped += 1
            return False
        self.answered += 1
        return True


_RESPONDER: Optional[Responder] = None


def reply(sock: socket.socket, data: bytes, addr, online: int, password: bool = False) -> bool:
    """`Responder.reply` of this process's one responder (one server id per run)."""
    global _RESPONDER
    if _RESPONDER is None:
        _RESPONDER = Responder()
    return _RESPONDER.reply(sock, data, addr, online, password)


# ============================================================ interfaces

class Interface(NamedTuple):
    name: str
    index: int
    flags: int
    address: Optional[str] = None      # primary IPv4 address
    netmask: Optional[str] = None
    broadcast: Optional[str] = None

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)

    @property
    def loopback(self) -> bool:
        return bool(self.flags & IFF_LOOPBACK)

    @property
    def network(self) -> Optional[ipaddress.IPv4Network]:
        if not (self.address and self.netmask):
            return None
        try:
            return ipaddress.IPv4Network("%s/%s" % (self.address, self.netmask), strict=False)
        except ValueError:
            return None


def _ioctl(sock: socket.socket, request: int, name: bytes) -> Optional[bytes]:
    try:
        return fcntl.ioctl(sock.fileno(), request, struct.pack("16s16x", name))
    except OSError:
        return None                    # e.g. EADDRNOTAVAIL: no IPv4 address on it


def _ioctl_ipv4(sock: socket.socket, request: int, name: bytes) -> Optional[str]:
    result = _ioctl(sock, request, name)
    if result is None:
        return None
    address = socket.inet_ntoa(result[20:24])
    return None if address == "0.0.0.0" else address


def list_interfaces() -> List[Interface]:
    """The interfaces and their primary IPv4 address, netmask and broadcast
    address (Linux ioctls, stdlib only). Elsewhere, or when that fails: names
    and indexes only (taken as up), or nothing; the prober then still uses
    255.255.255.255 and the loopback addresses."""
    try:
        names = socket.if_nameindex()
    except (OSError, AttributeError):
        return []
    plain = [Interface(name, index, IFF_UP | IFF_MULTICAST) for index, name in names]
    if fcntl is None or not sys.platform.startswith("linux"):
        return plain
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return plain
    interfaces = []
    with sock:
        for index, name in names:
            raw = name.encode("utf-8", "replace")[:15]
            result = _ioctl(sock, SIOCGIFFLAGS, raw)
            if result is None:
                continue               # vanished meanwhile
            flags = struct.unpack_from("H", result, 16)[0]
            address = _ioctl_ipv4(sock, SIOCGIFADDR, raw)
            netmask = broadcast = None
            if address:
                netmask = _ioctl_ipv4(sock, SIOCGIFNETMASK, raw)
                if flags & IFF_BROADCAST:
                    broadcast = _ioctl_ipv4(sock, SIOCGIFBRDADDR, raw)
                    if broadcast is None and netmask:
                        net = ipaddress.IPv4Network("%s/%s" % (address, netmask), strict=False)
                        broadcast = str(net.broadcast_address)
            interfaces.append(Interface(name, index, flags, address, netmask, broadcast))
    return interfaces


def ipv6_addresses() -> List[Tuple[str, str, int]]:
    """(interface, address, prefix length) of the usable global IPv6 addresses
    (Linux: /proc/net/if_inet6; elsewhere none)."""
    found = []
    try:
        with open("/proc/net/if_inet6") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split()
        if len(parts) != 6:
            continue
        raw, _index, prefix, scope, flags, name = parts
        try:
            if int(scope, 16) != 0 or int(flags, 16) & 0x68:   # link/host scope; dadfailed,
                continue                                        # deprecated, tentative
            address = str(ipaddress.IPv6Address(bytes.fromhex(raw)))
            found.append((name, address, int(prefix, 16)))
        except ValueError:
            continue
    return found


# ============================================================ client side

def _sockaddr_text(sockaddr) -> str:
    """An answer's source address as a host for `chat.pyz client` (with %scope
    for a link-local IPv6 address, IPv4-mapped addresses shown as IPv4)."""
    host = sockaddr[0]
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    if len(sockaddr) >= 4 and sockaddr[3] and "%" not in host:
        try:
            return "%s%%%s" % (host, socket.if_indextoname(sockaddr[3]))
        except OSError:
            return "%s%%%d" % (host, sockaddr[3])
    return host


def host_port_text(host: str, port: int) -> str:
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def _rank(host: str, networks: Sequence[ipaddress.IPv4Network]) -> int:
    """Lower is better: one of our subnets, loopback, other IPv4, IPv6, link-local."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return 9
    if address.version == 4:
        if any(address in net for net in networks):
            return 0
        return 1 if address.is_loopback else 2
    if address.is_loopback:
        return 1
    return 4 if address.is_link_local else 3


class _Seen:
    __slots__ = ("answer", "addresses", "order")

    def __init__(self, answer: Answer, order: int) -> None:
        self.answer = answer
        self.addresses: List[str] = []
        self.order = order


class Prober:
    """Non-blocking discovery, for a front end that runs its own loop:

        prober = Prober(port)
        while not prober.done(now()):
            ready = select(prober.filenos(), timeout=prober.tick(now()))
            if ready: prober.on_readable(now())
        servers = prober.found(); prober.close()

    `targets` (addresses) replaces the default destinations: every interface's
    broadcast address, 255.255.255.255, 127.0.0.1, ff02::1 on every interface, ::1.
    """

    def __init__(self, port: int, timeout: float = DISCOVER_TIMEOUT,
                 settle: Optional[float] = SETTLE, targets: Optional[Sequence[str]] = None,
                 now: Optional[float] = None) -> None:
        self.port = port
        self.nonce = os.urandom(8)
        self.probe = encode_probe(self.nonce)
        self.interfaces = list_interfaces()
        self.networks = [iface.network for iface in self.interfaces
                         if iface.network is not None and not iface.loopback]
        self.destinations = self._destinations(targets)
        self.socks: Dict[int, socket.socket] = {}
        self.send_errors: Dict[str, str] = {}
        self.sent = 0
        for family in sorted({family for family, _ in self.destinations}):
            try:
                sock = socket.socket(family, socket.SOCK_DGRAM)
            except OSError:
                continue               # e.g. IPv6 switched off on this machine
            sock.setblocking(False)
            if family == socket.AF_INET:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            else:
                try:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
                except OSError:
                    pass
            self.socks[family] = sock
        self.families = set(self.socks)
        now = time.monotonic() if now is None else now
        self.started = now
        self.deadline = now + timeout
        self.settle = settle
        self.rounds = [now + timeout * fraction for fraction in ROUNDS]
        self.last_new: Optional[float] = None
        self.servers: Dict[bytes, _Seen] = {}
        self.ignored = 0               # answers with a wrong nonce, port or layout

    def _destinations(self, targets: Optional[Sequence[str]]) -> List[Tuple[int, tuple]]:
        port = self.port
        out: List[Tuple[int, tuple]] = []
        if targets is not None:
            for target in targets:
                try:
                    infos = socket.getaddrinfo(target, port, 0, socket.SOCK_DGRAM, 0,
                                               socket.AI_NUMERICHOST)
                except socket.gaierror:
                    continue
                out.append((infos[0][0], infos[0][4]))
            return out
        seen = set()
        for iface in self.interfaces:
            if iface.up and not iface.loopback and iface.broadcast and iface.broadcast not in seen:
                seen.add(iface.broadcast)
                out.append((socket.AF_INET, (iface.broadcast, port)))
        for address in ("255.255.255.255", "127.0.0.1"):
            if address not in seen:
                out.append((socket.AF_INET, (address, port)))
        if socket.has_ipv6:
            for iface in self.interfaces:
                if iface.up and not iface.loopback and iface.flags & IFF_MULTICAST:
                    out.append((socket.AF_INET6, (IPV6_ALL_NODES, port, 0, iface.index)))
            out.append((socket.AF_INET6, ("::1", port, 0, 0)))
        return out

    def searched(self) -> List[str]:
        """Where the probes went, for messages ("192.168.1.255", "ff02::1%eth0")."""
        shown = []
        for family, sockaddr in self.destinations:
            if family not in self.families:
                continue
            text = _sockaddr_text(sockaddr) if family == socket.AF_INET6 else sockaddr[0]
            if text not in shown:
                shown.append(text)
        return shown

    def filenos(self) -> List[int]:
        return [sock.fileno() for sock in self.socks.values()]

    def done(self, now: float) -> bool:
        if now >= self.deadline or not self.socks:
            return True
        return (self.settle is not None and self.last_new is not None
                and now >= self.last_new + self.settle)

    def tick(self, now: float) -> float:
        """Send the probe rounds that are due; seconds until the next call."""
        while self.rounds and self.rounds[0] <= now:
            self.rounds.pop(0)
            self._send_round()
        due = [self.deadline]
        if self.rounds:
            due.append(self.rounds[0])
        if self.settle is not None and self.last_new is not None:
            due.append(self.last_new + self.settle)
        return max(0.0, min(due) - now)

    def _send_round(self) -> None:
        for family, sockaddr in self.destinations:
            sock = self.socks.get(family)
            if sock is None:
                continue
            try:
                sock.sendto(self.probe, sockaddr)
                self.sent += 1
            except OSError as exc:     # no route, no such interface, IPv6 tentative, ...
                self.send_errors[_sockaddr_text(sockaddr)] = exc.strerror or str(exc)

    def on_readable(self, now: float) -> None:
        for sock in self.socks.values():
            for _ in range(1000):
                try:
                    data, source = sock.recvfrom(protocol.MAX_DATAGRAM + 1)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    continue           # an ICMP error for a probe: not an answer
                self._on_datagram(now, data, source)

    def _on_datagram(self, now: float, data: bytes, source) -> None:
        answer = decode_answer(data)
        if answer is None or answer.nonce != self.nonce or source[1] != self.port:
            self.ignored += 1
            return
        seen = self.servers.get(answer.server_id)
        if seen is None:
            seen = self.servers[answer.server_id] = _Seen(answer, len(self.servers))
            self.last_new = now
        else:
            seen.answer = answer        # the latest online count
        host = _sockaddr_text(source)
        if host not in seen.addresses:
            seen.addresses.append(host)

    def found(self) -> List[Found]:
        """One entry per server, its best address first; sorted by name, address."""
        result = []
        for seen in sorted(self.servers.values(), key=lambda s: s.order):
            ranked = sorted(seen.addresses, key=lambda h: _rank(h, self.networks))
            answer = seen.answer
            result.append(Found(answer.name, ranked[0], answer.port, answer.online,
                                tuple(ranked), answer.version, answer.software,
                                answer.server_id, bool(answer.flags & FLAG_PASSWORD)))
        result.sort(key=lambda f: (f.name, _rank(f.host, self.networks), f.host))
        return result

    def close(self) -> None:
        for sock in self.socks.values():
            sock.close()
        self.socks = {}


def run(prober: Prober) -> Prober:
    """Drive a Prober to its end (blocking), then close its sockets."""
    sel = selectors.DefaultSelector()
    try:
        for fd in prober.filenos():
            sel.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            timeout = prober.tick(now)
            if prober.done(now):
                break
            if sel.select(timeout):
                prober.on_readable(time.monotonic())
    finally:
        sel.close()
        prober.close()
    return prober


def discover(port: int, timeout: float = DISCOVER_TIMEOUT, settle: Optional[float] = SETTLE,
             targets: Optional[Sequence[str]] = None) -> List[Found]:
    """Probe the LAN and return the servers that answered (blocking, at most
    `timeout` seconds; `settle` seconds after the last new server, or None to
    always listen the whole `timeout`)."""
    return run(Prober(port, timeout, settle, targets)).found()


# ============================================================ texts

def describe(found: Found) -> str:
    """One line for a list or pick list: name, address, online, other addresses."""
    line = "%s  %s  %d online" % (found.name or "?", host_port_text(found.host, found.port),
                                  found.online)
    if found.password:
        line += "  password"
    if len(found.addresses) > 1:
        line += "  (also %s)" % ", ".join(found.addresses[1:])
    if not found.compatible:
        line += "  [%s]" % version_text(found)
    return line


def version_text(found: Found) -> str:
    return ("speaks protocol version %d%s, this chat.pyz (%s) speaks %d: use the server's "
            "chat.pyz" % (found.version,
                          " (chat.pyz %s)" % found.software if found.software else "",
                          __version__, protocol.VERSION))


def client_command(host: Optional[str], port: int, program: str = "chat.pyz") -> str:
    parts = [program, "client"]
    if host:
        parts.append(host)
    if port != protocol.DEFAULT_PORT:
        parts += ["--port", str(port)]
    return " ".join(parts)


def nothing_found_text(port: int, timeout: float, searched: Sequence[str] = ()) -> str:
    where = " (asked %s)" % ", ".join(searched) if searched else ""
    return ("no chat server answered on UDP port %d within %.0f s%s. Give the server's "
            "address: %s (the server prints it at start). If it is running, its firewall "
            "must let UDP port %d in, and finding it by broadcast only works on your own "
            "subnet." % (port, timeout, where, client_command("HOST", port), port))


def choose(found: Sequence[Found], port: int, timeout: float = DISCOVER_TIMEOUT,
           searched: Sequence[str] = ()) -> Tuple[Optional[Found], int, List[str]]:
    """Line mode's decision: (server to connect to or None, exit code if None,
    lines for stderr). One usable server: connect; several: list them and ask
    for HOST (exit 4); only other protocol versions: say so (exit 3); none: what
    to try (exit 4)."""
    usable = [f for f in found if f.compatible]
    if len(usable) == 1:
        chosen = usable[0]
        lines = ["chat.pyz: found the chat server %s at %s (%d online%s); connecting" % (
            chosen.name, host_port_text(chosen.host, chosen.port), chosen.online,
            ", room password" if chosen.password else "")]
        for f in found:
            if not f.compatible:         # unusable anyway: say why it is not chosen
                lines.append("chat.pyz: (not %s at %s: it %s)" % (
                    f.name, host_port_text(f.host, f.port), version_text(f)))
        return chosen, ExitCode.OK, lines
    if usable:
        lines = ["chat.pyz: %d chat servers answered on UDP port %d; choose one and start "
                 "again with its address:" % (len(found), port)]
        for f in found:
            lines.append("  %-40s # %s" % (client_command(f.host, f.port), describe(f)))
        return None, ExitCode.UNREACHABLE, lines
    if found:
        return None, ExitCode.REFUSED, ["chat.pyz: the chat server %s at %s %s" % (
            f.name, host_port_text(f.host, f.port), version_text(f)) for f in found]
    return None, ExitCode.UNREACHABLE, ["chat.pyz: " + nothing_found_text(port, timeout,
                                                                          searched)]


def find_for_client(port: int, timeout: float = DISCOVER_TIMEOUT,
                    targets: Optional[Sequence[str]] = None,
                    pick: Optional[Callable[[List[Found]], Optional[Found]]] = None
                    ) -> Tuple[Optional[str], int, List[str]]:
    """`chat.pyz client` without HOST: (host to connect to or None, exit code,
    lines for stderr). With `pick` (an interactive front end), several usable
    servers are offered to it instead of being listed for the user to retype."""
    prober = run(Prober(port, timeout, SETTLE, targets))
    found = prober.found()
    usable = [f for f in found if f.compatible]
    if pick is not None and len(usable) > 1:
        chosen = pick(usable)
        if chosen is not None:
            return chosen.host, 0, []
    chosen, code, lines = choose(found, port, timeout, prober.searched())
    return (chosen.host if chosen else None), code, lines


def program_name() -> str:
    """How this file was started, as a student would type it: ./chat.pyz."""
    base = os.path.basename(sys.argv[0] or "")
    return "./" + base if base.endswith(".pyz") else "./chat.pyz"


def join_hints(bound: str, port: int, program: Optional[str] = None) -> List[str]:
    """The server's "how to join" lines at start (shown under its start line).
    `bound` is the socket's own address ("::" or "0.0.0.0" for all interfaces)."""
    program = program or program_name()
    if bound.startswith("::ffff:"):
        bound = bound[7:]
    if bound not in ("::", "0.0.0.0"):
        hints = ["how to join: %s" % client_command(bound, port, program)]
        try:
            loopback = ipaddress.ip_address(bound).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            hints.append("  only this machine can join (--bind %s); there `%s` finds it too"
                         % (bound, client_command(None, port, program)))
        else:
            hints.append("  (with --bind, `%s` does not find this server: broadcasts only "
                         "reach a server on all addresses)" % client_command(None, port, program))
            hints.append("firewall: let UDP port %d in" % port)
        return hints
    rows = [(client_command(None, port, program), "students on this subnet: finds this server "
             "by broadcast")]
    interfaces = list_interfaces()
    for iface in interfaces:
        if iface.up and not iface.loopback and iface.address:
            net = iface.network
            rows.append((client_command(iface.address, port, program), "%s%s" % (
                iface.name, ", network %s" % net if net else "")))
    if bound == "::":
        for name, address, prefix in ipv6_addresses():
            rows.append((client_command(address, port, program), "%s, IPv6 /%d" % (name, prefix)))
    width = max(len(command) for command, _ in rows)
    hints = ["how to join: %s  (%s)" % (rows[0][0].ljust(width), rows[0][1])]
    hints += ["         or: %s  (%s)" % (command.ljust(width), note) for command, note in rows[1:]]
    if len(rows) == 1 and any(i.up and not i.loopback for i in interfaces):
        hints.append("  no IPv4 or global IPv6 address here: only `%s` finds this server "
                     "(IPv6 link-local)" % client_command(None, port, program))
    elif len(rows) == 1:
        hints.append("  no network interface is up: only this machine can join")
    hints.append("on this machine: %s" % client_command("127.0.0.1", port, program))
    hints.append("firewall: let UDP port %d in (chat and discovery); broadcast stays in one "
                 "subnet: across routers give the address" % port)
    return hints
