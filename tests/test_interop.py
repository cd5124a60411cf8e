"""docs/PROTOCOL.md is enough to interoperate: tests/interop_client.py (with
tests/interop_secure.py for protocol version 2), written from the document alone,
chats with the real server and a real line-mode client; and rebuilds the worked
example of section S.13 byte for byte from its fixed keys."""
import hashlib
import os
import re
import signal
import struct
import subprocess

import pytest

from tests import interop_client as ic
from tests import interop_secure as sec
from tests import interop_words
from tests.chatproc import HOST, WAIT, Proc, free_udp_port, listening
from tests.conftest import ROOT


def start_server(pyz, tmp_path, *extra, port=None, name="server"):
    """A headless server (secure unless --insecure is in extra) with its own state
    dir; returned once it listens. Its hints follow on stdout."""
    port = port or free_udp_port()
    proc = Proc([pyz, "server", "--headless", "--port", str(port), "--bind", HOST,
                 "--state", str(tmp_path / "state"), *extra],
                subprocess.DEVNULL, str(tmp_path / (name + ".err")))
    proc.port = port
    try:
        proc.wait_line(listening)
    except BaseException:
        proc.stop()
        raise
    return proc


@pytest.fixture
def server_proc(pyz, tmp_path):
    """The default server: secure (protocol version 2)."""
    proc = start_server(pyz, tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def server(server_proc):
    return server_proc.port


@pytest.fixture
def insecure_server(pyz, tmp_path):
    """Version 1 alone (--insecure), for the client's version-1 mode."""
    proc = start_server(pyz, tmp_path, "--insecure")
    try:
        yield proc.port
    finally:
        proc.stop()


def start_lisi(pyz, port, tmp_path, monkeypatch, *extra):
    """A real line-mode client named lisi, joined; stdin stays open. Its key and
    known_servers live in this test's directory (a port reused by a later test's
    server, with another key, must not meet an old entry)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "lisi-config"))
    proc = Proc([pyz, "client", "--plain", *extra, "--name", "lisi", "--port", str(port), HOST],
                subprocess.PIPE, str(tmp_path / "lisi.err"))
    try:
        proc.wait_line(lambda line: line == "lisi 进入了聊天室")
    except BaseException:
        proc.stop()
        raise
    return proc


@pytest.fixture
def lisi(pyz, server, tmp_path, monkeypatch):
    proc = start_lisi(pyz, server, tmp_path, monkeypatch)
    try:
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
        # One Noise handshake, a confirmed session, nothing dropped on the way.
        assert client.secure.handshakes == 1 and client.secure.confirmed
        assert client.secure.malformed == 0 and not client.secure.rejects
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


def test_wrong_version_gets_a_refuse_no_larger_than_the_request(insecure_server):
    for size in (80, 30):
        answer = ic.probe_version(HOST, insecure_server, version=2, size=size, timeout=WAIT)
        assert answer is not None, "no REFUSE to a %d-byte datagram" % size
        assert len(answer) <= size
        magic, version, dtype = struct.unpack_from("!2sBB", answer)
        assert (magic, version, dtype) == (b"CZ", 1, ic.REFUSE)
        code, reason = ic.parse_refuse(answer[ic.HEADER.size:])
        assert code == 5
        assert reason == "protocol version 2 is not supported; this server speaks 1"[:size - 25]


# ---------------------------------------------------------------- version 1
def test_version_1_client_chats_with_an_insecure_server(pyz, insecure_server, tmp_path,
                                                        monkeypatch):
    # --insecure on both sides: plain version 1, the client's stdlib-only mode.
    lisi = start_lisi(pyz, insecure_server, tmp_path, monkeypatch, "--insecure")
    client = ic.InteropClient(HOST, insecure_server, "interop", version=1, lose={1})
    try:
        assert client.secure is None
        welcome = client.join(timeout=WAIT)
        assert welcome["name"] == "interop" and welcome["online"] == 2
        client.say("hello 世界")
        mine = client.wait_for(lambda e: e["kind"] == "chat" and e["name"] == "interop", WAIT)
        assert mine is not None and mine["text"] == "hello 世界"
        assert mine["origin"] == int.from_bytes(client.instance, "big")
        assert client.duplicates == 0 and not client.unacked
        lisi.wait_line(lambda line: line == "interop : hello 世界")
        lisi.send("你好 interop")
        heard = client.wait_for(lambda e: e["kind"] == "chat" and e["name"] == "lisi", WAIT)
        assert heard is not None and heard["text"] == "你好 interop"
        assert client.leave(timeout=WAIT), "BYE_ACK received"
        lisi.wait_line(lambda line: line == "interop 退出了聊天室")
    finally:
        client.close()
        lisi.stop()


def test_a_secure_server_refuses_a_version_1_hello_in_version_1(server):
    # S.9 step 1 / section 13: a version-1 REFUSE 5, cut to the request's size.
    reason = ("this room is encrypted (protocol 2): use a newer chat.pyz, or start both "
              "sides with --insecure")
    for size in (200, 80):
        answer = ic.probe_version(HOST, server, version=1, size=size, timeout=WAIT)
        assert answer is not None and len(answer) <= size
        assert struct.unpack_from("!2sBB", answer) == (b"CZ", 1, ic.REFUSE)
        assert ic.parse_refuse(answer[ic.HEADER.size:]) == (5, reason[:size - 25])
    # ... which the version-1 mode of our client reports as a refusal (its HELLO
    # with the name "interop" is 22 + 57 + 7 = 86 bytes: the reason is cut to 61).
    client = ic.InteropClient(HOST, server, "interop", version=1)
    try:
        with pytest.raises(ic.Refused) as refused:
            client.join(timeout=WAIT)
        assert refused.value.args == (5, reason[:86 - 25])
    finally:
        client.close()


def test_a_version_1_server_refuses_our_init_with_a_cut_refuse_5(insecure_server):
    # Section 13 / S.8 step 8: the 68-byte INIT gets a version-1 REFUSE 5 whose
    # reason is cut to 43 bytes; it reaches us (not a RECORD) while connecting.
    client = ic.InteropClient(HOST, insecure_server, "interop")
    try:
        with pytest.raises(ic.Refused) as refused:
            client.join(timeout=WAIT)
        assert refused.value.args == (5, "protocol version 2 is not supported; this s")
        assert not client.secure.sessions
    finally:
        client.close()


# ---------------------------------------------------------------- keys
def test_the_fingerprint_is_the_one_the_server_shows(pyz, tmp_path):
    # S.11: the server's key file is 64 hex digits and a newline; we write one
    # whose fingerprint has a capitalised word and the list's last odd word.
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    private = bytes.fromhex("00" * 30 + "aa09")
    (state / "identity.key").write_text(private.hex() + "\n")
    (state / "identity.key").chmod(0o600)
    expected = sec.fingerprint(sec.public_of(private))
    assert expected == "Burbank-detector-rhythm-Yucatan"
    proc = start_server(pyz, tmp_path)
    try:
        hint = proc.wait_line(lambda line: line.startswith("服务器指纹"))
        shown = re.fullmatch(r"服务器指纹.*: (\S+)", hint).group(1)
        client = ic.InteropClient(HOST, proc.port, "interop")
        try:
            client.join(timeout=WAIT)
            assert client.secure.server_key == sec.public_of(private)
            assert client.server_fingerprint == shown == expected
        finally:
            client.close()
    finally:
        proc.stop()


def test_a_random_server_key_has_the_fingerprint_the_server_shows(server_proc):
    hint = server_proc.wait_line(lambda line: line.startswith("服务器指纹"))
    client = ic.InteropClient(HOST, server_proc.port, "interop")
    try:
        client.join(timeout=WAIT)
        assert hint.endswith(": " + client.server_fingerprint)
    finally:
        client.close()


def test_a_server_key_that_is_not_trusted_stops_the_client(server):
    # S.8 step 6 / S.11: checked at the RESPONSE, before any FINISH goes out.
    other = sec.public_of(bytes(31) + b"\x07")
    client = ic.InteropClient(HOST, server, "interop", known_key=other)
    try:
        with pytest.raises(ic.Refused) as refused:
            client.join(timeout=WAIT)
        code, line = refused.value.args
        assert code == sec.REFUSE_SERVER_KEY
        assert line.startswith("the server at %s:%d has a different key (" % (HOST, server))
        assert line.endswith(", was %s): if the teacher made a new one, join with "
                             "--accept-new-key" % sec.fingerprint(other))
        assert not client.secure.sessions, "no FINISH, no keys"
    finally:
        client.close()


def test_the_word_lists_are_whole_and_in_order():
    # The published lists are alphabetical (case-blind), with one exception in
    # the odd list (applicant, Apollo): a dropped or swapped word shows here.
    for words in (interop_words.EVEN, interop_words.ODD):
        assert len(words) == len(set(words)) == 256
        out_of_order = [(a, b) for a, b in zip(words, words[1:]) if a.lower() > b.lower()]
        assert out_of_order in ([], [("applicant", "Apollo")])


# ---------------------------------------------------------------- REJECT
def test_a_room_with_a_password_rejects_a_client_without_one(pyz, tmp_path):
    # S.9 step 3 / S.10: REJECT 2 to the INIT's index; our client stops as a
    # REFUSE 6 "this room needs a password".
    proc = start_server(pyz, tmp_path, "--password", "secret")
    client = ic.InteropClient(HOST, proc.port, "interop")
    try:
        with pytest.raises(ic.Refused) as refused:
            client.join(timeout=WAIT)
        assert refused.value.args == (6, "this room needs a password")
        assert client.secure.rejects and client.secure.rejects[-1][0] == 2
    finally:
        client.close()
        proc.stop()


def test_reject_codes_answer_with_the_echoed_index(server):
    # A raw INIT with FLAG_PAKE to a room without a password: REJECT 3, 9 bytes,
    # echoing the sender index; a RECORD for an index nobody has: REJECT 4.
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((HOST, server))
        sock.settimeout(WAIT)
        init = sec.encode_init(b"n" * 8, bytes(16), 0x0BADCAFE, bytes(32), flags=1)
        sock.send(init)
        assert sock.recv(1201) == sec.outer(sec.REJECT, 0x0BADCAFE) + b"\x03"
        record = sec.RECORD_HEADER.pack(b"CZ", 2, sec.RECORD, 0x12345678, 0) + bytes(40)
        sock.send(record)
        assert sock.recv(1201) == sec.outer(sec.REJECT, 0x12345678) + b"\x04"


def test_after_a_server_restart_reject_4_brings_a_new_handshake(pyz, tmp_path):
    # S.7 / S.10: the restarted server (same state dir, hence same key) knows no
    # index: our PING's RECORD gets REJECT 4, which we believe (it echoes the
    # server's index, we heard nothing for 1 s), so we handshake again; the new
    # secure session has no version-1 session, so the next RECORD brings a RESET.
    proc = start_server(pyz, tmp_path)
    port = proc.port
    client = ic.InteropClient(HOST, port, "interop")
    try:
        client.join(timeout=WAIT)
        key, old_index = client.secure.server_key, client.secure.sessions[0].peer_index
        os.kill(proc.popen.pid, signal.SIGKILL)     # gone without a BYE (a crash)
        proc.stop()
        proc = start_server(pyz, tmp_path, port=port, name="server2")
        with pytest.raises(ConnectionResetError):
            client.poll(WAIT)
        assert (sec.REJECT_UNKNOWN_SESSION, old_index) in client.secure.rejects
        assert client.secure.handshakes == 2 and client.secure.confirmed
        assert client.secure.server_key == key
        assert client.secure.sessions[0].peer_index != old_index
    finally:
        client.close()
        proc.stop()


# ---------------------------------------------------------------- S.13
def worked_example():
    """Section S.13 of docs/PROTOCOL.md: its hex dumps, in order, and its named
    hex values (`h after message 1`, `k1 (client -> server)`, ...)."""
    text = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    text = text[text.index("<!-- begin: output of bench/protocol_examples.py -->"):
                text.index("<!-- end: output of bench/protocol_examples.py -->")]
    dumps, values, current = [], {}, None
    for line in text.splitlines():
        if re.match(r"    [0-9a-f]{4}  [0-9a-f]{2} ", line):
            if current is None:
                current = b""
                dumps.append(current)
            dumps[-1] += bytes.fromhex("".join(line[10:57].split()))
            continue
        current = None
        named = re.fullmatch(r"    ([A-Za-z].*?)\s+([0-9a-f]{16,64})", line)
        if named:
            values[named.group(1)] = bytes.fromhex(named.group(2))
    sizes = [int(n) for n in re.findall(r"^\*\*\d\. [^*]+\*\* \((\d+) bytes\)", text, re.M)]
    return dumps, values, sizes


def test_the_worked_example_of_s13_byte_for_byte():
    dumps, v, sizes = worked_example()
    (init0, challenge, init1, response, finish, hello_record, hello_plain,
     welcome_record, welcome_plain) = dumps
    assert [len(d) for d in (init0, challenge, init1, response, finish, hello_record,
                             welcome_record)] == sizes == [68, 32, 68, 116, 88, 117, 82]

    # Fixed inputs: the private keys; the public keys are ours to compute.
    names = ("client static", "client ephemeral", "server static", "server ephemeral")
    for name in names:
        assert sec.public_of(v[name + " private"]) == v[name + " public"]
    cs, ce, ss, se = (v[name + " private"] for name in names)
    assert sec.fingerprint(sec.public_of(ss)) == "freedom-revenue-cement-Wyoming"
    client_index, server_index = 0x11223344, 0x55667788
    nonce, run_id = bytes.fromhex("0102030405060708"), bytes(range(0xF0, 0x100))

    client = sec.Handshake(True, cs, ce)
    server = sec.Handshake(False, ss, se)
    assert client.h == server.h == v["h after the prologue"]

    # 1-3: INIT, the server's stateless CHALLENGE (its cookie per S.9 step 5), INIT again.
    message1 = client.write(b"")
    assert sec.encode_init(nonce, bytes(16), client_index, message1) == init0
    assert client.h == v["h after message 1"]
    bucket = int(1700000000.0 // 30)
    assert bucket == 56666666
    cookie = hashlib.blake2s(b"192.0.2.10 40000 " + nonce + bucket.to_bytes(8, "big"),
                             key=bytes(range(0xA0, 0xC0)), digest_size=16).digest()
    assert sec.outer(sec.CHALLENGE, 0) + sec.CHALLENGE_BODY.pack(nonce, cookie) == challenge
    assert sec.encode_init(nonce, cookie, client_index, message1) == init1

    # 4: the server reads message 1 and writes message 2: the RESPONSE.
    assert server.read(init1[36:]) == b""
    message2 = server.write(b"")
    assert sec.encode_response(client_index, nonce, server_index, message2) == response
    assert sec.dh(ce, sec.public_of(se)) == sec.dh(se, sec.public_of(ce)) == v["ee = DH(client e, server e)"]
    assert sec.dh(ce, sec.public_of(ss)) == sec.dh(ss, sec.public_of(ce)) == v["es = DH(client e, server s)"]
    assert sec.dh(cs, sec.public_of(se)) == sec.dh(se, sec.public_of(cs)) == v["se = DH(client s, server e)"]
    assert client.read(response[20:]) == b""
    assert client.rs == sec.public_of(ss) and client.h == server.h == v["h after message 2"]

    # 5: FINISH; both sides agree on h, ck and the two keys.
    message3 = client.write(run_id)
    assert sec.encode_finish(server_index, message3) == finish
    assert server.read(finish[8:]) == run_id and server.rs == sec.public_of(cs)
    assert client.h == server.h == v["handshake hash h"]
    assert client.sym.ck == server.sym.ck == v["final ck"]
    k1, k2 = client.split()
    assert (k1, k2) == (v["k1 (client -> server)"], v["k2 (server -> client)"])
    assert server.split() == (k2, k1)

    # The token and instance (S.7).
    token = sec.client_token(sec.public_of(cs), run_id)
    assert token == v["token"]
    assert hashlib.sha256(token).digest()[:8] == v["instance"]

    # 6: the client's HELLO (its nonce is free: taken from the dump), sealed under k1.
    # FLAG_EVENTS | FLAG_ROOM | FLAG_ROOM_RUN | FLAG_REASONS, as the dump's HELLO says
    flags = 0x0002 | ic.FLAG_ROOM | 0x0010 | 0x0020
    hello = (ic.HEADER.pack(b"CZ", 1, ic.HELLO, flags, 0, 0, 0, 0)
             + ic.hello_body(hello_plain[22:30], bytes(16), token, "张三"))
    assert hello == hello_plain
    mine = sec.Session(client_index, server_index, k1, k2)
    assert mine.seal(hello) == hello_record
    theirs = sec.Session(server_index, client_index, k2, k1)
    assert theirs.open(hello_record) == hello

    # 7: the server's WELCOME under k2, counter 0; the client opens it.
    name = "张三".encode("utf-8")
    welcome = (ic.HEADER.pack(b"CZ", 1, ic.WELCOME, ic.FLAG_ROOM | 0x0010, 0xDCF4BB99, 0, 0, 0)
               + ic.WELCOME_FIXED.pack(0xF4BEA973, 0, 1700000000.0, 0, 1)
               + bytes([len(name)]) + name + struct.pack("!H", 0))
    assert welcome == welcome_plain
    assert theirs.seal(welcome) == welcome_record
    assert mine.open(welcome_record) == welcome
    assert mine.open(welcome_record) is None, "a replay is dropped (S.6)"


def test_a_noise_message_that_does_not_verify_leaves_the_handshake_as_it_was():
    # S.4: a forged message 2 is dropped; the real one still goes through.
    client = sec.Handshake(True, bytes(range(32)))
    server = sec.Handshake(False, bytes(range(64, 96)))
    server.read(client.write(b""))
    message2 = server.write(b"")
    forged = message2[:40] + bytes([message2[40] ^ 1]) + message2[41:]
    with pytest.raises(sec.HandshakeError):
        client.read(forged)
    assert client.read(message2) == b"" and client.h == server.h
