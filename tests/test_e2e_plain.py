"""End to end through the built chat.pyz: a headless server and line-mode
clients, real UDP on 127.0.0.1, real processes."""
import os
import re
import signal
import subprocess
import time

import pytest

from app.core import protocol as P
from tests import interop_client as ic
from tests.chatproc import HOST, WAIT, free_udp_port, start_client, start_server, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def port():
    return free_udp_port()


def test_the_five_course_features(pyz, port, procs, tmp_path):
    server = start_server(pyz, port, tmp_path, stdin=subprocess.PIPE)
    procs.append(server)
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    li = start_client(pyz, port, "lisi", tmp_path)
    procs.append(li)
    zhang.wait_line(lambda line: line == "lisi 进入了聊天室")
    wang = start_client(pyz, port, "王五", tmp_path)
    procs.append(wang)
    for other in (zhang, li):
        other.wait_line(lambda line: line == "王五 进入了聊天室")

    zhang.send("大家好")
    for other in (li, wang):
        other.wait_line(lambda line: line == "张三 : 大家好")
    server.send("下课前提交作业")                      # the admin console (headless: stdin)
    for client in (zhang, li, wang):
        client.wait_line(lambda line: line == "管理员消息: 下课前提交作业")
    server.wait_line(lambda line: re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d 管理员消息: 下课前提交作业",
                                               line))

    wang.popen.stdin.close()                          # EOF: leave the room
    assert wang.wait_exit() == 0
    for client in (zhang, li):
        client.wait_line(lambda line: line == "王五 退出了聊天室")
    # The sender never sees its own line printed back.
    assert "张三 : 大家好" not in zhang.seen


def test_a_taken_name_is_refused_with_exit_3(pyz, port, procs, tmp_path):
    procs.append(start_server(pyz, port, tmp_path))
    procs.append(start_client(pyz, port, "张三", tmp_path))
    again = start_client(pyz, port, "张三", tmp_path, wait_joined=False)
    procs.append(again)
    assert again.wait_exit() == 3
    # One language in one line: the server's code, worded by the client.
    assert again.stderr_text() == "chat.pyz: 名字 张三 已经有人在用了，请换一个\n"


def test_invalid_name_is_refused_locally_with_exit_3(pyz, port, procs, tmp_path):
    procs.append(start_server(pyz, port, tmp_path))
    bad = start_client(pyz, port, "管理员", tmp_path, wait_joined=False)
    procs.append(bad)
    assert bad.wait_exit() == 3
    assert bad.stderr_text().strip() == \
        "chat.pyz: 名字不可用: 这个名字留给管理员、老师或系统 (或者太像)，请换一个"
    spaced = start_client(pyz, port, "Zhang San", tmp_path, "--lang", "en", wait_joined=False)
    procs.append(spaced)
    assert spaced.wait_exit() == 3
    assert "a name cannot contain spaces" in spaced.stderr_text()


def test_a_look_alike_of_someone_here_is_refused_by_the_server(pyz, port, procs, tmp_path):
    procs.append(start_server(pyz, port, tmp_path))
    procs.append(start_client(pyz, port, "alice", tmp_path))
    for lookalike in ("\u1d00lice", "\u13aalice", "\ua4eelice", "aIice"):
        other = start_client(pyz, port, lookalike, tmp_path, wait_joined=False)
        procs.append(other)
        assert other.wait_exit() == 3                 # ExitCode.REFUSED
        said = other.stderr_text()
        assert said.strip() == "chat.pyz: 名字 %s 和聊天室里的 alice 太像了，请换一个" % lookalike
        assert "Traceback" not in said


def test_the_server_refuses_reserved_look_alikes_from_any_client(pyz, port, procs, tmp_path):
    """Our clients check names before asking; another client may not. (The
    independent client speaks version 1: the server runs --insecure; the hub's
    name checks are the same in both versions.)"""
    procs.append(start_server(pyz, port, tmp_path, "--insecure"))
    for name, problem in (("\u13aadmin", "name is reserved"), ("adrnin", "name is reserved"),
                          ("admin.", "name is reserved"), ("管理员消息", "name is reserved"),
                          ("bad guy", "name cannot contain spaces")):
        client = ic.InteropClient(HOST, port, name, version=1)
        try:
            with pytest.raises(ic.Refused) as refused:
                client.join()
        finally:
            client.close()
        assert refused.value.args == (P.REFUSE_NAME_INVALID, problem)


def test_a_kicked_line_mode_client_says_why_in_one_line_and_exits_3(pyz, port, procs,
                                                                    tmp_path):
    server = start_server(pyz, port, tmp_path, stdin=subprocess.PIPE)
    procs.append(server)
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    server.send("/kick 张三 刷屏")
    assert zhang.wait_exit() == 3                     # ExitCode.REFUSED
    assert re.fullmatch(r"chat.pyz: 你被管理员移出了聊天室 \(原因: 刷屏\)。"
                        r"\d\d:\d\d 以后可以重新运行客户端加入", zhang.stderr_text().strip())


