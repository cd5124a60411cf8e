"""A small chat.pyz client written from docs/PROTOCOL.md alone (stdlib only).

It must not import anything from `app`: it is the proof that the document is
enough to interoperate. It joins (HELLO / CHALLENGE / WELCOME), says lines (SAY
frames with increasing msg_ids, resent until acknowledged), receives EVENT frames
in order (acknowledging them with ack + selective-ack bitmap), pings when idle and
leaves with BYE. tests/test_interop.py drives it against the built chat.pyz.
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
HELLO, CHALLENGE, WELCOME, REFUSE, DATA, PING, PONG, BYE, BYE_ACK, RESET = range(1, 11)
SAY, EVENT = 1, 16
EVENT_NAMES = {1: "join", 2: "leave", 3: "chat", 4: "emote", 5: "admin", 6: "private",
               7: "notice", 8: "who"}
MAX_DATAGRAM, PAYLOAD_ROOM, RTO, PING_AFTER = 1200, 1162, 0.3, 2.0


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


def parse_refuse(body):
    code = body[0]
    reason, end = get_str(body, 1, 2)
    if end != len(body):
        raise ValueError("trailing bytes after REFUSE")
    return code, reason


def parse_event(body):
    room_seq, when, kind, flags, code, online, origin, msg_id = EVENT_FIXED.unpack_from(body)
    name, pos = get_str(body, EVENT_FIXED.size)
    target, pos = get_str(body, pos)
    return {"room_seq": room_seq, "time": when, "kind": EVENT_NAMES.get(kind, kind),
            "flags": flags, "code": code, "online": online, "origin": origin,
            "msg_id": msg_id, "name": name, "target": target,
            "text": body[pos:].decode("utf-8")}


class InteropClient:
    def __init__(self, host, port, name, lose=()):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect((host, port))
        self.name = name
        self.nonce, self.token = os.urandom(8), os.urandom(16)
        self.instance = hashlib.sha256(self.token).digest()[:8]   # PROTOCOL.md 3.1
        self.session, self.pkt, self.welcome = 0, 0, None
        self.next_seq, self.next_msg_id = 1, 1
        self.unacked = {}              # seq -> [frame bytes, last send time]
        self.recv_next, self.ahead = 1, {}
        self.last_room_seq, self.seen = 0, set()
        self.lose = set(lose)          # server seqs to discard once: simulated loss
        self.duplicates = 0            # server frames received again (retransmissions)
        self.events = []               # every event accepted, in order
        self.last_sent = time.monotonic()

    # ---------------------------------------------------------------- sending
    def _send(self, dtype, body=b"", stream=False):
        if stream:                     # DATA / PING carry pkt and our acks
            self.pkt = (self.pkt + 1) & 0xFFFFFFFF
            ack, sack = self.ack_fields()
            head = HEADER.pack(MAGIC, VERSION, dtype, 0, self.session, self.pkt, ack, sack)
        else:
            head = HEADER.pack(MAGIC, VERSION, dtype, 0, self.session, 0, 0, 0)
        try:
            self.sock.send(head + body)
        except ConnectionRefusedError:
            pass                       # an ICMP hint from an earlier send: like a loss
        self.last_sent = time.monotonic()

    def ack_fields(self):
        ack, sack = self.recv_next - 1, 0
        for seq in self.ahead:
            if 0 <= seq - (ack + 2) < 32:
                sack |= 1 << (seq - (ack + 2))
        return ack, sack

    def _hello(self, cookie):
        body = HELLO_FIXED.pack(self.nonce, cookie, self.instance, self.token, 0, 0)
        raw = self.name.encode("utf-8")
        self._send(HELLO, body + bytes([len(raw)]) + raw)

    def say(self, text, kind=SAY):
        body = struct.pack("!I", self.next_msg_id) + text.encode("utf-8")
        self.next_msg_id += 1
        frame = FRAME.pack(self.next_seq, kind, len(body)) + body
        self.unacked[self.next_seq] = [frame, 0.0]
        self.next_seq += 1
        self._flush(time.monotonic())

    def _flush(self, now):
        due = [entry for seq, entry in sorted(self.unacked.items()) if now - entry[1] >= RTO]
        batch = b""
        for entry in due:
            if batch and len(batch) + len(entry[0]) > PAYLOAD_ROOM:
                self._send(DATA, batch, stream=True)
                batch = b""
            batch += entry[0]
            entry[1] = now
        if batch:
            self._send(DATA, batch, stream=True)
        elif now - self.last_sent >= PING_AFTER:
            self._send(PING, stream=True)

    # -------------------------------------------------------------- receiving
    def _recv(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(MAX_DATAGRAM + 1)
        except (socket.timeout, ConnectionRefusedError):
            return None
        if len(data) > MAX_DATAGRAM or len(data) < HEADER.size or data[:2] != MAGIC:
            return None
        return HEADER.unpack_from(data), data[HEADER.size:]

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
            (_, version, dtype, _, session, _, _, _), body = got
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
                self.welcome = {"epoch": epoch, "room_seq": room_seq, "online": online,
                                "resumed": bool(resumed), "name": name, "motd": motd}
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

    def _accept(self, event):
        """Receiver dedup rules (PROTOCOL.md 7.5)."""
        if event["room_seq"]:
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
            got = self._recv(min(deadline - now, RTO / 3))
            if got is None:
                continue
            (_, version, dtype, _, session, _, ack, sack), body = got
            if version != VERSION or session != self.session:
                continue
            if dtype in (DATA, PING, PONG):
                self._on_acks(ack, sack)
                events.extend(self._on_frames(body))
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

