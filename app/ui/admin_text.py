"""The admin consoles' words, one table per language (the server's --lang:
Chinese by default, English with `--lang en`): help, usage, the results of
commands, the room's log entries, the server's own notes, the "how to join"
hints, the roster's and the status line's words. Both consoles (admin_tui,
admin_headless) use these, and the network process prints them through
admin_headless once its console is gone; the core (app.core.admin,
app.core.join_hints, app.core.console_messages) gives values and keys only.

One language per line: a Chinese line has no English words in it and an
English one no Chinese, except what is typed rather than said: names,
addresses, paths, commands and options (`/kick`, `--port`), the durations
`/ban` takes (`30s`, `10m`: the roster's idle times use the same notation),
and what the people said. The announcement the clients see is the protocol's
`管理员消息: …` whatever the console's language (their own client words it).
tests/test_admin_lang.py walks both tables and every result and log kind.
"""
import re
import time
from typing import Any, Dict, List, Sequence, Tuple

from app.core import admin, problems
from app.core import console_messages as C
from app.core.admin import LogKind
from app.core.file_names import human_size
from app.core.join_hints import JOIN_ROWS, Hint
from app.core.text import NameProblem, sanitize_text
from app.ui.language import worded
from app.ui.os_words import problem_text
from app.ui.os_words import reason as reason_words
from app.ui.render import name_problem_text
from app.ui.width import text_width

