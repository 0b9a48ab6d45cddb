"""Sentiment of a customer message: VADER for English, a curated lexicon for Arabic and Arabizi.

English uses VADER's compound score with the usual ±0.05 thresholds; its lexicon is extended with
a few service words VADER does not know (late, missing, refund, soggy...), and an explicit sarcasm
frame ("Great, ... late again 🙄") flips a positive score. VADER is English-only, so Arabic and
Arabizi use a lexicon in normalised spelling (Gulf, Levantine, Egyptian and MSA forms) with
negation (the next two words flip), intensifiers (the adjacent sentiment word counts 1.5x),
fixed phrases and emoji, squashed into [-1, 1] the way VADER squashes its sum.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from wafaa.analytics.insights.language import normalise, tokens

THRESHOLD = 0.05

# Service words VADER scores 0 (valence on VADER's -4..4 scale).
VADER_DOMAIN_WORDS = {
    "late": -1.6,
    "delayed": -1.6,
    "delay": -1.3,
    "missing": -1.6,
    "refund": -1.2,
    "overcooked": -1.8,
    "undercooked": -1.8,
    "burnt": -1.8,
    "soggy": -1.8,
    "stale": -1.8,
    "overpriced": -1.8,
    "damaged": -1.8,
    "broken": -1.6,
    "waited": -1.0,
    "tasteless": -2.0,
    "bland": -1.5,
    "inedible": -2.5,
    "scam": -2.5,
    "unanswered": -1.5,
    "cancelled": -1.0,
    "rude": -2.2,
    "raw": -1.0,
    "melted": -1.0,
    "spilled": -1.5,
    "fresh": 1.3,
    "fast": 1.0,
    "quick": 0.8,
    "recommend": 1.5,
    "tasty": 2.0,
    "yummy": 2.2,
    "delicious": 2.8,
    "lovely": 2.5,
    "attentive": 1.5,
    "polite": 1.5,
    "crispy": 1.0,
    "juicy": 1.2,
    "fire": 0.0,
    "forgot": -1.2,
    "working": 0.0,
    "stars": 1.2,
    # courtesy and acknowledgements are not an opinion
    "please": 0.0,
    "sure": 0.0,
    "alright": 0.0,
    "ok": 0.0,
    "okay": 0.0,
    "accept": 0.0,
}
SARCASM_EMOJI = frozenset("🙄😒🙃🤦")
SARCASM_OPENERS = re.compile(
    r"^\s*(great|wow|amazing|perfect|brilliant|fantastic|nice|lovely|awesome|thanks|thank you|oh great|"
    r"just great|love (how|that|it when|waiting))\b|thanks for nothing|yeah,? right|so much for|"
    r"(شكرا|مشكورين) (علي|ع) (التاخير|الانتظار)|ما شاء الله علي (التاخير|السرعه|الخدمه)"
)
COMPLAINT_CUES = re.compile(
    r"\b(late|again|still|hours?|minutes|waited|waiting|cold|wrong|missing|never|no one|nobody|forgot|"
    r"another)\b|تاخير|ساعه|ساعتين|انتظار|مستني|ناطر|بارد|غلط|ناقص"
)

_AR_POSITIVE = {
    # MSA / shared
    "ممتاز": 2.5,
    "ممتازه": 2.5,
    "رائع": 2.8,
    "رائعه": 2.8,
    "جميل": 2.0,
    "جميله": 2.0,
    "لذيذ": 2.5,
    "لذيذه": 2.5,
    "شكرا": 1.5,
    "شكر": 1.2,
    "مشكور": 1.5,
    "مشكورين": 1.5,
    "تسلم": 1.5,
    "تسلمون": 1.5,
    "تسلمو": 1.5,
    "تسلموا": 1.5,
    "يعطيكم": 1.0,
    "العافيه": 1.0,
    "احسن": 2.0,
    "افضل": 2.0,
    "روعه": 2.8,
    "خرافي": 2.8,
    "خرافيه": 2.8,
    "مبدع": 2.5,
    "مبدعين": 2.5,
    "سريع": 1.5,
    "سريعه": 1.5,
    "نظيف": 1.5,
    "نظيفه": 1.5,
    "احب": 2.0,
    "احبكم": 2.5,
    "حبيت": 2.0,
    "عجبني": 2.0,
    "عجبتني": 2.0,
    "عجبنا": 2.0,
    "راضي": 1.5,
    "سعيد": 2.0,
    "سعيده": 2.0,
    "مرتاح": 1.5,
    "عظيم": 2.5,
    "انصح": 1.8,
    "انصحكم": 1.8,
    "طازج": 1.8,
    "طازه": 1.8,
    "مميز": 2.0,
    "مميزه": 2.0,
    "لطيف": 1.8,
    "لطيفين": 1.8,
    "محترم": 1.5,
    "محترمين": 1.5,
    "تحفه": 2.8,
    "ابداع": 2.5,
    "مثالي": 2.5,
    "فخم": 2.0,
    "فخمه": 2.0,
    "ممتن": 2.0,
    "حلو": 2.0,
    "حلوه": 2.0,
    "حلوين": 2.0,
    "طيب": 1.5,
    "طيبه": 1.5,
    "زين": 1.8,
    "زينه": 1.8,
    "كويس": 1.8,
    "كويسه": 1.8,
    "تمام": 1.2,
    "الف": 0.5,
    "يهبل": 2.8,
    "تهبل": 2.8,
    "رهيب": 2.5,
    "رهيبه": 2.5,
    "فله": 2.0,
    "بطل": 2.0,
    "ابطال": 2.0,
    "زاكي": 2.5,
    "زاكيه": 2.5,
    "منيح": 1.8,
    "منيحه": 1.8,
    "بجنن": 2.8,
    "يجنن": 2.8,
    "تجنن": 2.8,
    "جامد": 2.5,
    "جامده": 2.5,
    "عسل": 2.0,
    "مبسوط": 2.0,
    "مبسوطين": 2.0,
    "مبسوطه": 2.0,
    "هايل": 2.5,
    "واو": 1.5,
    "يسلمو": 1.5,
    "يسلموا": 1.5,
    "ميرسي": 1.2,
    "الحمدلله": 0.8,
    "نظافه": 1.2,
    "قمه": 1.8,
    "احترام": 1.5,
    "سرعه": 0.6,
    "تشكرون": 1.5,
    "شاكر": 1.5,
    "ابدعتو": 2.5,
    "ابدعتوا": 2.5,
}
_AR_NEGATIVE = {
    "سيء": -2.5,
    "سيي": -2.5,
    "سييه": -2.5,
    "سيئ": -2.5,
    "سيئه": -2.5,
    "زفت": -3.0,
    "وحش": -2.5,
    "وحشه": -2.5,
    "خايس": -3.0,
    "خايسه": -3.0,
    "بايخ": -2.0,
    "بايخه": -2.0,
    "مقرف": -3.0,
    "مقرفه": -3.0,
    "بارد": -1.5,
    "بارده": -1.5,
    "متاخر": -2.0,
    "متاخره": -2.0,
    "تاخير": -2.0,
    "تاخر": -2.0,
    "اتاخر": -2.0,
    "تاخرتو": -2.0,
    "تاخرتوا": -2.0,
    "بطيء": -1.8,
    "بطيي": -1.8,
    "بطء": -1.8,
    "غالي": -1.5,
    "غاليه": -1.5,
    "مزعج": -2.0,
    "زعلان": -2.2,
    "زعلانه": -2.2,
    "معصب": -2.2,
    "فاشل": -2.8,
    "فاشله": -2.8,
    "فاشلين": -2.8,
    "خربان": -2.0,
    "خربانه": -2.0,
    "مكسور": -2.0,
    "مكسوره": -2.0,
    "ناقص": -1.8,
    "ناقصه": -1.8,
    "غلط": -1.8,
    "خطا": -1.5,
    "مشكله": -1.5,
    "شكوي": -1.8,
    "اسوا": -3.2,
    "اسوء": -3.2,
    "للاسف": -1.8,
    "خيبه": -2.5,
    "محبط": -2.5,
    "مخيب": -2.5,
    "قرف": -2.5,
    "نصب": -3.0,
    "نصابين": -3.0,
    "حراميه": -3.0,
    "رديء": -2.5,
    "ردي": -2.5,
    "محروق": -2.2,
    "محروقه": -2.2,
    "مالح": -1.5,
    "ماسخ": -2.0,
    "ماصخ": -2.0,
    "تعبان": -1.5,
    "ضايع": -1.5,
    "مستحيل": -1.5,
    "كارثه": -3.0,
    "كارثي": -3.0,
    "مهزله": -3.0,
    "وسخ": -2.8,
    "وسخه": -2.8,
    "زباله": -3.0,
    "بايظ": -2.2,
    "بايظه": -2.2,
    "مستفز": -2.5,
    "بشع": -2.8,
    "بشعه": -2.8,
    "عاطل": -2.0,
    "تعتير": -2.5,
    "استرجاع": -1.0,
    "استرداد": -1.0,
    "ملغي": -1.0,
    "الغاء": -0.8,
    "تالف": -2.2,
    "تالفه": -2.2,
    "منتهي": -1.5,
    "ناشف": -1.5,
    "ناشفه": -1.5,
    "قديم": -1.0,
    "خساره": -2.2,
    "حرام": -1.5,
    "ظلم": -2.0,
    "اهمال": -2.5,
    "مهمل": -2.5,
    "مهملين": -2.5,
    "سئ": -2.5,
    "تاخرتم": -2.0,
    "طفشت": -2.0,
    "طفش": -2.0,
    "زهقت": -2.0,
    "مقهور": -2.5,
    "قهر": -2.5,
    "ناطر": -1.0,
    "ناطرين": -1.0,
    "مستني": -1.0,
    "مستنيه": -1.0,
    "ينتظر": -0.8,
    "انتظر": -0.8,
    "انتظار": -0.8,
    "ساعتين": -1.0,
    "مافي": 0.0,
    "يرد": 0.0,
    "يردون": 0.0,
}
_ARABIZI = {
    "helw": 2.0,
    "7elw": 2.0,
    "7ilo": 2.0,
    "7elo": 2.0,
    "7lw": 2.0,
    "zaki": 2.5,
    "lazeez": 2.5,
    "lazeeza": 2.5,
    "mumtaz": 2.5,
    "momtaz": 2.5,
    "shukran": 1.5,
    "shokran": 1.5,
    "tislam": 1.5,
    "teslam": 1.5,
    "tislamo": 1.5,
    "ya3tikom": 1.5,
    "ya3tik": 1.5,
    "rawe3": 2.8,
    "ra2e3": 2.8,
    "gamed": 2.5,
    "gamda": 2.5,
    "ta7fa": 2.8,
    "ba7eb": 2.0,
    "b7eb": 2.0,
    "bahebak": 2.0,
    "3ajabni": 2.0,
    "3agabni": 2.0,
    "bijanen": 2.8,
    "bjanen": 2.8,
    "yejannen": 2.8,
    "yehbal": 2.8,
    "rhib": 2.5,
    "raheeb": 2.5,
    "zain": 1.8,
    "zen": 1.5,
    "kwayes": 1.8,
    "kwayyes": 1.8,
    "mnee7": 1.8,
    "mnih": 1.8,
    "tayeb": 1.2,
    "tamam": 1.2,
    "mabsoot": 2.0,
    "mabsout": 2.0,
    "mabsuta": 2.0,
    "afdal": 2.0,
    "a7san": 2.0,
    "sayi2": -2.5,
    "sai2": -2.5,
    "zift": -3.0,
    "khara": -3.0,
    "wa7esh": -2.5,
    "we7esh": -2.5,
    "wi7esh": -2.5,
    "bayekh": -2.0,
    "ma2ref": -3.0,
    "mi2ref": -3.0,
    "bared": -1.5,
    "bardeh": -1.5,
    "mit2akher": -2.0,
    "met2akher": -2.0,
    "mt2akher": -2.0,
    "ta2kheer": -2.0,
    "t2akhar": -2.0,
    "ghali": -1.5,
    "za3lan": -2.2,
    "za3lana": -2.2,
    "ta3ban": -1.5,
    "moshkela": -1.5,
    "mushkila": -1.5,
    "fashel": -2.8,
    "fashleen": -2.8,
    "kharban": -2.0,
    "khayes": -3.0,
    "khayis": -3.0,
    "aswa2": -3.2,
    "lel2asaf": -1.8,
    "lil2asaf": -1.8,
    "ba3d": 0.0,
    "naqes": -1.8,
    "na2es": -1.8,
    "ghalat": -1.8,
    "m2aref": -3.0,
    "3ateel": -2.0,
    "bashe3": -2.8,
    "mahzala": -3.0,
    "karitha": -3.0,
}
_AR_PHRASES = {
    "الله يعطيكم العافيه": 2.5,
    "يعطيكم العافيه": 2.5,
    "يعطيك العافيه": 2.5,
    "ما شاء الله": 1.8,
    "ماشاء الله": 1.8,
    "ماشالله": 1.8,
    "الله يسعدكم": 2.5,
    "الله يوفقكم": 2.0,
    "جزاكم الله خير": 2.5,
    "ما قصرتو": 2.5,
    "ما قصرتوا": 2.5,
    "ما قصرتم": 2.5,
    "ما قصرت": 2.5,
    "ماقصرتو": 2.5,
    "ماقصرتوا": 2.5,
    "الف شكر": 2.0,
    "الف الف شكر": 2.5,
    "حسبي الله": -3.0,
    "الله يهديكم": -1.8,
    "الله يسامحكم": -1.8,
    "ما يسوي": -2.2,
    "مايسوي": -2.2,
    "ما حد يرد": -2.2,
    "ماحد يرد": -2.2,
    "محد يرد": -2.2,
    "لا حياه لمن تنادي": -2.5,
    "اخر مره": -1.8,
    "ما عاد": -1.0,
    "ولا مره": -1.2,
    "مو طبيعي": -0.5,
    "ya3tikom el3afye": 2.5,
    "ma2sartu": 2.5,
    "ma 2assarto": 2.5,
    "masha2allah": 1.8,
    "mashallah": 1.8,
    "akher marra": -1.8,
    "ma7ada yrod": -2.2,
    "ma 7ada": -1.5,
    "7asbi allah": -3.0,
}
_NEGATORS = frozenset(
    [
        "ما",
        "مو",
        "مب",
        "مش",
        "موب",
        "مهوب",
        "لا",
        "ليس",
        "ليست",
        "لم",
        "لن",
        "مافي",
        "مافيه",
        "بدون",
        "غير",
        "ابدا",
        "ماكان",
        "مكانش",
        "مهوش",
        "مهيش",
        "ماهو",
        "ماهي",
        "mish",
        "msh",
        "mesh",
        "mo",
        "mu",
        "mub",
        "la2",
        "mafi",
        "mafish",
        "mish",
        "mosh",
    ]
)
_INTENSIFIERS = frozenset(
    [
        "جدا",
        "جداً",
        "كثير",
        "كتير",
        "واجد",
        "وايد",
        "مره",
        "مرا",
        "اوي",
        "قوي",
        "خالص",
        "بزاف",
        "جد",
        "كلش",
        "حيل",
        "عنجد",
        "بالمره",
        "kteer",
        "ktir",
        "katheer",
        "wayed",
        "wayid",
        "awi",
        "gedan",
        "jiddan",
        "marra",
        "mara",
        "3anjad",
    ]
)
_EMOJI = {
    "😍": 2.5,
    "❤": 2.5,
    "😊": 2.0,
    "👍": 1.8,
    "🙏": 1.5,
    "🔥": 1.8,
    "👌": 1.8,
    "🥰": 2.5,
    "😋": 2.2,
    "💯": 1.8,
    "👏": 1.8,
    "🤩": 2.5,
    "😀": 1.8,
    "😃": 1.8,
    "😁": 1.8,
    "💕": 2.0,
    "💖": 2.0,
    "🌹": 1.5,
    "😘": 2.0,
    "✨": 1.0,
    "😡": -2.8,
    "😠": -2.5,
    "👎": -2.2,
    "😞": -2.0,
    "😢": -2.0,
    "💔": -2.2,
    "🤬": -3.0,
    "😤": -2.2,
    "😭": -1.8,
    "🤮": -3.0,
    "🤢": -2.5,
    "😩": -2.0,
    "😫": -2.0,
    "😑": -1.2,
    "😐": -0.6,
    "😒": -1.8,
    "🙄": -1.8,
}


def _normalised_lexicon(raw: dict[str, float]) -> dict[str, float]:
    return {normalise(k): v for k, v in raw.items()}


AR_LEXICON = {**_normalised_lexicon(_AR_POSITIVE), **_normalised_lexicon(_AR_NEGATIVE), **_ARABIZI}
AR_PHRASES = _normalised_lexicon(_AR_PHRASES)
NEGATORS = frozenset(normalise(w) for w in _NEGATORS)
INTENSIFIERS = frozenset(normalise(w) for w in _INTENSIFIERS)
_PREFIXES = ("وال", "بال", "فال", "لل", "ال", "و", "ف", "ب")


@dataclass(frozen=True)
class Sentiment:
    score: float  # compound, in [-1, 1]
    label: str  # positive | neutral | negative


def label_of(score: float) -> str:
    """VADER's convention: ≥ 0.05 positive, ≤ -0.05 negative, neutral between."""
    if score >= THRESHOLD:
        return "positive"
    if score <= -THRESHOLD:
        return "negative"
    return "neutral"


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(VADER_DOMAIN_WORDS)
    return analyzer


