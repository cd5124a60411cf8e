"""Command line: `chat.pyz server` and `chat.pyz client`.

Exit codes (also in the README):
  0  normal exit
  1  runtime error (port in use, no permission, ...), one clear line on stderr
  2  bad command-line arguments (argparse prints usage)
  3  the server refused us (name taken or invalid, banned, full, wrong password)
  4  the server could not be reached
"""
import argparse
import os
import sys

from app import __version__
from app.protocol import DEFAULT_PORT

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_UNREACHABLE = 4


def _port(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a port number: %r" % text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("port must be 1-65535, not %d" % value)
    return value


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a whole number: %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more, not %d" % value)
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="chat.pyz",
        description="A group chat room for a LAN, in the terminal.",
    )
    parser.add_argument("--version", action="version", version="chat.pyz " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="{server,client}")
    commands.required = True

    server = commands.add_parser("server", help="run the chat room (with an admin console)")
    server.add_argument("--version", action="version", version="chat.pyz " + __version__)
    server.add_argument("--bind", default="", metavar="ADDR",
                        help="address to listen on (default: all interfaces)")
    server.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help="UDP port (default: %d)" % DEFAULT_PORT)
    server.add_argument("--history", type=_positive, default=20, metavar="N",
                        help="chat lines a newcomer is shown on joining (default: 20)")
    server.add_argument("--headless", action="store_true",
                        help="no curses console: log to stdout, read admin lines from stdin "
                             "(automatic when stdout is not a terminal)")
    server.add_argument("--log", metavar="FILE",
                        help="append a JSON-lines transcript of room events to FILE")
    server.add_argument("--max-clients", type=_positive, default=2000, metavar="N",
                        help="people in the room at most (default: 2000)")
    server.add_argument("--max-per-ip", type=_positive, default=32, metavar="N",
                        help="people from one address at most, 0 for no limit; the "
                             "server's own machine is exempt (default: 32)")
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
    client.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="with --plain: give up when the server has not answered "
                             "for this long at start (default: 10)")
    client.add_argument("--lang", choices=("zh", "en"), default="zh",
                        help="language of the room texts (default: zh)")
    client.add_argument("--bell", choices=("off", "mention", "all"), default="mention",
                        help="ring the bell on: nothing, mentions/private/admin (default), "
                             "every message")
    add_password_option(client)
    return parser


def add_password_option(parser):
    parser.add_argument("--password", metavar="TEXT",
                        help="room password (or set CHAT_PASSWORD): every datagram is "
                             "authenticated with a key derived from it; it is never sent")


def room_key(args):
    """The key from --password or CHAT_PASSWORD, derived once (about 0.1 s)."""
    password = args.password if args.password is not None else os.environ.get("CHAT_PASSWORD")
    if not password:
        return None
    from app.auth import RoomKey

    return RoomKey.from_password(password)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.room_key = room_key(args)
        if args.command == "server":
            from app import server

            return server.run(args)
        if args.plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
            from app import client_plain

            return client_plain.run(args)
        from app import client_tui

        return client_tui.run(args)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # Our stdout was closed (e.g. piped into `head`): nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
