"""The room's state across server restarts, through the built chat.pyz with a
real --state directory: acknowledged lines survive a kill -9, bans, mutes and
the motd survive a restart, a kick refuses for its cooldown."""
import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from tests.chatproc import HOST, WAIT, free_udp_port, start_client, start_server, wait_until
from tests.interop_client import InteropClient, Refused


@pytest.fixture
def port():
    return free_udp_port()


@pytest.mark.parametrize("lines, rate", [(25, []), (20, ["--line-rate", "1"])],
                         ids=["within-the-burst", "held-by-flood-control"])
def test_kill_9_loses_no_acknowledged_line(pyz, port, procs, tmp_path, lines, rate):
    # At --line-rate 1 the burst is 6 lines: the other 14 are acknowledged and
    # held, released one a second; the kill comes while most are still held.
    state = str(tmp_path / "state")
    server = start_server(pyz, port, tmp_path, "--state", state, "--history", "50", *rate)
    procs.append(server)
    talker = InteropClient(HOST, port, "张三")
    try:
        talker.join()
        for i in range(lines):
            talker.say("line %d" % i)
        deadline = time.monotonic() + WAIT
        while talker.unacked:                 # until the server has acked every line
            assert time.monotonic() < deadline, "lines not acknowledged"
            talker.poll(0.005)
        os.kill(server.popen.pid, signal.SIGKILL)     # at once after the last ack
    finally:
        talker.close()
    server.stop()
    procs.remove(server)
    procs.append(start_server(pyz, port, tmp_path, "--state", state, "--history", "50",
                              name="server2"))
    late = start_client(pyz, port, "lisi", tmp_path, wait_joined=False)
    procs.append(late)
    late.wait_line(lambda line: line == "lisi 进入了聊天室")
    history = [line for line in late.seen if line.startswith("张三 : ")]
    assert history == ["张三 : line %d" % i for i in range(lines)]
    printed = subprocess.run([pyz, "log", "--state", state], capture_output=True,
                             timeout=30, env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    assert printed.returncode == 0, printed.stderr
    said = [line[20:] for line in printed.stdout.decode("utf-8").splitlines()
            if " : line " in line]
    assert said == ["张三 : line %d" % i for i in range(lines)]


def test_history_is_served_from_the_database_after_a_restart_and_replays_are_not_doubled(
        pyz, port, procs, tmp_path):
    state = str(tmp_path / "state")
    server = start_server(pyz, port, tmp_path, "--state", state, stdin=subprocess.PIPE)
    procs.append(server)
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    zhang.send("before the restart")
    # The announcement after the line has reached the server: both are typed into
    # separate processes, so without this wait their order is a race.
    server.wait_line(lambda line: line.endswith(" 张三 : before the restart"))
    server.send("下课前提交作业")
    server.wait_line(lambda line: "下课前提交作业" in line)
    zhang.wait_line(lambda line: line == "管理员消息: 下课前提交作业")
    server.stop()
    procs.remove(server)
    server = start_server(pyz, port, tmp_path, "--state", state, name="server2")
    procs.append(server)
    # 张三's client says its last lines again to the new run (PROTOCOL.md 10.3): the
    # new run knows their msg_ids from the database and does not say them twice.
    server.wait_line(lambda line: " 张三 进入了聊天室  " in line, timeout=30)
    zhang.send("after")                       # in order after any replay: the sync point
    server.wait_line(lambda line: line.endswith(" 张三 : after"))
    assert not [line for line in server.seen if "before the restart" in line]
    late = start_client(pyz, port, "lisi", tmp_path, wait_joined=False)
    procs.append(late)
    late.wait_line(lambda line: line == "lisi 进入了聊天室")
    assert late.seen[:late.seen.index("lisi 进入了聊天室")] == [
        "张三 : before the restart", "管理员消息: 下课前提交作业", "张三 : after"]


def test_an_unusable_state_dir_is_one_line_and_the_room_runs_in_memory(pyz, port, procs,
                                                                       tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "room.sqlite3").write_bytes(b"not a database" * 1000)
    os.chmod(str(state), 0o700)
    server = start_server(pyz, port, tmp_path, "--state", str(state))
    procs.append(server)
    server.wait_line(lambda line: "坏了" in line and line.endswith("这次运行里聊天室的状态只保存在内存里"))
    procs.append(start_client(pyz, port, "张三", tmp_path))
    assert "Traceback" not in server.stderr_text()


def refused_client(pyz, port, name, tmp_path):
    """A line-mode client expected to be refused: its exit code and its one line."""
    proc = start_client(pyz, port, name, tmp_path, wait_joined=False)
    try:
        code = proc.wait_exit()
    finally:
        proc.stop()
    return code, proc.stderr_text().strip()


def test_a_ban_a_mute_and_the_motd_survive_a_restart(pyz, port, procs, tmp_path):
    state = str(tmp_path / "state")
    server = start_server(pyz, port, tmp_path, "--state", state, stdin=subprocess.PIPE)
    procs.append(server)
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    li = start_client(pyz, port, "lisi", tmp_path)
    procs.append(li)
    server.send("/mute 张三 10")
    server.wait_line(lambda line: line == "已禁止 张三 发言 10 分钟")
    zhang.wait_line(lambda line: "你已被管理员禁言，到 " in line)
    server.send("/ban lisi 10 rude")
    server.wait_line(lambda line: line.startswith("封禁了名字 lisi，10 分钟"))
    assert li.wait_exit() == 3
    server.send("/motd 欢迎来到实验室")
    server.wait_line(lambda line: line == "欢迎消息: 欢迎来到实验室")
    server.stop()                                   # SIGTERM: the clients wait for it
    procs.remove(server)
    server = start_server(pyz, port, tmp_path, "--state", state, stdin=subprocess.PIPE,
                          name="server2")
    procs.append(server)
    code, said = refused_client(pyz, port, "LiSi", tmp_path)
    assert code == 3
    assert re.fullmatch(r"chat.pyz: 服务器拒绝了: 名字 LiSi 被管理员禁止进入聊天室，"
                        r"到 \d\d:\d\d 为止 \(原因: rude\)|chat.pyz: 名字 LiSi 被管理员禁止进入"
                        r"聊天室，到 \d\d:\d\d 为止 \(原因: rude\)", said), said
    wang = start_client(pyz, port, "wangwu", tmp_path, wait_joined=False)
    procs.append(wang)
    wang.wait_line(lambda line: "欢迎来到实验室" in line)
    wang.wait_line(lambda line: line == "wangwu 进入了聊天室")
    server.wait_line(lambda line: " 张三 进入了聊天室  " in line, timeout=30)   # it reconnected
    server.send("/list")
    server.wait_line(lambda line: line.startswith("  张三 ") and line.endswith(" 禁言"))
    muted = lambda line: "你已被管理员禁言，到 " in line
    zhang.wait_line(muted)                    # told again when it came back ...
    zhang.send("can anyone hear me")
    zhang.wait_line(muted)                    # ... and when its line was dropped
    wang.send("hello")
    zhang.wait_line(lambda line: line == "wangwu : hello")
    assert not [line for line in wang.collect() if line.startswith("张三 : ")]
    server.send("/bans")
    server.wait_line(lambda line: line in ("封禁 lisi：名字 lisi，还剩 10 分钟 (原因: rude)",
                                           "封禁 lisi：名字 lisi，还剩 9 分钟 (原因: rude)"))


def test_a_kicked_student_is_refused_for_the_cooldown_then_let_in(pyz, port, procs, tmp_path):
    server = start_server(pyz, port, tmp_path, "--state", str(tmp_path / "state"),
                          "--kick-cooldown", "3s", stdin=subprocess.PIPE)
    procs.append(server)
    li = start_client(pyz, port, "lisi", tmp_path)
    procs.append(li)
    server.send("/kick lisi 刷屏")
    assert li.wait_exit() == 3
    code, said = refused_client(pyz, port, "lisi", tmp_path)
    assert code == 3 and "你刚被管理员移出聊天室 (原因: 刷屏)" in said and "以后才能再加入" in said
    deadline = time.monotonic() + 20
    while True:                                      # bounded: the deadline
        assert time.monotonic() < deadline, "still refused after the cooldown"
        again = start_client(pyz, port, "lisi", tmp_path, wait_joined=False)
        procs.append(again)
        wait_until(lambda: "lisi 进入了聊天室" in again.collect()
                   or again.popen.poll() is not None, WAIT, "neither joined nor refused")
        if "lisi 进入了聊天室" in again.seen:
            break
        assert again.popen.returncode == 3 and "以后才能再加入" in again.stderr_text()


def test_unban_lifts_exactly_that_ban(pyz, port, procs, tmp_path):
    server = start_server(pyz, port, tmp_path, "--state", str(tmp_path / "state"),
                          stdin=subprocess.PIPE)
    procs.append(server)
    server.send("/ban lisi 10")
    server.wait_line(lambda line: line.startswith("封禁了名字 lisi，10 分钟"))
    server.send("/ban wangwu 10")
    server.wait_line(lambda line: line.startswith("封禁了名字 wangwu，10 分钟"))
    assert refused_client(pyz, port, "lisi", tmp_path)[0] == 3
    server.send("/unban LISI")
    server.wait_line(lambda line: line == "解除了对名字 lisi 的封禁")
    procs.append(start_client(pyz, port, "lisi", tmp_path))
    assert refused_client(pyz, port, "wangwu", tmp_path)[0] == 3
    old = InteropClient(HOST, port, "wangwu")       # a client without FLAG_REASONS ...
    try:
        with pytest.raises(Refused) as refused:      # ... gets the old layout (no bytes
            old.join()                               # after the reason, or it would raise)
    finally:
        old.close()
    assert refused.value.args == (3, "you are banned for 10 more minutes")
    server.send("/unban nobody")
    server.wait_line(lambda line: line == "nobody 没有被封禁 (/bans 列出所有封禁)")


def test_a_home_where_nothing_can_be_made_falls_back_in_one_line(pyz, port, procs, tmp_path,
                                                                  monkeypatch):
    home = tmp_path / "home"
    home.write_text("not a directory")               # read-only or missing, as a lab has it
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    server = start_server(pyz, port, tmp_path, stdin=subprocess.PIPE)
    procs.append(server)
    fallback = str(run / "chat.pyz" / "state" / str(port))
    line = server.wait_line(lambda line: "改用" in line)
    assert fallback in line and "聊天室的状态没法保存在" in line
    server.send("/motd 你好")
    server.wait_line(lambda line: line == "欢迎消息: 你好")
    server.stop()
    procs.remove(server)
    printed = subprocess.run([pyz, "log", "--port", str(port)], capture_output=True,
                             timeout=30)                 # finds the fallback by itself
    assert printed.returncode == 0, printed.stderr
    assert os.path.exists(os.path.join(fallback, "room.sqlite3"))
    assert "Traceback" not in server.stderr_text()


def _plain_client(port, name, token):
    """A version-1 client (--insecure room) that says HELLO with `token`."""
    client = InteropClient(HOST, port, name, version=1)
    client.token = token
    client.instance = hashlib.sha256(token).digest()[:8]
    return client


def _joins(port, name, token):
    """True if `name` with `token` gets in, False if it is refused as banned."""
    client = _plain_client(port, name, token)
    try:
        client.join()
        return True
    except Refused as refused:
        assert refused.args[0] == 3, refused.args
        return False
    finally:
        client.close()


def test_a_kick_refuses_the_clients_token_across_a_restart(pyz, port, procs, tmp_path):
    # On loopback a kick covers the name and the client's resume token (no
    # host: the server's own machine). Old code kept the token in memory only:
    # after a restart the kicked client came back under a new name.
    args = ("--state", str(tmp_path / "state"), "--insecure", "--kick-cooldown", "300s")
    server = start_server(pyz, port, tmp_path, *args, stdin=subprocess.PIPE)
    procs.append(server)
    token = os.urandom(16)
    lisi = _plain_client(port, "lisi", token)
    try:
        lisi.join()
        server.send("/kick lisi")
        wait_until(lambda: not _joins(port, "lisi2", token), WAIT, "the kick took no effect")
    finally:
        lisi.close()
    server.stop()
    procs.remove(server)
    procs.append(start_server(pyz, port, tmp_path, *args, name="server2"))
    assert not _joins(port, "lisi3", token)            # its token: still refused
    assert _joins(port, "lisi4", os.urandom(16))       # anyone else: in
