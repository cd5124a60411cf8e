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


def shown_once_in_order(events):
    """Nothing shown twice (7.5) and room order kept among the public events."""
    public = [e["room_seq"] for e in events if e["room_seq"] and e["kind"] != "private"]
    assert public == sorted(set(public)), "public events repeated or out of order"
    keys = [(e["origin"], e["msg_id"], e["kind"]) for e in events if e["msg_id"]]
    assert len(keys) == len(set(keys)), "a line shown twice"


def test_room_stream_client_chats_with_the_real_server_and_client(server, lisi):
    # The same conversation over the room stream (6.8), losing the session's first
    # ROOM datagram (base + 1, our join): the server's room time-out resends it,
    # what came after it waits in the buffer, so the order holds.
    client = ic.InteropClient(HOST, server, "interop", room_stream=True, lose_room={1})
    try:
        welcome = client.join(timeout=WAIT)
        assert welcome["name"] == "interop" and welcome["online"] == 2
        assert welcome["flags"] & ic.FLAG_ROOM, "the WELCOME took up the room stream"
        base = welcome["room_base"]
        assert base is not None and base >= 1, "lisi's join already made a ROOM datagram"
        client.say("hello 世界")
        mine = client.wait_for(lambda e: e["kind"] == "chat" and e["name"] == "interop",
                               WAIT)
        assert mine is not None and mine["text"] == "hello 世界"
        assert mine["origin"] == int.from_bytes(client.instance, "big")
        assert [(e["kind"], e["name"]) for e in client.events] == [
            ("join", "interop"), ("chat", "interop")]
        assert not client.lose_room, "ROOM base + 1 was received, and dropped once"
        lisi.wait_line(lambda line: line == "interop 进入了聊天室")
        lisi.wait_line(lambda line: line == "interop : hello 世界")

        lisi.send("你好 interop")
        heard = client.wait_for(lambda e: e["kind"] == "chat" and e["name"] == "lisi", WAIT)
        assert heard is not None and heard["text"] == "你好 interop"
        assert heard["room_seq"] > mine["room_seq"]
        assert [(e["kind"], e["name"]) for e in client.events] == [
            ("join", "interop"), ("chat", "interop"), ("chat", "lisi")]
        shown_once_in_order(client.events)
        # The public events came as ROOM datagrams, none in our own stream.
        assert client.recv_next == 1 and client.duplicates == 0
        assert client.room_next - 1 - base >= 2 and not client.room_ahead
        assert client.room_received >= client.room_next - 1 - base
        assert client.room_malformed == 0

        # Our room acks are right: the server stops resending. Over a quiet second
        # at most one stray duplicate may arrive.
        before = client.room_duplicates
        client.poll(1.0)
        assert client.room_duplicates - before <= 1
        assert client.events[-1] is heard, "nothing more was shown"

        assert client.leave(timeout=WAIT), "BYE_ACK received"
        lisi.wait_line(lambda line: line == "interop 退出了聊天室")
        lines = lisi.collect()
        assert lines.count("interop : hello 世界") == 1
    finally:
        client.close()


def test_room_stream_private_event_overtaken_by_a_public_one(server, lisi):
    # Our private line to lisi takes room_seq n and comes back in our own stream
    # (frame 1, lost once); the public line after it, room_seq n + 1, comes in a
    # ROOM datagram at once. When the private frame is resent it is numbered lower
    # than the highest room_seq we accepted: rule 1 must not drop it (7.5).
    client = ic.InteropClient(HOST, server, "interop", room_stream=True, lose={1})
    try:
        welcome = client.join(timeout=WAIT)
        assert welcome["flags"] & ic.FLAG_ROOM
        assert client.wait_for(lambda e: e["kind"] == "join", WAIT) is not None
        client.say("psst", target="lisi")
        client.say("in public")
        public = client.wait_for(lambda e: e["kind"] == "chat", WAIT)
        private = client.wait_for(lambda e: e["kind"] == "private", WAIT)
        assert public is not None and public["text"] == "in public"
        assert private is not None and private["text"] == "psst"
        assert (private["name"], private["target"]) == ("interop", "lisi")
        assert private["room_seq"] < public["room_seq"]
        assert client.events.index(private) > client.events.index(public)
        assert client.recv_next == 2, "the private event was our stream's frame 1"
        # The join and the public line came as ROOM datagrams, counted.
        assert client.room_received >= 2 and client.room_malformed == 0
        assert client.room_next - 1 - welcome["room_base"] >= 2
        shown_once_in_order(client.events)
        # lisi (room stream too) may show them in either order: they travel apart.
        expected = {"interop 悄悄对你说: psst", "interop : in public"}
        while expected:
            expected.discard(lisi.wait_line(lambda line: line in expected))
        assert client.leave(timeout=WAIT), "BYE_ACK received"
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
