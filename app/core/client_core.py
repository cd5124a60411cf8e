"""The client's side of the protocol: handshake, resume, sending, receiving.

Pure: datagrams and `now` in, datagrams and events out; the shell (client_net.py)
owns the socket and the clock. Both the line-mode and the curses client use it.

What makes "nothing lost, nothing shown twice" hold across reconnects:
  * every chat line has a msg_id from this client's run; lines not yet acked by
    the server move to the next session and are resent; the server drops a
    msg_id it already accepted, and receivers drop an (origin, msg_id) pair
    they already showed (that covers a server restart too);
  * the client remembers the last room sequence number it saw, and on
    rejoining asks for what came after it.
"""
import enum
import random
from collections import OrderedDict, deque
from typing import Deque, List, NamedTuple, Optional, Set, Tuple, Union

from app.core import file_wire, protocol, text
from app.core.auth import RoomKey
from app.core.machine import Transitions
from app.core.protocol import Event, ProtocolError
from app.core.session import ReliableStream
from app.core.transfer import Endpoint

PING_INTERVAL = 2.0        # a ping after this long without sending anything
SERVER_TIMEOUT = 8.0       # silence after which the server is considered lost
HELLO_BACKOFF_MAX = 5.0
COOKIE_TTL = 25.0          # the server accepts a cookie for 30 to 60 s
BYE_REPEATS = 3
BYE_INTERVAL = 0.15
SEEN_MEMORY = 8192         # (origin, msg_id) pairs remembered for dedup
REPLAY_WINDOW = 10.0       # lines said this recently are said again to a new server run
REPLAY_MEMORY = 64         # ... at most this many
# A line said while joined that the server has not acknowledged this long after
# it went out is reported pending (LinePending): the server may be gone, and the
# 8 s before we are sure is long enough to type it again. The common case (an
# echo within milliseconds) never shows a mark, so nothing flickers.
PENDING_AFTER = 1.0
CLIENT_WINDOW = 64
# A client acks the room's events lazily: every ack is work for the one server
# that 1000 clients share (a busy room: ~50 acks a second each at ACK_EVERY = 2),
# and costs the client nothing to wait for. Still far inside the server's
# minimum RTO (0.2 s), so nothing is resent for want of an ack.
CLIENT_ACK_EVERY = 8
CLIENT_ACK_DELAY = 0.05
# The room stream is the bulk of what a client gets (every line of the room):
# acked lazier still, and the room's acks are most of what its server does
# (1000 members at 0.1 s: ~8 000 a second, a third of the server's CPU). The
# server learns each member's delay in its RTT estimate, and its room timers
# start at 0.5 s (room_stream.ROOM_RTO_INITIAL), so nothing is resent for want
# of an ack; a hole is still acked at once, so a loss with later datagrams is
# repaired at once. At 0.2 s the server's CPU at 1000 x 0.1 fell from 33 % to
# 27 % of a core (docs/PERFORMANCE.md, fifth pass).
ROOM_ACK_EVERY = 32
ROOM_ACK_DELAY = 0.2       # on average; each client's own is spread around it:
ROOM_ACK_SPREAD = 0.4      # ... 0.12 to 0.28 s (see room_ack_delay)


def room_ack_delay(session_id: int) -> float:
    """This session's delay before acking the room stream. Every member gets the
    same ROOM datagrams at the same moment; with one delay for all, a room of
    1000 acks in a crowd of 1000 datagrams one delay after each line (and a line
    that reaches the server then waits behind them). Spread evenly over
    ROOM_ACK_DELAY * (1 +- ROOM_ACK_SPREAD) by the session id (which the
    server draws at random), the acks come as a steady trickle. Derived, not
    drawn here, so the core stays deterministic."""
    spread = (session_id & 0xFFFF) / 0x10000
    return ROOM_ACK_DELAY * (1 - ROOM_ACK_SPREAD + 2 * ROOM_ACK_SPREAD * spread)


class ConnectionState(str, enum.Enum):
    """The client's connection. A str: the front ends compare it with these
    strings and pass it between their processes (JSON) as one of them."""
    CONNECTING = "connecting"       # saying HELLO, never joined yet
    JOINED = "joined"
    RECONNECTING = "reconnecting"   # saying HELLO again (lost the server, or renamed)
    REFUSED = "refused"             # the server said no (`refusal`): waiting for a new name
    CLOSED = "closed"               # we left, or the admin removed us: nothing more is sent
                                    # but our BYE repeats

    # Printed as its string on every Python ("%s", str(), format()), as before.
    __str__ = str.__str__
    __format__ = str.__format__  # type: ignore[assignment]


