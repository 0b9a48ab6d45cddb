"""Intent of a customer message: one table of regex rules, English, Arabic and Arabizi.

Rules are tried in table order and the first match wins, so the specific labels come first
(a complaint phrased as a question is a complaint; "hi, where is my order?" is an order inquiry)
and a greeting wins only when nothing else matched. Patterns run on `normalise()`d text: lower
case, one Arabic spelling (ا for أإآ, ه for ة, ي for ى), letters repeated for emphasis cut to one.
"""

from __future__ import annotations

import re

from wafaa.analytics.insights.language import normalise

INTENTS = ("greeting", "complaint", "feedback", "order_inquiry", "question", "other")

# (label, language, pattern) — Arabic patterns are written in normalised spelling.
RULES: tuple[tuple[str, str, str], ...] = (
    # complaint: something went wrong, or the customer is unhappy
    (
        "complaint",
        "en",
        r"\b(worst|terrible|horrible|awful|disgusting|unacceptable|ridiculous|rude|scam|"
        r"never again|thanks for nothing|never (came|arrived)|refund|money back|complain|complaint|"
        r"still (not|no|waiting|hasn'?t)|wrong (order|item|size)|"
        r"missing|forgot|cold|burnt|raw|stale|soggy|late|delayed|overcharged|charged twice|damaged|broken|"
        r"not working|doesn'?t work|disappointed|disappointing|waited|waiting for|nobody|no one (answers|replies)|"
        r"hours? (late|waiting|ago)|food poisoning|sick after|hair in|bug in|not happy|unhappy|fed up)\b",
    ),
    (
        "complaint",
        "ar",
        r"(سيء|سيي|زفت|خايس|مقرف|وحش|زباله|بايظ|متاخر|تاخير|تاخر|اتاخر|بارد|ناقص|غلط|"
        r"خربان|مكسور|تالف|محروق|ماصخ|ماسخ|فاشل|شكوي|اشتكي|مشكله|استرجاع|استرداد|رجعو ?فلوسي|"
        r"ما وصل|ماوصل|ما وصلني|ماوصلني|\bلسا\b|\bلسه\b|\bللحين\b|ما حد يرد|ماحد يرد|محد يرد|حسبي الله|نصب|"
        r"مو راضي|مش راضي|ما عجبني|ماعجبني|مو زين|مب زين|مش كويس|مش منيح|اسوا|اسوء|للاسف|ساعتين|"
        r"ساعه وانا|مهزله|كارثه|زعلان|معصب|مقهور|طفشت|خطا في)",
    ),
    (
        "complaint",
        "arabizi",
        r"\b(zift|khara|sayi2|sai2|wa7esh|we7esh|khayes|ma2ref|mit2akher|met2akher|"
        r"ta2kheer|t2akhar|ma wesel|mawesel|ma wasal|lessa|lissa|lesa|ghalat|naqes|na2es|kharban|za3lan|"
        r"fashel|mish kwayes|msh kwayes|mo zain|mish mnee7|aswa2|moshkela)\b",
    ),
    # order_inquiry: the state of an order, a delivery or a booking
    (
        "order_inquiry",
        "en",
        r"\b(my order|the order|order (number|no|#|id|status)|order ?#?\d{3,}|"
        r"where('?s| is) my|track(ing)?|delivery status|when will (it|my|the)|has (it|my order) (been )?"
        r"(shipped|dispatched)|shipped|dispatched|out for delivery|estimated (time|delivery)|eta|"
        r"cancel (my|the) order|change (my|the) order|my (booking|reservation|parcel|package|delivery))\b",
    ),
    (
        "order_inquiry",
        "ar",
        r"((^| )(ال|لل|بال)?طلب( |$)|طلبي|طلبيتي|الطلب|طلبيه|رقم الطلب|وين الطلب|متي يوصل|متي بيوصل|امتي يوصل|"
        r"امتي هيوصل|امتا يوصل|حاله الطلب|تتبع|الشحنه|شحنتي|التوصيل وين|الغاء الطلب|الغي الطلب|"
        r"تعديل الطلب|حجزي|الحجز تبعي|طردي)",
    ),
    (
        "order_inquiry",
        "arabizi",
        r"\b(talabi|tlabi|el ?talab|el ?order|order ?(ta3i|tab3i|ta3y)|"
        r"wen|wein|wain|fen) ?(el ?)?(order|talab|talabi)\b|\b(emta|imta|amta) (yousal|yewsal|yosal|yusal)",
    ),
    # feedback: praise, thanks, opinions and suggestions
    (
        "feedback",
        "en",
        r"\b(thank(s| you)|loved|love (it|the|your)|amazing|awesome|excellent|great "
        r"(food|service|job|experience|place)|delicious|tasty|perfect|fantastic|wonderful|best \w+ (ever|in)|"
        r"well done|keep it up|recommend|suggest(ion)?|you should (add|try|have|offer)|would be (nice|great)|"
        r"feedback|impressed|5 stars|five stars|kudos|appreciate)\b",
    ),
    (
        "feedback",
        "ar",
        r"(شكرا|مشكور|تسلم|يعطيكم العافيه|يعطيك العافيه|ما قصرت|ماقصرت|ممتاز|رائع|روعه|"
        r"لذيذ|خرافي|تحفه|يهبل|رهيب|زاكي|بجنن|يجنن|جامد|مبدع|ابدعت|حبيت|عجبني|عجبنا|انصح|اقتراح|"
        r"اقترح|ياريت لو|يا ريت لو|الله يوفقكم|الله يسعدكم|جزاكم الله|ما شاء الله|ماشاء الله|احسن مطعم|"
        r"افضل مطعم|تجربه حلوه|خدمه ممتازه)",
    ),
    (
        "feedback",
        "arabizi",
        r"\b(shukran|shokran|tislam\w*|teslam\w*|ya3tikom|ya3tik|7elw|helw|7ilo|zaki|lazeez|"
        r"mumtaz|momtaz|rawe3|ta7fa|gamed|bijanen|yehbal|3ajabni|3agabni|mashallah|masha2allah)\b",
    ),
    # question: asking for information
    (
        "question",
        "en",
        r"[?]|^(what|when|where|which|who|why|how|do|does|did|is|are|can|could|would|will|"
        r"should|may|any)\b|\b(do you (have|deliver|sell|offer|open|accept|take)|is there|are there|"
        r"can i|could i|how (much|many|long|do|can)|what time|opening hours|price of|available|menu|"
        r"wondering|i want to know|tell me)\b",
    ),
    (
        "question",
        "ar",
        r"[?؟]|(^| )(هل|متي|امتي|امتا|وين|فين|كيف|ازاي|شو|ايش|وش|شنو|كم|قديش|اديش|بكم|ليش|"
        r"ليه|مين|منو|فيه|في عندكم|عندكم|ممكن|تقدرون|يصير|اقدر|بدي اعرف|ابغي اعرف|ابي اعرف|عايز اعرف|"
        r"تفتحون|تسكرون|توصلون|بتوصلو|بتفتحو|الاسعار|السعر|المنيو|القائمه)( |$)",
    ),
    (
        "question",
        "arabizi",
        r"\b(shu|sho|shou|eish|esh|wesh|shlon|kam|addesh|adesh|2adesh|b2adesh|bkam|"
        r"emta|imta|amta|wen|wein|wain|fen|kif|keef|ezay|leh|lesh|leish|mumkin|momken|fi 3andkom|"
        r"3andkom|3ndkom|andkom|btiftaho|bitsakro|btwasslo|bitwaslo|ta2dar|a2dar)\b",
    ),
    # greeting: only when nothing more specific matched
    ("greeting", "en", r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening)|greetings|yo|salam)\b"),
    (
        "greeting",
        "ar",
        r"(^| )(السلام عليكم|سلام عليكم|مرحبا|مرحبتين|اهلا|هلا|هلا والله|صباح الخير|"
        r"مساء الخير|صباح النور|مسا الخير|هاي|السلام|اهلين|يا هلا|هلا)( |$)",
    ),
    (
        "greeting",
        "arabizi",
        r"\b(salam|salamo 3aleykom|assalamu alaikum|marhaba|mar7aba|ahlan|hala|"
        r"sabah el ?5eir|saba7 el ?5er|sabah el kheir|masa el ?5eir|masa2 el ?5er|hala wallah|kifak|kifik|"
        r"keefak|shlonak|shlonkum)\b",
    ),
)

_COMPILED = tuple((label, re.compile(pattern)) for label, _, pattern in RULES)


def classify(text: str | None) -> str:
    """The first rule in table order that matches the message, or `other`."""
    norm = normalise(text or "")
    if not norm.strip():
        return "other"
    for label, pattern in _COMPILED:
        if pattern.search(norm):
            return label
    return "other"
