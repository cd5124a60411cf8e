"""A small chat.pyz client written from docs/PROTOCOL.md alone.

It must not import anything from `app`: it is the proof that the document is
enough to interoperate. By default it speaks protocol version 2 (section S, in
tests/interop_secure.py, which needs pyca/cryptography): a Noise handshake, then
every version-1 datagram below sealed in a RECORD, with the HELLO's token derived
from its key (S.7). With version=1 it speaks plain version 1 (stdlib only) to an
`--insecure` server. It joins (HELLO / CHALLENGE / WELCOME), says lines (SAY
frames with increasing msg_ids, resent until acknowledged), receives EVENT frames
in order (acknowledging them with ack + selective-ack bitmap), pings when idle and
leaves with BYE. With room_stream=True it also takes the room stream (section 6.8):
FLAG_ROOM on its HELLO, ROOM datagrams received in order from the WELCOME's base,
room acks (FLAG_ROOM_ACK) on every DATA and PING. tests/test_interop.py drives it
against the built chat.pyz.
"""
import hashlib
import os
import socket
import struct
import time

MAGIC, VERSION = b"CZ", 1
HEADER = struct.Struct("!2sBBHIIII")          # magic ver type flags session pkt ack sack
FRAME = struct.Struct("!IBH")                 # seq kind length
HELLO_FIXED = struct.Struct("!8s16s8s16sII")  # nonce cookie instance token epoch room_seq
WELCOME_FIXED = struct.Struct("!IIdBH")       # epoch room_seq server_time resumed online
EVENT_FIXED = struct.Struct("!IdBBBHQI")      # room_seq time kind flags code online origin msg_id
ROOM_ACK = struct.Struct("!II")                # room ack, room sack (after FLAG_ROOM_ACK)
HELLO, CHALLENGE, WELCOME, REFUSE, DATA, PING, PONG, BYE, BYE_ACK, RESET, ROOM = range(1, 12)
FLAG_ROOM, FLAG_ROOM_ACK = 0x0004, 0x0008
SAY, PRIVATE, EVENT = 1, 3, 16
EVENT_NAMES = {1: "join", 2: "leave", 3: "chat", 4: "emote", 5: "admin", 6: "private",
               7: "notice", 8: "who"}
# PAYLOAD_ROOM = 1200 - 22 - 32 (RESERVED, 2.3): a RECORD's 32 bytes always fit.
MAX_DATAGRAM, PAYLOAD_ROOM, RTO, PING_AFTER = 1200, 1146, 0.3, 2.0
RECV_AHEAD, ROOM_ACK_EVERY, ROOM_ACK_DELAY = 512, 16, 0.1


class Refused(Exception):
    """REFUSE: args are (code, reason)."""


def get_str(buf, pos, width=1):
    """A length-prefixed UTF-8 string (str8 or str16) -> (text, next position)."""
    if pos + width > len(buf):
        raise ValueError("truncated string length")
    length = int.from_bytes(buf[pos:pos + width], "big")
    if pos + width + length > len(buf):
        raise ValueError("string runs past the body")
    return buf[pos + width:pos + width + length].decode("utf-8"), pos + width + length


def hello_body(nonce, cookie, token, name, epoch=0, room_seq=0):
    """HELLO body (3.1); the instance is SHA-256(token)[:8]."""
    raw = name.encode("utf-8")
    return HELLO_FIXED.pack(nonce, cookie, hashlib.sha256(token).digest()[:8], token,
                            epoch, room_seq) + bytes([len(raw)]) + raw


def parse_refuse(body):
    code = body[0]
    reason, end = get_str(body, 1, 2)
    if end != len(body):
        raise ValueError("trailing bytes after REFUSE")
    return code, reason


def sack_bits(recv_next, ahead):
    """(ack, sack) of a receiver: bit i of sack = ack + 2 + i is buffered (6.3)."""
    ack, sack = recv_next - 1, 0
    for seq in ahead:
        if 0 <= seq - (ack + 2) < 32:
            sack |= 1 << (seq - (ack + 2))
    return ack, sack


def parse_items(body):
    """An EVENTS body / ROOM body (4.4): `!H` length + EVENT body, filling it exactly."""
    items, pos = [], 0
    while pos < len(body):
        if pos + 2 > len(body):
            raise ValueError("truncated item length")
        length = int.from_bytes(body[pos:pos + 2], "big")
        if length == 0 or pos + 2 + length > len(body):
            raise ValueError("bad item length")
        items.append(body[pos + 2:pos + 2 + length])
        pos += 2 + length
    if not items:
        raise ValueError("no items")
    return items


