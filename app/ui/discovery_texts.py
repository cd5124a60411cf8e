"""LAN discovery for the user: the lines a client prints about the servers it
found, and the choice among them (which to join, or which exit code). The
sockets are app/net/discovery.py; both client front ends (client_plain,
client_tui) call `find_for_client`."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from app import __version__
from app.core import protocol
from app.core.discovery_wire import Found
from app.core.exit_codes import ExitCode
from app.core.join_hints import client_command, host_port_text
from app.net import discovery
from app.net.discovery import DISCOVER_TIMEOUT, SETTLE

__all__ = ["describe", "version_text", "client_command", "nothing_found_text", "choose",
           "find_for_client", "pick_list_header", "pick_list_prompt"]

# Every line a person reads about the search, one table per language (the
# client's --lang; the room texts' default, Chinese, first). A line is in one
# language, the server's name and addresses aside.
TEXTS: Dict[str, Dict[str, str]] = {
    "zh": {
        "describe": "%(name)s  %(addr)s  在线 %(online)d 人",
        "password": "  有房间密码",
        "also": "  (也在 %(addresses)s)",
        "version": "使用协议版本 %(theirs)d%(software)s，本 chat.pyz (%(ours_software)s) 使用 "
                   "%(ours)d：请用服务器上的 chat.pyz",
        "software": " (chat.pyz %(software)s)",
        "asked": "（问过 %(where)s）",
        "nothing": "%(timeout).0f 秒内 UDP 端口 %(port)d 上没有聊天服务器回应%(asked)s。"
                   "请给出服务器的地址：%(command)s（服务器启动时会显示）。如果服务器在运行，"
                   "它的防火墙必须放行 UDP 端口 %(port)d；广播查找只在你自己的子网内有效。",
        "found": "找到聊天服务器 %(name)s，地址 %(addr)s（在线 %(online)d 人%(password)s），"
                 "正在连接",
        "found_password": "，有房间密码",
        "not_chosen": "（没有选 %(name)s，地址 %(addr)s：它%(why)s）",
        "several": "UDP 端口 %(port)d 上有 %(count)d 个聊天服务器回应；请选一个，用它的地址"
                   "重新启动：",
        "other_version": "聊天服务器 %(name)s（地址 %(addr)s）%(why)s",
        "pick_header": "有 %(count)d 个聊天服务器回应：",
        "pick_prompt": "请选择 1-%(count)d（回车：1，q：退出）：",
    },
    "en": {
        "describe": "%(name)s  %(addr)s  %(online)d online",
        "password": "  password",
        "also": "  (also %(addresses)s)",
        "version": "speaks protocol version %(theirs)d%(software)s, this chat.pyz "
                   "(%(ours_software)s) speaks %(ours)d: use the server's chat.pyz",
        "software": " (chat.pyz %(software)s)",
        "asked": " (asked %(where)s)",
        "nothing": "no chat server answered on UDP port %(port)d within %(timeout).0f s%(asked)s. "
                   "Give the server's address: %(command)s (the server prints it at start). "
                   "If it is running, its firewall must let UDP port %(port)d in, and finding "
                   "it by broadcast only works on your own subnet.",
        "found": "found the chat server %(name)s at %(addr)s (%(online)d online%(password)s); "
                 "connecting",
        "found_password": ", room password",
        "not_chosen": "(not %(name)s at %(addr)s: it %(why)s)",
        "several": "%(count)d chat servers answered on UDP port %(port)d; choose one and start "
                   "again with its address:",
        "other_version": "the chat server %(name)s at %(addr)s %(why)s",
        "pick_header": "%(count)d chat servers answered:",
        "pick_prompt": "choose 1-%(count)d (Enter: 1, q: quit): ",
    },
}


def _tr(lang: str, key: str, **values: object) -> str:
    return TEXTS.get(lang, TEXTS["en"])[key] % values


def describe(found: Found, lang: str) -> str:
    """One line for a list or pick list: name, address, online, other addresses."""
    line = _tr(lang, "describe", name=found.name or "?",
               addr=host_port_text(found.host, found.port), online=found.online)
    if found.password:
        line += _tr(lang, "password")
    if len(found.addresses) > 1:
        line += _tr(lang, "also", addresses=", ".join(found.addresses[1:]))
    if not found.compatible:
        line += "  [%s]" % version_text(found, lang)
    return line


def version_text(found: Found, lang: str) -> str:
    software = _tr(lang, "software", software=found.software) if found.software else ""
    return _tr(lang, "version", theirs=found.version, software=software,
               ours_software=__version__, ours=protocol.VERSION)


def nothing_found_text(port: int, timeout: float, lang: str,
                       searched: Sequence[str] = ()) -> str:
    asked = _tr(lang, "asked", where=", ".join(searched)) if searched else ""
    return _tr(lang, "nothing", port=port, timeout=timeout, asked=asked,
               command=client_command("HOST", port))


def pick_list_header(count: int, lang: str) -> str:
    return _tr(lang, "pick_header", count=count)


def pick_list_prompt(count: int, lang: str) -> str:
    return _tr(lang, "pick_prompt", count=count)


def choose(found: Sequence[Found], port: int, lang: str, timeout: float = DISCOVER_TIMEOUT,
           searched: Sequence[str] = ()) -> Tuple[Optional[Found], int, List[str]]:
    """Line mode's decision: (server to connect to or None, exit code if None,
    lines for stderr). One usable server: connect; several: list them and ask
    for HOST (exit 4); only other protocol versions: say so (exit 3); none: what
    to try (exit 4)."""
    usable = [f for f in found if f.compatible]
    if len(usable) == 1:
        chosen = usable[0]
        lines = ["chat.pyz: " + _tr(
            lang, "found", name=chosen.name, addr=host_port_text(chosen.host, chosen.port),
            online=chosen.online, password=_tr(lang, "found_password") if chosen.password else "")]
        for f in found:
            if not f.compatible:         # unusable anyway: say why it is not chosen
                lines.append("chat.pyz: " + _tr(lang, "not_chosen", name=f.name,
                                                addr=host_port_text(f.host, f.port),
                                                why=version_text(f, lang)))
        return chosen, ExitCode.OK, lines
    if usable:
        lines = ["chat.pyz: " + _tr(lang, "several", count=len(found), port=port)]
        for f in found:
            lines.append("  %-40s # %s" % (client_command(f.host, f.port), describe(f, lang)))
        return None, ExitCode.UNREACHABLE, lines
    if found:
        return None, ExitCode.REFUSED, ["chat.pyz: " + _tr(
            lang, "other_version", name=f.name, addr=host_port_text(f.host, f.port),
            why=version_text(f, lang)) for f in found]
    return None, ExitCode.UNREACHABLE, ["chat.pyz: " + nothing_found_text(port, timeout, lang,
                                                                          searched)]


def find_for_client(port: int, lang: str, timeout: float = DISCOVER_TIMEOUT,
                    targets: Optional[Sequence[str]] = None,
                    pick: Optional[Callable[[List[Found]], Optional[Found]]] = None
                    ) -> Tuple[Optional[str], int, List[str]]:
    """`chat.pyz client` without HOST: (host to connect to or None, exit code,
    lines for stderr). With `pick` (an interactive front end), several usable
    servers are offered to it instead of being listed for the user to retype."""
    prober = discovery.run(discovery.Prober(port, timeout, SETTLE, targets))
    found = prober.found()
    usable = [f for f in found if f.compatible]
    if pick is not None and len(usable) > 1:
        chosen = pick(usable)
        if chosen is not None:
            return chosen.host, 0, []
    chosen, code, lines = choose(found, port, lang, timeout, prober.searched())
    return (chosen.host if chosen else None), code, lines


