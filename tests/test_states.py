"""The two state machines (the client's connection, a server session's phase)
and the wire codes as enums.

Each machine has one transition table: every legal transition is taken here
through the machine's one method, every other (state, trigger) pair raises,
and a scenario on the simulated, faulty network (tests/simnet.py) drives each
machine through the real cores while checking what its state promises."""
import dataclasses
import json
import random

import pytest
from simnet import SimNet
from test_room_stream import ClassicClient

from app.core import messages
from app.core import protocol as P
from app.core.client_core import (CONNECTION_TRANSITIONS, ClientCore, ConnectionState,
                                  ConnectionTrigger, Status)
from app.core.flood import TokenBucket
from app.core.hub import (SESSION_TRANSITIONS, Capabilities, HubConfig, ServerSession,
                          SessionPhase, SessionTrigger)
from app.core.machine import IllegalTransition

S, T = ConnectionState, ConnectionTrigger
PH, ST = SessionPhase, SessionTrigger


def all_pairs(states, triggers):
    return [(s, t) for s in states for t in triggers]


def legal(table):
    return dict(iter(table))


# ------------------------------------------------------------ the client's table

def client_in(state):
    core = ClientCore("alice", 0.0, rng=random.Random(1))
    core.state = state                 # (set up: the table itself is under test)
    core.take_events()
    return core


@pytest.mark.parametrize("pair,after", sorted(legal(CONNECTION_TRANSITIONS).items(),
                                              key=lambda item: str(item)))
def test_every_legal_connection_transition(pair, after):
    state, trigger = pair
    core = client_in(state)
    core._fire(trigger, "why")
    assert core.state is after
    assert core.detail == "why"                # the reason is kept beside the state
    assert core.take_events() == [Status(after, core.online, "why")]


def test_every_other_connection_pair_raises_and_changes_nothing():
    table = legal(CONNECTION_TRANSITIONS)
    illegal = [p for p in all_pairs(S, T) if p not in table]
    assert len(illegal) == len(S) * len(T) - len(table) > 0
    for state, trigger in illegal:
        core = client_in(state)
        with pytest.raises(IllegalTransition) as caught:
            core._fire(trigger, "why")
        assert (caught.value.state, caught.value.trigger) == (state, trigger)
        assert core.state is state and core.detail == "" and core.take_events() == []


def test_every_connection_state_is_reachable_and_closed_is_only_left_by_nothing():
    table = legal(CONNECTION_TRANSITIONS)
    reached, frontier = {S.CONNECTING}, [S.CONNECTING]
    while frontier:
        here = frontier.pop()
        for (state, _), after in table.items():
            if state is here and after not in reached:
                reached.add(after)
                frontier.append(after)
    assert reached == set(S)
    assert {after for (state, _), after in table.items() if state is S.CLOSED} == {S.CLOSED}


def test_renaming_is_only_for_a_refused_client():
    core = ClientCore("alice", 0.0, rng=random.Random(1))
    with pytest.raises(IllegalTransition):
        core.rename("bob", 0.0)             # still connecting: nothing to rename
    assert core.name == "alice" and core.state is S.CONNECTING
    with pytest.raises(ValueError):
        core.rename("", 0.0)                # a bad name is told first, as before


def test_the_state_is_the_same_string_everywhere_it_goes():
    """The front ends compare it with "joined" etc. and pass it to their other
    process as JSON: it must be the string, in every way it can be printed."""
    for state in S:
        assert state == state.value and isinstance(state, str)
        assert "%s" % state == str(state) == "{}".format(state) == state.value
        assert json.loads(json.dumps({"state": state})) == {"state": state.value}
        assert "state_" + state == "state_" + state.value      # the tui's text keys

    @messages.message
    @dataclasses.dataclass(frozen=True)
    class StatesTestStatus:
        state: str
        online: int
        detail: str

    sent = StatesTestStatus(S.RECONNECTING, 3, "the server restarted")
    assert dataclasses.astuple(messages.decode(messages.encode(sent))) == (
        "reconnecting", 3, "the server restarted")


# ------------------------------------------------------------ the session's table

