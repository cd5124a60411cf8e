"""The roster of a class (issue 18, item 6): /list and the admin console's online
pane, one person a line, by name, idle since their last line (keepalives are
not activity), muted and away marked, Chinese names aligned by display width;
32 people fit a 100x30 console.

Units for the order, the idle format and the layouts; the hub on the simulated
network (time passed in) for what counts as activity; and the built chat.pyz's
console in a real pty (pyte) with 32 real ClientCores joined over UDP, pumped
by one thread of this process (cheaper than 32 client processes, and as real
on the wire)."""
import queue
import random
import re
import selectors
import socket
import threading
import time

import pytest
from chatproc import HOST
from secure_fronts import secure_front
from simnet import SimNet
from test_admin_tui import RULE, cells, room  # noqa: F401 (room: the console's fixture)

from app.core import admin
from app.core import protocol as P
from app.core.admin import AWAY_SECONDS, MemberList, Mute, roster_key
from app.core.client_core import JOINED
from app.ui import render
from app.ui.admin_text import columns, help_lines, idle_text, result_lines
from app.ui.admin_tui import online_rows, online_width
from app.ui.width import text_width

# ---------------------------------------------------------------- units


def test_names_sort_latin_first_caseless_then_chinese_by_code_point():
    names = ["王五", "bob", "张三", "Alice", "学生", "ａmy", "Carl", "alice", "欧阳娜娜"]
    assert sorted(names, key=roster_key) == [
        "Alice", "alice", "ａmy", "bob", "Carl",      # caseless, full-width folded; ties by name
        "学生", "张三", "欧阳娜娜", "王五"]           # U+5B66 < U+5F20 < U+6B27 < U+738B
    # The order is the names' own, never the order they came in.
    shuffled = list(names)
    random.Random(18).shuffle(shuffled)
    assert sorted(shuffled, key=roster_key) == sorted(names, key=roster_key)


@pytest.mark.parametrize("seconds, shown", [
    (0, "0s"), (12.9, "12s"), (59, "59s"), (60, "1m"), (299, "4m"), (3599, "59m"),
    (3600, "1h"), (7199, "1h"), (86399, "23h"), (86400, "1d"), (30 * 86400, "30d"), (-3, "0s")])
def test_idle_is_compact(seconds, shown):
    assert idle_text(seconds) == shown


def test_columns_align_by_display_width():
    lines = columns([("张三丰", "1.2.3.4:5", "x"), ("lisi", "10.0.0.1:40000", "y")])
    assert lines == ["张三丰  1.2.3.4:5       x", "lisi    10.0.0.1:40000  y"]
    assert columns([]) == []


def meaning_column(line):
    """The display column where a help line's second field starts (after 2+ blanks)."""
    return text_width(re.match(r"\s*\S.*?\s{2,}", line).group(0))


def starts_at(line, column):
    """Does a field of `line` start at display `column`?"""
    before = next(i for i in range(len(line) + 1) if text_width(line[:i]) >= column)
    return text_width(line[:before]) == column and line[before - 1:before + 1][:1] == " " \
        and line[before:before + 1] not in ("", " ")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_help_columns_line_up_in_display_columns(lang):
    lines = help_lines(lang)
    column = meaning_column(lines[0])               # the widest command has one blank after it
    assert all(starts_at(line, column) for line in lines)
    for lang, texts in render.TEXTS.items():
        rows = [line for line in texts["help"] if line.startswith("  /")]   # the commands
        assert len({meaning_column(line) for line in rows}) == 1, (lang, rows)


def test_list_lines_align_with_chinese_names_and_say_muted_and_away():
    rows = (("Bob", "127.0.0.1:4001", 75, 0, False), ("欧阳娜娜", "127.0.0.1:4000", 3, 12, True),
            ("王五", "10.0.0.7:40000", AWAY_SECONDS, 1, False))
    lines = result_lines(MemberList(rows), "en")
    assert lines[0] == "3 online"
    assert lines[1:] == ["  Bob       127.0.0.1:4001  idle 1m   said 0",
                         "  欧阳娜娜  127.0.0.1:4000  idle 3s   said 12  muted",
                         "  王五      10.0.0.7:40000  idle 10m  said 1   away"]
    assert len({text_width(line[:line.index("idle")]) for line in lines[1:]}) == 1
    lines = result_lines(MemberList(rows), "zh")
    assert lines == ["在线 3 人",
                     "  Bob       127.0.0.1:4001  空闲 1m   发言 0 次",
                     "  欧阳娜娜  127.0.0.1:4000  空闲 3s   发言 12 次  禁言",
                     "  王五      10.0.0.7:40000  空闲 10m  发言 1 次   离开"]


