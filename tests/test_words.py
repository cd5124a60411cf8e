"""Room codes and fingerprint words (app/core/words.py): the PGP word list
against its published examples, round trips, and codes typed sloppily."""
import hashlib
import math
import re

import pytest
from hypothesis import given, settings, strategies as st

from app.core import words

# The list's published example (the PGP fingerprint in the Wikipedia article
# "PGP word list"), and a second one from Decred's Paymetheus tests; both as
# printed there, tested by several independent implementations.
PUBLISHED = [
    ("E58294F2E9A227486E8B061B31CC528FD7FA3F19",
     "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa "
     "afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless"),
    ("D1D464C004F00FB5C9A4C8D8E433E7FB7FF56256",
     "stairway souvenir flytrap recipe adrift upcoming artist positive spearhead Pandora "
     "spaniel stupendous tonic concurrent transit Wichita lockup visitor flagpole escapade"),
]


@pytest.mark.parametrize("hexdigest, spoken", PUBLISHED)
def test_published_encodings(hexdigest, spoken):
    data = bytes.fromhex(hexdigest)
    assert words.fingerprint_words(data, count=len(data)) == spoken.replace(" ", "-")
    assert words.words_to_bytes(spoken) == data
    assert words.words_to_bytes(spoken.upper()) == data


def test_the_list_is_256_even_and_256_odd_distinct_words():
    assert len(words.EVEN_WORDS) == len(words.ODD_WORDS) == 256
    assert len({w.lower() for w in words.EVEN_WORDS + words.ODD_WORDS}) == 512
    assert all(re.fullmatch(r"[A-Za-z]+", w) for w in words.EVEN_WORDS + words.ODD_WORDS)
    # Regression pin of the data (taken after checking all 512 words against a
    # second transcription, quchen/pgp-wordlist): a changed word changes every
    # fingerprint people compare.
    joined = " ".join(words.EVEN_WORDS + words.ODD_WORDS).encode()
    assert hashlib.sha256(joined).hexdigest() == (
        "3e090850023f09a3bff58dbc9926ee0840dd829fa8198af8ceffd1b2280a7096")


def test_fingerprint_takes_the_first_count_bytes_alternating_lists():
    digest = hashlib.sha256(b"a key").digest()
    four = words.fingerprint_words(digest)
    assert four.split("-") == [words.EVEN_WORDS[digest[0]], words.ODD_WORDS[digest[1]],
                               words.EVEN_WORDS[digest[2]], words.ODD_WORDS[digest[3]]]
    assert words.fingerprint_words(digest, 6).startswith(four + "-")
    with pytest.raises(ValueError):
        words.fingerprint_words(digest, 0)
    with pytest.raises(ValueError):
        words.fingerprint_words(b"\x01\x02", 3)


def test_a_word_from_the_wrong_list_or_none_is_refused():
    with pytest.raises(ValueError):
        words.words_to_bytes("adroitness")          # odd word in an even place
    with pytest.raises(ValueError):
        words.words_to_bytes("aardvark aardvark")   # even word in an odd place
    with pytest.raises(ValueError):
        words.words_to_bytes("aardvark purple")


def test_room_code_shape_and_entropy():
    code = words.room_code(bytes([0x00, 0xFF]) + bytes(8))
    assert code == "1-%s-%s" % (words.ODD_WORDS[0].lower(), words.EVEN_WORDS[0xFF].lower())
    assert code == "1-adroitness-zulu"
    assert words.room_code(bytes(2) + (98).to_bytes(8, "big")) == "99-adroitness-aardvark"
    assert words.ROOM_CODE_BITS == round(math.log2(99 * 256 * 256), 1)
    with pytest.raises(ValueError):
        words.room_code(bytes(9))


@pytest.mark.parametrize("typed", [
    "7-guitarist-revenge", "7 Guitarist Revenge", "  07--GUITARIST__revenge. ",
    "7guitarist revenge", "７－ｇｕｉｔａｒｉｓｔ－revenge", "7\u3000guitarist\u3000revenge",
    "7, guitarist, revenge", "7/guitarist/revenge",
])
def test_sloppy_typing_normalises_to_the_code(typed):
    assert words.normalise_code(typed) == "7-guitarist-revenge"
    assert words.is_room_code(typed)
    assert words.room_password(typed) == "7-guitarist-revenge"


def test_other_passwords_pass_through_untouched():
    for password in ("My Secret", "7-revenge-guitarist", "100-guitarist-revenge",
                     "0-guitarist-revenge", "7-guitarist", "口令"):
        assert not words.is_room_code(password)
        assert words.room_password(password) == password


@settings(max_examples=300)
@given(st.binary(min_size=words.ROOM_CODE_BYTES, max_size=words.ROOM_CODE_BYTES))
def test_property_every_code_is_canonical_and_survives_sloppy_typing(random_bytes):
    code = words.room_code(random_bytes)
    number, odd, even = code.split("-")
    assert 1 <= int(number) <= 99 and str(int(number)) == number
    assert words.normalise_code(code) == code and words.is_room_code(code)
    assert words.words_to_bytes(even) == bytes([random_bytes[1]])
    sloppy = " %s  %s_%s " % (number.zfill(2), odd.upper(), even.capitalize())
    assert words.room_password(sloppy) == code


@given(st.binary(min_size=1, max_size=32))
def test_property_fingerprint_round_trips(data):
    spoken = words.fingerprint_words(data, len(data))
    assert words.words_to_bytes(spoken) == data
    assert words.words_to_bytes(spoken.replace("-", " ").lower()) == data


@given(st.text(max_size=40))
def test_property_normalise_is_idempotent(text):
    once = words.normalise_code(text)
    assert words.normalise_code(once) == once
