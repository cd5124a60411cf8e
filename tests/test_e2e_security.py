"""Attacks with real sockets: an attacker script next to real chat.pyz
processes, sending crafted datagrams from its own sockets."""
import socket
import time

import pytest

from app.core import protocol as P
from app.core import secure_wire
from app.net import identity
from app.net.client_net import ClientConnection
from tests.chatproc import HOST, free_udp_port, start_client, start_server
from tests.udprelay import LossyRelay

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def room(pyz, tmp_path):
    """A server and a listening line-mode client; yields (port, listener)."""
    started = []
    port = free_udp_port()
    started.append(start_server(pyz, port, tmp_path))
    listener = start_client(pyz, port, "听众", tmp_path)
    started.append(listener)
    yield port, listener, started
    for proc in reversed(started):
        proc.stop()


class Attacker:
    """Our own core driven from the test: a client that then misbehaves."""

    def __init__(self, port, name):
        security = identity.client_security(None, insecure=False, accept_new_key=False)
        self.conn = ClientConnection(HOST, port, name, time.monotonic(), security=security)
        self.run_until(lambda: self.conn.state == "joined")

    def run_until(self, condition, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline
            self.conn.tick(time.monotonic())
            self.conn.sock.settimeout(0.02)
            self.conn.on_readable(time.monotonic())
        return self.conn.take_events()

    def pump(self, seconds):
        end = time.monotonic() + seconds
        return self.run_until(lambda: time.monotonic() >= end, seconds + 5)

    def raw(self, datagram):
        """A crafted version-1 datagram, sealed in our own secure session: what
        a member's own modified client can send."""
        self.conn.sock.send(self.conn.secure.sending.seal(datagram))

    def close(self):
        self.conn.close()


def test_spoofed_and_replayed_datagrams_do_not_act(room, pyz, tmp_path):
    port, listener, started = room
    relay = LossyRelay(port, loss=0.0, dup=0.0, max_delay=0.0, record=True)
    try:
        victim = start_client(pyz, relay.port, "victim", tmp_path)
        started.append(victim)
        victim.send("the real line")
        listener.wait_line(lambda line: line == "victim : the real line")
        captured = [data for data, to in relay.recorded if to == relay.server]
        attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for data in captured:                    # replay everything from elsewhere
            attacker.sendto(data, (HOST, port))
        records = [d for d in captured if d[3] == secure_wire.SecureType.RECORD]
        index, counter = secure_wire.decode_record(records[-1])[:2]
        said = P.encode_said(P.Said(P.SAY, 10_000, "forged line"))
        for pkt in range(1, 200):                # the victim's session index, forged bodies
            inner = P.encode_header(P.DATA, 0, 10_000 + pkt, 0, 0) + P.encode_frame(pkt, P.SAY, said)
            attacker.sendto(secure_wire.record_header(index, counter + pkt) + inner
                            + bytes(16), (HOST, port))
            attacker.sendto(inner, (HOST, port))           # and in clear, version 1
        attacker.sendto(P.encode_header(P.BYE, 0), (HOST, port))
        victim.send("still me")
        listener.wait_line(lambda line: line == "victim : still me")
        listener.collect()
        assert listener.seen.count("victim : the real line") == 1
        assert not any("forged" in line for line in listener.seen)
        assert "victim 退出了聊天室" not in listener.seen
        attacker.close()
    finally:
        relay.stop()


def test_a_member_cannot_send_server_only_messages(room):
    port, listener, _ = room
    attacker = Attacker(port, "mallory")
    try:
        stream = attacker.conn.core.stream
        forged = P.encode_event(P.Event(999, 0.0, P.EV_ADMIN, text="I am the admin"))
        stream.queue(P.EVENT, forged)              # a server-only frame kind
        stream.queue(P.SAY, P.encode_said(P.Said(P.SAY, 1, "honest line")))
        for kind in (P.WELCOME, P.CHALLENGE, P.RESET, P.REFUSE):
            attacker.raw(P.encode_header(kind, attacker.conn.core.session_id, 77))
        attacker.pump(0.5)
        listener.wait_line(lambda line: line == "mallory : honest line")
        assert not any("admin" in line for line in listener.collect())
    finally:
        attacker.close()


def test_flooder_is_throttled_visibly_and_loses_nothing(room):
    port, listener, _ = room
    attacker = Attacker(port, "flood")
    try:
        for i in range(45):
            attacker.conn.say("spam %d" % i)
        events = attacker.pump(1.0)
        notices = [e for e in events if getattr(e, "kind", 0) == P.EV_NOTICE]
        assert [n.code for n in notices] == [P.NOTICE_THROTTLED]
        attacker.pump(4.0)                            # 15 more at 5 per second
        listener.wait_line(lambda line: line == "flood : spam 44", timeout=10)
        spam = [line for line in listener.seen if line.startswith("flood : ")]
        assert spam == ["flood : spam %d" % i for i in range(45)]
    finally:
        attacker.close()


def test_hostile_text_never_reaches_a_terminal_raw(room):
    port, listener, _ = room
    attacker = Attacker(port, "mallory")
    hostile = ["\x1b[2J\x1b[H\x1b[31mred", "\x1b]0;pwned\x07title", "c1\x9b31m\x90dcs",
               "\u202egnp.exe", "z\u200bw\u200dj\ufeff", "e" + "\u0301" * 300, "长" * 5000]
    try:
        for line in hostile:
            attacker.conn.say(line)
        attacker.pump(1.0)
        listener.wait_line(lambda line: line.startswith("mallory : 长"), timeout=10)
        attacker.pump(0.5)
        raw = "\n".join(listener.collect())
        for bad in ("\x1b", "\x07", "\x9b", "\x90", "\u202e", "\u200b", "\u200d", "\ufeff",
                    "\u0301\u0301\u0301"):
            assert bad not in raw
        long_lines = [line for line in listener.seen if line.startswith("mallory : 长")]
        assert len(long_lines) == 16                    # 15 000 bytes in pieces of <= 960
        assert "".join(line[len("mallory : "):] for line in long_lines) == "长" * 5000
    finally:
        attacker.close()


def test_lookalike_of_an_online_name_is_refused(room, pyz, tmp_path):
    port, listener, started = room
    started.append(start_client(pyz, port, "zhang", tmp_path))
    fake = start_client(pyz, port, "zhаng", tmp_path, wait_joined=False)   # Cyrillic а
    started.append(fake)
    assert fake.wait_exit() == 3
    assert "和聊天室里的 zhang 太像了" in fake.stderr_text()


def test_global_cap_refuses_with_a_reason(pyz, tmp_path):
    port = free_udp_port()
    started = [start_server(pyz, port, tmp_path, "--max-clients", "1")]
    try:
        started.append(start_client(pyz, port, "first", tmp_path))
        second = start_client(pyz, port, "second", tmp_path, wait_joined=False)
        started.append(second)
        assert second.wait_exit() == 3
        assert "聊天室满了（1 人）" in second.stderr_text()
    finally:
        for proc in reversed(started):
            proc.stop()
