"""Room events -> display lines, in Chinese (default) or English. Pure.

A display line is a list of (text, style) segments. Styles are names, not curses
attributes, so this module stays testable without a terminal; the front end maps
them to colours (or to bold/reverse/dim on a terminal without colour):

  time      the [HH:MM] prefix              history   a line replayed from history
  nameN     a person's name, N = stable colour index (see name_style)
  self      our own name                    mention   a chat text that names us
  admin     管理员消息 lines                 private   private messages
  notice    server notices and local lines  text      plain text ("" also means plain)
  pending   our own line the room has not seen yet (dim, with a mark)

Every string that came from the network passes sanitize_text (a message's text:
sanitize_message, which keeps its line breaks): a name or message with ESC
sequences or control characters cannot reach the terminal. A message's tabs
become spaces here (tab stops every 8 columns from the start of its line); its
line breaks stay in the text segment, which the message pane turns into rows
indented under the first line (messages_view.wrap_segments) and line mode into
continuation lines (client_plain).
"""
import time
import zlib
from typing import Any, Callable, Dict, List, Optional, Tuple

from app.core import protocol as P
from app.core.client_core import SERVER_TIMEOUT
from app.core.file_names import human_size
from app.core.text import NameProblem, sanitize_message, sanitize_text
from app.ui import os_words
from app.ui.language import worded
from app.ui.width import expand_tabs

Segment = Tuple[str, str]
Line = List[Segment]

# Line mode and the --log file print a multi-line message's further lines on lines
# of their own, each starting with this (no event line starts with a space).
CONTINUATION = " | "
NAME_COLOURS = 6            # red green yellow blue magenta cyan: readable on dark and light

