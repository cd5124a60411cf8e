"""End to end under a hostile network: a lossy relay between real clients and a
real server, and a fuzzer throwing garbage at a live server."""
import os
import random
import socket

import pytest

from app.core import protocol as P
from tests.chatproc import HOST, free_udp_port, listening, start_client, start_server, wait_until
from tests import netns
from tests.udprelay import LossyRelay

pytestmark = pytest.mark.timeout(300)


def test_lossy_link_500_messages_exactly_once_in_one_order(pyz, procs, tmp_path):
    port = free_udp_port()
    procs.append(start_server(pyz, port, tmp_path))
    relay = LossyRelay(port, loss=0.2, dup=0.05, max_delay=0.03, seed=1)
    try:
        names = ["甲", "乙", "丙"]
        # 20 % loss each way: a handshake step fails a third of the time and
        # its resend waits twice as long each time (0.25 s .. 2 s, HELLO up to
        # 5 s), so a join can take more than the usual 10 s; the test is about
        # the 500 lines, not the join (a join took 10 s+ once in a full run).
        senders = [start_client(pyz, relay.port, name, tmp_path, join_timeout=40)
                   for name in names]
        procs.extend(senders)
        listener = start_client(pyz, relay.port, "听众", tmp_path, join_timeout=40)
        procs.append(listener)
        lines = {}                                  # sender -> its lines
        rng = random.Random(5)
        for i in range(500):
            who = rng.randrange(3)
            line = "%s-%d" % (names[who], i)
            lines.setdefault(who, []).append(line)
            senders[who].send(line)
        everyone = [*senders, listener]
        expected = {id(listener): 500}
        for who, sender in enumerate(senders):
            expected[id(sender)] = 500 - len(lines[who])

        def chat(proc):
            return [line.split(" : ", 1)[1] for line in proc.seen if " : " in line]

        def done():
            for proc in everyone:
                proc.collect()
            return all(len(chat(p)) >= expected[id(p)] for p in everyone)

        wait_until(done, 120, "not everything arrived")
        order = chat(listener)
        assert len(order) == len(set(order)) == 500                    # exactly once
        for who, sender in enumerate(senders):
            got = chat(sender)
            assert got == [line for line in order if line not in lines[who]]  # one order
            assert [l for l in order if l in lines[who]] == lines[who]       # sender's order
        assert relay.stats["dropped"] > 20 and relay.stats["duplicated"] > 0   # it did bite
    finally:
        relay.stop()


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _fuzz_samples():
    """Well-formed datagrams of every type, to mutate."""
    hello = P.Hello(b"n" * 8, bytes(16), P.instance_of(b"t" * 16), b"t" * 16, 0, 0, "fuzz")
    said = P.encode_said(P.Said(P.SAY, 1, "hi"))
    return [
        P.encode_header(P.HELLO) + P.encode_hello(hello),
        P.encode_header(P.DATA, 1234, 1, 0, 0) + P.encode_frame(1, P.SAY, said),
        P.encode_header(P.PING, 1234), P.encode_header(P.BYE, 1234),
        P.encode_header(P.CHALLENGE) + P.encode_challenge(b"n" * 8, b"c" * 16),
        P.encode_header(P.DATA, 0) + P.encode_frame(1, P.EVENT, P.encode_event(
            P.Event(1, 0.0, P.EV_ADMIN, text="forged admin notice"))),
        b"CZ\x02\x01" + bytes(40),
    ]


def test_fuzzed_server_stays_up_never_amplifies_and_keeps_serving(pyz, procs, tmp_path):
    port = free_udp_port()
    server = start_server(pyz, port, tmp_path)
    procs.append(server)
    zhang = start_client(pyz, port, "张三", tmp_path)
    li = start_client(pyz, port, "lisi", tmp_path)
    procs.extend([zhang, li])
    rss_before = _rss_kib(server.popen.pid)
    rng = random.Random(3)
    samples = _fuzz_samples()
    # One fuzzing socket per datagram size: whatever comes back to a socket must
    # be no larger than the datagrams that socket sent (no amplification).
    sizes = list(range(0, 1300, 25))
    sockets = {}
    for size in sizes:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        sock.setblocking(False)
        sockets[size] = sock
    replies = {size: [] for size in sizes}
    sent = 0
    try:
        total = 100_000
        for i in range(total):
            size = sizes[i % len(sizes)]
            kind = rng.random()
            if kind < 0.3:
                data = bytearray(rng.getrandbits(8) for _ in range(min(size, 64)))
            else:
                data = bytearray(rng.choice(samples))
                for _ in range(rng.randrange(1, 5)):
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            data = bytes(data[:size]).ljust(size, b"\0")      # exactly `size` bytes
            try:
                sockets[size].sendto(data, (HOST, port))
                sent += 1
            except BlockingIOError:
                pass
            if i % 2000 == 0:
                _drain(sockets, replies)
            if i == total // 2:
                zhang.send("during the fuzz")
        zhang.send("after the fuzz")
        li.wait_line(lambda line: line == "张三 : during the fuzz", timeout=60)
        li.wait_line(lambda line: line == "张三 : after the fuzz", timeout=60)
        _drain(sockets, replies)
        assert server.popen.poll() is None
        for size, got in replies.items():
            assert all(len(reply) <= size for reply in got), size
        assert sum(map(len, replies.values())) > 100     # it did answer: the check bit
        assert sent > 90_000
        assert _rss_kib(server.popen.pid) - rss_before < 30 * 1024     # memory bounded
    finally:
        for sock in sockets.values():
            sock.close()