def test_history_comes_first_then_live_events(pyz, port, procs, tmp_path):
    procs.append(start_server(pyz, port, tmp_path))
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    for i in range(25):
        zhang.send("old %d" % i)
    late_probe = start_client(pyz, port, "probe", tmp_path)
    procs.append(late_probe)
    if "张三 : old 24" not in late_probe.seen:        # all 25 lines reached the server
        late_probe.wait_line(lambda line: line == "张三 : old 24")
    late = start_client(pyz, port, "late", tmp_path, wait_joined=False)
    procs.append(late)
    late.wait_line(lambda line: line == "late 进入了聊天室")
    assert late.seen == ["张三 : old %d" % i for i in range(5, 25)] + ["late 进入了聊天室"]


def test_killed_client_leaves_within_15_s_and_its_name_is_free(pyz, port, procs, tmp_path):
    procs.append(start_server(pyz, port, tmp_path))
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    li = start_client(pyz, port, "lisi", tmp_path)
    procs.append(li)
    os.kill(li.popen.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    zhang.wait_line(lambda line: line == "lisi 退出了聊天室 (超时)", timeout=20)
    assert time.monotonic() - killed_at < 15
    procs.append(start_client(pyz, port, "lisi", tmp_path))


def test_server_restart_clients_rejoin_nothing_lost_or_doubled(pyz, port, procs, tmp_path):
    server = start_server(pyz, port, tmp_path)
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    li = start_client(pyz, port, "lisi", tmp_path)
    procs.append(li)
    zhang.send("before")
    li.wait_line(lambda line: line == "张三 : before")
    os.kill(server.popen.pid, signal.SIGKILL)         # no goodbye at all
    server.stop()
    zhang.send("during the outage")
    server = start_server(pyz, port, tmp_path, name="server2")
    procs.insert(0, server)
    li.wait_line(lambda line: line == "张三 : during the outage", timeout=30)
    li.send("after")
    zhang.wait_line(lambda line: line == "lisi : after", timeout=WAIT)
    chat = [line for line in li.seen if " : " in line]
    assert chat == ["张三 : before", "张三 : during the outage"]


def test_server_sigterm_tells_clients_and_leaves_no_process(pyz, port, procs, tmp_path):
    server = start_server(pyz, port, tmp_path)
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    children = _children(server.popen.pid)
    assert len(children) == 1                         # the admin side
    os.kill(server.popen.pid, signal.SIGTERM)
    assert server.wait_exit() == 0
    server.stop()
    wait_until(lambda: not any(os.path.exists("/proc/%d" % pid) for pid in children), WAIT,
               "admin process left behind")
    wait_until(lambda: "服务器已关闭" in zhang.stderr_text(), WAIT, "the client was not told")


def test_server_keeps_running_after_stdin_eof(pyz, port, procs, tmp_path):
    server = start_server(pyz, port, tmp_path, stdin=subprocess.PIPE)
    procs.append(server)
    server.popen.stdin.close()
    zhang = start_client(pyz, port, "张三", tmp_path)   # still serving
    procs.append(zhang)
    assert server.popen.poll() is None


def test_port_in_use_is_one_clear_line(pyz, port, procs, tmp_path):
    procs.append(start_server(pyz, port, tmp_path))
    result = subprocess.run([pyz, "server", "--headless", "--port", str(port),
                             "--bind", "127.0.0.1"], capture_output=True, text=True,
                            timeout=WAIT, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr == ("chat.pyz: UDP 端口 %d 在 127.0.0.1 上已经被占用 (另一个 chat.pyz "
                             "服务器？)；停掉它，或者用 --port 换一个端口\n" % port)
    result = subprocess.run([pyz, "server", "--headless", "--port", str(port), "--lang", "en"],
                            capture_output=True, text=True, timeout=WAIT,
                            stdin=subprocess.DEVNULL)     # all interfaces: the port is ours
    assert result.returncode == 1 and result.stderr == (
        "chat.pyz: UDP port %d is already in use on this machine (another chat.pyz server?); "
        "stop it or choose another with --port\n" % port)


def test_unreachable_server_gives_exit_4_after_the_timeout(pyz, port, tmp_path):
    started = time.monotonic()
    result = subprocess.run([pyz, "client", "--plain", "--name", "x", "--port", str(port),
                             "--connect-timeout", "1.5", "127.0.0.1"],
                            capture_output=True, text=True, timeout=WAIT, stdin=subprocess.PIPE)
    assert result.returncode == 4
    assert time.monotonic() - started >= 1.5
    assert result.stderr.count("\n") == 1 and "没有聊天服务器" in result.stderr
    assert not re.search(r"[A-Za-z]{3,}", result.stderr.replace("chat.pyz", "").replace(
        "UDP", "")), result.stderr              # one language (Chinese by default)


def _children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def test_headless_admin_commands_and_json_log(pyz, port, procs, tmp_path):
    log = tmp_path / "room.jsonl"
    server = start_server(pyz, port, tmp_path, "--log", str(log), stdin=subprocess.PIPE)
    procs.append(server)
    zhang = start_client(pyz, port, "张三", tmp_path)
    procs.append(zhang)
    li = start_client(pyz, port, "lisi", tmp_path)
    procs.append(li)
    # The headless console in Chinese, the default (tests/test_admin_lang.py: English).
    server.send("/mute lisi 5")
    server.wait_line(lambda line: line == "已禁止 lisi 发言 5 分钟")
    li.send("anyone?")
    server.send("/list")
    server.wait_line(lambda line: line == "在线 2 人")
    server.send("/motd 欢迎")
    server.wait_line(lambda line: line == "欢迎消息: 欢迎")
    server.send("/ban lisi 3 noisy")
    # (the server's own machine: a name ban does not take its address along)
    server.wait_line(lambda line: line == "封禁了名字 lisi，3 分钟；移出了 lisi")
    zhang.wait_line(lambda line: line == "lisi 退出了聊天室 (被封禁)")
    assert li.wait_exit() == 3                        # removed: ExitCode.REFUSED
    assert re.search(r"chat.pyz: 你被管理员禁止进入聊天室，到 \d\d:\d\d 为止 \(原因: noisy\)。",
                     li.stderr_text())
    again = start_client(pyz, port, "lisi", tmp_path, wait_joined=False)
    procs.append(again)
    assert again.wait_exit() == 3
    assert re.search(r"chat.pyz: 服务器拒绝了: 名字 lisi 被管理员禁止进入聊天室，到 \d\d:\d\d 为止 "
                     r"\(原因: noisy\)", again.stderr_text()) or \
        re.search(r"chat.pyz: 名字 lisi 被管理员禁止进入聊天室", again.stderr_text())
    server.wait_line(lambda line: re.search(r" 拒绝了 lisi \(来自 127\.0\.0\.1:\d+\)：名字被封禁，"
                                            r"还有 3 分钟 \(原因: noisy\)$", line))
    server.send("/frobnicate")
    server.wait_line(lambda line: line == "未知命令 /frobnicate；/help 列出所有命令")
    # Each result worded as the consoles word it (app/ui/admin_text.py), in order.
    for command, reply in (("/bans", "封禁 lisi：名字 lisi，还剩 3 分钟 (原因: noisy)"),
                           ("/kick nobody", "这里没有叫 nobody 的人"),
                           ("/kick", "用法: /kick 名字 [原因]"),
                           ("/ban lisi 0", "用法: /ban 名字|IP [时间] [原因]"),
                           ("/help", "/help                      这个列表"),
                           ("/unmute lisi", "已解除 lisi 的禁言"),
                           ("/unmute lisi", "lisi 没有被禁言"),
                           ("/unban nobody", "nobody 没有被封禁 (/bans 列出所有封禁)")):
        server.send(command)
        server.wait_line(lambda line: line == reply)
    server.send("/list")
    server.wait_line(lambda line: line == "在线 1 人")
    server.wait_line(lambda line: re.fullmatch(r"  张三  127\.0\.0\.1:\d+  空闲 \d+s  发言 0 次",
                                               line))
    server.send("/stats")
    server.wait_line(lambda line: re.fullmatch(r"在线 1 人；地址验证 \d+，数据报 \d+，握手失败 0，"
                                               r"握手 3，丢弃的握手请求 0，加入 2，离开 1，坏数据报 0，消息 0，"
                                               r"拒绝 1，限速 0，超时 0", line))
    zhang.send("你好")
    server.wait_line(lambda line: line.endswith(" 张三 : 你好"))
    assert "lisi : anyone?" not in zhang.collect()
    import json
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [e["event"] for e in events][:2] == ["join", "join"]
    assert {"event": "chat", "name": "张三", "detail": "你好"}.items() <= events[-1].items()


def test_room_password_end_to_end(pyz, port, procs, tmp_path):
    server = start_server(pyz, port, tmp_path, "--password", "红茶")
    procs.append(server)
    zhang = start_client(pyz, port, "张三", tmp_path, "--password", "红茶")
    procs.append(zhang)
    li = start_client(pyz, port, "lisi", tmp_path, "--password", "红茶")
    procs.append(li)
    zhang.send("只有我们")
    li.wait_line(lambda line: line == "张三 : 只有我们")
    for extra, reason in ((["--password", "绿茶"], "聊天室密码不对"),    # the client's
                          ([], "这个聊天室要密码")):                       # --lang zh
        intruder = start_client(pyz, port, "intruder", tmp_path, *extra, wait_joined=False)
        procs.append(intruder)
        assert intruder.wait_exit() == 3
        assert reason in intruder.stderr_text()
