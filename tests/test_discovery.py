"""LAN discovery (docs/LAN.md): the pure codec and responder
(app/core/discovery_wire.py), the texts and choice (app/ui/discovery_texts.py),
the prober (app/net/discovery.py); discovery on loopback against the built
chat.pyz, and between network namespaces the tests make themselves (veth
pairs, 10.77.x.y/24): one server, one server reachable through two network
cards (listed once), two servers (a list, exit 4), none (one clear message,
exit 4), IPv6 link-local only.

Traffic stays on 127.0.0.1 or inside our own namespaces: the in-process probes
in the root namespace go to explicit loopback targets only."""
import itertools
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import __version__
from app.core import discovery_wire as wire
from app.core import protocol
from app.core.exit_codes import ExitCode
from app.net import discovery
from app.ui import discovery_texts as texts
from tests.chatproc import HOST, WAIT, Proc, free_udp_port, listening, start_client, start_server

pytestmark = pytest.mark.timeout(300)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ====================================================================== codec

def info(name="lab-pc", online=3, port=9797, flags=0):
    return wire.ServerInfo(b"\x01" * 8, name, port, online, protocol.VERSION, __version__,
                           flags)


def test_probe_is_fixed_size_and_never_a_chat_datagram():
    probe = wire.encode_probe(b"12345678")
    assert len(probe) == wire.PROBE_SIZE == 128
    assert probe[:4] == b"czd?" and probe[4] == 1 and probe[5] == protocol.VERSION
    assert probe[6:14] == b"12345678" and probe[14:] == bytes(114)
    assert wire.is_probe(probe)
    assert wire.decode_probe(probe) == wire.Probe(protocol.VERSION, b"12345678")
    answer = wire.answer_for(probe, info())
    for datagram in (probe, answer):
        assert protocol.peek_version(datagram) is None        # not "CZ" + a version byte
        with pytest.raises(protocol.ProtocolError):
            protocol.decode_header(datagram)
    assert not wire.is_probe(answer)


def test_answer_round_trip():
    probe = wire.encode_probe(b"abcdefgh")
    answer = wire.answer_for(probe, info("实验室-服务器", 42, 5000,
                                              flags=wire.FLAG_PASSWORD))
    assert len(answer) <= len(probe)
    got = wire.decode_answer(answer)
    assert got == wire.Answer(protocol.VERSION, b"abcdefgh", b"\x01" * 8, 5000, 42,
                                   "实验室-服务器", __version__,
                                   wire.FLAG_PASSWORD)


def test_a_chat_datagram_is_not_a_probe_and_not_answered():
    hello = protocol.encode_header(protocol.HELLO) + bytes(100)
    assert not wire.is_probe(hello)
    assert wire.answer_for(hello, info()) is None
    assert wire.decode_answer(hello) is None


def test_short_probe_gets_a_cut_answer_or_none():
    long_name = "服" * 40                                       # 120 UTF-8 bytes
    probe = wire.encode_probe(b"n" * 8, size=40)
    answer = wire.answer_for(probe, info(long_name))
    assert len(answer) <= 40
    got = wire.decode_answer(answer)
    assert got.name == "服" * 3 and got.software == ""          # 11 bytes of room
    assert wire.answer_for(probe[:wire.ANSWER_MIN - 1], info()) is None
    assert wire.answer_for(probe[:wire.ANSWER_MIN], info()) is not None
    assert wire.answer_for(probe[:13], info()) is None      # not even a nonce


def test_hostile_answer_text_is_sanitised():
    probe = wire.encode_probe(b"n" * 8)
    answer = wire.answer_for(probe, info("evil\x1b[2J\nname"))
    assert wire.decode_answer(answer).name == "evil[2J name"


@settings(max_examples=400, deadline=None)
@given(tail=st.binary(max_size=1300), name=st.text(max_size=120),
       software=st.text(max_size=50), online=st.integers(0, 1 << 20),
       port=st.integers(1, 65535), version=st.integers(0, 255),
       flags=st.integers(0, 255))