TEXTS: Dict[str, Dict[str, str]] = {
    "zh": {
        "help_send": "/send 路径",
        "help_send_does": "把一个文件发给所有在线的人，以及 --file-ttl 之内加入的人",
        "help_handins": "/hand-ins",
        "help_handins_does": "谁交了什么作业 (什么时候)，谁还没交",
        "usage_send": "/send 路径",
        "file_queued": "正在把 %(name)s (%(size)s) 发给在线的 %(online)d 人，以及 --file-ttl 之内加入的人",
        "file_not_sent": "没有发送: %(why)s",
        "hand_ins_count": "交了 %(count)d 份作业",
        "hand_ins_none": "还没有人交作业",
        "hand_ins_missing": "在线但没交作业: %(names)s",
        "log_handout": "发出文件: %(detail)s",
        "log_handout_got": "%(name)s 收到了 %(detail)s",
        "log_hand_in": "%(name)s 交了作业 %(detail)s",
        # handout and hand-in entries (their details coded: app/core/problems.py)
        "file_not_handed_out": "没有发出文件: %(problem)s",
        "file_not_stored": "%(name)s 没能保存 %(file)s (写入失败%(reason)s)",
        "file_not_stored_mismatch": "%(name)s 没能保存 %(file)s (发送时文件被改动了)",
        "file_handout_refused": "%(name)s 拒绝接收 %(file)s (%(why)s)",
        "file_refuse_3": "磁盘满了",
        "file_refuse_4": "下载文件夹不能写入",
        "file_refuse_other": "代码 %(code)s",
        "file_saved_unreadable": "上次保存的文件传输状态读不出来，不再继续",
        "file_abandoned_cancelled": "%(name)s 取消了提交作业 %(file)s",
        "file_abandoned_silent": "%(name)s 的作业 %(file)s %(seconds)s 秒没有新数据，放弃了",
        "file_resumed": "%(name)s 的作业 %(file)s 从 %(done)s 处接着传 (共 %(size)s)",
        "file_hand_in_failed": "%(name)s 的作业 %(file)s 没能保存: %(reason)s",
        "file_hand_in_mismatch": "%(name)s 的作业 %(file)s 没能保存: 传输中文件被改动了",
        "file_hand_in_not_taken": "%(name)s 的作业 %(file)s 没有收下 (%(why)s%(reason)s)",
        "file_not_taken_3": "磁盘满了",
        "file_not_taken_4": "提交文件夹不能写入",
        "file_reason": "：%(reason)s",
        # help: (what to type, what it does) as two entries each
        "help_say": "普通文字",
        "help_say_does": "作为“管理员消息: 文字”发给所有人",
        "help_list": "/list",
        "help_list_does": "谁在线，按名字排列 (空闲: 从他最后一次发言算起)",
        "help_kick": "/kick 名字 [原因]",
        "help_kick_does": "把人移出聊天室；他的名字和地址在踢出冷却期内 (--kick-cooldown) 被拒绝",
        "help_ban": "/ban 名字|IP [时间] [原因]",
        "help_ban_does": "封禁一个名字和它的地址，或者一个地址 (默认 %(minutes)d 分钟；"
                         "时间: 10 即 10 分钟，或 30s、10m、2h、1d)",
        "help_unban": "/unban 名字|IP",
        "help_unban_does": "解除一个封禁或踢出，连同它涵盖的一切",
        "help_bans": "/bans",
        "help_bans_does": "正在生效的封禁、踢出和禁言，以及各自涵盖什么",
        "help_mute": "/mute 名字 [时间]",
        "help_mute_does": "禁止某人发言 (默认 %(minutes)d 分钟)",
        "help_unmute": "/unmute 名字",
        "help_unmute_does": "让他重新可以发言",
        "help_motd": "/motd [文字|-]",
        "help_motd_does": "每个新加入的人看到的欢迎消息：单独输入显示它，- 清除它",
        "help_stats": "/stats",
        "help_stats_does": "计数",
        "help_quit": "/quit",
        "help_quit_does": "告诉所有客户端服务器要关闭，然后停止",
        "help_help": "/help",
        "help_help_does": "这个列表",
        "usage": "用法: %(usage)s",
        "usage_kick": "/kick 名字 [原因]",
        "usage_unban": "/unban 名字|IP",
        "usage_unmute": "/unmute 名字",
        "usage_ban": "/ban 名字|IP [时间] [原因]",
        "usage_mute": "/mute 名字 [时间]",
        "unknown": "未知命令 %(command)s；/help 列出所有命令%(tab)s",
        "unknown_tab": "，Tab 可以补全",
        # command results
        "no_such": "这里没有叫 %(name)s 的人%(suggest)s",
        "suggest": "；你是说 %(names)s 吗？",
        "list_sep": "、",
        "and": " 和 ",
        "kicked": "已把 %(name)s 移出聊天室；%(covered)s 在 %(minutes)s 分钟内会被拒绝"
                  " (/unban %(name)s 可以解除)",
        "banned": "封禁了%(covers)s，%(minutes)d 分钟%(removed)s",
        "banned_removed": "；移出了 %(names)s",
        "banned_absent": "(这里没有叫 %(name)s 的人%(suggest)s；这个名字照样被封禁)",
        "lifted": "解除了对%(covers)s 的%(kind)s",
        "not_banned": "%(target)s 没有被封禁 (/bans 列出所有封禁)",
        "unmuted": "已解除 %(name)s 的禁言",
        "not_muted": "%(name)s 没有被禁言",
        "muted": "已禁止 %(name)s 发言 %(minutes)d 分钟",
        "motd": "欢迎消息: %(motd)s",
        "motd_none": "(没有)",
        "online_count": "在线 %(count)d 人",
        "row_idle": "空闲 %(idle)s",
        "row_said": "发言 %(said)d 次",
        "mark_muted": "禁言",
        "mark_away": "离开",
        "stats": "在线 %(count)d 人；%(counters)s",
        "counter": "%(counter)s %(value)d",
        "counter_sep": "，",
        "failed": "这个命令出错了 (程序的错误)，错误是:",
        "ban_row": "%(kind)s %(label)s：%(covers)s，还剩 %(left)d 分钟%(reason)s",
        "mute_row": "禁言 %(label)s：还剩 %(left)d 分钟",
        "reason": " (原因: %(reason)s)",
        "no_bans": "没有封禁，也没有禁言",
        "kind_ban": "封禁",
        "kind_kick": "踢出",
        "cover_name": "名字 %(name)s",
        "cover_host": "地址 %(host)s",
        "cover_key": "客户端密钥 %(key)s",
        # the room's log
        "log_join": "%(name)s 进入了聊天室  %(addr)s",
        "log_leave": "%(name)s 退出了聊天室%(why)s",
        "log_why": " (%(why)s)",
        "log_why_detail": "%(why)s: %(detail)s",
        "why_timeout": "超时",
        "why_kick": "被踢出",
        "why_ban": "被封禁",
        "timeout_unacked": "不再确认收到的消息",
        "timeout_silent": "%(seconds)s 秒没有回应",
        "log_private": "%(name)s 给 %(target)s 发了一条私聊",
        "log_admin": "管理员消息: %(text)s",
        "log_ban": "封禁 %(name)s %(minutes)s 分钟%(reason)s",
        "log_ban_lifted": "解除了 %(name)s 的封禁",
        "log_mute": "%(name)s 被禁言 %(minutes)s 分钟",
        "log_mute_lifted": "%(name)s 的禁言被解除了",
        "log_mute_over": "%(name)s 的禁言结束了",
        "log_motd": "欢迎消息改了",
        "log_motd_cleared": "欢迎消息清除了",
        "log_resume": "%(name)s 重新连上了，地址 %(addr)s%(was)s",
        "log_was": " (原来是 %(addr)s)",
        "log_refuse": "拒绝了 %(name)s (来自 %(addr)s)%(why)s",
        "log_refuse_someone": "一个客户端",
        "refuse_why": "：%(why)s",
        "refuse_taken": "名字已经被 %(words)s 占用",
        "refuse_looks_like": "名字和在场的 %(words)s 太像",
        "refuse_room_full": "聊天室满了 (%(words)s 人)",
        "refuse_host_full": "从那个地址加入的人太多 (最多 %(words)s 个)",
        "refuse_kicked": "刚被踢出，还要等 %(minutes)d 分钟%(reason)s",
        "refuse_banned_name": "名字被封禁，还有 %(minutes)d 分钟%(reason)s",
        "refuse_banned_host": "地址被封禁，还有 %(minutes)d 分钟%(reason)s",
        "refuse_banned_key": "客户端密钥被封禁，还有 %(minutes)d 分钟%(reason)s",
        "refuse_other": "",
        "log_malformed": "丢弃了来自 %(addr)s 的格式不对的数据报%(count)s",
        "malformed_one": "",
        "malformed_many": " (%(count)d 个)",
        "log_throttle": "%(name)s 发得太快，已限速",
        "log_shutdown": "正在通知所有客户端服务器要关闭",
        "log_other": "%(what)s %(name)s %(addr)s %(detail)s",
        # why the server cannot start (console_messages.StartProblem)
        "start_bind_in_use": "UDP 端口 %(port)s 在这台电脑上已经被占用 (另一个 chat.pyz 服务器？)；"
                             "停掉它，或者用 --port 换一个端口",
        "start_bind_in_use_on": "UDP 端口 %(port)s 在 %(bind)s 上已经被占用 (另一个 chat.pyz "
                                "服务器？)；停掉它，或者用 --port 换一个端口",
        "start_bind_denied": "没有权限在 %(where)s 上监听 (1024 以下的端口要超级用户权限)；请用 --port",
        "start_bind_not_here": "%(bind)s 不是这台电脑的地址；请检查 --bind",
        "start_bind_failed": "无法在 %(where)s 上监听: %(error)s",
        "start_bind_bad": "无法使用 --bind %(bind)s",
        "start_log_unwritable": "无法写日志文件 %(path)s: %(error)s",
        # the server's own notes
        "note_listening": "chat.pyz 服务器在 UDP 端口 %(port)s 上监听 (所有网络接口)；"
                          "接收缓冲区 %(rcvbuf)s 字节",
        "note_listening_on": "chat.pyz 服务器在 %(host)s 的 UDP 端口 %(port)s 上监听；"
                             "接收缓冲区 %(rcvbuf)s 字节",
        "note_state_kept": "聊天室的状态保存在 %(path)s",
        "memory_run": "；这次运行里聊天室的状态只保存在内存里",
        "memory_now": "；从现在起聊天室的状态只保存在内存里",
        # what is wrong with the state (app/net/state_dir.py, state_db.py StateError)
        "state_db_read_only": "聊天室的数据库 %(path)s 是只读的",
        "state_db_locked": "聊天室的数据库 %(path)s 被另一个程序锁住了",
        "state_db_damaged": "聊天室的数据库 %(path)s 坏了；把它移到别处，就会新建一个",
        "state_db_unusable": "用不了聊天室的数据库 %(path)s",
        "state_db_missing": "%(directory)s 里没有聊天室的数据库 (服务器用 --state %(directory)s "
                            "运行过吗？)",
        "state_db_newer": "聊天室的数据库 %(path)s 是更新的 chat.pyz 建的 (数据库版本 %(version)s，"
                          "这个版本只认识 %(known)s)",
        "state_db_none_for_port": "端口 %(port)s 没有聊天室的数据库 (服务器在这台电脑上运行过吗？"
                                  "--state 目录 可以指定它的目录)",
        "state_dir_refused": "--state %(given)s 不是你自己的私有可写目录 (权限 700，能加锁)；"
                             "封禁、欢迎消息和历史随这次运行结束",
        "state_dir_fallback": "聊天室的状态没法保存在 %(usual)s (只读、不存在或不是私有的)；"
                              "改用 %(path)s (--state 目录 可以指定)",
        "state_dir_none": "找不到保存聊天室状态的私有可写目录 (%(usual)s、运行时目录和临时目录都不行)；"
                          "请用 --state 目录",
        "note_console_replaced": "管理控制台结束了；现在从这个终端读取管理命令 "
                                 "(一行文字就是一条公告，/help 列出所有命令)",
        "note_console_ended": "管理控制台结束了；服务器继续运行，没有控制台",
        "note_stopping": "服务器停止",
        "note_stopping_quit": "服务器停止 (/quit)",
        "note_stopping_signal": "服务器停止 (收到信号 %(why)s)",
        # how to join
        "hint_join": "加入方法: %(command)s",
        "hint_label_first": "加入方法: ",
        "hint_label_or": "或者: ",
        "hint_note": "  (%(note)s)",
        "hint_join_broadcast": "同一子网的学生：用广播找到这个服务器",
        "hint_join_address": "%(interface)s，网络 %(network)s",
        "hint_join_address_bare": "%(interface)s",
        "hint_join_address6": "%(interface)s，IPv6 /%(prefix)s",
        "hint_loopback_only": "  只有本机能加入 (--bind %(bind)s)；在本机上 `%(command)s` 也能找到它",
        "hint_bound_no_broadcast": "  (用了 --bind，`%(command)s` 找不到这个服务器："
                                   "广播只能找到在所有地址上监听的服务器)",
        "hint_firewall_port": "防火墙: 请放行 UDP 端口 %(port)s",
        "hint_link_local_only": "  这里没有 IPv4 或全局 IPv6 地址：只有 `%(command)s` 能找到这个服务器"
                                " (IPv6 链路本地地址)",
        "hint_no_interface": "  没有启用的网络接口：只有本机能加入",
        "hint_this_machine": "本机: %(command)s",
        "hint_firewall": "防火墙: 请放行 UDP 端口 %(port)s (聊天和查找服务器)；"
                         "广播只在一个子网内有效，跨路由器请给出地址",
        "hint_server_key": "服务器指纹 (客户端也会显示，请大声对照): %(words)s",
        "hint_room_password": "房间密码: %(password)s",
        # the curses console
        "roster_head": "在线 %(count)d",
        "roster_more": "另有 %(count)d 人 (/list)",
        "roster_more_short": "另有 %(count)d 人",
        "status_starting": "启动中",
        "status_up": "运行 %(clock)s",
        "status_online": "在线 %(count)d",
        "status_rate": "%(rate).1f 条/秒",
        "status_dropped": "丢弃 %(count)d",
        "status_stopping": "正在停止… ",
        "status_scrolled": "正在回看: PgDn ",
        "new_below": "-- 下面还有 %(count)d 行 --",
        "confirm": "停止服务器并断开所有人？(y/n) ",
        "stopping": "正在停止服务器…",
        "quit_cancelled": "已取消 /quit",
        "too_long": "输入太长 (超过 %(limit)d 字节)，没有插入",
        "stopped": "chat.pyz: 服务器已经停止",
        "network_gone": "chat.pyz: 服务器的网络进程已经停止",
        "quit_unanswered": "chat.pyz: 网络进程没有回应 /quit，不再等它",
        "no_console": "chat.pyz: 这个终端上开不了全屏的管理控制台",
        # /stats counters (app.core.hub and secure_server stats): unknown ones as they are
        "counter_challenges": "地址验证",
        "counter_datagrams": "数据报",
        "counter_handshake_failures": "握手失败",
        "counter_handshakes": "握手",
        "counter_joins": "加入",
        "counter_leaves": "离开",
        "counter_malformed": "坏数据报",
        "counter_messages": "消息",
        "counter_probes": "查找请求",
        "counter_refused": "拒绝",
        "counter_throttled": "限速",
        "counter_timeouts": "超时",
        "counter_inits_dropped": "丢弃的握手请求",
        "counter_door_shut": "入口预算用尽",
        "counter_chunks_received": "收到的文件块",
        "counter_chunks_sent": "发出的文件块",
        "counter_duplicates": "重复的文件块",
        "counter_retransmissions": "重发的文件块",
    },
    "en": {
        "help_send": "/send PATH",
        "help_send_does": "hand a file out to everyone online, and to those who join within "
                          "--file-ttl",
        "help_handins": "/hand-ins",
        "help_handins_does": "who has handed in what (and when), and who has not",
        "usage_send": "/send PATH",
        "file_queued": "handing out %(name)s (%(size)s) to %(online)d online, and to whoever "
                       "joins within --file-ttl",
        "file_not_sent": "not sent: %(why)s",
        "hand_ins_count": "%(count)d hand-ins",
        "hand_ins_none": "no hand-ins yet",
        "hand_ins_missing": "online without a hand-in: %(names)s",
        "log_handout": "handout: %(detail)s",
        "log_handout_got": "%(name)s got %(detail)s",
        "log_hand_in": "%(name)s handed in %(detail)s",
        "file_not_handed_out": "not handed out: %(problem)s",
        "file_not_stored": "%(name)s could not store %(file)s (writing failed%(reason)s)",
        "file_not_stored_mismatch": "%(name)s did not store %(file)s (it changed while it "
                                    "was sent)",
        "file_handout_refused": "%(name)s refused %(file)s (%(why)s)",
        "file_refuse_3": "the disk is full",
        "file_refuse_4": "the downloads folder cannot be written",
        "file_refuse_other": "code %(code)s",
        "file_saved_unreadable": "the saved file transfers cannot be read: not resumed",
        "file_abandoned_cancelled": "%(name)s cancelled handing in %(file)s",
        "file_abandoned_silent": "%(name)s's hand-in %(file)s: nothing came for %(seconds)s s, "
                                 "given up",
        "file_resumed": "%(name)s's hand-in %(file)s resumed at %(done)s of %(size)s",
        "file_hand_in_failed": "%(name)s's hand-in %(file)s was not stored: %(reason)s",
        "file_hand_in_mismatch": "%(name)s's hand-in %(file)s was not stored: it changed "
                                 "while it was sent",
        "file_hand_in_not_taken": "%(name)s's hand-in %(file)s was not taken (%(why)s%(reason)s)",
        "file_not_taken_3": "the disk is full",
        "file_not_taken_4": "the submissions folder cannot be written",
        "file_reason": ": %(reason)s",
        "help_say": "plain text",
        "help_say_does": "an announcement to everyone (the admin's message)",
        "help_list": "/list",
        "help_list_does": "who is online, by name (idle: since their last line)",
        "help_kick": "/kick NAME [reason]",
        "help_kick_does": "remove someone; their name and address are refused for the kick "
                          "cooldown (--kick-cooldown)",
        "help_ban": "/ban NAME|IP [time] [reason]",
        "help_ban_does": "refuse a name and its address, or an address (default %(minutes)d min; "
                         "time: 10 minutes, or 30s, 10m, 2h, 1d)",
        "help_unban": "/unban NAME|IP",
        "help_unban_does": "lift a ban or kick, and all it covered",
        "help_bans": "/bans",
        "help_bans_does": "bans, kicks and mutes in force, and what each covers",
        "help_mute": "/mute NAME [time]",
        "help_mute_does": "silence someone (default %(minutes)d min)",
        "help_unmute": "/unmute NAME",
        "help_unmute_does": "let them speak again",
        "help_motd": "/motd [TEXT|-]",
        "help_motd_does": "message shown to each joiner: alone shows it, - clears it",
        "help_stats": "/stats",
        "help_stats_does": "counters",
        "help_quit": "/quit",
        "help_quit_does": "tell every client the server is closing, then stop",
        "help_help": "/help",
        "help_help_does": "this list",
        "usage": "usage: %(usage)s",
        "usage_kick": "/kick NAME [reason]",
        "usage_unban": "/unban NAME|IP",
        "usage_unmute": "/unmute NAME",
        "usage_ban": "/ban NAME|IP [time] [reason]",
        "usage_mute": "/mute NAME [time]",
        "unknown": "unknown command %(command)s; /help lists the commands%(tab)s",
        "unknown_tab": ", Tab completes them",
        "no_such": "nobody called %(name)s is here%(suggest)s",
        "suggest": "; did you mean %(names)s?",
        "list_sep": ", ",
        "and": " and ",
        "kicked": "kicked %(name)s; %(covered)s refused for %(minutes)s minutes "
                  "(/unban %(name)s lifts it)",
        "banned": "banned %(covers)s for %(minutes)d minutes%(removed)s",
        "banned_removed": "; removed %(names)s",
        "banned_absent": "(nobody called %(name)s is here%(suggest)s; the name is banned all "
                         "the same)",
        "lifted": "lifted the %(kind)s on %(covers)s",
        "not_banned": "%(target)s is not banned (/bans lists the bans)",
        "unmuted": "unmuted %(name)s",
        "not_muted": "%(name)s is not muted",
        "muted": "muted %(name)s for %(minutes)d minutes",
        "motd": "motd: %(motd)s",
        "motd_none": "(none)",
        "online_count": "%(count)d online",
        "row_idle": "idle %(idle)s",
        "row_said": "said %(said)d",
        "mark_muted": "muted",
        "mark_away": "away",
        "stats": "online %(count)d; %(counters)s",
        "counter": "%(counter)s %(value)d",
        "counter_sep": ", ",
        "failed": "that command failed (a bug in the program); the error:",
        "ban_row": "%(kind)s %(label)s: %(covers)s, %(left)d min left%(reason)s",
        "mute_row": "mute %(label)s: %(left)d min left",
        "reason": " (%(reason)s)",
        "no_bans": "no bans, no mutes",
        "kind_ban": "ban",
        "kind_kick": "kick",
        "cover_name": "name %(name)s",
        "cover_host": "address %(host)s",
        "cover_key": "client key %(key)s",
        "log_join": "%(name)s joined the room  %(addr)s",
        "log_leave": "%(name)s left the room%(why)s",
        "log_why": " (%(why)s)",
        "log_why_detail": "%(why)s: %(detail)s",
        "why_timeout": "timed out",
        "why_kick": "kicked",
        "why_ban": "banned",
        "timeout_unacked": "stopped acknowledging",
        "timeout_silent": "no reply for %(seconds)s s",
        "log_private": "%(name)s sent a private message to %(target)s",
        "log_admin": "Admin message: %(text)s",
        "log_ban": "ban %(name)s: %(minutes)s minutes%(reason)s",
        "log_ban_lifted": "lifted the ban on %(name)s",
        "log_mute": "%(name)s muted for %(minutes)s minutes",
        "log_mute_lifted": "%(name)s unmuted",
        "log_mute_over": "%(name)s's mute is over",
        "log_motd": "motd changed",
        "log_motd_cleared": "motd cleared",
        "log_resume": "%(name)s is back from %(addr)s%(was)s",
        "log_was": " (was %(addr)s)",
        "log_refuse": "refused %(name)s from %(addr)s%(why)s",
        "log_refuse_someone": "a client",
        "refuse_why": ": %(why)s",
        "refuse_taken": "the name is taken by %(words)s",
        "refuse_looks_like": "the name looks too much like %(words)s, who is here",
        "refuse_room_full": "the room is full (%(words)s people)",
        "refuse_host_full": "too many people from that address (at most %(words)s)",
        "refuse_kicked": "kicked just now, %(minutes)d more minutes%(reason)s",
        "refuse_banned_name": "the name is banned, %(minutes)d more minutes%(reason)s",
        "refuse_banned_host": "the address is banned, %(minutes)d more minutes%(reason)s",
        "refuse_banned_key": "the client key is banned, %(minutes)d more minutes%(reason)s",
        "refuse_other": "%(detail)s",
        "log_malformed": "malformed datagram from %(addr)s%(count)s",
        "malformed_one": " (%(why)s)",
        "malformed_many": " (%(why)s; %(count)d dropped since the last report)",
        "log_throttle": "%(name)s is sending too fast: throttled",
        "log_shutdown": "telling every client the server is closing",
        "log_other": "%(what)s %(name)s %(addr)s %(detail)s",
        "start_bind_in_use": "UDP port %(port)s is already in use on this machine (another "
                             "chat.pyz server?); stop it or choose another with --port",
        "start_bind_in_use_on": "UDP port %(port)s is already in use on %(bind)s (another "
                                "chat.pyz server?); stop it or choose another with --port",
        "start_bind_denied": "no permission to listen on %(where)s (ports below 1024 need "
                             "root); use --port",
        "start_bind_not_here": "%(bind)s is not an address of this machine; check --bind",
        "start_bind_failed": "cannot listen on %(where)s: %(error)s",
        "start_bind_bad": "cannot use --bind %(bind)s: %(error)s",
        "start_log_unwritable": "cannot write the log %(path)s: %(error)s",
        "note_listening": "chat.pyz server listening on UDP port %(port)s (all interfaces); "
                          "receive buffer %(rcvbuf)s bytes",
        "note_listening_on": "chat.pyz server listening on UDP port %(port)s of %(host)s; "
                             "receive buffer %(rcvbuf)s bytes",
        "note_state_kept": "the room's state is kept in %(path)s",
        "memory_run": "; keeping the room's state in memory only for this run",
        "memory_now": "; keeping the room's state in memory only from now on",
        "state_db_read_only": "the room's database %(path)s is read-only",
        "state_db_locked": "the room's database %(path)s is locked by another program",
        "state_db_damaged": "the room's database %(path)s is damaged (%(error)s); move it aside "
                            "to start a new one",
        "state_db_unusable": "cannot use the room's database %(path)s: %(error)s",
        "state_db_missing": "no room database in %(directory)s (has a server run with "
                            "--state %(directory)s?)",
        "state_db_newer": "the room's database %(path)s is from a newer chat.pyz (schema "
                          "%(version)s, this one knows %(known)s)",
        "state_db_none_for_port": "no room database for port %(port)s (has a server run here? "
                                  "--state DIR names its directory)",
        "state_dir_refused": "--state %(given)s is not a private writable directory of yours "
                             "(mode 700, with working locks); bans, motd and history end with "
                             "this run",
        "state_dir_fallback": "cannot keep the room's state in %(usual)s (read-only, missing or "
                              "not private); using %(path)s instead (--state DIR chooses)",
        "state_dir_none": "no private writable directory for the room's state (%(usual)s, the "
                          "runtime and temporary directories); use --state DIR",
        "note_console_replaced": "the admin console ended; admin lines are read from this "
                                 "terminal now (a line is an announcement, /help lists the "
                                 "commands)",
        "note_console_ended": "the admin console ended; going on headless",
        "note_stopping": "server stopping",
        "note_stopping_quit": "server stopping (/quit)",
        "note_stopping_signal": "server stopping (signal %(why)s)",
        "hint_join": "how to join: %(command)s",
        "hint_label_first": "how to join: ",
        "hint_label_or": "or: ",
        "hint_note": "  (%(note)s)",
        "hint_join_broadcast": "students on this subnet: finds this server by broadcast",
        "hint_join_address": "%(interface)s, network %(network)s",
        "hint_join_address_bare": "%(interface)s",
        "hint_join_address6": "%(interface)s, IPv6 /%(prefix)s",
        "hint_loopback_only": "  only this machine can join (--bind %(bind)s); there "
                              "`%(command)s` finds it too",
        "hint_bound_no_broadcast": "  (with --bind, `%(command)s` does not find this server: "
                                   "broadcasts only reach a server on all addresses)",
        "hint_firewall_port": "firewall: let UDP port %(port)s in",
        "hint_link_local_only": "  no IPv4 or global IPv6 address here: only `%(command)s` "
                                "finds this server (IPv6 link-local)",
        "hint_no_interface": "  no network interface is up: only this machine can join",
        "hint_this_machine": "on this machine: %(command)s",
        "hint_firewall": "firewall: let UDP port %(port)s in (chat and discovery); broadcast "
                         "stays in one subnet: across routers give the address",
        "hint_server_key": "server key (clients show it too; compare aloud): %(words)s",
        "hint_room_password": "room password: %(password)s",
        "roster_head": "online %(count)d",
        "roster_more": "+%(count)d more (/list)",
        "roster_more_short": "+%(count)d more",
        "status_starting": "starting",
        "status_up": "up %(clock)s",
        "status_online": "online %(count)d",
        "status_rate": "%(rate).1f msg/s",
        "status_dropped": "dropped %(count)d",
        "status_stopping": "stopping... ",
        "status_scrolled": "scrolled back: PgDn ",
        "new_below": "-- %(count)d new below --",
        "confirm": "Stop the server and disconnect everyone? (y/n) ",
        "stopping": "stopping the server...",
        "quit_cancelled": "/quit cancelled",
        "too_long": "input too long (more than %(limit)d bytes); not inserted",
        "stopped": "chat.pyz: the server has stopped",
        "network_gone": "chat.pyz: the server's network process has stopped",
        "quit_unanswered": "chat.pyz: the network process did not answer /quit; leaving it",
        "no_console": "chat.pyz: no admin console on this terminal",
        "counter_challenges": "challenges",
        "counter_datagrams": "datagrams",
        "counter_handshake_failures": "handshake_failures",
        "counter_handshakes": "handshakes",
        "counter_joins": "joins",
        "counter_leaves": "leaves",
        "counter_malformed": "malformed",
        "counter_messages": "messages",
        "counter_probes": "probes",
        "counter_refused": "refused",
        "counter_throttled": "throttled",
        "counter_timeouts": "timeouts",
        "counter_inits_dropped": "handshake requests dropped",
        "counter_door_shut": "door budget spent",
        "counter_chunks_received": "file chunks received",
        "counter_chunks_sent": "file chunks sent",
        "counter_duplicates": "duplicate file chunks",
        "counter_retransmissions": "file chunks resent",
    },
}