def session_in(phase):
    session = ServerSession(7, ("10.0.0.2", 4000), "alice", bytes(8), bytes(16), 0.0,
                            TokenBucket(1.0, 1.0, 0.0))
    session.phase = phase              # (set up: the table itself is under test)
    return session


@pytest.mark.parametrize("pair,after", sorted(legal(SESSION_TRANSITIONS).items(),
                                              key=lambda item: str(item)))
def test_every_legal_phase_transition(pair, after):
    phase, trigger = pair
    session = session_in(phase)
    assert session.advance(trigger) is after
    assert session.phase is after


def test_every_other_phase_pair_raises_and_changes_nothing():
    table = legal(SESSION_TRANSITIONS)
    illegal = [p for p in all_pairs(PH, ST) if p not in table]
    assert len(illegal) == len(PH) * len(ST) - len(table) > 0
    for phase, trigger in illegal:
        session = session_in(phase)
        with pytest.raises(IllegalTransition):
            session.advance(trigger)
        assert session.phase is phase


def test_gone_is_final_and_only_forgetting_leads_there():
    table = legal(SESSION_TRANSITIONS)
    assert not [pair for pair in table if pair[0] is PH.GONE]
    assert {trigger for (_, trigger), after in table.items() if after is PH.GONE} == {ST.FORGET}


def test_capabilities_are_what_the_hello_said():
    assert Capabilities.from_hello(0) == Capabilities(False, False, False)
    assert Capabilities.from_hello(P.FLAG_EVENTS) == Capabilities(True, False, False)
    assert Capabilities.from_hello(P.FLAG_ROOM | P.FLAG_ROOM_RUN) == Capabilities(False, True, True)
    assert Capabilities.from_hello(P.FLAG_ROOM_RUN) == Capabilities(False, False, False)
    with pytest.raises(AttributeError):
        Capabilities().room = True                                # fixed for the session


# ------------------------------------------------------------ wire codes

# The numbers on the wire (docs/PROTOCOL.md): an enum must not renumber them.
WIRE = {
    "HELLO": 1, "CHALLENGE": 2, "WELCOME": 3, "REFUSE": 4, "DATA": 5, "PING": 6, "PONG": 7,
    "BYE": 8, "BYE_ACK": 9, "RESET": 10, "ROOM": 11, "FILE": 12,
    "FLAG_TAGGED": 1, "FLAG_EVENTS": 2, "FLAG_ROOM": 4, "FLAG_ROOM_ACK": 8, "FLAG_ROOM_RUN": 16,
    "FLAG_REASONS": 32,
    "SAY": 1, "EMOTE": 2, "PRIVATE": 3, "WHO": 4, "EVENT": 16, "EVENTS": 17,
    "EV_JOIN": 1, "EV_LEAVE": 2, "EV_CHAT": 3, "EV_EMOTE": 4, "EV_ADMIN": 5, "EV_PRIVATE": 6,
    "EV_NOTICE": 7, "EV_WHO": 8, "EV_MEMBERS": 9, "EVF_HISTORY": 1,
    "LEAVE_QUIT": 0, "LEAVE_TIMEOUT": 1, "LEAVE_KICKED": 2, "LEAVE_BANNED": 3,
    "LEAVE_SERVER_CLOSING": 4,
    "NOTICE_INFO": 0, "NOTICE_THROTTLED": 1, "NOTICE_NO_SUCH_USER": 2, "NOTICE_MUTED": 3,
    "NOTICE_MOTD": 4, "NOTICE_REJECTED": 5, "NOTICE_UNMUTED": 6,
    "REFUSE_NAME_TAKEN": 1, "REFUSE_NAME_INVALID": 2, "REFUSE_BANNED": 3, "REFUSE_FULL": 4,
    "REFUSE_BAD_VERSION": 5, "REFUSE_WRONG_PASSWORD": 6, "REFUSE_THROTTLED": 7, "REFUSE_SERVER_KEY": 8,
    "BYE_LEAVING": 0, "BYE_SERVER_CLOSING": 1, "BYE_KICKED": 2, "BYE_BANNED": 3, "BYE_DROPPED": 4,
}
ENUMS = [P.DatagramType, P.HeaderFlag, P.FrameKind, P.EventKind, P.EventFlag, P.LeaveCode,
         P.NoticeCode, P.RefuseCode, P.ByeCode]