# Every text the client shows, by language. Room texts are the course's own.
TEXTS: Dict[str, Dict[str, Any]] = {
    "zh": {
        "join": "%(name)s 进入了聊天室",
        "leave": "%(name)s 退出了聊天室",
        "members": "%(joined)d 人进入、%(left)d 人退出了聊天室（人太多，不逐一显示）",
        "leave_timeout": " (超时)",
        "leave_kicked": " (被踢出)",
        "leave_banned": " (被封禁)",
        "leave_closing": " (服务器关闭)",
        "admin": "管理员消息: %(text)s",
        "private_in": "%(name)s 悄悄对你说: ",
        "private_out": "你悄悄对 %(target)s 说: ",
        "who": "在线 %(count)d 人: %(names)s",
        "notice_throttled": "发送太快，请稍候再发",
        "notice_no_such_user": "没有这个人: %(who)s",
        "notice_muted": "你已被禁言",
        "notice_rejected": "消息未被接受",
        "history_end": "—— 以上是历史消息 ——",
        "new_below": "—— 下面有 %(count)d 条新消息 (PgDn) ——",
        "scrolled": "—— 正在回看 (PgDn 回到底部) ——",
        # status line and front-end texts
        "state_connecting": "连接中…",
        "state_joined": "已连接",
        "state_reconnecting": "正在重连…",
        "state_refused": "被拒绝",
        "state_closed": "连接已关闭",
        "online": "在线 %(count)d",
        "name_prompt": "名字: ",
        "ask_name": "请输入你的名字 (Ctrl-C 退出)",
        "connecting": "正在连接 %(server)s …",
        "unreachable": "无法连接 %(server)s，正在重试 (%(seconds)d 秒)… Ctrl-C 退出",
        "unreachable_why": "原因: %(reason)s",
        "gave_up": "无法连接 %(server)s: %(reason)s",
        "refused": "服务器拒绝了: %(reason)s",
        "try_again": "请换一个名字再试",
        "bad_name": "名字不可用: %(reason)s",
        "joined_as": "已作为 %(name)s 加入 %(server)s。输入 /help 查看命令",
        "server_key": "加密连接；服务器指纹: %(words)s（可以和老师屏幕上的指纹对照）",
        "closed": "连接已关闭: %(reason)s",
        "unknown_command": "未知命令 %(command)s，输入 /help 查看命令",
        "usage_msg": "用法: /msg 名字 内容",
        "file_received": "收到文件: %(name)s (%(size)s) → %(path)s",
        "file_not_saved": "文件 %(name)s 没有保存: %(why)s",
        "why_mismatch": "校验不一致（发送时文件被改动了）",
        "why_write": "写入失败",
        "why_no_space": "磁盘空间不够",
        "why_unwritable": "下载文件夹不能写入（用 --downloads 指定别的文件夹）",
        "why_cancelled": "发送方取消了",
        "handed_in": "作业已提交: %(name)s (%(size)s) SHA-256 %(sha)s",
        "hand_in_sending": "正在提交 %(name)s (%(size)s)…",
        "progress_in": "接收",
        "progress_out": "提交",
        "hand_in_failed": "作业 %(name)s 没有提交: %(why)s",
        "hand_in_problem": "无法提交: %(reason)s",
        "usage_hand_in": "用法: /hand-in 文件路径（或 /交作业 文件路径）",
        "refuse_1": "文件太大（上限 %(detail)s）",
        "refuse_2": "超出了个人配额（还剩 %(detail)s）",
        "refuse_3": "服务器磁盘空间不够",
        "refuse_4": "服务器不能保存文件",
        "refuse_5": "文件名不可用",
        "refuse_6": "服务器不接收这种文件",
        "refuse_7": "服务器正忙，请稍后再试",
        "refuse_0": "传输中文件被改动了，请重新提交",
        "usage_me": "用法: /me 动作",
        "usage_lastlog": "用法: /lastlog 文字",
        "lastlog_found": "有 %(count)d 行包含 “%(text)s”:",
        "lastlog_last": "有 %(count)d 行包含 “%(text)s”，下面是最后 %(shown)d 行:",
        "lastlog_none": "没有包含 “%(text)s” 的行",
        "activity": "新 %(count)d",
        "log_failed": "无法打开日志文件 %(path)s: %(reason)s",
        "too_long": "输入过长 (%(size)d 字节，上限 %(limit)d)，未插入",
        "split": "消息较长，分成 %(count)d 条发送",
        "receiver_died": "接收进程意外退出",
        "pending_mark": " (待发送)",
        "undelivered_mark": " (未送达)",
        "kicked": "你被管理员移出了聊天室%(why)s。过一会儿可以重新运行客户端加入",
        "dropped_no_acks": "服务器 %(n)s 秒没有收到你的确认，断开了你的连接（网络可能只通一个方向）；正在重新加入",
        "dropped_backlog": "发给你的消息有 %(n)s KiB 没有得到确认，服务器断开了你的连接（网络太慢或不通）；正在重新加入",
        "kicked_until": "你被管理员移出了聊天室%(why)s。%(until)s 以后可以重新运行客户端加入",
        "banned_until": "你被管理员禁止进入聊天室，到 %(until)s 为止%(why)s。之后可以重新运行客户端加入",
        "banned": "你被管理员禁止进入聊天室%(why)s。禁令结束后可以重新运行客户端加入",
        "refused_kicked": "你刚被管理员移出聊天室%(why)s，%(until)s 以后才能再加入",
        "refused_name": "名字 %(name)s 被管理员禁止进入聊天室，到 %(until)s 为止%(why)s",
        "refused_host": "你的电脑被管理员禁止进入聊天室，到 %(until)s 为止%(why)s；换名字也不行",
        "refused_key": "你的客户端被管理员禁止进入聊天室，到 %(until)s 为止%(why)s",
        "refused_taken": "名字 %(name)s 已经有人在用了，请换一个",
        "refused_looks_like": "名字 %(name)s 和聊天室里的 %(other)s 太像了，请换一个",
        "refused_room_full": "聊天室满了（%(other)s 人），请稍后再试",
        "refused_host_full": "从你这台电脑加入的人太多了（最多 %(other)s 个），请稍后再试",
        "refused_wrong_password": "聊天室密码不对",
        "refused_needs_password": "这个聊天室要密码：用 --password 加入",
        "refused_no_password": "这个聊天室没有密码：去掉 --password 再加入",
        "refused_server_key": "服务器的密钥变了（现在是 %(new)s，原来是 %(old)s）。如果是老师换了"
                              "服务器或密钥，用 --accept-new-key 加入；否则可能有人冒充服务器",
        "notice_muted_until": "你已被管理员禁言，到 %(until)s 为止",
        "notice_unmuted": "禁言已解除，可以发言了",
        "why": " (原因: %(reason)s)",
        "server_closing": "服务器已关闭。它重新启动后客户端会自动重连；也可以 /quit 退出，稍后再启动客户端",
        "press_key": "按任意键退出 (%(seconds)d 秒后自动退出)",
        "no_server": "%(server)s 没有聊天服务器: %(why)s，已等了 %(seconds)d 秒 (服务器在运行吗？"
                     "防火墙挡住 UDP 端口 %(port)d 了吗？)",
        "lost": "连接断了 (%(why)s)；正在重连",
        "not_delivered": "服务器没有回来；%(count)d 行没有送达",
        "not_encrypted": "没有加密 (--insecure)",
        "refused_plain": "服务器拒绝了",
        "help": [
            "命令:",
            "  /who             谁在线",
            "  /msg 名字 内容   私聊",
            "  /me 动作         动作消息，例如 /me 挥手",
            "  /quit            退出 (也可以 Ctrl-C，或空行上 Ctrl-D)",
            "  //文字           发送以 / 开头的文字",
            "  /clear           清空消息区",
            "  /lastlog 文字    列出包含这段文字的消息",
            "  /交作业 路径     提交作业 (也可以 /hand-in 路径)",
            "按键: PgUp/PgDn 翻页  Ctrl-Home/End 最早/最新  Tab 补全名字  上/下 输入历史",
            "      Alt-b/f 或 Ctrl-左/右 按词移动  Alt-d 删词  Ctrl-L 重画",
            "      Ctrl-Y 粘回删掉的字 (紧接着 Alt-y 换成更早删掉的)",
            "状态栏: 新 N = 上次按键以来别人发来的消息数",
        ],
    },
    "en": {
        "join": "%(name)s joined the room",
        "leave": "%(name)s left the room",
        "members": "%(joined)d joined and %(left)d left the room (too many to show each)",
        "leave_timeout": " (timed out)",
        "leave_kicked": " (kicked)",
        "leave_banned": " (banned)",
        "leave_closing": " (server closing)",
        "admin": "Admin message: %(text)s",
        "private_in": "%(name)s whispers: ",
        "private_out": "you whisper to %(target)s: ",
        "who": "Online (%(count)d): %(names)s",
        "notice_throttled": "You are sending too fast; wait a moment",
        "notice_no_such_user": "No one here is called %(who)s",
        "notice_muted": "You are muted",
        "notice_rejected": "Message not accepted",
        "history_end": "-- history above --",
        "new_below": "-- %(count)d new below (PgDn) --",
        "scrolled": "-- scrolled back (PgDn to return) --",
        "state_connecting": "connecting…",
        "state_joined": "connected",
        "state_reconnecting": "reconnecting…",
        "state_refused": "refused",
        "state_closed": "closed",
        "online": "%(count)d online",
        "name_prompt": "name: ",
        "ask_name": "Type your name (Ctrl-C to leave)",
        "connecting": "Connecting to %(server)s …",
        "unreachable": "Cannot reach %(server)s, still trying (%(seconds)ds)… Ctrl-C to leave",
        "unreachable_why": "Reason: %(reason)s",
        "gave_up": "Cannot reach %(server)s: %(reason)s",
        "refused": "The server refused: %(reason)s",
        "try_again": "Please try another name",
        "bad_name": "Name not usable: %(reason)s",
        "joined_as": "Joined %(server)s as %(name)s. Type /help for commands",
        "server_key": "Encrypted; server key: %(words)s (compare it with the teacher's screen)",
        "closed": "Connection closed: %(reason)s",
        "unknown_command": "Unknown command %(command)s; type /help",
        "usage_msg": "usage: /msg NAME text",
        "file_received": "received file: %(name)s (%(size)s) → %(path)s",
        "file_not_saved": "file %(name)s not saved: %(why)s",
        "why_mismatch": "the checksum does not match (the file changed while it was sent)",
        "why_write": "writing failed",
        "why_no_space": "the disk is full",
        "why_unwritable": "the downloads folder cannot be written (--downloads DIR chooses another)",
        "why_cancelled": "the sender cancelled it",
        "handed_in": "handed in: %(name)s (%(size)s) SHA-256 %(sha)s",
        "hand_in_sending": "handing in %(name)s (%(size)s)…",
        "progress_in": "receiving",
        "progress_out": "handing in",
        "hand_in_failed": "%(name)s was not handed in: %(why)s",
        "hand_in_problem": "cannot hand in: %(reason)s",
        "usage_hand_in": "usage: /hand-in PATH (or /交作业 PATH)",
        "refuse_1": "the file is too big (the limit is %(detail)s)",
        "refuse_2": "over your quota (%(detail)s left)",
        "refuse_3": "the server's disk is full",
        "refuse_4": "the server cannot store files",
        "refuse_5": "no usable file name",
        "refuse_6": "the server does not take this",
        "refuse_7": "the server is busy; try again later",
        "refuse_0": "the file changed while it was sent; hand it in again",
        "usage_me": "usage: /me action",
        "usage_lastlog": "usage: /lastlog TEXT",
        "lastlog_found": "%(count)d lines contain \"%(text)s\":",
        "lastlog_last": "%(count)d lines contain \"%(text)s\"; the last %(shown)d:",
        "lastlog_none": "no line contains \"%(text)s\"",
        "activity": "Act: %(count)d",
        "log_failed": "cannot open the log file %(path)s: %(reason)s",
        "too_long": "Input too long (%(size)d bytes, limit %(limit)d); not inserted",
        "split": "Long message: sent as %(count)d parts",
        "receiver_died": "the receiving process ended unexpectedly",
        "pending_mark": " (pending)",
        "undelivered_mark": " (not delivered)",
        "kicked": "The admin removed you from the room%(why)s. You may start the client again "
                  "in a while",
        "dropped_no_acks": "The server heard no acknowledgement from you for %(n)s s and dropped "
                           "you (the network may work one way only); joining again",
        "dropped_backlog": "%(n)s KiB sent to you went unacknowledged and the server dropped "
                           "you (the network is too slow or broken); joining again",
        "kicked_until": "The admin removed you from the room%(why)s. You may start the client "
                        "again after %(until)s",
        "refused_kicked": "The admin removed you from the room just now%(why)s; you may join "
                          "again after %(until)s",
        "refused_name": "The admin banned the name %(name)s from the room until %(until)s%(why)s",
        "refused_host": "The admin banned your computer from the room until %(until)s%(why)s; "
                        "another name will not help",
        "refused_key": "The admin banned your client from the room until %(until)s%(why)s",
        "refused_taken": "The name %(name)s is taken; choose another",
        "refused_looks_like": "The name %(name)s looks too much like %(other)s, who is here; "
                              "choose another",
        "refused_room_full": "The room is full (%(other)s people); try again later",
        "refused_host_full": "Too many people from your computer (at most %(other)s); "
                             "try again later",
        "refused_wrong_password": "Wrong room password",
        "refused_needs_password": "This room needs a password: join with --password",
        "refused_no_password": "This room has no password: join without --password",
        "refused_server_key": "The server has a different key (now %(new)s, was %(old)s). If "
                              "the teacher moved the server or made a new key, join with "
                              "--accept-new-key; otherwise someone may be posing as the server",
        "notice_muted_until": "The admin muted you until %(until)s",
        "notice_unmuted": "Your mute is over: you may speak again",
        "banned_until": "The admin banned you from the room until %(until)s%(why)s. You may "
                        "start the client again after that",
        "banned": "The admin banned you from the room%(why)s. You may start the client again "
                  "when the ban ends",
        "why": " (reason: %(reason)s)",
        "server_closing": "The server has shut down. The client reconnects when it is back; "
                          "or /quit and start the client again later",
        "press_key": "Press any key to leave (leaving by itself in %(seconds)d s)",
        "no_server": "no chat server at %(server)s: %(why)s after %(seconds)d s (is the server "
                     "running? does a firewall block UDP port %(port)d?)",
        "lost": "connection lost (%(why)s); reconnecting",
        "not_delivered": "the server did not come back; %(count)d lines were not delivered",
        "not_encrypted": "not encrypted (--insecure)",
        "refused_plain": "refused by the server",
        "help": [
            "Commands:",
            "  /who             who is online",
            "  /msg NAME text   private message",
            "  /me action       an action, e.g. /me waves",
            "  /quit            leave (also Ctrl-C, or Ctrl-D on an empty line)",
            "  //text           send text that starts with /",
            "  /clear           empty the message pane",
            "  /lastlog TEXT    list the messages that contain TEXT",
            "  /hand-in PATH    hand a file in (also /交作业 PATH)",
            "Keys: PgUp/PgDn scroll  Ctrl-Home/End oldest/newest  Tab complete names",
            "      Up/Down input history  Alt-b/f or Ctrl-Left/Right by words",
            "      Alt-d delete a word  Ctrl-Y yank (Alt-y older)  Ctrl-L redraw",
            "Status line: Act: N = messages from others since your last key",
        ],
    },
}

