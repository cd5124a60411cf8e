"""Real processes for end-to-end tests: the built chat.pyz as server and
line-mode clients, their stdout lines collected by reader threads, every wait
a poll with a deadline, every process stopped by PID."""
import os
import queue
import signal
import socket
import subprocess
import threading
import time

import pytest

HOST = "127.0.0.1"
WAIT = 10.0           # generous deadline for anything that should take milliseconds


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Proc:
    """A started process whose stdout lines are collected by a reader thread."""

    def __init__(self, argv, stdin, log_path, env=None):
        """`env`: variables over ours (PYTHONIOENCODING=utf-8 unless it says)."""
        self.log_path = log_path
        self.stderr = open(log_path, "wb")
        env = dict(dict(os.environ, PYTHONIOENCODING="utf-8"), **(env or {}))
        self.popen = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                      stderr=self.stderr, env=env)
        self.lines = queue.Queue()
        self.seen = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.popen.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))

    def collect(self):
        """Move every line read so far into `seen` (no waiting); returns seen."""
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return self.seen

    def wait_line(self, predicate, timeout=WAIT):
        """The first new stdout line satisfying predicate; fails at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self.lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if self.popen.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if predicate(line):
                return line
        pytest.fail("no matching line within %.0f s; stdout so far: %r; stderr: %r" % (
            timeout, self.seen, open(self.log_path, "rb").read().decode("utf-8", "replace")))

    def send(self, line):
        self.popen.stdin.write((line + "\n").encode("utf-8"))
        self.popen.stdin.flush()

    def stderr_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_exit(self, timeout=WAIT):
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail("process %d still running after %.0f s" % (self.popen.pid, timeout))

    def stop(self):
        """Terminate by PID and wait; SIGKILL if it does not go within 5 s."""
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        if self.popen.stdin:
            self.popen.stdin.close()
        self.reader.join(timeout=5)
        self.popen.stdout.close()
        self.stderr.close()




def wait_until(condition, timeout, what):
    """Poll condition() until it holds; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def start_server(pyz, port, log_dir, *extra, stdin=subprocess.DEVNULL, name="server",
                 python=None):
    """A headless server on 127.0.0.1:port, returned once it listens (run by
    `python` when given, else by the pyz's own shebang)."""
    proc = Proc([*([python] if python else []), pyz, "server", "--headless", "--port", str(port), "--bind", HOST, *extra],
                stdin, os.path.join(str(log_dir), name + ".err"))
    proc.wait_line(listening)
    return proc


def listening(line):
    """The headless server's first line (Chinese, the default): it listens."""
    return "chat.pyz 服务器在" in line and "上监听" in line


def start_client(pyz, port, name, log_dir, *extra, wait_joined=True, python=None,
                 join_timeout=WAIT):
    """A line-mode client; with wait_joined, returned once its own join shows
    (within join_timeout: more behind a lossy relay, where each lost step of
    the handshake doubles its resend delay)."""
    proc = Proc([*([python] if python else []), pyz, "client", "--plain", "--name", name, "--port", str(port), *extra, HOST],
                subprocess.PIPE, os.path.join(str(log_dir), "client-%d.err" % id(name)))
    if wait_joined:
        proc.wait_line(lambda line: line == name + " 进入了聊天室", timeout=join_timeout)
    return proc
