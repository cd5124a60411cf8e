"""The network process and the room's database (app/net/server.py with
app/net/state_db.py): a line is committed before any datagram that could
acknowledge it is sent. Real UDP sockets on 127.0.0.1, a real database in
tmp_path; the test drives the server's own drain and send steps."""
import random
import socket
import time

import pytest

from app.core import protocol as P
from app.core.client_core import JOINED, ClientCore
from app.core.console_messages import NOTE_STATE, ConsoleLog, ConsoleNote
from app.core.options import ServerOptions
from app.net import channel, server
from app.net.state_db import StateDB


@pytest.fixture
def process(tmp_path):
    sock = server.open_socket("127.0.0.1", 0)
    net_end, admin_end = channel.pair()
    store = StateDB.open(str(tmp_path))
    net = server.NetworkProcess(sock, net_end, 0, ServerOptions(history=5), store=store)
    yield net
    sock.close()
    net_end.close()
    admin_end.close()
    store.close()


def step(net, client, client_sock):
    client.tick(time.monotonic())
    for data in client.take_output():
        client_sock.sendto(data, net.sock.getsockname())
    net._drain_socket()
    net.hub.tick(net.now())
    net._send_output()
    net._pass_log()
    while True:
        try:
            client.on_datagram(time.monotonic(), client_sock.recv(P.MAX_DATAGRAM + 1))
        except BlockingIOError:
            return


def test_a_line_is_in_the_database_before_anything_is_sent_after_it(process, tmp_path):
    client_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client_sock.bind(("127.0.0.1", 0))
    client_sock.setblocking(False)
    client = ClientCore("张三", time.monotonic(), rng=random.Random(1))
    deadline = time.monotonic() + 10
    while client.state != JOINED:
        assert time.monotonic() < deadline
        step(process, client, client_sock)
    reader = StateDB.open(str(tmp_path))
    stored_at_send = []
    send = process._send

    def noting_send(output):
        output = list(output)
        if output:
            stored_at_send.append(len(reader.events(whats=["chat"])))
        send(output)

    process._send = noting_send
    client.say("不会丢的一句")
    client.tick(time.monotonic())
    for data in client.take_output():
        client_sock.sendto(data, process.sock.getsockname())
    process._drain_socket()                  # the line is taken: its ack is due ...
    process.hub.tick(process.now())
    process._send_output()                   # ... and goes out here, after the commit
    assert stored_at_send and stored_at_send[0] == 1
    client_sock.close()
    reader.close()


def test_history_from_the_database_comes_before_this_runs_lines(tmp_path):
    store = StateDB.open(str(tmp_path))
    store.record([(100.0 + i, "chat", "张三", "-", "old %d" % i) for i in range(8)])
    sock = server.open_socket("127.0.0.1", 0)
    net_end, admin_end = channel.pair()
    try:
        net = server.NetworkProcess(sock, net_end, 0, ServerOptions(history=5), store=store)
        net.hub.admin_say(net.now(), "new")
        history = net.hub.room.history()
    finally:
        sock.close()
        net_end.close()
        admin_end.close()
        store.close()
    assert [e.text for e in history] == ["old 4", "old 5", "old 6", "old 7", "new"]
    assert [e.room_seq for e in history] == [0, 0, 0, 0, 1]     # the old run's order is not ours
    assert all(e.flags & P.EVF_HISTORY for e in history)


def test_a_database_that_fails_later_is_one_line_and_the_room_goes_on_in_memory(process):
    process.store.conn.close()                 # as if the file were taken away under us
    said = []
    process._tell_console = said.append
    process.hub.admin_say(process.now(), "还在吗")
    process._send_output()
    process._pass_log(now_too=True)
    assert process.store is None
    notes = [dict(m.values) for m in said if isinstance(m, ConsoleNote) and m.key == NOTE_STATE]
    assert len(notes) == 1 and notes[0]["memory"] == "now"
    assert notes[0]["problem"] in ("db_unusable", "db_damaged")
    assert any(e[4] == "还在吗" for m in said if isinstance(m, ConsoleLog)
               for e in m.entries)             # the room's log goes on
    process.hub.admin_say(process.now(), "还在")
    process._send_output()                     # no second line, no exception
    process._pass_log(now_too=True)
    assert len([m for m in said if isinstance(m, ConsoleNote)]) == 1
