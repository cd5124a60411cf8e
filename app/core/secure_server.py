"""The server's secure layer: handshakes, then every datagram sealed and opened.

It stands between the socket and the Hub. The Hub sees only version-1
datagrams that authenticated under an established session, from a peer
address `(host, port, index)` that names that session: a datagram nobody
authenticated never reaches it, and no source address can act for a session
it did not establish (spoofing one gets nothing).

Order of work for a stranger, cheapest first (WireGuard's cookie, QUIC's
address validation): any INIT -> the host's and the server's INIT budgets,
checked before it is even parsed (past them: dropped, unanswered); without a
valid cookie -> a CHALLENGE no larger than the INIT, nothing kept; with one ->
the host's and the server's handshake budgets; only then public-key work.
docs/SECURITY.md ("Handshake floods"), PROTOCOL.md S.9.
"""
import hashlib
import hmac
import struct
from collections import deque
from typing import Deque, Dict, List, Optional, Set, Tuple

from app.core import protocol, secure_wire
from app.core.flood import TokenBucket
from app.core.hub import Hub, is_loopback, normal_ip
from app.core.protocol import ProtocolError
from app.core.secure_session import (Handshake, KeyPair, Suite, Transport, client_token)
from app.core.secure_wire import RejectCode, SecureType

Address = Tuple
COOKIE_BUCKET = 30.0          # seconds; a cookie is good for this bucket and the one before
HANDSHAKE_TTL = 10.0          # a handshake not finished by then is forgotten
PEER_IDLE = 60.0              # an established session silent this long is forgotten
# INITs looked at (before any parse, MAC or reply): per source host, then in
# all. A CHALLENGE costs the loop ~9 µs (the cookie MAC, its sendto); a flood of
# cookie-less INITs from forged addresses passes every per-host bucket, so only
# the global one keeps the loop free for the members' records. 5000 a second is
# 4.5 % of a core and still lets a 1000-client join storm in at once
# (docs/SECURITY.md "Handshake floods", measured with bench/handshake_flood.py).
INIT_RATE, INIT_BURST = 5000.0, 5000.0
INIT_HOST_RATE, INIT_HOST_BURST = 40.0, 100.0     # two INITs a handshake, resends
INIT_LOOPBACK_RATE, INIT_LOOPBACK_BURST = 1500.0, 3000.0   # a 1000-client join storm
INIT_HOSTS = 4096             # hosts with an INIT bucket; beyond, only the global one
HOST_RATE, HOST_BURST = 10.0, 30.0        # handshakes a second per host
LOOPBACK_RATE, LOOPBACK_BURST = 500.0, 1000.0   # ... per loopback host (tests, benches, ssh users)
SERVER_RATE, SERVER_BURST = 3000.0, 3000.0   # ... for the whole server
GUESS_RATE, GUESS_BURST = 0.2, 5.0        # wrong-password attempts per host
REJECT_RATE, REJECT_BURST = 200.0, 200.0  # unauthenticated REJECTs a second, in all
RUN_ID = 16
ZERO_COOKIE = bytes(secure_wire.COOKIE)   # a client's first INIT: no cookie yet
_V2 = protocol.MAGIC + bytes([secure_wire.VERSION])
_OUTER_SIZE = secure_wire.OUTER_SIZE
_RECORD, _INIT, _FINISH = int(SecureType.RECORD), int(SecureType.INIT), int(SecureType.FINISH)
_OUTER = secure_wire.OUTER
_COUNTER = struct.Struct("!Q")            # a RECORD's counter, after the OUTER part
_RECORD_HEADER_SIZE, _RECORD_OVERHEAD = secure_wire.RECORD_HEADER_SIZE, secure_wire.RECORD_OVERHEAD
FINISH_TRIES = 3              # FINISHes that fail before a handshake is given up
# Datagrams of strangers (handshakes, and the records of sessions that are not
# in the room: their HELLO) wait in the slow lane (`receive`) at most this
# many; past it they are dropped and counted (to the client, a lost datagram:
# it resends). What is waiting there costs the members nothing (`run_deferred`).
DEFERRED_MAX = 4096


