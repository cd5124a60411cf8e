"""The pick list the curses client shows when several servers answer."""
from app.core.discovery_wire import Found
from app.ui.client.login import pick_server


def servers():
    return [Found("lab-a", "10.0.0.5", 9797, 12, ("10.0.0.5",), 1, "0.1.0", b"a" * 8, False),
            Found("lab-b", "10.0.1.7", 9797, 3, ("10.0.1.7",), 1, "0.1.0", b"b" * 8, True)]


def pick(answers, lang="en"):
    shown = []
    replies = iter(answers)

    def read():
        answer = next(replies)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return pick_server(servers(), lang, read, shown.append), "".join(shown)


def test_lists_every_server_with_a_number_and_takes_the_choice():
    chosen, shown = pick(["2"])
    assert chosen.name == "lab-b"
    assert "1) lab-a" in shown and "2) lab-b" in shown and "password" in shown


def test_enter_takes_the_first_and_nonsense_asks_again():
    assert pick([""])[0].name == "lab-a"
    chosen, shown = pick(["7", "x", "1"])
    assert chosen.name == "lab-a" and shown.count("choose 1-2") == 3


def test_quit_eof_and_ctrl_c_decline():
    for answers in (["q"], [EOFError()], [KeyboardInterrupt()]):
        assert pick(answers)[0] is None


def test_the_pick_list_speaks_the_clients_language():
    chosen, shown = pick(["", ], lang="zh")
    assert chosen.name == "lab-a"
    assert "有 2 个聊天服务器回应" in shown and "1) lab-a  10.0.0.5:9797  在线 12 人" in shown
    assert "2) lab-b  10.0.1.7:9797  在线 3 人  有房间密码" in shown
    assert "请选择 1-2（回车：1，q：退出）：" in shown
    assert "online" not in shown and "choose" not in shown         # one language per line
