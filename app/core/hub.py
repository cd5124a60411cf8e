"""The server's brain: handshake, sessions, room dispatch and fan-out.

Pure: it takes datagrams, an address and `now`, and leaves datagrams to send in
`outbox`; the shell (server.py) owns the socket, the clock and the console.
Everything a datagram can make it do is decided here, so loss, time-outs,
hostile input and whole-room scenarios are tested in milliseconds.

Trust rules (see docs/PROTOCOL.md and docs/SECURITY.md):
  * no state is kept for an address until it echoes a cookie (HMAC of its
    address, its nonce and a time bucket): spoofed HELLOs cost us nothing;
  * to an unverified address we answer with at most as many bytes as it sent;
  * a session acts only from the address it was bound to, with its session id;
  * names come from the server's session table, never from a chat datagram;
    admin notices and join/leave events are made only here.
"""
import difflib
import enum
import hashlib
import heapq
import hmac
import random
from collections import OrderedDict, deque
from typing import Callable, Deque, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from app.core import options, protocol, text
from app.core.admin import LogKind, malformed_detail, refuse_detail
from app.core.auth import RoomKey, is_tagged
from app.core.file_desk import FileDesk
from app.core.flood import TokenBucket
from app.core.limits import Allowance, Budgets, Person, Seats, default_reserve, is_loopback, people
from app.core.machine import Transitions
from app.core.moderation import (
    BAN,
    KICK,
    MUTE,
    Moderation,
    Rule,
    looks_like_ip,
    minutes_left,
    normal_ip,
    token_digest,
)
from app.core.protocol import Event, ProtocolError
from app.core.room import Room
from app.core.room_stream import RoomCursor, RoomSender
from app.core.session import NEVER, ReliableStream

Address = Tuple  # (host, port) or (host, port, flow, scope)

COOKIE_BUCKET = 30.0     # a cookie stays valid for one to two buckets
SWEEP_INTERVAL = 1.0
# Members a sweep drops at most (timed out, or not acknowledging); more are due
# -> the next pass comes DROP_PASS_GAP later. Each drop is a leave, a BYE sealed
# now and twice more: a thousand deaf sessions that stalled together must not
# all go in one pass while the room's lines wait behind them.
DROPS_PER_PASS = 100
DROP_PASS_GAP = 0.05
FAREWELL_REPEATS = 3     # a BYE to a kicked or closing client is sent this often
MALFORMED_LOG_INTERVAL = 1.0


MSG_ID_JUMP = 1 << 16         # how far a client's message number may leap past its last


class HubConfig(NamedTuple):
    history_lines: int = options.DEFAULT_HISTORY
    max_sessions: int = options.DEFAULT_MAX_CLIENTS
    session_timeout: float = 10.0    # silence after which a client is gone
    queue_cap: int = 4096            # unacked events after which a client is dropped
    motd: str = ""
    msg_rate: float = 5.0            # chat lines per second, sustained, per person ...
    msg_burst: float = 30.0          # ... after a burst that lets a pasted paragraph through
    hold_cap: int = 200              # lines held for a flooder before we stop accepting
    hello_rate: float = 10.0         # HELLOs per second per address before login ...
    hello_burst: float = 30.0
    who_rate: float = 1.0            # member-list requests per second per person ...
    who_burst: float = 5.0           # ... after a few at once
    max_per_ip: int = options.DEFAULT_MAX_PER_IP   # sessions per address (0: no limit); loopback exempt
    kick_cooldown: float = options.DEFAULT_KICK_COOLDOWN   # a kicked name and host are refused this long
    # The room's last seats go only to a host (and key) with no session yet
    # (None: a tenth of max_sessions; app/core/limits.py Seats).
    seat_reserve: Optional[int] = None
    # A member is dropped (BYE DROPPED, coded why) when nothing it was sent is
    # acknowledged for ack_timeout s although it is alive (it pings), or when
    # what waits for its acks passes unacked_cap bytes: what one member can
    # make the server hold is bounded (docs/SECURITY.md, "Limits per person").
    ack_timeout: float = 15.0
    unacked_cap: int = 256 * 1024
    # Joins and leaves said one by one, room-wide, at most this often (after a
    # burst that shows a class arriving); beyond, they are counted and said as
    # one EV_MEMBERS a second. Each is sent to every member: N sessions that
    # come and go at once would otherwise cost N x N events (docs/SECURITY.md).
    member_news_rate: float = 2.0
    member_news_burst: float = 40.0
    # The secure layer in front (app/core/secure_server.py) validated every
    # address with its own cookie before any HELLO reaches us: no second one.
    addresses_verified: bool = False


class LogEntry(NamedTuple):
    time: float
    what: LogKind
    name: str
    addr: str
    detail: str
    # A client's line (chat, emote, private): its sender's instance and msg_id,
    # kept in the room's database so a new server run knows which lines of a
    # replaying client it already has (load_msg_ids). Not sent to the console.
    origin: int = 0
    msg_id: int = 0


class HeldLine(NamedTuple):
    """A line acknowledged and held by flood control (Hub._hold), as the room's
    database keeps it until it is said (a kill -9 meanwhile must not lose it:
    a new run says it, `restore_held`). `kind` is SAY, EMOTE or PRIVATE; the
    text as it came (sanitised when said)."""
    origin: int
    msg_id: int
    time: float
    name: str
    addr: str
    kind: int
    target: str
    text: str


class SessionPhase(enum.Enum):
    """Where a server session is in its life. The phase alone says which of the
    hub's tables hold it: every phase but GONE is in by_addr and _by_id (and,
    once admitted, in the room's members and maybe the room stream); GONE is in
    none, and nothing touches a GONE session again."""
    NEW = "new"            # made at a verified HELLO, about to be admitted (same call)
    SYNCING = "syncing"    # in the room; its history (or what it missed) is queued in its
                           # own stream: the room stream waits until that is acked
    LIVE = "live"          # gets the room's news as it comes
    LEAVING = "leaving"    # said BYE while lines of its were held (rate limit): they are
                           # said at the rate, then it leaves; takes no new lines, does
                           # not time out meanwhile, and a room stream that was not live
                           # yet stays so (a leaving client acks nothing more anyway)
    GONE = "gone"          # forgotten (left, dropped, replaced by its resume, shut down)


class SessionTrigger(enum.Enum):
    ADMIT = "admit"              # joined (or resumed): its history is queued
    SYNCED = "synced"            # its stream acked that history (at once without a room stream)
    BYE_HELD = "bye_held"        # BYE while lines are held
    FORGET = "forget"            # taken out of every table: _forget, exactly once


_P, _T = SessionPhase, SessionTrigger
SESSION_TRANSITIONS: "Transitions[SessionPhase, SessionTrigger]" = Transitions("server session", {
    (_P.NEW, _T.ADMIT): _P.SYNCING,
    (_P.SYNCING, _T.SYNCED): _P.LIVE,
    (_P.SYNCING, _T.BYE_HELD): _P.LEAVING,
    (_P.LIVE, _T.BYE_HELD): _P.LEAVING,
    (_P.LEAVING, _T.BYE_HELD): _P.LEAVING,       # its BYE again (our BYE_ACK was lost)
    (_P.SYNCING, _T.FORGET): _P.GONE,
    (_P.LIVE, _T.FORGET): _P.GONE,
    (_P.LEAVING, _T.FORGET): _P.GONE,
})
# The phases the hot paths test, as module names (one look-up, not two).
SYNCING, LEAVING, GONE = SessionPhase.SYNCING, SessionPhase.LEAVING, SessionPhase.GONE


class Capabilities(NamedTuple):
    """What the client said at HELLO that it takes: fixed for the session's life
    (not a phase: it is how the session is served, whatever its phase)."""
    batching: bool = False     # EVENTS frames (FLAG_EVENTS)
    room: bool = False         # ROOM datagrams (FLAG_ROOM)
    room_runs: bool = False    # ... and runs of them (FLAG_ROOM_RUN too)
    reasons: bool = False      # coded reasons on REFUSE and BYE (FLAG_REASONS)

    @classmethod
    def from_hello(cls, flags: int) -> "Capabilities":
        room = bool(flags & protocol.FLAG_ROOM)
        return cls(bool(flags & protocol.FLAG_EVENTS), room,
                   room and bool(flags & protocol.FLAG_ROOM_RUN),
                   bool(flags & protocol.FLAG_REASONS))


