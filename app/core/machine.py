"""One transition table per state machine, and the one way to use it.

Pure. Modelled on h11's _state.py: a machine's every legal state change is one
entry {(state, trigger): next state} in one table, so the table is the whole
story of the machine (docs and tests read it), and a change that is not in it
is a bug that fails loudly at the line that asked for it, instead of leaving a
connection in a state no code expects.

Input from the network never raises here: a core asks `allows` before it acts
on a datagram that would change its state (a late WELCOME, a stale BYE), and
ignores the datagram when the table says no, as the protocol says to.
"""
import enum
from typing import Dict, Generic, Iterator, Mapping, Tuple, TypeVar

S = TypeVar("S", bound=enum.Enum)
T = TypeVar("T", bound=enum.Enum)


class IllegalTransition(RuntimeError):
    """Our own code asked for a state change that its machine's table does not
    have (like h11's LocalProtocolError): a bug here, never the peer's doing."""

    def __init__(self, machine: str, state: enum.Enum, trigger: enum.Enum) -> None:
        super().__init__("%s: no transition from %s on %s" % (machine, state.name, trigger.name))
        self.machine = machine
        self.state = state
        self.trigger = trigger


class Transitions(Generic[S, T]):
    """A machine's table: (state, trigger) -> next state."""

    def __init__(self, machine: str, table: Mapping[Tuple[S, T], S]) -> None:
        self.machine = machine
        self._table: Dict[Tuple[S, T], S] = dict(table)

    def next(self, state: S, trigger: T) -> S:
        """The state after `trigger` in `state`; IllegalTransition if there is none."""
        try:
            return self._table[state, trigger]
        except KeyError:
            raise IllegalTransition(self.machine, state, trigger) from None

    def allows(self, state: S, trigger: T) -> bool:
        return (state, trigger) in self._table

    def __iter__(self) -> Iterator[Tuple[Tuple[S, T], S]]:
        """Every legal transition, ((state, trigger), next state), for tests and docs."""
        return iter(list(self._table.items()))
