"""The input line's slash commands, parsed once into typed values.

Every value is also a message of the client's vocabulary (messages.py): the
sender applies a command by passing it to the receiver, except LeaveRoom, which
ends the sender first (and then goes to the receiver as the last word). Adding
a command touches this parser, its value type in messages.py and the one place
that applies it (the receiver's handler, or the sender's for LeaveRoom).
"""
from typing import Optional, Union

from app.core.text import split_name
from app.ui import render
from app.ui.client.messages import (ClearPane, EmoteLine, HandIn, LeaveRoom, PrivateLine,
                                    SayLine, SearchPane, ShowHelp, ShowNote, WhoQuery)

Command = Union[SayLine, EmoteLine, PrivateLine, WhoQuery, ShowHelp, ShowNote, LeaveRoom,
                ClearPane, SearchPane, HandIn]


def parse_command(line: str, lang: str) -> Optional[Command]:
    """A submitted line as a command; None for a blank line. `lang` words the usage
    hints (ShowNote): a line that is not a valid command is explained, never sent."""
    if not line.strip():
        return None
    if line.startswith("//"):               # "//x" says "/x"
        return SayLine(line[1:])
    if not line.startswith("/"):
        return SayLine(line)
    command, _, rest = line[1:].partition(" ")
    command = command.lower()
    if command in ("quit", "exit"):
        return LeaveRoom()
    if command in ("who", "names"):
        return WhoQuery()
    if command == "help":
        return ShowHelp()
    if command == "clear":
        return ClearPane()
    if command == "lastlog":
        text = rest.strip()
        return SearchPane(text) if text else ShowNote(render.tr(lang, "usage_lastlog"))
    if command == "me":
        action = rest.strip()
        return EmoteLine(action) if action else ShowNote(render.tr(lang, "usage_me"))
    if command in ("hand-in", "交作业"):
        path = rest.strip()
        return HandIn(path) if path else ShowNote(render.tr(lang, "usage_hand_in"))
    if command in ("msg", "m"):
        name, text = split_name(rest)     # as every command reads a name
        if name and text.strip():
            return PrivateLine(name, text.strip())
        return ShowNote(render.tr(lang, "usage_msg"))
    return ShowNote(render.tr(lang, "unknown_command", command="/" + command))
