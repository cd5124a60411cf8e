"""docs/PROTOCOL.md is enough to interoperate: tests/interop_client.py, written from
the document alone, chats with the real server and a real line-mode client."""
import os
import queue
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from tests import interop_client as ic

HOST = "127.0.0.1"
WAIT = 10.0           # generous deadline for anything that should take milliseconds


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Proc:
    """A started process whose stdout lines are collected by a reader thread."""

    def __init__(self, argv, stdin, log_path):
        self.log_path = log_path
        self.stderr = open(log_path, "wb")
        env = dict(os.environ, PYTHONIOENCODING="utf-8")
        self.popen = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                      stderr=self.stderr, env=env)
        self.lines = queue.Queue()
        self.seen = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.popen.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))

    def wait_line(self, predicate, timeout=WAIT):
        """The first new stdout line satisfying predicate; fails at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self.lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if self.popen.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if predicate(line):
                return line
        pytest.fail("no matching line within %.0f s; stdout so far: %r; stderr: %r" % (
            timeout, self.seen, open(self.log_path, "rb").read().decode("utf-8", "replace")))

    def stop(self):
        """Terminate by PID and wait; SIGKILL if it does not go within 5 s."""
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        if self.popen.stdin:
            self.popen.stdin.close()
        self.reader.join(timeout=5)
        self.popen.stdout.close()
        self.stderr.close()


@pytest.fixture
def server(pyz, tmp_path):
    port = free_udp_port()
    proc = Proc([pyz, "server", "--headless", "--port", str(port), "--bind", HOST],
                subprocess.DEVNULL, str(tmp_path / "server.err"))
    try:
        proc.wait_line(lambda line: " start " in line and "listening" in line)
        yield port
    finally:
        proc.stop()


@pytest.fixture
def lisi(pyz, server, tmp_path):
    """A real line-mode client named lisi, joined; stdin stays open."""
    proc = Proc([pyz, "client", "--plain", "--name", "lisi", "--port", str(server), HOST],
                subprocess.PIPE, str(tmp_path / "lisi.err"))
    try:
        proc.wait_line(lambda line: line == "lisi 进入了聊天室")
        yield proc
    finally:
        proc.stop()


def test_independent_client_chats_with_the_real_server_and_client(server, lisi):
    # Lose the first event frame the server sends (the join): the retransmission,
    # our selective ack of what comes after it, and in-order delivery all get used.
    client = ic.InteropClient(HOST, server, "interop", lose={1})
    try:
        welcome = client.join(timeout=WAIT)
        assert welcome["name"] == "interop" and welcome["online"] == 2
        client.say("hello 世界")
        # The server's first frame (our join event) is "lost"; the echo of our line
        # (its frame 2) arrives ahead of the hole and is selectively acked (sack bit 0
        # = ack + 2). Delivery waits for the retransmitted frame 1, so the order holds.
        mine = client.wait_for(lambda e: e["kind"] == "chat" and e["name"] == "interop",
                               WAIT)
        assert mine is not None and mine["text"] == "hello 世界"
        assert mine["origin"] == int.from_bytes(client.instance, "big")
        assert mine["msg_id"] == 1
        assert [(e["kind"], e["name"]) for e in client.events] == [
            ("join", "interop"), ("chat", "interop")]
        assert client.events[0]["room_seq"] < mine["room_seq"]
        assert not client.unacked, "the server acknowledged our SAY"
        # The sacked frame 2 was never resent: only the lost frame 1 was.
        assert client.duplicates == 0
        lisi.wait_line(lambda line: line == "interop 进入了聊天室")
        lisi.wait_line(lambda line: line == "interop : hello 世界")

        lisi.popen.stdin.write("你好 interop\n".encode("utf-8"))
        lisi.popen.stdin.flush()
        heard = client.wait_for(lambda e: e["kind"] == "chat" and e["name"] == "lisi", WAIT)
        assert heard is not None and heard["text"] == "你好 interop"
        assert heard["room_seq"] > mine["room_seq"] and heard["msg_id"] >= 1

        # Our acks are right: the server stops resending. Over a quiet second (more
        # than three of its initial RTOs) at most one stray duplicate may arrive.
        before = client.duplicates
        client.poll(1.0)
        assert client.duplicates - before <= 1

        assert client.leave(timeout=WAIT), "BYE_ACK received"
        lisi.wait_line(lambda line: line == "interop 退出了聊天室")
    finally:
        client.close()


def test_wrong_version_gets_a_refuse_no_larger_than_the_request(server):
    for size in (80, 30):
        answer = ic.probe_version(HOST, server, version=2, size=size, timeout=WAIT)
        assert answer is not None, "no REFUSE to a %d-byte datagram" % size
        assert len(answer) <= size
        magic, version, dtype = struct.unpack_from("!2sBB", answer)
        assert (magic, version, dtype) == (b"CZ", 1, ic.REFUSE)
        code, reason = ic.parse_refuse(answer[ic.HEADER.size:])
        assert code == 5
        assert reason == "protocol version 2 is not supported; this server speaks 1"[:size - 25]
