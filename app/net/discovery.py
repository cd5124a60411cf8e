"""LAN discovery's sockets: `chat.pyz client` with no HOST finds the server by itself.

A client sends a PROBE to the broadcast address of every IPv4 interface, to
255.255.255.255 and 127.0.0.1, and (where IPv6 works) to the all-nodes group
ff02::1 on every interface and to ::1, all on the chat port, in a few rounds.
Answers with the same server id are one server (two network cards, IPv4 and
IPv6): it is listed once, at the address on one of our own subnets if it has one.

Layers: the wire format and the server's answer are app/core/discovery_wire.py
(pure; docs/LAN.md section 6); the interfaces app/net/interfaces.py; here the
prober (`Prober`, `run`, `discover`) and what the server's shell needs from
the machine (`responder`, `join_hints`); the user's texts and the choice
among the servers found are app/ui/discovery_texts.py.
"""
import ipaddress
import os
import selectors
import socket
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from app import __version__
from app.core import protocol
from app.core import join_hints as hints_text
from app.core.discovery_wire import (FLAG_PASSWORD, Answer, Found, Responder, decode_answer,
                                     encode_probe)
from app.net.interfaces import IFF_MULTICAST, ipv6_addresses, list_interfaces

__all__ = ["Found", "Prober", "run", "discover", "responder", "join_hints", "program_name"]

DISCOVER_TIMEOUT = 2.0         # seconds a client listens for answers at most
SETTLE = 0.5                   # ... or this long after the last new server answered
ROUNDS = (0.0, 0.25, 0.5)      # probes are sent at these fractions of the timeout

IPV6_ALL_NODES = "ff02::1"

SockAddr = Tuple[Any, ...]     # (host, port) or (host, port, flowinfo, scope id)


# ============================================================ server side

def server_name() -> str:
    try:
        return socket.gethostname() or "chat.pyz"
    except OSError:
        return "chat.pyz"


_RESPONDER: Optional[Responder] = None


def responder(now: float) -> Responder:
    """This process's one Responder (one random server id per server run),
    made at the first probe; the server's loop sends what it answers."""
    global _RESPONDER
    if _RESPONDER is None:
        _RESPONDER = Responder(os.urandom(8), server_name(), __version__, now)
    return _RESPONDER


def program_name() -> str:
    """How this file was started, as a student would type it: ./chat.pyz."""
    base = os.path.basename(sys.argv[0] or "")
    return "./" + base if base.endswith(".pyz") else "./chat.pyz"


def join_hints(bound: str, port: int, program: Optional[str] = None) -> List[hints_text.Hint]:
    """The server's "how to join" lines at start, for this machine's interfaces
    (app.core.join_hints makes them, the console words them). `bound` is the
    socket's own address."""
    addresses: List[hints_text.Address] = []
    any_up = False
    if bound in ("::", "0.0.0.0"):             # only then are the interfaces shown
        interfaces = list_interfaces()
        any_up = any(i.up and not i.loopback for i in interfaces)
        for iface in interfaces:
            if iface.up and not iface.loopback and iface.address:
                net = iface.network
                addresses.append(hints_text.Address(iface.address, iface.name,
                                                    str(net) if net else ""))
        if bound == "::":
            for name, address, prefix in ipv6_addresses():
                addresses.append(hints_text.Address(address, name, ipv6_prefix=prefix))
    return hints_text.join_hints(bound, port, program or program_name(), addresses, any_up)


# ============================================================ client side

def _sockaddr_text(sockaddr: SockAddr) -> str:
    """An answer's source address as a host for `chat.pyz client` (with %scope
    for a link-local IPv6 address, IPv4-mapped addresses shown as IPv4)."""
    host: str = sockaddr[0]
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    if len(sockaddr) >= 4 and sockaddr[3] and "%" not in host:
        try:
            return "%s%%%s" % (host, socket.if_indextoname(sockaddr[3]))
        except OSError:
            return "%s%%%d" % (host, sockaddr[3])
    return host


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

    def _destinations(self, targets: Optional[Sequence[str]]) -> List[Tuple[int, SockAddr]]:
        port = self.port
        out: List[Tuple[int, SockAddr]] = []
        if targets is not None:
            for target in targets:
                try:
                    infos = socket.getaddrinfo(target, port, 0, socket.SOCK_DGRAM, 0,
                                               socket.AI_NUMERICHOST)
                except socket.gaierror:
                    continue
                out.append((infos[0][0], infos[0][4]))
            return out
        seen: Set[str] = set()
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
                    out.append((socket.AF_INET6, (IPV6_ALL_NODES, port, 0, iface.ifindex)))
            out.append((socket.AF_INET6, ("::1", port, 0, 0)))
        return out

    def searched(self) -> List[str]:
        """Where the probes went, for messages ("192.168.1.255", "ff02::1%eth0")."""
        shown: List[str] = []
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

    def _on_datagram(self, now: float, data: bytes, source: SockAddr) -> None:
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
        result: List[Found] = []
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


