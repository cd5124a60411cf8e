"""The app's configuration: frozen values built once by app.cli from the
command line, and the one place every default is written.

Downstream code and tests take these, never an argparse Namespace: a field a
module needs is typed and present, so nothing reads it with a getattr default.
"""
import dataclasses
from typing import Optional

from app.core.auth import RoomKey
from app.core.protocol import DEFAULT_PORT

DEFAULT_HISTORY = 20          # chat lines a newcomer is shown on joining
DEFAULT_MAX_CLIENTS = 2000    # people in the room at most
DEFAULT_MAX_PER_IP = 32       # people from one address at most (0: no limit; loopback exempt)
DEFAULT_CONNECT_TIMEOUT = 10.0   # line mode gives up when the server has not answered this long
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
BELL_CHOICES = ("off", "mention", "all")
DEFAULT_BELL = "mention"


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    bind: str = ""                       # "" is every interface (dual-stack where possible)
    port: int = DEFAULT_PORT
    history: int = DEFAULT_HISTORY
    headless: bool = False               # asked for; a server off a terminal is headless anyway
    log: Optional[str] = None            # JSON-lines transcript path
    max_clients: int = DEFAULT_MAX_CLIENTS
    max_per_ip: int = DEFAULT_MAX_PER_IP
    room_key: Optional[RoomKey] = None   # from --password / CHAT_PASSWORD


@dataclasses.dataclass(frozen=True)
class ClientOptions:
    host: Optional[str] = None           # None: find the server on the LAN
    port: int = DEFAULT_PORT
    name: Optional[str] = None           # None: asked for (curses) or an error (line mode)
    plain: bool = False
    timestamps: bool = False
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    lang: str = DEFAULT_LANGUAGE
    bell: str = DEFAULT_BELL
    room_key: Optional[RoomKey] = None
    log: Optional[str] = None            # curses client: append each shown line to this file

    def with_host(self, host: str) -> "ClientOptions":
        """The same options aimed at the server discovery found."""
        return dataclasses.replace(self, host=host)