def tr(lang: str, text_key: str, **values: Any) -> str:
    """The text `text_key` in `lang` (English for a language we do not have)."""
    return worded(TEXTS, lang, text_key, values)


def pad(text: str, width: int) -> str:
    """`text` with spaces after it to `width` display columns (a Chinese character
    takes two: str.ljust counts it as one and the columns after it slip)."""
    return text + " " * max(0, width - text_width(text))


def columns(rows: Sequence[Sequence[str]], gap: int = 2) -> List[str]:
    """Rows of fields as lines whose fields start at the same display column:
    every field but the last padded to its column's widest, `gap` spaces apart."""
    widths = [max(text_width(row[i]) for row in rows if i < len(row) - 1)
              for i in range(max(len(row) for row in rows) - 1)] if rows else []
    return ["".join(pad(field, widths[i] + gap) for i, field in enumerate(row[:-1])) + row[-1]
            for row in rows]


# ---------------------------------------------------------------- commands

_HELP = ("say", "list", "kick", "ban", "unban", "bans", "mute", "unmute", "motd", "send",
         "handins", "stats", "quit", "help")
COMMANDS = ("/list", "/kick", "/ban", "/unban", "/bans", "/mute", "/unmute", "/motd",
            "/send", "/hand-ins", "/stats", "/quit", "/help")            # what Tab completes
