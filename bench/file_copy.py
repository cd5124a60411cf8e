"""One handout over loopback against a plain TCP copy of the same bytes, in
one run (issue 19 item 5, first figure only).

    python3 -m bench.file_copy [--mb 100] [--repeat 5] [--pyz chat.pyz [--pyz other.pyz ...]]

Starts the built chat.pyz as a headless server and one line-mode client (secure
sessions), times `/send` until the client prints its `收到文件:` line (both
SHA-256 passes included: the server's, made while the chunks go since the
OFFER no longer waits for it, and the client's before the rename), then copies the same file over a loopback TCP connection
(`socket.sendfile` to a Python reader writing a file). Prints both and the
ratio. Several --pyz (e.g. a build before a change and one after) are timed
in the same run on the same file, each between two TCP copies. The machine is
shared and noisy: compare the ratio within one run. With --repeat N each
build hands the file out N times to the same client (each received copy
deleted before the next) and each TCP copy is made N + 1 times: the fastest
of each is reported (the machine's noise only ever adds time).
"""
import argparse
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chatproc import free_udp_port, start_client, start_server  # noqa: E402


def tcp_copy(src: pathlib.Path, dst: pathlib.Path) -> float:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def receive() -> None:
        conn, _ = listener.accept()
        with conn, open(dst, "wb") as f:
            while True:
                block = conn.recv(1 << 16)
                if not block:
                    return
                f.write(block)
    reader = threading.Thread(target=receive)
    reader.start()
    start = time.monotonic()
    with socket.create_connection(listener.getsockname()) as out, open(src, "rb") as f:
        out.sendfile(f)
    reader.join()
    listener.close()
    return time.monotonic() - start


def handout(pyz: str, src: pathlib.Path, tmp: pathlib.Path, repeat: int = 1) -> float:
    """The fastest of `repeat` handouts of `src` to one client (seconds)."""
    port = free_udp_port()
    server = start_server(pyz, port, tmp, "--state", str(tmp / "state"), stdin=subprocess.PIPE)
    client = None
    try:
        client = start_client(pyz, port, "bench", tmp, "--downloads", str(tmp / "dl"))
        best = float("inf")
        for _ in range(repeat):
            start = time.monotonic()
            server.send("/send " + str(src))
            client.wait_line(lambda line: line.startswith("收到文件"), timeout=600)
            best = min(best, time.monotonic() - start)
            for received in (tmp / "dl").glob("file*.bin"):
                received.unlink()
        return best
    finally:
        for proc in (client, server):
            if proc is not None:
                proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--pyz", action="append")
    args = parser.parse_args()
    size = args.mb * 1000 * 1000
    with tempfile.TemporaryDirectory() as name:
        tmp = pathlib.Path(name)
        src = tmp / "file.bin"
        src.write_bytes(os.urandom(size))
        for n, pyz in enumerate(args.pyz or [str(ROOT / "chat.pyz")]):
            run = tmp / str(n)
            run.mkdir()
            tcp = tcp_copy(src, run / "tcp.bin")
            udp = handout(os.path.abspath(pyz), src, run, args.repeat)
            for _ in range(args.repeat):
                (run / "tcp.bin").unlink()
                tcp = min(tcp, tcp_copy(src, run / "tcp.bin"))
            print("%s, %d MB: handout to one client %.2f s (%.1f MB/s); TCP copy %.3f s "
                  "(%.0f MB/s); handout at %.1f %% of TCP" % (
                      pyz, args.mb, udp, size / udp / 1e6, tcp, size / tcp / 1e6,
                      100 * tcp / udp))


if __name__ == "__main__":
    main()
