"""Two network namespaces joined by a veth pair, for tests that need the
kernel's own loss (nftables) rather than a relay's. Needs root, iproute2 and
nftables: skips with the reason otherwise (.ci/run installs them)."""
import contextlib
import os
import shutil
import subprocess

import pytest


def sh(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=20)


@contextlib.contextmanager
def veth_pair(tag, subnet):
    """(server namespace, client namespace), named `<tag>-s`/`<tag>-c` (a tag
    of its own per test module, so modules run at once do not meet), the
    server at subnet % 1 and the client at subnet % 2; removed afterwards."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"):
        pytest.skip("needs root, iproute2 and nftables (.ci/run installs them)")
    server_ns, client_ns = names = (tag + "-s", tag + "-c")
    for ns in names:
        sh("ip", "netns", "del", ns)
    try:
        steps = [
            ("ip", "netns", "add", server_ns), ("ip", "netns", "add", client_ns),
            ("ip", "link", "add", tag[:8] + "-s", "netns", server_ns, "type", "veth",
             "peer", "name", tag[:8] + "-c", "netns", client_ns),
            ("ip", "-n", server_ns, "addr", "add", subnet % 1 + "/24", "dev", tag[:8] + "-s"),
            ("ip", "-n", client_ns, "addr", "add", subnet % 2 + "/24", "dev", tag[:8] + "-c"),
            ("ip", "-n", server_ns, "link", "set", tag[:8] + "-s", "up"),
            ("ip", "-n", client_ns, "link", "set", tag[:8] + "-c", "up"),
            ("ip", "-n", server_ns, "link", "set", "lo", "up"),
            ("ip", "-n", client_ns, "link", "set", "lo", "up"),
        ]
        for step in steps:
            result = sh(*step)
            if result.returncode != 0:
                pytest.skip("cannot build the namespaces here: %s" % result.stderr.strip())
        yield server_ns, client_ns
    finally:
        for ns in names:
            sh("ip", "netns", "del", ns)


def lossy_rules(port, percent):
    """nftables rules for the client's namespace: `percent` % of the UDP to and
    from `port` dropped, each way, counted."""
    return ("table inet czlossy {\n"
            " chain in { type filter hook input priority 0; "
            "udp sport %d numgen random mod 100 < %d counter drop; }\n"
            " chain out { type filter hook output priority 0; "
            "udp dport %d numgen random mod 100 < %d counter drop; }\n}\n"
            % (port, percent, port, percent))


def load_rules(namespace, rules, tmp_path):
    path = tmp_path / "lossy.nft"
    path.write_text(rules)
    result = sh("ip", "netns", "exec", namespace, "nft", "-f", str(path))
    if result.returncode != 0:
        pytest.skip("nftables cannot load the loss rule here: %s" % result.stderr.strip())


def drop_counts(namespace):
    import re
    listed = sh("ip", "netns", "exec", namespace, "nft", "list", "table", "inet", "czlossy")
    return [int(n) for n in re.findall(r"counter packets (\d+)", listed.stdout)]
