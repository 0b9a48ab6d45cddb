"""Language, intents and follow-up rewriting: small deterministic rules, no model needed."""

from __future__ import annotations

import re
from collections.abc import Sequence

from wafaa.common.providers.embeddings import normalise_text

_ARABIC = re.compile(r"[\u0600-\u06ff]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"\w+", re.UNICODE)


def detect_language(text: str) -> str:
    """`ar` when the message is mostly Arabic script, else `en`."""
    arabic = len(_ARABIC.findall(text))
    latin = len(_LATIN.findall(text))
    return "ar" if arabic and arabic >= latin else "en"


_HANDOFF = [
    r"\b(talk|speak|chat)\s+(to|with)\s+(a\s+|an\s+|the\s+|some\s*one|somebody|your\s+)?"
    r"(human|person|real person|agent|staff|manager|someone|somebody|representative|employee|operator)",
    r"\b(human|real person|live agent|customer service|representative)\b.*\b(please|pls|plz)\b",
    r"^\s*(human|agent|person|representative|operator)\s*[.!]*\s*$",
    r"\b(connect|transfer|put)\s+me\s+(to|with|through)\b",
    r"\bi\s+(want|need|would like)\s+(a\s+|an\s+)?(human|person|agent|manager|real person)\b",
    r"(التحدث|اتحدث|أتحدث|احكي|أحكي|اكلم|أكلم|تكلم|التكلم|كلم)\s+(مع\s+)?(موظف|شخص|انسان|إنسان|مدير|أحد|احد|خدمة)",
    r"(اريد|أريد|ابغى|أبغى|ابي|أبي|بدي)\s+(موظف|شخص|انسان|إنسان|مدير)",
    r"^\s*(موظف|انسان|إنسان)\s*$",
]
_HANDOFF_RE = [re.compile(p, re.IGNORECASE) for p in _HANDOFF]

_COMPLAINT = re.compile(
    r"\b(complain|complaint|terrible|disgusting|awful|worst|horrible|unacceptable|rude|food poisoning|"
    r"never again|refund me|cold food|late again|angry|furious)\b|(شكوى|اشتكي|أشتكي|سيء|سيئ|زفت|مقرف|تسمم|غاضب)",
    re.IGNORECASE,
)


def asks_for_human(text: str) -> bool:
    """The customer asks to talk to a person (English or Arabic)."""
    return any(p.search(text) for p in _HANDOFF_RE)


def is_complaint(text: str) -> bool:
    """The message reads as a complaint."""
    return bool(_COMPLAINT.search(text))


_FOLLOW_UP = re.compile(
    r"^\s*(and|what about|how about|also|or|but|then|same for|what if)\b|^\s*(و|طيب|وماذا|ماذا عن|وكم|وهل|ويوم|وفي)",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(it|its|it's|that|those|them|they|there|this one|same)\b", re.IGNORECASE)


def rewrite_follow_up(question: str, previous_questions: Sequence[str]) -> str:
    """A standalone question: a short follow-up ("and on Fridays?") is joined to the previous question."""
    if not previous_questions:
        return question
    words = _WORD.findall(question)
    short = len(words) <= 6
    if _FOLLOW_UP.search(question) or (short and _PRONOUN.search(question)) or len(words) <= 3:
        return f"{previous_questions[-1]} {question}"
    return question


def tokens(text: str) -> list[str]:
    """Normalised word tokens."""
    return _WORD.findall(normalise_text(text))
