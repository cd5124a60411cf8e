"""A fan-out walked in slices, and runs of ROOM datagrams (docs/PROTOCOL.md 6.8,
FLAG_ROOM_RUN): a line that comes while the room stream is still sending an
earlier one goes, with it, in one datagram to every member not yet visited.
Pure core, simulated time."""
import random

from simnet import SimNet

from app.core import protocol as P
from app.core.client_core import JOINED, ClientCore
from app.core.hub import HubConfig
from app.core.room_stream import RoomSender

NOW = 1000.0
ADDRS = [("10.0.0.%d" % i, 5000 + i) for i in range(1, 5)]


def sender_with(members, runs=True):
    sender = RoomSender(4096)
    cursors = [sender.add(100 + i, ADDRS[i], runs) for i in range(members)]
    for cursor in cursors:
        assert sender.go_live(NOW, cursor, [])
    return sender, cursors


def batch(text, size=0, room_seq=1):
    event = P.Event(room_seq, NOW, P.EV_CHAT, text=text + "x" * size)
    return P.pack_event_batches([P.encode_event(event)])


def texts(bodies):
    return [P.decode_event(e).text for body in bodies for e in P.split_event_batch(body)]


def opened(data):
    """(first number, texts in it, is it a run) of one ROOM datagram."""
    header, body = P.decode_header(data)
    assert header.type == P.ROOM and header.ack == header.sack == 0
    run = bool(header.flags & P.FLAG_ROOM_RUN)
    return header.pkt, texts(P.split_room_run(body) if run else [body]), run


def by_member(outbox):
    got = {}
    for data, to in outbox:
        got.setdefault(to, []).append(opened(data))
    return got


def test_a_line_during_a_fan_out_goes_with_the_earlier_one_to_whoever_it_has_not_reached():
    sender, cursors = sender_with(4)
    outbox = []
    sender.add_batches(NOW, batch("one"))
    sender.fan_out(outbox, 2)                           # two members visited ...
    assert sender.fanning_out and [to for _, to in outbox] == ADDRS[:2]
    sender.add_batches(NOW + 0.0001, batch("two"))      # ... when the next line came
    sender.fan_out(outbox)
    assert not sender.fanning_out
    got = by_member(outbox)
    for visited in ADDRS[:2]:
        assert got[visited] == [(1, ["one"], False), (2, ["two"], False)]
    for not_yet in ADDRS[2:]:
        assert got[not_yet] == [(1, ["one", "two"], True)]   # one datagram, both lines
    assert len(outbox) == 6                              # not 8
    # Those not yet reached first: the visited ones wait for the rest of the walk.
    assert [to for _, to in outbox[2:]] == ADDRS[2:] + ADDRS[:2]
    assert all(c.sent == 2 for c in cursors)


def test_a_member_that_does_not_take_runs_gets_each_number_alone():
    sender, cursors = sender_with(2, runs=False)
    outbox = []
    sender.add_batches(NOW, batch("one"))
    sender.fan_out(outbox, 1)
    sender.add_batches(NOW, batch("two"))
    sender.fan_out(outbox)
    got = by_member(outbox)
    assert got[ADDRS[0]] == got[ADDRS[1]] == [(1, ["one"], False), (2, ["two"], False)]


def test_a_run_holds_only_what_fits_in_one_datagram():
    sender, (cursor,) = sender_with(1)
    outbox = []
    for i in range(7):                                  # made before it is visited
        sender.add_batches(NOW, batch("line %d " % i, size=300))
    sender.fan_out(outbox)
    assert cursor.sent == 7
    assert all(len(data) + P.TAG_SIZE <= P.MAX_DATAGRAM for data, _ in outbox)
    runs = [opened(data) for data, _ in outbox]
    assert [t for _, ts, _ in runs for t in ts] == ["line %d " % i + "x" * 300
                                                   for i in range(7)]
    assert [first for first, _, _ in runs] == [1, 4, 7]      # 3 fit, 3 fit, 1 alone
    assert [run for _, _, run in runs] == [True, True, False]


def test_a_member_that_leaves_during_a_fan_out_gets_nothing_more():
    sender, cursors = sender_with(3)
    outbox = []
    sender.add_batches(NOW, batch("one"))
    sender.fan_out(outbox, 1)
    sender.remove(102)
    sender.fan_out(outbox)
    assert [to for _, to in outbox] == ADDRS[:2]


# ---------------------------------------------------------------- the client

def welcomed(flags):
    client = ClientCore("lisi", NOW, rng=random.Random(1))
    client.tick(NOW)
    welcome = P.Welcome(7, 9, NOW, False, 2, "lisi", "")
    client.on_datagram(NOW, P.encode_header(P.WELCOME, 55, 0, flags=flags)
                       + P.encode_welcome(welcome))
    assert client.state == JOINED and client.room_stream is not None
    return client


