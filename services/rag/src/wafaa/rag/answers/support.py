"""Does the knowledge speak about what the customer asks? Checks the local answerer relies on.

An extractive answerer always finds *some* sentence sharing words with the question, so "is there a
Valentine's menu" would be answered with the Ramadan set menu. Two defences, both language-neutral:

- the full-text side of retrieval searches the question's informative words only (stopwords match
  every chunk and drown the rare word that matters), with the attached-prefix forms of Arabic words;
- a question word the retrieved sources never use, neither literally (same stem) nor by a close word
  ("dog" ~ "pets", "wine" ~ "alcohol"), and that carries the question's meaning (dropping it moves
  the question's embedding), is a subject the knowledge does not cover: the reply is the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence

import numpy as np

from wafaa.common.knowledge.search import KnowledgeHit
from wafaa.common.providers.embeddings import normalise_text
from wafaa.rag.answers.local import STOPWORDS, stem, strip_arabic_prefix

Embed = Callable[[Sequence[str]], Awaitable[list[list[float]]]]

# Dropping the word moves the question's embedding at least this far (1 - cosine): it is what is
# asked about ("calories" in "how many calories in the shish tawook"), not a detail ("my daughter").
CENTRAL_WORD_SHIFT = 0.2
# A source word at least this similar stands for the question word (dog ~ pet 0.76, till ~ until
# 0.89); unrelated neighbours stay below it (bitcoin ~ cash 0.47, riyadh ~ abu dhabi 0.48).
SUPPORTING_SIMILARITY = 0.65
# Shorter question words are chat noise or abbreviations ("u", "ok", "el"); they are not judged.
MIN_JUDGED_LENGTH = 3
# Words sharing this many leading letters are one word for support (deliver / delivery, halal / halali).
SHARED_PREFIX = 4
# Word vectors kept per process; a tenant's vocabulary repeats from turn to turn.
WORD_CACHE_SIZE = 50_000

_WORD = re.compile(r"\w+", re.UNICODE)
_ARABIC = re.compile(r"[\u0600-\u06ff]")


def informative_words(text: str) -> list[str]:
    """The question's words that are not stopwords, as written (the full-text index folds nothing Arabic)."""
    seen: set[str] = set()
    words: list[str] = []
    for word in _WORD.findall(text.replace("_", " ")):
        folded = normalise_text(word)
        if folded in STOPWORDS or (len(folded) < 2 and not folded.isdigit()) or folded in seen:
            continue
        seen.add(folded)
        words.append(word)
    return words


def _arabic_forms(word: str) -> list[str]:
    """The word without its attached prefix and with the article: the forms a document may use."""
    bare = strip_arabic_prefix(word)
    return [word, bare, "ال" + bare]


def search_text(question: str) -> str:
    """The text the full-text side of retrieval searches: informative words, Arabic in its attached forms."""
    forms: list[str] = []
    for word in informative_words(question):
        for form in _arabic_forms(word) if _ARABIC.search(word) else [word]:
            if form not in forms:
                forms.append(form)
    return " ".join(forms) or question


def _source_words(hits: Iterable[KnowledgeHit]) -> set[str]:
    words: set[str] = set()
    for hit in hits:
        text = f"{hit.title} {hit.location.get('section') or ''} {hit.text}".replace("_", " ")
        words.update(w for w in _WORD.findall(normalise_text(text)) if w not in STOPWORDS and not w.isdigit())
    return words


def _lexically_supported(word: str, source_stems: set[str]) -> bool:
    """The same stem, or a shared beginning of SHARED_PREFIX letters (inflections the stemmer misses)."""
    root = stem(word)
    if root in source_stems:
        return True
    if len(root) < SHARED_PREFIX:
        return False
    return any(len(s) >= SHARED_PREFIX and (s.startswith(root) or root.startswith(s)) for s in source_stems)


def _cosines(target: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """Cosine of `target` with each of `others` of the same size, in one matrix product (0 for a zero vector)."""
    same = [v for v in others if v.shape == target.shape]
    if not same:
        return np.zeros(0)
    matrix = np.stack(same)
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(target)
    dots = matrix @ target
    cosines: np.ndarray = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    return cosines


class SupportChecker:
    """Finds the central question words the retrieved sources do not cover; one per process."""

    def __init__(self, embed: Embed, cache_size: int = WORD_CACHE_SIZE) -> None:
        self._embed = embed
        self._cache: dict[str, np.ndarray] = {}
        self._cache_size = cache_size

    async def unsupported_words(self, question: str, hits: list[KnowledgeHit]) -> list[str]:
        """Question words that are central to it and that nothing in the sources stands for."""
        if not hits:
            return []
        sources = _source_words(hits)
        source_stems = {stem(w) for w in sources}
        candidates = [
            w
            for w in (normalise_text(x) for x in informative_words(question))
            if len(w) >= MIN_JUDGED_LENGTH and not any(c.isdigit() for c in w)
        ]
        absent = [w for w in candidates if not _lexically_supported(w, source_stems)]
        if not absent:
            return []
        central = await self._central(question, absent)
        if not central:
            return []
        return [w for w in central if not await self._has_close_word(w, sources)]

    async def _central(self, question: str, words: list[str]) -> list[str]:
        """The words whose removal changes what the question means (its embedding shifts)."""
        text = normalise_text(question)
        without = [re.sub(rf"(?<!\w){re.escape(w)}(?!\w)", " ", text) for w in words]
        whole, *rest = (np.asarray(v, dtype=np.float64) for v in await self._embed([text, *without]))
        return [
            w
            for w, v in zip(words, rest, strict=True)
            if v.shape == whole.shape and 1 - float(_cosines(whole, [v])[0]) >= CENTRAL_WORD_SHIFT
        ]

    async def _has_close_word(self, word: str, sources: set[str]) -> bool:
        vectors = await self._vectors([word, *sorted(sources)])
        target = vectors.pop(word, None)
        if target is None or not target.size:
            return True  # no vector, no judgement: let the answerer decide
        return bool((_cosines(target, list(vectors.values())) >= SUPPORTING_SIMILARITY).any())

    async def _vectors(self, words: list[str]) -> dict[str, np.ndarray]:
        """Word vectors as arrays (the tenant's source words repeat: cached per process)."""
        missing = [w for w in words if w not in self._cache]
        if missing:
            if len(self._cache) + len(missing) > self._cache_size:
                self._cache.clear()
            embedded = await self._embed(missing)
            self._cache.update((w, np.asarray(v, dtype=np.float64)) for w, v in zip(missing, embedded, strict=True))
        return {w: self._cache[w] for w in words if w in self._cache}