DATED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")   # the headless log's stamp


def help_lines(lang: str) -> List[str]:
    minutes = {"ban": admin.DEFAULT_BAN_MINUTES, "mute": admin.DEFAULT_MUTE_MINUTES}
    return columns([(tr(lang, "help_" + what),
                     tr(lang, "help_%s_does" % what, minutes=minutes[what])
                     if what in minutes else tr(lang, "help_%s_does" % what))
                    for what in _HELP], gap=1)


def idle_text(seconds: float) -> str:
    """Idle time in at most three or four columns, whole units rounded down:
    12s, 5m, 2h, 3d (the notation /ban and /mute take, in either language)."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def marks(row: admin.MemberRow, lang: str) -> List[str]:
    """What /list says about someone beyond their numbers."""
    return ([tr(lang, "mark_muted")] if row.muted else []) + \
        ([tr(lang, "mark_away")] if row.idle >= admin.AWAY_SECONDS else [])


def usage_line(usage: admin.Usage, lang: str) -> str:
    return tr(lang, "usage", usage=tr(lang, "usage_" + usage.command.lstrip("/")))


def unknown_line(unknown: admin.Unknown, lang: str, tab: bool = False) -> str:
    """`tab`: the console completes commands with Tab (the curses one)."""
    return tr(lang, "unknown", command=unknown.command, tab=tr(lang, "unknown_tab") if tab else "")


def result_lines(result: admin.Result, lang: str) -> List[str]:
    """What the console shows for a command's result (maybe nothing: the room's
    log shows a kick or an announcement already)."""
    if isinstance(result, admin.NoSuchMember):
        return [tr(lang, "no_such", name=result.name,
                   suggest=did_you_mean(result.suggestions, lang))]
    if isinstance(result, admin.Kicked):
        covered = tr(lang, "and").join(p for p in (result.name, result.host) if p)
        return [tr(lang, "kicked", name=result.name, covered=covered,
                   minutes="%g" % result.minutes)]
    if isinstance(result, admin.Banned):
        row = admin.BanRow(*result.ban)
        removed = tr(lang, "banned_removed", names=tr(lang, "list_sep").join(result.removed)) \
            if result.removed else ""
        lines = [tr(lang, "banned", covers=covers_text(row, lang), minutes=row.minutes_left,
                    removed=removed)]
        if result.absent:
            lines.append(tr(lang, "banned_absent", name=row.label,
                            suggest=did_you_mean(result.suggestions, lang)))
        return lines
    if isinstance(result, admin.Unbanned):
        return [tr(lang, "lifted", kind=kind_text(row[0], lang),
                   covers=covers_text(admin.BanRow(*row), lang)) for row in result.lifted]
    if isinstance(result, admin.NotBanned):
        return [tr(lang, "not_banned", target=result.target)]
    if isinstance(result, admin.Unmuted):
        return [tr(lang, "unmuted", name=result.name)]
    if isinstance(result, admin.NotMuted):
        return [tr(lang, "not_muted", name=result.name)]
    if isinstance(result, admin.BanList):
        return _ban_lines(result, lang)
    if isinstance(result, admin.Muted):
        return [tr(lang, "muted", name=result.name, minutes=result.minutes)]
    if isinstance(result, (admin.MotdSet, admin.MotdIs)):
        return [tr(lang, "motd", motd=result.motd or tr(lang, "motd_none"))]
    if isinstance(result, admin.MemberList):
        return _member_lines(result.rows, lang)
    if isinstance(result, admin.StatsReport):
        return [tr(lang, "stats", count=result.online, counters=tr(lang, "counter_sep").join(
            tr(lang, "counter", counter=counter_text(name, lang), value=value)
            for name, value in result.counters))]
    if isinstance(result, admin.CommandFailed):
        return [tr(lang, "failed"), result.error]    # the error as Python said it
    if isinstance(result, admin.FileQueued):
        return [tr(lang, "file_queued", name=result.name, size=human_size(result.size),
                   online=result.online)]
    if isinstance(result, admin.FileNotSent):
        return [tr(lang, "file_not_sent", why=sanitize_text(problem_text(result.why, lang)))]
    if isinstance(result, admin.HandInList):
        return _hand_in_lines(result, lang)
    return []                    # Announced, Stopping: the log says it


def _hand_in_lines(listing: admin.HandInList, lang: str) -> List[str]:
    rows = [(sanitize_text(name), time.strftime("%m-%d %H:%M", time.localtime(when)),
             human_size(size), sanitize_text(stored), sha[:16])
            for name, stored, size, when, sha in listing.rows]
    lines = ([tr(lang, "hand_ins_count", count=len(rows))] + columns(rows) if rows
             else [tr(lang, "hand_ins_none")])
    if listing.missing:
        lines.append(tr(lang, "hand_ins_missing",
                        names=tr(lang, "list_sep").join(listing.missing)))
    return lines


def counter_text(name: str, lang: str) -> str:
    """A /stats counter's word (a counter new to this table as it is named)."""
    return TEXTS.get(lang, TEXTS["en"]).get("counter_" + name, name)


