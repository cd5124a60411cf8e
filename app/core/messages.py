"""Messages between the processes of one program, and their one codec.

Two pairs of processes talk: the client's sender and receiver (forked after
login), and the server's network process and its admin console. Each message
is a small frozen dataclass registered with @message where it is declared
(`@message` above `@dataclasses.dataclass(frozen=True)`);
`encode` and `decode` are the only codec, and app.net.channel.Channel the only
carrier.

On the wire (a local SOCK_SEQPACKET socket pair, never the network) a message
is one UTF-8 JSON object: {"t": <type name>, <field>: <value>, ...}, the type
name being the class's module and name (e.g. "app.core.admin.Kick": two
vocabularies may both have a Quit). Field
values are JSON's own (str, int, float, bool, None, lists, objects); a list
comes back as a tuple, so a message decodes to an equal, hashable value.
A message the other side does not know, or with missing or extra fields, is
a MessageError: the receiver drops it (both sides are the same build, so this
is a bug, not an attack: the socket pair is private to the two processes).
"""
import dataclasses
import json
from typing import Any, Dict, Tuple, Type, TypeVar, cast

MAX_MESSAGE = 1 << 16          # bytes of one encoded message at most (one datagram)


class MessageError(ValueError):
    """Bytes that are not a message of the registered vocabulary."""


_TYPES: Dict[str, Type[Any]] = {}
_FIELDS: Dict[Type[Any], Tuple[str, ...]] = {}
_NAMES: Dict[Type[Any], str] = {}
M = TypeVar("M")


def message(cls: Type[M]) -> Type[M]:
    """Class decorator over @dataclasses.dataclass(frozen=True) (written out,
    so type checkers see the dataclass): registers it under its module and name."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError("a message is a frozen dataclass: %s is not" % cls.__qualname__)
    name = "%s.%s" % (cls.__module__, cls.__qualname__)
    if name in _TYPES:
        raise TypeError("two messages are called %s" % name)
    _TYPES[name] = cls
    _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cast(Any, cls)))
    _NAMES[cls] = name
    return cls


def encode(value: Any) -> bytes:
    """A registered message as bytes (TypeError for anything else)."""
    fields = _FIELDS.get(type(value))
    if fields is None:
        raise TypeError("%r is not a registered message" % (value,))
    record: Dict[str, Any] = {"t": _NAMES[type(value)]}
    for name in fields:
        record[name] = getattr(value, name)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _frozen(value: Any) -> Any:
    """JSON's lists as tuples (inside objects too): decoded messages compare
    equal to the values that were sent."""
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return {key: _frozen(item) for key, item in value.items()}
    return value


def decode(data: bytes) -> Any:
    """The message in `data`; MessageError if it is not one."""
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MessageError("not JSON: %s" % exc) from None
    if not isinstance(record, dict):
        raise MessageError("not a JSON object")
    cls = _TYPES.get(record.pop("t", None))
    if cls is None:
        raise MessageError("unknown message type")
    if set(record) != set(_FIELDS[cls]):
        raise MessageError("%s with fields %s" % (cls.__name__, sorted(record)))
    return cls(**{name: _frozen(value) for name, value in record.items()})


def registered() -> Dict[str, Type[Any]]:
    """The vocabulary: message type name -> class (for tests and docs)."""
    return dict(_TYPES)

