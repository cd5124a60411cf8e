"""Command line: `chat.pyz server` and `chat.pyz client`. The composition root.

It parses the command line once into frozen options (app.core.options), picks
the front end (curses or line mode; the curses or headless admin console) and
hands it to the shell that needs it. Nothing imports this module: the network
loop never imports a console, it is given one here. Exit codes:
app.core.exit_codes.ExitCode (also in the README).
"""
import argparse
import os
import re
import sys
from typing import List, Optional

from app import __version__
from app.core import options as D
from app.core.auth import RoomKey
from app.core.exit_codes import ExitCode
from app.core.options import ClientOptions, RecordOptions, ServerOptions
from app.core.protocol import DEFAULT_PORT


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a port number: %r" % text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("port must be 1-65535, not %d" % value)
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a whole number: %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more, not %d" % value)
    return value


def _duration(text: str) -> float:
    """Seconds from `90`, `90s`, `5m`, `2h` or `1d` (a bare number is seconds)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1)
    try:
        value = float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError("not a duration (90, 90s, 5m, 2h, 1d): %r" % text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("must be 0 or more: %r" % text)
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of lines a second: %r" % text)
    if not 0 < value <= 1e6:
        raise argparse.ArgumentTypeError("must be more than 0 lines a second: %r" % text)
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of days: %r" % text)
    if not 0 < value < 100000:
        raise argparse.ArgumentTypeError("must be more than 0 days: %r" % text)
    return value


_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([kmg]?)b?\s*", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1000, "m": 1000 ** 2, "g": 1000 ** 3}


def _size(text: str) -> int:
    """A size in bytes: 100M, 500K, 1G, 12345 (decimal units, as file managers show)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError("not a size: %r (e.g. 100M, 500K, 1G)" % text)
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat.pyz",
        description="A group chat room for a LAN, in the terminal.",
    )
    parser.add_argument("--version", action="version", version="chat.pyz " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="{server,client,log,report}")
    commands.required = True

    server = commands.add_parser("server", help="run the chat room (with an admin console)")
    server.add_argument("--version", action="version", version="chat.pyz " + __version__)
    server.add_argument("--bind", default="", metavar="ADDR",
                        help="address to listen on (default: all interfaces)")
    server.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help="UDP port (default: %d)" % DEFAULT_PORT)
    server.add_argument("--history", type=_positive, default=D.DEFAULT_HISTORY, metavar="N",
                        help="chat lines a newcomer is shown on joining (default: %d)"
                             % D.DEFAULT_HISTORY)
    server.add_argument("--headless", action="store_true",
                        help="no curses console: log to stdout, read admin lines from stdin "
                             "(automatic when stdout is not a terminal)")
    server.add_argument("--log", metavar="FILE",
                        help="append a JSON-lines transcript of room events to FILE")
    server.add_argument("--max-clients", type=_positive, default=D.DEFAULT_MAX_CLIENTS, metavar="N",
                        help="people in the room at most (default: %d)" % D.DEFAULT_MAX_CLIENTS)
    server.add_argument("--max-per-ip", type=_positive, default=D.DEFAULT_MAX_PER_IP, metavar="N",
                        help="people from one address at most, 0 for no limit; the "
                             "server's own machine is exempt (default: %d)" % D.DEFAULT_MAX_PER_IP)
    server.add_argument("--line-rate", type=_rate, default=D.DEFAULT_LINE_RATE, metavar="N",
                        help="chat lines a second one person may say, after a burst of %g "
                             "seconds' worth; one person is one address (all its sessions) "
                             "or one client key: raise it when many users share one machine, "
                             "e.g. over ssh (default: %g)"
                             % (D.LINE_BURST_SECONDS, D.DEFAULT_LINE_RATE))
    server.add_argument("--state", metavar="DIR",
                        help="keep the room's key, bans, mutes, motd and history in DIR "
                             "(default: $XDG_STATE_HOME/chat.pyz/PORT, i.e. "
                             "~/.local/state/chat.pyz/PORT)")
    server.add_argument("--retain", type=_days, default=D.DEFAULT_RETAIN_DAYS, metavar="DAYS",
                        help="forget the room's log older than DAYS (default: %g)"
                             % D.DEFAULT_RETAIN_DAYS)
    server.add_argument("--kick-cooldown", type=_duration, default=D.DEFAULT_KICK_COOLDOWN,
                        metavar="TIME", help="a kicked name and host are refused this long "
                        "(90s, 5m, 1h; default: 5m)")
    server.add_argument("--file-ttl", type=_duration, default=D.DEFAULT_FILE_TTL,
                        metavar="TIME", help="a handout (/send) also goes to those who join "
                        "this long after it (90s, 5m, 1h; default: 1h)")
    server.add_argument("--max-file-size", type=_size, default=D.DEFAULT_MAX_FILE_SIZE,
                        metavar="SIZE", help="largest file handed in or out (500K, 20M, 1G; "
                        "default: 100M)")
    server.add_argument("--quota", type=_size, default=D.DEFAULT_QUOTA, metavar="SIZE",
                        help="what one person may hand in, all files together (default: 500M)")
    server.add_argument("--submissions", metavar="DIR",
                        help="where hand-ins are stored, as NAME/TIME-FILE (default: "
                             "the state directory's submissions/)")
    add_lang_option(server, "language of the admin console and the server's log (default: zh)")
    add_password_option(server)

    client = commands.add_parser("client", help="join a chat room")
    client.add_argument("--version", action="version", version="chat.pyz " + __version__)
    client.add_argument("host", nargs="?", default=None,
                        help="server address (default: find the server on the LAN by "
                             "broadcast on UDP port --port; see docs/LAN.md)")
    client.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help="server's UDP port, also the port discovery asks on "
                             "(default: %d)" % DEFAULT_PORT)
    client.add_argument("--name", help="your name in the room (asked for when missing)")
    client.add_argument("--plain", action="store_true",
                        help="line mode: stdin lines are sent, room events printed one per line")
    client.add_argument("--timestamps", action="store_true",
                        help="with --plain: prefix each line with [HH:MM:SS]")
    client.add_argument("--connect-timeout", type=float, default=D.DEFAULT_CONNECT_TIMEOUT, metavar="SECONDS",
                        help="with --plain: give up when the server has not answered "
                             "for this long at start (default: %g)" % D.DEFAULT_CONNECT_TIMEOUT)
    add_lang_option(client, "language of the room texts (default: zh)")
    client.add_argument("--bell", choices=D.BELL_CHOICES, default=D.DEFAULT_BELL,
                        help="ring the bell on: nothing, mentions/private/admin (default), "
                             "every message")
    client.add_argument("--log", metavar="FILE",
                        help="append every line the message pane shows to FILE, with the "
                             "date and time (line mode prints them on stdout instead)")
    add_password_option(client)
    client.add_argument("--accept-new-key", action="store_true",
                        help="the server's key changed and you know why (e.g. it was moved): "
                             "trust the new key from now on")
    client.add_argument("--downloads", metavar="DIR",
                        help="where handouts are saved (default: the XDG download folder's "
                             "chat.pyz/, e.g. ~/Downloads/chat.pyz)")

    log = commands.add_parser("log", help="print or export the room's transcript "
                              "(from the server's state; no server needed)")
    add_record_options(log)
    log.add_argument("--name", metavar="NAME", help="only what NAME did")
    add_lang_option(log, "language the text and html formats word the events in "
                    "(default: zh)")
    log.add_argument("--format", choices=D.LOG_FORMATS, default="text",
                     help="text (default), csv, jsonl, or one self-contained html page")
    report = commands.add_parser("report", help="each person's participation: lines, "
                                 "first and last seen, with a bar chart")
    add_record_options(report)
    report.set_defaults(name=None)
    add_lang_option(report, "language of the report's headings (default: zh)")
    report.add_argument("--format", choices=D.REPORT_FORMATS, default="text",
                        help="text (default, bars of block characters) or html")
    return parser