class ConnectionTrigger(enum.Enum):
    WELCOMED = "welcomed"           # a WELCOME while saying HELLO
    REFUSED = "refused"             # a REFUSE while saying HELLO
    LOST = "lost"                   # RESET, the server's silence, or its BYE (closing)
    REMOVED = "removed"             # its BYE: kicked or banned
    RENAMED = "renamed"             # a new name after a refusal, never joined before ...
    RENAMED_REJOINING = "renamed_rejoining"    # ... or once joined
    LEAVE = "leave"                 # the user leaves (from any state)


_S, _T = ConnectionState, ConnectionTrigger
CONNECTION_TRANSITIONS: "Transitions[ConnectionState, ConnectionTrigger]" = Transitions(
    "client connection", {
        (_S.CONNECTING, _T.WELCOMED): _S.JOINED,
        (_S.RECONNECTING, _T.WELCOMED): _S.JOINED,
        (_S.CONNECTING, _T.REFUSED): _S.REFUSED,
        (_S.RECONNECTING, _T.REFUSED): _S.REFUSED,
        (_S.JOINED, _T.LOST): _S.RECONNECTING,
        # A BYE for our session id: kicked while joined, or its repeats after that
        # (or after we gave up on the server and were trying to rejoin). A
        # refused client is waiting for a new name: a late BYE tells it nothing.
        (_S.JOINED, _T.REMOVED): _S.CLOSED,
        (_S.RECONNECTING, _T.REMOVED): _S.CLOSED,
        (_S.CLOSED, _T.REMOVED): _S.CLOSED,
        (_S.REFUSED, _T.RENAMED): _S.CONNECTING,
        (_S.REFUSED, _T.RENAMED_REJOINING): _S.RECONNECTING,
        (_S.CONNECTING, _T.LEAVE): _S.CLOSED,
        (_S.JOINED, _T.LEAVE): _S.CLOSED,
        (_S.RECONNECTING, _T.LEAVE): _S.CLOSED,
        (_S.REFUSED, _T.LEAVE): _S.CLOSED,
        (_S.CLOSED, _T.LEAVE): _S.CLOSED,
    })
# States in which the client says HELLO and listens for CHALLENGE/WELCOME/REFUSE.
# Why a connection was lost (a Status's detail): keys the front ends word
# (app/ui/render.py detail_text), not text, so a message has one language.
LOST_RESTARTED = "server_restarted"      # the server did not know our session (RESET)
LOST_SILENT = "server_silent"            # no answer for SERVER_TIMEOUT seconds

HANDSHAKING = frozenset((ConnectionState.CONNECTING, ConnectionState.RECONNECTING))

# The names the tests and front ends use.
CONNECTING = ConnectionState.CONNECTING
JOINED = ConnectionState.JOINED
RECONNECTING = ConnectionState.RECONNECTING
REFUSED = ConnectionState.REFUSED
CLOSED = ConnectionState.CLOSED


class Status(NamedTuple):
    state: ConnectionState
    online: int
    detail: str             # why (the server's reason, a network hint, "resumed", ...)


class LinePending(NamedTuple):
    """One of our lines the server does not have yet: said while it was away, or
    still unacknowledged when it went away. A front end shows it at once, marked,
    rather than nothing until the reconnect (which invites typing it again)."""
    msg_id: int
    kind: int               # protocol.SAY, EMOTE or PRIVATE
    text: str
    target: str             # PRIVATE: to whom


class LineSettled(NamedTuple):
    """A line reported by LinePending is settled. delivered: the room's echo of it
    (our instance, its msg_id) arrived, and comes right after this; the echo is
    what the room saw, so it replaces the pending line. Not delivered: the server
    acknowledged it and then said it went nowhere (muted, rejected, no such
    person); the notice saying why comes right after this."""
    msg_id: int
    delivered: bool


ClientEvent = Union[Event, Status, LinePending, LineSettled]

# Notices that answer one of our lines that went nowhere (no echo will come).
_UNDELIVERED_NOTICES = frozenset((protocol.NOTICE_MUTED, protocol.NOTICE_REJECTED,
                                  protocol.NOTICE_NO_SUCH_USER))
# Events whose text is a message: its line breaks and tabs are kept.
_MESSAGE_KINDS = frozenset((protocol.EV_CHAT, protocol.EV_EMOTE, protocol.EV_PRIVATE,
                            protocol.EV_ADMIN))


