"""Limits per person through the built chat.pyz: the server's options."""
import pytest

from tests.chatproc import HOST, WAIT, free_udp_port, start_server
from tests.interop_client import InteropClient

THROTTLED = 1                                  # NOTICE_THROTTLED


@pytest.fixture
def port():
    return free_udp_port()


def test_line_rate_sets_each_persons_budget(pyz, port, procs, tmp_path):
    """--line-rate 1: a burst of 6 s' worth (6 lines), then one a second (the
    default, 5, would have said all 20 lines at once)."""
    procs.append(start_server(pyz, port, tmp_path, "--line-rate", "1"))
    talker = InteropClient(HOST, port, "talker")
    try:
        talker.join()
        for i in range(20):
            talker.say("line %d" % i)
        notice = talker.wait_for(lambda e: e["kind"] == "notice" and e["code"] == THROTTLED,
                                 WAIT)
        assert notice is not None and notice["text"].startswith("1 lines a second at most")
        talker.wait_for(lambda e: e["kind"] == "chat" and e["text"] == "line 8", WAIT)
        said = [(e["text"], e["time"]) for e in talker.events if e["kind"] == "chat"]
        assert [text for text, _ in said[:9]] == ["line %d" % i for i in range(9)]
        start = said[0][1]
        assert said[5][1] - start < 0.5                      # the burst: at once ...
        for (_, before), (_, after) in zip(said[5:8], said[6:9]):
            assert 0.8 < after - before < 1.5                # ... then one a second
    finally:
        talker.close()
