"""Process plumbing (app/net/processes.py) with real forks: the child's exit code
and crash log, the shared cursor, waiting on the channel while its queue drains,
and stopping a child that will not stop."""
import os
import selectors
import signal
import time

from app.net import channel, processes
from app.ui.client.messages import SayLine

BURST = 3000                    # messages: more than a socket pair's buffer holds


def wait_exit(pid, timeout=5.0):
    """The exit status of our child `pid`, polling with a deadline."""
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    raise AssertionError("child %d still running" % pid)


def line(i):
    return SayLine("消息 %05d " % i + "世界" * 40)


def test_child_exit_code_is_what_its_body_returned():
    child = processes.fork_child(lambda end: 7)
    assert os.WEXITSTATUS(wait_exit(child.pid)) == 7


def test_crashing_child_ends_with_1_and_logs_its_traceback(tmp_path):
    log = tmp_path / "crash.log"

    def body(end):
        raise RuntimeError("boom 崩溃")

    child = processes.fork_child(body, crash_log=str(log))
    assert os.WEXITSTATUS(wait_exit(child.pid)) == 1
    text = log.read_text()
    assert "Traceback" in text and "RuntimeError: boom 崩溃" in text


def test_shared_cursor_written_by_the_child_is_read_by_the_parent():
    cursor = processes.SharedCursor()
    assert cursor.get() == (-1, -1)

    def body(end):
        cursor.set(23, 7)
        return 0

    child = processes.fork_child(body)
    assert os.WEXITSTATUS(wait_exit(child.pid)) == 0
    assert cursor.get() == (23, 7)


def test_await_messages_times_out_then_hears_then_sees_the_end():
    def body(end):               # answers only once spoken to: the first wait must time out
        heard = processes.await_messages(end, 5.0)
        end.send(SayLine("你好" if heard == [SayLine("go")] else "bad"))
        return 0

    child = processes.fork_child(body)
    started = time.monotonic()
    assert processes.await_messages(child.channel, 0.05) == []
    assert time.monotonic() - started >= 0.05
    child.channel.send(SayLine("go"))
    assert processes.await_messages(child.channel, 5.0) == [SayLine("你好")]
    assert processes.await_messages(child.channel, 5.0) is None
    assert os.WEXITSTATUS(wait_exit(child.pid)) == 0


def test_waiting_flushes_a_backlog_whole_and_in_order():
    """The parent queues more than the socket holds, then waits: the wait sends the
    rest while the child reads; the child echoes how many it got, in order."""
    go_read, go_write = os.pipe()       # the child reads nothing before the burst is sent

    def body(end):
        os.read(go_read, 1)
        got = []
        stop = time.monotonic() + 10
        while len(got) < BURST and time.monotonic() < stop:
            received = processes.await_messages(end, 1.0)
            if received is None:
                break
            got += received
        end.send(SayLine("ok" if got == [line(i) for i in range(BURST)] else "bad"))
        return 0

    child = processes.fork_child(body)
    try:
        for i in range(BURST):
            child.channel.send(line(i))
        assert child.channel.wants_write, "the burst should outgrow the socket buffer"
    finally:
        os.write(go_write, b"x")
        os.close(go_write)
    reply = processes.await_messages(child.channel, 10.0)
    assert reply == [SayLine("ok")]
    assert os.WEXITSTATUS(wait_exit(child.pid)) == 0


def test_watch_asks_for_writable_only_while_messages_wait():
    one, two = channel.pair()
    with selectors.DefaultSelector() as selector:
        processes.watch(selector, one, "peer")
        assert selector.get_key(one).events == selectors.EVENT_READ
        i = 0
        while not one.wants_write and i < 100000:
            one.send(line(i))
            i += 1
        processes.watch(selector, one, "peer")
        key = selector.get_key(one)
        assert key.events == selectors.EVENT_READ | selectors.EVENT_WRITE and key.data == "peer"
        while one.wants_write and two.receive() is not None:
            one.flush()
        processes.watch(selector, one, "peer")
        assert selector.get_key(one).events == selectors.EVENT_READ
    one.close()
    two.close()


def test_a_child_that_does_not_leave_is_killed_and_reaped():
    def body(end):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        end.send(SayLine("ready"))
        while True:             # never reads, never exits: SIGKILL ends it
            time.sleep(1)

    child = processes.fork_child(body)
    assert processes.await_messages(child.channel, 5.0) == [SayLine("ready")]
    started = time.monotonic()
    child.wait_for_exit(0.2)
    assert 0.15 < time.monotonic() - started < 2.0
    child.reap()
    try:
        os.waitpid(child.pid, os.WNOHANG)
        raise AssertionError("the child was not reaped")
    except ChildProcessError:
        pass


def test_wait_for_exit_returns_at_the_childs_end():
    child = processes.fork_child(lambda end: 0 if processes.await_messages(end, 5.0) else 3)
    child.channel.send(SayLine("leave"))
    started = time.monotonic()
    child.wait_for_exit(5.0)
    assert time.monotonic() - started < 4.0
    assert os.WEXITSTATUS(wait_exit(child.pid)) == 0   # it heard us, and was not killed