def kind_text(kind: str, lang: str) -> str:
    """moderation.BAN or KICK as a word."""
    return TEXTS.get(lang, TEXTS["en"]).get("kind_" + kind, kind)


def _member_lines(rows: admin.MemberRows, lang: str) -> List[str]:
    """/list: a count, then a person a line in columns (by name, as the rows come)."""
    people = [admin.MemberRow(*row) for row in rows]
    return [tr(lang, "online_count", count=len(people))] + ["  " + line.rstrip() for line in columns(
        [(sanitize_text(row.name), row.addr, tr(lang, "row_idle", idle=idle_text(row.idle)),
          tr(lang, "row_said", said=row.said), " ".join(marks(row, lang))) for row in people])]


def did_you_mean(names: Sequence[str], lang: str) -> str:
    return tr(lang, "suggest", names=tr(lang, "list_sep").join(names)) if names else ""


def covers_text(row: admin.BanRow, lang: str) -> str:
    """What a ban covers: `name lisi and address 10.0.0.5`."""
    parts = [tr(lang, "cover_name", name=row.label)] if row.names else []
    parts += [tr(lang, "cover_host", host=host) for host in row.hosts]
    parts += [tr(lang, "cover_key", key=key[:16]) for key in row.keys]
    return tr(lang, "and").join(parts) or row.label