# Why the server refused us, by REFUSE code: the server's own reason (English,
# with the details) follows in parentheses.
REFUSAL_WORDS: Dict[str, Dict[int, str]] = {
    "zh": {P.REFUSE_NAME_TAKEN: "名字已被占用", P.REFUSE_NAME_INVALID: "名字不可用",
           P.REFUSE_BANNED: "你已被禁止进入", P.REFUSE_FULL: "聊天室已满",
           P.REFUSE_BAD_VERSION: "版本不兼容", P.REFUSE_WRONG_PASSWORD: "聊天室密码不对",
           P.REFUSE_THROTTLED: "请求太频繁"},
    "en": {P.REFUSE_NAME_TAKEN: "name taken", P.REFUSE_NAME_INVALID: "name not allowed",
           P.REFUSE_BANNED: "banned", P.REFUSE_FULL: "room full",
           P.REFUSE_BAD_VERSION: "incompatible version", P.REFUSE_WRONG_PASSWORD:
           "wrong room password", P.REFUSE_THROTTLED: "too many attempts"},
}


# Why a name is not allowed (app/core/text.py check_name), said by the client
# before it asks and when the server refuses a name (REFUSE_NAME_INVALID, whose
# detail is the problem's English value).
NAME_PROBLEM_WORDS: Dict[str, Dict[NameProblem, str]] = {
    "zh": {NameProblem.EMPTY: "名字不能是空的",
           NameProblem.TOO_LONG: "名字最多 %d 个字" % P.MAX_NAME_CHARS,
           NameProblem.INVISIBLE: "名字里有控制字符或看不见的字符",
           NameProblem.SPACE: "名字里不能有空格 (可以用 _ 或 - 连接，例如 Zhang_San)",
           NameProblem.FIRST: "名字要以汉字、字母或数字开头",
           NameProblem.MARKS: "名字里连在一起的附加符号太多",
           NameProblem.COLON: "名字里不能有冒号 (:) 或像冒号的字符",
           NameProblem.ADDRESS: "名字不能是 IP 地址",
           NameProblem.RESERVED: "这个名字留给管理员、老师或系统 (或者太像)，请换一个"},
    "en": {NameProblem.EMPTY: "the name is empty",
           NameProblem.TOO_LONG: "a name has at most %d characters" % P.MAX_NAME_CHARS,
           NameProblem.INVISIBLE: "the name has control or invisible characters",
           NameProblem.SPACE: "a name cannot contain spaces (join words with _ or -, "
                              "e.g. Zhang_San)",
           NameProblem.FIRST: "a name starts with a letter or a digit",
           NameProblem.MARKS: "the name has too many combining marks in a row",
           NameProblem.COLON: "a name cannot contain ':' or anything that looks like it",
           NameProblem.ADDRESS: "a name cannot be an IP address",
           NameProblem.RESERVED: "that name is kept for the admin, the teacher or the "
                                 "system (or looks too much like it); choose another"},
}