def test_answer_is_never_larger_than_the_probe(tail, name, software, online, port, version,
                                               flags):
    data = wire.PROBE_MAGIC + tail
    answer = wire.answer_for(data, wire.ServerInfo(
        b"\x07" * 8, name, port, online, version, software, flags))
    if len(data) < wire.ANSWER_MIN or len(data) > protocol.MAX_DATAGRAM:
        assert answer is None
        return
    assert answer is not None and len(answer) <= len(data)
    got = wire.decode_answer(answer)
    assert got.nonce == data[6:14] and got.port == port and got.version == version
    assert got.online == min(online, 0xFFFF) and got.flags == flags
    sent = answer[wire.ANSWER_FIXED.size + 1:][:answer[wire.ANSWER_FIXED.size]]
    assert name.encode("utf-8", "replace").startswith(sent)     # a prefix, cut cleanly
    assert len(sent) <= wire.MAX_SERVER_NAME


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_decoders_never_raise(data):
    for datagram in (data, wire.ANSWER_MAGIC + data, wire.PROBE_MAGIC + data):
        wire.decode_answer(datagram)
        wire.decode_probe(datagram)
        wire.answer_for(datagram, info())


@given(st.text(max_size=80), st.integers(0, 100))
def test_cut_utf8_is_a_clean_prefix(text, limit):
    cut = wire.cut_utf8(text, limit)
    assert len(cut) <= limit
    assert text.encode("utf-8", "replace").startswith(cut)
    cut.decode("utf-8")                                           # whole characters


# ================================================================ choosing

def found(name, host, version=protocol.VERSION, addresses=None, online=1, port=9797):
    return wire.Found(name, host, port, online, tuple(addresses or (host,)), version,
                           "9.9.9" if version != protocol.VERSION else "0.1.0", name.encode())


def test_choose_one_connects():
    chosen, code, lines = texts.choose([found("lab", "10.0.0.1")], 9797, "en")
    assert chosen.host == "10.0.0.1" and code == ExitCode.OK
    assert lines == ["chat.pyz: found the chat server lab at 10.0.0.1:9797 (1 online); "
                     "connecting"]


def test_choose_several_lists_commands_and_exits_4():
    chosen, code, lines = texts.choose(
        [found("a", "10.0.0.1", addresses=("10.0.0.1", "10.1.0.1")),
         found("b", "fe80::1%eth0", port=9000)], 9797, "en")
    assert chosen is None and code == ExitCode.UNREACHABLE == 4
    text = "\n".join(lines)
    assert "2 chat servers answered" in text
    assert "chat.pyz client 10.0.0.1 " in text and "(also 10.1.0.1)" in text
    assert "chat.pyz client fe80::1%eth0 --port 9000" in text


def test_choose_only_other_versions_says_so_and_exits_3():
    chosen, code, lines = texts.choose([found("new", "10.0.0.9", version=2)], 9797, "en")
    assert chosen is None and code == ExitCode.REFUSED
    assert len(lines) == 1
    assert "speaks protocol version 2 (chat.pyz 9.9.9)" in lines[0]
    assert "speaks %d" % protocol.VERSION in lines[0] and "use the server's chat.pyz" in lines[0]


def test_choose_prefers_the_compatible_server():
    chosen, code, lines = texts.choose([found("new", "10.0.0.9", version=2),
                                            found("old", "10.0.0.8")], 9797, "en")
    assert chosen.name == "old" and code == ExitCode.OK          # the only usable one
    assert "not new at 10.0.0.9:9797: it speaks protocol version 2" in lines[1]


def test_choose_speaks_one_language_per_line():
    chosen, code, lines = texts.choose([found("new", "10.0.0.9", version=2),
                                        found("old", "10.0.0.8")], 9797, "zh")
    assert lines[0] == "chat.pyz: 找到聊天服务器 old，地址 10.0.0.8:9797（在线 1 人），正在连接"
    assert lines[1].startswith("chat.pyz: （没有选 new，地址 10.0.0.9:9797：它使用协议版本 2")
    _, _, lines = texts.choose([], 9797, "zh", 2.0, ["10.0.0.255"])
    assert lines[0].startswith("chat.pyz: 2 秒内 UDP 端口 9797 上没有聊天服务器回应（问过 10.0.0.255）")
    for line in lines:
        assert not any(word in line for word in ("online", "server", "answered", "firewall"))