def _ban_lines(listing: admin.BanList, lang: str) -> List[str]:
    lines = [tr(lang, "ban_row", kind=kind_text(row.kind, lang), label=row.label,
                covers=covers_text(row, lang), left=row.minutes_left,
                reason=tr(lang, "reason", reason=row.reason) if row.reason else "")
             for row in (admin.BanRow(*ban) for ban in listing.bans)]
    lines += [tr(lang, "mute_row", label=label, left=left) for label, left in listing.mutes]
    return lines or [tr(lang, "no_bans")]


# ---------------------------------------------------------------- the room's log

_LEAVE_WHY = {LogKind.TIMEOUT: "why_timeout", LogKind.KICK: "why_kick", LogKind.BAN: "why_ban"}
_TIMEOUT_SILENT = re.compile(r"no reply for (\d+) s")   # hub.py's two timeout details
_TIMEOUT_UNACKED = "stopped acknowledging"


def _timeout_detail(detail: str, lang: str) -> str:
    """A timeout's detail (the hub's English, also on the wire) in `lang`."""
    silent = _TIMEOUT_SILENT.fullmatch(detail)
    if silent:
        return tr(lang, "timeout_silent", seconds=silent.group(1))
    return tr(lang, "timeout_unacked") if detail == _TIMEOUT_UNACKED else ""


