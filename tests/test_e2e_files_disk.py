"""A receiver whose disk cannot take a file, end to end through the built
chat.pyz, both ways: a client's download and the server's hand-in.

- A full file system, for real: the receiver runs in a private mount namespace
  (`unshare -m`, root) with a 4 MB tmpfs mounted on its folder. The partial
  file is allocated whole when the offer comes (posix_fallocate, app/net/
  files.py Landing.start), so a full disk is found then and the file is
  refused before a chunk moves: on ext4 or tmpfs a disk cannot fill up
  beneath an allocated partial.
- A write that fails midway, for real: the receiver runs under RLIMIT_FSIZE
  (`prlimit --fsize`): the kernel lets the first chunks be written, then every
  write past the limit fails with EFBIG (CPython ignores SIGXFSZ at start, so
  the signal does not kill it) — the path a disk that fills midway takes on file
  systems without real allocation (NFS, copy-on-write).

Each: one worded line for the person affected, the other side told, nothing
under the final name and no partial left, and the room goes on (a chat line,
then a file that fits). Files are looked at inside the namespace through
/proc/PID/root."""
import hashlib
import os
import shutil
import subprocess

import pytest

from tests.chatproc import HOST, Proc, free_udp_port, listening, start_client, start_server, \
    wait_until

pytestmark = pytest.mark.timeout(180)

MB = 1000 * 1000
FSIZE = 2 * MB                 # the receiver's RLIMIT_FSIZE in the midway tests


@pytest.fixture
def port():
    return free_udp_port()


def needs_root_tools(*tools):
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in tools):
        pytest.skip("needs root and %s" % ", ".join(tools))


def in_small_tmpfs(folder, argv):
    """argv run in a private mount namespace with a 4 MB tmpfs on `folder`
    (the same PID: unshare and sh exec)."""
    needs_root_tools("unshare", "mount")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            'mount -t tmpfs -o size=1m tmpfs "$0"', str(folder)],
                           capture_output=True, text=True, timeout=20)
    if probe.returncode != 0:
        pytest.skip("cannot mount a tmpfs in a mount namespace here: %s" % probe.stderr.strip())
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"', str(folder), *argv]


def under_fsize(argv):
    needs_root_tools("prlimit")
    return ["prlimit", "--fsize=%d" % FSIZE, *argv]


def seen_from(proc, folder):
    """`folder` as the process `proc` sees it (its mount namespace)."""
    return "/proc/%d/root%s" % (proc.popen.pid, folder)


def client_argv(pyz, port, name, folder):
    return [pyz, "client", "--plain", "--name", name, "--port", str(port),
            "--downloads", str(folder), HOST]


def wrapped_client(argv, name, tmp_path, procs):
    proc = Proc(argv, subprocess.PIPE, str(tmp_path / ("%s.err" % name)))
    procs.append(proc)
    proc.wait_line(lambda line: line == name + " 进入了聊天室", timeout=30)
    return proc


def wrapped_server(argv, tmp_path, procs):
    proc = Proc(argv, subprocess.PIPE, str(tmp_path / "server.err"))
    procs.append(proc)
    proc.wait_line(listening, timeout=30)
    return proc


def server_argv(pyz, port, tmp_path, submissions):
    return [pyz, "server", "--headless", "--port", str(port), "--bind", HOST,
            "--state", str(tmp_path / "state"), "--submissions", str(submissions)]


def on_stderr(proc, text, timeout=30):
    wait_until(lambda: text in proc.stderr_text(), timeout,
               "no %r on stderr: %r (stdout: %r)" % (text, proc.stderr_text(), proc.collect()))


def room_goes_on(speaker, listener, text):
    speaker.send(text)
    listener.wait_line(lambda line: line.endswith(text), timeout=20)


def write(path, size):
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- downloads

