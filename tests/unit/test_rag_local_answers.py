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


# Sources shaped like the ones ingestion produces: FAQ entries, policy clauses, menu lines, CSV rows.
COMPLAINTS_FAQ = "Q33. How do I make a complaint?\nEmail care@example.ae or speak to the manager on duty."
DELIVERY_TIME_FAQ = "Q8. How long does delivery take?\nUsually 35 to 50 minutes, longer in bad weather."
HOURS = "Opening hours: Monday to Thursday 11:00 AM to 11:30 PM; Friday to Sunday 8:30 AM to 1:00 AM."
TABLE_LIMIT = "On Friday and Saturday evenings tables are booked for 2 hours at a time."
BRANCH_ROW = (
    "name: Marina branch; area: Dubai Marina; address: Al Murjan Tower 3, Marina Walk; "
    "phone: +971 4 455 1020; opening_hours_weekend: Fri-Sun 12:00-02:00; parking: Paid; 3 hours free"
)
DEPOSIT_FAQ = "Q11. Do I need to pay a deposit?\nGroups of 8 or more pay a deposit of AED 50 per person."
GRILLS = (
    "Mixed Grill Platter for 4 - Tawook, kofta and lamb chops to share. AED 295\n"
    "Mixed Grill - Shish tawook, lamb kofta and lamb tikka for one. AED 89"
)
FRYER = "All fried items share the same fryer oil. Our kitchens handle nuts, so no dish is allergen-free."


def test_a_question_word_matches_other_forms_of_it_in_the_sources() -> None:
    extract = extract_answer("how do i complain about bad service", [hit(DELIVERY_TIME_FAQ), hit(COMPLAINTS_FAQ)])
    assert extract.text.startswith("Email care@example.ae")


def test_a_misspelt_question_word_matches_the_word_it_stands_for() -> None:
    menu = "Mansaf - Lamb in jameed yoghurt sauce on rice. Available Friday to Sunday only. AED 105"
    extract = extract_answer("is mansaf availble on tuesday?", [hit(menu), hit(PETS)])
    assert "Available Friday to Sunday only" in extract.text


def test_a_day_inside_a_range_of_days_finds_the_range() -> None:
    extract = extract_answer("are you open on saturday? what time", [hit(TABLE_LIMIT), hit(HOURS)])
    assert extract.text.startswith("Opening hours:")
    arabic = "ساعات العمل: من الاثنين إلى الخميس من 11:00 صباحًا، ومن الجمعة إلى الأحد من 8:30 صباحًا."
    assert "8:30" in extract_answer("ما هي ساعات العمل يوم السبت؟", [hit(PETS), hit(arabic)], "ar").text


def test_a_table_row_answers_with_the_fields_asked_about() -> None:
    extract = extract_answer("where is the marina branch exactly", [hit(BRANCH_ROW), hit(PETS)])
    assert extract.text.startswith("Marina branch - address: Al Murjan Tower 3, Marina Walk.")
    assert "Paid; 3 hours free" not in extract.text


def test_the_sentence_giving_the_kind_of_answer_asked_for_comes_first() -> None:
    zones = "Delivery zones: we deliver from the Abu Dhabi branch within a radius of 7 km."
    emirates = "We deliver in Dubai and Abu Dhabi only, from the branch nearest to you."
    extract = extract_answer("how far do you deliver from the abu dhabi branch", [hit(emirates), hit(zones)])
    assert extract.text.startswith("Delivery zones:") and "7 km" in extract.text


def test_a_second_sentence_joins_when_it_gives_the_kind_of_answer_still_missing() -> None:
    areas = "Al Reem Island and the Corniche are served by our Abu Dhabi branch."
    fees = "Delivery fee: AED 7 within 3 km of a branch, AED 12 beyond."
    question = "we just moved to al reem island, which of your branches covers us and whats the fee"
    extract = extract_answer(question, [hit(areas), hit(PETS), hit(fees), hit(PAYMENTS)])
    assert extract.text == f"{areas} {fees}"


def test_an_faq_entry_whose_question_the_customer_asks_answers_a_long_question() -> None:
    question = "we r 10 people for friday dinner, do we need to pay deposit?"
    extract = extract_answer(question, [hit(DEPOSIT_FAQ), hit(HOURS)])
    assert extract.text == "Groups of 8 or more pay a deposit of AED 50 per person."


def test_the_menu_line_of_the_dish_named_comes_before_dishes_that_mention_it() -> None:
    extract = extract_answer("whats in the mixed grill exactly", [hit(GRILLS, "CHARCOAL GRILLS")])
    assert extract.text.startswith("Mixed Grill - Shish tawook, lamb kofta and lamb tikka")


def test_a_repeated_word_the_sources_never_use_gets_no_answer() -> None:
    question = "what oil do u fry in? peanut oil? my son has peanut allergy"
    assert extract_answer(question, [hit(FRYER), hit(PETS)]).text == ""
    assert extract_answer("what oil do u fry in? my son has a nut allergy", [hit(FRYER), hit(PETS)]).text


def test_a_clause_title_and_the_overlap_a_chunk_repeats_are_not_said_alone() -> None:
    clause = (
        "we never refund in cash.\n3.2 Refund timing. Refunds to a card appear within 5 to 7 working days, depending "
        "on your bank and on the card scheme, and a confirmation is sent by e-mail once the refund is issued. "
        "Cash-on-delivery orders are refunded by bank transfer or as store credit, whichever you choose, also "
        "within the same period."
    )
    extract = extract_answer(
        "how long does a refund to my card take", [hit("3. REFUND POLICY\n" + clause, "3. REFUND POLICY")]
    )
    assert extract.text.startswith("3.2 Refund timing. Refunds to a card appear within 5 to 7 working days")
    assert "never refund in cash" not in extract.text


def test_a_partial_match_is_trusted_less_in_a_chunk_retrieval_ranked_low() -> None:
    vouchers = hit("Gift vouchers can be bought at any branch.")
    others = [hit(f"Our terrace number {i} has outdoor seating and free parking.") for i in range(11)]
    question = "do you sell gift vouchers for weddings abroad"
    assert extract_answer(question, [vouchers, *others]).text == "Gift vouchers can be bought at any branch."
    assert extract_answer(question, [*others, vouchers]).text == ""
