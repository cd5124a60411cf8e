"""The built chat.pyz chats under every supported Python this machine has
(pyenv 3.8 ... 3.13): server and clients all run by that interpreter; a
handout and a hand-in cross it too (files issue: the Python matrix)."""
import hashlib
import os
import subprocess

import pytest

from tests import pythons
from tests.chatproc import free_udp_port, start_client, start_server


@pytest.mark.timeout(120)
@pytest.mark.parametrize("minor", pythons.SUPPORTED)
def test_short_chat_under_each_python(pyz, minor, tmp_path, monkeypatch):
    python = pythons.find(minor)
    if python is None:
        pytest.skip("pyenv has no Python %s on this machine" % minor)
    env_root = tmp_path / "shiv"
    env_root.mkdir(mode=0o700)
    monkeypatch.setenv("SHIV_ROOT", str(env_root))   # unpack afresh for this interpreter
    started = []
    try:
        port = free_udp_port()
        server = start_server(pyz, port, tmp_path, "--state", str(tmp_path / "state"),
                              python=python, stdin=subprocess.PIPE)
        started.append(server)
        zhang = start_client(pyz, port, "张三", tmp_path, "--downloads",
                             str(tmp_path / "dl"), python=python)
        started.append(zhang)
        li = start_client(pyz, port, "李四", tmp_path, python=python)
        started.append(li)
        zhang.wait_line(lambda line: line == "李四 进入了聊天室")
        li.send("你好, Python %s" % minor)
        zhang.wait_line(lambda line: line == "李四 : 你好, Python %s" % minor)
        data = os.urandom(300_000)
        (tmp_path / "讲义.bin").write_bytes(data)
        server.send("/send %s" % (tmp_path / "讲义.bin"))
        zhang.wait_line(lambda line: line.startswith("收到文件: 讲义.bin"), timeout=60)
        assert (tmp_path / "dl" / "讲义.bin").read_bytes() == data
        li.send("/hand-in %s" % (tmp_path / "讲义.bin"))
        receipt = li.wait_line(lambda line: line.startswith("作业已提交:"), timeout=60)
        assert hashlib.sha256(data).hexdigest() in receipt
        li.popen.stdin.close()
        assert li.wait_exit() == 0
        zhang.wait_line(lambda line: line == "李四 退出了聊天室")
    finally:
        for proc in reversed(started):
            proc.stop()