def class_of(count):
    """`count` names, Latin and Chinese, wide and narrow, in no particular order."""
    latin = ["ann", "Bob", "carl", "Dora", "eve", "Frank", "gil", "Hana", "ivo", "Jun",
             "kai", "Lena", "mo", "Nils", "olga", "zhangxiaoming"]
    chinese = ["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九", "吴十", "郑一", "冯二",
               "陈三", "褚四", "卫五", "蒋六", "欧阳娜娜", "沈七"]
    names = (latin + chinese)[:count]
    random.Random(count).shuffle(names)
    return names


def cell_ends(row):
    """(mark, name, idle, display column where the idle ends) for each roster
    cell in a row of text."""
    return [(m.group(1), m.group(2), m.group(3), text_width(row[:m.end()]))
            for m in re.finditer(r"(?:^| )([ !~])(\S+?) +(\d+[smhd])(?= |$)", row)]


def test_32_people_two_columns_of_16_aligned_in_the_100x30_pane():
    names = sorted(class_of(32), key=roster_key)
    online = tuple((n, "127.0.0.1:%d" % (4000 + i), 37 * i, i % 3, n == "李四")
                   for i, n in enumerate(names))
    width, height = online_width(100) - 2, 30 - 2      # the rule; status and input lines
    rows = ["".join(text for text, _ in row) for row in online_rows(online, width, height, "en")]
    assert rows[0].startswith("online 32") and rows[0].endswith("! muted  ~ away")
    head = "".join(text for text, _ in online_rows(online, width, height, "zh")[0])
    assert head.startswith("在线 32") and head.endswith("! 禁言  ~ 离开") and \
        text_width(head) == width
    assert len(rows) == 1 + 16 and {text_width(row) for row in rows} == {width}
    found = [cell_ends(row) for row in rows[1:]]
    assert all(len(cells_) == 2 for cells_ in found)
    # Down the first column, then the second; every idle time ends at its column's edge.
    assert [c[1] for c in [r[0] for r in found] + [r[1] for r in found]] == \
        [n if text_width(n) <= 10 else "zhangxiaom" for n in names]
    assert {r[0][3] for r in found} == {15} and {r[1][3] for r in found} == {width}
    assert [c[0] for r in found for c in r if c[1] == "李四"] == ["!"]
    assert all(c[0] == "~" for r in found for c in r if c[2] in ("10m", "11m", "12m"))


def test_more_than_fit_are_a_count():
    online = tuple((n, "x:1", 0, 0, False) for n in sorted(class_of(32), key=roster_key))
    rows = ["".join(text for text, _ in row) for row in online_rows(online, 22, 6, "en")]
    assert len(rows) == 6 and rows[-1].endswith(" +23 more   ")   # 2 columns of 5; 9 shown
    rows = ["".join(text for text, _ in row) for row in online_rows(online, 22, 6, "zh")]
    assert rows[-1].endswith(" 另有 23 人 ")                        # "(/list)" does not fit


# ---------------------------------------------------------------- the hub

def test_keepalives_do_not_reset_idle_a_line_does():
    net = SimNet(18)
    a, b, c = net.join_all(["张三", "bob", "Ann"])
    net.run(10 * 60.0)
    net.clients[a].say("我在")
    net.run(1.0)
    rows = admin.member_rows(net.hub, net.now)
    assert [row.name for row in rows] == ["Ann", "bob", "张三"]
    idle = {row.name: row.idle for row in rows}
    assert idle["张三"] <= 1 and idle["bob"] >= 10 * 60 and idle["Ann"] >= 10 * 60
    # bob's keepalives did reach the hub all along: heard from, but said nothing.
    bob = next(s for s in net.hub.members() if s.name == "bob")
    assert net.now - bob.last_heard < 10
    assert [row.said for row in rows] == [0, 0, 1]
    assert "away" in result_lines(MemberList(rows), "en")[2] and \
        "away" not in result_lines(MemberList(rows), "en")[3]


def test_emote_and_private_count_as_lines_and_mutes_show():
    net = SimNet(19)
    a, b = net.join_all(["a1", "b2"])
    net.run(120.0)
    net.clients[a].say("waves", P.EMOTE)
    net.clients[b].say("hi", P.PRIVATE, target="a1")
    net.run(1.0)
    admin.apply(net.hub, net.now, Mute("b2", 5))
    rows = admin.member_rows(net.hub, net.now)
    assert [(row.name, row.idle <= 1, row.muted) for row in rows] == \
        [("a1", True, False), ("b2", True, True)]
    net.run(6 * 60.0)                           # the mute runs out
    assert [row.muted for row in admin.member_rows(net.hub, net.now)] == [False, False]


