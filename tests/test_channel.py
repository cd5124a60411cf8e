"""The one codec (app.core.messages) and the one carrier (app.net.channel)
of the messages between two processes: round trips, bad bytes, a real fork."""
import dataclasses
import os
import selectors
import time
from typing import Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import messages
from app.net import channel


@messages.message
@dataclasses.dataclass(frozen=True)
class Sample:
    """A message of every field kind the vocabularies use."""
    text: str
    number: int
    ratio: float
    flag: bool
    maybe: Optional[str]
    items: Tuple[str, ...]
    rows: Tuple[Tuple[str, int], ...]


texts = st.text(max_size=40)
samples = st.builds(Sample, texts, st.integers(-2 ** 53, 2 ** 53),
                    st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                    st.none() | texts, st.lists(texts, max_size=5).map(tuple),
                    st.lists(st.tuples(texts, st.integers(0, 1000)), max_size=5).map(tuple))


@given(samples)
def test_codec_round_trip(sample):
    assert messages.decode(messages.encode(sample)) == sample


def test_encoded_message_is_one_readable_json_object():
    data = messages.encode(Sample("张三", 1, 0.5, True, None, ("a",), (("b", 2),)))
    assert data.startswith(b'{"t":"%s.Sample",' % __name__.encode()) and "张三".encode() in data


@pytest.mark.parametrize("data", [
    b"", b"\xff\xfe", b"[1, 2]", b'{"t": "NoSuchMessage"}', b'{"text": "no type"}',
    b'{"t": "Sample", "text": "missing fields"}',
    b'{"t":"Sample","text":"","number":1,"ratio":0,"flag":true,"maybe":null,'
    b'"items":[],"rows":[],"extra":1}',
])
def test_bad_bytes_are_a_message_error(data):
    with pytest.raises(messages.MessageError):
        messages.decode(data)


def test_only_registered_values_are_encoded():
    with pytest.raises(TypeError):
        messages.encode({"t": "Sample"})


def test_a_name_is_registered_once():
    """A second class of the same module and name would make decoding ambiguous."""
    twin = dataclasses.dataclass(frozen=True)(type(
        "Sample", (), {"__annotations__": {"text": str}, "__module__": __name__,
                       "__qualname__": "Sample"}))
    with pytest.raises(TypeError, match="two messages"):
        messages.message(twin)


def test_a_message_is_a_frozen_dataclass():
    class Plain:
        text: str

    with pytest.raises(TypeError, match="frozen dataclass"):
        messages.message(Plain)
    with pytest.raises(TypeError, match="frozen dataclass"):
        messages.message(dataclasses.dataclass(Plain))


def _receive_until(end, count, deadline=5.0):
    got = []
    stop = time.monotonic() + deadline
    while len(got) < count and time.monotonic() < stop:
        batch = end.receive()
        if batch is None:
            break
        got += batch
    return got


def test_channel_carries_messages_across_fork_and_reports_the_peer_gone():
    parent, child = channel.pair()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            parent.close()
            got = _receive_until(child, 1)
            child.send(Sample(got[0].text + "!", got[0].number + 1, 0.0, False, None, (), ()))
            code = 0
        finally:
            os._exit(code)
    child.close()
    parent.send(Sample("你好", 41, 0.0, False, None, (), ()))
    reply = _receive_until(parent, 1)
    assert [(m.text, m.number) for m in reply] == [("你好!", 42)]
    assert os.waitpid(pid, 0)[1] == 0
    stop = time.monotonic() + 5
    while parent.receive() is not None and time.monotonic() < stop:
        time.sleep(0.01)
    assert parent.receive() is None and parent.closed


def test_undecodable_datagram_is_counted_and_dropped():
    one, two = channel.pair()
    one.sock.send(b"not json")
    one.send(Sample("ok", 1, 0.0, False, None, (), ()))
    got = _receive_until(two, 1)
    assert [m.text for m in got] == ["ok"] and two.undecodable == 1


def test_a_slow_peer_queues_and_flush_delivers_in_order():
    one, two = channel.pair()
    sent = 0
    while not one.wants_write and sent < 100000:    # fill the socket's buffer
        one.send(Sample("x" * 1000, sent, 0.0, False, None, (), ()))
        sent += 1
    assert one.wants_write
    got = []
    stop = time.monotonic() + 10
    while len(got) < sent and time.monotonic() < stop:
        got += two.receive() or []
        one.flush()
    assert [m.number for m in got] == list(range(sent))


def test_oversized_message_is_refused_before_sending():
    one, _ = channel.pair()
    with pytest.raises(ValueError):
        one.send(Sample("x" * messages.MAX_MESSAGE, 0, 0.0, False, None, (), ()))


# ---------------------------------------------------------------- the console pair

def _drain(end, peer, enough, deadline=5.0):
    """Messages from `end` until enough(messages) holds (flushing `peer`'s queue)."""
    got = []
    stop = time.monotonic() + deadline
    while not enough(got) and time.monotonic() < stop:
        peer.flush()
        got += end.receive() or []
    return got


def test_console_pair_commands_results_and_log_batches():
    """The network process's side of the console vocabulary, over a real pair:
    commands are applied by the core and answered in order; a busy room's log
    goes in batches, even of the widest entries, none too big to send."""
    from app.core import admin
    from app.core.console_messages import ConsoleLog
    from app.core.hub import LogEntry
    from app.core.options import ServerOptions
    from app.net import server

    sock = server.open_socket("127.0.0.1", 0)
    net_end, console_end = channel.pair()
    process = server.NetworkProcess(sock, net_end, 0, ServerOptions())
    try:
        for command in (admin.Motd("欢迎"), admin.Kick("nobody"), admin.Quit()):
            console_end.send(command)
        for message in _drain(net_end, console_end, lambda got: len(got) >= 3):
            process._admin_message(message)
        answers = _drain(console_end, net_end, lambda got: len(got) >= 3)
        assert answers == [
            admin.MotdSet("欢迎"), admin.NoSuchMember("nobody"), admin.Stopping()]
        assert process.stop_reason == "quit" and process.hub.motd == "欢迎"

        widest = LogEntry(1.5, admin.LogKind.CHAT, "😀" * 16, "[ffff::1]:65535", "😀" * 240,
                          (1 << 64) - 1, 1 << 31)
        process._send_log([widest] * 2000)
        batches = _drain(console_end, net_end,
                         lambda got: sum(len(m.entries) for m in got) >= 2000)
        assert all(isinstance(m, ConsoleLog) for m in batches)
        # The console's rows: the entry without its origin and msg_id (database only).
        assert [e for m in batches for e in m.entries] == [widest[:5]] * 2000
        assert process.console_oversized == 0 and 10 < len(batches) < 200
    finally:
        sock.close()
        net_end.close()
        console_end.close()


def test_on_ready_flushes_when_writable_and_reads_when_readable():
    one, two = channel.pair()
    one.send(Sample("a", 1, 0.0, False, None, (), ()))
    assert two.on_ready(selectors.EVENT_WRITE) == []                 # not readable: nothing read
    got = two.on_ready(selectors.EVENT_READ)
    assert [m.text for m in got] == ["a"]
    one.close()
    assert two.on_ready(selectors.EVENT_READ) is None                # the peer is gone