class BadName(ValueError):
    """A name the server would refuse; `problem` says why (the front end words it)."""

    def __init__(self, problem: text.NameProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def valid_name(name: str) -> str:
    """The normalised name, or BadName with the reason the server would give."""
    normalised, reason = text.check_name(name)
    if normalised is None:
        raise BadName(reason or text.NameProblem.EMPTY)
    return normalised


class ClientCore:
    def __init__(self, name: str, now: float, rng: Optional[random.Random] = None,
                 room_key: Optional[RoomKey] = None, token: Optional[bytes] = None) -> None:
        self.rng = rng or random.SystemRandom()
        self.room_key = room_key
        self.name = valid_name(name)
        # Proves "same client" on resume. Secure sessions bind it to our key
        # (app/core/secure_session.py client_token); else a random secret.
        self.token = token or self._random(16)
        # The public id others see on our messages, derived from the secret token
        # so nobody can claim it without the token (the server checks).
        self.instance_bytes = protocol.instance_of(self.token)
        self.instance = int.from_bytes(self.instance_bytes, "big")
        self.state = ConnectionState.CONNECTING   # changed by _fire only
        self.detail = ""              # why it is in that state (shown, never tested here)
        self.online = 0
        self.refusal: Optional[Tuple[int, str]] = None
        # The coded part of the last refusal or farewell (FLAG_REASONS): why,
        # until when, the admin's words, for the front end to word.
        self.refusal_coded: Optional[protocol.Reason] = None
        self.farewell_coded: Optional[protocol.Reason] = None
        # The server's last BYE that changed our state (code, sanitised reason):
        # closing (reconnecting), kicked or banned (closed). None once welcomed.
        self.farewell: Optional[Tuple[int, str]] = None
        self.ever_joined = False
        self.session_id = 0
        self.stream: Optional[ReliableStream] = None
        # The room's events in ROOM datagrams (docs/PROTOCOL.md 6.8): receive
        # only; its acks ride in self.stream's headers.
        self.room_stream: Optional[ReliableStream] = None
        self.room_runs = False       # the WELCOME said runs of ROOM datagrams may come
        self.pending: List[Tuple[int, bytes]] = []   # said while not joined
        # Our lines reported as LinePending and not yet settled, by msg_id.
        self.unsettled: "OrderedDict[int, LinePending]" = OrderedDict()
        # Lines said while joined, not yet echoed, by msg_id: (when they went out,
        # None until the next tick sends them; their number in self.stream; the
        # line), in the order said. Kept PENDING_AFTER at most, while joined.
        self.awaiting: "OrderedDict[int, Tuple[Optional[float], int, protocol.Said]]" = \
            OrderedDict()
        # ... and those settled as not delivered: an echo still corrects them.
        self.undelivered: "OrderedDict[int, None]" = OrderedDict()
        self.next_msg_id = 1
        self.epoch = 0
        self.last_seq = 0
        self.seen: "OrderedDict[Tuple[int, int, int], None]" = OrderedDict()   # (origin, msg_id, kind)
        # Lines said lately, acknowledged or not: a server that crashed may have
        # acknowledged a line without passing it to everyone (section 10).
        self.recent: Deque[Tuple[float, int, bytes]] = deque(maxlen=REPLAY_MEMORY)
        self.events: List[ClientEvent] = []
        self.out: List[bytes] = []
        self.malformed = 0
        # handshake
        self.nonce = self._random(8)
        self.cookie = bytes(16)
        self.cookie_at = -COOKIE_TTL
        self.attempt = 0
        self.next_hello = now
        # liveness
        self.last_heard = now
        self.last_sent = now
        self.bye_left = 0
        self.next_bye = 0.0
        self.clock = now              # the latest `now` we were given
        self.wall_offset = 0.0        # server wall time minus our clock, from WELCOME
        # File transfers with the server (app/core/transfer.py; PROTOCOL.md F),
        # set by a shell that has files; the session they last went on.
        self.files: Optional[Endpoint] = None
        self.files_session = 0

    def _random(self, size: int) -> bytes:
        return bytes(self.rng.getrandbits(8) for _ in range(size))

    # ------------------------------------------------------------ state

    def _fire(self, trigger: ConnectionTrigger, detail: str = "") -> None:
        """The one place the state changes: by the table (IllegalTransition if
        it has no such change). A Status goes to the front end when the state
        or the reason changed."""
        state = CONNECTION_TRANSITIONS.next(self.state, trigger)
        if state != self.state or detail != self.detail:
            self.state = state
            self.detail = detail
            self.events.append(Status(state, self.online, detail))

    def _allows(self, trigger: ConnectionTrigger) -> bool:
        """Whether a datagram that means `trigger` counts now (else it is ignored)."""
        return CONNECTION_TRANSITIONS.allows(self.state, trigger)

    def _set_online(self, online: int) -> None:
        if online != self.online:
            self.online = online
            self.events.append(Status(self.state, online, self.detail))

    def _lost(self, now: float, why: str) -> None:
        """The server is gone (or forgot us): keep our lines, say HELLO again."""
        self.attempt = 0
        self.next_hello = now + self.rng.uniform(0.0, 0.3)   # spread a restart storm
        self._fire(ConnectionTrigger.LOST, why)
        self._report_unacked()

    # ------------------------------------------------------------ sending

    def say(self, line: str, kind: protocol.FrameKind = protocol.SAY,
            target: str = "") -> List[int]:
        """Queue a chat line (split when longer than the protocol allows: at line
        breaks first, text.split_message)."""
        if kind == protocol.PRIVATE:
            normalised = text.check_name(target)[0]
            if normalised is None:
                # Nobody can have that name: say so here instead of sending it.
                self.events.append(Event(
                    0, self.clock + self.wall_offset, protocol.EV_NOTICE,
                    code=protocol.NOTICE_NO_SUCH_USER,
                    target=text.sanitize_text(target)[:protocol.MAX_NAME_CHARS]))
                return []
            target = normalised
        ids = []
        for piece in text.split_message(line, protocol.MAX_TEXT_BYTES):
            said = protocol.Said(kind, self.next_msg_id, piece, target)
            ids.append(self.next_msg_id)
            self.next_msg_id += 1
            body = protocol.encode_said(said)
            self.recent.append((self.clock, kind, body))
            seq = self._queue(kind, body)
            if seq is not None:
                self.awaiting[said.msg_id] = (None, seq, said)
            elif self.state != CLOSED:
                self._report_pending(said)
        return ids

    def _report_pending(self, said: protocol.Said) -> None:
        self.awaiting.pop(said.msg_id, None)
        if said.msg_id in self.unsettled or self._echoed(said):
            return      # (echoed: only its ack was lost; the server drops the resend)
        line = LinePending(said.msg_id, said.kind, said.text, said.target)
        self.unsettled[said.msg_id] = line
        while len(self.unsettled) > SEEN_MEMORY:
            self.unsettled.popitem(last=False)
        self.events.append(line)

    def _report_unacked(self) -> None:
        """The server went away: our lines it has not acknowledged are pending now
        (their echo, if it was coming, cannot come before the reconnect); those it
        has are its own, and no longer watched."""
        self.awaiting.clear()
        if self.stream is None:
            return
        for kind, body in self.stream.unacked_messages():
            said = self._decode_said(kind, body)
            if said is not None:
                self._report_pending(said)

    def _echoed(self, said: protocol.Said) -> bool:
        kind = {protocol.SAY: protocol.EV_CHAT, protocol.EMOTE: protocol.EV_EMOTE,
                protocol.PRIVATE: protocol.EV_PRIVATE}.get(protocol.FrameKind(said.kind))
        return (self.instance, said.msg_id, kind) in self.seen

    @staticmethod
    def _decode_said(kind: int, body: bytes) -> Optional[protocol.Said]:
        if kind not in (protocol.SAY, protocol.EMOTE, protocol.PRIVATE):
            return None
        try:
            return protocol.decode_said(kind, body)
        except ProtocolError:
            return None

    def _check_awaiting(self, now: float) -> None:
        """Lines said while joined: stamp those just sent (the newest, at the end);
        those out for PENDING_AFTER (the oldest, at the start) are pending if the
        server has not acknowledged them, and are no longer watched either way
        (an acknowledged one is the server's)."""
        awaiting = self.awaiting
        just_sent = []
        for msg_id in reversed(awaiting):
            if awaiting[msg_id][0] is not None:
                break
            just_sent.append(msg_id)
        for msg_id in just_sent:
            _, seq, said = awaiting[msg_id]
            awaiting[msg_id] = (now, seq, said)
        while awaiting:
            msg_id, (sent, seq, said) = next(iter(awaiting.items()))
            if sent is None or sent + PENDING_AFTER > now:
                break
            del awaiting[msg_id]
            if self.stream is not None and self.stream.unacked(seq):
                self._report_pending(said)

    def _unacked_ids(self) -> Set[int]:
        """msg_ids of our lines the server has not acknowledged (or not been sent)."""
        messages = list(self.pending)
        if self.stream is not None:
            messages += self.stream.unacked_messages()
        ids = set()
        for kind, body in messages:
            said = self._decode_said(kind, body)
            if said is not None:
                ids.add(said.msg_id)
        return ids

    def who(self) -> None:
        self._queue(protocol.WHO, b"")

    def _queue(self, kind: protocol.FrameKind, body: bytes) -> Optional[int]:
        """Its number in the session's stream; None: kept until we are joined."""
        if self.state == JOINED and self.stream is not None:
            return self.stream.queue(kind, body)
        self.pending.append((kind, body))
        return None

    def rename(self, name: str, now: float) -> None:
        """Try again under another name after a refusal. Raises ValueError with
        the reason when the name cannot be valid (checked here, before sending),
        IllegalTransition when the client was not refused (a front end's bug)."""
        name = valid_name(name)
        self._fire(ConnectionTrigger.RENAMED_REJOINING if self.ever_joined
                   else ConnectionTrigger.RENAMED)
        self.name = name
        self.refusal = None
        self.attempt = 0
        self.next_hello = now

    def hello_now(self, now: float) -> None:
        """The way to the server has just opened (a secure session's keys are
        made): say HELLO at the next tick, its back-off from the start. The
        HELLOs due while the handshake went on could not be sent, but each
        doubled the wait: after a few lost handshake datagrams the first HELLO
        that could go was seconds away (a join under 20 % loss took over the
        10 s connect time-out, 2 in 30)."""
        if self.state in HANDSHAKING:
            self.attempt = 0
            self.next_hello = now

    def leave(self, now: float) -> None:
        """Say goodbye: BYE a few times until the server acknowledges."""
        if self.state == JOINED:
            self.bye_left = BYE_REPEATS
            self.next_bye = now
            self._fire(ConnectionTrigger.LEAVE, "leaving")
            self.tick(now)
        else:
            self._fire(ConnectionTrigger.LEAVE, "left")

    # ------------------------------------------------------------ input

    def on_datagram(self, now: float, data: bytes) -> None:
        self.clock = now
        if self.room_key is not None:
            opened = self.room_key.open(data)
            if opened is None and not self._handshaking_refusal(data):
                self.malformed += 1            # not from our room (or forged)
                return
            data = opened or data
        if data[:6] == protocol.ROOM_PREFIX:
            self._on_room(now, data)         # the bulk of a busy room: straight there
            return
        if data[:6] == protocol.ROOM_RUN_PREFIX and self.room_runs:
            self._on_room(now, data, run=True)
            return
        try:
            self._dispatch(now, data)
        except ProtocolError:
            self.malformed += 1

    def _on_room(self, now: float, data: bytes, run: bool = False) -> None:
        """A ROOM datagram (docs/PROTOCOL.md 6.8): room events in room order;
        a run: the bodies of consecutive numbers from its number on."""
        if len(data) < protocol.HEADER_SIZE or len(data) > protocol.MAX_DATAGRAM:
            self.malformed += 1
            return
        session, number, ack, sack = protocol.ROOM_FIELDS.unpack_from(data, 6)
        if session != self.session_id or self.room_stream is None or self.state != JOINED:
            return                               # not for our current session
        if ack or sack or not number:
            self.malformed += 1
            return
        room = self.room_stream
        body = data[protocol.HEADER_SIZE:]
        if not run:
            batches = [protocol.Frame(number, protocol.EVENTS, body)]
        else:
            try:
                batches = [protocol.Frame(number + i, protocol.EVENTS, part)
                           for i, part in enumerate(protocol.split_room_run(body))]
            except ProtocolError:
                self.malformed += 1              # not even its numbers are known: unacked
                return
        if any(b.seq >= room.recv_next and b.seq not in room.ahead for b in batches):
            self.last_heard = now                # (a replayed old one is no sign of life)
        for frame in room.receive(now, batches):
            self._on_frame(frame)

    def _dispatch(self, now: float, data: bytes) -> None:
        if (protocol.peek_version(data) not in (None, protocol.VERSION)
                and self._allows(ConnectionTrigger.REFUSED)
                and len(data) > protocol.HEADER_SIZE and data[3] == protocol.REFUSE):
            # REFUSE keeps its layout in every version: a newer server can tell us.
            self._refused(protocol.decode_refuse(data[protocol.HEADER_SIZE:]))
            return
        header, body = protocol.decode_header(data)
        kind = header.type
        if kind == protocol.CHALLENGE:
            nonce, cookie = protocol.decode_challenge(body)
            if nonce == self.nonce and self.state in HANDSHAKING:
                self.cookie, self.cookie_at = cookie, now
                self._send_hello(now)
        elif kind == protocol.WELCOME:
            if self._allows(ConnectionTrigger.WELCOMED):
                self._welcomed(now, header, protocol.decode_welcome(body))
        elif kind == protocol.REFUSE:
            if self._allows(ConnectionTrigger.REFUSED):
                self._refused(protocol.decode_refuse(body))
        elif header.session != self.session_id or self.session_id == 0:
            return                               # not for our current session
        elif kind in (protocol.DATA, protocol.PONG, protocol.PING):
            if self.stream is None or not self.stream.fresh(header.pkt):
                return
            self.last_heard = now
            if self.state in (JOINED, CLOSED):
                frames = protocol.decode_frames(body)
                for frame in self.stream.on_datagram(now, header, frames):
                    self._on_frame(frame)
        elif kind == protocol.FILE:
            self.last_heard = now
            if self.files is not None and self.state == JOINED:
                self.files.on_message(now, 0, body)
        elif kind == protocol.ROOM:
            raise ProtocolError("ROOM datagram with flags set")
        elif kind == protocol.RESET:
            if self._allows(ConnectionTrigger.LOST):
                self._lost(now, LOST_RESTARTED)
        elif kind == protocol.BYE:
            bye = protocol.decode_bye(body)
            reason = text.sanitize_text(bye.reason)
            if bye.code in (protocol.BYE_SERVER_CLOSING, protocol.BYE_DROPPED) \
                    and self._allows(ConnectionTrigger.LOST):
                # Closing: we wait for it to come back. Dropped (our acks did not
                # reach it): we join again, as after a cut, and say why.
                self.attempt = 1
                self.next_hello = now + self.rng.uniform(0.5, 1.5)
                self.farewell = (bye.code, reason)
                self.farewell_coded = bye.coded
                self._fire(ConnectionTrigger.LOST, reason or "the server is closing")
                self._report_unacked()
            elif bye.code in (protocol.BYE_KICKED, protocol.BYE_BANNED) \
                    and self._allows(ConnectionTrigger.REMOVED):
                if self.state != CLOSED:        # (its repeats change nothing)
                    self.farewell = (bye.code, reason)
                    self.farewell_coded = bye.coded
                self._fire(ConnectionTrigger.REMOVED, reason or "removed by the admin")
        elif kind == protocol.BYE_ACK and self.bye_left:
            self.bye_left = 0

    def _handshaking_refusal(self, data: bytes) -> bool:
        """An untagged REFUSE is accepted while joining: a server that cannot
        check our tag (wrong or no password) has no other way to tell us."""
        return (self.state in HANDSHAKING and len(data) > protocol.HEADER_SIZE
                and data[:2] == protocol.MAGIC and data[3] == protocol.REFUSE)

    def _welcomed(self, now: float, header: protocol.Header, welcome: protocol.Welcome) -> None:
        session_id = header.session
        if session_id == self.session_id and self.stream is not None:
            # The server still had our session (we gave up on it first): both
            # streams go on exactly where they were.
            self.last_heard = now
            self.attempt = 0
            for kind, body in self.pending:     # typed while we thought we were cut off
                self.stream.queue(kind, body)
            self.pending = []
            self.farewell = None
            self._fire(ConnectionTrigger.WELCOMED, "resumed")
            return
        carried = self.stream.unacked_messages() if self.stream is not None else []
        again = []
        if self.epoch and welcome.epoch != self.epoch:
            # A new run of the server (it restarted): it does not know which of
            # our recent lines the old run passed on before it died, so say them
            # again, with their msg_ids; receivers drop what they already showed.
            again = [(k, b) for t, k, b in self.recent if t >= now - REPLAY_WINDOW]
        self.stream = ReliableStream(session_id, window=CLIENT_WINDOW,
                                     ack_every=CLIENT_ACK_EVERY, ack_delay=CLIENT_ACK_DELAY)
        self.room_stream = None
        self.room_runs = bool(header.flags & protocol.FLAG_ROOM
                              and header.flags & protocol.FLAG_ROOM_RUN)
        if header.flags & protocol.FLAG_ROOM:
            # The server sends the room's events in ROOM datagrams, numbered on
            # from WELCOME's pkt field; our acks for them ride in our headers.
            self.room_stream = ReliableStream(session_id, ack_every=ROOM_ACK_EVERY,
                                              ack_delay=room_ack_delay(session_id))
            self.room_stream.recv_next = header.pkt + 1
            self.stream.rider = self.room_stream
        self.session_id = session_id
        for kind, body in again + [m for m in carried + self.pending if m not in again]:
            self.stream.queue(kind, body)
        self.pending = []
        if welcome.epoch != self.epoch:
            self.epoch = welcome.epoch         # a new server run: its own numbering
            self.last_seq = 0
        self.name = welcome.name
        self.wall_offset = welcome.server_time - now
        self.ever_joined = True
        self.attempt = 0
        self.last_heard = now
        self.online = welcome.online
        self.farewell = None
        self._fire(ConnectionTrigger.WELCOMED, "resumed" if welcome.resumed else "")

    def refuse(self, code: protocol.RefuseCode, reason: str,
               coded: Optional[protocol.Reason] = None) -> None:
        """Refused by the layer below (the secure layer: a wrong password, a
        server key we do not trust), while joining."""
        if self._allows(ConnectionTrigger.REFUSED):
            self._refused(protocol.Refuse(code, reason, coded))

    def _refused(self, refuse: protocol.Refuse) -> None:
        self.refusal = (refuse.code, text.sanitize_text(refuse.reason))
        self.refusal_coded = refuse.coded
        self._fire(ConnectionTrigger.REFUSED, self.refusal[1])

    def _on_frame(self, frame: protocol.Frame) -> None:
        if frame.kind == protocol.EVENT:
            self._on_event(frame.body)
        elif frame.kind == protocol.EVENTS:
            try:
                bodies = protocol.split_event_batch(frame.body)
            except ProtocolError:
                self.malformed += 1
                return
            for body in bodies:
                self._on_event(body)
        else:
            self.malformed += 1

    def _on_event(self, body: bytes) -> None:
        try:
            event = protocol.decode_event(body)
        except ProtocolError:
            self.malformed += 1
            return
        if event.room_seq and event.kind != protocol.EV_PRIVATE:
            # Public events come in room order (the server sends history and
            # missed events before the room stream); private ones come in the
            # session's stream, maybe before public events numbered lower,
            # and are told apart by msg_id below (PROTOCOL.md 7.5).
            if event.room_seq <= self.last_seq:
                return                          # replayed twice around a reconnect
            self.last_seq = event.room_seq
        if event.msg_id:
            key = (event.origin, event.msg_id, event.kind)
            if key in self.seen:
                return                          # resent across a server restart
            self.seen[key] = None
            if len(self.seen) > SEEN_MEMORY:
                self.seen.popitem(last=False)
            if event.origin == self.instance:
                self.awaiting.pop(event.msg_id, None)
            if event.origin == self.instance and (event.msg_id in self.unsettled
                                                  or event.msg_id in self.undelivered):
                self.unsettled.pop(event.msg_id, None)
                self.undelivered.pop(event.msg_id, None)
                self.events.append(LineSettled(event.msg_id, True))
        elif (event.kind == protocol.EV_NOTICE and event.code in _UNDELIVERED_NOTICES
              and self.unsettled):
            self._settle_undelivered(event)
        if not event.flags & protocol.EVF_HISTORY and event.kind in (
                protocol.EV_JOIN, protocol.EV_LEAVE, protocol.EV_WHO, protocol.EV_MEMBERS):
            self._set_online(event.online)
        if event.kind == protocol.EV_WHO:      # one name per line
            clean = "\n".join(text.sanitize_text(n) for n in event.text.split("\n"))
        elif event.kind in _MESSAGE_KINDS:  # a message keeps its lines (PROTOCOL.md 11.2)
            clean = text.sanitize_message(event.text)
        else:
            clean = text.sanitize_text(event.text)
        name, target = text.sanitize_text(event.name), text.sanitize_text(event.target)
        if clean is not event.text or name is not event.name or target is not event.target:
            event = event._replace(name=name, target=target, text=clean)
        self.events.append(event)         # (sanitize_text returns clean text itself)

    def _settle_undelivered(self, notice: Event) -> None:
        """A notice that one of our lines went nowhere. Notices carry no msg_id,
        so every unsettled line the server has acknowledged that the notice can
        be about counts as answered (a "no such person" only a private line to
        that name): the server dealt with it before queuing this notice (same
        stream, in order). One whose echo is still on its way (the room stream
        is another stream) is corrected by the echo, which settles it again as
        delivered."""
        unacked = self._unacked_ids()
        target = text.name_key(text.normalize_name(notice.target))

        def about(line: LinePending) -> bool:
            if notice.code != protocol.NOTICE_NO_SUCH_USER:
                return True
            return line.kind == protocol.PRIVATE and (
                not target or text.name_key(text.normalize_name(line.target)) == target)

        for msg_id in [m for m, line in self.unsettled.items()
                       if m not in unacked and about(line)]:
            line = self.unsettled.pop(msg_id)
            self.events.append(LineSettled(line.msg_id, False))
            self.undelivered[msg_id] = None
            while len(self.undelivered) > SEEN_MEMORY:
                self.undelivered.popitem(last=False)

    # ------------------------------------------------------------ timers

    def _send(self, now: float, data: bytes) -> None:
        self.out.append(data)
        self.last_sent = now

    def _send_hello(self, now: float) -> None:
        if now - self.cookie_at > COOKIE_TTL:
            self.cookie = bytes(16)
        hello = protocol.Hello(self.nonce, self.cookie, self.instance_bytes, self.token,
                               self.epoch, self.last_seq, self.name)
        self._send(now, protocol.encode_header(protocol.HELLO,
                                               flags=protocol.FLAG_EVENTS | protocol.FLAG_ROOM
                                               | protocol.FLAG_ROOM_RUN
                                               | protocol.FLAG_REASONS)
                   + protocol.encode_hello(hello))

    def tick(self, now: float) -> None:
        self.clock = now
        if self.state in HANDSHAKING and now >= self.next_hello:
            self._send_hello(now)
            delay = min(HELLO_BACKOFF_MAX, 0.25 * 2 ** self.attempt)
            self.attempt += 1
            self.next_hello = now + delay * self.rng.uniform(0.5, 1.0)
        elif self.state == JOINED and self.stream is not None:
            if now - self.last_heard >= SERVER_TIMEOUT:
                self._lost(now, LOST_SILENT)
                return
            for data in self.stream.flush(now):
                self._send(now, data)
            if now - self.last_sent >= PING_INTERVAL:
                self._send(now, self.stream.header(protocol.PING))
            if self.awaiting:
                self._check_awaiting(now)
        elif self.state == CLOSED and self.bye_left and now >= self.next_bye:
            self.bye_left -= 1
            self.next_bye = now + BYE_INTERVAL
            self._send(now, protocol.encode_header(protocol.BYE, self.session_id)
                       + protocol.encode_bye(protocol.BYE_LEAVING))

    def next_deadline(self) -> Optional[float]:
        """When tick must run next (None: never, the client is done)."""
        if self.state in HANDSHAKING:
            return self.next_hello
        if self.state == JOINED and self.stream is not None:
            times = [self.last_heard + SERVER_TIMEOUT, self.last_sent + PING_INTERVAL]
            for sent, _, _ in self.awaiting.values():  # the oldest, or now if unstamped
                times.append(self.clock if sent is None else sent + PENDING_AFTER)
                break
            stream_due = self.stream.next_deadline()
            if stream_due is not None:
                times.append(stream_due)
            return min(times)
        if self.state == CLOSED and self.bye_left:
            return self.next_bye
        return None

    def pull_files(self, now: float, budget: int) -> None:
        """File messages due (control, then up to `budget` chunks) into the
        output, after everything else: chat never waits behind a chunk. A new
        session makes our transfers offer again (PROTOCOL.md F.5)."""
        files = self.files
        if files is None:
            return
        joined = self.state == JOINED
        if self.files_session and (not joined or self.session_id != self.files_session):
            files.peer_lost(now, 0)
        self.files_session = self.session_id if joined else 0
        if joined:
            head = file_wire.file_header(self.session_id)
            for _, datagram in files.pull(now, budget, head=lambda peer: head):
                self._send(now, datagram)

    @property
    def leaving_done(self) -> bool:
        return self.state in (CLOSED, REFUSED) and not self.bye_left

    def take_output(self) -> List[bytes]:
        out, self.out = self.out, []
        if self.room_key is not None:
            out = [self.room_key.seal(data) for data in out]
        return out

    def take_events(self) -> List[ClientEvent]:
        events, self.events = self.events, []
        return events