def name_problem_text(problem: Optional[NameProblem], lang: str) -> str:
    """Why a name is not allowed, in `lang` ("" for no problem)."""
    return NAME_PROBLEM_WORDS.get(lang, NAME_PROBLEM_WORDS["en"])[problem] if problem else ""


# A Status's detail or a network hint, given as a key by the layers below
# (client_core LOST_*, client_net UNREACHABLE); anything else is shown as it is.
DETAIL_WORDS: Dict[str, Dict[str, str]] = {
    "zh": {"server_restarted": "服务器重启过，不认识这个连接了",
           "server_silent": "服务器 %d 秒没有回应" % SERVER_TIMEOUT,
           "net_refused": "那个端口上没有聊天服务器（连接被拒绝）",
           "net_unreachable": "网络不通",
           "net_no_route": "找不到去服务器的路由",
           "net_host_down": "服务器那台电脑没有开",
           "net_firewall": "本机防火墙拒绝发送 (nftables 或 iptables 的出站规则)",
           "no_answer": "没有回应"},
    "en": {"server_restarted": "the server restarted and forgot this connection",
           "server_silent": "no answer from the server for %d s" % SERVER_TIMEOUT,
           "net_refused": "no chat server answers on that port (connection refused)",
           "net_unreachable": "the network is unreachable",
           "net_no_route": "no route to the server",
           "net_host_down": "the server's host is down",
           "net_firewall": "this computer's firewall refuses to send (an nftables or "
                           "iptables output rule)",
           "no_answer": "no answer"},
}


