"""The teacher never loses moderation: when the server's curses console dies on a
terminal that is still there, a line-mode console takes its place on it (issue 18,
item 2). Through the built chat.pyz in a real pty against real line-mode clients;
also the console's small things: the log pane's hanging wrap and the status line's
address. Every wait has a deadline.
"""
import os
import re
import signal
import subprocess

import pytest
from chatproc import WAIT, free_udp_port, start_client, start_server, wait_until
from termharness import PtyTerminal, children_of, process_report, process_state
from test_admin_tui import room, sane, wait_asleep  # noqa: F401 (room: a fixture)

from app.net.server import listen_text
from app.ui.admin_text import DATED, tr
from app.ui.admin_tui import hanging_rows
from app.ui.width import text_width

pytestmark = pytest.mark.timeout(90)

# The `room` consoles speak English (test_admin_tui); start_server's, Chinese.
CONSOLE_REPLACED, CONSOLE_ENDED = tr("en", "note_console_replaced"), tr("en", "note_console_ended")


def output_after(term, needle):
    """What the server wrote to the terminal after the first `needle` (the screen
    emulator keeps the dead curses console's rows: pyte has no alternate screen),
    squashed of whitespace and line breaks; None before `needle` came."""
    text = bytes(term.raw).decode("utf-8", "replace")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|[\r\n ]", "", text)   # escapes, where a row wrapped
    needle = re.sub(r"\s", "", needle)
    return text.split(needle, 1)[1] if needle in text else None


def wait_output(term, after, wanted, what):
    wanted = re.sub(r"\s", "", wanted)
    term.wait_for(lambda l, c: wanted in (output_after(term, after) or ""), what=what)


def kill_console(r):
    """SIGKILL the curses console; return the line-mode console that replaces it,
    once it said so and showed how students join."""
    os.kill(r.console, signal.SIGKILL)
    wait_output(r.term, CONSOLE_REPLACED, "how to join: ", "the join hints under the line")
    r.term.wait_for(lambda l, c: process_state(r.console) is None, timeout=3,
                    what="the curses console reaped")
    [line_console] = children_of(r.network)
    return line_console


# ---------------------------------------------------------------- pure parts

def test_listen_text_reads_as_a_teacher_reads_it():
    assert listen_text("::", 31001) == "*:31001"              # the dual-stack default
    assert listen_text("0.0.0.0", 31001) == "*:31001"
    assert listen_text("127.0.0.1", 9797) == "127.0.0.1:9797"
    assert listen_text("::ffff:10.0.0.5", 9797) == "10.0.0.5:9797"
    assert listen_text("fe80::1", 9797) == "[fe80::1]:9797"


def test_log_lines_hang_under_the_text():
    line = [("12:00:00 ", "time"), ("张三 : ", ""), ("一二三四五六七八九十 abc def", "room")]
    rows = hanging_rows(line, 9 + 20)
    assert ["".join(text for text, _ in row) for row in rows] == [
        "12:00:00 张三 : 一二三四五六",
        "         七八九十 abc def"]
    assert rows[0][0] == ("12:00:00 ", "time") and rows[1][-1] == ("七八九十 abc def", "room")
    assert all(text_width("".join(t for t, _ in row)) <= 29 for row in rows)
    # Too narrow to spare the time column: wrapped from column 0.
    assert ["".join(text for text, _ in row) for row in hanging_rows(line, 20)] == [
        "12:00:00 张三 :", "一二三四五六七八九十", "abc def"]
    # A line that fits is one row, as given.
    assert hanging_rows([("12:00:00 ", "time"), ("hi", "")], 80) == \
        [[("12:00:00 ", "time"), ("hi", "")]]


# ---------------------------------------------------------------- in a pty