def test_every_old_name_is_a_member_with_its_old_number():
    members = {member for enum in ENUMS for member in enum}
    for name, number in WIRE.items():
        value = getattr(P, name)
        assert value in members and value is type(value)(number), name
        assert value == number and hash(value) == hash(number)
        assert "%s %d {}".format(value) % (value, value) == "%d %d %d" % ((number,) * 3)
        assert json.dumps(value) == str(number)
    assert sum(len(enum) for enum in ENUMS) == len(WIRE)      # no member without its name


def test_decoding_gives_plain_ints_and_flags_combine_to_plain_ints():
    data = P.encode_header(P.DATA, 5, 6, 7, 8, flags=P.FLAG_ROOM | P.FLAG_ROOM_RUN)
    header, _ = P.decode_header(data)
    assert header == (P.DATA, P.FLAG_ROOM | P.FLAG_ROOM_RUN, 5, 6, 7, 8)
    assert all(type(field) is int for field in header)
    assert type(header.flags & P.FLAG_ROOM) is int           # not an IntFlag: no Python on it
    event = P.decode_event(P.encode_event(P.Event(1, 2.0, P.EV_LEAVE, code=P.LEAVE_KICKED)))
    assert (event.kind, event.code) == (P.EV_LEAVE, P.LEAVE_KICKED)
    assert type(event.kind) is int and type(event.code) is int
    assert P.decode_refuse(P.encode_refuse(P.REFUSE_FULL, "full")) == (4, "full", None)
    assert P.decode_bye(P.encode_bye(P.BYE_KICKED, "go")) == (2, "go", None)
    assert P.DATAGRAM_TYPES == set(range(1, 13))
    assert all(type(t) is int for t in P.DATAGRAM_TYPES)


# ------------------------------------------------------------ the client, through the core

def states_seen(net, addr):
    """The client's states in the Status events it gave, repeats folded."""
    seen = []
    for event in net.events[addr]:
        if isinstance(event, Status) and (not seen or seen[-1] != event.state):
            seen.append(event.state)
    return seen


@pytest.mark.parametrize("seed", range(3))
def test_a_client_goes_through_every_state_over_a_faulty_network(seed):
    net = SimNet(seed, loss=0.2, dup=0.05, delay=(0.0005, 0.03))
    alice, bob = net.join_all(["alice", "bob"])
    joined = lambda *addrs: lambda: all(net.clients[a].state is S.JOINED for a in addrs)  # noqa

    net.restart_server()                       # RESET (or its silence): rejoin
    assert net.run_until(lambda: net.hub.stats["joins"] == 2 and joined(alice, bob)(), 60)

    carol, core = net.add_client("alice")      # the name is taken
    assert net.run_until(lambda: core.state is S.REFUSED, 30)
    assert core.refusal[0] == P.REFUSE_NAME_TAKEN
    core.rename("carol", net.now)
    assert net.run_until(joined(carol), 30)
    with pytest.raises(IllegalTransition):
        core.rename("dave", net.now)           # joined: nothing to rename
    assert core.name == "carol"

    net.hub.shutdown(net.now)                  # BYE (closing), or RESET if all 3 are lost
    assert net.run_until(lambda: all(net.clients[a].state is S.RECONNECTING
                                     for a in (alice, bob, carol)), 30)
    assert net.run_until(joined(alice, bob, carol), 60)

    net.loss = net.dup = 0.0                   # a kick that is sure to be heard
    assert net.hub.kick(net.now, "bob", "spam")
    assert net.run_until(lambda: net.clients[bob].state is S.CLOSED, 10)
    assert net.clients[bob].detail == "kicked by the admin: spam"
    net.clients[alice].leave(net.now)
    assert net.clients[alice].detail == "leaving"
    net.clients[alice].leave(net.now)
    assert net.clients[alice].detail == "left"
    assert net.run_until(lambda: net.clients[alice].leaving_done, 10)
    net.run(1.0)

    cycle = [S.JOINED, S.RECONNECTING, S.JOINED, S.RECONNECTING, S.JOINED, S.CLOSED]
    assert states_seen(net, alice) == cycle
    assert states_seen(net, bob) == cycle
    assert states_seen(net, carol) == [S.REFUSED, S.CONNECTING, S.JOINED, S.RECONNECTING,
                                       S.JOINED]


