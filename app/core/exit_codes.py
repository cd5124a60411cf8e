"""The process exit codes of `chat.pyz` (also in the README's table)."""
import enum


class ExitCode(enum.IntEnum):
    OK = 0             # normal exit
    ERROR = 1          # runtime error (port in use, no permission, ...), one clear line on stderr
    USAGE = 2          # bad command-line arguments (argparse prints usage)
    REFUSED = 3        # the server refused us (name taken or invalid, banned, full, wrong
                       # password), or removed us (kicked, banned) while we were in the room
    UNREACHABLE = 4    # the server could not be reached (or, without HOST, none or several found)
