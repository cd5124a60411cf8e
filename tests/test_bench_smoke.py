"""Smoke runs of the benchmark scripts in bench/: tiny N, a few seconds each.

They check that every script runs and that its numbers are sane (every
message counted, nothing lost by our server at a tiny load, percentiles in
order); they never assert speed: this machine is shared and noisy.
"""
import json
import socket
import subprocess
import sys

import pytest

from bench import idle_startup, procs, pyspy
from bench.loadgen import percentile, run_load, split

ROOT = procs.ROOT


def test_naive_server_forwards_chat_to_everyone_else():
    with procs.Server("naive") as server:
        socks = []
        for name in (b"a", b"b", b"c"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.settimeout(2.0)
            sock.connect(("127.0.0.1", server.port))
            sock.send(b"L " + name)
            socks.append(sock)
        socks[0].send(b"C a hello there")
        assert socks[1].recv(100) == b"a : hello there"
        assert socks[2].recv(100) == b"a : hello there"
        socks[2].send(b"Q c")
        socks[1].send(b"C b again")
        assert socks[0].recv(100) == b"b : again"
        socks[2].settimeout(0.3)
        with pytest.raises(socket.timeout):          # neither the sender nor one who quit
            socks[2].recv(100)
        for sock in socks:
            sock.close()


def _sane(result, n):
    assert result["joined"] == n
    assert result["sent"] > 0
    assert result["expected"] == result["sent"] * (n - 1)
    assert 0 <= result["got"] <= result["expected"]
    assert result["dups"] == 0
    assert result["deliveries_per_s"] >= 0
    assert result["hwm_mib"] > 0


def test_loadgen_ours_saturation_counts_every_delivery_and_loses_none():
    result = run_load("ours", 6, "closed", seconds=1.0, senders=3, window=4)
    _sane(result, 6)
    assert result["got"] == result["expected"]
    assert result["loss_pct"] == 0.0
    assert result["server_cpu"] is not None and result["server_cpu"] >= 0
    assert result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]


def test_loadgen_naive_runs_with_two_workers():
    result = run_load("naive", 6, "closed", seconds=1.0, senders=3, window=4, workers=2)
    _sane(result, 6)
    assert result["got"] > 0
    assert 0.0 <= result["loss_pct"] <= 100.0


@pytest.mark.skipif(procs.ngircd_path() is None, reason="ngircd is not installed")
def test_loadgen_irc_over_tcp_loses_nothing():
    result = run_load("irc", 5, "closed", seconds=1.0, senders=2, window=4)
    _sane(result, 5)
    assert result["got"] == result["expected"]


def _latencies_sane(result):
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert 0 < result["arrival_p50_ms"] <= result["arrival_p99_ms"]
    # A datagram is at the socket before the generator handles it (the
    # histograms' buckets are 2 % wide: a bucket's worth of slack).
    assert result["arrival_p50_ms"] <= result["p50_ms"] * 1.03


def test_loadgen_fixed_rate_latency():
    result = run_load("ours", 8, "rate", seconds=1.5, rate=2.0)
    _sane(result, 8)
    assert result["loss_pct"] == 0.0
    _latencies_sane(result)


@pytest.mark.parametrize("kind,lean", [("ours", False), ("ours", True), ("naive", False)])
def test_sinks_count_while_probes_time(kind, lean):
    result = run_load(kind, 12, "rate", seconds=1.5, rate=2.0, probe_every=4,
                      lean_sinks=lean, pin=True)
    _sane(result, 12)
    assert result["pinned"] and result["probe_every"] == 4
    assert result["got"] == result["expected"]      # sinks' counts included, nothing lost
    _latencies_sane(result)


def test_hub_cost_counts_every_delivery():
    from bench import hub_cost

    result = hub_cost.measure(20, 12, 5)
    assert result["joined"] == 20
    assert result["delivered"] == 20 * 12 * 5       # every line to every member, echo too
    assert result["us_per_delivery"] > 0


def test_join_mode_reports_when_all_are_in():
    result = run_load("ours", 12, "join", seconds=0.2)
    assert result["joined"] == 12
    assert result["join_s"] is not None and result["join_s"] >= 0
    assert result["sent"] == 0


def test_restart_storm_everyone_comes_back():
    result = run_load("ours", 10, "rate", seconds=4.0, rate=1.0, restart="kill",
                      restart_after=1.0)
    assert result["rejoined"] == 10
    assert result["rejoin_s"] is not None and result["rejoin_s"] > 0
    assert result["dups"] == 0


def test_idle_cost_numbers():
    result = idle_startup.idle(2.0)
    for key in ("server_cpu_per_min", "server_wakeups_per_min", "client_cpu_per_min",
                "client_wakeups_per_min"):
        assert result[key] >= 0


def test_startup_times(pyz):
    result = idle_startup.startup(runs=2, pyz=pyz)
    assert result["first_ms"] > 0
    for label in ("path", "direct"):
        assert result[label]["pyz_ms"] > 0 and result[label]["ratio"] > 0


def test_run_all_quick_prints_markdown_tables(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run_all", "--quick", "--only", "saturation,join",
         "--no-irc", "--json", str(out)],
        cwd=str(ROOT), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| server | N | deliveries/s" in proc.stdout
    assert "| ours | 10 |" in proc.stdout and "| naive | 10 |" in proc.stdout
    assert "error" not in proc.stdout
    saved = json.loads(out.read_text())
    assert {r["label"] for r in saved["results"]} == {"ours", "naive"}


