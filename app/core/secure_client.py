"""The client's secure layer: a Noise handshake with the server, then every
datagram of the ClientCore sealed on the way out and opened on the way in.

The ClientCore above it is unchanged in kind: it still says HELLO, gets a
WELCOME, streams its lines; it only never sees a byte that did not
authenticate under keys agreed with the server whose long-term key the user
trusts (`check_server`: trust on first use, app/net/known_servers.py). A new
handshake starts when there is no session, or when the core is saying HELLO
again and the server has been silent (it may have restarted and forgotten us),
or when the server says it does not know our session.
"""
from typing import Callable, Dict, List, Optional

import hashlib

from app.core import protocol, secure_wire, words
from app.core.client_core import HANDSHAKING, ClientCore
from app.core.protocol import ProtocolError, ReasonCode
from app.core.secure_session import Checker, Handshake, KeyPair, Pake, Suite, Transport
from app.core.secure_wire import RejectCode, SecureType

RETRY_FIRST = 0.25            # the first resend of INIT/FINISH; doubling up to ...
RETRY_MAX = 2.0
FINISH_GIVE_UP = 8.0          # no record back after FINISH: start over (the server forgets at 10 s)
SILENT_BEFORE_REKEY = 3.0     # core says HELLO again and nothing heard this long: new handshake
REKEY_SPACING = 1.0           # at most one new handshake a second on the server's say-so

REJECT_TEXT = {
    RejectCode.WRONG_PASSWORD: ("wrong room password", ReasonCode.WRONG_PASSWORD),
    RejectCode.NEEDS_PASSWORD: ("this room needs a password", ReasonCode.NEEDS_PASSWORD),
    RejectCode.NO_PASSWORD: ("this room has no password; join without one",
                             ReasonCode.NO_PASSWORD),
}


class Attempt:
    """One handshake in progress."""

    def __init__(self, handshake: Handshake, pake: Optional[Pake], nonce: bytes, index: int,
                 now: float) -> None:
        self.handshake = handshake
        self.pake = pake
        self.nonce = nonce
        self.index = index            # ours: the server puts it in its RECORDs to us
        self.message1 = handshake.write_message(pake.start() if pake else b"")
        self.cookie = bytes(secure_wire.COOKIE)
        self.finish: Optional[bytes] = None     # FINISH, once RESPONSE came
        self.started = now
        self.finished_at = 0.0
        self.tries = 0
        self.next_send = now


