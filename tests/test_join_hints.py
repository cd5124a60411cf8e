"""The server's "how to join" hints (app/core/join_hints.py), from addresses
given in: the shell (app.net.discovery.join_hints) reads the interfaces; the
console words them (app/ui/admin_text.py hint_lines), Chinese by default. The
netns tests in test_discovery.py pin the same lines from a real server."""
from app.core.join_hints import Address, Hint, client_command, host_port_text, join_hints
from app.ui.admin_text import hint_lines


def test_client_command_leaves_out_the_default_port():
    assert client_command(None, 9797) == "chat.pyz client"
    assert client_command("10.0.0.1", 9000, "./chat.pyz") == (
        "./chat.pyz client 10.0.0.1 --port 9000")
    assert host_port_text("fe80::1%eth0", 9797) == "[fe80::1%eth0]:9797"
    assert host_port_text("10.0.0.1", 9797) == "10.0.0.1:9797"


ALL = ("::", 9797, "./chat.pyz", [Address("10.77.1.1", "va1", "10.77.1.0/24"),
                                  Address("2001:db8::5", "va1", ipv6_prefix=64)], True)


def test_the_core_gives_keys_and_values_only():
    assert join_hints(*ALL) == [
        Hint("join_broadcast", (("command", "./chat.pyz client"),)),
        Hint("join_address", (("command", "./chat.pyz client 10.77.1.1"),
                              ("interface", "va1"), ("network", "10.77.1.0/24"))),
        Hint("join_address6", (("command", "./chat.pyz client 2001:db8::5"),
                               ("interface", "va1"), ("prefix", "64"))),
        Hint("this_machine", (("command", "./chat.pyz client 127.0.0.1"),)),
        Hint("firewall", (("port", "9797"),))]


def test_all_interfaces_lists_every_address_aligned():
    hints = join_hints(*ALL)
    assert hint_lines(hints, "en") == [
        "how to join: ./chat.pyz client              (students on this subnet: finds this "
        "server by broadcast)",
        "         or: ./chat.pyz client 10.77.1.1    (va1, network 10.77.1.0/24)",
        "         or: ./chat.pyz client 2001:db8::5  (va1, IPv6 /64)",
        "on this machine: ./chat.pyz client 127.0.0.1",
        "firewall: let UDP port 9797 in (chat and discovery); broadcast stays in one subnet: "
        "across routers give the address"]
    assert hint_lines(hints, "zh") == [
        "加入方法: ./chat.pyz client              (同一子网的学生：用广播找到这个服务器)",
        "    或者: ./chat.pyz client 10.77.1.1    (va1，网络 10.77.1.0/24)",
        "    或者: ./chat.pyz client 2001:db8::5  (va1，IPv6 /64)",
        "本机: ./chat.pyz client 127.0.0.1",
        "防火墙: 请放行 UDP 端口 9797 (聊天和查找服务器)；广播只在一个子网内有效，跨路由器请给出地址"]
    # As they cross the console channel (JSON: plain tuples), the same lines.
    plain = tuple((key, tuple(tuple(pair) for pair in values)) for key, values in hints)
    assert hint_lines(plain, "zh") == hint_lines(hints, "zh")


def test_no_address_says_who_can_join():
    link_local = hint_lines(join_hints("0.0.0.0", 9000, "./c.pyz", [], True), "en")
    assert link_local[1] == ("  no IPv4 or global IPv6 address here: only `./c.pyz client "
                             "--port 9000` finds this server (IPv6 link-local)")
    alone = join_hints("::", 9797, "./chat.pyz", [], False)
    assert hint_lines(alone, "en")[1] == "  no network interface is up: only this machine can join"
    assert hint_lines(alone, "zh")[1] == "  没有启用的网络接口：只有本机能加入"


def test_bound_to_one_address():
    assert hint_lines(join_hints("::ffff:127.0.0.1", 9797, "./chat.pyz", [], False), "en") == [
        "how to join: ./chat.pyz client 127.0.0.1",
        "  only this machine can join (--bind 127.0.0.1); there `./chat.pyz client` finds "
        "it too"]
    assert hint_lines(join_hints("10.0.0.7", 9797, "./chat.pyz", [], True), "en") == [
        "how to join: ./chat.pyz client 10.0.0.7",
        "  (with --bind, `./chat.pyz client` does not find this server: broadcasts only "
        "reach a server on all addresses)",
        "firewall: let UDP port 9797 in"]
    assert hint_lines(join_hints("10.0.0.7", 9797, "./chat.pyz", [], True), "zh") == [
        "加入方法: ./chat.pyz client 10.0.0.7",
        "  (用了 --bind，`./chat.pyz client` 找不到这个服务器：广播只能找到在所有地址上监听的服务器)",
        "防火墙: 请放行 UDP 端口 9797"]