def detail_text(detail: str, lang: str) -> str:
    """A Status detail or network hint: a key above, an errno name (its words,
    app/ui/os_words.py), or a coded problem; anything else as it is."""
    words = DETAIL_WORDS.get(lang, DETAIL_WORDS["en"]).get(detail)
    return words if words is not None else os_words.problem_text(detail, lang)


def refusal_reason(refusal: Optional[Tuple[int, str]], lang: str,
                   coded: Optional[P.Reason] = None, name: str = "", now: float = 0.0,
                   localtime: Callable = time.localtime) -> str:
    """A refusal in the user's language: from its coded part when the server
    sent one (a ban or kick: which, until when, the admin's words), else the
    code's words with the server's details kept."""
    if refusal is None:
        return ""
    code, detail = refusal
    if coded is not None and coded.why == P.ReasonCode.SERVER_KEY:
        new, _, old = coded.words.partition(" ")
        return tr(lang, "refused_server_key", new=sanitize_text(new), old=sanitize_text(old))
    if coded is not None and coded.why in _SAID_KEY:
        return tr(lang, _SAID_KEY[coded.why], name=sanitize_text(name),
                  other=sanitize_text(coded.words))
    if coded is not None and coded.why in _REFUSED_KEY:
        why = tr(lang, "why", reason=sanitize_text(coded.words)) if coded.words else ""
        return tr(lang, _REFUSED_KEY[coded.why], name=sanitize_text(name), why=why,
                  until=until_text(coded.until, now or time.time(), localtime))
    words = REFUSAL_WORDS.get(lang, REFUSAL_WORDS["en"]).get(code)
    problem = NameProblem.from_detail(detail) if code == P.REFUSE_NAME_INVALID else None
    detail = name_problem_text(problem, lang) if problem else sanitize_text(detail)
    if words is None:
        return detail
    return "%s (%s)" % (words, detail) if detail else words