def test_coming_back_from_a_new_address_is_not_a_line():
    net = SimNet(20)
    a, b = net.join_all(["a1", "b2"])
    net.clients[b].say("before")
    net.run(5 * 60.0)
    moved = ("10.0.1.9", 40009)                  # NAT rebinding, or a laptop changing Wi-Fi
    net.clients[moved], net.events[moved] = net.clients.pop(b), net.events.pop(b)
    net.hub.take_log()
    net.run(20.0)
    assert [entry.what for entry in net.hub.take_log()] == [admin.LogKind.RESUME]
    row = admin.member_rows(net.hub, net.now)[1]
    assert (row.name, row.addr, row.said, row.idle >= 5 * 60) == ("b2", "10.0.1.9:40009", 1, True)


# ---------------------------------------------------------------- the console

class Crowd:
    """Real clients of a real server: a ClientCore each on its own UDP socket,
    all pumped by one thread (ticks, datagrams both ways) until close()."""

    LIFE = 80.0                                  # the thread stops by then at the latest

    def __init__(self, port, names):
        self.server = (HOST, port)
        self.cores, self.fronts, self.socks = [], [], []
        for name in names:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, 0))
            sock.setblocking(False)
            self.socks.append(sock)
            front = secure_front(name, time.monotonic(), rng=random.Random(name))
            self.fronts.append(front)
            self.cores.append(front.core)
        self.orders = queue.Queue()              # callables on a core, run by the thread
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        sel = selectors.DefaultSelector()
        for sock, front in zip(self.socks, self.fronts):
            sel.register(sock, selectors.EVENT_READ, front)
        end = time.monotonic() + self.LIFE
        while not self.stopping.is_set() and time.monotonic() < end:
            while not self.orders.empty():
                self.orders.get()(time.monotonic())
            now = time.monotonic()
            for sock, front in zip(self.socks, self.fronts):
                front.tick(now)
                for data in front.take_output():
                    sock.sendto(data, self.server)
                front.core.take_events()
            for key, _ in sel.select(0.05):
                for _ in range(64):                # bounded: the next tick comes soon
                    try:
                        data = key.fileobj.recv(P.MAX_DATAGRAM + 1)
                    except BlockingIOError:
                        break
                    key.data.on_datagram(time.monotonic(), data)
        sel.close()

    def joined(self):
        return all(core.state == JOINED for core in self.cores)

    def close(self):
        """Everyone says goodbye (BYE until acknowledged, or a second), then stop."""
        for core in self.cores:
            self.orders.put(core.leave)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not all(c.leaving_done for c in self.cores):
            time.sleep(0.05)
        self.stopping.set()
        self.thread.join(timeout=5)
        for sock in self.socks:
            sock.close()


@pytest.fixture
def crowd():
    made = []

    def make(port, names):
        made.append(Crowd(port, names))
        return made[-1]

    yield make
    for one in made:
        one.close()


def test_a_class_of_32_fits_the_100x30_console(room, crowd):
    cols, lines = 100, 30
    r = room(lines=lines, cols=cols, lang=())          # the Chinese console, the default
    names = class_of(32)
    people = crowd(r.port, names)
    r.online(32)
    assert people.joined()
    r.type_line("/mute 李四")
    side = online_width(cols)
    expected = sorted(names, key=roster_key)           # as roster_key's test pins it

    def roster(screen, cursor):
        pane = [cells(row, cols - side).rstrip() for row in screen[:-2]]
        if not (pane[0].startswith(RULE + "在线 32") and "! 禁言" in pane[0]):
            return False
        found = [cell_ends(row[len(RULE):]) for row in pane[1:] if row[len(RULE):].strip()]
        if not found or any(len(c) != 2 for c in found[:-1]):
            return False
        order = [c[0][1] for c in found] + [c[1][1] for c in found if len(c) > 1]
        marked = [c[0] for row in found for c in row if c[0] != " "]
        return (order == [n if text_width(n) <= 10 else n[:10] for n in expected]
                and marked == ["!"] and len({c[0][3] for c in found}) == 1
                and len({c[1][3] for c in found if len(c) > 1}) == 1)

    screen, _ = r.term.wait_for(roster, what="32 people in the roster, 李四 muted")
    pane = [cells(row, cols - side).rstrip() for row in screen[:-2]]
    assert len(pane) == 28 and sum(1 for row in pane if cell_ends(row)) == 16