def _is_loopback(host: object) -> bool:
    """hub.is_loopback of a raw source host (also ::ffff:127.x.y.z, which
    normal_ip would make 127.x.y.z, at a cost the INIT gate cannot pay)."""
    text = str(host)
    return is_loopback(text) or text.startswith("::ffff:127.")


class Pending:
    __slots__ = ("index", "handshake", "addr", "nonce", "client_index", "response", "created",
                 "pake", "failures", "failed")

    def __init__(self, index: int, handshake: Handshake, addr: Address, nonce: bytes,
                 client_index: int, response: bytes, now: float, pake: bool) -> None:
        self.index = index
        self.handshake = handshake
        self.addr = addr
        self.nonce = nonce
        self.client_index = client_index
        self.response = response
        self.created = now
        self.pake = pake
        self.failures = 0
        self.failed: Set[bytes] = set()       # digests of the FINISHes that failed


class Peer:
    __slots__ = ("index", "transport", "addr", "hub_addr", "last_heard", "token", "static",
                 "finish_digest")

    def __init__(self, index: int, transport: Transport, addr: Address, now: float,
                 token: bytes, static: bytes, finish_digest: bytes) -> None:
        self.index = index
        self.transport = transport
        self.addr = addr                       # where it is now (follows it: roaming)
        self.hub_addr = (addr[0], addr[1], index)   # what the Hub calls it, for ever
        self.last_heard = now
        self.token = token
        self.static = static                   # the client's long-term public key
        self.finish_digest = finish_digest     # a repeated FINISH is recognised, not redone