class SecureClient:
    def __init__(self, core: ClientCore, suite: Suite, static: KeyPair, run_id: bytes,
                 check_server: Checker, password: bool, now: float,
                 remember_server: Callable[[bytes], None] = lambda key: None) -> None:
        self.core = core
        self.suite = suite
        self.static = static
        self.run_id = run_id
        self.check_server = check_server       # before message 3: may we go on?
        self.remember_server = remember_server  # once the server proved the session
        self.password = password
        self.attempt: Optional[Attempt] = None
        self.sessions: Dict[int, Transport] = {}     # our index -> keys (at most two)
        self.sending: Optional[Transport] = None     # the newest
        self.confirmed = False                       # the server has used the newest
        self.server_key: Optional[bytes] = None
        self.heard_at = now                          # the last record that authenticated
        self.rekeyed_at = -REKEY_SPACING
        self.stopped = False                         # a key or password problem: no more tries
        self.out: List[bytes] = []

    # ------------------------------------------------------------ input

    def on_datagram(self, now: float, data: bytes) -> None:
        try:
            if data[:3] == b"CZ\x02" and len(data) >= secure_wire.OUTER_SIZE:
                self._on_secure(now, data)
            elif data[:2] == protocol.MAGIC and len(data) > 3 and data[3] == protocol.REFUSE \
                    and self.core.state in HANDSHAKING:
                self.core.on_datagram(now, data)   # a server that does not speak version 2
            else:
                raise ProtocolError("not a secure datagram")
        except ProtocolError:
            self.core.malformed += 1

    def _on_secure(self, now: float, data: bytes) -> None:
        kind, index = secure_wire.peek(data)
        if kind == SecureType.RECORD:
            receiver, counter, header, ciphertext = secure_wire.decode_record(data)
            keys = self.sessions.get(receiver)
            if keys is None:
                raise ProtocolError("RECORD for a session we do not have")
            inner = keys.open(counter, header, ciphertext)
            if inner is None:
                raise ProtocolError("RECORD that does not authenticate")
            self.heard_at = now
            if keys is self.sending and not self.confirmed:
                self.confirmed = True
                self.attempt = None
                self.sessions = {receiver: keys}   # the older session is over
                if self.server_key is not None:
                    # Trusted on first use only now: in a password room an
                    # impostor without the password never gets this far.
                    self.remember_server(self.server_key)
            self.core.on_datagram(now, inner)
        elif kind == SecureType.CHALLENGE:
            nonce, cookie = secure_wire.decode_challenge(data)
            attempt = self.attempt
            if attempt is not None and attempt.finish is None and nonce == attempt.nonce:
                attempt.cookie = cookie
                # The server answered: a new step, whose resends start again
                # from RETRY_FIRST (as at RESPONSE), not from where the lost
                # first INITs left the back-off.
                attempt.tries = 0
                self._send_init(now, attempt)
        elif kind == SecureType.RESPONSE:
            self._on_response(now, data)
        elif kind == SecureType.REJECT:
            self._on_reject(now, index, secure_wire.decode_reject(data))
        else:
            raise ProtocolError("secure datagram of type %d from the server" % kind)

    def _on_response(self, now: float, data: bytes) -> None:
        attempt = self.attempt
        nonce, server_index, message2 = secure_wire.decode_response(data)
        if attempt is None or attempt.finish is not None or nonce != attempt.nonce \
                or index_of(data) != attempt.index:
            return                                  # not for the handshake we are in
        payload = attempt.handshake.read_message(message2)
        server_key = attempt.handshake.remote_static
        if payload is None or server_key is None:
            raise ProtocolError("RESPONSE does not authenticate")
        trusted = self.check_server(server_key)
        if trusted is not None:
            new = words.fingerprint_words(hashlib.sha256(server_key).digest())
            self._stop(protocol.REFUSE_SERVER_KEY,
                       "the server has a different key (%s, was %s)" % (new, trusted),
                       protocol.Reason(ReasonCode.SERVER_KEY, 0.0, "%s %s" % (new, trusted)))
            return
        self.server_key = server_key
        try:
            message3 = self._message3(attempt, payload)
        except ProtocolError:
            self._start(now)       # Noise is past message 2: this handshake cannot go on
            raise
        attempt.finish = secure_wire.encode_finish(server_index, message3)
        keys = Transport(attempt.handshake.transport(), server_index)
        # Keep the session the server has confirmed (if any) and this new one.
        self.sessions = {i: k for i, k in self.sessions.items()
                         if k is self.sending and self.confirmed}
        self.sessions[attempt.index] = keys
        self.sending = keys
        self.confirmed = False
        attempt.finished_at = now
        attempt.tries = 0
        self._send_finish(now, attempt)
        self.core.hello_now(now)               # sealed under the new keys, right behind FINISH

    def _message3(self, attempt: Attempt, payload: bytes) -> bytes:
        if attempt.pake is not None:
            try:
                attempt.handshake.set_psk(self.suite.psk(attempt.pake.finish(payload)))
            except ValueError as exc:
                raise ProtocolError("bad SPAKE2 message: %s" % exc)
        elif payload:
            raise ProtocolError("RESPONSE payload in a room without a password")
        try:
            return attempt.handshake.write_message(self.run_id)
        except ValueError as exc:          # e.g. the server's ephemeral key is unusable
            raise ProtocolError("cannot answer the RESPONSE: %s" % exc)

    def _on_reject(self, now: float, index: int, code: int) -> None:
        """Unauthenticated: believed only when it echoes an index that only
        someone who saw our datagrams knows (the handshake's, or the server's
        index of our session), and only in the state it answers."""
        attempt = self.attempt
        if code == RejectCode.UNKNOWN_SESSION:
            if self.sending is None or index != self.sending.peer_index:
                return
            # The server forgot us (a restart)? Unauthenticated, so believed only
            # from a server that has been silent a while: a forged one while it
            # talks to us costs nothing, and no more than one handshake a second.
            if self.attempt is None and now - self.rekeyed_at >= REKEY_SPACING \
                    and now - self.heard_at >= REKEY_SPACING:
                self._start(now)
        elif attempt is None or index != attempt.index:
            return
        elif code in REJECT_TEXT:
            text, why = REJECT_TEXT[RejectCode(code)]
            self._stop(protocol.REFUSE_WRONG_PASSWORD, text, protocol.Reason(why, 0.0, ""))
        elif code == RejectCode.HANDSHAKE_FAILED:
            self._start(now)

    def _stop(self, code: protocol.RefuseCode, reason: str, coded: protocol.Reason) -> None:
        self.attempt = None
        self.stopped = True
        self.core.refuse(code, reason, coded)

    # ------------------------------------------------------------ output

    def _start(self, now: float) -> None:
        pake = self.suite.pake(server=False) if self.password else None
        index = 0
        while index == 0 or index in self.sessions:
            index = int.from_bytes(self.suite.random(4), "big")
        self.attempt = Attempt(self.suite.handshake(True, self.password, self.static), pake,
                               self.suite.random(secure_wire.NONCE), index, now)
        self.rekeyed_at = now
        self._send_init(now, self.attempt)

    def _send_init(self, now: float, attempt: Attempt) -> None:
        flags = secure_wire.FLAG_PAKE if attempt.pake is not None else 0
        self.out.append(secure_wire.encode_init(flags, attempt.nonce, attempt.cookie,
                                                attempt.index, attempt.message1))
        self._schedule(now, attempt)

    def _send_finish(self, now: float, attempt: Attempt) -> None:
        assert attempt.finish is not None
        self.out.append(attempt.finish)
        self._schedule(now, attempt)

    @staticmethod
    def _schedule(now: float, attempt: Attempt) -> None:
        attempt.next_send = now + min(RETRY_MAX, RETRY_FIRST * 2 ** attempt.tries)
        attempt.tries += 1

    def take_output(self) -> List[bytes]:
        now = self.core.clock
        saying_hello = False
        for data in self.core.take_output():
            if self.sending is not None:
                self.out.append(self.sending.seal(data))
            saying_hello = saying_hello or (len(data) > 3 and data[3] == protocol.HELLO)
        if saying_hello and self.attempt is None and not self.stopped and (
                self.sending is None or now - self.heard_at >= SILENT_BEFORE_REKEY):
            self._start(now)
        out, self.out = self.out, []
        return out

    # ------------------------------------------------------------ timers

    def tick(self, now: float) -> None:
        self.core.tick(now)
        attempt = self.attempt
        if attempt is None or now < attempt.next_send:
            return
        if attempt.finish is None:
            self._send_init(now, attempt)
        elif now - attempt.finished_at > FINISH_GIVE_UP:
            self._start(now)
        else:
            self._send_finish(now, attempt)

    def next_deadline(self) -> Optional[float]:
        due = self.core.next_deadline()
        if self.attempt is not None:
            return self.attempt.next_send if due is None else min(due, self.attempt.next_send)
        return due


def index_of(data: bytes) -> int:
    return secure_wire.peek(data)[1]