def _minutes_reason(detail: str) -> Tuple[str, str]:
    """A BAN or MUTE entry's "N min REASON" as (N, REASON)."""
    minutes, _, rest = detail.partition(" min")
    return minutes, rest.strip()


def log_body(entry: Sequence[Any], lang: str) -> Tuple[str, str]:
    """A room log entry (time, what, name, addr, detail) as the consoles word
    it, and its style."""
    what = entry[1]
    name, addr, detail = (sanitize_text(str(field)) for field in entry[2:5])
    t = lambda key, **values: tr(lang, key, **values)    # noqa: E731
    if what == LogKind.JOIN:
        return t("log_join", name=name, addr=addr), "room"
    if what in (LogKind.LEAVE, LogKind.TIMEOUT, LogKind.KICK) or (
            what == LogKind.BAN and addr != "console"):
        why_key = _LEAVE_WHY.get(LogKind(what))
        said = _timeout_detail(detail, lang) if what == LogKind.TIMEOUT else detail
        why = t(why_key) if why_key else ""
        if why and said:
            why = t("log_why_detail", why=why, detail=said)
        return (t("log_leave", name=name, why=t("log_why", why=why) if why else ""),
                "room" if what == LogKind.LEAVE else "action")
    if what == LogKind.CHAT:
        return "%s : %s" % (name, detail), ""
    if what == LogKind.EMOTE:
        return "* %s %s" % (name, detail), ""
    if what == LogKind.PRIVATE:
        return t("log_private", name=name, target=detail[3:] if detail.startswith("to ")
                 else detail), ""
    if what == LogKind.ADMIN:
        return t("log_admin", text=detail), "admin"
    if what == LogKind.BAN:
        if detail == "lifted":
            return t("log_ban_lifted", name=name), "action"
        minutes, reason = _minutes_reason(detail)
        return t("log_ban", name=name, minutes=minutes,
                 reason=t("reason", reason=reason) if reason else ""), "action"
    if what == LogKind.MUTE:
        if detail in ("lifted", "over"):
            return t("log_mute_" + detail, name=name), "action"
        return t("log_mute", name=name, minutes=_minutes_reason(detail)[0]), "action"
    if what == LogKind.MOTD:
        return t("log_motd" if detail else "log_motd_cleared"), "action"
    if what in (LogKind.HANDOUT, LogKind.HAND_IN):
        said = _file_entry(name, detail, lang)
        if said:
            return said, "action" if detail.startswith("resumed ") else "warn"
    if what == LogKind.HANDOUT:
        return (t("log_handout_got", name=name, detail=detail) if name
                else t("log_handout", detail=detail)), "action"
    if what == LogKind.HAND_IN:
        return t("log_hand_in", name=name, detail=detail), "action"
    if what == LogKind.RESUME:
        was = detail[4:] if detail.startswith("was ") else ""
        return t("log_resume", name=name, addr=addr,
                 was=t("log_was", addr=was) if was else ""), "room"
    if what == LogKind.REFUSE:
        return t("log_refuse", name=name or t("log_refuse_someone"), addr=addr,
                 why=_refusal(entry[0], detail, lang)), "warn"
    if what == LogKind.MALFORMED:
        count, why = admin.parse_malformed_detail(detail)   # why: the codec's English
        return t("log_malformed", addr=addr, count=t(
            "malformed_many" if count > 1 else "malformed_one", count=count, why=why)), "warn"
    if what == LogKind.THROTTLE:
        return t("log_throttle", name=name), "warn"
    if what == LogKind.SHUTDOWN:
        return t("log_shutdown"), "action"
    # A kind new to this console: its fields as they are.
    return t("log_other", what=str(what), name=name or "-", addr=addr, detail=detail).strip(), ""