# Refusals that a name or a number says all of (the words: whose name, how many).
_SAID_KEY: Dict[int, str] = {
    P.ReasonCode.TAKEN: "refused_taken",
    P.ReasonCode.LOOKS_LIKE: "refused_looks_like",
    P.ReasonCode.ROOM_FULL: "refused_room_full",
    P.ReasonCode.HOST_FULL: "refused_host_full",
    P.ReasonCode.WRONG_PASSWORD: "refused_wrong_password",
    P.ReasonCode.NEEDS_PASSWORD: "refused_needs_password",
    P.ReasonCode.NO_PASSWORD: "refused_no_password",
}

_REFUSED_KEY: Dict[int, str] = {
    P.ReasonCode.KICKED: "refused_kicked",
    P.ReasonCode.BANNED_NAME: "refused_name",
    P.ReasonCode.BANNED_HOST: "refused_host",
    P.ReasonCode.BANNED_KEY: "refused_key",
}


def until_text(until: float, now: float, localtime: Callable = time.localtime) -> str:
    """When a ban or mute ends: `15:30` today, `12-05 15:30` on another day."""
    end, today = localtime(until), localtime(now)
    same_day = end[:3] == today[:3]
    return time.strftime("%H:%M" if same_day else "%m-%d %H:%M", end)


_LEAVE_SUFFIX: Dict[int, str] = {
    P.LEAVE_TIMEOUT: "leave_timeout",
    P.LEAVE_KICKED: "leave_kicked",
    P.LEAVE_BANNED: "leave_banned",
    P.LEAVE_SERVER_CLOSING: "leave_closing",
}
_NOTICE_KEY: Dict[int, str] = {
    P.NOTICE_THROTTLED: "notice_throttled",
    P.NOTICE_NO_SUCH_USER: "notice_no_such_user",
    P.NOTICE_MUTED: "notice_muted",
    P.NOTICE_REJECTED: "notice_rejected",
    P.NOTICE_UNMUTED: "notice_unmuted",
}


def farewell_text(farewell: Optional[Tuple[int, str]], lang: str, now: float,
                  localtime: Callable = time.localtime,
                  coded: Optional[P.Reason] = None) -> str:
    """What a student is told when the server said goodbye (BYE code, the
    server's reason, and its coded part if it sent one): what happened and
    what they can do, in `lang`. The coded part gives the admin's words and
    until when; from a server without it (older), the reason is shown whole.
    `now` is the wall clock (time.time())."""
    if farewell is None:
        return ""
    code, reason = farewell
    reason = sanitize_text(reason)
    if code == P.BYE_SERVER_CLOSING:
        return tr(lang, "server_closing")
    if code == P.BYE_DROPPED:
        # Why it stopped waiting: nothing acknowledged for N s, or N KiB waiting.
        backlog = coded is not None and coded.why == P.ReasonCode.BACKLOG
        figure = sanitize_text(coded.words) if coded is not None else ""
        return tr(lang, "dropped_backlog" if backlog else "dropped_no_acks", n=figure or "?")
    if coded is not None:
        why = tr(lang, "why", reason=sanitize_text(coded.words)) if coded.words else ""
        if not coded.until:
            return tr(lang, "kicked" if code == P.BYE_KICKED else "banned", why=why)
        return tr(lang, "kicked_until" if code == P.BYE_KICKED else "banned_until", why=why,
                  until=until_text(coded.until, now, localtime))
    why = tr(lang, "why", reason=reason) if reason else ""
    return tr(lang, "kicked" if code == P.BYE_KICKED else "banned", why=why)


