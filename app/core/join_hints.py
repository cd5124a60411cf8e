"""How to join: the commands a student types, and the server's "how to join"
hints at start. Pure: the shell (app.net.discovery.join_hints) finds the
interfaces and the program's name and passes them in; the console words the
hints in its language (app/ui/admin_text.py hint_lines)."""
import ipaddress
from typing import List, NamedTuple, Optional, Sequence, Tuple

from app.core import protocol


class Address(NamedTuple):
    """One of the server's addresses, as the hints show it."""

    command_host: str          # what to type after `chat.pyz client`
    interface: str             # e.g. "eth0"
    network: str = ""          # IPv4: e.g. "10.0.0.0/24" ("" when unknown)
    ipv6_prefix: int = 0       # IPv6: the prefix length (0: an IPv4 address)


class Hint(NamedTuple):
    """One "how to join" hint: what it says (a key of the console's texts) and
    the values it says it with. Arrives at the console as a plain pair of
    tuples (app.core.messages: JSON has no names)."""

    key: str
    values: Tuple[Tuple[str, str], ...] = ()

    @classmethod
    def of(cls, key: str, **values: object) -> "Hint":
        return cls(key, tuple((name, str(value)) for name, value in sorted(values.items())))


# The hints that are rows of the "how to join" table (the console aligns their
# commands); every other hint is a line of its own.
JOIN_ROWS = ("join_broadcast", "join_address", "join_address6")


def host_port_text(host: str, port: int) -> str:
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def client_command(host: Optional[str], port: int, program: str = "chat.pyz") -> str:
    parts = [program, "client"]
    if host:
        parts.append(host)
    if port != protocol.DEFAULT_PORT:
        parts += ["--port", str(port)]
    return " ".join(parts)


def join_hints(bound: str, port: int, program: str, addresses: Sequence[Address],
               any_up: bool) -> List[Hint]:
    """The server's "how to join" hints (shown under its start line). `bound`
    is the socket's own address ("::" or "0.0.0.0" for all interfaces);
    `addresses` its IPv4 addresses (and, bound to "::", global IPv6 ones);
    `any_up`: a network interface other than loopback is up."""
    if bound.startswith("::ffff:"):
        bound = bound[7:]
    finder = client_command(None, port, program)      # finds the server by broadcast
    if bound not in ("::", "0.0.0.0"):
        hints = [Hint.of("join", command=client_command(bound, port, program))]
        try:
            loopback = ipaddress.ip_address(bound).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            hints.append(Hint.of("loopback_only", bind=bound, command=finder))
        else:
            hints.append(Hint.of("bound_no_broadcast", command=finder))
            hints.append(Hint.of("firewall_port", port=port))
        return hints
    hints = [Hint.of("join_broadcast", command=finder)]
    for a in addresses:
        command = client_command(a.command_host, port, program)
        hints.append(Hint.of("join_address6", command=command, interface=a.interface,
                             prefix=a.ipv6_prefix) if a.ipv6_prefix else
                     Hint.of("join_address", command=command, interface=a.interface,
                             network=a.network))
    if not addresses and any_up:
        hints.append(Hint.of("link_local_only", command=finder))
    elif not addresses:
        hints.append(Hint.of("no_interface"))
    hints.append(Hint.of("this_machine", command=client_command("127.0.0.1", port, program)))
    hints.append(Hint.of("firewall", port=port))
    return hints
