"""This machine's network interfaces: their IPv4 addresses, netmasks and
broadcast addresses (Linux ioctls, stdlib only) and global IPv6 addresses
(/proc/net/if_inet6). Used by LAN discovery (app/net/discovery.py)."""
import ipaddress
import socket
import struct
import sys
from typing import List, NamedTuple, Optional, Tuple

try:
    import fcntl
except ImportError:            # Windows has no fcntl: interfaces are then not listed
    fcntl = None  # type: ignore[assignment]

# Linux ioctls on an AF_INET socket (linux/sockios.h), and interface flags.
SIOCGIFFLAGS = 0x8913
SIOCGIFADDR = 0x8915
SIOCGIFBRDADDR = 0x8919
SIOCGIFNETMASK = 0x891B
IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_LOOPBACK = 0x8
IFF_MULTICAST = 0x1000


class Interface(NamedTuple):
    name: str
    ifindex: int               # (not `index`: that is tuple.index)
    flags: int
    address: Optional[str] = None      # primary IPv4 address
    netmask: Optional[str] = None
    broadcast: Optional[str] = None

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)

    @property
    def loopback(self) -> bool:
        return bool(self.flags & IFF_LOOPBACK)

    @property
    def network(self) -> Optional[ipaddress.IPv4Network]:
        if not (self.address and self.netmask):
            return None
        try:
            return ipaddress.IPv4Network("%s/%s" % (self.address, self.netmask), strict=False)
        except ValueError:
            return None


def _ioctl(sock: socket.socket, request: int, name: bytes) -> Optional[bytes]:
    try:
        result: bytes = fcntl.ioctl(sock.fileno(), request, struct.pack("16s16x", name))
        return result
    except OSError:
        return None                    # e.g. EADDRNOTAVAIL: no IPv4 address on it


def _ioctl_ipv4(sock: socket.socket, request: int, name: bytes) -> Optional[str]:
    result = _ioctl(sock, request, name)
    if result is None:
        return None
    address = socket.inet_ntoa(result[20:24])
    return None if address == "0.0.0.0" else address


def list_interfaces() -> List[Interface]:
    """The interfaces and their primary IPv4 address, netmask and broadcast
    address. Elsewhere than Linux, or when that fails: names and indexes only
    (taken as up), or nothing; the prober then still uses 255.255.255.255 and
    the loopback addresses."""
    try:
        names = socket.if_nameindex()
    except (OSError, AttributeError):
        return []
    plain = [Interface(name, index, IFF_UP | IFF_MULTICAST) for index, name in names]
    if fcntl is None or not sys.platform.startswith("linux"):
        return plain
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return plain
    interfaces = []
    with sock:
        for index, name in names:
            raw = name.encode("utf-8", "replace")[:15]
            result = _ioctl(sock, SIOCGIFFLAGS, raw)
            if result is None:
                continue               # vanished meanwhile
            flags = struct.unpack_from("H", result, 16)[0]
            address = _ioctl_ipv4(sock, SIOCGIFADDR, raw)
            netmask = broadcast = None
            if address:
                netmask = _ioctl_ipv4(sock, SIOCGIFNETMASK, raw)
                if flags & IFF_BROADCAST:
                    broadcast = _ioctl_ipv4(sock, SIOCGIFBRDADDR, raw)
                    if broadcast is None and netmask:
                        net = ipaddress.IPv4Network("%s/%s" % (address, netmask), strict=False)
                        broadcast = str(net.broadcast_address)
            interfaces.append(Interface(name, index, flags, address, netmask, broadcast))
    return interfaces


def ipv6_addresses() -> List[Tuple[str, str, int]]:
    """(interface, address, prefix length) of the usable global IPv6 addresses
    (Linux: /proc/net/if_inet6; elsewhere none)."""
    found: List[Tuple[str, str, int]] = []
    try:
        with open("/proc/net/if_inet6") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split()
        if len(parts) != 6:
            continue
        raw, _index, prefix, scope, flags, name = parts
        try:
            if int(scope, 16) != 0 or int(flags, 16) & 0x68:   # link/host scope; dadfailed,
                continue                                        # deprecated, tentative
            address = str(ipaddress.IPv6Address(bytes.fromhex(raw)))
            found.append((name, address, int(prefix, 16)))
        except ValueError:
            continue
    return found
