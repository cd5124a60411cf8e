"""The server's door (app/net/door.py): two sockets on one port, and a classic BPF
program that gives the door the datagrams that open a session. Real sockets on
127.0.0.1 and ::1; where the kernel cannot steer (not Linux), split() keeps the
one socket, and these tests say so instead of passing."""
import errno
import select
import socket
import struct

import pytest

from app.net import door
from app.net.server import open_socket

WAIT = 5.0

DOOR_DATAGRAMS = [
    b"CZ\x02\x21" + bytes(64),          # a version-2 INIT
    b"CZ\x01\x01" + b"hello",           # a version-1 HELLO
    b"czd?" + bytes(60),                # a discovery probe
    b"CZ\x02\x21",                      # exactly the prefix
]
MEMBER_DATAGRAMS = [
    b"CZ\x02\x25" + bytes(40),          # a RECORD
    b"CZ\x02\x24" + bytes(84),          # a FINISH
    b"CZ\x01\x02" + bytes(20),          # version 1, not a HELLO
    b"CZ\x02\x22" + bytes(28),          # a CHALLENGE (no client sends one: malformed)
    b"CZ\x02", b"C", b"",               # shorter than the 4 bytes the program loads
    b"cZ\x02\x21" + bytes(64),          # one bit off the INIT prefix
]


@pytest.fixture
def pair():
    made = door.split(open_socket("", 0))
    members, entry = made
    if entry is None:
        members.close()
        pytest.skip("this kernel cannot steer a reuseport group (not Linux?)")
    yield made
    members.close()
    entry.close()


def received(sock, count):
    """The next `count` datagrams on `sock` (waiting up to WAIT for each)."""
    got = []
    for _ in range(count):
        ready, _, _ = select.select([sock], [], [], WAIT)
        assert ready, "only %d of %d datagrams came: %r" % (len(got), count, got)
        got.append(sock.recv(2048))
    return got


def nothing_more(sock):
    sock.setblocking(False)
    try:
        extra = sock.recv(2048)
    except BlockingIOError:
        return True
    raise AssertionError("unexpected datagram %r" % extra)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_kernel_gives_the_door_only_session_openers(pair, host):
    members, entry = pair
    port = members.getsockname()[1]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sender:
        for data in DOOR_DATAGRAMS + MEMBER_DATAGRAMS:
            sender.sendto(data, (host, port))
    assert sorted(received(entry, len(DOOR_DATAGRAMS))) == sorted(DOOR_DATAGRAMS)
    assert sorted(received(members, len(MEMBER_DATAGRAMS))) == sorted(MEMBER_DATAGRAMS)
    assert nothing_more(entry) and nothing_more(members)


def test_a_second_server_on_the_port_is_told_it_is_in_use(pair):
    """The pair has SO_REUSEPORT, but an ordinary bind (every chat.pyz server's
    first step) still fails: the port is not silently shared."""
    port = pair[0].getsockname()[1]
    with pytest.raises(OSError) as caught:
        open_socket("", port).close()
    assert caught.value.errno == errno.EADDRINUSE


def test_the_program_is_what_the_docstring_says():
    """Decode the program: a word load, one compare per prefix, return 0, return 1;
    every compare's true branch lands on `return DOOR`."""
    code = list(struct.iter_unpack("=HBBI", door.steering_program()))
    assert code[0] == (door.BPF_LD_W_ABS, 0, 0, 0)
    compares = code[1:-2]
    assert [k for _, _, _, k in compares] == list(door.DOOR_PREFIXES)
    for i, (op, jt, jf, _) in enumerate(compares, start=1):
        assert op == door.BPF_JEQ_K and jf == 0 and code[i + 1 + jt] == (door.BPF_RET_K, 0, 0,
                                                                         door.DOOR)
    assert code[-2] == (door.BPF_RET_K, 0, 0, door.MEMBERS)
