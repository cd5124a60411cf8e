"""The secure layer's two lanes (SecureServer.receive / run_deferred): a
member's datagrams are handled as they come, strangers' (handshakes, joins)
wait for a bounded batch per turn of the server's loop. Deterministic: a
fake clock, datagrams passed by hand (tests/test_secure_sessions.py's Net)."""
import os

from app.core import secure_server as S
from app.core import secure_wire
from tests.test_secure_sessions import Net, texts


class LaneNet(Net):
    """Net, but datagrams go in as the server's loop gives them (receive), and
    the slow lane gets `per_turn` of them a step, after the output is sent."""

    per_turn = 4

    def deliver(self, data, addr):
        self.wire.append(data)
        self.server.receive(self.now, data, addr)

    def _turn_done(self):
        if self.server.deferred:
            self.server.run_deferred(self.now, self.per_turn)
            self._answer()


def _first_inits(net, count, host="10.1.0.%d"):
    """`count` new clients' first INITs, each from an address of its own."""
    inits = []
    for i in range(count):
        front = net.client("new%d" % i, host=host % (i + 1))
        front.tick(net.now)
        inits += [(data, (host % (i + 1), 5000 + len(net.clients) - 1))
                  for data in front.take_output()]
    return inits


def _cookied_inits(net, count, host="10.1.0.%d"):
    """`count` new clients' second INITs, which carry a valid cookie (the kind
    that costs a handshake). Their first INITs are answered with a CHALLENGE
    at once, as a forged source's are: nothing of them waits in the lane."""
    firsts = _first_inits(net, count, host)
    for data, addr in firsts:
        net.deliver(data, addr)
    out = net.server.take_output()
    assert [addr for reply, addr in out if reply[3] == secure_wire.SecureType.CHALLENGE] \
        == [addr for _, addr in firsts]
    assert not net.server.deferred
    inits = []
    for reply, addr in out:
        front = net.clients[(addr[0], addr[1])]
        front.on_datagram(net.now, reply)
        inits += [(data, addr) for data in front.take_output()]
    return inits


def test_a_members_line_goes_out_before_a_storm_of_handshakes_is_looked_at():
    net = LaneNet()
    alice, bob = net.client("alice"), net.client("bob")
    net.pump()
    assert alice.core.state == bob.core.state == "joined"
    inits = _cookied_inits(net, 40)
    for data, addr in inits:                 # the storm is ahead in the socket ...
        net.deliver(data, addr)
    alice.core.say("hello")                  # ... and then alice's line
    alice.tick(net.now)
    for data in alice.take_output():
        net.deliver(data, ("127.0.0.1", 5000))
    net.server.flush(net.now)
    out = net.server.take_output()
    # Alice's line went to bob at once; not one handshake was done.
    assert not any(reply[3] == secure_wire.SecureType.RESPONSE for reply, _ in out)
    for data, addr in out:
        if addr[:2] == ("127.0.0.1", 5001):
            bob.on_datagram(net.now, data)
    assert "hello" in texts(bob)
    assert len(net.server.deferred) == 40
    assert net.server.next_deadline() == 0.0     # the loop must come back at once
    # A turn takes a bounded batch of them, oldest first.
    assert net.server.run_deferred(net.now, 16)
    answered = [addr for reply, addr in net.server.take_output()
                if reply[3] == secure_wire.SecureType.RESPONSE]
    assert answered == [addr for _, addr in inits[:16]]
    assert len(net.server.deferred) == 24
    assert not net.server.run_deferred(net.now, 100)
    assert len(net.server.take_output()) == 24


def test_joins_through_the_slow_lane_all_complete():
    net = LaneNet()
    net.per_turn = 2                         # a small batch: many turns
    fronts = [net.client("s%d" % i, host="10.2.0.%d" % (i + 1)) for i in range(12)]
    net.pump(3.0)
    assert all(f.core.state == "joined" for f in fronts)
    assert len(net.hub.members()) == 12 and not net.server.deferred
    fronts[0].core.say("everyone here")
    net.pump(0.5)
    assert all("everyone here" in texts(f) for f in fronts[1:])


def test_the_slow_lane_is_bounded_and_what_it_drops_is_counted(monkeypatch):
    monkeypatch.setattr(S, "DEFERRED_MAX", 10)
    net = LaneNet()
    for data, addr in _cookied_inits(net, 15):
        net.deliver(data, addr)
    assert len(net.server.deferred) == 10
    net.now += 1.5
    net.server.tick(net.now)
    assert net.hub.stats["deferred_dropped"] == 5


def test_inits_without_a_cookie_or_past_their_budget_never_reach_the_slow_lane():
    net = LaneNet()
    burst = int(S.INIT_HOST_BURST)
    for _ in range(burst + 30):              # one host: its INIT bucket holds `burst`
        init = secure_wire.encode_init(0, os.urandom(8), bytes(16), 7, os.urandom(32))
        net.deliver(init, ("10.3.0.1", 4000))
    assert not net.server.deferred           # no cookie: challenged at once, statelessly
    assert [reply[3] for reply, _ in net.server.take_output()] \
        == [secure_wire.SecureType.CHALLENGE] * burst
    net.deliver(b"junk that is not a datagram of ours", ("10.3.0.2", 4000))
    assert not net.server.deferred            # junk is counted at once, not queued
    assert net.hub.stats["malformed"] == 1
    net.now += 1.5
    net.server.tick(net.now)
    assert net.hub.stats["inits_dropped"] == 30