def _drain(sockets, replies):
    for size, sock in sockets.items():
        while True:
            try:
                replies[size].append(sock.recv(65535))
            except (BlockingIOError, ConnectionRefusedError):
                break


# ------------------------------------------------------------ kernel-level loss

SUBNET = "10.78.0.%d"


_sh = netns.sh


@pytest.fixture
def lossy_namespaces():
    """Two network namespaces joined by a veth pair (tests/netns.py)."""
    with netns.veth_pair("czlossy", SUBNET) as pair:
        yield pair


def test_kernel_level_20_percent_loss_both_ways(pyz, lossy_namespaces, procs, tmp_path):
    import subprocess

    from tests.chatproc import Proc
    server_ns, client_ns = lossy_namespaces
    port = 9797
    netns.load_rules(client_ns, netns.lossy_rules(port, 20), tmp_path)
    server = Proc(["ip", "netns", "exec", server_ns, pyz, "server", "--headless",
                   "--port", str(port)], subprocess.DEVNULL, str(tmp_path / "s.err"))
    procs.append(server)
    server.wait_line(listening)

    def client(name):
        proc = Proc(["ip", "netns", "exec", client_ns, pyz, "client", "--plain", "--name",
                     name, "--port", str(port), "--connect-timeout", "40", SUBNET % 1],
                    subprocess.PIPE,
                    str(tmp_path / (name + ".err")))
        procs.append(proc)
        # A secure join is 7 datagrams across the lossy link (0.8^7: a fifth of the
        # tries get through whole), so it may take longer than the default 10 s.
        proc.wait_line(lambda line: line == name + " 进入了聊天室", timeout=45)
        return proc

    senders = [client("甲"), client("乙")]
    listener = client("听")
    for i in range(200):
        senders[i % 2].send("line %d" % i)
    wait_until(lambda: len([l for l in listener.collect() if " : " in l]) >= 200, 120,
               "not all 200 lines arrived")
    chat = [l.split(" : ", 1)[1] for l in listener.seen if " : " in l]
    assert len(chat) == len(set(chat)) == 200
    for parity in (0, 1):                                # each sender's order kept
        mine = [int(l.split()[1]) for l in chat if int(l.split()[1]) % 2 == parity]
        assert mine == sorted(mine)
    dropped = netns.drop_counts(client_ns)
    assert len(dropped) == 2 and all(n > 0 for n in dropped), dropped   # it bit


def test_no_route_to_the_server_is_said_clearly(pyz, tmp_path):
    """In a namespace with only loopback there is no route anywhere: the client
    says so (and no datagram leaves this machine)."""
    import shutil
    import subprocess
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 (.ci/run installs it)")
    ns = "cznoroute"
    _sh("ip", "netns", "del", ns)
    if _sh("ip", "netns", "add", ns).returncode != 0:
        pytest.skip("cannot create a network namespace here")
    try:
        result = subprocess.run(["ip", "netns", "exec", ns, pyz, "client", "--plain", "--name",
                                 "x", "--connect-timeout", "1", "10.79.0.1"],
                                capture_output=True, text=True, timeout=30,
                                stdin=subprocess.PIPE)
    finally:
        _sh("ip", "netns", "del", ns)
    assert result.returncode == 4
    assert result.stderr.count("\n") == 1 and "网络不通" in result.stderr    # unreachable, in Chinese


def test_sessions_per_address_are_capped(pyz, lossy_namespaces, procs, tmp_path):
    """--max-per-ip with real sockets: two clients from one (non-loopback) address."""
    import subprocess

    from tests.chatproc import Proc
    server_ns, client_ns = lossy_namespaces
    server = Proc(["ip", "netns", "exec", server_ns, pyz, "server", "--headless",
                   "--max-per-ip", "1"], subprocess.DEVNULL, str(tmp_path / "s.err"))
    procs.append(server)
    server.wait_line(listening)

    def client(name):
        proc = Proc(["ip", "netns", "exec", client_ns, pyz, "client", "--plain", "--name",
                     name, SUBNET % 1], subprocess.PIPE, str(tmp_path / (name + ".err")))
        procs.append(proc)
        return proc

    client("first").wait_line(lambda line: line == "first 进入了聊天室")
    second = client("second")
    assert second.wait_exit() == 3
    assert "从你这台电脑加入的人太多了（最多 1 个）" in second.stderr_text()