def parse_event(body):
    room_seq, when, kind, flags, code, online, origin, msg_id = EVENT_FIXED.unpack_from(body)
    name, pos = get_str(body, EVENT_FIXED.size)
    target, pos = get_str(body, pos)
    return {"room_seq": room_seq, "time": when, "kind": EVENT_NAMES.get(kind, kind),
            "flags": flags, "code": code, "online": online, "origin": origin,
            "msg_id": msg_id, "name": name, "target": target,
            "text": body[pos:].decode("utf-8")}


class InteropClient:
    def __init__(self, host, port, name, lose=(), room_stream=False, lose_room=(),
                 version=2, static_private=None, known_key=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect((host, port))
        self.name = name
        self.version = version
        self.secure = None             # version 2: the SecureChannel (S.8)
        if version == 2:
            from tests.interop_secure import SecureChannel   # needs cryptography
            self.secure = SecureChannel(self.sock, "%s:%d" % (host, port),
                                        static_private=static_private, known_key=known_key)
            self.token = self.secure.token                   # derived (S.7)
        else:
            self.token = os.urandom(16)                      # random, secret (3.1)
        self.nonce = os.urandom(8)
        self.instance = hashlib.sha256(self.token).digest()[:8]   # PROTOCOL.md 3.1
        self.session, self.pkt, self.welcome = 0, 0, None
        self.next_seq, self.next_msg_id = 1, 1
        self.unacked = {}              # seq -> [frame bytes, last send time]
        self.recv_next, self.ahead = 1, {}
        self.last_room_seq, self.seen = 0, set()
        self.lose = set(lose)          # server seqs to discard once: simulated loss
        self.duplicates = 0            # server frames received again (retransmissions)
        self.events = []               # every event accepted, in order
        self.room_stream = room_stream # ask for ROOM datagrams (FLAG_ROOM on HELLO)
        self.room_base = None          # the WELCOME's base if it had FLAG_ROOM, else None
        self.room_next, self.room_ahead = 0, {}
        self.lose_room = set(lose_room)  # k: discard ROOM number base + k once
        self.room_received = 0         # ROOM datagrams of ours that passed the checks
        self.room_duplicates = 0       # ... of which we already had
        self.room_malformed = 0
        self.room_unacked, self.room_ack_due = 0, None  # delivered since our last room ack
        self.last_sent = time.monotonic()

    # ---------------------------------------------------------------- sending
    def _send(self, dtype, body=b"", stream=False, flags=0):
        if stream:                     # DATA / PING carry pkt and our acks
            self.pkt = (self.pkt + 1) & 0xFFFFFFFF
            ack, sack = self.ack_fields()
            if self.room_base is not None:   # welcomed with FLAG_ROOM: room acks first
                flags |= FLAG_ROOM_ACK
                body = ROOM_ACK.pack(*sack_bits(self.room_next, self.room_ahead)) + body
                self.room_unacked, self.room_ack_due = 0, None
            head = HEADER.pack(MAGIC, VERSION, dtype, flags, self.session, self.pkt, ack, sack)
        else:
            head = HEADER.pack(MAGIC, VERSION, dtype, flags, self.session, 0, 0, 0)
        self._transmit(head + body)
        self.last_sent = time.monotonic()

    def _transmit(self, datagram):
        """One version-1 datagram: as it is, or sealed in a RECORD (version 2)."""
        if self.secure is not None:
            self.secure.send(datagram, time.monotonic())
            return
        try:
            self.sock.send(datagram)
        except ConnectionRefusedError:
            pass                       # an ICMP hint from an earlier send: like a loss

    def ack_fields(self):
        return sack_bits(self.recv_next, self.ahead)

    def _hello(self, cookie):
        self._send(HELLO, hello_body(self.nonce, cookie, self.token, self.name),
                   flags=FLAG_ROOM if self.room_stream else 0)

    def say(self, text, kind=SAY, target=None):
        """SAY (or EMOTE) a line; with a target, a PRIVATE (kind 3) to that name."""
        body = struct.pack("!I", self.next_msg_id)
        if target is not None:
            raw, kind = target.encode("utf-8"), PRIVATE
            body += bytes([len(raw)]) + raw
        body += text.encode("utf-8")
        self.next_msg_id += 1
        frame = FRAME.pack(self.next_seq, kind, len(body)) + body
        self.unacked[self.next_seq] = [frame, 0.0]
        self.next_seq += 1
        self._flush(time.monotonic())

    def _flush(self, now):
        due = [entry for seq, entry in sorted(self.unacked.items()) if now - entry[1] >= RTO]
        batch, room = b"", PAYLOAD_ROOM - (8 if self.room_base is not None else 0)
        for entry in due:
            if batch and len(batch) + len(entry[0]) > room:
                self._send(DATA, batch, stream=True)
                batch = b""
            batch += entry[0]
            entry[1] = now
        if batch:
            self._send(DATA, batch, stream=True)
        elif self.room_ack_due is not None and now >= self.room_ack_due:
            self._send(DATA, stream=True)   # a bare ack carries the room ack
        elif now - self.last_sent >= PING_AFTER:
            self._send(PING, stream=True)

    # -------------------------------------------------------------- receiving
    def _recv(self, timeout):
        """The next version-1 datagram within `timeout` as (header, body), or None.
        In version 2 the secure layer's own datagrams are handled on the way, and
        its resends run."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            wait = deadline - now
            if self.secure is not None:
                self.secure.tick(now)
                due = self.secure.next_due()
                if due is not None:
                    wait = min(wait, due - now)
            self.sock.settimeout(max(wait, 0.001))
            try:
                data = self.sock.recv(MAX_DATAGRAM + 1)
            except (socket.timeout, ConnectionRefusedError):
                data = None
            if data is not None and self.secure is not None:
                data = self.secure.receive(data, time.monotonic())
            if data is not None and len(data) <= MAX_DATAGRAM and len(data) >= HEADER.size \
                    and data[:2] == MAGIC:
                return HEADER.unpack_from(data), data[HEADER.size:]
            if time.monotonic() >= deadline:
                return None

    def join(self, timeout=10.0):
        """Handshake; returns the WELCOME fields as a dict or raises Refused."""
        deadline = time.monotonic() + timeout
        cookie, next_hello, attempt = bytes(16), 0.0, 0
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_hello:
                self._hello(cookie)
                next_hello = now + min(5.0, 0.25 * 2 ** attempt)
                attempt += 1
            got = self._recv(min(next_hello, deadline) - time.monotonic())
            if got is None:
                continue
            (_, version, dtype, flags, session, pkt, _, _), body = got
            if dtype == REFUSE:
                raise Refused(*parse_refuse(body))
            if version != VERSION:
                continue
            if dtype == CHALLENGE and len(body) == 24 and body[:8] == self.nonce:
                cookie = body[8:24]
                self._hello(cookie)
            elif dtype == WELCOME:
                epoch, room_seq, server_time, resumed, online = WELCOME_FIXED.unpack_from(body)
                name, pos = get_str(body, WELCOME_FIXED.size)
                motd, _ = get_str(body, pos, 2)
                self.session, self.name = session, name
                if self.room_stream and flags & FLAG_ROOM:   # pkt is the base (3.3)
                    self.room_base, self.room_next = pkt, pkt + 1
                self.welcome = {"epoch": epoch, "room_seq": room_seq, "online": online,
                                "resumed": bool(resumed), "name": name, "motd": motd,
                                "flags": flags, "room_base": self.room_base}
                if self.secure is not None:
                    self.secure.connecting = False
                return self.welcome
        raise TimeoutError("no WELCOME within %.1f s" % timeout)

    def _on_acks(self, ack, sack):
        for seq in list(self.unacked):
            bit = seq - ack - 2                # sack bit i acknowledges ack + 2 + i
            if seq <= ack or (0 <= bit < 32 and (sack >> bit) & 1):
                del self.unacked[seq]

    def _on_frames(self, body):
        frames, pos = [], 0
        while pos < len(body):
            if pos + FRAME.size > len(body):
                return []               # malformed: the whole datagram is dropped
            seq, kind, length = FRAME.unpack_from(body, pos)
            if seq == 0 or pos + FRAME.size + length > len(body):
                return []
            frames.append((seq, kind, body[pos + FRAME.size:pos + FRAME.size + length]))
            pos += FRAME.size + length
        events = []
        for seq, kind, payload in frames:
            if seq in self.lose:
                self.lose.discard(seq)
                continue
            if seq < self.recv_next or seq in self.ahead:
                self.duplicates += 1
            elif seq < self.recv_next + 512:
                self.ahead[seq] = (kind, payload)
            while self.recv_next in self.ahead:
                kind_, payload_ = self.ahead.pop(self.recv_next)
                self.recv_next += 1
                try:                    # a bad or unknown message is acked, then dropped
                    if kind_ == EVENT:
                        events.extend(self._accept(parse_event(payload_)))
                except (ValueError, struct.error):
                    pass
        if frames:
            self._send(DATA, stream=True)   # ack at once: well within the 20 ms rule
        return events

    def _on_room(self, flags, number, ack, sack, body):
        """A ROOM datagram of our session (6.8): checks, then the room receiver."""
        if self.room_base is None:
            return []                  # no room stream on this session: dropped silently
        if number - self.room_base in self.lose_room:
            self.lose_room.discard(number - self.room_base)
            return []
        if ack or sack or number == 0 or flags:
            self.room_malformed += 1
            return []
        self.room_received += 1
        now, events = time.monotonic(), []
        if number < self.room_next or number in self.room_ahead:
            self.room_duplicates += 1
            self.room_ack_due = now    # a duplicate is acked at once
        elif number >= self.room_next + RECV_AHEAD:
            return []                  # beyond the window: dropped unacked
        else:
            self.room_ahead[number] = body
            if number > self.room_next:
                self.room_ack_due = now    # a hole: ack at once
        while self.room_next in self.room_ahead:
            body_ = self.room_ahead.pop(self.room_next)
            self.room_next += 1
            self.room_unacked += 1
            try:                       # a bad body is consumed and acked, then dropped
                items = parse_items(body_)
            except ValueError:
                self.room_malformed += 1
                items = []
            for item in items:         # each item as if in its own EVENT frame
                try:
                    events.extend(self._accept(parse_event(item)))
                except (ValueError, struct.error):
                    pass
        if self.room_unacked >= ROOM_ACK_EVERY:
            self.room_ack_due = now
        elif self.room_unacked and self.room_ack_due is None:
            self.room_ack_due = now + ROOM_ACK_DELAY
        if self.room_ack_due is not None and now >= self.room_ack_due:
            self._send(DATA, stream=True)
        return events

    def _accept(self, event):
        """Receiver dedup rules (PROTOCOL.md 7.5)."""
        if event["room_seq"] and not (event["kind"] == "private"
                                      and self.room_base is not None):
            # Rule 1; with the room stream an EV_PRIVATE is judged by rule 2 only.
            if event["room_seq"] <= self.last_room_seq:
                return []
            self.last_room_seq = event["room_seq"]
        if event["msg_id"]:
            key = (event["origin"], event["msg_id"], event["kind"])
            if key in self.seen:
                return []
            self.seen.add(key)
        self.events.append(event)
        return [event]

    def poll(self, seconds):
        """Receive, ack, resend and ping for `seconds`; return the new events."""
        deadline = time.monotonic() + seconds
        events = []
        while True:
            now = time.monotonic()
            self._flush(now)
            if now >= deadline:
                return events
            wait = min(deadline - now, RTO / 3)
            if self.room_ack_due is not None:
                wait = min(wait, self.room_ack_due - now)
            got = self._recv(wait)
            if got is None:
                continue
            (_, version, dtype, flags, session, pkt, ack, sack), body = got
            if version != VERSION or session != self.session:
                continue
            if dtype in (DATA, PING, PONG):
                self._on_acks(ack, sack)
                events.extend(self._on_frames(body))
            elif dtype == ROOM:
                events.extend(self._on_room(flags, pkt, ack, sack, body))
            elif dtype == RESET:
                raise ConnectionResetError("the server does not know our session")
            elif dtype == BYE and body and body[0] != 0:
                raise ConnectionAbortedError("server said BYE: %r" % (parse_refuse(body),))

    def wait_for(self, predicate, timeout):
        """Poll until an event satisfies predicate; return it (None at the deadline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.poll(min(0.05, max(0.0, deadline - time.monotonic()))):
                if predicate(event):
                    return event
        return None

    def leave(self, timeout=2.0):
        """Wait for our lines to be acked, then BYE (3 tries) until BYE_ACK. True if acked."""
        deadline = time.monotonic() + timeout
        while self.unacked and time.monotonic() < deadline:
            self.poll(0.05)
        for _ in range(3):
            self._send(BYE, b"\x00\x00\x00")
            until = time.monotonic() + 0.15
            while time.monotonic() < until:
                got = self._recv(until - time.monotonic())
                if got and got[0][2] == BYE_ACK and got[0][4] == self.session:
                    return True
        return False

    def close(self):
        self.sock.close()

    @property
    def server_fingerprint(self):
        """The four words of the server's key (S.11), once a RESPONSE was read."""
        if self.secure is None or self.secure.server_key is None:
            return None
        from tests.interop_secure import fingerprint
        return fingerprint(self.secure.server_key)


def probe_version(host, port, version=2, size=80, timeout=2.0):
    """Send a datagram of another version; return the raw answer (None if none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, port))
        sock.settimeout(timeout)
        request = HEADER.pack(MAGIC, version, HELLO, 0, 0, 0, 0, 0)
        sock.send(request + bytes(size - len(request)))
        try:
            return sock.recv(MAX_DATAGRAM + 1)
        except (socket.timeout, ConnectionRefusedError):
            return None

