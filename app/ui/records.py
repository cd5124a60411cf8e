"""The teacher's record: `chat.pyz log` and `chat.pyz report`, read from the
room's database (app/net/state_db.py) without a server running.

    chat.pyz log    [--state DIR] [--port P] [--since WHEN] [--name NAME]
                    [--format text|csv|jsonl|html]
    chat.pyz report [--state DIR] [--port P] [--since WHEN] [--format text|html]
                    [--lang zh|en]

`log` prints the transcript: every line, emote and announcement, joins and
leaves, kicks and bans (text as the admin console words them; csv and jsonl
with the --log transcript's fields; html one self-contained page). `report`
is each person's participation: lines said, first and last seen, a bar chart
of the lines in block characters (html: the same table with bars of its own),
then the hand-ins of the period (交作业: who, which file, its size, when, its
SHA-256 and where it is stored), when there are any. Both are worded in
--lang (Chinese by default), their columns aligned by display width.
The database is opened read-only: a running server is never disturbed.

WHEN: `2026-12-04`, `2026-12-04 14:00`, `14:00` (today), `today`, or an age:
`90m`, `2h`, `3d`.
"""
import csv
import html
import io
import json
import re
import sys
import time
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, TextIO

from app.core.admin import LogKind
from app.core.exit_codes import ExitCode
from app.core.file_names import human_size
from app.core.options import RecordOptions
from app.core.text import name_key, sanitize_text
from app.net.admin_log import entry_record
from app.net.state_db import DB_NAME, Row, StateDB, StateError
from app.net.state_dir import find_state
from app.ui.admin_text import log_body, pad, state_text
from app.ui.language import worded
from app.ui.width import text_width

BLOCKS = " ▏▎▍▌▋▊▉█"         # eighths of a character cell, for the bars
BAR_WIDTH = 30
SAID = (LogKind.CHAT.value, LogKind.EMOTE.value)
SEEN = SAID + (LogKind.JOIN.value, LogKind.LEAVE.value, LogKind.TIMEOUT.value,
               LogKind.KICK.value, LogKind.RESUME.value, LogKind.PRIVATE.value)
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([mhd])$")


def parse_when(text: str, now: float) -> Optional[float]:
    """--since as seconds since the epoch; None when it is none of the forms."""
    text = text.strip()
    age = _AGE.match(text)
    if age:
        return now - float(age.group(1)) * {"m": 60, "h": 3600, "d": 86400}[age.group(2)]
    today = time.strftime("%Y-%m-%d", time.localtime(now))
    if text == "today":
        text = today
    elif re.match(r"^\d\d?:\d\d$", text):
        text = today + " " + text
    for form in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return time.mktime(time.strptime(text, form))
        except ValueError:
            continue
    return None


def open_db(options: RecordOptions) -> StateDB:
    directory = options.state or find_state(options.port, DB_NAME)
    if directory is None:
        raise StateError("db_none_for_port", port=options.port)
    return StateDB.open(directory, readonly=True)


