"""Names (app/core/text.py): the rules, the look-alikes from Unicode's data (UTS #39
skeletons, app/core/confusables_data.py and tools/gen_confusables.py), the reserved
names, how refusals are worded, and that every command that takes a name can
address every name the rules accept (hypothesis). The same rules against a real
Hub over the simulated network; tests/test_e2e_plain.py tries them on the built
chat.pyz."""
import importlib.util
import pathlib
import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from simnet import SimNet

from app.core import admin, confusables_data, protocol
from app.core import protocol as P
from app.core import text
from app.core.client_core import JOINED, REFUSED, BadName, valid_name
from app.core.text import NameProblem, check_name, looks_alike, lookalike_keys, split_name
from app.ui import render
from app.ui.client.commands import parse_command
from app.ui.client.messages import PrivateLine

ROOT = pathlib.Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- the rules


@pytest.mark.parametrize("raw, name", [
    ("张三", "张三"),
    ("ＡＢＣ", "ABC"),
    ("  bob\u3000", "bob"),
    ("Алексей", "Алексей"),
    ("Γιώργος", "Γιώργος"),
    ("김철수", "김철수"),
    ("たなか", "たなか"),
    ("José", "José"),
    ("q\u0301\u0302x", "q\u0301\u0302x"),       # two marks in a row are fine
    ("Zhang_San", "Zhang_San"),
    ("li-si", "li-si"),
    ("3班王五", "3班王五"),                      # a digit first is fine
    ("中" * 16, "中" * 16),
    ("a" * 16, "a" * 16),
    ("rootbeer", "rootbeer"),                    # "root" is reserved only whole
    ("王老师", "王老师"),                        # a teacher joining from a lab machine
    ("1.2.3", "1.2.3"),                          # not an address
])
def test_accepted_names(raw, name):
    assert check_name(raw) == (name, None)


@pytest.mark.parametrize("raw, problem", [
    ("", NameProblem.EMPTY),
    (" ", NameProblem.EMPTY),
    ("\u3000 \t", NameProblem.EMPTY),
    ("a" * 17, NameProblem.TOO_LONG),
    ("ab\u337f" * 3, NameProblem.TOO_LONG),      # NFKC: ㍿ -> 株式会社
    ("bob\x1b[31m", NameProblem.INVISIBLE),
    ("bob\u202eevil", NameProblem.INVISIBLE),
    ("a\u200bb", NameProblem.INVISIBLE),
    ("a\tb", NameProblem.INVISIBLE),
    ("a\u2028b", NameProblem.INVISIBLE),
    ("a\ud800", NameProblem.INVISIBLE),
    ("a\ue000", NameProblem.INVISIBLE),          # private use
    ("a\u0378", NameProblem.INVISIBLE),          # unassigned
    ("\u3164", NameProblem.INVISIBLE),           # Hangul filler
    ("Zhang San", NameProblem.SPACE),            # the issue's own examples
    ("bad guy", NameProblem.SPACE),
    ("a\u00a0b", NameProblem.SPACE),             # NFKC turns NBSP into a space
    ("a\u3000b", NameProblem.SPACE),             # ... and the ideographic space
    ("a\u1680b", NameProblem.SPACE),             # Ogham space mark: NFKC keeps it
    ("a\u2003b", NameProblem.SPACE),
    ("\u0301abc", NameProblem.FIRST),
    ("-bob", NameProblem.FIRST),                 # "-- ..." is how notices look
    ("*bob", NameProblem.FIRST),                 # "* name action" is an emote
    ("[12", NameProblem.FIRST),
    ("😀", NameProblem.FIRST),
    ("q\u0301\u0302\u0303", NameProblem.MARKS),
    ("bob:hi", NameProblem.COLON),
    ("bob：hi", NameProblem.COLON),               # fullwidth colon (NFKC)
    ("bob\u2236hi", NameProblem.COLON),          # RATIO: confusables.txt says ':'
    ("bob\ua789hi", NameProblem.COLON),          # MODIFIER LETTER COLON
    ("a\u02d0b", NameProblem.COLON),             # MODIFIER LETTER TRIANGULAR COLON
    ("1.2.3.4", NameProblem.ADDRESS),            # /ban 1.2.3.4 bans the address
    ("127.0.0.1", NameProblem.ADDRESS),
    ("fe80::1", NameProblem.COLON),              # IPv6 has colons
    # reserved: the admin's label and its family, their look-alikes, and what
    # would make a line look like an announcement
    ("admin", NameProblem.RESERVED),
    ("ADMIN", NameProblem.RESERVED),
    ("Ａｄｍｉｎ", NameProblem.RESERVED),
    ("Administrator", NameProblem.RESERVED),
    ("admins", NameProblem.RESERVED),
    ("admin.", NameProblem.RESERVED),            # trailing punctuation
    ("admin。", NameProblem.RESERVED),
    ("a.d.m.i.n", NameProblem.RESERVED),         # punctuation inside
    ("admin_2", NameProblem.RESERVED),
    ("adrnin", NameProblem.RESERVED),            # rn looks like m (confusables.txt)
    ("\u13aadmin", NameProblem.RESERVED),        # Cherokee Ꭺ
    ("\u0430dmin", NameProblem.RESERVED),        # Cyrillic а
    ("\u0410DMIN", NameProblem.RESERVED),        # Cyrillic А
    ("\u00e1dmin", NameProblem.RESERVED),        # accents are dropped in the skeleton
    ("\u1d00dmin", NameProblem.RESERVED),        # small capital ᴀ
    ("管理员", NameProblem.RESERVED),
    ("管理員", NameProblem.RESERVED),
    ("管理员消息", NameProblem.RESERVED),        # "管理员消息 : 下课了" is no announcement
    ("管理员2", NameProblem.RESERVED),
    ("系统消息", NameProblem.RESERVED),
    ("系統", NameProblem.RESERVED),
    ("老师", NameProblem.RESERVED),
    ("老師", NameProblem.RESERVED),
    ("老师1", NameProblem.RESERVED),
    ("Teacher", NameProblem.RESERVED),
    ("server", NameProblem.RESERVED),
    ("Server01", NameProblem.RESERVED),
    ("System", NameProblem.RESERVED),
    (" root ", NameProblem.RESERVED),
    ("r\u03bf\u03bft", NameProblem.RESERVED),    # Greek ο
    ("r00t", NameProblem.RESERVED),              # 0 looks like O (confusables.txt)
])
def test_refused_names(raw, problem):
    assert check_name(raw) == (None, problem)


