"""How to join: the commands a student types, and the server's "how to join"
lines at start. Pure: the shell (app.net.discovery.join_hints) finds the
interfaces and the program's name and passes them in."""
import ipaddress
from typing import List, NamedTuple, Optional, Sequence

from app.core import protocol


class Address(NamedTuple):
    """One of the server's addresses, as the hints show it."""

    command_host: str          # what to type after `chat.pyz client`
    note: str                  # e.g. "eth0, network 10.0.0.0/24", "eth0, IPv6 /64"


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
               any_up: bool) -> List[str]:
    """The server's "how to join" lines (shown under its start line). `bound`
    is the socket's own address ("::" or "0.0.0.0" for all interfaces);
    `addresses` its IPv4 addresses (and, bound to "::", global IPv6 ones);
    `any_up`: a network interface other than loopback is up."""
    if bound.startswith("::ffff:"):
        bound = bound[7:]
    if bound not in ("::", "0.0.0.0"):
        hints = ["how to join: %s" % client_command(bound, port, program)]
        try:
            loopback = ipaddress.ip_address(bound).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            hints.append("  only this machine can join (--bind %s); there `%s` finds it too"
                         % (bound, client_command(None, port, program)))
        else:
            hints.append("  (with --bind, `%s` does not find this server: broadcasts only "
                         "reach a server on all addresses)" % client_command(None, port, program))
            hints.append("firewall: let UDP port %d in" % port)
        return hints
    rows = [(client_command(None, port, program), "students on this subnet: finds this server "
             "by broadcast")]
    rows += [(client_command(a.command_host, port, program), a.note) for a in addresses]
    width = max(len(command) for command, _ in rows)
    hints = ["how to join: %s  (%s)" % (rows[0][0].ljust(width), rows[0][1])]
    hints += ["         or: %s  (%s)" % (command.ljust(width), note) for command, note in rows[1:]]
    if len(rows) == 1 and any_up:
        hints.append("  no IPv4 or global IPv6 address here: only `%s` finds this server "
                     "(IPv6 link-local)" % client_command(None, port, program))
    elif len(rows) == 1:
        hints.append("  no network interface is up: only this machine can join")
    hints.append("on this machine: %s" % client_command("127.0.0.1", port, program))
    hints.append("firewall: let UDP port %d in (chat and discovery); broadcast stays in one "
                 "subnet: across routers give the address" % port)
    return hints
