"""The local grounded answerer: composes the reply from the best-matching sentences of the sources.

No network and no model: the retrieved chunks are cut into answer units (a line, a sentence, a
question with its answer, a field of a table row; the titles and the overlap a chunk repeats are
not units), each unit is scored by the rarity weight of the question's words it contains (in any
form: deliver / delivery, complain / complaint, a typo; a day inside a range of days), plus a share
of its chunk's, and trusted less the lower retrieval ranked its chunk. A unit that gives the kind of
answer asked for (a duration for "how long", an address for "where") or that is the entry of what
the customer names ranks higher; the best units in the customer's language make the reply, joined
by one that gives a kind of answer still missing. When the best unit covers too little of the
question (unless it is the FAQ entry for it), the customer's repeated word is nowhere in the
sources, or an either-or question gets sentences naming none of its options, the answerer says it
doesn't know instead of guessing. (The turn first checks that the sources speak about the
question's subject at all: support.py.)
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from wafaa.common.knowledge.search import KnowledgeHit
from wafaa.common.providers.embeddings import normalise_text
from wafaa.rag.answers.language import detect_language

# Chunks come back turn after turn: their normalised text is kept (normalising is the costly part).
_normalise = functools.lru_cache(maxsize=4096)(normalise_text)

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?؟])\s+")
_QUESTION_LINE = re.compile(r"(\?|؟)\s*$|^\s*(q\d*[.:)]|س\d*[.:)]|question\b)", re.IGNORECASE)
_QUESTION_PREFIX = re.compile(r"^\s*(?:q\d*[.:)]|س\d*[.:)]|question\s*:?)\s*", re.IGNORECASE)
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

# Rarity weights are damped (idf ** IDF_POWER): the retrieved chunks are about the question's subject,
# so its words are common among them and the full weight would favour an incidental rare word.
IDF_POWER = 0.75
# A number in a question is a detail of the customer's case ("we are 10"), rarely what is asked.
NUMBER_WEIGHT = 0.5
# Coverage is trusted this much less for each place further down the retrieval ranking.
RANK_DISCOUNT = 0.02
# Added to a unit's rank when it gives the kind of answer asked for (a duration for "how long").
KIND_BONUS = 0.2
# Added when the unit is the entry of what the customer names ("Mixed Grill - ...").
NAME_BONUS = 0.2

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
    "price": ["aed", "cost"],
    "fee": ["cost", "price", "charge"],
    "charge": ["cost", "price", "fee"],
    "delivery": ["deliver", "delivers"],
    "الاثنين": ["weekday", "monday"],
    "الثلاثاء": ["weekday", "tuesday"],
    "الاربعاء": ["weekday", "wednesday"],
    "الخميس": ["weekday", "thursday"],
    "الجمعه": ["weekend", "friday"],
    "السبت": ["weekend", "saturday"],
    "الاحد": ["weekend", "sunday"],
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


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light stem of a normalised word: English plural/verb endings, Arabic attached prefixes and suffixes."""
    if _ARABIC.search(word):
        return _arabic_stem(word)
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Day names as written in English and Arabic (normalised: أ/إ -> ا, ة -> ه), each to its place in the week.
_DAY_INDEX = {
    **{day: i for i, day in enumerate(_WEEK)},
    **{day[:3]: i for i, day in enumerate(_WEEK)},
    "tues": 1,
    "thur": 3,
    "thurs": 3,
    **{day: i for i, day in enumerate(("الاثنين", "الثلاثاء", "الاربعاء", "الخميس", "الجمعه", "السبت", "الاحد"))},
}
_DAY = "|".join(sorted(map(re.escape, _DAY_INDEX), key=len, reverse=True))
_DAY_RANGE = re.compile(
    rf"(?<!\w)(?:[وفب]?)({_DAY})\s*(?:to|-|–|until|till|through|thru|الي|حتي)\s*(?:[وفب]?)({_DAY})(?!\w)"
)