def stamp(when: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


# ---------------------------------------------------------------- log

def write_log(rows: Sequence[Row], form: str, out: TextIO, lang: str = "zh") -> None:
    if form == "jsonl":
        for row in rows:
            out.write(json.dumps(entry_record(row), ensure_ascii=False) + "\n")
    elif form == "csv":
        writer = csv.writer(out)
        writer.writerow(("time", "event", "name", "addr", "detail"))
        for row in rows:
            record = entry_record(row)
            writer.writerow([record[key] for key in ("time", "event", "name", "addr", "detail")])
    elif form == "html":
        body = "".join("<tr class=%s><td>%s</td><td>%s</td></tr>\n" % (
            html.escape(row.what), html.escape(stamp(row.time)), html.escape(log_body(row, lang)[0]))
            for row in rows)
        out.write(page(tr(lang, "log_title"), "<table>\n%s</table>" % body, lang))
    else:
        for row in rows:
            out.write("%s %s\n" % (stamp(row.time), log_body(row, lang)[0]))


def page(title: str, content: str, lang: str = "zh") -> str:
    """One self-contained HTML page: no script, no outside file."""
    return ("<!DOCTYPE html>\n<html lang=" + lang + "><head><meta charset=utf-8><title>%s</title>\n"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{padding:2px 8px;text-align:left;vertical-align:top}"
            "tr.admin td{color:#a40}tr.kick td,tr.ban td{color:#b00}"
            "tr.join td,tr.leave td,tr.timeout td{color:#777}"
            ".bar{background:#4a7;height:1em}</style></head>\n"
            "<body><h1>%s</h1>\n%s\n</body></html>\n" % (html.escape(title), html.escape(title),
                                                         content))


# ---------------------------------------------------------------- report

class Person(NamedTuple):
    name: str
    lines: int
    first: float
    last: float


def participation(rows: Sequence[Row]) -> List[Person]:
    """Each person's lines and first and last time seen, most lines first."""
    people: Dict[str, List] = {}
    for row in rows:
        if row.what not in SEEN or not row.name:
            continue
        entry = people.setdefault(name_key(row.name), [row.name, 0, row.time, row.time])
        entry[1] += row.what in SAID
        entry[2], entry[3] = min(entry[2], row.time), max(entry[3], row.time)
    return sorted((Person(*p) for p in people.values()),
                  key=lambda p: (-p.lines, name_key(p.name)))


def bar(value: int, most: int, width: int = BAR_WIDTH) -> str:
    """`value` out of `most` as block characters, to an eighth of a cell."""
    eighths = max(1, round(8 * width * value / most)) if most and value else 0   # one line shows
    return BLOCKS[-1] * (eighths // 8) + (BLOCKS[eighths % 8] if eighths % 8 else "")


# The report's words (the log's are the console's: admin_text.log_body).
TEXTS: Dict[str, Dict[str, str]] = {
    "zh": {"name": "名字", "lines": "发言", "first": "第一次出现", "last": "最后一次出现",
           "nobody": "(这段时间里没有人)", "hand_ins": "交作业: %(count)d 份，来自 %(people)d 人",
           "time": "时间", "file": "文件", "size": "大小", "stored": "保存为",
           "log_title": "chat.pyz 聊天记录", "report_title": "chat.pyz 参与情况",
           "bad_since": "--since %(since)s 不是一个时间 (2026-12-04、2026-12-04 14:00、14:00、"
                        "today、90m、2h、3d)"},
    "en": {"name": "name", "lines": "lines", "first": "first seen", "last": "last seen",
           "nobody": "(nobody in this period)", "hand_ins": "hand-ins: %(count)d from "
           "%(people)d people", "time": "time", "file": "file", "size": "size",
           "stored": "stored as", "log_title": "chat.pyz log",
           "report_title": "chat.pyz report",
           "bad_since": "--since %(since)s is not a time (2026-12-04, 2026-12-04 14:00, 14:00, "
                        "today, 90m, 2h, 3d)"},
}


def tr(lang: str, key: str, **values: Any) -> str:
    return worded(TEXTS, lang, key, values)


def write_report(people: Sequence[Person], form: str, out: TextIO, lang: str = "zh") -> None:
    most = max((p.lines for p in people), default=0)
    heads = [tr(lang, key) for key in ("name", "lines", "first", "last")]
    if form == "html":
        body = "".join(
            "<tr><td>%s</td><td>%d</td><td>%s</td><td>%s</td>"
            "<td><div class=bar style=\"width:%.1fem\"></div></td></tr>\n"
            % (html.escape(sanitize_text(p.name)), p.lines, stamp(p.first), stamp(p.last),
               20.0 * p.lines / most if most else 0) for p in people)
        out.write(page(tr(lang, "report_title"), "<table><tr>%s<th></th></tr>\n%s</table>" % (
            "".join("<th>%s</th>" % html.escape(h) for h in heads), body), lang))
        return
    # Columns by display width (a Chinese name or heading takes two cells a
    # character); the count right-aligned under its heading.
    rows = [(sanitize_text(p.name), "%d" % p.lines, stamp(p.first), stamp(p.last))
            for p in people]
    widths = [max(text_width(row[i]) for row in rows + [tuple(heads)]) for i in range(4)]
    lines = [_row(heads, widths)] + [
        _row(row, widths) + "  " + bar(person.lines, most) for row, person in zip(rows, people)]
    out.write("".join(line.rstrip() + "\n" for line in lines))
    if not people:
        out.write(tr(lang, "nobody") + "\n")


def _row(fields: Sequence[str], widths: Sequence[int]) -> str:
    """A report line: the name padded, the count right-aligned, the times padded."""
    name, count, first, last = fields
    return "  ".join((pad(name, widths[0]), " " * (widths[1] - text_width(count)) + count,
                      pad(first, widths[2]), pad(last, widths[3])))


# (name, file, stored path, size, time, sha256 hex): StateDB.hand_ins
HandIn = Sequence


def write_hand_ins(hand_ins: Sequence[HandIn], form: str, out: TextIO, lang: str = "zh") -> None:
    """The hand-ins after the participation table: one row each, oldest first."""
    if not hand_ins:
        return
    people = len({name_key(h[0]) for h in hand_ins})
    title = tr(lang, "hand_ins", count=len(hand_ins), people=people)
    if form == "html":
        body = "".join(
            "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td><code>%s</code></td>"
            "<td>%s</td></tr>\n" % (stamp(h[4]), html.escape(sanitize_text(h[0])),
                                   html.escape(sanitize_text(h[1])), human_size(h[3]),
                                   html.escape(h[5]), html.escape(sanitize_text(h[2])))
            for h in hand_ins)
        heads = "".join("<th>%s</th>" % html.escape(tr(lang, key) if key else "sha256")
                        for key in ("time", "name", "file", "size", "", "stored"))
        out.write("<h2>%s</h2>\n<table><tr>%s</tr>\n%s</table>\n"
                  % (html.escape(title), heads, body))
        return
    out.write("\n%s\n" % title)
    names = [sanitize_text(h[0]) for h in hand_ins]
    width = max(text_width(name) for name in names)
    for name, (_, file, stored, size, when, sha) in zip(names, hand_ins):
        out.write("%s  %s  %s (%s)  sha256 %s  → %s\n" % (
            stamp(when), pad(name, width), sanitize_text(file), human_size(size), sha,
            sanitize_text(stored)))


# ---------------------------------------------------------------- commands

def run(options: RecordOptions, out: Optional[TextIO] = None) -> int:
    """`chat.pyz log` or `chat.pyz report` (options.command)."""
    out = out or sys.stdout
    since = 0.0
    if options.since:
        when = parse_when(options.since, time.time())
        if when is None:
            print("chat.pyz: " + tr(options.lang, "bad_since", since=options.since),
                  file=sys.stderr)
            return ExitCode.USAGE
        since = when
    try:
        db = open_db(options)
        try:
            rows = db.events(since=since)
            hand_ins = [h for h in db.hand_ins() if h[4] >= since]
        finally:
            db.close()
    except StateError as exc:
        print("chat.pyz: %s" % state_text(exc.key, exc.values, options.lang), file=sys.stderr)
        return ExitCode.ERROR
    if options.command == "report":
        if options.format == "html":              # the hand-ins inside the same page
            report, extra = io.StringIO(), io.StringIO()
            write_report(participation(rows), "html", report, options.lang)
            write_hand_ins(hand_ins, "html", extra, options.lang)
            out.write(report.getvalue().replace("</body>", extra.getvalue() + "</body>"))
        else:
            write_report(participation(rows), options.format, out, options.lang)
            write_hand_ins(hand_ins, options.format, out, options.lang)
        return ExitCode.OK
    if options.name is not None:
        key = name_key(options.name)
        rows = [row for row in rows if name_key(row.name) == key]
    write_log(rows, options.format, out, options.lang)
    return ExitCode.OK