def run_for_55(first, *lines):
    bodies = [batch(line, room_seq=10 + first + i)[0][0] for i, line in enumerate(lines)]
    return (P.ROOM_RUN_PREFIX + (55).to_bytes(4, "big") + P.ROOM_TAIL.pack(first, 0, 0)
            + b"".join(P.room_run_part(body) for body in bodies))


def shown(client):
    return [e.text for e in client.take_events() if isinstance(e, P.Event)]


def test_the_client_asks_for_runs_and_takes_one_as_its_numbers_in_order():
    client = welcomed(P.FLAG_ROOM | P.FLAG_ROOM_RUN)
    client.on_datagram(NOW, run_for_55(1, "a", "b", "c"))
    assert shown(client) == ["a", "b", "c"] and client.room_stream.recv_next == 4
    client.on_datagram(NOW, run_for_55(3, "c", "d"))   # 3 again (a resend crossed it)
    assert shown(client) == ["d"] and client.room_stream.recv_next == 5
    assert client.malformed == 0
    hello = ClientCore("wangwu", NOW, rng=random.Random(2))
    hello.tick(NOW)
    flags = P.decode_header(hello.take_output()[0])[0].flags
    assert flags & P.FLAG_ROOM_RUN and flags & P.FLAG_ROOM


def test_a_run_to_a_client_not_told_of_runs_is_malformed():
    client = welcomed(P.FLAG_ROOM)
    client.on_datagram(NOW, run_for_55(1, "a", "b"))
    assert shown(client) == [] and client.malformed == 1
    assert client.room_stream.recv_next == 1


def test_a_run_whose_parts_do_not_fill_it_is_dropped_unacked():
    client = welcomed(P.FLAG_ROOM | P.FLAG_ROOM_RUN)
    client.on_datagram(NOW, run_for_55(1, "a", "b")[:-1])
    client.on_datagram(NOW, run_for_55(1, "a"))             # a run of one: not allowed
    assert shown(client) == [] and client.malformed == 2
    assert client.room_stream.recv_next == 1 and client.room_stream.ack_due is None


# ---------------------------------------------------------------- a whole room

def room_of(net, count):
    addrs = net.join_all(["m%d" % i for i in range(count)])
    net.run(1.0)                                        # joins acked, every member live
    return addrs


def room_datagrams(net, record):
    transmit = net._transmit

    def counting(src, dst, data, leaves=None):
        if dst in net.clients and P.decode_header(data)[0].type == P.ROOM:
            record.append((dst, data))
        transmit(src, dst, data, leaves)
    net._transmit = counting


def test_in_a_room_whose_server_takes_time_to_send_a_second_line_joins_the_first():
    # 40 members; each send takes the server 50 us, so a fan-out takes 2 ms,
    # and the second line reaches it 0.5 ms into the first's.
    net = SimNet(5, delay=(0.0005, 0.0005), send_cost=0.00005, fan_out_slice=4,
                 config=HubConfig(msg_burst=100))
    addrs = room_of(net, 40)
    sent = []
    room_datagrams(net, sent)
    net.clients[addrs[0]].say("第一句")
    net.run(0.0005 + 0.0005)                            # its fan-out is under way
    assert 0 < len(sent) < 39
    net.clients[addrs[1]].say("第二句")
    net.run(1.0)
    for addr in addrs:
        lines = [e.text for e in net.room_events(addr, (P.EV_CHAT,))]
        assert lines == ["第一句", "第二句"], addr
    runs = [data for _, data in sent if P.decode_header(data)[0].flags & P.FLAG_ROOM_RUN]
    assert runs                                         # some members got both in one
    assert len(sent) == 2 * 40 - len(runs) < 2 * 40


def test_a_member_that_does_not_take_runs_shares_a_room_with_those_that_do():
    net = SimNet(6, delay=(0.0005, 0.0005), send_cost=0.00005, fan_out_slice=4,
                 config=HubConfig(msg_burst=100))
    addrs = room_of(net, 20)
    old_addr, old = net.add_client("old")
    real_hello = old._send_hello

    def hello_without_runs(now):
        real_hello(now)
        data = old.out[-1]
        header, body = P.decode_header(data)
        old.out[-1] = P.encode_header(P.HELLO, flags=header.flags & ~P.FLAG_ROOM_RUN) + body
    old._send_hello = hello_without_runs
    assert net.run_until(lambda: old.state == JOINED)
    net.run(1.0)
    sent = []
    room_datagrams(net, sent)
    net.clients[addrs[0]].say("one")
    net.run(0.001)
    net.clients[addrs[1]].say("two")
    net.run(1.0)
    assert not old.room_runs
    assert [opened(data)[2] for to, data in sent if to == old_addr] == [False, False]
    for addr in addrs + [old_addr]:
        assert [e.text for e in net.room_events(addr, (P.EV_CHAT,))] == ["one", "two"]