def test_ab_interleaves_rounds_and_prints_each_and_the_medians():
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ab", str(ROOT), "--naive", "--n", "6", "--rounds", "2",
         "--mode", "rate", "--rate", "2", "--seconds", "1", "--per-round",
         "arrival_p99_ms,loss_pct"],
        cwd=str(ROOT), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rounds = [line for line in proc.stdout.splitlines() if line.startswith("round ")]
    assert [line.split(":")[0] for line in rounds] == [
        "round 1 %s" % ROOT, "round 1 naive", "round 2 %s" % ROOT, "round 2 naive"]
    assert all("arrival_p99_ms " in line and "loss_pct 0.00" in line for line in rounds)
    assert "| %s |" % ROOT in proc.stdout and "| naive |" in proc.stdout


def test_helpers():
    assert [list(r) for r in split(5, 2)] == [[0, 1], [2, 3, 4]]
    assert percentile({}, 0.5) is None
    hist = {100: 98, 300: 2}                        # 2 % wide buckets of microseconds
    assert percentile(hist, 0.5) < percentile(hist, 0.99)


def test_pyspy_summary(tmp_path):
    raw = tmp_path / "x.raw"
    raw.write_text("main (a.py:1);work (b.py:2) 3\nmain (a.py:1);idle (c.py:9) 1\n")
    text = pyspy.summarize(str(raw))
    assert "4 samples" in text and "work (b.py:2)" in text


def test_crypto_cost_reports_every_figure_and_a_flat_rss():
    out = subprocess.run(
        [sys.executable, "-m", "bench.crypto_cost", "--quick", "--repeat", "1", "--ops", "400",
         "--json"], cwd=str(ROOT), check=True, stdout=subprocess.PIPE, timeout=120).stdout
    report = json.loads(out)
    assert len(report["us_per_call"]) == 15 and all(v > 0 for v in report["us_per_call"].values())
    assert set(report["rss_kib_before_after"]) == {"new Aead + seal + open", "key pair + X25519"}


@pytest.mark.parametrize("bench", ["secure_path_cost", "room_key_cost"])
def test_seal_cost_benches_check_what_they_time_and_report_it(bench):
    # Each refuses to time a construction whose output it could not check
    # (RFC 7905's record, an Ed25519 signature that a changed message fails).
    out = subprocess.run(
        [sys.executable, "-m", "bench." + bench, "--n", "10", "--repeat", "1"],
        cwd=str(ROOT), check=True, stdout=subprocess.PIPE, timeout=120).stdout
    for line in out.decode().splitlines():
        report = json.loads(line)
        figures = {k: v for k, v in report.items() if k.endswith("_us") or "_us_" in k}
        assert len(figures) >= 4 and all(v > 0 for v in figures.values()), report



def _can_unshare() -> bool:
    return subprocess.run(["unshare", "-n", "true"], stderr=subprocess.DEVNULL).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs a private network namespace (root)")
def test_attacks_smoke_prints_each_attack_and_the_quiet_members_figures():
    proc = subprocess.run(
        [sys.executable, "bench/attacks.py", "--seconds", "1", "--n", "10"],
        cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    attacks = ("none", "crowd", "flood32", "fill", "who-storm", "never-ack", "evasion")
    for attack in attacks:
        assert any(line.startswith(attack + ":") for line in lines), proc.stdout
    quiet = [line for line in lines if line.strip().startswith("quiet:")]
    assert len(quiet) == len(attacks) and all(" lost 0" in line for line in quiet), proc.stdout
    assert "IPv6 address of her machine, same key: refused" in proc.stdout


def test_hub_cost_secure_counts_every_delivery():
    from bench import hub_cost

    result = hub_cost.measure(10, 6, 3, secure=True)
    assert result["secure"] and result["joined"] == 10
    assert result["delivered"] == 10 * 6 * 3        # every line to every member, echo too
    assert result["us_per_delivery"] > 0


@pytest.mark.parametrize("phase", ["none", "spoofed", "cookie"])
def test_handshake_flood_phases_report_sane_numbers(phase):
    from bench import handshake_flood

    result = handshake_flood.run_phase(phase, 1.5, flooders=1, sources=64, newcomers=2,
                                       app_root=str(ROOT), pin=False)
    assert result["phase"] == phase and result["secure"]
    assert result["lines"] >= 1 and result["lost"] >= 0
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert 0 <= result["newcomers_in"] <= 2 and result["server_socket_drops"] >= 0
    if phase == "none":
        assert result["flood_per_s"] == 0 and result["newcomers_in"] == 2
    else:
        assert result["flood_per_s"] > 0
    if phase == "cookie":
        assert result["handshakes_for_flooder"] >= 1   # the flooder got real handshakes
def test_listening_sees_a_udp6_socket():
    """Old code: for any protocol but "udp" it wanted TCP's LISTEN state, so a
    server on :: (a UDP6 socket) never counted as started."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.bind(("::1", 0))
        port = sock.getsockname()[1]
        assert procs.listening(port, "udp6")
        assert not procs.listening(port, "tcp6")
    finally:
        sock.close()
    assert not procs.listening(port, "udp6")


def test_lossy_joins_reports_every_join(pyz):
    out = subprocess.run(
        [sys.executable, "-m", "bench.lossy_joins", "--joins", "2", "--loss", "0", "--dup", "0",
         "--pyz", pyz], cwd=str(ROOT), check=True, stdout=subprocess.PIPE, timeout=120).stdout
    line = out.decode()
    assert "2 joined" in line and "not joined (seeds): none" in line, line
