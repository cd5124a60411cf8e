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
    when, what, name, addr, detail = entry[:5]      # (a LogEntry has two more fields)
    second = int(when or 0)
    stamp = _stamps.get(second)
    if stamp is None:
        _stamps.clear()
        stamp = _stamps[second] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
    parts = [stamp, str(what), str(name or "-"), str(addr)]
    if detail:
        # A message's line breaks would start lines that look like entries of
        # their own: they are shown as " ↵ ", one entry staying one line.
        parts.append(str(detail).replace("\n", " \u21b5 "))
    return " ".join(parts)


def iso_time(when: float) -> str:
    """Local time with its UTC offset: `2026-11-26T19:10:47+08:00`."""
    local = time.localtime(when)
    offset = local.tm_gmtoff if local.tm_gmtoff is not None else -time.timezone
    sign = "+" if offset >= 0 else "-"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + "%s%02d:%02d" % (
        sign, abs(offset) // 3600, abs(offset) % 3600 // 60)


def entry_record(entry: Sequence[Any]) -> Dict[str, Any]:
    """A room log entry as the --log transcript's and `chat.pyz log
    --format jsonl`'s JSON object."""
    when, what, name, addr, detail = entry[:5]
    return {"time": iso_time(when), "event": str(what), "name": name, "addr": addr,
            "detail": detail}