def test_choose_none_says_what_to_try():
    chosen, code, lines = texts.choose([], 9797, "en", 2.0, ["10.0.0.255", "127.0.0.1"])
    assert chosen is None and code == 4 and len(lines) == 1
    assert "no chat server answered on UDP port 9797 within 2 s" in lines[0]
    assert "asked 10.0.0.255, 127.0.0.1" in lines[0]
    assert "chat.pyz client HOST" in lines[0] and "firewall must let UDP port 9797 in" in lines[0]


def test_rank_prefers_our_subnet_then_loopback_then_ipv4_then_ipv6():
    import ipaddress

    nets = [ipaddress.IPv4Network("10.77.2.0/24")]
    hosts = ["fe80::1%v", "fd00::1", "192.168.9.9", "127.0.0.1", "10.77.2.1"]
    assert sorted(hosts, key=lambda h: discovery._rank(h, nets)) == list(reversed(hosts))


# ================================================================ loopback

class FakeServer:
    """A discovery responder on 127.0.0.1 with a chosen protocol version."""

    def __init__(self, port, version, name):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, port))
        self.sock.settimeout(0.1)
        self.info = wire.ServerInfo(os.urandom(8), name, port, 7, version, "9.0.0")
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            answer = wire.answer_for(data, self.info)
            if answer:
                self.sock.sendto(answer, addr)

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()


def test_loopback_discovery_of_a_real_server(pyz, procs, tmp_path):
    port = free_udp_port()
    server = start_server(pyz, port, tmp_path)
    procs.append(server)
    howto = server.wait_line(lambda line: line.startswith("加入方法: "))
    assert howto == "加入方法: ./chat.pyz client 127.0.0.1 --port %d" % port
    started = time.monotonic()
    servers = discovery.discover(port, targets=[HOST])
    assert time.monotonic() - started < 1.5                     # settles, no full wait
    assert len(servers) == 1
    one = servers[0]
    assert (one.host, one.port, one.online, one.addresses) == (HOST, port, 0, (HOST,))
    assert one.name == socket.gethostname()[:64] and one.compatible and not one.password
    procs.append(start_client(pyz, port, "甲", tmp_path))
    again = discovery.discover(port, targets=[HOST])
    assert again[0].online == 1 and again[0].server_id == one.server_id
    assert discovery.discover(free_udp_port(), timeout=0.5, targets=[HOST]) == []


def test_loopback_answer_says_the_room_has_a_password(pyz, procs, tmp_path):
    port = free_udp_port()
    procs.append(start_server(pyz, port, tmp_path, "--password", "上课"))
    servers = discovery.discover(port, targets=[HOST])
    assert len(servers) == 1 and servers[0].password
    assert "  password" in texts.describe(servers[0], "en")
    _, code, lines = texts.choose(servers, port, "en")
    assert code == ExitCode.OK and "(0 online, room password); connecting" in lines[0]


def test_loopback_version_mismatch_is_reported(tmp_path):
    port = free_udp_port()
    fake = FakeServer(port, protocol.VERSION + 1, "future")
    try:
        host, code, lines = texts.find_for_client(port, "en", targets=[HOST])
    finally:
        fake.stop()
    assert host is None and code == ExitCode.REFUSED
    assert "future at 127.0.0.1:%d speaks protocol version %d (chat.pyz 9.0.0)" % (
        port, protocol.VERSION + 1) in lines[0]


