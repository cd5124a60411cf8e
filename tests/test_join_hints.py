"""The server's "how to join" lines (app/core/join_hints.py), from addresses
given in: the shell (app.net.discovery.join_hints) reads the interfaces. The
netns tests in test_discovery.py pin the same lines from a real server."""
from app.core.join_hints import Address, client_command, host_port_text, join_hints


def test_client_command_leaves_out_the_default_port():
    assert client_command(None, 9797) == "chat.pyz client"
    assert client_command("10.0.0.1", 9000, "./chat.pyz") == (
        "./chat.pyz client 10.0.0.1 --port 9000")
    assert host_port_text("fe80::1%eth0", 9797) == "[fe80::1%eth0]:9797"
    assert host_port_text("10.0.0.1", 9797) == "10.0.0.1:9797"


def test_all_interfaces_lists_every_address_aligned():
    hints = join_hints("::", 9797, "./chat.pyz",
                       [Address("10.77.1.1", "va1, network 10.77.1.0/24"),
                        Address("2001:db8::5", "va1, IPv6 /64")], True)
    assert hints == [
        "how to join: ./chat.pyz client              (students on this subnet: finds this "
        "server by broadcast)",
        "         or: ./chat.pyz client 10.77.1.1    (va1, network 10.77.1.0/24)",
        "         or: ./chat.pyz client 2001:db8::5  (va1, IPv6 /64)",
        "on this machine: ./chat.pyz client 127.0.0.1",
        "firewall: let UDP port 9797 in (chat and discovery); broadcast stays in one subnet: "
        "across routers give the address"]


def test_no_address_says_who_can_join():
    link_local = join_hints("0.0.0.0", 9000, "./c.pyz", [], True)
    assert link_local[1] == ("  no IPv4 or global IPv6 address here: only `./c.pyz client "
                             "--port 9000` finds this server (IPv6 link-local)")
    alone = join_hints("::", 9797, "./chat.pyz", [], False)
    assert alone[1] == "  no network interface is up: only this machine can join"


def test_bound_to_one_address():
    assert join_hints("::ffff:127.0.0.1", 9797, "./chat.pyz", [], False) == [
        "how to join: ./chat.pyz client 127.0.0.1",
        "  only this machine can join (--bind 127.0.0.1); there `./chat.pyz client` finds "
        "it too"]
    assert join_hints("10.0.0.7", 9797, "./chat.pyz", [], True) == [
        "how to join: ./chat.pyz client 10.0.0.7",
        "  (with --bind, `./chat.pyz client` does not find this server: broadcasts only "
        "reach a server on all addresses)",
        "firewall: let UDP port 9797 in"]
