"""Grouping unanswered questions: content words in one spelling, compared by overlap."""

from __future__ import annotations

from wafaa.analytics.insights.language import normalise, tokens

SIMILARITY = 0.5
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "am",
        "was",
        "were",
        "be",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "will",
        "should",
        "i",
        "you",
        "we",
        "they",
        "it",
        "my",
        "your",
        "our",
        "me",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "and",
        "or",
        "but",
        "if",
        "so",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "how",
        "any",
        "some",
        "please",
        "pls",
        "hi",
        "hello",
        "hey",
        "thanks",
        "ok",
        "have",
        "has",
        "had",
        "get",
        "got",
        "about",
        "there's",
        "what's",
        "is",
        "it",
        "هل",
        "في",
        "من",
        "على",
        "الى",
        "عن",
        "مع",
        "ما",
        "ماذا",
        "متي",
        "وين",
        "فين",
        "كيف",
        "شو",
        "ايش",
        "وش",
        "كم",
        "لو",
        "ممكن",
        "انا",
        "انتم",
        "انت",
        "هذا",
        "هذه",
        "هاد",
        "هذي",
        "عندكم",
        "فيه",
        "يا",
        "و",
        "او",
        "ثم",
        "لي",
        "لكم",
        "عليكم",
        "السلام",
        "مرحبا",
        "اهلا",
        "ابي",
        "ابغي",
        "بدي",
        "عايز",
        "اريد",
        "shu",
        "sho",
        "eish",
        "kam",
        "fi",
        "3andkom",
        "ana",
        "enta",
        "ya",
        "w",
        "el",
    ]
)
_PREFIXES = ("وال", "بال", "فال", "لل", "ال")


def _stem(token: str) -> str:
    for prefix in _PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 3:
            return token[len(prefix) :]
    if token.endswith("s") and len(token) > 4 and not token.endswith("ss"):
        return token[:-1]
    return token


def terms(text: str | None) -> list[str]:
    """The sorted distinct content words of a question (stop words, articles and plurals removed)."""
    found = {_stem(t) for t in tokens(normalise(text or "")) if t not in STOPWORDS and not t.isdigit()}
    return sorted(t for t in found if len(t) > 1)[:20]


def similarity(a: list[str] | set[str], b: list[str] | set[str]) -> float:
    """Jaccard overlap of two term sets."""
    left, right = set(a), set(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)
