"""Draw README's "What it looks like" screens from the real program, in a pty
read by pyte (tests/termharness.py): the teacher's console (`chat.pyz server`,
Chinese by default; `--lang en` with EN=1) and a student's curses client, with
a line-mode student beside them. Not a test: run it, paste what it prints.

    ./build.sh && build/venv-test/bin/python tests/readme_screens.py [chat.pyz]
"""
import os
import re
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatproc import HOST, free_udp_port, start_client  # noqa: E402
from termharness import PtyTerminal  # noqa: E402


def settle(term, what, timeout=10.0):
    term.wait_for(lambda lines, _: what(lines), timeout, "the screen")


def default_port_or_any() -> int:
    """9797 where it is free (the hints then read as a lab's do), else any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((HOST, 9797))
            return 9797
        except OSError:
            return free_udp_port()


def main(pyz: str) -> None:
    port = default_port_or_any()
    home = tempfile.mkdtemp(prefix="chat-readme-")
    env = {"TZ": "UTC", "XDG_STATE_HOME": home, "XDG_CONFIG_HOME": home}
    os.environ.update(XDG_STATE_HOME=home, XDG_CONFIG_HOME=home)
    lang = ["--lang", "en"] if os.environ.get("EN") else []
    server = PtyTerminal([pyz, "server", "--port", str(port), "--bind", HOST] + lang,
                         lines=16, cols=92, env=env)
    client = lisi = None
    try:
        settle(server, lambda l: re.search(r"\| \S+ \d:\d\d:\d\d \|", l[-2]))
        client = PtyTerminal([pyz, "client", HOST, "--port", str(port), "--name", "张三"],
                             lines=10, cols=72, env=env)
        settle(client, lambda l: any("张三 进入了聊天室" in row for row in l))
        lisi = start_client(pyz, port, "lisi", home)
        settle(client, lambda l: any("lisi 进入了聊天室" in row for row in l))
        client.type("大家好", "enter")
        lisi.wait_line(lambda line: line == "张三 : 大家好")
        server.type("下课前提交作业", "enter")
        lisi.wait_line(lambda line: line == "管理员消息: 下课前提交作业")
        client.type("我也收到了")
        settle(client, lambda l: l[-1].rstrip() == "> 我也收到了")   # typed before it comes
        lisi.send("ok, 收到")
        settle(client, lambda l: any("新 1" in row for row in l))
        time.sleep(1.5)          # not synchronisation: the console's idle times tick once
        for name, term in (("console", server), ("client", client)):
            lines, _ = term.snapshot()
            print("-- %s --" % name)
            print("\n".join(row.rstrip() for row in lines))
    finally:
        for term in (client, server):
            if term is not None:
                term.close()
        if lisi is not None:
            lisi.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "chat.pyz"))
