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
DEFAULT_LINE_RATE = 5.0       # chat lines a second per person (address, client key), sustained
LINE_BURST_SECONDS = 6.0      # ... after a burst of this many seconds' worth (a pasted paragraph)
DEFAULT_RETAIN_DAYS = 30.0    # the room's database forgets what is older (--retain)
DEFAULT_KICK_COOLDOWN = 300.0 # seconds a kicked person (name and host) is refused
DEFAULT_CONNECT_TIMEOUT = 10.0   # line mode gives up when the server has not answered this long
LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
BELL_CHOICES = ("off", "mention", "all")
DEFAULT_BELL = "mention"
DEFAULT_FILE_TTL = 3600.0     # seconds a handout is also given to those who join later
DEFAULT_MAX_FILE_SIZE = 100 * 1000 * 1000   # bytes: a hand-in or handout at most (100 MB)
DEFAULT_QUOTA = 500 * 1000 * 1000           # bytes one person may hand in per server (500 MB)


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    bind: str = ""                       # "" is every interface (dual-stack where possible)
    port: int = DEFAULT_PORT
    history: int = DEFAULT_HISTORY
    headless: bool = False               # asked for; a server off a terminal is headless anyway
    log: Optional[str] = None            # JSON-lines transcript path
    max_clients: int = DEFAULT_MAX_CLIENTS
    max_per_ip: int = DEFAULT_MAX_PER_IP
    line_rate: float = DEFAULT_LINE_RATE
    room_key: Optional[RoomKey] = None   # --insecure with --password: the version-1 tag key
    password: Optional[str] = None       # --password / CHAT_PASSWORD: SPAKE2 in the handshake
    insecure: bool = False               # --insecure: protocol version 1, nothing encrypted
    state: Optional[str] = None          # --state DIR: the room's state and the server's key
    show_password: bool = False          # --password auto: the room code is shown on the console
    retain_days: float = DEFAULT_RETAIN_DAYS
    kick_cooldown: float = DEFAULT_KICK_COOLDOWN
    file_ttl: float = DEFAULT_FILE_TTL
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    quota: int = DEFAULT_QUOTA           # bytes each person may hand in (all their files)
    submissions: Optional[str] = None    # --submissions DIR; None: <state dir>/submissions
    lang: str = DEFAULT_LANGUAGE         # the admin console's and the server's log's words


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
    room_key: Optional[RoomKey] = None   # --insecure with --password: the version-1 tag key
    log: Optional[str] = None            # curses client: append each shown line to this file
    password: Optional[str] = None
    insecure: bool = False
    accept_new_key: bool = False         # trust a server whose key changed (known_servers)
    downloads: Optional[str] = None      # --downloads DIR; None: XDG download dir's chat.pyz/

    def with_host(self, host: str) -> "ClientOptions":
        """The same options aimed at the server discovery found."""
        return dataclasses.replace(self, host=host)


LOG_FORMATS = ("text", "csv", "jsonl", "html")
REPORT_FORMATS = ("text", "html")


@dataclasses.dataclass(frozen=True)
class RecordOptions:
    """`chat.pyz log` and `chat.pyz report` (app/ui/records.py)."""
    command: str = "log"                 # "log" or "report"
    state: Optional[str] = None          # --state DIR; None: this port's (app/net/state_dir.py)
    port: int = DEFAULT_PORT
    since: Optional[str] = None          # as typed; records.parse_when reads it
    name: Optional[str] = None           # log: only this person's entries
    format: str = "text"
    lang: str = DEFAULT_LANGUAGE         # how the text and html formats word the events