def pending_line(kind: int, text: str, target: str, lang: str, my_name: str, when: float,
                 mark: str = "pending_mark", localtime: Callable = time.localtime) -> Line:
    """One of our own lines the room has not seen yet, drawn as its echo will be,
    dimmed as a whole and marked (`pending_mark`, or `undelivered_mark`)."""
    event_kind = P.EV_EMOTE if kind == P.EMOTE else P.EV_PRIVATE if kind == P.PRIVATE \
        else P.EV_CHAT
    event = P.Event(0, when, event_kind, name=my_name, target=target, text=text)
    line = render(event, lang, my_name, 0, localtime)
    return [(part, "pending") for part, _ in line] + [(tr(lang, mark), "pending")]


def file_news_text(news: Any, lang: str) -> Tuple[str, bool]:
    """A file transfer's news (app.net.files FileNews) as one line, and
    whether it is good news (a failure goes where errors go)."""
    kind = type(news).__name__
    if kind == "FileReceived":
        return tr(lang, "file_received", name=sanitize_text(news.name),
                  size=human_size(news.size), path=sanitize_text(news.path)), True
    if kind == "FileFailed":
        why = tr(lang, "why_" + news.why)
        if news.detail:                    # an errno name (ours), or the sender's reason
            why += " (%s)" % sanitize_text(os_words.problem_text(news.detail, lang))
        return tr(lang, "file_not_saved", name=sanitize_text(news.name), why=why), False
    if kind == "HandedIn":
        return tr(lang, "handed_in", name=sanitize_text(news.name), size=human_size(news.size),
                  sha=news.sha256), True
    if kind == "HandInRefused":
        detail = news.detail
        if news.code in (1, 2) and detail.isdigit():
            detail = human_size(int(detail))
        if news.code == 0 and detail not in ("", "mismatch"):
            # It failed here (a coded problem: cannot open, read) or there ("write").
            why = tr(lang, "why_write") if detail == "write" else os_words.problem_text(
                detail, lang)
        else:
            why = tr(lang, "refuse_%d" % news.code if "refuse_%d" % news.code in TEXTS["en"]
                     else "refuse_6", detail=sanitize_text(detail))
            if news.code in (3, 4) and detail and (news.code, detail) != (3, "ENOSPC"):
                # The server's why: its OS error (an errno name), in our words.
                why += " (%s)" % sanitize_text(os_words.problem_text(detail, lang))
        return tr(lang, "hand_in_failed", name=sanitize_text(news.name), why=why), False
    return sanitize_text(str(news)), False


PROGRESS_CELLS = 20      # the bar's width in cells (ASCII: one cell each in every locale)


def progress_text(name: str, done: int, size: int, outgoing: bool, lang: str) -> str:
    """A transfer's progress bar for the message pane, e.g.
    `接收 讲义.pdf [#########-----------]  45% 4.5 MB / 10.0 MB`."""
    fraction = done / size if size else 1.0
    filled = int(fraction * PROGRESS_CELLS)
    return "%s %s [%s%s] %3d%% %s / %s" % (
        tr(lang, "progress_out" if outgoing else "progress_in"), sanitize_text(name),
        "#" * filled, "-" * (PROGRESS_CELLS - filled), int(fraction * 100),
        human_size(done), human_size(size))


def tr(lang: str, key: str, **values) -> str:
    """The text `key` in `lang` (English when the language lacks it)."""
    return worded(TEXTS, lang, key, values)


def name_style(name: str) -> str:
    """The same colour for a name in every client and every run (crc32, not hash())."""
    return "name%d" % (zlib.crc32(name.encode("utf-8")) % NAME_COLOURS)


