"""Text handling shared by retrieval and answering: cleaning, language, tokens, stems."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer
from wordfreq import zipf_frequency

MAX_QUESTION_CHARS = 2000

# control characters, zero-width and bidi controls, and lone surrogates (undecodable bytes)
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)

# Function words and words that say "I am asking a question" rather than what about.
DUTCH_STOP = frozenset(
    """aan al alle alles als altijd ander andere anders ben bij binnen daar daarom dan dat de
    deze die dit doe doen doet door dus echt een eens eigen elk elke en er even geen gewoon had
    heb hebben heeft hem het hier hij hoe hoeveel hun ik in is ja je jij jou jouw jullie kan
    kunnen kun kunt laat maar me meer men met mij mijn moet moeten mogen na naar nee niet niets
    nog nu of om onder ons onze ook op over te tegen toch tot u uit uw van veel voor waar
    waarom wanneer wat we welk welke wel werd wie wij wil willen wordt worden zal ze zelf zich
    zij zijn zo zoals zou zouden zullen iets iemand eigenlijk soms vaak best beter goed graag
    nou hè hé oké ok dus steeds zeer erg heel vooral nogal bijv bijvoorbeeld precies
    zeggen zegt zei staat stelt handreiking nora richtlijn tekst advies tip tips vraag vragen
    adviseer adviseert helpen help hulp weten bedoeld bedoelt aanpak""".split()
)
ENGLISH_STOP = frozenset(
    """a about after again all also am an and any are as at be because been before being but
    by can could did do does doing done for from get gets getting got had has have having he
    her here him his how i if in into is it its just me more most my no not now of on once
    only or other our ours out over own same she should so some such than that the their them
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours us anything something
    really actually quite much many lot lots still even yet ever every best better good well
    okay ok hey hi hello please thanks thank say says said suggest suggests recommend
    recommends advice advise guidance guide nora tip tips question questions help know mean
    means tell way ways go going want wants need needs thing things kind sort""".split()
)
_OTHER_LANG_HINTS = {
    "de": frozenset("der die das und ist nicht ich wie was wir sie mit für auf eine einer kann soll".split()),
    "fr": frozenset("le la les et est une des pour que qui avec dans pas nous vous comment quoi".split()),
    "es": frozenset("el la los las y es una para que con por como qué cómo del pero muy".split()),
}

_nl = snowballstemmer.stemmer("dutch")


def clean_question(text: str) -> str:
    """Normalise Unicode, drop control and bidi characters, collapse white space."""
    text = unicodedata.normalize("NFC", text or "")
    text = _CONTROL.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    plain = unicodedata.normalize("NFKD", word)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return _nl.stemWord(plain.replace("'", ""))


def detect_language(text: str) -> str:
    """'nl', 'en' or 'other' from function words; Dutch when in doubt."""
    toks = words(text)
    if not toks:
        return "nl"
    nl = sum(t in DUTCH_STOP for t in toks)
    en = sum(t in ENGLISH_STOP for t in toks)
    other = max((sum(t in hints for t in toks), lang) for lang, hints in _OTHER_LANG_HINTS.items())
    if other[0] >= 2 and other[0] > max(nl, en):
        return "other"
    return "en" if en > nl else "nl"


def content_words(text: str) -> list[str]:
    found = []
    for w in words(text):
        if w.endswith("'s"):  # KPI's, team's
            w = w[:-2]
        if w not in DUTCH_STOP and w not in ENGLISH_STOP and len(w) > 1:
            found.append(w)
    return found


class Decompounder:
    """Splits Dutch compounds against a known vocabulary: ketenconferentie → conferentie."""

    def __init__(self, vocabulary: set[str]):
        self.vocab = {w for w in vocabulary if len(w) >= 4}
        self._cache: dict[str, tuple[str, ...]] = {}

    def parts(self, word: str) -> tuple[str, ...]:
        found = self._cache.get(word)
        if found is None:
            found = self._split(word)
            if len(self._cache) < 100_000:
                self._cache[word] = found
        return found

    def _split(self, word: str) -> tuple[str, ...]:
        if len(word) < 8:
            return ()
        for cut in range(3, len(word) - 3):  # longest known tail first
            head, tail = word[:cut], word[cut:]
            if tail in self.vocab:
                head = head[:-1] if head.endswith("s") and head[:-1] in self.vocab else head
                return (head, tail) if head in self.vocab else (tail,)
        return ()


def index_terms(text: str, decompounder: Decompounder | None = None) -> list[str]:
    """Stems of content words plus the stems of their compound parts."""
    terms: list[str] = []
    for w in content_words(text):
        terms.append(stem(w))
        if decompounder is not None:
            terms.extend(stem(p) for p in decompounder.parts(w))
    return terms


@lru_cache(maxsize=65536)
def rarity(word: str) -> float:
    """0.15 for an everyday Dutch or English word, up to 1.0 for a rare or unknown one."""
    zipf = max(zipf_frequency(word, "nl"), zipf_frequency(word, "en"))
    return min(1.0, max(0.15, (6.0 - zipf) / 3.0))
