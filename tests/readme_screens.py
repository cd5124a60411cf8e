"""Draw README's "What it looks like" screens from the real program, in a pty
read by pyte (tests/termharness.py): the teacher's console (`chat.pyz server`,
Chinese by default; `--lang en` with EN=1) and a student's curses client, with
a line-mode student beside them. Run it, paste what it prints into README;
tests/test_readme_screens.py checks that README still shows what it draws.

    ./build.sh && build/venv-test/bin/python tests/readme_screens.py [chat.pyz]

The server's key is a fixed one (KEY_HEX, put in its state directory first), so
its four words, and where the lines around them wrap, are the same every run.
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


KEY_HEX = bytes(range(32)).hex()      # the screens' server key (its words: README)


def seed_key(home: str, port: int) -> None:
    """The fixed server key, where the server looks for it (a private state dir)."""
    state = os.path.join(home, "chat.pyz", str(port))
    os.makedirs(state, mode=0o700)
    os.chmod(os.path.join(home, "chat.pyz"), 0o700)
    descriptor = os.open(os.path.join(state, "identity.key"), os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(KEY_HEX + "\n")


def main(pyz: str) -> None:
    for name, rows in screens(pyz, bool(os.environ.get("EN"))).items():
        print("-- %s --" % name)
        print("\n".join(rows))


def screens(pyz: str, english: bool = False, tick: bool = True):
    """{"console": rows, "client": rows} as drawn (rows right-stripped).
    `tick`: wait for the console's idle times to tick once (README's look)."""
    port = default_port_or_any()
    home = tempfile.mkdtemp(prefix="chat-readme-")
    seed_key(home, port)
    env = {"TZ": "UTC", "XDG_STATE_HOME": home, "XDG_CONFIG_HOME": home}
    saved = {key: os.environ.get(key) for key in ("XDG_STATE_HOME", "XDG_CONFIG_HOME")}
    os.environ.update(XDG_STATE_HOME=home, XDG_CONFIG_HOME=home)
    lang = ["--lang", "en"] if english else []
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
        # Shown before the next keys: else it counts as new (新 2, not README's 新 1).
        settle(client, lambda l: any("下课前提交作业" in row for row in l))
        client.type("我也收到了")
        settle(client, lambda l: l[-1].rstrip() == "> 我也收到了")   # typed before it comes
        lisi.send("ok, 收到")
        settle(client, lambda l: any("新 1" in row for row in l))
        # The console's roster (sent each second) and log have both of them.
        settle(server, lambda l: any("ok, 收到" in row for row in l) and all(
            any(name in row.split("│")[-1] for row in l[:3]) for name in ("lisi", "张三")))
        if tick:
            time.sleep(1.5)      # not synchronisation: the console's idle times tick once
        return {name: [row.rstrip() for row in term.snapshot()[0]]
                for name, term in (("console", server), ("client", client))}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for term in (client, server):
            if term is not None:
                term.close()
        if lisi is not None:
            lisi.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "chat.pyz"))