def timestamp(when: float, localtime: Callable = time.localtime) -> str:
    return time.strftime("[%H:%M] ", localtime(when))


def mentions(text: str, my_name: str) -> bool:
    return bool(my_name) and my_name.casefold() in text.casefold()


def render(event: P.Event, lang: str = "zh", my_name: str = "", my_instance: int = 0,
           localtime: Callable = time.localtime) -> Line:
    """One room event as one display line (wrapping is the view's job)."""
    name = sanitize_text(event.name)
    text = expand_tabs(sanitize_message(event.text))
    own = bool(my_instance) and event.origin == my_instance
    who = (name, "self" if own or (name and name == my_name) else name_style(name))
    kind = event.kind
    if kind == P.EV_JOIN:
        body = [(tr(lang, "join", name=name), "notice")]
    elif kind == P.EV_LEAVE:
        suffix = _LEAVE_SUFFIX.get(event.code)
        body = [(tr(lang, "leave", name=name) + (tr(lang, suffix) if suffix else ""), "notice")]
    elif kind == P.EV_CHAT:
        style = "mention" if not own and mentions(text, my_name) else "text"
        body = [who, (" : ", ""), (text, style)]
    elif kind == P.EV_EMOTE:
        body = [("* ", ""), who, (" ", "text"), (text, "text")]
    elif kind == P.EV_ADMIN:
        head, _, tail = tr(lang, "admin", text="\0").partition("\0")
        body = [(head, "admin"), (text, "admin"), (tail, "admin")]
    elif kind == P.EV_PRIVATE:
        target = sanitize_text(event.target)
        if own or (name == my_name and target != my_name):
            body = [(tr(lang, "private_out", target=target), "private"), (text, "private")]
        else:
            body = [(tr(lang, "private_in", name=name), "private"), (text, "private")]
    elif kind == P.EV_MEMBERS:
        joined, left = P.members_of(event.origin)
        body = [(tr(lang, "members", joined=joined, left=left), "notice")]
    elif kind == P.EV_WHO:
        names = [n for n in (sanitize_text(n) for n in event.text.split("\n")) if n]
        body = [(tr(lang, "who", count=len(names), names=", ".join(names)), "notice")]
    else:  # EV_NOTICE, and anything newer than this client: one line
        body = [("-- " + notice_text(event, lang), "notice")]
    line = [(timestamp(event.time, localtime), "time")] + body
    if event.flags & P.EVF_HISTORY:
        # Dimmed as a whole: history is context, not news.
        line = [(part, "history") for part, _ in line]
    return [(part, style) for part, style in line if part]


def notice_text(event: P.Event, lang: str) -> str:
    key = _NOTICE_KEY.get(event.code) if event.kind == P.EV_NOTICE else None
    text = sanitize_text(event.text)
    if key is None:
        return text
    if event.code == P.NOTICE_NO_SUCH_USER:
        return tr(lang, key, who=sanitize_text(event.target) or text)
    if event.code == P.NOTICE_MUTED and event.origin:
        # origin is when the mute ends (PROTOCOL.md 7.3); the text is for older clients
        return tr(lang, "notice_muted_until", until=until_text(event.origin, event.time))
    if event.code == P.NOTICE_UNMUTED:
        return tr(lang, key)
    return tr(lang, key) + (": " + text if text else "")


def local_line(text: str, when: Optional[float] = None, style: str = "notice",
               localtime: Callable = time.localtime) -> Line:
    """A line the client itself shows (help, hints, connection news)."""
    line = [(timestamp(when, localtime), "time")] if when is not None else []
    return line + [("-- " + text, style)]


def history_divider(lang: str) -> Line:
    return [(tr(lang, "history_end"), "history")]


def scroll_indicator(lang: str, new_below: int) -> Line:
    if new_below:
        return [(tr(lang, "new_below", count=new_below), "indicator")]
    return [(tr(lang, "scrolled"), "indicator")]


def wants_bell(event: P.Event, mode: str, my_name: str, my_instance: int = 0) -> bool:
    """--bell: off, mention (a mention of us, a private message, an admin notice), all."""
    if mode == "off" or event.flags & P.EVF_HISTORY:
        return False
    if my_instance and event.origin == my_instance:
        return False
    if event.kind in (P.EV_ADMIN, P.EV_PRIVATE):
        return event.name != my_name or event.kind == P.EV_ADMIN
    if event.kind in (P.EV_CHAT, P.EV_EMOTE):
        return mode == "all" or mentions(event.text, my_name)
    return False