def test_a_datagram_the_state_does_not_take_is_ignored_not_raised():
    net = SimNet(4)
    (alice,) = net.join_all(["alice"])
    client = net.clients[alice]
    client.leave(net.now)
    assert net.run_until(lambda: client.leaving_done, 10)
    late = [P.encode_header(P.RESET, client.session_id),
            P.encode_header(P.BYE, client.session_id) + P.encode_bye(P.BYE_SERVER_CLOSING),
            P.encode_header(P.REFUSE) + P.encode_refuse(P.REFUSE_FULL, "full"),
            P.encode_header(P.WELCOME, client.session_id) + P.encode_welcome(
                P.Welcome(1, 0, 0.0, False, 1, "alice", ""))]
    client.take_events()
    for data in late:
        client.on_datagram(net.now, data)
    assert client.state is S.CLOSED and client.take_events() == [] and client.malformed == 0


# ------------------------------------------------------------ sessions, through the hub

def holders(hub, session):
    """The hub's tables that hold `session`."""
    tables = {"by_addr": hub.by_addr, "by_id": hub._by_id, "dirty": hub._dirty,
              "throttled": hub._throttled, "members": hub.room.members}
    found = [name for name, table in tables.items()
             if any(value is session for value in table.values())]
    if session.id in hub._scheduled:
        found.append("scheduled")
    if session.cursor is not None and hub.room_stream.cursors.get(session.id) is session.cursor:
        found.append("room_stream")
    return found


class PhaseWatch:
    """Runs the network step by step and checks after each step that a
    session's phase tells where it is: which tables hold it, and whether the
    room stream is live for it."""

    def __init__(self, net):
        self.net = net
        self.seen = {}                 # session -> its phases, in the order seen

    def run_until(self, condition, seconds):
        net = self.net
        end = net.now + seconds
        while not condition():
            if net.now >= end:
                return False
            net.step(end)
            self.check()
        return True

    def run(self, seconds):
        end = self.net.now + seconds
        self.run_until(lambda: self.net.now >= end, seconds + 1)

    def check(self):
        hub = self.net.hub
        for session in hub.by_addr.values():
            phases = self.seen.setdefault(session, [])
            if not phases or phases[-1] is not session.phase:
                phases.append(session.phase)
            assert session.phase in (PH.SYNCING, PH.LIVE, PH.LEAVING)
            assert {"by_addr", "by_id", "members"} <= set(holders(hub, session))
            if session.cursor is not None and session.phase is not PH.LEAVING:
                assert session.cursor.live == (session.phase is PH.LIVE)
                assert "room_stream" in holders(hub, session)
        for session, phases in self.seen.items():
            if hub.by_addr.get(session.addr) is not session:
                assert session.phase is PH.GONE and holders(hub, session) == []
                if phases[-1] is not PH.GONE:
                    phases.append(PH.GONE)

    def phases(self, name):
        """The phases of every session that had `name`, in the order they began."""
        return [phases for session, phases in self.seen.items() if session.name == name]


def leaves(net, addr, name):
    return [e.code for e in net.room_events(addr, {P.EV_LEAVE}) if e.name == name]