# Out-of-order messages a server session holds at most: our client keeps at
# most 64 in flight (client_core.CLIENT_WINDOW); more only bloats a hostile
# session's memory (what lies beyond is dropped unacked, and resent).
SERVER_RECV_AHEAD = 64


class ServerSession:
    __slots__ = ("id", "addr", "name", "key", "skeleton", "instance", "token", "stream",
                 "last_heard", "joined_at", "said", "said_at", "resumed", "bucket", "held", "phase",
                 "caps", "cursor", "who_bucket", "who_refused", "persons", "client_key",
                 "who_pages", "who_seq", "room_mark")

    def __init__(self, sid: int, addr: Address, name: str, instance: bytes, token: bytes,
                 now: float, bucket: Allowance, caps: Capabilities = Capabilities(),
                 client_key: Optional[bytes] = None) -> None:
        self.id = sid
        self.addr = addr
        self.name = name
        self.key = text.name_key(name)
        self.skeleton = text.lookalike_keys(name)
        self.instance = int.from_bytes(instance, "big")
        self.token = token
        self.stream = ReliableStream(sid)
        self.stream.recv_window = SERVER_RECV_AHEAD
        self.last_heard = now
        self.joined_at = now
        self.said = 0
        # When it last said a line (SAY, emote, private), or joined: the roster's
        # idle time. Not last_heard: keepalives and acks say nothing.
        self.said_at: float = now
        self.resumed = False          # took over its own earlier session (WELCOME says so)
        self.bucket = bucket
        self.who_bucket: Optional[Allowance] = None
        self.who_refused = False      # told once that it asks for the list too often
        # The member list in pages: the next is queued when the last is acked.
        self.who_pages: Deque[bytes] = deque()
        self.who_seq = 0
        # Who it is to the limits per person (limits.py), from its address and
        # its client's long-term key (secure sessions; None otherwise).
        self.client_key = client_key
        self.persons = people(addr[0], client_key)
        # (room stream ack, when it last moved): the sweep's "no progress" check
        self.room_mark = (0, now)
        self.phase = SessionPhase.NEW
        self.caps = caps
        self.cursor: Optional[RoomCursor] = None   # where it is in the room stream
        self.held: Deque[protocol.Said] = deque()   # over the rate: released as it refills

    def advance(self, trigger: SessionTrigger) -> SessionPhase:
        """The one place a phase changes: by the table, or IllegalTransition."""
        self.phase = SESSION_TRANSITIONS.next(self.phase, trigger)
        return self.phase


def short_reason(reason: str) -> str:
    """An admin's reason, safe for every message it goes into (BYE, LEAVE, log)."""
    line = text.sanitize_text(reason).strip()
    return text.split_utf8(line, protocol.MAX_REASON_BYTES // 2)[0] if line else ""


def refusal_text(now: float, rule: Rule) -> str:
    """A ban or kick in English, for the log and for clients without FLAG_REASONS."""
    what = "kicked by the admin; you may come back" if rule.kind == KICK else "you are banned"
    why = "%s for %d more minutes" % (what, minutes_left(now, rule.until))
    return why + (" (%s)" % rule.reason if rule.reason else "")


def coded_reason(rule: Rule, host: str, key: str) -> protocol.Reason:
    """What a FLAG_REASONS client is told: which part of the rule refused it,
    until when, and the admin's words."""
    if rule.kind == KICK:
        why = protocol.ReasonCode.KICKED
    elif key in rule.names:
        why = protocol.ReasonCode.BANNED_NAME
    elif normal_ip(host) in rule.hosts:
        why = protocol.ReasonCode.BANNED_HOST
    else:
        why = protocol.ReasonCode.BANNED_KEY
    return protocol.Reason(why, rule.until, rule.reason)


def _looks_like(data: bytes, dtype: int) -> bool:
    return len(data) >= protocol.HEADER_SIZE and data[:2] == protocol.MAGIC and data[3] == dtype


def host_of(session: "ServerSession") -> Tuple[str, ...]:
    """The host a kick or name ban covers with the name: none for the server's
    own machine (loopback), where the teacher, tests and ssh users share one
    address; `/ban 127.0.0.1` still bans it, explicitly."""
    ip = normal_ip(session.addr[0])
    return () if is_loopback(ip) else (ip,)


def key_of(session: "ServerSession") -> Tuple[str, ...]:
    """The client key a kick or a name ban covers with the name (secure
    sessions; none on loopback, as for the host)."""
    return tuple(p[1] for p in session.persons if p[0] == "key")


def addr_text(addr: Address) -> str:
    host, port = addr[0], addr[1]
    if host == "console":
        return "console"
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]           # an IPv4 client on the dual-stack socket
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