def days_in_ranges(normalised: str) -> list[str]:
    """The days a range of days covers ("Fri-Sun", "Monday to Thursday", "من الجمعة إلى الأحد"), by
    their English names, so that a question about Saturday finds the line about Friday to Sunday."""
    days: list[str] = []
    for match in _DAY_RANGE.finditer(normalised):
        first, last = _DAY_INDEX[match[1]], _DAY_INDEX[match[2]]
        days += [_WEEK[(first + k) % 7] for k in range((last - first) % 7 + 1)]
    return days


def content_terms(text: str) -> list[str]:
    """Stemmed content words (stopwords dropped), with the days that ranges of days cover."""
    normalised = _normalise(text)
    words = _WORD.findall(normalised.replace("_", " "))
    return [stem(w) for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())] + days_in_ranges(normalised)


# What kind of answer a question asks for, and how a sentence that gives one looks: "how long"
# wants a duration, "how far" a distance, "where" an address. Patterns run on normalised text.
ANSWER_KINDS: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (  # a time of day
        re.compile(r"\b(?:what|which) time\b|\bwhen\b|\bhow (?:late|early)\b|\b(?:open|close)s?\b|متي|تفتح|فاتح|تغلق"),
        re.compile(r"\b\d{1,2}:\d\d\b|\b\d{1,2} ?(?:am|pm)\b|\bnoon\b|\bmidnight\b"),
    ),
    (  # a duration
        re.compile(r"\bhow long\b|كم (?:من )?(?:الوقت|يوم|ساعه|دقيقه)|\bمده\b"),
        re.compile(
            r"\b\d+ (?:(?:to|-) \d+ )?(?:working )?(?:minute|min|hour|hr|day|week|month|year)s?\b"
            r"|\d+ (?:دقيقه|دقائق|ساعه|ساعات|يوم|ايام|اسبوع|شهر|اشهر)"
        ),
    ),
    (  # a distance
        re.compile(r"\bhow far\b|\bdistance\b|\bradius\b|مسافه|يبعد"),
        re.compile(r"\d ?(?:km|kilometres?|kilometers?|miles?)\b|\bkm\b|كيلومتر"),
    ),
    (  # an amount of money
        re.compile(r"\bhow much\b|\b(?:price|cost|fee|charge|amount)s?\b|\bpay\b|سعر|بكم|رسوم|تكلفه"),
        re.compile(r"\b(?:aed|dhs?|dirhams?|usd)\b|درهم|دراهم|\$ ?\d"),
    ),
    (  # a phone number
        re.compile(r"\b(?:phone|number|call|whatsapp|contact|hotline)\b|رقم|هاتف|واتساب|اتصال|تواصل"),
        re.compile(r"\+?\d[\d ]{6,}\d"),
    ),
    (  # an e-mail address
        re.compile(r"\be-?mail\b|ايميل|بريد"),
        re.compile(r"\S@\w+\.\w"),
    ),
    (  # a place
        re.compile(r"\bwhere\b|\baddress\b|\blocation\b|وين|اين|عنوان|موقع"),
        re.compile(r"\baddress\b|\blocated\b|\blocation\b|عنوان|يقع"),
    ),
]
# Words that only say which kind of answer is wanted ("long" in "how long"), not what it is about.
_KIND_WORDS = re.compile(r"\b(?:how|what|which) (long|far|time|late|early|often)\b")


def answer_kinds(question: str) -> list[re.Pattern[str]]:
    """How the sentences that answer the question look (a duration, a distance, an address...)."""
    text = " ".join(_WORD.findall(_normalise(question)))
    return [said for asked, said in ANSWER_KINDS if asked.search(text)]


def _is_stopword(word: str) -> bool:
    """A stopword, also with an attached Arabic conjunction or preposition ("وكم", "وهل")."""
    return word in STOPWORDS or (word[:1] in ("و", "ف", "ب", "ل") and word[1:] in STOPWORDS)


def repeated_words(question: str) -> set[str]:
    """The stems of the content words the customer says more than once: what the question is about
    ("peanut oil? my son has a peanut allergy"). Sources that never use such a word cannot answer it,
    whatever else of the question they cover."""
    words = [stem(w) for w in _WORD.findall(_normalise(question)) if w.isalpha() and len(w) > 2 and not _is_stopword(w)]
    return {w for w in words if words.count(w) > 1}