@pytest.mark.parametrize("disk", ["full", "fails_midway"])
def test_a_download_the_disk_cannot_take(pyz, port, procs, tmp_path, disk):
    big, small = tmp_path / "big.bin", tmp_path / "small.bin"
    write(big, 5 * MB)
    small_sha = write(small, 300_000)
    folder = tmp_path / "dl"
    folder.mkdir()
    server = start_server(pyz, port, tmp_path, "--state", str(tmp_path / "state"),
                          stdin=subprocess.PIPE)
    procs.append(server)
    argv = client_argv(pyz, port, "张三", folder)
    me = wrapped_client(in_small_tmpfs(folder, argv) if disk == "full" else under_fsize(argv),
                        "张三", tmp_path, procs)
    other = start_client(pyz, port, "lisi", tmp_path, "--downloads", str(tmp_path / "dl2"))
    procs.append(other)
    server.send("/send " + str(big))
    if disk == "full":
        on_stderr(me, "文件 big.bin 没有保存: 磁盘空间不够")
        server.wait_line(lambda line: "张三 拒绝接收 big.bin (磁盘满了)" in line, timeout=30)
    else:
        on_stderr(me, "文件 big.bin 没有保存: 写入失败 (文件太大)")
        server.wait_line(lambda line: "张三 没能保存 big.bin (写入失败)" in line, timeout=30)
    # The other member gets it whole; ours has nothing of it, not even a partial.
    other.wait_line(lambda line: line.startswith("收到文件: big.bin"), timeout=60)
    mine = seen_from(me, folder)
    assert not [n for n in os.listdir(mine) if n.startswith("big")], os.listdir(mine)
    assert me.popen.poll() is None
    room_goes_on(me, other, "我还在")
    room_goes_on(other, me, "我也在")
    server.send("/send " + str(small))
    line = me.wait_line(lambda line: line.startswith("收到文件: small.bin"), timeout=60)
    assert line.endswith("→ %s" % (folder / "small.bin"))
    with open(os.path.join(mine, "small.bin"), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == small_sha
    assert me.stderr_text().count("没有保存") == 1


# ---------------------------------------------------------------- hand-ins

@pytest.mark.parametrize("disk", ["full", "fails_midway"])
def test_a_hand_in_the_servers_disk_cannot_take(pyz, port, procs, tmp_path, disk):
    big, small = tmp_path / "big.bin", tmp_path / "small.bin"
    write(big, 5 * MB)
    small_sha = write(small, 300_000)
    submissions = tmp_path / "subs"
    submissions.mkdir()
    argv = server_argv(pyz, port, tmp_path, submissions)
    server = wrapped_server(in_small_tmpfs(submissions, argv) if disk == "full"
                            else under_fsize(argv), tmp_path, procs)
    me = start_client(pyz, port, "张三", tmp_path, "--downloads", str(tmp_path / "dl"))
    other = start_client(pyz, port, "lisi", tmp_path, "--downloads", str(tmp_path / "dl2"))
    procs.extend((me, other))
    me.send("/hand-in " + str(big))
    if disk == "full":
        on_stderr(me, "作业 big.bin 没有提交: 服务器磁盘空间不够")
        server.wait_line(lambda line: "张三 的作业 big.bin 没有收下 (磁盘满了)" in line,
                         timeout=30)
    else:
        on_stderr(me, "作业 big.bin 没有提交: 服务器不能保存文件 (文件太大)")
        server.wait_line(lambda line: "张三 的作业 big.bin 没能保存: 文件太大" in line,
                         timeout=30)
    stored = seen_from(server, submissions / "张三")
    assert not os.path.exists(stored) or os.listdir(stored) == [], os.listdir(stored)
    assert server.popen.poll() is None
    room_goes_on(me, other, "老师，交不上")
    me.send("/hand-in " + str(small))
    receipt = me.wait_line(lambda line: line.startswith("作业已提交: small.bin"), timeout=60)
    assert receipt.endswith(small_sha)
    names = os.listdir(stored)
    assert len(names) == 1 and names[0].endswith("-small.bin"), names
    server.send("/hand-ins")
    server.wait_line(lambda line: line == "交了 1 份作业")
    assert me.stderr_text().count("没有提交") == 1