class SecureServer:
    def __init__(self, hub: Hub, suite: Suite, static: KeyPair, secret: bytes,
                 password: bool, now: float) -> None:
        self.hub = hub
        self.suite = suite
        self.static = static
        self.secret = secret
        self._cookie_mac = hashlib.blake2s(key=secret, digest_size=secure_wire.COOKIE)
        self.password = password
        self.pending: Dict[int, Pending] = {}
        self.by_nonce: Dict[Tuple[object, ...], int] = {}
        self.peers: Dict[int, Peer] = {}
        self.outbox: List[Tuple[bytes, Address]] = []
        self.host_budget: Dict[str, TokenBucket] = {}
        self.guesses: Dict[str, TokenBucket] = {}
        self.server_budget = TokenBucket(SERVER_RATE, SERVER_BURST, now)
        self.init_budget = TokenBucket(INIT_RATE, INIT_BURST, now)
        self.init_hosts: Dict[str, TokenBucket] = {}
        self.init_shut_until = now
        self.inits_dropped = 0                 # (in hub.stats at each sweep: a flood's hot path)
        self.reject_budget = TokenBucket(REJECT_RATE, REJECT_BURST, now)
        # Sessions kept at most (joined or not; idle ones go after PEER_IDLE):
        # in all, and per host, so that one host cannot fill the table.
        self.max_peers = 2 * hub.config.max_sessions + 64
        self.max_per_host = 2 * hub.config.max_per_ip + 8 if hub.config.max_per_ip \
            else self.max_peers
        self.per_host: Dict[str, int] = {}
        self._next_sweep = now + 1.0
        # The slow lane (receive, run_deferred), in arrival order: (data,
        # addr, the INIT if it is one past its budgets and its cookie check).
        self.deferred: Deque[Tuple[bytes, Address, Optional[secure_wire.Init]]] = deque()
        self.deferred_dropped = 0
        for key in ("handshakes", "handshake_failures", "challenges", "inits_dropped"):
            hub.stats.setdefault(key, 0)
        # The hub's limits per person and its kicks and bans know a session's
        # client key through this (app/core/limits.py).
        hub.identify = self.peer_key

    @property
    def public_key(self) -> bytes:
        return self.static[1]

    # ------------------------------------------------------------ input

    def on_datagram(self, now: float, data: bytes, addr: Address) -> None:
        """Handle one datagram; never raises for bad input (counted and dropped)."""
        try:
            if data[:3] == _V2 and len(data) >= _OUTER_SIZE:
                kind = data[3]                 # (plain ints: an IntEnum compares slowly)
                if kind == _RECORD:
                    self._on_record(now, data, addr)
                elif kind == _INIT:
                    if now >= self.init_shut_until and self._init_admitted(now, addr[0]):
                        self._on_init(now, data, addr)
                    else:
                        self.inits_dropped += 1
                elif kind == _FINISH:
                    self._on_finish(now, data, addr)
                else:
                    raise ProtocolError("secure datagram of type %d from a client" % kind)
            elif data[:2] == protocol.MAGIC and len(data) > 3 and data[3] == protocol.HELLO:
                self._refuse_plain_hello(now, data, addr)
            else:
                raise ProtocolError("not a secure datagram")
        except ProtocolError as exc:
            self.hub.malformed(now, addr, str(exc))

    def receive(self, now: float, data: bytes, addr: Address) -> None:
        """on_datagram, in two lanes: a record of a session that is in the
        room (a member's line, ack or ping: a dict look-up tells) is handled
        now; anything else (INIT, FINISH, the record of a session that is not
        in the room yet, such as its HELLO, the join's costly work) waits for
        `run_deferred`, which the shell calls once what the members' datagrams
        made has been sent. A storm of handshakes or joins then delays the
        room's lines by a bounded batch, not by the whole storm (the kernel's
        queue is first in, first out: a member's line behind 1000 handshakes
        waited for all of them). The INIT budgets are checked before a
        datagram is queued (a flood is dropped on them, as before), and the
        lane is bounded (DEFERRED_MAX). An INIT's cheap answers (a
        CHALLENGE above all) are given now: only a handshake's public-key work
        waits, so a flood from forged sources, which never has a valid cookie,
        puts nothing in the lane and a newcomer's handshake is not behind it."""
        if len(data) < _OUTER_SIZE or data[:3] != _V2:
            self.on_datagram(now, data, addr)   # junk, or a version-1 HELLO: cheap, now
            return
        init: Optional[secure_wire.Init] = None
        kind = data[3]
        if kind == _RECORD:
            peer = self.peers.get(_OUTER.unpack_from(data)[3])
            if peer is not None and peer.hub_addr in self.hub.by_addr:
                try:                   # (on_datagram's way, without its checks again)
                    self._on_record(now, data, addr, peer)
                except ProtocolError as exc:
                    self.hub.malformed(now, addr, str(exc))
                return
        elif kind == _INIT:
            if now < self.init_shut_until or not self._init_admitted(now, addr[0]):
                self.inits_dropped += 1
                return
            try:
                init = self._costly_init(now, data, addr)
            except ProtocolError as exc:
                self.hub.malformed(now, addr, str(exc))
                return
            if init is None:
                return
        if len(self.deferred) >= DEFERRED_MAX:
            self.deferred_dropped += 1
            return
        self.deferred.append((data, addr, init))

    def run_deferred(self, now: float, limit: int) -> bool:
        """Handle up to `limit` datagrams of the slow lane, oldest first; True
        if some are still waiting."""
        deferred = self.deferred
        for _ in range(min(limit, len(deferred))):
            data, addr, init = deferred.popleft()
            if init is None:
                self.on_datagram(now, data, addr)
                continue
            try:                      # (its budgets and cookie were checked in receive)
                self._handshake(now, init, addr)
            except ProtocolError as exc:
                self.hub.malformed(now, addr, str(exc))
        self.hub.flush(now)
        return bool(deferred)

    def _refuse_plain_hello(self, now: float, data: bytes, addr: Address) -> None:
        """A version-1 (unencrypted) client: told why, in its own terms, in no
        more bytes than it sent."""
        room = len(data) - protocol.HEADER_SIZE - 3
        if room >= 0 and self.reject_budget.take(now):
            self.hub.stats["refused"] += 1
            reason = ("this room is encrypted (protocol 2): use a newer chat.pyz, "
                      "or start both sides with --insecure")
            self.outbox.append((protocol.encode_header(protocol.REFUSE)
                                + protocol.encode_refuse(protocol.REFUSE_BAD_VERSION, reason,
                                                         room), addr))

    def _reject(self, now: float, code: RejectCode, request: bytes, addr: Address,
                index: int) -> None:
        if self.reject_budget.take(now):
            reply = secure_wire.encode_reject(code, len(request), index)
            if reply:
                self.outbox.append((reply, addr))

    def _init_admitted(self, now: float, host: str) -> bool:
        """May the loop spend anything on this INIT (a MAC, a reply, a
        parse)? The host's own INIT bucket first, so that one host that sends
        from its own address cannot spend everyone's; then the server's. Only
        dict look-ups and float arithmetic: under a flood of forged sources this
        is most of what the server does per datagram. The table of hosts is
        bounded (INIT_HOSTS, emptied once a second when full): sources beyond
        it meet the global bucket alone."""
        bucket = self.init_hosts.get(host)
        if bucket is None and len(self.init_hosts) < INIT_HOSTS:
            bucket = self.init_hosts[host] = (
                TokenBucket(INIT_LOOPBACK_RATE, INIT_LOOPBACK_BURST, now) if _is_loopback(host)
                else TokenBucket(INIT_HOST_RATE, INIT_HOST_BURST, now))
        if bucket is not None and not bucket.take(now):
            return False
        if self.init_budget.take(now):
            return True
        # Spent: until it refills, every INIT is dropped on one comparison.
        self.init_shut_until = self.init_budget.next_token_at(now)
        return False

    def _cookie(self, nonce: bytes, addr: Address, bucket: int) -> bytes:
        """WireGuard's cookie MAC: keyed BLAKE2s-128 (RFC 7693) over the source
        address, the INIT's nonce and the time bucket, under the run's secret
        (its keyed state made once: a copy costs a sixth of an HMAC-SHA256)."""
        mac = self._cookie_mac.copy()
        mac.update(b"%s %d " % (str(addr[0]).encode(), addr[1]) + nonce
                   + bucket.to_bytes(8, "big"))
        return mac.digest()

    def _check_cookie(self, cookie: bytes, nonce: bytes, addr: Address,
                      now: float) -> Optional[bytes]:
        """None when the cookie is valid (this bucket or the one before); else
        the cookie to send back. One MAC for a client's first INIT (a zero
        cookie is never checked), at most two for any other."""
        bucket = int(now // COOKIE_BUCKET)
        current = self._cookie(nonce, addr, bucket)
        if cookie == ZERO_COOKIE:
            return current
        if hmac.compare_digest(cookie, current) or hmac.compare_digest(
                cookie, self._cookie(nonce, addr, bucket - 1)):
            return None
        return current

    def _budget(self, now: float, host: str) -> bool:
        """May this host have a handshake now? (Checked after its cookie.)"""
        loopback = is_loopback(host)
        bucket = self.host_budget.get(host)
        if bucket is None:
            bucket = self.host_budget[host] = (
                TokenBucket(LOOPBACK_RATE, LOOPBACK_BURST, now) if loopback
                else TokenBucket(HOST_RATE, HOST_BURST, now))
        if not bucket.take(now):
            return False
        # Password guesses are limited for loopback too: a user logged in to the
        # server's machine must not try a room code hundreds of times a second.
        guesses = self.guesses.get(host)
        if guesses is not None and guesses.next_token_at(now) > now:
            return False                       # wrong passwords lately: wait
        if not loopback and self.per_host.get(host, 0) >= self.max_per_host:
            return False                       # its sessions so far: enough
        return self.server_budget.take(now) and len(self.peers) + len(self.pending) \
            < self.max_peers

    def _on_init(self, now: float, data: bytes, addr: Address) -> None:
        init = self._costly_init(now, data, addr)
        if init is not None:
            self._handshake(now, init, addr)

    def _costly_init(self, now: float, data: bytes,
                     addr: Address) -> Optional[secure_wire.Init]:
        """The INIT, if it needs the handshake's public-key work; None when it
        was answered cheaply here: refused (the wrong kind of room), our lost
        RESPONSE sent again, or a CHALLENGE (no valid cookie yet: what every
        INIT of a forged source gets, without state)."""
        init = secure_wire.decode_init(data)
        pake = bool(init.flags & secure_wire.FLAG_PAKE)
        if pake != self.password:
            self._reject(now, RejectCode.NEEDS_PASSWORD if self.password else RejectCode.NO_PASSWORD,
                         data, addr, init.sender)
            return None
        again = self.by_nonce.get((addr[0], addr[1], init.nonce))
        if again is not None and again in self.pending:
            self.outbox.append((self.pending[again].response, addr))   # our RESPONSE was lost
            return None
        cookie = self._check_cookie(init.cookie, init.nonce, addr, now)
        if cookie is not None:
            self.hub.stats["challenges"] += 1
            self.outbox.append((secure_wire.encode_challenge(init.nonce, cookie), addr))
            return None
        return init

    def _handshake(self, now: float, init: secure_wire.Init, addr: Address) -> None:
        """Answer an INIT that carried a valid cookie: the Noise (and SPAKE2)
        work, a pending handshake, our RESPONSE."""
        pake = bool(init.flags & secure_wire.FLAG_PAKE)
        host = normal_ip(addr[0])
        if not self._budget(now, host):
            self.hub.stats["throttled"] += 1
            return                             # no answer: to the client, a lost datagram
        handshake = self.suite.handshake(False, pake, self.static)
        payload = handshake.read_message(init.noise)
        if payload is None:
            raise ProtocolError("INIT's Noise message does not parse")
        reply = b""
        if pake:
            if len(payload) != secure_wire.PAKE_MESSAGE:
                raise ProtocolError("INIT without a SPAKE2 message")
            exchange = self.suite.pake(server=True)
            reply = exchange.start()
            try:
                handshake.set_psk(self.suite.psk(exchange.finish(payload)))
            except ValueError as exc:
                raise ProtocolError("bad SPAKE2 message: %s" % exc)
        elif payload:
            raise ProtocolError("INIT payload in a room without a password")
        try:
            message2 = handshake.write_message(reply)
        except ValueError as exc:             # e.g. a small-order ephemeral key
            raise ProtocolError("cannot answer the INIT: %s" % exc)
        index = self._new_index()
        response = secure_wire.encode_response(init.sender, init.nonce, index, message2)
        self.pending[index] = Pending(index, handshake, addr, init.nonce, init.sender,
                                      response, now, pake)
        self.by_nonce[(addr[0], addr[1], init.nonce)] = index
        self.outbox.append((response, addr))

    def _new_index(self) -> int:
        while True:
            index = int.from_bytes(self.suite.random(4), "big")
            if index and index not in self.pending and index not in self.peers:
                return index

    def _on_finish(self, now: float, data: bytes, addr: Address) -> None:
        _, index = secure_wire.peek(data)
        pending = self.pending.get(index)
        if pending is None or pending.addr[:2] != addr[:2]:
            peer = self.peers.get(index)
            if peer is not None and peer.finish_digest == hashlib.sha256(data).digest():
                return                          # a repeat: its records are on the way
            raise ProtocolError("FINISH for no handshake of this address")
        payload = pending.handshake.read_message(data[secure_wire.OUTER_SIZE:])
        if payload is None:
            # Kept (Noise's read is transactional) so that a FINISH spoofed by
            # someone who saw the RESPONSE does not spoil the real one; but each
            # failure is a guess, and a few end the handshake.
            # The client is told (REJECT) only when the handshake is given up:
            # a spoofed FINISH alone makes it neither stop nor start over.
            digest = hashlib.sha256(data).digest()
            if pending.pake and digest not in pending.failed:
                self._spend_guess(now, normal_ip(addr[0]))   # a new guess (not a resend)
            pending.failed.add(digest)
            pending.failures += 1
            if pending.failures < FINISH_TRIES:
                return
            self.hub.stats["handshake_failures"] += 1
            self._forget_pending(pending)
            self._reject(now, RejectCode.WRONG_PASSWORD if pending.pake
                         else RejectCode.HANDSHAKE_FAILED, data, addr, pending.client_index)
            return
        self._forget_pending(pending)
        static = pending.handshake.remote_static
        if len(payload) != RUN_ID or static is None:
            raise ProtocolError("FINISH payload is not a run id")
        transport = Transport(pending.handshake.transport(), pending.client_index)
        host = normal_ip(addr[0])
        self.per_host[host] = self.per_host.get(host, 0) + 1
        self.peers[index] = Peer(index, transport, addr, now, client_token(static, payload),
                                 static, hashlib.sha256(data).digest())
        self.hub.stats["handshakes"] += 1

    def _spend_guess(self, now: float, host: str) -> None:
        bucket = self.guesses.get(host)
        if bucket is None:
            bucket = self.guesses[host] = TokenBucket(GUESS_RATE, GUESS_BURST, now)
        bucket.take(now)

    def _on_record(self, now: float, data: bytes, addr: Address,
                   peer: Optional[Peer] = None) -> None:
        """A RECORD; `peer`: its session, already looked up (receive)."""
        if peer is None:
            receiver, counter, header, ciphertext = secure_wire.decode_record(data)
            peer = self.peers.get(receiver)
            if peer is None:
                self._reject(now, RejectCode.UNKNOWN_SESSION, data, addr, receiver)  # we restarted?
                raise ProtocolError("RECORD for an unknown session")
        else:                          # secure_wire.decode_record, inlined
            if len(data) < _RECORD_OVERHEAD:
                raise ProtocolError("RECORD too short")
            counter = _COUNTER.unpack_from(data, _OUTER_SIZE)[0]
            header, ciphertext = data[:_RECORD_HEADER_SIZE], data[_RECORD_HEADER_SIZE:]
        inner = peer.transport.open(counter, header, ciphertext)
        if inner is None:
            raise ProtocolError("RECORD does not authenticate (or is a replay)")
        peer.addr = addr
        peer.last_heard = now
        if len(inner) > 3 and inner[3] == protocol.HELLO and inner[:2] == protocol.MAGIC:
            start = protocol.HEADER_SIZE + 32          # HELLO: nonce 8, cookie 16, instance 8
            if inner[start:start + 16] != peer.token:
                raise ProtocolError("HELLO token not bound to this session's key")
        self.hub.on_datagram(now, inner, peer.hub_addr)

    def flush(self, now: float) -> None:
        self.hub.flush(now)

    # ------------------------------------------------------------ output

    def take_output(self, fan_out_limit: int = -1) -> List[Tuple[bytes, Address]]:
        """The hub's output, each datagram sealed for its peer's session.
        (Transport.seal inlined here saved ~0.03 µs of its ~2.9 µs per
        datagram: not done. docs/PERFORMANCE.md, "third pass".)"""
        out, self.outbox = self.outbox, []
        get_peer, append = self.peers.get, out.append
        for data, hub_addr in self.hub.take_output(fan_out_limit):
            peer = get_peer(hub_addr[2]) if len(hub_addr) == 3 else None
            if peer is not None:
                append((peer.transport.seal(data), peer.addr))
        return out

    # ------------------------------------------------------------ timers

    def tick(self, now: float) -> None:
        self.hub.tick(now)
        if now < self._next_sweep:
            return
        self._next_sweep = now + 1.0
        self.hub.stats["inits_dropped"] += self.inits_dropped
        self.inits_dropped = 0
        if self.deferred_dropped:
            self.hub.stats["deferred_dropped"] = self.hub.stats.get("deferred_dropped", 0) \
                + self.deferred_dropped
            self.deferred_dropped = 0
        for pending in [p for p in self.pending.values() if now - p.created > HANDSHAKE_TTL]:
            self._forget_pending(pending)
        live = self.hub.by_addr
        for peer in [p for p in self.peers.values()
                     if now - p.last_heard > PEER_IDLE and p.hub_addr not in live]:
            del self.peers[peer.index]
            host = normal_ip(peer.hub_addr[0])
            self.per_host[host] -= 1
            if not self.per_host[host]:
                del self.per_host[host]
        if len(self.init_hosts) >= INIT_HOSTS:
            self.init_hosts.clear()            # a scan or forged sources filled it
        for table in (self.host_budget, self.guesses):
            if len(table) > 4096:
                table.clear()                  # bounded: an address scan forgets budgets

    def _forget_pending(self, pending: Pending) -> None:
        self.pending.pop(pending.index, None)
        self.by_nonce.pop((pending.addr[0], pending.addr[1], pending.nonce), None)

    def next_deadline(self) -> float:
        """When tick must run next (0.0: the slow lane has work: no sleep)."""
        due = self.hub.next_deadline()
        if self.pending or self.peers:
            due = min(due, self._next_sweep)
        return 0.0 if self.deferred else due

    def peer_key(self, hub_addr: Address) -> Optional[bytes]:
        """The long-term key of the client behind a Hub address (bans by key)."""
        peer = self.peers.get(hub_addr[2]) if len(hub_addr) == 3 else None
        return peer.static if peer is not None else None
