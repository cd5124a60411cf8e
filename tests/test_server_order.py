"""The server's order of work, seen from outside with kernel timestamps: a chat
line read in the same batch as a crowd of ack-only datagrams goes out to the
room before the server answers any of those (server._drain_socket)."""
import os
import signal
import socket
import time

import pytest

from app import protocol as P
from app.client_net import ClientConnection
from bench.swarms import recv_stamped, stamp_arrivals
from tests.chatproc import HOST, free_udp_port, start_server

pytestmark = pytest.mark.timeout(60)

CROWD = 300


def _joined(port, name):
    conn = ClientConnection(HOST, port, name, time.monotonic())
    _pump([conn], lambda: conn.state == "joined")
    return conn


def _pump(conns, condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        for conn in conns:
            conn.tick(time.monotonic())
            conn.sock.settimeout(0.01)
            conn.on_readable(time.monotonic())


def test_a_line_goes_out_before_the_acks_read_with_it(pyz, tmp_path):
    port = free_udp_port()
    server = start_server(pyz, port, tmp_path)
    crowd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    conns = []
    try:
        speaker, listener = _joined(port, "甲"), _joined(port, "乙")
        conns += [speaker, listener]
        _pump(conns, lambda: listener.core.online == 2 and not speaker.core.stream.in_flight)
        listener.take_events()
        stamp_arrivals(listener.sock)
        stamp_arrivals(crowd)
        crowd.connect((HOST, port))

        # While the network process is stopped, the crowd's ack-only datagrams
        # (for a session the server does not know: each gets a RESET) queue up
        # in its socket, and the line after them.
        os.kill(server.popen.pid, signal.SIGSTOP)
        try:
            for i in range(CROWD):
                crowd.send(P.encode_header(P.DATA, 0xDEAD0000 + i, 1, 0, 0))
            speaker.say("排在后面的一句")
            speaker.tick(time.monotonic())
        finally:
            os.kill(server.popen.pid, signal.SIGCONT)

        line_at = None
        deadline = time.monotonic() + 10
        while line_at is None:
            assert time.monotonic() < deadline, "the line never came"
            listener.sock.settimeout(0.5)
            data, arrived = recv_stamped(listener.sock, P.MAX_DATAGRAM + 1)
            listener.core.on_datagram(time.monotonic(), data)
            if any(getattr(e, "text", None) == "排在后面的一句" for e in listener.take_events()):
                line_at = arrived
        resets = []
        crowd.settimeout(2.0)
        while len(resets) < CROWD:
            try:
                data, arrived = recv_stamped(crowd, 2048)
            except socket.timeout:
                break
            if data[3] == P.RESET:
                resets.append(arrived)
        assert len(resets) == CROWD               # every one of them was answered ...
        assert line_at < min(resets)              # ... after the line had gone out
    finally:
        for conn in conns:
            conn.close()
        crowd.close()
        server.stop()
