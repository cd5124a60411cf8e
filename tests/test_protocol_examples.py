"""docs/PROTOCOL.md's hex dumps stay true: S.13 is exactly what
bench/protocol_examples.py prints (a secure handshake and the first RECORDs,
made by the real code with fixed keys), and the version-1 dumps of section 15
are what the script printed in that section makes."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "PROTOCOL.md"
BEGIN = "<!-- begin: output of bench/protocol_examples.py -->\n"
END = "<!-- end: output of bench/protocol_examples.py -->\n"


def test_the_secure_session_example_is_the_scripts_output():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "protocol_examples.py")],
                         cwd=str(ROOT), capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode()
    output = run.stdout.decode("utf-8")
    doc = DOC.read_text(encoding="utf-8")
    assert doc.count(BEGIN) == 1 and doc.count(END) == 1
    between = doc.split(BEGIN)[1].split(END)[0]
    assert between == output, "run python3 bench/protocol_examples.py --update"
    for needle in ("**1. INIT, no cookie yet** (68 bytes)", "**4. RESPONSE** (116 bytes)",
                   "**5. FINISH** (88 bytes)", "handshake hash h", "k1 (client -> server)"):
        assert needle in output


def _dump(data):
    return ["    %04x  %-47s  %s" % (at, " ".join("%02x" % b for b in data[at:at + 16]),
                                    "".join(chr(b) if 0x20 <= b < 0x7f else "."
                                            for b in data[at:at + 16]))
            for at in range(0, len(data), 16)]


def test_the_version_1_dumps_are_what_their_script_makes():
    doc = DOC.read_text(encoding="utf-8")
    script = doc.split("The script (run from the repository root):\n\n```python\n")[1]
    script = script.split("```")[0]
    made = {}
    sys.path.insert(0, str(ROOT))
    try:
        exec(compile(script, "PROTOCOL.md section 15", "exec"), made)
    finally:
        sys.path.remove(str(ROOT))
    for name, size in (("hello", 85), ("data", 45), ("event", 78), ("room", 70),
                       ("run", 110), ("room_ack", 30), ("tagged", 38)):
        data = made[name]
        assert len(data) == size, name
        assert "(%d bytes" % size in doc
        for line in _dump(data):
            assert line in doc, (name, line)