def test_killed_console_is_replaced_by_lines_that_announce_and_kick(room):
    r = room()
    zhang, lisi = r.join("张三"), r.join("lisi")
    r.online(2)
    line_console = kill_console(r)
    assert line_console != r.console
    r.type_line("下课前提交作业")
    for client in (zhang, lisi):
        client.wait_line(lambda line: line == "管理员消息: 下课前提交作业")
    r.type_line("/kick 张三 刷屏")
    lisi.wait_line(lambda line: line == "张三 退出了聊天室 (被踢出)")
    assert zhang.wait_exit() == 3                           # ExitCode.REFUSED: removed
    assert "刷屏" in zhang.stderr_text()                     # the admin's reason, shown
    wait_output(r.term, CONSOLE_REPLACED, "张三 left the room (kicked: 刷屏)", "the kick in the log")
    r.type_line("/list")
    wait_output(r.term, "left the room (kicked: 刷屏)", "/list 1 online lisi", "the /list reply")
    wait_asleep(r.term, line_console)
    # The window closed: the server stops as it would with its curses console
    # (in ~2.4 s on a quiet machine: the clients' farewells, the console's
    # grace; 5 s was too short once on a loaded one).
    r.term.hang_up()
    try:
        wait_until(lambda: process_state(r.network) is None and
                   process_state(line_console) is None, WAIT, "both gone")
    except AssertionError as exc:
        raise AssertionError("%s\n%s\nthe server's last output: %r" % (
            exc, "\n".join(process_report(pid) for pid in (r.network, line_console)),
            bytes(r.term.raw[-600:]).decode("utf-8", "replace"))) from None
    r.term.wait_for(lambda l, c: "服务器已关闭" in lisi.stderr_text(),
                    what="the client told that the server is closing")


def test_line_console_killed_too_the_room_goes_on_headless_with_the_hints(room):
    r = room()
    zhang = r.join("张三")
    line_console = kill_console(r)
    os.kill(line_console, signal.SIGKILL)
    wait_output(r.term, CONSOLE_ENDED, "how to join: ", "the join hints, again")
    r.term.wait_for(lambda l, c: process_state(line_console) is None, timeout=3,
                    what="the line console reaped")
    zhang.send("还在吗")
    wait_output(r.term, CONSOLE_ENDED, "张三 : 还在吗", "the log on stdout")
    wait_asleep(r.term, r.network)
    assert children_of(r.network) == []             # one replacement, no more
    os.kill(r.network, signal.SIGTERM)
    code, modes = r.shell_after()
    assert code == 0 and sane(modes), sorted(modes)


def test_sigterm_to_the_line_console_leaves_the_room_going(room):
    """The line console is a console as the curses one is: a hang-up stops the
    server, anything else that ends it leaves the room serving."""
    r = room()
    zhang = r.join("张三")
    line_console = kill_console(r)
    os.kill(line_console, signal.SIGTERM)
    wait_output(r.term, CONSOLE_ENDED, "how to join: ", "the join hints")
    zhang.send("还在吗")
    wait_output(r.term, CONSOLE_ENDED, "张三 : 还在吗", "the log on stdout")
    assert process_state(r.network) not in (None, "Z")


def test_headless_console_killed_off_a_terminal_the_hints_follow(pyz, tmp_path, procs):
    """No terminal (stdout a pipe): the line console's death is not repaired (no
    terminal to read), but the join hints come again under the line that says so."""
    port = free_udp_port()
    server = start_server(pyz, port, tmp_path, stdin=subprocess.PIPE)
    procs.append(server)
    [console] = children_of(server.popen.pid)
    os.kill(console, signal.SIGKILL)
    server.wait_line(lambda line: DATED.match(line) and
                     line.endswith(tr("zh", "note_console_ended")))
    server.wait_line(lambda line: line.startswith("加入方法: ") and " client 127.0.0.1" in line)
    wait_until(lambda: not children_of(server.popen.pid), 3, "the console reaped, none new")


def test_status_line_shows_all_interfaces_as_a_star(pyz, tmp_path):
    """No --bind: the dual-stack socket on "::" reads `*:PORT`, not `:::PORT`
    (and the status line is in Chinese by default)."""
    port = free_udp_port()
    with PtyTerminal([pyz, "server", "--port", str(port)], env={"TZ": "UTC"}) as term:
        client = None
        try:
            term.wait_for(lambda l, c: re.match(r" \*:%d \| 运行 " % port, l[-2]),
                          what="the status line")
            client = start_client(pyz, port, "张三", tmp_path)
            term.wait_for(lambda l, c: re.match(r" \*:%d \| 运行 .*\| 在线 1 \|" % port, l[-2]),
                          what="在线 1 on the status line")
            assert not any(":::" in row for row in term.snapshot()[0])
            os.kill(term.proc.pid, signal.SIGTERM)
            assert term.wait_exit(5) == 0
        finally:
            if client is not None:
                client.stop()