def question_groups(text: str) -> list[frozenset[str]]:
    """One group per content word of the question: the word and its expansions are alternatives,
    so a unit that says "Friday" or "weekend" covers the same need once."""
    groups: list[frozenset[str]] = []
    words = _WORD.findall(_normalise(text))
    kind_words = {m.start(1) for m in _KIND_WORDS.finditer(" ".join(words))}
    position = 0
    for word in words:
        start, position = position, position + len(word) + 1
        if _is_stopword(word) or (len(word) < 2 and not word.isdigit()) or start in kind_words:
            continue
        group = frozenset({stem(word)} | {stem(x) for x in EXPANSIONS.get(word, [])})
        if group not in groups:
            groups.append(group)
    return groups


# Latin words are one word for matching when one is the other plus a short ending the stemmer
# leaves (complain / complaint, deliver / delivery, cancel / cancelled, pick / pickup).
_SHARED_STEM = 4
_MAX_ENDING = 3
_OTHER_ENDING = 2
# A question word the sources never use may be misspelt ("availble"): a source word one edit away
# (a letter added, dropped, changed or two swapped) stands for it when both are this long.
_MIN_TYPO_LENGTH = 5


def _one_edit_apart(a: str, b: str) -> bool:
    """Damerau distance exactly one between two different words."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:
        return True
    return i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]


class Vocabulary:
    """The words of the retrieved sources, indexed to find the forms of a question word."""

    def __init__(self, words: set[str]) -> None:
        self.words = words
        self._by_start: dict[str, list[str]] = {}
        for word in words:
            if len(word) >= _SHARED_STEM and not _ARABIC.search(word):
                self._by_start.setdefault(word[:_SHARED_STEM], []).append(word)

    def forms(self, term: str) -> set[str]:
        """The source words that are forms of a (stemmed) question word: the word itself, a word it
        begins or that begins it with a short ending, or, when the sources never use it, a word one
        typo away."""
        if _ARABIC.search(term) or term.isdigit() or len(term) < _SHARED_STEM:
            return {term}
        forms = {term}
        for word in self._by_start.get(term[:_SHARED_STEM], []):
            short, long_ = (term, word) if len(term) <= len(word) else (word, term)
            if len(long_) - len(short) > _MAX_ENDING:
                continue
            shared = next((i for i, (a, b) in enumerate(zip(short, long_, strict=False)) if a != b), len(short))
            # one begins the other (complain / complaint), or one stem with short endings (allergic / allergy)
            if shared == len(short) or (shared > _SHARED_STEM and len(long_) - shared <= _OTHER_ENDING):
                forms.add(word)
        if len(forms) == 1 and term not in self.words and len(term) >= _MIN_TYPO_LENGTH:
            forms.update(
                w for w in self.words if len(w) >= _MIN_TYPO_LENGTH and w[0] == term[0] and _one_edit_apart(term, w)
            )
        return forms


@dataclass
class Unit:
    """A piece of a chunk that can be said as (part of) an answer."""

    display: str
    terms: set[str]
    hit_index: int
    arabic: bool
    line: int = 0  # the line of the chunk it comes from: units of one line count once for rarity
    asked: tuple[frozenset[str], ...] = ()  # the words of the FAQ question it answers


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


_KEY_VALUE = re.compile(r"^[\w .\[\]-]{1,60}:\s")


def _body_lines(hit: KnowledgeHit) -> list[str]:
    """The chunk's lines without what only frames them: the section titles it repeats and the
    overlap carried from the previous chunk (the tail of a sentence it starts with)."""
    lines = [ln.strip() for ln in hit.text.splitlines() if ln.strip()]
    titles = {t.strip() for t in str(hit.location.get("section") or "").split(" > ") if t.strip()}
    body: list[str] = []
    carried = ""
    for i, line in enumerate(lines):
        if line in titles and not _QUESTION_LINE.search(line):
            continue
        if carried and line.startswith(carried):
            line = line[len(carried) :].strip()
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if following != line and following.startswith(line):
            carried = line  # the tail, once alone and again at the start of the next line
            continue
        if not body and line[:1].islower() and not _KEY_VALUE.match(line):
            # a sentence's tail: said in the previous chunk
            line = (_SENTENCE.split(line, maxsplit=1)[1:] or [""])[0].strip()
        if line:
            body.append(line)
    return body


# "Name - description" or "Name: description": an entry of a menu, a list or a record.
_ENTRY_HEAD = re.compile(r"^([^-–:;.()]{2,60}?)(?:\s[-–]\s|:\s)")
_FIELD = re.compile(r"^([\w .-]{1,40}):\s*(.*)$", re.DOTALL)
# A line of at least this many `key: value` fields separated by ";" is a table row (a CSV line).
_ROW_FIELDS = 4


def _row_fields(line: str) -> list[tuple[str, str]]:
    """A table row's (key, value) fields, the first naming the row; empty for any other line."""
    fields: list[tuple[str, str]] = []
    for part in line.split("; "):
        match = _FIELD.match(part.strip())
        if match:
            fields.append((match[1].replace("_", " ").strip(), match[2].strip()))
        elif fields:  # a value with a ";" of its own
            fields[-1] = (fields[-1][0], f"{fields[-1][1]}; {part.strip()}")
        else:
            return []
    return fields if len(fields) >= _ROW_FIELDS else []