def add_record_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version="chat.pyz " + __version__)
    parser.add_argument("--state", metavar="DIR",
                        help="the server's state directory (default: the one of --port)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help="the room's port, to find its state (default: %d)" % DEFAULT_PORT)
    parser.add_argument("--since", metavar="WHEN",
                        help="from WHEN on: 2026-12-04, '2026-12-04 14:00', 14:00, today, "
                             "90m, 2h, 3d (default: all that is kept)")


def add_lang_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--lang", choices=D.LANGUAGES, default=D.DEFAULT_LANGUAGE, help=what)


def add_password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password", metavar="TEXT",
                        help="room password (or set CHAT_PASSWORD): it enters the key exchange "
                             "(SPAKE2) and never travels; a server's `auto` makes a room code")
    parser.add_argument("--insecure", action="store_true",
                        help="no encryption (protocol version 1): only where this Python has "
                             "no usable libcrypto, and on both sides")


def password(args: argparse.Namespace) -> Optional[str]:
    given = args.password if args.password is not None else os.environ.get("CHAT_PASSWORD")
    return given or None


def room_key(args: argparse.Namespace) -> Optional[RoomKey]:
    """--insecure's version-1 tag key from the password, derived once (about 0.1 s)."""
    given = password(args)
    if not given or not args.insecure:
        return None
    return RoomKey.from_password(given)