def test_answers_with_a_wrong_nonce_or_port_are_ignored():
    prober = discovery.Prober(9797, targets=[HOST], now=0.0)
    try:
        good = wire.encode_answer(wire.Probe(1, prober.nonce), info(), 128)
        bad = wire.encode_answer(wire.Probe(1, b"x" * 8), info(), 128)
        prober._on_datagram(0.1, bad, ("10.0.0.1", 9797))
        prober._on_datagram(0.1, good, ("10.0.0.1", 9798))
        prober._on_datagram(0.1, b"junk", ("10.0.0.1", 9797))
        assert prober.found() == [] and prober.ignored == 3
        prober._on_datagram(0.2, good, ("10.0.0.1", 9797))
        prober._on_datagram(0.2, good, ("::ffff:10.0.0.2", 9797, 0, 0))
        assert [f.addresses for f in prober.found()] == [("10.0.0.1", "10.0.0.2")]
        assert not prober.done(0.6) and prober.done(0.71)       # settle after the last new
    finally:
        prober.close()


def test_server_counts_probes(pyz, procs, tmp_path):
    port = free_udp_port()
    server = start_server(pyz, port, tmp_path, stdin=subprocess.PIPE)
    procs.append(server)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(WAIT)
        probe = wire.encode_probe(b"q" * 8)
        sock.sendto(probe, (HOST, port))
        answer, source = sock.recvfrom(2048)
        assert source == (HOST, port) and len(answer) <= len(probe)
        sock.sendto(probe[:20], (HOST, port))                  # too short: no answer
    server.send("/stats")
    line = server.wait_line(lambda line: "查找请求" in line)      # /stats, in Chinese
    assert "查找请求 2" in line and "坏数据报 0" in line


# ========================================================= network namespaces

_counter = itertools.count()


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=30, check=check)


def _netns_unavailable():
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    name = "czdisc-%d-check" % os.getpid()
    try:
        made = _ip("netns", "add", name, check=False)
        if made.returncode != 0:
            return "cannot make a network namespace: %s" % made.stderr.decode().strip()
        veth = _ip("link", "add", "czchk0", "netns", name, "type", "veth", "peer", "name",
                   "czchk1", "netns", name, check=False)
        if veth.returncode != 0:
            return "cannot make a veth pair: %s" % veth.stderr.decode().strip()
    finally:
        _ip("netns", "del", name, check=False)
    return None


NETNS_UNAVAILABLE = _netns_unavailable()
needs_netns = pytest.mark.skipif(NETNS_UNAVAILABLE is not None,
                                 reason=str(NETNS_UNAVAILABLE))


