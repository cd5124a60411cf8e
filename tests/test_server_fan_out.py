"""The server's fan-out over a real UDP socket (app/net/server.py _send_output,
paced by app/core/pacing.py): it sends a room's ROOM datagrams a slice at a
time and looks at its socket in between; a line that came meanwhile joins the
fan-out, and bare room acks wait for its end. Real sockets on 127.0.0.1, one
process: the test drives the server's own drain and send steps, so what is in
the socket when is exact."""
import random
import socket
import time

import pytest

from app.core import pacing
from app.core import protocol as P
from app.core.client_core import JOINED, ClientCore
from app.core.options import ServerOptions
from app.net import channel, server

MEMBERS = 3 * pacing.FAN_OUT_SLICE + 10


class Member:
    def __init__(self, name: str, server_addr) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.addr = self.sock.getsockname()
        self.server_addr = server_addr
        self.core = ClientCore(name, time.monotonic(), rng=random.Random(name))
        self.got = []                       # every datagram it received, in order

    def receive(self) -> None:
        while True:
            try:
                data = self.sock.recv(P.MAX_DATAGRAM + 1)
            except BlockingIOError:
                return
            self.got.append(data)
            self.core.on_datagram(time.monotonic(), data)

    def send(self) -> None:
        self.core.tick(time.monotonic())
        for data in self.core.take_output():
            self.sock.sendto(data, self.server_addr)

    def lines(self):
        return [e.text for e in self.core.take_events()
                if isinstance(e, P.Event) and e.kind == P.EV_CHAT]


@pytest.fixture
def room():
    sock = server.open_socket("127.0.0.1", 0)
    net_end, admin_end = channel.pair()
    options = ServerOptions(history=50, max_clients=2000, max_per_ip=2000)
    process = server.NetworkProcess(sock, net_end, 0, options)
    members = [Member("m%d" % i, sock.getsockname()) for i in range(MEMBERS)]
    yield process, members
    for member in members:
        member.sock.close()
    sock.close()
    net_end.close()
    admin_end.close()


def serve_step(process):
    process._drain_socket()
    process.hub.tick(process.now())
    process._send_output()


def run_until(process, members, condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        for member in members:
            member.send()
        serve_step(process)
        for member in members:
            member.receive()


def settled(process, members):
    run_until(process, members, lambda: all(m.core.state == JOINED for m in members)
              and all(c.live for c in process.hub.room_stream.cursors.values()))
    run_until(process, members, lambda: all(
        c.acked == c.sent for c in process.hub.room_stream.cursors.values()))
    for member in members:
        member.lines()
        member.got.clear()


def two_lines_the_second_during_the_fan_out_of_the_first(process, members):
    first, second = members[0], members[1]
    first.core.say("第一句")
    first.send()
    process._drain_socket()                 # the server takes the first line ...
    assert process.hub.fanning_out
    second.core.say("第二句")
    second.send()                           # ... the second waits in its socket


def noting_held_acks(process):
    """(acks held, still fanning out) at each _take_held_acks; the pacers."""
    held, pacers = [], []
    take = process._take_held_acks

    def noting_held(pacer):
        held.append((len(pacer.held), process.hub.fanning_out))
        pacers.append(pacer)
        take(pacer)
    process._take_held_acks = noting_held
    return held, pacers


def send_bare_ack(member):
    member.core.room_stream.ack_due = time.monotonic()
    member.send()


def test_a_line_that_comes_during_a_fan_out_joins_it_and_acks_wait_for_its_end(room):
    process, members = room
    settled(process, members)
    two_lines_the_second_during_the_fan_out_of_the_first(process, members)
    acker = members[2]
    replay = process.hub.by_addr[acker.addr].stream.replay
    heard_before = replay.highest
    send_bare_ack(acker)                    # and a bare room ack behind it
    held, pacers = noting_held_acks(process)
    process._send_output()                  # one fan-out, which the line joins

    assert held == [(1, False)] and pacers[0].held == []   # held, taken at the end
    assert replay.highest == heard_before + 1
    for member in members:
        member.receive()
    runs = [m for m in members if any(d[:6] == P.ROOM_RUN_PREFIX for d in m.got)]
    # The first slice had the first line alone; everyone after it got both
    # lines in one datagram.
    assert len(runs) >= MEMBERS - pacing.FAN_OUT_SLICE - 1
    assert all(len([d for d in m.got if d[3] == P.ROOM]) == 1 for m in runs)
    run_until(process, members, lambda: all(
        c.acked == c.sent for c in process.hub.room_stream.cursors.values()))
    for member in members:
        assert member.lines() == ["第一句", "第二句"]


def test_a_fan_out_stops_taking_in_lines_after_a_while(room, monkeypatch):
    # (so a room that talks faster than the server can send still gets its
    # timers run between fan-outs)
    process, members = room
    settled(process, members)
    monkeypatch.setattr(pacing, "FAN_OUT_JOINS_FOR", 0.0)
    two_lines_the_second_during_the_fan_out_of_the_first(process, members)
    process._send_output()
    assert not process.hub.fanning_out
    for member in members:
        member.receive()
    assert all(len(m.got) == 1 and m.got[0][:6] == P.ROOM_PREFIX for m in members)
    serve_step(process)                     # the next turn of the loop takes the second
    for member in members:
        member.receive()
        assert member.lines() == ["第一句", "第二句"]


def test_held_acks_are_taken_mid_fan_out_at_the_cap(room, monkeypatch):
    process, members = room
    settled(process, members)
    monkeypatch.setattr(pacing, "HELD_ACKS_MAX", 1)
    two_lines_the_second_during_the_fan_out_of_the_first(process, members)
    send_bare_ack(members[2])
    send_bare_ack(members[3])
    held, _ = noting_held_acks(process)
    process._send_output()
    # Both were held at the first look; the next turn took them, mid-fan-out.
    assert held == [(2, True)]
    run_until(process, members, lambda: all(
        c.acked == c.sent for c in process.hub.room_stream.cursors.values()))
    for member in members:
        assert member.lines() == ["第一句", "第二句"]
