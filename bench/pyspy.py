"""Sample a running server with py-spy (pip install py-spy) and summarise.

    python3 -m bench.pyspy FILE.raw     self and inclusive time per function
"""
import collections
import shutil
import signal
import subprocess
import sys
from typing import Optional


def record(pid: int, seconds: float, out: str) -> Optional[subprocess.Popen]:
    """Start sampling `pid` for `seconds` into `out` (collapsed stacks), or None
    when py-spy is not installed."""
    binary = shutil.which("py-spy")
    if binary is None:
        return None
    return subprocess.Popen([binary, "record", "-p", str(pid), "-d", str(max(1, int(seconds))),
                             "-r", "250", "-f", "raw", "-o", out, "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish(spy: Optional[subprocess.Popen]) -> None:
    """Stop sampling now (py-spy writes its file on SIGINT)."""
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()


def summarize(path: str, top: int = 25) -> str:
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack:
                continue
            frames = [frame.split(" (")[0] + " (" + frame.rsplit("/", 1)[-1]
                      if "/" in frame else frame for frame in stack.split(";")]
            samples = int(count)
            total += samples
            own[frames[-1]] += samples
            for frame in set(frames):
                inclusive[frame] += samples
    lines = ["%d samples" % total, "self%   incl%  function"]
    for frame, samples in own.most_common(top):
        lines.append("%5.1f  %5.1f   %s" % (100.0 * samples / total,
                                           100.0 * inclusive[frame] / total, frame))
    lines.append("-- inclusive --")
    for frame, samples in inclusive.most_common(top):
        lines.append("%5.1f   %s" % (100.0 * samples / total, frame))
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(sys.argv[1]))