def test_the_client_refuses_what_the_server_would():
    with pytest.raises(BadName) as caught:
        valid_name("Zhang San")
    assert caught.value.problem is NameProblem.SPACE
    assert str(caught.value) == "name cannot contain spaces"
    assert isinstance(caught.value, ValueError)     # what callers have always caught


def test_normalize_name():
    assert text.normalize_name(" ＡＢＣ\u3000") == "ABC"
    assert text.normalize_name("ﬁle") == "file"


def test_name_key():
    name_key = text.name_key
    assert name_key("Bob") == name_key("BOB") == name_key("ｂｏｂ") == name_key(" bob ")
    assert name_key("Straße") == name_key("STRASSE")
    assert name_key("张三") == "张三"
    assert name_key("bob") != name_key("b0b")


def is_mark(ch):
    return unicodedata.category(ch) in ("Mn", "Me")


# Any code point, surrogates included, with extra weight on the troublesome ones.
tricky_char = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=sys.maxunicode),
    st.sampled_from("\x00\x1b\t\n\r\x7f\x85\x9b\u00ad\u061c\u200b\u200c\u200d\u200e"
                    "\u202e\u2066\u2069\u2028\u2029\ufeff\ud800\udfff \u0301\u0302\u20dd"
                    "\ufe0f\u3099中あ한é😀:\u2236\u02d0Il0"),
    st.characters(whitelist_categories=("Mn", "Me")),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
)


@given(st.text(tricky_char, max_size=24))
@example("\u0430dmin")
@example(" \u0301")
def test_check_name_result_is_consistent(raw):
    name, problem = check_name(raw)
    assert (name is None) != (problem is None)
    if problem is not None:
        assert isinstance(problem, NameProblem)
        return
    assert 1 <= len(name) <= 16
    assert len(name.encode("utf-8")) <= protocol.MAX_NAME_BYTES
    assert name == name.strip() and not any(ch.isspace() for ch in name)
    assert ":" not in text.skeleton(name)
    assert name == text.sanitize_text(name)      # nothing a terminal could choke on
    assert check_name(name) == (name, None)      # accepted names are fixed points
    assert unicodedata.category(name[0])[0] in "LN"
    run = longest = 0
    for ch in name:
        run = run + 1 if is_mark(ch) else 0
        longest = max(longest, run)
    assert longest <= text.MAX_MARK_RUN