def _is_sarcastic(text: str) -> bool:
    lowered = normalise(text)
    framed = bool(SARCASM_OPENERS.search(lowered)) and bool(COMPLAINT_CUES.search(lowered))
    return framed or any(ch in SARCASM_EMOJI for ch in text)


def english(text: str) -> Sentiment:
    """VADER's compound score (with the service words), a sarcasm frame flipping a positive one."""
    score = float(_vader().polarity_scores(text)["compound"])
    if score > 0 and _is_sarcastic(text):
        score = -score
    return Sentiment(round(score, 4), label_of(score))


def _word_score(token: str) -> float:
    if token in AR_LEXICON:
        return AR_LEXICON[token]
    for prefix in _PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 3 and token[len(prefix) :] in AR_LEXICON:
            return AR_LEXICON[token[len(prefix) :]]
    return 0.0


def arabic(text: str) -> Sentiment:
    """Lexicon score of Arabic or Arabizi text, with phrases, negation, intensifiers and emoji."""
    norm = normalise(text)
    total = 0.0
    for phrase, value in AR_PHRASES.items():
        if phrase in norm:
            total += value
            norm = norm.replace(phrase, " ")
    words = tokens(norm)
    scores = [_word_score(w) for w in words]
    for i, word in enumerate(words):
        if word in INTENSIFIERS:
            target = i - 1 if i > 0 and scores[i - 1] else i + 1
            if 0 <= target < len(words):
                scores[target] *= 1.5
    for i, word in enumerate(words):
        if word in NEGATORS:
            for j in range(i + 1, min(i + 3, len(words))):
                if scores[j]:
                    scores[j] *= -0.75
                    break
    total += sum(scores)
    total += sum(value for emoji, value in _EMOJI.items() if emoji in text)
    if total > 0 and _is_sarcastic(text):
        total = -total
    score = total / math.sqrt(total * total + 15) if total else 0.0
    return Sentiment(round(score, 4), label_of(score))


def analyse(text: str | None, language: str) -> Sentiment:
    """Sentiment of one message in its detected language."""
    if not text:
        return Sentiment(0.0, "neutral")
    if language == "en":
        return english(text)
    return arabic(text)
