"""The local answerer on a tiny knowledge set: it answers what the sources say and falls back on the rest."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence

from wafaa.common.knowledge.search import KnowledgeHit
from wafaa.rag.answers.local import STOPWORDS, content_terms, extract_answer, stem
from wafaa.rag.answers.support import SupportChecker, search_text

PAYMENTS = "We accept cash, Visa, Mastercard and Apple Pay. For delivery you can pay by a card link."
PETS = "Pets are allowed only on the outdoor terrace of our Marina branch."
HUMMUS = "Hummus Beiruti - Chickpea puree with tahini, lemon and garlic. AED 32."
DELIVERY_AR = "رسوم التوصيل 7 دراهم. التوصيل مجاني للطلبات التي تزيد قيمتها على 150 درهمًا."

# A stand-in for the sentence encoder: words of one concept share a direction, every other content
# word has its own, and a text is the normalised sum of its content words.
CONCEPTS = {"dog": "pet", "pet": "pet", "pets": "pet", "bring": "allow", "allowed": "allow"}


class ConceptEmbedder:
    """Deterministic embeddings where "dog" is close to "pets" and "bitcoin" to nothing."""

    def __init__(self) -> None:
        self.axes: dict[str, int] = {}

    def _axis(self, word: str) -> int:
        return self.axes.setdefault(CONCEPTS.get(word, word), len(self.axes))

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        rows = [[self._axis(w) for w in re.findall(r"\w+", t.lower()) if w not in STOPWORDS] for t in texts]
        width = 4096
        out = []
        for axes in rows:
            vector = [0.0] * width
            for axis in axes:
                vector[axis % width] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            out.append([v / norm for v in vector])
        return out


def hit(text: str, section: str = "") -> KnowledgeHit:
    return KnowledgeHit(uuid.uuid4(), uuid.uuid4(), "faq.txt", text, {"section": section}, 0.03, 0.5, 0.5)


async def unsupported(question: str, *texts: str) -> list[str]:
    return await SupportChecker(ConceptEmbedder().embed).unsupported_words(question, [hit(t) for t in texts])


async def test_a_question_about_a_payment_method_the_sources_never_name_is_not_covered() -> None:
    assert await unsupported("can i pay with bitcoin", PAYMENTS, PETS) == ["bitcoin"]


async def test_a_paraphrase_whose_word_has_a_close_word_in_the_sources_is_covered() -> None:
    assert await unsupported("can i bring my dog", PAYMENTS, PETS) == []


async def test_inflections_and_arabic_prefixes_count_as_the_same_word() -> None:
    assert await unsupported("do you accept visas for deliveries?", PAYMENTS) == []
    assert await unsupported("متى يكون التوصيل مجانا", DELIVERY_AR) == []


async def test_no_sources_leave_the_decision_to_the_answerer() -> None:
    assert await SupportChecker(ConceptEmbedder().embed).unsupported_words("can i pay with bitcoin", []) == []


def test_a_paraphrased_answerable_question_gets_the_sentence_that_answers_it() -> None:
    extract = extract_answer("how much does the hummus cost?", [hit(PAYMENTS), hit(HUMMUS)], "en")
    assert "AED 32" in extract.text and extract.hit_indexes == [1]


def test_an_either_or_question_the_sources_cannot_decide_gets_no_answer() -> None:
    extract = extract_answer("is the hummus made from canned chickpeas or fresh", [hit(HUMMUS), hit(PETS)], "en")
    assert extract.text == ""


def test_an_either_or_question_naming_what_the_sources_say_is_answered() -> None:
    extract = extract_answer("is the hummus made with tahini or yoghurt", [hit(HUMMUS), hit(PETS)], "en")
    assert "tahini" in extract.text


def test_an_arabic_question_is_answered_from_differently_written_arabic() -> None:
    # أ/ا, ة/ه, diacritics and the attached article and conjunctions differ between question and source.
    extract = extract_answer("متى يكون التوصيل مجانا؟", [hit(PETS), hit(DELIVERY_AR)], "ar")
    assert "150" in extract.text


def test_arabic_words_with_the_article_prefixes_and_suffixes_share_a_stem() -> None:
    assert stem("والتوصيل") == stem("التوصيل") == stem("توصيل")
    assert stem("مجانا") == stem("مجاني")
    assert content_terms("المشروبات الكحولية") == content_terms("مشروبات كحوليّة")
    assert stem("ورق") == "ورق"  # too short to carry the conjunction و


def test_the_full_text_query_keeps_the_informative_words_and_the_arabic_article_forms() -> None:
    assert search_text("is the summer mezze deal still on?") == "summer mezze deal still"
    assert search_text("هل تقدمون مشروبات كحولية؟").split() == [
        "تقدمون",
        "التقدمون",
        "مشروبات",
        "المشروبات",
        "كحولية",
        "الكحولية",
    ]
    assert search_text("what is it?") == "what is it?"  # only stopwords: search the question as asked