def server_options(args: argparse.Namespace) -> ServerOptions:
    given = password(args)
    if given == "auto" and not args.insecure:
        from app.core import words

        given = words.room_code(os.urandom(words.ROOM_CODE_BYTES))   # shown on the console
    return ServerOptions(bind=args.bind, port=args.port, history=args.history,
                         headless=args.headless, log=args.log, max_clients=args.max_clients,
                         max_per_ip=args.max_per_ip, line_rate=args.line_rate,
                         room_key=room_key(args),
                         password=given, insecure=args.insecure, state=args.state,
                         show_password=password(args) == "auto", retain_days=args.retain,
                         kick_cooldown=args.kick_cooldown, file_ttl=args.file_ttl,
                         max_file_size=args.max_file_size, quota=args.quota,
                         submissions=args.submissions, lang=args.lang)


def client_options(args: argparse.Namespace) -> ClientOptions:
    return ClientOptions(host=args.host, port=args.port, name=args.name, plain=args.plain,
                         timestamps=args.timestamps, connect_timeout=args.connect_timeout,
                         lang=args.lang, bell=args.bell, room_key=room_key(args),
                         log=args.log, password=password(args), insecure=args.insecure,
                         accept_new_key=args.accept_new_key, downloads=args.downloads)


def record_options(args: argparse.Namespace) -> RecordOptions:
    return RecordOptions(command=args.command, state=args.state, port=args.port,
                         since=args.since, name=args.name,
                         format=args.format, lang=args.lang)


def parse(argv: Optional[List[str]] = None):
    """The command line as options: ServerOptions, ClientOptions or RecordOptions."""
    args = build_parser().parse_args(argv)
    if args.command in ("log", "report"):
        return record_options(args)
    return server_options(args) if args.command == "server" else client_options(args)


def run_console(link, headless: bool, options: ServerOptions) -> int:
    """The server's admin side (in its forked process): headless or curses. The
    server forks it again, headless, if the curses console dies on a terminal
    that is still there."""
    if headless:
        from app.ui import admin_headless

        return admin_headless.run(link, options.lang)
    from app.ui import admin_tui

    return admin_tui.run(link, options)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("server", "client"):
        from app.net import heap

        heap.keep_freed_memory()      # file chunks: no brk and page faults per chunk
    try:
        if args.command == "server":
            import functools

            from app.net import server
            from app.ui import admin_headless, environment

            # The server's own lines (its log once no console is left) are UTF-8
            # whatever the locale, as line mode's are: never an encoding error.
            environment.utf8_streams()
            given = server_options(args)
            return server.run(given, run_console,
                              functools.partial(admin_headless.lines, given.lang))
        if args.command in ("log", "report"):
            from app.ui import records

            return records.run(record_options(args))
        options = client_options(args)
        from app.ui import environment

        if not options.plain and environment.is_terminal(sys.stdin) \
                and environment.is_terminal(sys.stdout):
            from app.ui import client_tui     # falls back to line mode where curses cannot draw

            return client_tui.run(options)
        from app.ui import client_plain

        return client_plain.run(options)
    except KeyboardInterrupt:
        return ExitCode.OK
    except BrokenPipeError:
        # Our stdout was closed (e.g. piped into `head`): nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