# ---------------------------------------------------------------- look-alikes

@pytest.mark.parametrize("other", [
    "\u1d00lice",        # ᴀ LATIN LETTER SMALL CAPITAL A (the small-capital supplement)
    "\u13aalice",        # Ꭺ CHEROKEE LETTER GO (confusables.txt: -> A)
    "\ua4eelice",        # ꓮ LISU LETTER A (-> A)
    "aIice",             # capital I (confusables.txt: I -> l)
    "\u0430lice",        # Cyrillic а
    "ALICE", "Alice", "ａｌｉｃｅ",               # the same name, name_key
    "alicé",             # accents dropped
])
def test_the_issues_look_alikes_collide_with_alice(other):
    assert looks_alike("alice", other) and looks_alike(other, "alice")


@pytest.mark.parametrize("a, b", [
    ("Bob", "\u0412\u043eb"),                    # Cyrillic В, о
    ("paypal", "\u0440\u0430\u0443\u0440\u0430l"),
    ("HAN", "\u0397\u0391\u039d"),               # Greek capitals
    ("tim", "t\u0131m"),                         # dotless i
    ("Zoë", "zoe"),
    ("admin", "adrnin"),
    ("lili", "1i1i"),                            # 1 -> l
    ("bobo", "bob0"),                            # 0 -> O, the name "o"
    ("口才", "ロ才"),                            # katakana RO looks like 口
])
def test_confusable_pairs_collide(a, b):
    assert text.name_key(a) != text.name_key(b)
    assert looks_alike(a, b)


@pytest.mark.parametrize("a, b", [
    ("か", "が"),                                # kana voicing marks are visible
    ("は", "ぱ"),
    ("张三", "李四"),
    ("bob", "rob"),
    ("li", "lin"),
    ("wang", "wong"),
])
def test_distinct_names_stay_distinct(a, b):
    assert not looks_alike(a, b)


def test_plain_names_are_their_own_skeleton():
    assert lookalike_keys("张三") == {"张三"}
    assert not looks_alike("김철수", "박철수")   # Hangul's skeleton is its jamo: not for display
    assert lookalike_keys("zhangsan") == {"zhangsan"}


@settings(max_examples=300)
@given(st.text(max_size=20))
def test_look_alike_is_reflexive_and_symmetric(s):
    assert looks_alike(s, s)
    assert looks_alike(s, s.upper()) == looks_alike(s.upper(), s)


# ---------------------------------------------------------------- the bundled table

def test_the_bundled_table_is_unicodes_and_says_its_version():
    assert confusables_data.VERSION == "17.0.0"
    assert "Unicode" in confusables_data.__doc__ and "Unicode-3.0" in confusables_data.__doc__
    table = text._skeleton_map()
    # Entries the rules above rely on, straight from confusables.txt.
    assert table[ord("I")] == "l" and table[ord("1")] == "l" and table[ord("0")] == "O"
    assert table[ord("m")] == "rn" and table[0x13AA] == "A" and table[0xA4EE] == "A"
    assert table[0x2236] == ":"
    assert table[0x1D00] == "A"                  # the small-capital supplement
    assert table[0x0301] is None                 # marks are dropped ...
    assert 0x3099 not in table and 0x309A not in table      # ... but not kana voicing


def test_the_table_holds_only_what_a_name_can_contain():
    for row in confusables_data.TABLE.splitlines():
        target, sources = row.split(":")
        prototype = "".join(chr(int(cp, 16)) for cp in target.split())
        assert prototype == unicodedata.normalize("NFD", prototype)
        for cp in sources.split():
            char = chr(int(cp, 16))
            assert char != prototype
            assert not unicodedata.decomposition(char)
            assert unicodedata.category(char) not in ("Mn", "Me", "Cc", "Cf", "Zs")


