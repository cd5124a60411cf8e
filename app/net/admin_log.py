"""The headless log's line, the one thing both ends of the admin link print.

The network process and its admin console talk over app.net.channel in the
vocabulary of app.core.console_messages. The headless console prints each
room log entry as one dated line; so does the network process itself once
its console is gone (it goes on headless), which is why the line is made
here, in the shell layer, and not in a front end.
"""
import time
from typing import Any, Dict, Sequence

_stamps: Dict[int, str] = {}       # whole second -> its text: a busy room logs many a second


def log_text(entry: Sequence[Any]) -> str:
    """A room log entry (time, what, name, addr, detail: hub.LogEntry or the
    plain tuple it arrives as) as one line of the headless log:
    `2026-11-26 19:10:47 chat 张三 10.0.0.5:40000 大家好`."""
    when, what, name, addr, detail = entry
    second = int(when or 0)
    stamp = _stamps.get(second)
    if stamp is None:
        _stamps.clear()
        stamp = _stamps[second] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
    parts = [stamp, str(what), str(name or "-"), str(addr)]
    if detail:
        parts.append(str(detail))
    return " ".join(parts)