@pytest.mark.parametrize("seed", range(3))
def test_sessions_go_through_every_phase_and_are_forgotten_once(seed):
    net = SimNet(seed, loss=0.1, dup=0.05, delay=(0.0005, 0.02),
                 config=HubConfig(msg_rate=5, msg_burst=10))
    for i in range(5):
        net.hub.admin_say(net.now, "history %d" % i)      # a history to sync
    watch = PhaseWatch(net)
    names = ["alice", "bob", "flood"]
    addrs = [net.add_client(name)[0] for name in names]
    classic = ("10.0.9.9", 4000)                           # no room stream: live at once
    net.clients[classic] = ClassicClient("classic", net.now, rng=random.Random(seed))
    net.events[classic] = []
    everyone = addrs + [classic]
    assert watch.run_until(lambda: all(net.clients[a].state is S.JOINED for a in everyone)
                           and all(s.phase is PH.LIVE for s in net.hub.members()), 60)
    alice, bob, flood = addrs
    for name in names:
        assert watch.phases(name) == [[PH.SYNCING, PH.LIVE]]
    assert watch.phases("classic") == [[PH.LIVE]]

    # Held lines, then BYE: LEAVING for longer than a silent member lives (10 s).
    flooder = net.clients[flood]
    for i in range(80):
        flooder.say("line %d" % i)
    assert watch.run_until(lambda: flooder.stream.queued == 0, 30)
    flooder.leave(net.now)
    assert watch.run_until(lambda: net.hub.find("flood") is None, 60)
    assert watch.phases("flood") == [[PH.SYNCING, PH.LIVE, PH.LEAVING, PH.GONE]]
    watch.run(2.0)
    lines = [e.text for e in net.room_events(alice, {P.EV_CHAT})]
    assert lines == ["line %d" % i for i in range(80)]
    assert leaves(net, alice, "flood") == [P.LEAVE_QUIT]  # after its last line, not timed out

    # A new address (NAT): its resume replaces the old session silently.
    moved = ("10.0.7.7", 5000)
    net.clients[moved], net.events[moved] = net.clients.pop(bob), net.events.pop(bob)
    net.hub.admin_say(net.now, "missed")      # by bob: its new session syncs it first
    assert watch.run_until(lambda: net.hub.find("bob") is not None
                           and net.hub.find("bob").addr == moved
                           and net.hub.find("bob").phase is PH.LIVE, 60)
    assert watch.phases("bob") == [[PH.SYNCING, PH.LIVE, PH.GONE], [PH.SYNCING, PH.LIVE]]

    net.loss = net.dup = 0.0
    kicked = net.hub.find("classic")
    for i in range(20):                        # over the burst: lines held when it goes
        net.clients[classic].say("held %d" % i)
    assert watch.run_until(lambda: kicked.held, 10)
    assert net.hub.kick(net.now, "classic")
    assert kicked.phase is PH.GONE and holders(net.hub, kicked) == []
    with pytest.raises(IllegalTransition):
        net.hub._forget(kicked)                # forgotten exactly once
    net.hub._drop(net.now, kicked, P.LEAVE_TIMEOUT)    # dropping again is a no-op
    watch.run(1.0)
    assert leaves(net, alice, "classic") == [P.LEAVE_KICKED]
    assert leaves(net, alice, "bob") == []

    net.hub.shutdown(net.now)
    watch.check()
    assert all(phases[-1] is PH.GONE for phases in watch.seen.values())
    assert len(watch.seen) == 5
    hub = net.hub
    assert not (hub.by_addr or hub._by_id or hub._dirty or hub._scheduled or hub._throttled
                or hub.room.members or hub.room_stream.cursors)


def test_a_newcomer_whose_history_overflows_its_queue_is_dropped_once_and_never_joins():
    net = SimNet(5, config=HubConfig(history_lines=60, queue_cap=40))
    (alice,) = net.join_all(["alice"])
    for i in range(60):
        net.hub.admin_say(net.now, "history %d" % i)
        if i % 5 == 4:
            net.run(0.5)                      # (alice acks: the room stream's ring holds 40)
    addr, bob = net.add_client("bob")
    assert net.run_until(lambda: net.hub.stats["leaves"] == 1, 10)
    net.remove_client(addr)                   # (it would come back, and be dropped again)
    net.run(1.0)
    who = [e.kind for e in net.room_events(alice, {P.EV_JOIN, P.EV_LEAVE}) if e.name == "bob"]
    assert who == [P.EV_LEAVE]       # no join said after (or before) its leave
    assert net.hub.find("bob") is None and net.hub.stats["joins"] == 2