# The coded handout and hand-in entries (each a "file_" text).
_FILE_ENTRIES = ("not_handed_out", "not_stored", "not_stored_mismatch", "handout_refused",
                 "saved_unreadable", "abandoned_cancelled", "abandoned_silent", "resumed",
                 "hand_in_failed", "hand_in_mismatch", "hand_in_not_taken")


def _file_entry(name: str, detail: str, lang: str) -> str:
    """A handout or hand-in entry whose detail is coded (app/net/server_files.py
    writes problems.detail: the key, an errno name, figures and then the file's
    name), as a line; "" for the others (a file sent or stored: its name and
    size, the same in every language; an older server's English)."""
    got = problems.parse(detail)
    if got is None or got.key not in _FILE_ENTRIES:
        return ""
    key, text = got.key, got.text
    reason = reason_words(got.errno_name, lang)
    values: Dict[str, Any] = dict(name=name, file=text, reason=reason)
    if key == "not_handed_out":
        values["problem"] = problem_text(text, lang)
    elif key == "not_stored":
        values["reason"] = tr(lang, "file_reason", reason=reason) if reason else ""
    elif key == "handout_refused":
        code, _, values["file"] = text.partition(" ")
        why = "file_refuse_" + code
        values["why"] = reason or (tr(lang, why) if why in TEXTS["en"]
                                   else tr(lang, "file_refuse_other", code=code))
    elif key in ("abandoned_silent", "resumed"):
        figures = text.split(" ", 2 if key == "resumed" else 1)
        if not all(f.isdigit() for f in figures[:-1]) or len(figures) < 2:
            return ""
        values.update(seconds=figures[0], file=figures[-1])
        if key == "resumed":
            values.update(done=human_size(int(figures[0])), size=human_size(int(figures[1])))
    elif key == "hand_in_failed":
        values["reason"] = reason or reason_words("EIO", lang)
    elif key == "hand_in_not_taken":
        # A hand-in refused at its offer for our disk or folder (REFUSE 3 or 4).
        code, _, values["file"] = text.partition(" ")
        why = "file_not_taken_" + code
        values["why"] = tr(lang, why) if why in TEXTS["en"] else tr(
            lang, "file_refuse_other", code=code)
        said = reason and got.errno_name != "ENOSPC"     # (the disk is full: said)
        values["reason"] = tr(lang, "file_reason", reason=reason) if said else ""
    return tr(lang, "file_" + key, **values)


def _refusal(when: float, detail: str, lang: str) -> str:
    """Why a REFUSE entry refused (admin.refuse_detail), as `refuse_why`. An
    entry that does not say it in that form (an older server's, stored: its
    English reason) is shown as it is in English, left out in Chinese."""
    why, until, words = admin.parse_refuse_detail(detail)
    if why.startswith("name_"):
        problem = NameProblem.__members__.get(why[5:].upper())
        said = name_problem_text(problem, lang) if problem else ""
    elif "refuse_" + why in TEXTS["en"]:
        minutes = max(0, int(-(-(until - float(when or 0)) // 60))) if until else 0
        said = tr(lang, "refuse_" + why, words=words, minutes=minutes,
                  reason=tr(lang, "reason", reason=words) if words else "")
    else:
        said = tr(lang, "refuse_other", detail=detail)
    return tr(lang, "refuse_why", why=said) if said else ""


# ---------------------------------------------------------------- the server's own

def note_text(key: str, values: C.Values, lang: str) -> Tuple[str, str]:
    """A ConsoleNote (app.core.console_messages NOTE_*) as a line, and its style."""
    got = dict(values)
    if key == C.NOTE_LISTENING:
        return tr(lang, "note_listening_on" if got.get("host") else "note_listening",
                  **got), "action"
    if key == C.NOTE_STATE:
        memory = got.pop("memory", "")
        return state_text(got.pop("problem", ""), got, lang) + (
            tr(lang, "memory_" + memory) if memory else ""), "warn"
    if key == C.NOTE_STOPPING:
        why = got.get("why", "")
        if why == "quit":
            return tr(lang, "note_stopping_quit"), "action"
        return (tr(lang, "note_stopping_signal", why=why) if why
                else tr(lang, "note_stopping")), "action"
    return tr(lang, "note_" + key, **got), "action"


def state_text(key: str, values: Any, lang: str) -> str:
    """What is wrong with the room's state (a StateError's or StateDir.note's key
    and values, as pairs or a dict), in one line."""
    got = dict(values)
    text = TEXTS.get(lang, TEXTS["en"]).get("state_" + key)
    return text % got if text else " ".join([key] + ["%s=%s" % pair for pair in got.items()])


def hint_lines(hints: Sequence[Sequence[Any]], lang: str) -> List[str]:
    """How to join (join_hints.Hint, or the plain pairs they arrive as) as lines:
    the join rows as one table, the commands aligned; the rest a line each."""
    rows: List[Tuple[str, str]] = []
    lines: List[Any] = []           # a line, or None where the table goes
    for key, values in (Hint(*hint) for hint in hints):
        got = dict(values)
        if key in JOIN_ROWS:
            if key == "join_address" and not got.get("network"):
                key = "join_address_bare"
            if not rows:
                lines.append(None)
            rows.append((got["command"], tr(lang, "hint_" + key, **got)))
        else:
            lines.append(tr(lang, "hint_" + key, **got))
    labels = [tr(lang, "hint_label_first")] + [tr(lang, "hint_label_or")] * (len(rows) - 1)
    label_width = max((text_width(label) for label in labels), default=0)
    command_width = max((text_width(command) for command, _ in rows), default=0)
    table = [" " * (label_width - text_width(label)) + label + pad(command, command_width)
             + tr(lang, "hint_note", note=note) for label, (command, note) in zip(labels, rows)]
    out: List[str] = []
    for line in lines:
        out.extend(table if line is None else [line])
    return out


# ---------------------------------------------------------------- line mode

_stamps: Dict[int, str] = {}       # whole second -> its text: a busy room logs many a second


def dated(when: float, text: str) -> str:
    """A line of the headless log: `2026-11-26 19:10:47 张三 : 大家好`. A message's
    line breaks would start lines that look like entries of their own: they are
    shown as " ↵ ", one entry staying one line."""
    second = int(when or 0)
    stamp = _stamps.get(second)
    if stamp is None:
        _stamps.clear()
        stamp = _stamps[second] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
    return "%s %s" % (stamp, text.replace("\n", " \u21b5 "))
