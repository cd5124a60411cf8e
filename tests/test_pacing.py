"""The fan-out pacer (app/core/pacing.py), with `now` given in milliseconds:
what the server does between two slices of a fan-out. Pure: no sockets, no
sleeps. The real server and tests/simnet.py drive this same class
(test_server_fan_out.py, test_room_runs.py)."""
from typing import List, Tuple

from app.core import pacing
from app.core import protocol as P
from app.core.pacing import GO_ON, LOOK, TAKE_HELD, FanOutPacer

START = 5000.0
ACK = P.BARE_ROOM_ACK_PREFIX + bytes(P.BARE_ROOM_ACK_SIZE - len(P.BARE_ROOM_ACK_PREFIX))
LINE = P.encode_header(P.DATA) + b"a line"


def ms(n: float) -> float:
    return START + n / 1000.0


def test_the_numbers_are_the_servers():
    assert (pacing.FAN_OUT_SLICE, pacing.HELD_ACKS_MAX, pacing.FAN_OUT_JOINS_FOR) == (
        64, 256, 0.02)
    pacer = FanOutPacer(START)
    assert pacer.slice == 64 and pacer.held == []
    assert FanOutPacer(START, slice_size=4).slice == 4


def test_looks_at_the_socket_for_20_ms_then_goes_on_without_looking():
    pacer = FanOutPacer(ms(0))
    assert [pacer.after_slice(ms(t)) for t in (0, 1, 10, 19, 19.9)] == [LOOK] * 5
    assert [pacer.after_slice(ms(t)) for t in (20, 20.1, 500)] == [GO_ON] * 3
    later = FanOutPacer(ms(100))                # measured from its own start
    assert later.after_slice(ms(119)) == LOOK and later.after_slice(ms(121)) == GO_ON


def test_holds_bare_room_acks_only_and_gives_them_back_in_order():
    pacer = FanOutPacer(ms(0))
    assert not pacer.hold(LINE, ("10.0.0.1", 1))           # a line joins the fan-out
    assert not pacer.hold(ACK + b"x", ("10.0.0.1", 1))     # not bare: other fields too
    assert pacer.hold(ACK, ("10.0.0.2", 2)) and pacer.hold(ACK, ("10.0.0.3", 3))
    assert pacer.take_held() == [(ACK, ("10.0.0.2", 2)), (ACK, ("10.0.0.3", 3))]
    assert pacer.held == [] and pacer.take_held() == []


def test_takes_the_held_acks_at_256_before_looking_again():
    pacer = FanOutPacer(ms(0))
    for i in range(255):
        assert pacer.hold(ACK, ("10.0.0.9", i))
    assert pacer.after_slice(ms(1)) == LOOK
    pacer.hold(ACK, ("10.0.0.9", 255))
    assert pacer.after_slice(ms(1)) == TAKE_HELD
    assert pacer.after_slice(ms(30)) == TAKE_HELD          # after the 20 ms as well
    assert len(pacer.take_held()) == 256
    assert pacer.after_slice(ms(2)) == LOOK and pacer.after_slice(ms(30)) == GO_ON


def test_the_constants_are_read_when_a_pacer_is_made(monkeypatch):
    monkeypatch.setattr(pacing, "FAN_OUT_JOINS_FOR", 0.0)
    monkeypatch.setattr(pacing, "HELD_ACKS_MAX", 2)
    monkeypatch.setattr(pacing, "FAN_OUT_SLICE", 4)
    pacer = FanOutPacer(ms(0))
    assert pacer.slice == 4 and pacer.after_slice(ms(0)) == GO_ON
    pacer.hold(ACK, ("a", 1))
    pacer.hold(ACK, ("a", 2))
    assert pacer.after_slice(ms(0)) == TAKE_HELD


def test_a_fan_out_driven_as_the_server_drives_it():
    """A scripted fan-out of 300 members, 64 a time, 6 ms a slice; an ack
    arrives before every slice. The script is the server's loop
    (_send_output), with the clock and the socket replaced by lists."""
    pacer = FanOutPacer(ms(0))
    members, sent, now = 300, 0, 0.0
    log: List[Tuple[float, str]] = []
    taken_in = 0
    while True:
        sent = min(members, sent + pacer.slice)
        now += 6.0
        if sent == members:
            break
        step = pacer.after_slice(ms(now))
        if step == LOOK:                     # the socket has an ack and a line
            assert pacer.hold(ACK, ("10.0.0.1", int(now)))
            assert not pacer.hold(LINE, ("10.0.0.2", 1))
            taken_in += 1
        log.append((now, step))
    assert log == [(6.0, LOOK), (12.0, LOOK), (18.0, LOOK), (24.0, GO_ON)]
    assert taken_in == 3 and [addr for _, addr in pacer.take_held()] == [
        ("10.0.0.1", 6), ("10.0.0.1", 12), ("10.0.0.1", 18)]


# ====================================================== the pacer in the simulated room

def test_a_simulated_room_holds_acks_during_slow_fan_outs_and_delivers_everything(
        monkeypatch):
    """tests/simnet.py drives this pacer too: with sends that take time (1 ms
    each, 4 members a slice), room acks that come while a fan-out is taking in
    lines wait in its pacer and are taken at its end; every line still
    reaches every member, in one room order, and every ack counts."""
    import simnet
    from app.core.hub import HubConfig

    held, taken = [], []

    class Counting(FanOutPacer):
        def hold(self, data, addr):
            kept = super().hold(data, addr)
            held.append(kept)
            return kept

        def take_held(self):
            out = super().take_held()
            taken.extend(out)
            return out

    monkeypatch.setattr(simnet, "FanOutPacer", Counting)
    net = simnet.SimNet(11, delay=(0.0005, 0.0005), send_cost=0.001, fan_out_slice=4,
                        config=HubConfig(msg_burst=1000))
    addrs = net.join_all(["m%d" % i for i in range(24)])
    net.run(1.0)
    net.chatter(addrs, 60, seed=3, pause_every=2)
    cursors = net.hub.room_stream.cursors.values()
    assert net.run_until(lambda: all(c.acked == c.sent for c in cursors), 60.0)
    assert held.count(True) > 3 and len(taken) == held.count(True)   # none lost
    first = [e.text for e in net.room_events(addrs[0], (P.EV_CHAT,))]
    assert sorted(first) == sorted("line %d" % i for i in range(60))
    for addr in addrs:                                      # one room order for all
        assert [e.text for e in net.room_events(addr, (P.EV_CHAT,))] == first