class Lab:
    """Namespaces and veth pairs made for one test; all deleted at the end."""

    def __init__(self):
        self.namespaces = []

    def ns(self, tag):
        name = "czdisc-%d-%d-%s" % (os.getpid(), next(_counter), tag)
        _ip("netns", "add", name)
        self.namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        # No duplicate address detection: IPv6 link-local addresses usable at once.
        for key in ("all", "default"):
            subprocess.run(["ip", "netns", "exec", name, "sysctl", "-qw",
                            "net.ipv6.conf.%s.accept_dad=0" % key],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        return name

    def link(self, ns_a, addr_a, ns_b, addr_b, index):
        """A veth pair va<index> (in ns_a) -- vb<index> (in ns_b), addresses CIDR or None."""
        a, b = "va%d" % index, "vb%d" % index
        _ip("link", "add", a, "netns", ns_a, "type", "veth", "peer", "name", b, "netns", ns_b)
        for ns, dev, addr in ((ns_a, a, addr_a), (ns_b, b, addr_b)):
            if addr:
                _ip("-n", ns, "addr", "add", addr, "brd", "+", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
        return a, b

    def close(self):
        for name in reversed(self.namespaces):
            _ip("netns", "del", name, check=False)
        self.namespaces = []


@pytest.fixture
def lab(request):
    if NETNS_UNAVAILABLE is not None:
        pytest.skip(NETNS_UNAVAILABLE)
    made = Lab()
    request.addfinalizer(made.close)
    return made


def ns_server(pyz, ns, log_dir, *extra, name="server"):
    proc = Proc(["ip", "netns", "exec", ns, pyz, "server", "--headless", *extra],
                subprocess.DEVNULL, os.path.join(str(log_dir), name + ".err"))
    proc.wait_line(listening)
    return proc


def ns_client(pyz, ns, log_dir, name, *extra):
    """A line-mode client with no HOST: it discovers the server."""
    return Proc(["ip", "netns", "exec", ns, pyz, "client", "--plain", "--name", name, *extra],
                subprocess.PIPE, os.path.join(str(log_dir), "client-%s.err" % name))


def ns_discover(ns, timeout=2.0, settle=None):
    """Run discovery.discover() in a namespace (from this source tree); the result."""
    code = ("import json, sys; sys.path.insert(0, %r); from app.net import discovery; "
            "print(json.dumps([dict(f._asdict(), server_id=f.server_id.hex()) "
            "for f in discovery.discover(9797, %r, %r)]))" % (ROOT, timeout, settle))
    done = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def ipv4(addresses):
    return sorted(a for a in addresses if ":" not in a)


@needs_netns
def test_netns_client_without_host_finds_and_joins(pyz, procs, lab, tmp_path):
    server_ns, client_ns = lab.ns("s"), lab.ns("c")
    lab.link(server_ns, "10.77.1.1/24", client_ns, "10.77.1.2/24", 1)
    server = ns_server(pyz, server_ns, tmp_path)
    procs.append(server)
    hints = [server.wait_line(lambda line: "./chat.pyz client" in line) for _ in range(3)]
    assert hints == [
        "加入方法: ./chat.pyz client            (同一子网的学生：用广播找到这个服务器)",
        "    或者: ./chat.pyz client 10.77.1.1  (va1，网络 10.77.1.0/24)",
        "本机: ./chat.pyz client 127.0.0.1"]
    client = ns_client(pyz, client_ns, tmp_path, "学生")
    procs.append(client)
    client.wait_line(lambda line: line == "学生 进入了聊天室")
    assert "找到聊天服务器" in client.stderr_text()                  # --lang zh, the default
    assert "地址 10.77.1.1:9797（在线 0 人），正在连接" in client.stderr_text()
    server.wait_line(lambda line: "学生 进入了聊天室  10.77.1.2:" in line)


@needs_netns
def test_netns_two_network_cards_list_the_server_once(pyz, procs, lab, tmp_path):
    server_ns, client_ns = lab.ns("s"), lab.ns("c")
    lab.link(server_ns, "10.77.1.1/24", client_ns, "10.77.1.2/24", 1)
    lab.link(server_ns, "10.77.2.1/24", client_ns, "10.77.2.2/24", 2)
    procs.append(ns_server(pyz, server_ns, tmp_path))
    servers = ns_discover(client_ns, settle=None)               # listen the whole 2 s
    assert len(servers) == 1, servers
    only = servers[0]
    assert ipv4(only["addresses"]) == ["10.77.1.1", "10.77.2.1"]
    assert only["host"] in ("10.77.1.1", "10.77.2.1")          # on one of our subnets
    assert only["addresses"][0] == only["host"]
    client = ns_client(pyz, client_ns, tmp_path, "乙")
    procs.append(client)
    client.wait_line(lambda line: line == "乙 进入了聊天室")
    assert "个聊天服务器回应" not in client.stderr_text()


@needs_netns
def test_netns_two_servers_ask_the_user_to_choose(pyz, procs, lab, tmp_path):
    one, two, client_ns = lab.ns("s1"), lab.ns("s2"), lab.ns("c")
    lab.link(one, "10.77.1.1/24", client_ns, "10.77.1.2/24", 1)
    lab.link(two, "10.77.2.1/24", client_ns, "10.77.2.2/24", 2)
    procs.append(ns_server(pyz, one, tmp_path, name="server1"))
    procs.append(ns_server(pyz, two, tmp_path, name="server2"))
    client = ns_client(pyz, client_ns, tmp_path, "丙")
    procs.append(client)
    assert client.wait_exit(timeout=WAIT) == ExitCode.UNREACHABLE
    err = client.stderr_text()
    assert "UDP 端口 9797 上有 2 个聊天服务器回应" in err
    assert "chat.pyz client 10.77.1.1 " in err and "chat.pyz client 10.77.2.1 " in err
    assert client.collect() == []


@needs_netns
def test_netns_no_server_one_clear_message(pyz, procs, lab, tmp_path):
    empty, client_ns = lab.ns("e"), lab.ns("c")
    lab.link(empty, "10.77.3.1/24", client_ns, "10.77.3.2/24", 1)
    client = ns_client(pyz, client_ns, tmp_path, "丁")
    procs.append(client)
    started = time.monotonic()
    assert client.wait_exit(timeout=WAIT) == ExitCode.UNREACHABLE
    assert 1.5 < time.monotonic() - started < 6
    err = client.stderr_text().strip().splitlines()
    assert len(err) == 1, err
    assert "2 秒内 UDP 端口 9797 上没有聊天服务器回应（问过 10.77.3.255" in err[0]
    assert "chat.pyz client HOST" in err[0] and "放行 UDP 端口 9797" in err[0]


@needs_netns
def test_netns_same_machine_found_on_loopback_once(pyz, procs, lab, tmp_path):
    alone = lab.ns("l")                                         # only lo
    procs.append(ns_server(pyz, alone, tmp_path))
    servers = ns_discover(alone, settle=None)
    assert len(servers) == 1 and servers[0]["host"] == "127.0.0.1"
    assert set(servers[0]["addresses"]) <= {"127.0.0.1", "::1"}
    client = ns_client(pyz, alone, tmp_path, "戊")
    procs.append(client)
    client.wait_line(lambda line: line == "戊 进入了聊天室")


@needs_netns
def test_netns_ipv6_link_local_only(pyz, procs, lab, tmp_path):
    server_ns, client_ns = lab.ns("s6"), lab.ns("c6")
    lab.link(server_ns, None, client_ns, None, 1)               # no IPv4 at all
    deadline = time.monotonic() + WAIT
    while True:                                                 # link-local addresses ready
        shown = [_ip("-n", ns, "-6", "addr", "show", "scope", "link").stdout.decode()
                 for ns in (server_ns, client_ns)]
        if all("fe80::" in text and "tentative" not in text for text in shown):
            break
        if time.monotonic() > deadline:
            pytest.skip("no IPv6 link-local addresses in the namespaces (IPv6 off?)")
        time.sleep(0.1)
    server = ns_server(pyz, server_ns, tmp_path)
    procs.append(server)
    server.wait_line(lambda line: "只有 `./chat.pyz client` 能找到这个服务器 (IPv6 链路本地地址)"
                     in line)
    client = ns_client(pyz, client_ns, tmp_path, "己")
    procs.append(client)
    client.wait_line(lambda line: line == "己 进入了聊天室")
    assert "地址 [fe80::" in client.stderr_text() and "%vb1]:9797" in client.stderr_text()


@needs_netns
def test_netns_a_broadcast_probe_gets_one_answer(pyz, procs, lab, tmp_path):
    """The server's port is a pair of sockets (app/net/door.py) and the kernel gives
    a broadcast to both: the probe is still answered once, not twice (amplification
    stays at most one answer per probe)."""
    server_ns, client_ns = lab.ns("s"), lab.ns("c")
    lab.link(server_ns, "10.77.5.1/24", client_ns, "10.77.5.2/24", 5)
    procs.append(ns_server(pyz, server_ns, tmp_path))
    code = ("import socket, sys, time; sys.path.insert(0, %r)\n"
            "from app.core import discovery_wire as wire\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)\n"
            "s.bind(('10.77.5.2', 0)); s.settimeout(0.2)\n"
            "s.sendto(wire.encode_probe(b'broadcst'), ('10.77.5.255', 9797))\n"
            "answers, end = 0, time.monotonic() + 1.5   # a second copy would come at once\n"
            "while time.monotonic() < end:\n"
            "    try:\n"
            "        data, _ = s.recvfrom(2048)\n"
            "    except socket.timeout:\n"
            "        continue\n"
            "    answers += wire.decode_answer(data) is not None\n"
            "print(answers)\n" % ROOT)
    done = subprocess.run(["ip", "netns", "exec", client_ns, "python3", "-c", code],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.split() == [b"1"]