class Hub:
    def __init__(self, now: float, secret: bytes, config: HubConfig = HubConfig(),
                 rng: Optional[random.Random] = None,
                 room_key: Optional[RoomKey] = None) -> None:
        self.config = config
        self.room_key = room_key
        self.secret = secret
        self.rng = rng or random.SystemRandom()
        self.room: Room[ServerSession] = Room(self.rng.getrandbits(32) or 1, config.history_lines)
        self.room_stream = RoomSender(config.queue_cap)
        self.started = now
        self.by_addr: Dict[Address, ServerSession] = {}
        self.outbox: List[Tuple[bytes, Address]] = []
        self.log: List[LogEntry] = []
        # Held lines since the last take_held: new ones, and (origin, msg_id)
        # of those said or given up (the room's database, server._commit).
        self.held_new: List[HeldLine] = []
        self.held_gone: List[Tuple[int, int]] = []
        self.stats: Dict[str, int] = dict.fromkeys(
            ("datagrams", "malformed", "messages", "joins", "leaves", "timeouts", "refused",
             "throttled"), 0)
        # instance -> last msg_id accepted, kept after a session ends so a client
        # that comes back and resends is not shown twice (bounded).
        self.last_msg_ids: "OrderedDict[int, int]" = OrderedDict()
        # A kicked client's token (token_digest) -> its kick: refused under any
        # name until it ends (kept in the kick's Rule.tokens: across restarts).
        self.blocked_tokens: Dict[str, Rule] = {}
        # Clients (instances) dropped for not acknowledging: back, each gets
        # its history, not the gap (_enter). Bounded as last_msg_ids.
        self.dropped_deaf: "OrderedDict[int, None]" = OrderedDict()
        self.moderation = Moderation()
        self.motd = config.motd
        self.hello_buckets: Dict[str, TokenBucket] = {}
        # The client key behind an address (the secure layer sets it:
        # SecureServer.peer_key); None: unknown (protocol version 1).
        self.identify: Callable[[Address], Optional[bytes]] = lambda addr: None
        self.line_budgets = Budgets(config.msg_rate, config.msg_burst)
        self.who_budgets = Budgets(config.who_rate, config.who_burst)
        self.seats = Seats(config.max_sessions, config.max_per_ip,
                           default_reserve(config.max_sessions) if config.seat_reserve is None
                           else config.seat_reserve)
        self._throttled: Dict[int, ServerSession] = {}
        self.member_news = TokenBucket(config.member_news_rate, config.member_news_burst, now)
        self._untold = [0, 0]                 # joins, leaves not said one by one (EV_MEMBERS)
        self._untold_told_at = now - SWEEP_INTERVAL
        self.farewells: List[Tuple[float, bytes, Address]] = []
        self._dirty: Dict[int, ServerSession] = {}
        self._pending: List[bytes] = []      # room events not yet queued to the members
        self._room_pending: List[bytes] = []  # ... not yet in a ROOM datagram (made per flush)
        self._pending_time = now
        self._timers: List[Tuple[float, int]] = []
        self._scheduled: Dict[int, float] = {}
        self._by_id: Dict[int, ServerSession] = {}
        self._next_sweep = now + SWEEP_INTERVAL
        # Members a sweep found to drop, not dropped yet (DROPS_PER_PASS at a
        # time, _drop_due): (session, True if silent, False if deaf).
        self._due_drops: Deque[Tuple[ServerSession, bool]] = deque()
        self._next_drops = NEVER
        self._malformed_logged_at = -MALFORMED_LOG_INTERVAL
        self._malformed_unlogged = 0
        # The member list's pages while the room's members stay the same (_who_list).
        self._who_cache: Optional[Tuple[bytes, ...]] = None
        # File transfers (app/core/file_desk.py): set by a shell that has files.
        self.files: Optional[FileDesk] = None

    # ============================================================== input

    def on_datagram(self, now: float, data: bytes, addr: Address) -> None:
        """Handle one datagram. Never raises for bad input: it is counted and dropped."""
        self.stats["datagrams"] += 1
        if protocol.is_bare_room_ack(data) and self._bare_room_ack(now, data, addr):
            return
        if data[:2] != protocol.MAGIC:             # the cheap test first: junk floods
            self.malformed(now, addr, "bad magic")
            return
        try:
            opened = self._authenticate(now, data, addr)
            if opened is not None:
                self._dispatch(now, opened, addr)
        except ProtocolError as exc:
            self.malformed(now, addr, str(exc))

    def _bare_room_ack(self, now: float, data: bytes, addr: Address) -> bool:
        """Most of what a busy room's server receives: a member's bare room ack
        (exactly what _dispatch does with it, in fewer steps). False: not one
        this path takes (no room stream, a password, or the session stream has
        messages in flight that the header's ack may settle): _dispatch's turn."""
        session = self.by_addr.get(addr)
        if session is None or session.cursor is None or session.stream.in_flight \
                or self.room_key is not None:
            return False
        sid, pkt, _, _, room_ack, room_sack = protocol.BARE_ROOM_ACK_FIELDS.unpack_from(data, 6)
        if sid != session.id:
            return False
        if session.stream.fresh(pkt):
            session.last_heard = now
            self._on_room_ack(now, session, session.cursor, (room_ack, room_sack))
        return True

    def _authenticate(self, now: float, data: bytes, addr: Address) -> Optional[bytes]:
        """With a room password: the datagram without its tag, or None (dropped;
        a HELLO is told why). Without one: a tagged HELLO is told there is none."""
        if self.room_key is None:
            if is_tagged(data) and _looks_like(data, protocol.HELLO):
                self._refuse_unverified(data, addr, protocol.REFUSE_WRONG_PASSWORD,
                                        "this room has no password; join without one")
                return None
            return data
        opened = self.room_key.open(data)
        if opened is None:
            if _looks_like(data, protocol.HELLO):
                self._refuse_unverified(data, addr, protocol.REFUSE_WRONG_PASSWORD,
                                        "wrong room password" if is_tagged(data)
                                        else "this room needs a password")
            raise ProtocolError("no valid room-password tag")
        return opened

    def _refuse_unverified(self, data: bytes, addr: Address, code: protocol.RefuseCode,
                           reason: str) -> None:
        """A REFUSE to an address we know nothing about: untagged (the peer may not
        have our key) and never larger than what it sent."""
        room = len(data) - protocol.HEADER_SIZE - 3
        if room >= 0:
            self.stats["refused"] += 1
            self.outbox.append((protocol.encode_header(protocol.REFUSE)
                                + protocol.encode_refuse(code, reason, room), addr))

    def malformed(self, now: float, addr: Address, why: str) -> None:
        """Count it; log at most one line a second (a junk flood must not turn
        into a log flood: formatting and passing on each line costs more than
        dropping the datagram)."""
        self.stats["malformed"] += 1
        self._malformed_unlogged += 1
        if now - self._malformed_logged_at >= MALFORMED_LOG_INTERVAL:
            count, self._malformed_unlogged = self._malformed_unlogged, 0
            self._malformed_logged_at = now
            self._log(now, LogKind.MALFORMED, "", addr, malformed_detail(count, why))

    def _dispatch(self, now: float, data: bytes, addr: Address) -> None:
        version = protocol.peek_version(data)
        if version is not None and version != protocol.VERSION:
            self._refuse_version(data, addr, version)
            return
        header, body = protocol.decode_header(data)
        if header.flags & protocol.FLAG_TAGGED:
            raise ProtocolError("tagged datagram, but this room has no password")
        if header.type == protocol.HELLO:
            self._on_hello(now, body, addr, header.flags)
            return
        session = self.by_addr.get(addr)
        if session is None or session.id != header.session:
            if session is None and header.type in (protocol.DATA, protocol.PING):
                # Unknown to us (e.g. we restarted): tell it to say HELLO again.
                # The reply is a bare header, never larger than what it sent.
                self._send(protocol.encode_header(protocol.RESET, header.session), addr)
            elif header.type == protocol.BYE:
                self._send(protocol.encode_header(protocol.BYE_ACK, header.session), addr)
            return
        if header.type in (protocol.DATA, protocol.PING, protocol.PONG):
            room_ack = None
            if header.flags & protocol.FLAG_ROOM_ACK:
                if len(body) < protocol.ROOM_ACK.size:
                    raise ProtocolError("FLAG_ROOM_ACK without the room ack")
                room_ack = protocol.ROOM_ACK.unpack_from(body)
                body = body[protocol.ROOM_ACK.size:]
            if not session.stream.fresh(header.pkt):
                return
            session.last_heard = now
            frames = protocol.decode_frames(body)
            for frame in session.stream.on_datagram(now, header, frames):
                self._on_message(now, session, frame)
                if session.phase is GONE:
                    return                         # a message of its had it dropped
            if session.who_pages:
                self._next_who_page(now, session)
                if session.phase is GONE:
                    return
            if header.type == protocol.PING:
                self._send(session.stream.header(protocol.PONG), addr)
            self._dirty[session.id] = session
            if session.cursor is not None:
                self._on_room_ack(now, session, session.cursor, room_ack)
        elif header.type == protocol.FILE:        # a file transfer's (PROTOCOL.md F)
            session.last_heard = now
            if self.files is not None:
                self.files.on_message(now, session, body)
        elif header.type == protocol.BYE:
            self._send(protocol.encode_header(protocol.BYE_ACK, session.id), addr)
            if session.held:
                # Lines we acked but still hold (rate limit) are said first, at the
                # rate; the leave follows the last of them (_release_held).
                session.advance(SessionTrigger.BYE_HELD)
                session.stream.recv_window = 0
            else:
                self._drop(now, session, protocol.LEAVE_QUIT)
        else:
            raise ProtocolError("datagram type %d is not for the server" % header.type)

    def _refuse_version(self, data: bytes, addr: Address, version: int) -> None:
        """Another protocol version: one REFUSE no larger than the request."""
        self._refuse_unverified(data, addr, protocol.REFUSE_BAD_VERSION,
                                "protocol version %d is not supported; this server speaks %d"
                                % (version, protocol.VERSION))

    # ========================================================== handshake

    def _cookie(self, nonce: bytes, addr: Address, bucket: int) -> bytes:
        msg = repr((addr[0], addr[1])).encode() + nonce + bucket.to_bytes(8, "big")
        return hmac.new(self.secret, msg, hashlib.sha256).digest()[:16]

    def _cookie_ok(self, cookie: bytes, nonce: bytes, addr: Address, now: float) -> bool:
        bucket = int(now // COOKIE_BUCKET)
        return any(hmac.compare_digest(cookie, self._cookie(nonce, addr, b))
                   for b in (bucket, bucket - 1))

    def _on_hello(self, now: float, body: bytes, addr: Address, flags: int = 0) -> None:
        hello = protocol.decode_hello(body)
        if not self._hello_allowed(now, addr):
            self.stats["throttled"] += 1
            return                                 # a HELLO flood: not even a cookie
        if not self.config.addresses_verified \
                and not self._cookie_ok(hello.cookie, hello.nonce, addr, now):
            cookie = self._cookie(hello.nonce, addr, int(now // COOKIE_BUCKET))
            self._send(protocol.encode_header(protocol.CHALLENGE)
                       + protocol.encode_challenge(hello.nonce, cookie), addr)
            return
        if hello.instance != protocol.instance_of(hello.token):
            raise ProtocolError("HELLO instance does not match its token")
        existing = self.by_addr.get(addr)
        if existing is not None and existing.token == hello.token:
            # Our WELCOME was lost, or the client gave up on a session we still
            # hold: say it again, and count the HELLO as life, or the session
            # could time out right after this WELCOME (before its first PING).
            existing.last_heard = now
            self._send_welcome(now, existing)
            return
        name, reason = text.check_name(hello.name)
        if name is None:
            self._refuse(now, addr, protocol.REFUSE_NAME_INVALID, reason.value if reason else "",
                         hello.name, log_why=refuse_detail(
                             "name_" + (reason.name.lower() if reason else "invalid")))
            return
        client_key = self.identify(addr)
        persons = people(addr[0], client_key)
        key_hex = next((p[1] for p in persons if p[0] == "key"), "")
        rule = self.blocked_tokens.get(token_digest(hello.token)) if self.blocked_tokens \
            else None
        if rule is None or rule.until <= now:
            rule = self.moderation.refusal(now, addr[0], name, key_hex)
        tell = bool(flags & protocol.FLAG_REASONS)  # a client that words the code itself
        if rule is not None:
            self._refuse(now, addr, protocol.REFUSE_BANNED, refusal_text(now, rule), name,
                         coded_reason(rule, addr[0], text.name_key(name)), tell)
            return
        def coded(why: protocol.ReasonCode, words: str) -> protocol.Reason:
            return protocol.Reason(why, 0.0, words)

        key = text.name_key(name)
        holder = self.room.members.get(key)
        if holder is not None and holder.token != hello.token:
            self._refuse(now, addr, protocol.REFUSE_NAME_TAKEN,
                         "the name %s is taken; choose another" % holder.name, name,
                         coded(protocol.ReasonCode.TAKEN, holder.name), tell)
            return
        if holder is None:
            lookalike = self._lookalike(name)
            if lookalike is not None:
                self._refuse(now, addr, protocol.REFUSE_NAME_TAKEN,
                             "%s looks too much like %s, who is here; choose another"
                             % (name, lookalike), name,
                             coded(protocol.ReasonCode.LOOKS_LIKE, lookalike), tell)
                return
            full = self.seats.refusal(addr[0], persons, existing.persons
                                      if existing is not None else None)
            if full == "room":
                self._refuse(now, addr, protocol.REFUSE_FULL,
                             "the room is full (%d people)" % len(self.by_addr), name,
                             coded(protocol.ReasonCode.ROOM_FULL, str(len(self.by_addr))), tell)
                return
            if full == "person":
                self._refuse(now, addr, protocol.REFUSE_FULL,
                             "too many people from %s (at most %d)"
                             % (normal_ip(addr[0]) if persons[0][0] == "host" else "one client",
                                self.config.max_per_ip), name,
                             coded(protocol.ReasonCode.HOST_FULL, str(self.config.max_per_ip)), tell)
                return
        if existing is not None:                   # a new client at the same address
            self._drop(now, existing, protocol.LEAVE_QUIT)
            if holder is not None and holder.phase is GONE:
                holder = None              # dropped with it (its queue overflowed): a join
        session = self._new_session(now, addr, name, hello, Capabilities.from_hello(flags),
                                    client_key)
        if holder is not None:
            self._take_over(now, holder, session, hello)
        else:
            self._admit(now, session, hello)

    def _hello_allowed(self, now: float, addr: Address) -> bool:
        ip = normal_ip(addr[0])
        if is_loopback(ip):
            return True                            # the server's own machine
        bucket = self.hello_buckets.get(ip)
        if bucket is None:
            bucket = self.hello_buckets[ip] = TokenBucket(
                self.config.hello_rate, self.config.hello_burst, now)
        return bucket.take(now)

    def _lookalike(self, name: str) -> Optional[str]:
        skeleton = text.lookalike_keys(name)
        for member in self.room.members.values():
            if not member.skeleton.isdisjoint(skeleton):
                return member.name
        return None

    def _refuse(self, now: float, addr: Address, code: protocol.RefuseCode, reason: str,
                name: str, coded: Optional[protocol.Reason] = None, tell: bool = False,
                log_why: str = "") -> None:
        """REFUSE `reason` (English, on the wire), with `coded` if the client
        asked (`tell`); the log has the coded form (admin.refuse_detail)."""
        self.stats["refused"] += 1
        if coded is not None:
            log_why = refuse_detail(protocol.ReasonCode(coded.why).name.lower(), coded.until,
                                    coded.words)
        self._log(now, LogKind.REFUSE, name, addr, log_why)
        self._send(protocol.encode_header(protocol.REFUSE)
                   + protocol.encode_refuse(code, reason, coded=coded if tell else None), addr)

    def _new_session(self, now: float, addr: Address, name: str, hello: protocol.Hello,
                     caps: Capabilities, client_key: Optional[bytes] = None) -> ServerSession:
        sid = 0
        while sid == 0 or sid in self._by_id:
            sid = self.rng.getrandbits(32)
        # Its lines draw on the budget of its address and of its key, shared
        # with every other session of theirs (limits.py).
        bucket = self.line_budgets.allowance(now, people(addr[0], client_key))
        session = ServerSession(sid, addr, name, hello.instance, hello.token, now, bucket, caps,
                                client_key)
        self.by_addr[addr] = session
        self._by_id[sid] = session
        self.seats.add(addr[0], session.persons)
        return session

    def _admit(self, now: float, session: ServerSession, hello: protocol.Hello) -> None:
        self._flush_broadcasts()                   # what came before goes to the old members
        self.stats["joins"] += 1
        if self._enter(now, session, hello, motd=True):
            self._log(now, LogKind.JOIN, session.name, session.addr, "")
            self._member_news(now, protocol.EV_JOIN, session.name)

    def _take_over(self, now: float, old: ServerSession, new: ServerSession,
                   hello: protocol.Hello) -> None:
        """The same client (same token) is back, maybe from a new address: the new
        session inherits the name silently and gets exactly what it missed."""
        self._forget(old)
        new.name, new.key, new.skeleton = old.name, old.key, old.skeleton   # the room's spelling
        new.resumed = True
        new.said, new.said_at = old.said, old.said_at
        new.bucket = old.bucket      # no fresh burst by reconnecting
        new.who_bucket = old.who_bucket
        new.held = old.held
        if new.held:
            self._throttled[new.id] = new
        new.joined_at = old.joined_at
        if self._enter(now, new, hello):
            self._log(now, LogKind.RESUME, new.name, new.addr, "was " + addr_text(old.addr))

    def _enter(self, now: float, session: ServerSession, hello: protocol.Hello,
               motd: bool = False) -> bool:
        """Into the room: WELCOME, (the message of the day,) then its history or
        what it missed, in its own stream; the room stream follows once that is
        acked. False: the history overflowed its queue and it was dropped."""
        session.advance(SessionTrigger.ADMIT)
        self.room.members[session.key] = session
        self._who_cache = None
        self._join_room_stream(session)
        self._send_welcome(now, session)
        if motd and self.motd:
            self._notice(now, session, protocol.NOTICE_MOTD, self.motd)
        mute = self.moderation.muted(now, session.key) if motd else None
        if mute is not None:
            self._tell_muted(now, session, mute)    # (muted before it left, or a restart)
        bodies = None
        # A client dropped for not acknowledging gets its history, not the gap:
        # the gap is what it could not take (and N of them back at once would
        # each be sent all that the room said meanwhile).
        deaf = session.instance in self.dropped_deaf
        if deaf:
            del self.dropped_deaf[session.instance]
        if hello.room_seq and not deaf:
            bodies = self.room.missed_bodies(hello.epoch, hello.room_seq, session.instance)
        if bodies is None or sum(map(len, bodies)) > self.config.unacked_cap // 2:
            # Too long ago (or too much) to tell: its history, as to a newcomer.
            bodies = [protocol.encode_event(event) for event in self.room.history()]
        if not self._queue_events(now, session, bodies):
            return False                           # (a --history longer than queue_cap)
        if session.cursor is None:
            # Its history is ahead of any news in its own stream: nothing to wait for.
            session.advance(SessionTrigger.SYNCED)
        else:
            session.cursor.after = session.stream.next_seq - 1
            self._maybe_go_live(now, session)
        return True

    def _send_welcome(self, now: float, session: ServerSession) -> None:
        welcome = protocol.Welcome(self.room.epoch, self.room.seq, now, session.resumed,
                                   len(self.room.members), session.name, self.motd)
        if session.cursor is None:
            head = protocol.encode_header(protocol.WELCOME, session.id)
        else:                                      # where its room stream begins (6.8)
            runs = protocol.FLAG_ROOM_RUN if session.cursor.run_head is not None else 0
            head = protocol.encode_header(protocol.WELCOME, session.id, session.cursor.base,
                                          flags=protocol.FLAG_ROOM | runs)
        self._send(head + protocol.encode_welcome(welcome), session.addr)

    # ======================================================== room stream

    def _join_room_stream(self, session: ServerSession) -> None:
        """The member gets the ROOM datagrams made from now on. The next one may
        hold events from just before it joined: it shows those not older than
        its history (it drops the others by room_seq, PROTOCOL.md 7.5)."""
        if session.caps.room:
            session.cursor = self.room_stream.add(session.id, session.addr,
                                                  session.caps.room_runs)

    def _maybe_go_live(self, now: float, session: ServerSession) -> None:
        """A member gets the room stream once its own stream has acknowledged
        the history (or missed events) queued when it joined: history first,
        then the news."""
        cursor = session.cursor
        if session.phase is SYNCING and cursor is not None \
                and session.stream.acked_through(cursor.after):
            session.advance(SessionTrigger.SYNCED)
            if not self.room_stream.go_live(now, cursor, self.outbox):
                self._room_stuck(now, session)

    def _on_room_ack(self, now: float, session: ServerSession, cursor: RoomCursor,
                     room_ack: Optional[Tuple[int, int]]) -> None:
        if room_ack is not None and not self.room_stream.on_ack(
                now, cursor, room_ack[0], room_ack[1], self.outbox):
            self._room_stuck(now, session)
            return
        self._maybe_go_live(now, session)

    def _room_stuck(self, now: float, session: ServerSession) -> None:
        self._drop_unacking(now, session, protocol.ReasonCode.BACKLOG)

    def _stalled(self, now: float, session: ServerSession) -> bool:
        """Nothing it was sent acknowledged for ack_timeout s, in its own
        stream or in the room stream (checked at the sweep, once a second)."""
        if session.stream.stalled_for(now) > self.config.ack_timeout:
            return True
        cursor = session.cursor
        if cursor is None:
            return False
        if cursor.acked != session.room_mark[0] or cursor.sent == cursor.acked:
            session.room_mark = (cursor.acked, now)
            return False
        return now - session.room_mark[1] > self.config.ack_timeout

    # =========================================================== messages

    def _on_message(self, now: float, session: ServerSession, frame: protocol.Frame) -> None:
        if frame.kind == protocol.WHO:
            self._on_who(now, session)
            return
        try:
            said = protocol.decode_said(frame.kind, frame.body)
        except ProtocolError as exc:
            # It was delivered (and acked): tell the sender it went nowhere.
            self.malformed(now, session.addr, str(exc))
            self._notice(now, session, protocol.NOTICE_REJECTED, str(exc))
            return
        last = self.last_msg_ids.get(session.instance, 0)
        if said.msg_id <= last:
            return                                 # a resend of something already said
        if said.msg_id > last + MSG_ID_JUMP:
            # Our clients number their lines 1, 2, 3, ...: a leap this far would
            # make every later line look like a resend (silence the sender).
            self._notice(now, session, protocol.NOTICE_REJECTED, "message number out of range")
            return
        self._remember_msg_id(session.instance, said.msg_id)
        mute = self.moderation.muted(now, session.key)
        if mute is not None:
            self._tell_muted(now, session, mute)
            return
        if session.held or not session.bucket.take(now):
            self._hold(now, session, said)
            return
        self._said(now, session, said)

    def _hold(self, now: float, session: ServerSession, said: protocol.Said) -> None:
        """Over the rate: keep it, release it as the bucket refills, tell the
        sender once; when the hold is full, stop accepting (the client's
        retransmissions then slow it down: flow control, nothing dropped)."""
        if not session.held:
            self.stats["throttled"] += 1
            self._log(now, LogKind.THROTTLE, session.name, session.addr, "")
            self._notice(now, session, protocol.NOTICE_THROTTLED,
                         "%.0f lines a second at most; the rest follow as the room allows"
                         % self.config.msg_rate)
        session.held.append(said)
        self.held_new.append(HeldLine(session.instance, said.msg_id, now, session.name,
                                      addr_text(session.addr), said.kind, said.target,
                                      said.text))
        self._throttled[session.id] = session
        session.stream.recv_window = max(0, self.config.hold_cap - len(session.held))

    def _release_held(self, now: float) -> None:
        for sid, session in list(self._throttled.items()):
            while session.held and session.phase is not GONE and session.bucket.take(now):
                said = session.held.popleft()
                self.held_gone.append((session.instance, said.msg_id))
                self._said(now, session, said)
            if session.phase is GONE:
                continue            # dropped meanwhile (a line's private copy overflowed a queue)
            session.stream.recv_window = max(0, self.config.hold_cap - len(session.held))
            self._dirty[sid] = session
            if not session.held:
                del self._throttled[sid]
                if session.phase is LEAVING:
                    self._drop(now, session, protocol.LEAVE_QUIT)

    def _said(self, now: float, session: ServerSession, said: protocol.Said) -> None:
        line = text.sanitize_message(said.text)     # keeps its lines (PROTOCOL.md 11.2)
        if not line:
            self._notice(now, session, protocol.NOTICE_REJECTED, "empty message")
            return
        session.said += 1
        session.said_at = now
        self.stats["messages"] += 1
        if said.kind == protocol.PRIVATE:
            self._private(now, session, said, line)
            return
        kind = protocol.EV_EMOTE if said.kind == protocol.EMOTE else protocol.EV_CHAT
        self._log(now, LogKind.CHAT if kind == protocol.EV_CHAT else LogKind.EMOTE,
                  session.name, session.addr, line, session.instance, said.msg_id)
        self._broadcast(self.room.record(now, kind, name=session.name, text=line,
                                         origin=session.instance, msg_id=said.msg_id))

    def _remember_msg_id(self, instance: int, msg_id: int) -> None:
        self.last_msg_ids[instance] = msg_id
        self.last_msg_ids.move_to_end(instance)
        while len(self.last_msg_ids) > 4 * self.config.max_sessions:
            self.last_msg_ids.popitem(last=False)

    def _private(self, now: float, sender: ServerSession, said: protocol.Said,
                 line: str) -> None:
        target = self.room.members.get(text.name_key(text.normalize_name(said.target)))
        if target is None:
            self._notice(now, sender, protocol.NOTICE_NO_SUCH_USER, "",
                         target=text.sanitize_text(said.target))
            return
        event = self.room.record(now, protocol.EV_PRIVATE, name=sender.name,
                                 target=target.name, text=line, origin=sender.instance,
                                 msg_id=said.msg_id,
                                 audience=(sender.instance, target.instance))
        body = self.room.body(event)
        self._queue(now, target, body)
        if target is not sender:
            self._queue(now, sender, body)
        self._log(now, LogKind.PRIVATE, sender.name, sender.addr, "to " + target.name,
                  sender.instance, said.msg_id)

    def _on_who(self, now: float, session: ServerSession) -> None:
        """A member list costs the server a reply as big as the room: at most
        who_rate a second (after who_burst) per person (all sessions of an
        address and of a client key together); beyond, one NOTICE_THROTTLED
        until a list is sent again (a request flood gets no reply flood back).
        It goes a page at a time, each once the last is acknowledged: a
        member that does not acknowledge gets one page, and a request while
        a list is on its way is that list's."""
        if session.who_pages or (session.who_seq and session.stream.unacked(session.who_seq)):
            return
        if session.who_bucket is None:
            session.who_bucket = self.who_budgets.allowance(now, session.persons)
        if session.who_bucket.take(now):
            session.who_refused = False
            self._send_who(now, session)
        elif not session.who_refused:
            session.who_refused = True
            self._notice(now, session, protocol.NOTICE_THROTTLED,
                         "the member list at most %g times a second" % self.config.who_rate)

    def _send_who(self, now: float, session: ServerSession) -> None:
        session.who_pages.extend(self._who_list(now))
        self._next_who_page(now, session)

    def _who_list(self, now: float) -> Tuple[bytes, ...]:
        """The member list's pages, encoded: made once while nobody joins or
        leaves (a storm of requests from a big room costs one sort, not one
        per request), and dated when they were made (still true since)."""
        if self._who_cache is not None:
            return self._who_cache
        # By name key: the room's members are keyed by it.
        names = [self.room.members[key].name for key in sorted(self.room.members)]
        pages: List[bytes] = []
        chunk: List[str] = []
        size = 0
        for name in names + [None]:
            size_with = size + len(name.encode()) + 1 if name else 0
            if name is None or size_with > protocol.MAX_TEXT_BYTES:
                if chunk or name is None:
                    pages.append(protocol.encode_event(Event(
                        0, now, protocol.EV_WHO, online=len(names), text="\n".join(chunk))))
                chunk, size = [], 0
            if name is not None:
                chunk.append(name)
                size += len(name.encode()) + 1
        self._who_cache = tuple(pages)
        return self._who_cache

    def _next_who_page(self, now: float, session: ServerSession) -> None:
        """Queue the member list's next page once the last one is acknowledged."""
        if session.who_pages and not (session.who_seq
                                      and session.stream.unacked(session.who_seq)):
            self._queue(now, session, session.who_pages.popleft())
            session.who_seq = session.stream.next_seq - 1

    def _notice(self, now: float, session: ServerSession, code: protocol.NoticeCode, line: str,
                target: str = "") -> None:
        self._queue(now, session, protocol.encode_event(
            Event(0, now, protocol.EV_NOTICE, code=code, online=len(self.room.members),
                  target=target, text=line)))

    # ============================================================ fan-out

    def _queue(self, now: float, session: ServerSession, body: bytes) -> None:
        self._flush_broadcasts()                   # keep room order on every stream
        session.stream.queue(protocol.EVENT, body)
        self._dirty[session.id] = session
        if self._over_budget(session):
            # A client that keeps asking and never acks: it must not grow our
            # memory even when no broadcast comes to check (room stream).
            self._drop_unacking(now, session, protocol.ReasonCode.BACKLOG)

    def _queue_events(self, now: float, session: ServerSession, bodies: List[bytes]) -> bool:
        """Encoded events into its own stream: a datagram's worth to a message
        (EVENTS) when it takes them. False: that overflowed it (dropped)."""
        self._flush_broadcasts()                   # keep room order on every stream
        stream = session.stream
        if session.caps.batching:
            for batch, count in protocol.pack_event_batches(bodies):
                stream.queue(protocol.EVENTS, batch, count)
        else:                                      # a client without FLAG_EVENTS
            for body in bodies:
                stream.queue(protocol.EVENT, body)
        self._dirty[session.id] = session
        if self._over_budget(session):
            self._drop_unacking(now, session, protocol.ReasonCode.BACKLOG)
            return False
        return True

    def _broadcast(self, event: Event) -> None:
        """Room events wait in _pending until the next flush (or anything that
        must come after them): then each member gets one EVENTS frame per
        datagram's worth of events, encoded once (the room's ring keeps that
        copy) and shared by all."""
        self._pending.append(self.room.body(event))
        self._pending_time = event.time

    def _flush_broadcasts(self) -> None:
        if not self._pending:
            return
        bodies, self._pending = self._pending, []
        if self.room_stream.cursors:
            self._room_pending += bodies
        if len(self.room_stream.cursors) == len(self.room.members):
            return                                 # everyone takes the room stream
        members = [s for s in self.room.members.values() if s.cursor is None]
        batches = protocol.pack_event_batches(bodies)
        stuck = []
        dirty = self._dirty
        for session in members:
            queue = session.stream.queue
            if session.caps.batching:
                for batch, count in batches:
                    queue(protocol.EVENTS, batch, count)
            else:                                  # a client without FLAG_EVENTS
                for body in bodies:
                    queue(protocol.EVENT, body)
            dirty[session.id] = session
            if self._over_budget(session):
                stuck.append(session)
        for session in stuck:
            self._drop_unacking(self._pending_time, session, protocol.ReasonCode.BACKLOG)

    def _over_budget(self, session: ServerSession) -> bool:
        stream = session.stream
        return stream.queued_events > self.config.queue_cap \
            or stream.unacked_bytes > self.config.unacked_cap

    def _drop_unacking(self, now: float, session: ServerSession,
                       why: protocol.ReasonCode) -> None:
        """Drop a member that does not acknowledge what it is sent: told so
        (BYE DROPPED, in case it hears), and the room sees why."""
        if session.phase is GONE:
            return
        if why == protocol.ReasonCode.NO_ACKS:
            words, detail = "%.0f" % self.config.ack_timeout, \
                "stopped acknowledging (nothing for %.0f s)" % self.config.ack_timeout
        else:
            words, detail = "%d" % (self.config.unacked_cap // 1024), \
                "stopped acknowledging (over %d KiB waiting)" % (self.config.unacked_cap // 1024)
        self._farewell(now, session, protocol.BYE_DROPPED, detail,
                       protocol.Reason(why, 0.0, words))
        self._drop(now, session, protocol.LEAVE_TIMEOUT, detail)
        self.dropped_deaf[session.instance] = None
        while len(self.dropped_deaf) > 4 * self.config.max_sessions:
            self.dropped_deaf.popitem(last=False)

    # ===================================================== admin (console)

    def admin_say(self, now: float, line: str) -> bool:
        line = text.sanitize_text(line).strip()
        if not line:
            return False
        for piece in text.split_utf8(line, protocol.MAX_TEXT_BYTES):
            self._log(now, LogKind.ADMIN, "", ("console", 0), piece)
            self._broadcast(self.room.record(now, protocol.EV_ADMIN, text=piece))
        return True

    def set_motd(self, line: str) -> str:
        """The message of the day, made safe and cut to one chat line's bytes."""
        line = text.sanitize_text(line).strip()
        self.motd = text.split_utf8(line, protocol.MAX_TEXT_BYTES)[0] if line else ""
        return self.motd

    def admin_motd(self, now: float, line: str) -> str:
        """The admin's /motd: set, and noted in the room's log."""
        self._log(now, LogKind.MOTD, "", ("console", 0), self.set_motd(line))
        return self.motd

    def find(self, name: str) -> Optional[ServerSession]:
        return self.room.members.get(text.name_key(text.normalize_name(name)))

    def suggest(self, name: str) -> Tuple[str, ...]:
        """Names in the room close to `name` (a typo, another spelling): at
        most three, best first, for "nobody called X is here; did you mean"."""
        names = {s.key: s.name for s in self.room.members.values()}
        key = text.name_key(text.normalize_name(name))
        close = difflib.get_close_matches(key, list(names), n=3, cutoff=0.5)
        return tuple(names[k] for k in close)

    def kick(self, now: float, name: str, reason: str = "") -> Optional[Rule]:
        """Remove the member called `name` and refuse their name, host (and
        client) for the kick cooldown; the kick's rule, or None if nobody is
        called that."""
        reason = short_reason(reason)
        session = self.find(name)
        if session is None:
            return None
        digest = token_digest(session.token)
        rule = self.moderation.add(Rule(KICK, session.name, (session.key,),
                                        host_of(session), key_of(session), now,
                                        now + self.config.kick_cooldown, reason, (digest,)))
        self.blocked_tokens[digest] = rule
        why = "kicked by the admin" + (": " + reason if reason else "")
        self._farewell(now, session, protocol.BYE_KICKED, why,
                       coded_reason(rule, session.addr[0], session.key))
        self._drop(now, session, protocol.LEAVE_KICKED, reason)
        return rule

    def ban(self, now: float, target: str, minutes: float,
            reason: str = "") -> Tuple[Rule, Tuple[str, ...]]:
        """Ban a host, or a name (and the host of the member called so, if one
        is here), for `minutes`; whoever it covers is removed now. The rule,
        and the names it removed."""
        reason = short_reason(reason)
        until = now + minutes * 60
        if looks_like_ip(target):
            rule = Rule(BAN, normal_ip(target), (), (normal_ip(target),), (), now, until, reason)
        else:
            session = self.find(target)
            label = session.name if session is not None else text.normalize_name(target)
            hosts = host_of(session) if session is not None else ()
            keys = key_of(session) if session is not None else ()
            rule = Rule(BAN, label, (text.name_key(label),), hosts, keys, now, until, reason)
        self.moderation.add(rule)
        gone = [s for s in self.members() if rule.covers(s.addr[0], s.key, "".join(key_of(s)))]
        for session in gone:
            self._farewell(now, session, protocol.BYE_BANNED, refusal_text(now, rule),
                           coded_reason(rule, session.addr[0], session.key))
            self._drop(now, session, protocol.LEAVE_BANNED, reason)
        self._log(now, LogKind.BAN, rule.label, ("console", 0), "%d min %s"
                  % (minutes, reason))
        return rule, tuple(s.name for s in gone)

    def unban(self, now: float, target: str) -> List[Rule]:
        """Lift the bans (and kick cooldowns) named `target`, each whole."""
        lifted = self.moderation.lift(target)
        lifted_set = set(lifted)
        self.blocked_tokens = {t: r for t, r in self.blocked_tokens.items()
                               if r not in lifted_set}
        for rule in lifted:
            self._log(now, LogKind.BAN, rule.label, ("console", 0), "lifted")
        return lifted

    def mute(self, now: float, name: str, minutes: float) -> Optional[Rule]:
        """Mute the member called `name` (told so, and when it ends); None if
        nobody is called that."""
        session = self.find(name)
        if session is None:
            return None
        rule = self.moderation.mute(now, session.name, minutes * 60)
        self._tell_muted(now, session, rule)
        self._log(now, LogKind.MUTE, session.name, ("console", 0), "%g min" % minutes)
        return rule

    def unmute(self, now: float, name: str) -> Optional[Rule]:
        rule = self.moderation.unmute(name)
        if rule is not None:
            self._mute_over(now, rule, "lifted")
        return rule

    def restore_moderation(self, now: float, rows: Iterable[Sequence], motd: str) -> None:
        """The rules and motd a database kept (app/net/state_db.py)."""
        self.moderation.restore(rows, now)
        for rule in self.moderation.rules:
            for digest in rule.tokens:
                self.blocked_tokens[digest] = rule
        self.set_motd(motd)

    def _tell_muted(self, now: float, session: ServerSession, rule: Rule) -> None:
        """NOTICE_MUTED: its origin field carries when the mute ends (PROTOCOL.md 7.3)."""
        self._queue(now, session, protocol.encode_event(Event(
            0, now, protocol.EV_NOTICE, code=protocol.NOTICE_MUTED, origin=int(rule.until),
            online=len(self.room.members),
            text="muted for %d more minutes" % minutes_left(now, rule.until))))

    def _mute_over(self, now: float, rule: Rule, how: str = "over") -> None:
        self._log(now, LogKind.MUTE, rule.label, ("console", 0), how)
        for session in self.members():
            if session.key in rule.names:
                self._notice(now, session, protocol.NOTICE_UNMUTED, "you may speak again")

    def load_past(self, rows: Iterable[Sequence]) -> None:
        """Lines of earlier runs, oldest first, as the room's log kept them
        (time, what, name, addr, detail: the room's database): the beginning
        of a newcomer's history until this run has said enough itself."""
        kinds = {LogKind.CHAT: protocol.EV_CHAT, LogKind.EMOTE: protocol.EV_EMOTE,
                 LogKind.ADMIN: protocol.EV_ADMIN}
        # With their sender's origin and msg_id: a client that saw a line before
        # the restart drops it (PROTOCOL.md 7.5 rule 2) instead of showing it twice.
        self.room.past = [Event(0, float(row[0]), kinds[LogKind(row[1])], name=str(row[2]),
                                text=str(row[4]),
                                origin=int(row[5]) if len(row) > 6 else 0,
                                msg_id=int(row[6]) if len(row) > 6 else 0)
                          for row in rows if row[1] in kinds]

    def load_msg_ids(self, pairs: Iterable[Tuple[int, int]]) -> None:
        """(instance, last msg_id) of the lines an earlier run stored: a client
        that replays its recent lines to this new run (PROTOCOL.md 10.4) does
        not get them said, and stored, twice."""
        for instance, msg_id in pairs:
            if msg_id > self.last_msg_ids.get(instance, 0):
                self._remember_msg_id(instance, msg_id)

    def members(self) -> List[ServerSession]:
        return list(self.room.members.values())

    def shutdown(self, now: float) -> None:
        """Tell every client the server is closing; forget them (no leave noise)."""
        for session in list(self.by_addr.values()):
            if session.phase is GONE:
                continue            # dropped as an earlier one was forgotten (stuck)
            self._farewell(now, session, protocol.BYE_SERVER_CLOSING, "the server is closing")
            self._forget(session)
        self._log(now, LogKind.SHUTDOWN, "", ("console", 0), "")

    def _farewell(self, now: float, session: ServerSession, code: protocol.ByeCode,
                  why: str, coded: Optional[protocol.Reason] = None) -> None:
        bye = protocol.encode_header(protocol.BYE, session.id) + protocol.encode_bye(
            code, why, coded if session.caps.reasons else None)
        self._send(bye, session.addr)
        for repeat in range(1, FAREWELL_REPEATS):
            self.farewells.append((now + 0.2 * repeat, bye, session.addr))

    # ======================================================== departures

    def _forget(self, session: ServerSession) -> None:
        """Out of every table that holds a session: the only place that takes one
        out, once per session (a second time is an IllegalTransition)."""
        session.advance(SessionTrigger.FORGET)
        # What the room said before it went still goes to it (GONE already:
        # if that overflows its queue, the drop is not said twice).
        self._flush_broadcasts()
        self.by_addr.pop(session.addr, None)
        self._by_id.pop(session.id, None)
        self.seats.remove(session.addr[0], session.persons)
        self._dirty.pop(session.id, None)
        self._scheduled.pop(session.id, None)
        self._throttled.pop(session.id, None)
        self.room_stream.remove(session.id)
        if self.room.members.get(session.key) is session:
            del self.room.members[session.key]
            self._who_cache = None

    def _drop(self, now: float, session: ServerSession, code: protocol.LeaveCode,
              detail: str = "") -> None:
        if session.phase is GONE:
            return                  # dropped already in this pass (stuck, then timed out)
        self._forget(session)
        if session.held:
            # Kicked, banned or timed out with lines still held: given up (a
            # new run must not say them either).
            self.held_gone += [(session.instance, said.msg_id) for said in session.held]
            session.held.clear()
        self.stats["leaves"] += 1
        if code == protocol.LEAVE_TIMEOUT:
            self.stats["timeouts"] += 1
        what = {protocol.LEAVE_QUIT: LogKind.LEAVE, protocol.LEAVE_TIMEOUT: LogKind.TIMEOUT,
                protocol.LEAVE_KICKED: LogKind.KICK,
                protocol.LEAVE_BANNED: LogKind.BAN}.get(code, LogKind.LEAVE)
        self._log(now, what, session.name, session.addr, detail)
        if code in (protocol.LEAVE_KICKED, protocol.LEAVE_BANNED):
            # The admin's doing: the room always sees it (and it is rare).
            self._broadcast(self.room.record(now, protocol.EV_LEAVE, name=session.name,
                                             code=code, text=detail))
        else:
            self._member_news(now, protocol.EV_LEAVE, session.name, code, detail)

    def _member_news(self, now: float, kind: protocol.EventKind, name: str, code: int = 0,
                     detail: str = "") -> None:
        """A join or leave: said to the room while the room-wide budget lasts,
        else counted for the next EV_MEMBERS (the pattern of big IRC rooms,
        e.g. Twitch's, that stop sending each JOIN/PART)."""
        if self.member_news.take(now):
            self._broadcast(self.room.record(now, kind, name=name, code=code, text=detail))
        else:
            self._untold[kind == protocol.EV_LEAVE] += 1

    def _tell_untold(self, now: float) -> None:
        """The joins and leaves not said one by one since the last time, as one event."""
        joined, left = self._untold
        self._untold = [0, 0]
        self._untold_told_at = now
        self._broadcast(self.room.record(
            now, protocol.EV_MEMBERS, origin=protocol.members_counts(joined, left),
            text="%d joined and %d left (too many at once to say each)" % (joined, left)))

    # ============================================================== output

    def _send(self, data: bytes, addr: Address) -> None:
        self.outbox.append((data, addr))

    def note(self, now: float, what: LogKind, name: str, where: str, detail: str) -> None:
        """A log entry from outside the hub (the server's files): recorded and
        shown like the room's own (`where`: an address as text, or "console")."""
        self.log.append(LogEntry(now, what, text.sanitize_text(name), where,
                                 text.sanitize_text(detail)))

    def _log(self, now: float, what: LogKind, name: str, addr: Address, detail: str,
             origin: int = 0, msg_id: int = 0) -> None:
        # Every console, log file and transcript prints these: nothing that came
        # off the wire (a refused name, a reason) may carry a newline that forges
        # a log line, or an escape sequence. (isprintable: a C-speed no-op check
        # for the usual, already clean text.)
        if not name.isprintable():
            name = text.sanitize_text(name)
        if not detail.isprintable():
            detail = text.sanitize_text(detail)
        self.log.append(LogEntry(now, what, name, addr_text(addr), detail, origin, msg_id))

    def tick(self, now: float) -> None:
        """Run what is due: liveness sweep, farewell repeats, stream flushes."""
        if now >= self._next_drops and now < self._next_sweep:
            self._drop_due(now)                     # the rest of the last sweep's
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_INTERVAL
            limit = now - self.config.session_timeout
            # (anew: those of the last sweep still due are found again)
            self._due_drops = deque((s, True) for s in self.by_addr.values()
                                    if s.last_heard < limit and s.phase is not LEAVING)
            self._due_drops.extend(
                (s, False) for s in self.by_addr.values()
                if s.phase is not LEAVING and s.last_heard >= limit and self._stalled(now, s))
            self._drop_due(now)
            persons = [p for s in self.by_addr.values() for p in s.persons]
            self.line_budgets.forget_full(now, persons)
            self.who_budgets.forget_full(now, persons)
            self.blocked_tokens = {t: r for t, r in self.blocked_tokens.items()
                                   if r.until > now}
            self.hello_buckets = {ip: b for ip, b in self.hello_buckets.items()
                                  if b.next_token_at(now) > now or b.tokens < b.burst}
            for rule in self.moderation.expire(now):
                if rule.kind == MUTE:
                    self._mute_over(now, rule)
            if self._untold != [0, 0] and now >= self._untold_told_at + SWEEP_INTERVAL:
                self._tell_untold(now)
        if self._throttled:
            self._release_held(now)
        if self.farewells:
            due = [f for f in self.farewells if f[0] <= now]
            self.farewells = [f for f in self.farewells if f[0] > now]
            for _, data, addr in due:
                self._send(data, addr)
        for sid in self.room_stream.tick(now, self.outbox):
            stuck = self._by_id.get(sid)
            if stuck is not None:           # (not dropped with an earlier one of them)
                self._room_stuck(now, stuck)
        while self._timers and self._timers[0][0] <= now:
            deadline, sid = heapq.heappop(self._timers)
            if self._scheduled.get(sid) == deadline:
                del self._scheduled[sid]
                self._dirty[sid] = self._by_id[sid]
        self.flush(now)

    def _drop_due(self, now: float) -> None:
        """Drop DROPS_PER_PASS of the members the last sweep found silent or
        deaf; the rest DROP_PASS_GAP later. A pass looks only at those (each
        checked again: it may have answered since), not at the whole room:
        1800 deaf members dropped 100 a pass used to cost 18 scans of 1800."""
        due = self._due_drops
        limit = now - self.config.session_timeout
        dropped = 0
        while due and dropped < DROPS_PER_PASS:
            session, silent = due.popleft()
            if session.phase is GONE or session.phase is LEAVING:
                continue
            if silent and session.last_heard < limit:
                self._drop(now, session, protocol.LEAVE_TIMEOUT, "no reply for %.0f s"
                           % (now - session.last_heard))
            elif not silent and session.last_heard >= limit and self._stalled(now, session):
                self._drop_unacking(now, session, protocol.ReasonCode.NO_ACKS)
            else:
                continue
            dropped += 1
        self._next_drops = now + DROP_PASS_GAP if due else NEVER

    def flush(self, now: float) -> None:
        """Move every touched session's due datagrams into the outbox."""
        self._flush_broadcasts()
        if self._room_pending:
            # One set of ROOM datagrams per flush, for every member: a burst
            # of joins or lines costs a few datagrams each, not one per event.
            # They go out as take_output is called (fan_out, room_stream.py).
            batches = protocol.pack_event_batches(self._room_pending)
            self._room_pending = []
            self.room_stream.add_batches(now, batches)
        dirty, self._dirty = self._dirty, {}
        scheduled, outbox = self._scheduled, self.outbox
        for sid, session in dirty.items():
            if session.phase is GONE:
                continue                           # (_forget takes it out of _dirty: a guard)
            stream, addr = session.stream, session.addr
            for data in stream.flush(now):
                outbox.append((data, addr))
            deadline = stream.next_deadline()
            if deadline is not None:
                current = scheduled.get(sid)
                if current is None or deadline < current:
                    scheduled[sid] = deadline
                    heapq.heappush(self._timers, (deadline, sid))

    @property
    def fanning_out(self) -> bool:
        return self.room_stream.fanning_out

    def next_deadline(self) -> float:
        """When tick must run next."""
        while self._timers and self._scheduled.get(self._timers[0][1]) != self._timers[0][0]:
            heapq.heappop(self._timers)            # stale entries
        times = [self._next_sweep, self._next_drops, self.room_stream.check_at]
        if self._timers:
            times.append(self._timers[0][0])
        if self.farewells:
            times.append(min(f[0] for f in self.farewells))
        for session in self._throttled.values():
            times.append(session.bucket.next_token_at(session.bucket.stamp))
        if self._dirty or self._pending or self._room_pending or self.room_stream.fanning_out:
            times.append(0.0)
        return min(times)

    def take_output(self, fan_out_limit: int = -1) -> List[Tuple[bytes, Address]]:
        """What to send now: everything, or with a limit, the room stream's
        fan-out only as far as `fan_out_limit` more members (the rest at the
        next calls, while `fanning_out`: the server looks at its socket in
        between, and lines that came meanwhile join the fan-out)."""
        out, self.outbox = self.outbox, []
        if self.room_stream.fanning_out:
            self.room_stream.fan_out(out, fan_out_limit)
        if self.room_key is not None:
            seal = self.room_key.seal
            out = [(data if _looks_like(data, protocol.REFUSE) else seal(data), addr)
                   for data, addr in out]
        return out

    def take_log(self) -> List[LogEntry]:
        log, self.log = self.log, []
        return log

    def take_held(self) -> Tuple[List[HeldLine], List[Tuple[int, int]]]:
        """The held lines new since the last call, and those said or given up."""
        new, gone = self.held_new, self.held_gone
        self.held_new, self.held_gone = [], []
        return new, gone

    def restore_held(self, now: float, lines: Iterable[Sequence]) -> None:
        """Lines an earlier run acknowledged and held but had not said when it
        stopped (HeldLine rows, oldest first): said now, in their sender's name,
        into the history (nobody is in the room yet) and the log. A private
        line's sender and target are not here to see it; it is logged, so the
        teacher's record has it (docs/SECURITY.md)."""
        for row in lines:
            line = HeldLine(*row)
            self.held_gone.append((line.origin, line.msg_id))
            if line.msg_id > self.last_msg_ids.get(line.origin, 0):
                self._remember_msg_id(line.origin, line.msg_id)
            said = text.sanitize_message(line.text)
            if not said:
                continue
            if line.kind == protocol.PRIVATE:
                self.log.append(LogEntry(now, LogKind.PRIVATE, line.name, line.addr,
                                         "to " + text.sanitize_text(line.target),
                                         line.origin, line.msg_id))
                continue
            kind = protocol.EV_EMOTE if line.kind == protocol.EMOTE else protocol.EV_CHAT
            self.log.append(LogEntry(now, LogKind.EMOTE if kind == protocol.EV_EMOTE
                                     else LogKind.CHAT, line.name, line.addr, said,
                                     line.origin, line.msg_id))
            self.room.record(now, kind, name=line.name, text=said, origin=line.origin,
                             msg_id=line.msg_id)
