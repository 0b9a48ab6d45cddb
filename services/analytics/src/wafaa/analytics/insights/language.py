"""Language, emoji and text normalisation of customer messages (English, Arabic, Arabizi)."""

from __future__ import annotations

import re
import unicodedata

ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u066E-\u06D3\u06FA-\u06FF]")
LATIN_LETTER = re.compile(r"[A-Za-z]")
_DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")  # harakat and tatweel
_REPEATS = re.compile(r"(.)\1{2,}")
_TOKEN = re.compile(r"[\w']+", re.UNICODE)
# Arabizi writes Arabic sounds with digits: 2 (hamza), 3 (ain), 5 (kha), 7 (ha), 9 (sad/qaf).
_ARABIZI_DIGIT_WORD = re.compile(r"^(?!\d+(st|nd|rd|th)$)(?=.*[a-z])(?=.*[235679])[a-z235679']{2,}$")
ARABIZI_WORDS = frozenset(
    [
        "yalla",
        "yallah",
        "habibi",
        "habibti",
        "7abibi",
        "shukran",
        "shokran",
        "shukran",
        "inshallah",
        "inshalla",
        "wallah",
        "wallahi",
        "walla",
        "mashallah",
        "marhaba",
        "mar7aba",
        "ahlan",
        "ahla",
        "salam",
        "kifak",
        "kifik",
        "keefak",
        "kaifak",
        "shu",
        "sho",
        "shou",
        "eish",
        "esh",
        "wesh",
        "shlonak",
        "shlonkum",
        "ana",
        "enta",
        "enti",
        "inta",
        "inti",
        "mish",
        "msh",
        "mesh",
        "mo",
        "mu",
        "ma3",
        "ma3a",
        "3ad",
        "ya3ni",
        "yani",
        "akeed",
        "mumkin",
        "momken",
        "bdi",
        "biddi",
        "abi",
        "abgha",
        "abga",
        "ab8a",
        "3ayez",
        "3ayz",
        "3awez",
        "aiwa",
        "aywa",
        "la2",
        "laa",
        "fi",
        "mafi",
        "mafee",
        "ma",
        "fi",
        "kteer",
        "ktir",
        "katheer",
        "wayed",
        "wayid",
        "awi",
        "helw",
        "7elw",
        "7ilo",
        "7elo",
        "zaki",
        "lazeez",
        "ladeeth",
        "mumtaz",
        "momtaz",
        "ta3ban",
        "za3lan",
        "zift",
        "khara",
        "sayi2",
        "wa7ed",
        "wahed",
        "3andkom",
        "3ndkom",
        "andkom",
        "3indak",
        "emta",
        "imta",
        "wen",
        "wein",
        "wain",
        "fen",
        "leh",
        "lesh",
        "lish",
        "leish",
        "kam",
        "addesh",
        "adesh",
        "2adesh",
        "talabi",
        "tlabi",
        "talab",
        "el-talab",
        "el-order",
        "tayeb",
        "tayyeb",
        "tamam",
        "ba2a",
        "ba3d",
        "lissa",
        "lessa",
        "lesa",
        "jama3a",
        "ya3tikom",
        "ya3tik",
        "allah",
        "alla",
        "khalas",
        "khallas",
        "3anjad",
        "3njd",
        "bas",
        "el",
        "akl",
        "akel",
        "wasal",
        "wesel",
        "bared",
        "bokra",
        "bukra",
        "hay",
        "hayda",
        "hada",
        "kaman",
        "kman",
        "mni7",
        "tislamo",
    ]
)


def normalise_arabic(text: str) -> str:
    """Arabic letters in one spelling: no diacritics or tatweel, one alef, yaa and taa marbuta form."""
    text = _DIACRITICS.sub("", text)
    text = re.sub("[إأآٱ]", "ا", text)
    text = text.replace("ى", "ي").replace("ة", "ه").replace("ؤ", "و").replace("ئ", "ي")
    return text


def normalise(text: str) -> str:
    """Lower case, NFKC, one Arabic spelling, letters repeated for emphasis cut to one."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = normalise_arabic(text)
    return _REPEATS.sub(r"\1", text)


def tokens(text: str) -> list[str]:
    """Word tokens of a normalised text (digits stay inside Arabizi words)."""
    return [t.strip("'") for t in _TOKEN.findall(text) if t.strip("'")]


def is_emoji(char: str) -> bool:
    """An emoji or pictograph (skin tones, joiners and variation selectors are not counted)."""
    code = ord(char)
    return (
        0x1F300 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0x1F000 <= code <= 0x1F2FF
        or code in (0x2B50, 0x2B55, 0x2764, 0x203C, 0x2049)
    ) and not (0x1F3FB <= code <= 0x1F3FF)


def count_emoji(text: str | None) -> int:
    """How many emoji a message contains."""
    return sum(1 for ch in text or "" if is_emoji(ch))


def is_arabizi_word(token: str) -> bool:
    """An Arabic word written in Latin letters (and digits)."""
    return token in ARABIZI_WORDS or (bool(_ARABIZI_DIGIT_WORD.match(token)) and not token.isdigit())


def detect_language(text: str | None) -> str:
    """`ar` (Arabic script), `arabizi` (Arabic in Latin letters), `en`, or `und` (no letters)."""
    text = text or ""
    arabic = len(ARABIC_LETTER.findall(text))
    latin = len(LATIN_LETTER.findall(text))
    if arabic == 0 and latin == 0:
        return "und"
    if arabic >= latin:
        return "ar"
    words = [t for t in tokens(normalise(text)) if LATIN_LETTER.search(t)]
    marked = sum(1 for t in words if is_arabizi_word(t))
    if words and (marked >= 2 or marked / len(words) >= 0.25):
        return "arabizi"
    return "en"
