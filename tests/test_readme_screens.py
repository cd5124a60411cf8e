"""README's "What it looks like" shows what the program draws now (issue 18's
check): tests/readme_screens.py draws both screens from the real program in a
pty (pyte), and each README block must match them line by line once what
differs from run to run is taken out: the clock, the uptime, idle times and
the line rate, the temporary directory's name, the clients' source ports, and
the runs of spaces that alignment puts around a wider or narrower figure.
(The server key is fixed by the script: its words, and the wrapping around
them, are the same every run.) A screen that changed is re-drawn with
`build/venv-test/bin/python tests/readme_screens.py` and pasted into README.
"""
import os
import re

import pytest
import readme_screens

pytestmark = pytest.mark.timeout(90)

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
VARIABLE = [
    (re.compile(r"\d\d:\d\d(:\d\d)?"), "TIME"),               # clock, [HH:MM], uptime
    (re.compile(r"(?<=运行 )\d+:\d\d:\d\d|(?<=up )\d+:\d\d:\d\d"), "TIME"),
    (re.compile(r"\b\d+s$"), "IDLE"),                         # the roster's idle column
    (re.compile(r"\d+\.\d(?= 条/秒| lines/s)"), "RATE"),
    (re.compile(r"chat-readme-\w{8}"), "chat-readme-TMP"),
    (re.compile(r"(127\.0\.0\.1):(?!9797\b)\d+"), r"\1:PORT"),  # the clients' source ports
    (re.compile(r" {2,}"), " "),
]


def normal(rows):
    out = []
    for row in rows:
        for pattern, put in VARIABLE:
            row = pattern.sub(put, row)
        out.append(row.rstrip())
    while out and not out[-1]:
        out.pop()
    return out


def readme_blocks():
    """The code blocks of README's "What it looks like": (client, console)."""
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## What it looks like", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```\n(.*?)^```", section, re.S | re.M)
    assert len(blocks) == 2, blocks
    return blocks[0].splitlines(), blocks[1].splitlines()


def test_readme_shows_the_screens_the_program_draws(pyz):
    if readme_screens.default_port_or_any() != 9797:
        pytest.skip("UDP port 9797 is taken here: README's screens are drawn on it")
    drawn = readme_screens.screens(pyz, tick=False)
    client, console = readme_blocks()
    assert normal(drawn["client"]) == normal(client)
    assert normal(drawn["console"]) == normal(console)
