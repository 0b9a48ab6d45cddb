"""The local grounded answerer: composes the reply from the best-matching sentences of the sources.

No network and no model: the retrieved chunks are cut into answer units (a line, a sentence, or a
question with its answer), each unit is scored by the inverse-document-frequency weight of the
question's words it contains (plus a share of its chunk's score and the retrieval rank), and the
best units in the customer's language make the reply. When the best unit covers too little of the
question, or an either-or question gets sentences naming none of its options, the answerer says it
doesn't know instead of guessing. (The turn first checks that the sources speak about the question's
subject at all: support.py.)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from wafaa.common.knowledge.search import KnowledgeHit
from wafaa.common.providers.embeddings import normalise_text
from wafaa.rag.answers.language import detect_language

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?؟])\s+")
_QUESTION_LINE = re.compile(r"(\?|؟)\s*$|^\s*(q\d*[.:)]|س\d*[.:)]|question\b)", re.IGNORECASE)
_ANSWER_PREFIX = re.compile(r"^\s*(a\d*[.:)]|ج\d*[.:)]|answer\s*:)\s*", re.IGNORECASE)
_ARABIC = re.compile(r"[\u0600-\u06ff]")

STOPWORDS = frozenset(
    normalise_text(w)
    for w in """a an the is are was were be been am do does did can could will would shall should may might must
    i me my we our you your u ur r he she it its they them their this that these those there here what which
    who whom whose
    when where why how hi hello hey pls plz please thanks thank ok okay of in on at to for from by with about as
    into and or but if so not no yes any some all have has had get got want need know tell much many also just
    like there's what's whats wat wht im i'm dont don't do u ya ye yall guys
    هل ما ماذا متى أين اين كيف كم من في على الى إلى عن مع هذا هذه ذلك تلك انا أنا نحن انت أنت هو هي لي لكم لديكم
    عندكم عندك يوجد و او أو ثم لو اذا إذا ان أن لا نعم شكرا مرحبا السلام عليكم الله يا بكم""".split()  # noqa: SIM905
)

# Days map to the weekday / weekend words used in opening-hours tables.
EXPANSIONS = {
    "monday": ["weekday", "mon"],
    "tuesday": ["weekday", "tue"],
    "wednesday": ["weekday", "wed"],
    "thursday": ["weekday", "thu"],
    "friday": ["weekend", "fri"],
    "saturday": ["weekend", "sat"],
    "sunday": ["weekend", "sun"],
    "weekend": ["fri", "sat", "sun"],
    "open": ["opening", "hours"],
    "close": ["closing", "hours", "closes"],
    "closes": ["closing", "hours"],
    "cost": ["price", "aed", "fee"],
    "price": ["aed"],
    "delivery": ["deliver", "delivers"],
    "الجمعة": ["weekend"],
    "السبت": ["weekend"],
    "الاحد": ["weekend"],
}


# Arabic attaches the article and the conjunctions/prepositions و ف ب ل ك to the word, and
# inflects with suffixes (plural, feminine, adjectival ية, accusative ا): "مجانا", "مجاني" and
# "المجانية" are one word for matching. Longest first; a stem keeps at least three letters.
_ARABIC_PREFIXES = ("وبال", "وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل")
_ARABIC_SUFFIXES = ("يات", "ات", "ون", "ين", "يه", "ها", "ه", "ي", "ا")
_ARABIC_MIN_STEM = 3


def strip_arabic_prefix(word: str) -> str:
    """The word without its attached article or conjunction ("والتوصيل" -> "توصيل")."""
    for prefix in _ARABIC_PREFIXES:
        # A single-letter prefix is only stripped from a long word: "ورق" (leaves) is not "و" + "رق".
        if word.startswith(prefix) and len(word) - len(prefix) >= _ARABIC_MIN_STEM + (len(prefix) == 1):
            return word[len(prefix) :]
    return word


def _arabic_stem(word: str) -> str:
    word = strip_arabic_prefix(word)
    for suffix in _ARABIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _ARABIC_MIN_STEM:
            return word[: -len(suffix)]
    return word


def stem(word: str) -> str:
    """A light stem of a normalised word: English plural/verb endings, Arabic attached prefixes and suffixes."""
    if _ARABIC.search(word):
        return _arabic_stem(word)
    for suffix in ("ing", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> list[str]:
    """Stemmed content words (stopwords dropped)."""
    words = _WORD.findall(normalise_text(text).replace("_", " "))
    return [stem(w) for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def question_groups(text: str) -> list[frozenset[str]]:
    """One group per content word of the question: the word and its expansions are alternatives,
    so a unit that says "Friday" or "weekend" covers the same need once."""
    groups: list[frozenset[str]] = []
    for word in _WORD.findall(normalise_text(text)):
        if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        group = frozenset({stem(word)} | {stem(x) for x in EXPANSIONS.get(word, [])})
        if group not in groups:
            groups.append(group)
    return groups


@dataclass
class Unit:
    """A piece of a chunk that can be said as (part of) an answer."""

    display: str
    terms: set[str]
    hit_index: int
    arabic: bool


_RECORD_LINE = re.compile(r"^(?P<record>[\w ]+\[\d+\])\.(?P<field>[\w.\[\]]+):\s*(?P<value>.*)$")
_SKIPPED_FIELDS = ("id", "status", "valid_from", "valid_to", "last_updated")


def _records(lines: list[str]) -> list[str]:
    """Lines of one flattened JSON record (`promotions[2].name: …`) become one readable line."""
    out: list[str] = []
    current: str | None = None
    fields: list[tuple[str, str]] = []

    def flush() -> None:
        if current is None:
            return
        values = dict(fields)
        name = values.get("name") or values.get("title") or ""
        described = values.get("description", "")
        extras = []
        for field, value in fields:
            base = field.split("[", 1)[0]
            if base in ("name", "title", "description") or base in _SKIPPED_FIELDS or value in described:
                continue
            extras.append(f"{base.replace('_', ' ')}: {value}")
        head = f"{name}: {described}" if name and described else (name or described)
        out.append(" ".join(x for x in [head.strip(), ("(" + "; ".join(extras) + ")") if extras else ""] if x))

    for line in lines:
        match = _RECORD_LINE.match(line)
        if match and match["record"] == current:
            fields.append((match["field"], match["value"]))
            continue
        flush()
        current, fields = None, []
        if match:
            current, fields = match["record"], [(match["field"], match["value"])]
        else:
            out.append(line)
    flush()
    return out


def _units(hit: KnowledgeHit, index: int) -> list[Unit]:
    lines = _records([ln.strip() for ln in hit.text.splitlines() if ln.strip()])
    pieces: list[tuple[str, str]] = []  # (display, match text)
    i = 0
    head = lines[0] if lines else ""
    structured = sum(1 for ln in lines if re.match(r"^[\w ]{2,40}:\s", ln)) >= max(3, len(lines) // 2)
    while i < len(lines):
        line = lines[i]
        if _QUESTION_LINE.search(line) and i + 1 < len(lines):
            answer = _ANSWER_PREFIX.sub("", lines[i + 1])
            pieces.append((answer, line + " " + answer))
            i += 2
            continue
        text = _ANSWER_PREFIX.sub("", line)
        if structured and line != head:
            pieces.append((f"{head.split(':', 1)[-1].strip()}: {text}", head + " " + text))
        elif len(text) > 260:
            for sentence in _SENTENCE.split(text):
                if sentence.strip():
                    pieces.append((sentence.strip(), sentence))
        else:
            pieces.append((text, text))
        i += 1
    section = str(hit.location.get("section") or "")
    return [
        Unit(display, set(content_terms(match + " " + section)), index, bool(_ARABIC.search(display)))
        for display, match in pieces
        if len(display) > 1
    ]


def _group_weights(groups: list[frozenset[str]], idf: dict[str, float], df: dict[str, int]) -> list[float]:
    """Each question word's weight: its rarity in the sources; a word no source uses weighs like the
    median word, because the turn's support check (support.py) already judged whether it matters."""
    weight = [max(idf[t] for t in g) for g in groups]
    present = [any(df.get(t, 0) for t in g) for g in groups]
    known = sorted(w for w, p in zip(weight, present, strict=True) if p)
    if not known:
        return weight
    median = known[len(known) // 2]
    return [w if p else median for w, p in zip(weight, present, strict=True)]


_OR = frozenset({"or", "او"})  # normalised: أو folds to او


def alternatives(question: str) -> list[set[str]]:
    """The options of an either-or question ("canned chickpeas or fresh"): the stems of the content
    words right before and right after each "or", up to a stopword."""
    words = _WORD.findall(normalise_text(question))
    options: list[set[str]] = []
    for i, word in enumerate(words):
        if word not in _OR:
            continue
        for side in (reversed(words[:i]), words[i + 1 :]):
            run: set[str] = set()
            for w in side:
                if w in STOPWORDS or w in _OR:
                    break
                run.add(stem(w))
            if run:
                options.append(run)
    return options


def names_an_option(question: str, units: list[Unit]) -> bool:
    """An either-or question is answered only by sentences that name one of its options in full;
    otherwise they are about the subject but not about the choice (and the reply would be a guess)."""
    options = alternatives(question)
    if not options:
        return True
    said = set().union(*(u.terms for u in units))
    return any(option <= said for option in options)


@dataclass(frozen=True)
class Extract:
    """The composed reply and the chunks it came from; `text` is empty when nothing matched enough."""

    text: str
    hit_indexes: list[int]
    coverage: float


def extract_answer(
    question: str, hits: list[KnowledgeHit], language: str | None = None, min_coverage: float = 0.34
) -> Extract:
    """The best-matching units of the sources, in the customer's language, or an empty extract."""
    groups = question_groups(question)
    q_terms: set[str] = set().union(*groups) if groups else set()
    if not q_terms or not hits:
        return Extract("", [], 0.0)
    language = language or detect_language(question)
    units = [u for index, hit in enumerate(hits) for u in _units(hit, index)]
    if not units:
        return Extract("", [], 0.0)
    df: dict[str, int] = {}
    for u in units:
        for t in u.terms & q_terms:
            df[t] = df.get(t, 0) + 1
    n = len(units)
    idf = {t: math.log(1 + n / (1 + df.get(t, 0))) for t in q_terms}
    weight = _group_weights(groups, idf, df)
    total = sum(weight) or 1.0
    chunk_terms = [set(content_terms(h.text + " " + h.title)) for h in hits]

    def score(u: Unit) -> tuple[float, float]:
        own = sum(w for g, w in zip(groups, weight, strict=True) if g & u.terms)
        in_chunk = chunk_terms[u.hit_index]
        context = sum(w for g, w in zip(groups, weight, strict=True) if g & in_chunk and not g & u.terms)
        cov = (own + 0.5 * context) / total
        return cov + 0.3 * own / total - 0.01 * u.hit_index, cov

    scored = sorted(((score(u), u) for u in units), key=lambda x: -x[0][0])
    want_arabic = language == "ar"
    preferred = [(s, u) for s, u in scored if u.arabic == want_arabic]
    if preferred and preferred[0][0][0] >= 0.6 * scored[0][0][0]:
        scored = preferred
    (best_rank, best_cov), best = scored[0]
    if best_cov < min_coverage:
        return Extract("", [], best_cov)
    chosen = [best]
    length = len(best.display)
    for (rank, cov), unit in scored[1:6]:
        if len(chosen) >= 3 or length + len(unit.display) > 480:
            break
        if rank >= 0.75 * best_rank and cov >= min_coverage and unit.display not in {c.display for c in chosen}:
            chosen.append(unit)
            length += len(unit.display)
    if not names_an_option(question, chosen):
        return Extract("", [], best_cov)
    text = " ".join(c.display.rstrip() if c.display.rstrip()[-1:] in ".!?؟" else c.display + "." for c in chosen)
    indexes = sorted({c.hit_index for c in chosen})
    return Extract(text, indexes, best_cov)