def _generator():
    spec = importlib.util.spec_from_file_location("gen_confusables",
                                                  str(ROOT / "tools" / "gen_confusables.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SAMPLE = """\ufeff# confusables.txt
# Date: 2025-07-22, 05:49:37 GMT
# \u00a9 2025 Unicode\u00ae, Inc.
# Version: 17.0.0
#
0430 ;\t0061 ;\tMA\t# ( \u0430 \u2192 a ) CYRILLIC SMALL LETTER A \u2192 LATIN SMALL LETTER A
FF41 ;\t0061 ;\tMA\t# fullwidth a: NFKC makes it a, never looked up
0341 ;\t0301 ;\tMA\t# a mark: dropped before the mapping
2003 ;\t0020 ;\tMA\t# a space: never in a name
01C3 ;\t0021 ;\tMA\t# kept
AB7A ;\t1D00 ;\tMA\t# ( \uab7a \u2192 \u1d00 ): through the small-capital supplement
04D3 ;\t0061 0308 ;\tMA\t# decomposes: dropped
0269 ;\t0069 ;\tMA\t# kept
0131 ;\t0069 0307 ;\tMA\t# prototype's mark dropped: i

# total: 9
"""


def test_the_generator_trims_and_supplements_as_documented(tmp_path):
    source = tmp_path / "confusables.txt"
    source.write_text(SAMPLE, encoding="utf-8")
    out = tmp_path / "table.py"
    assert _generator().main(["gen", str(source), str(out)]) == 0
    namespace = {}
    exec(out.read_text(encoding="utf-8"), namespace)
    rows = dict(row.split(":") for row in namespace["TABLE"].splitlines())
    assert namespace["VERSION"] == "17.0.0"
    assert rows["61"].split() == ["430"]
    assert {"1d00", "ab7a"} <= set(rows["41"].split())     # ᴀ added; ꭺ -> ᴀ -> A
    assert rows["21"].split() == ["1c3"]
    assert set(rows["69"].split()) == {"131", "269"}
    everything = " ".join(rows.values()).split()
    for dropped in ("ff41", "341", "2003", "4d3"):
        assert dropped not in everything


def test_the_generator_refuses_a_damaged_file(tmp_path):
    source = tmp_path / "confusables.txt"
    source.write_text(SAMPLE.replace("# total: 9", "# total: 10"), encoding="utf-8")
    with pytest.raises(SystemExit):
        _generator().main(["gen", str(source), str(tmp_path / "out.py")])


# ---------------------------------------------------------------- every command can address every name

# Names as students type them: letters of several scripts first, then anything,
# whitespace of every kind included (to try to sneak a separator into a name).
FIRST = st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd"))
REST = st.one_of(
    st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Lm", "Nd", "Pc", "Pd", "Po", "Mn",
                                        "Sm", "So", "Zs")),
    st.sampled_from(" \u00a0\u3000\u2003\u1680\u202f\u200b\u0085\x1c\t_-.·'"),
    st.sampled_from("abcxyzAIl01张三李四王五ａｌ"))
typed_names = st.builds(lambda a, b: a + b, FIRST, st.text(REST, max_size=15))
reasons = st.text(st.sampled_from("abc 刷屏xyz!?"), min_size=1, max_size=20).map(
    lambda s: " ".join(s.split())).filter(bool)


def accepted(raw):
    return check_name(raw)[0]


names = typed_names.map(accepted).filter(lambda n: n is not None)


@settings(max_examples=400)
@given(st.text(max_size=20))
@example("Zhang San")
@example("a\u1680b")
@example("a\x85b")
def test_no_accepted_name_contains_anything_a_parser_splits_at(raw):
    name = accepted(raw)
    if name is not None:
        assert name.split() == [name]
        assert split_name(name) == (name, "")


@settings(max_examples=300)
@given(names, reasons)
@example("张三", "刷屏")
@example("Zhang_San", "too loud")
def test_every_accepted_name_can_be_kicked_muted_banned_and_messaged(name, reason):
    parse = admin.parse
    assert parse("/kick " + name) == admin.Kick(name, "")
    assert parse("/kick %s %s" % (name, reason)) == admin.Kick(name, reason)
    assert parse("/mute " + name) == admin.Mute(name, admin.DEFAULT_MUTE_MINUTES)
    assert parse("/mute %s 3" % name) == admin.Mute(name, 3)
    assert parse("/unmute " + name) == admin.Unmute(name)
    assert parse("/ban " + name) == admin.Ban(name, admin.DEFAULT_BAN_MINUTES, "")
    assert parse("/ban %s 5 %s" % (name, reason)) == admin.Ban(name, 5, reason)
    assert parse("/unban " + name) == admin.Unban(name)
    for lang in ("zh", "en"):
        assert parse_command("/msg %s %s" % (name, reason), lang) == PrivateLine(name, reason)


@settings(max_examples=200)
@given(names, reasons)
def test_the_line_mode_client_reads_msg_the_same_way(name, reason):
    from app.ui.client_plain import PlainClient

    class Conn:
        def private(self, target, line):
            sent.append((target, line))

    sent = []
    plain = PlainClient.__new__(PlainClient)      # just the line parser: no socket
    plain.conn = Conn()
    plain._submit(("/msg %s %s" % (name, reason)).encode("utf-8"))
    assert sent == [(name, reason)]


# ---------------------------------------------------------------- how refusals read

def test_every_problem_is_worded_in_every_language():
    for lang, words in render.NAME_PROBLEM_WORDS.items():
        assert set(words) == set(NameProblem), lang
        assert all(words.values())


@pytest.mark.parametrize("lang, words", [
    ("zh", "名字不可用 (名字里不能有空格"),
    ("en", "name not allowed (a name cannot contain spaces"),
])
def test_a_refusal_for_a_bad_name_is_worded_by_the_ui(lang, words):
    refusal = (P.REFUSE_NAME_INVALID, NameProblem.SPACE.value)    # as the server sends it
    assert render.refusal_reason(refusal, lang).startswith(words)


def test_other_refusal_details_are_kept_as_sent():
    """(From a server that sends no coded part: an older one.)"""
    refusal = (P.REFUSE_NAME_TAKEN, "ᴀlice looks too much like alice, who is here")
    assert render.refusal_reason(refusal, "zh") == \
        "名字已被占用 (ᴀlice looks too much like alice, who is here)"


@pytest.mark.parametrize("why, words, lang, said", [
    (P.ReasonCode.LOOKS_LIKE, "alice", "zh", "名字 ᴀlice 和聊天室里的 alice 太像了，请换一个"),
    (P.ReasonCode.LOOKS_LIKE, "alice", "en",
     "The name ᴀlice looks too much like alice, who is here; choose another"),
    (P.ReasonCode.TAKEN, "ᴀlice", "zh", "名字 ᴀlice 已经有人在用了，请换一个"),
    (P.ReasonCode.ROOM_FULL, "40", "zh", "聊天室满了（40 人），请稍后再试"),
    (P.ReasonCode.HOST_FULL, "32", "en",
     "Too many people from your computer (at most 32); try again later")])
def test_a_coded_refusal_is_one_language(why, words, lang, said):
    refusal = (P.REFUSE_NAME_TAKEN, "the server's English, not shown")
    assert render.refusal_reason(refusal, lang, P.Reason(why, 0.0, words), "ᴀlice") == said


# ---------------------------------------------------------------- a real hub

@pytest.mark.parametrize("name, code, detail", [
    ("\u1d00lice", P.REFUSE_NAME_TAKEN, "looks too much like alice"),
    ("\u13aalice", P.REFUSE_NAME_TAKEN, "looks too much like alice"),
    ("\ua4eelice", P.REFUSE_NAME_TAKEN, "looks too much like alice"),
    ("aIice", P.REFUSE_NAME_TAKEN, "looks too much like alice"),
    ("ALICE", P.REFUSE_NAME_TAKEN, "taken"),
    ("\u13aadmin", P.REFUSE_NAME_INVALID, "name is reserved"),
    ("管理员消息", P.REFUSE_NAME_INVALID, "name is reserved"),
    ("Zhang San", P.REFUSE_NAME_INVALID, "name cannot contain spaces"),
])
def test_the_hub_refuses_look_alikes_and_bad_names(name, code, detail):
    net = SimNet(7)
    net.join_all(["alice"])
    _, client = net.add_client("placeholder")
    client.name = name                            # a client that skips the local check
    assert net.run_until(lambda: client.state == REFUSED, 30)
    assert client.refusal[0] == code and detail in client.refusal[1]


def test_a_look_alike_joins_once_the_name_it_mimics_has_left():
    net = SimNet(8)
    (alice,) = net.join_all(["alice"])
    net.clients[alice].leave(net.now)
    net.run(1.0)
    _, other = net.add_client("\u13aalice")
    assert net.run_until(lambda: other.state == JOINED, 30)


def test_max_name_chars_matches_protocol():
    assert text.MAX_NAME_CHARS == protocol.MAX_NAME_CHARS


def test_the_bench_runs_and_counts_every_name():
    from bench import names as bench_names

    figures = bench_names.measure(60, seed=2)
    assert figures["room"] + figures["refused"] == 60 and figures["room"] > 30
    assert 0 < figures["check_us"] and 0 < figures["join_us"]