# A "sentence" this short is a clause's title ("3.2 Refund timing."): it is said with the next one.
_TITLE_WORDS = 5


def _sentences(text: str) -> list[str]:
    """The sentences of a long line, a clause title joined to the sentence after it."""
    out: list[str] = []
    title = ""
    for sentence in (s.strip() for s in _SENTENCE.split(text)):
        if not sentence:
            continue
        if sum(not w.isdigit() for w in _WORD.findall(sentence)) <= _TITLE_WORDS:
            title = f"{title} {sentence}".strip()
            continue
        out.append(f"{title} {sentence}".strip())
        title = ""
    if title:
        out.append(title)
    return out


def _units(hit: KnowledgeHit, index: int) -> list[Unit]:
    lines = _records(_body_lines(hit))
    pieces: list[tuple[str, str, int]] = []  # (display, match text, line)
    asked: dict[int, tuple[frozenset[str], ...]] = {}  # line -> the FAQ question answered there
    i = 0
    head = lines[0] if lines else ""
    structured = sum(1 for ln in lines if re.match(r"^[\w ]{2,40}:\s", ln)) >= max(3, len(lines) // 2)
    while i < len(lines):
        line = lines[i]
        if _QUESTION_LINE.search(line) and i + 1 < len(lines):
            answer = _ANSWER_PREFIX.sub("", lines[i + 1])
            pieces.append((answer, line + " " + answer, i))
            asked[i] = tuple(question_groups(_QUESTION_PREFIX.sub("", line)))
            i += 2
            continue
        text = _ANSWER_PREFIX.sub("", line)
        fields = _row_fields(text)
        if fields:
            name = fields[0][1]
            pieces.extend((f"{name} - {key}: {value}", f"{name} {key} {value}", i) for key, value in fields[1:])
        elif structured and line != head:
            pieces.append((f"{head.split(':', 1)[-1].strip()}: {text}", head + " " + text, i))
        elif len(text) > 260:
            pieces.extend((sentence, sentence, i) for sentence in _sentences(text))
        else:
            pieces.append((text, text, i))
        i += 1
    return [
        Unit(display, set(content_terms(match)), index, bool(_ARABIC.search(display)), line, asked.get(line, ()))
        for display, match, line in pieces
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
    weight = [w if p else median for w, p in zip(weight, present, strict=True)]
    return [w * NUMBER_WEIGHT if all(t.isdigit() for t in g) else w for g, w in zip(groups, weight, strict=True)]


_OR = frozenset({"or", "او"})  # normalised: أو folds to او


def alternatives(question: str) -> list[set[str]]:
    """The options of an either-or question ("canned chickpeas or fresh"): the stems of the content
    words right before and right after each "or", up to a stopword."""
    words = _WORD.findall(_normalise(question))
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
class Scored:
    """A unit with how well it answers: `rank` orders the units, `relevance` (without the bonus of
    naming the asked item) decides which others join the best one, `coverage` whether to answer."""

    unit: Unit
    rank: float
    relevance: float
    coverage: float


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
    vocabulary = Vocabulary(set().union(*(u.terms for u in units)))
    if any(not vocabulary.forms(t) & vocabulary.words for t in repeated_words(question)):
        return Extract("", [], 0.0)
    groups = [frozenset().union(*(vocabulary.forms(t) for t in g)) for g in groups]
    q_terms = set().union(*groups)
    # Rarity counts the lines of the sources, so a table row split into its fields counts once.
    lines_with: dict[str, set[tuple[int, int]]] = {}
    for u in units:
        for t in u.terms & q_terms:
            lines_with.setdefault(t, set()).add((u.hit_index, u.line))
    df = {t: len(where) for t, where in lines_with.items()}
    n = len({(u.hit_index, u.line) for u in units})
    idf = {t: math.log(1 + n / (1 + df.get(t, 0))) ** IDF_POWER for t in q_terms}
    weight = _group_weights(groups, idf, df)
    total = sum(weight) or 1.0
    chunk_terms = [set(content_terms(f"{h.text} {h.title} {h.location.get('section') or ''}")) for h in hits]

    kinds = answer_kinds(question)

    def score(u: Unit) -> Scored:
        own = sum(w for g, w in zip(groups, weight, strict=True) if g & u.terms)
        in_chunk = chunk_terms[u.hit_index]
        context = sum(w for g, w in zip(groups, weight, strict=True) if g & in_chunk and not g & u.terms)
        # Coverage, trusted less in a chunk that retrieval ranked low.
        cov = (own + 0.5 * context) / total * (1 - RANK_DISCOUNT * u.hit_index)
        said = _normalise(u.display)
        relevance = cov + 0.3 * own / total + sum(KIND_BONUS for k in kinds if k.search(said))
        # A line that is the entry for what the customer names ("Mixed Grill - ...") defines it.
        head = _ENTRY_HEAD.match(u.display)
        named = head is not None and all(g & q_terms for g in question_groups(head[1]) or [frozenset()])
        # An FAQ entry whose question the customer asks (in more words) answers it, however much
        # else the customer says about their case.
        faq = len(u.asked) >= 2 and all(g & q_terms for g in u.asked)
        return Scored(u, relevance + NAME_BONUS * named, relevance, max(cov, min_coverage * faq))

    scored = sorted((score(u) for u in units), key=lambda s: -s.rank)
    want_arabic = language == "ar"
    preferred = [s for s in scored if s.unit.arabic == want_arabic]
    if preferred and preferred[0].rank >= 0.6 * scored[0].rank:
        scored = preferred
    best = scored[0]
    if best.coverage < min_coverage:
        return Extract("", [], best.coverage)
    chosen = [best.unit]
    length = len(best.unit.display)
    # The kinds of answer asked for that the reply does not give yet ("... and how much is it?").
    missing = [k for k in kinds if not k.search(_normalise(best.unit.display))]
    for other in scored[1:6]:
        unit = other.unit
        if len(chosen) >= 3:
            break
        if (
            length + len(unit.display) > 480
            or other.relevance < 0.75 * best.relevance
            or unit.display in {c.display for c in chosen}
        ):
            continue
        gives = [k for k in missing if k.search(_normalise(unit.display))]
        if other.coverage >= min_coverage or gives:
            chosen.append(unit)
            length += len(unit.display)
            missing = [k for k in missing if k not in gives]
    if not names_an_option(question, chosen):
        return Extract("", [], best.coverage)
    text = " ".join(c.display.rstrip() if c.display.rstrip()[-1:] in ".!?؟" else c.display + "." for c in chosen)
    indexes = sorted({c.hit_index for c in chosen})
    return Extract(text, indexes, best.coverage)
