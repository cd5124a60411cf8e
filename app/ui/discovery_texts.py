"""LAN discovery for the user: the lines a client prints about the servers it
found, and the choice among them (which to join, or which exit code). The
sockets are app/net/discovery.py; both client front ends (client_plain,
client_tui) call `find_for_client`."""
from typing import Callable, List, Optional, Sequence, Tuple

from app import __version__
from app.core import protocol
from app.core.discovery_wire import Found
from app.core.exit_codes import ExitCode
from app.core.join_hints import client_command, host_port_text
from app.net import discovery
from app.net.discovery import DISCOVER_TIMEOUT, SETTLE

__all__ = ["describe", "version_text", "client_command", "nothing_found_text", "choose",
           "find_for_client"]


def describe(found: Found) -> str:
    """One line for a list or pick list: name, address, online, other addresses."""
    line = "%s  %s  %d online" % (found.name or "?", host_port_text(found.host, found.port),
                                  found.online)
    if found.password:
        line += "  password"
    if len(found.addresses) > 1:
        line += "  (also %s)" % ", ".join(found.addresses[1:])
    if not found.compatible:
        line += "  [%s]" % version_text(found)
    return line


def version_text(found: Found) -> str:
    return ("speaks protocol version %d%s, this chat.pyz (%s) speaks %d: use the server's "
            "chat.pyz" % (found.version,
                          " (chat.pyz %s)" % found.software if found.software else "",
                          __version__, protocol.VERSION))


def nothing_found_text(port: int, timeout: float, searched: Sequence[str] = ()) -> str:
    where = " (asked %s)" % ", ".join(searched) if searched else ""
    return ("no chat server answered on UDP port %d within %.0f s%s. Give the server's "
            "address: %s (the server prints it at start). If it is running, its firewall "
            "must let UDP port %d in, and finding it by broadcast only works on your own "
            "subnet." % (port, timeout, where, client_command("HOST", port), port))


def choose(found: Sequence[Found], port: int, timeout: float = DISCOVER_TIMEOUT,
           searched: Sequence[str] = ()) -> Tuple[Optional[Found], int, List[str]]:
    """Line mode's decision: (server to connect to or None, exit code if None,
    lines for stderr). One usable server: connect; several: list them and ask
    for HOST (exit 4); only other protocol versions: say so (exit 3); none: what
    to try (exit 4)."""
    usable = [f for f in found if f.compatible]
    if len(usable) == 1:
        chosen = usable[0]
        lines = ["chat.pyz: found the chat server %s at %s (%d online%s); connecting" % (
            chosen.name, host_port_text(chosen.host, chosen.port), chosen.online,
            ", room password" if chosen.password else "")]
        for f in found:
            if not f.compatible:         # unusable anyway: say why it is not chosen
                lines.append("chat.pyz: (not %s at %s: it %s)" % (
                    f.name, host_port_text(f.host, f.port), version_text(f)))
        return chosen, ExitCode.OK, lines
    if usable:
        lines = ["chat.pyz: %d chat servers answered on UDP port %d; choose one and start "
                 "again with its address:" % (len(found), port)]
        for f in found:
            lines.append("  %-40s # %s" % (client_command(f.host, f.port), describe(f)))
        return None, ExitCode.UNREACHABLE, lines
    if found:
        return None, ExitCode.REFUSED, ["chat.pyz: the chat server %s at %s %s" % (
            f.name, host_port_text(f.host, f.port), version_text(f)) for f in found]
    return None, ExitCode.UNREACHABLE, ["chat.pyz: " + nothing_found_text(port, timeout,
                                                                          searched)]


def find_for_client(port: int, timeout: float = DISCOVER_TIMEOUT,
                    targets: Optional[Sequence[str]] = None,
                    pick: Optional[Callable[[List[Found]], Optional[Found]]] = None
                    ) -> Tuple[Optional[str], int, List[str]]:
    """`chat.pyz client` without HOST: (host to connect to or None, exit code,
    lines for stderr). With `pick` (an interactive front end), several usable
    servers are offered to it instead of being listed for the user to retype."""
    prober = discovery.run(discovery.Prober(port, timeout, SETTLE, targets))
    found = prober.found()
    usable = [f for f in found if f.compatible]
    if pick is not None and len(usable) > 1:
        chosen = pick(usable)
        if chosen is not None:
            return chosen.host, 0, []
    chosen, code, lines = choose(found, port, timeout, prober.searched())
    return (chosen.host if chosen else None), code, lines


