"""docs/PROTOCOL.md is enough to interoperate: tests/interop_client.py, written from
the document alone, chats with the real server and a real line-mode client."""
import struct
import subprocess

import pytest

from tests import interop_client as ic
from tests.chatproc import HOST, WAIT, Proc, free_udp_port


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
