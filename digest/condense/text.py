"""Sentences, words and figures: the text side of condense.

A sentence is kept exactly as written. What a reader may be shown of it is either the whole
sentence or, when it leans on the sentence before, the two joined; in every case a verbatim slice
of the article, never part of a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from sentencex import segment
from snowballstemmer import stemmer

MIN_WORDS = 6
# One whole sentence is never cut, so it may run longer than a pair joined to stand alone; past 60
# words a "sentence" is mostly a run-on list or a failed split. Items over TARGET_WORDS rank lower.
MAX_WORDS = 60
MAX_JOINED_WORDS = 50
TARGET_WORDS = 40
MAX_LEAD_IN_WORDS = 15

_TERMINAL = re.compile(r"(?<!\.\.)[.!]['\"’”)\]]*$")
_QUESTION = re.compile(r"\?['\"’”)\]]*$")
_URL = re.compile(r"https?://|www\.\w", re.IGNORECASE)
_BOILERPLATE_START = re.compile(
    r"^\W*(?:(?:(?:additional\s+)?(?:reporting|writing|editing|written|compiled)\s+by|read\s+(?:more|next|also)|"
    r"see\s+also|sources?\s*\d|sign\s+up|subscribe|follow\s+us|share\s+this|click\s+here|advertisement|copyright)\b|"
    r"(?:photo(?:graph)?|image|picture|caption|credit|watch|listen|related)\s*:)",
    re.IGNORECASE,
)
_BOILERPLATE_ANYWHERE = re.compile(
    r"getty\s+images|reuters/|\bap\s+photo\b|\(photo\b|photo\s+by\b|image\s+(?:source|caption)|"
    r"all\s+rights\s+reserved|©|click\s+here",
    re.IGNORECASE,
)
WORD_TOKEN = re.compile(r"[^\W_]\S*")  # one match per whitespace-separated token holding a letter or digit
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_FIGURE = re.compile(
    r"([£€$¥]?)(\d(?:[\d,.]*\d)?)(?:\s?(%|per\s?cent\b|bn\b|billion|m\b|million|tn\b|trillion|k\b|thousand))?",
    re.IGNORECASE,
)
_MAGNITUDES = {"k": 10**3, "thousand": 10**3, "m": 10**6, "million": 10**6, "bn": 10**9, "billion": 10**9,
               "tn": 10**12, "trillion": 10**12}
_YEAR = re.compile(r"^(?:1[89]|20|21)\d\d$")

# Openings that need the sentence before: connectives, and pronouns or demonstratives as subject.
_CONNECTIVES = (
    "however|moreover|furthermore|meanwhile|nevertheless|nonetheless|additionally|instead|indeed|likewise|"
    "similarly|consequently|therefore|thus|hence|besides|otherwise|still|yet|also|then|even so|in addition|"
    "as a result|at the same time|in turn|in contrast|by contrast|on the other hand|for example|for instance|"
    "in other words|after all|what is more|that said|even then|separately|elsewhere|in other news|turning to|but|and|or|so"
)
_DANGLING_CONNECTIVE = re.compile(rf"^(?:{_CONNECTIVES})\b", re.IGNORECASE)
_DANGLING_SUBJECT = re.compile(
    r"^(?:this|that|these|those|it|its|he|she|they|his|her|their|them|such|both|another|the latter|the former|"
    r"here|there(?:fore)?)\b(?!['’])",
    re.IGNORECASE,
)
# A leading phrase pointing back ("In light of this shifting landscape,", "Despite that,").
_BACK_REFERENCE = re.compile(
    r"\b(?:this|that|these|those|such|then)\b(?!\s+(?:morning|afternoon|evening|week|weekend|month|year|spring|"
    r"summer|autumn|winter|season|quarter|century)\b)",
    re.IGNORECASE,
)
# A quote credited only to a pronoun: ..." he said. / ," she added.
_PRONOUN_SPEAKER = re.compile(r"['\"’”]\s*,?\s*(?:he|she|they|it|we)\s+(?:said|says|added|told|warned|stated)\b", re.IGNORECASE)
# How a lead-in phrase that may point back opens ("After this, ...", "Despite that, ...").
_LEAD_IN_START = re.compile(
    r"^(?:as|in|at|with|after|before|following|amid|despite|beyond|under|while|although|though|since|because|"
    r"given|against|on|for|during|ahead of|turning to|looking)\b",
    re.IGNORECASE,
)

_STOP_WORD_LIST = """
a about above after again against all almost also although am among an and any are around as at be because been
before being below between both but by can could did do does doing down during each either else even ever every few
for from further had has have having he her here hers herself him himself his how i if in into is it its itself just
least less many may me might more most much must my myself no nor not now of off on once only or other others our ours
ourselves out over own per quite rather same several shall she should since so some such than that the their theirs
them themselves then there these they this those though through thus to too under until up upon us very via was we
were what when where whether which while who whom whose why will with within without would yet you your yours
yourself said says say saying told tell according added stated asked like well one two three
"""
STOP_WORDS = frozenset(_STOP_WORD_LIST.split())

_english = stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of a lower-case word ("satellites" -> "satellit"); possessive 's dropped."""
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return str(_english.stemWord(word))


def words(text: str) -> list[str]:
    """The words of `text`, lower case, in order (numbers included)."""
    return [w.lower() for w in _WORD.findall(text)]


def stems(text: str) -> tuple[str, ...]:
    """Every word of `text` stemmed, stop words included, in order (for phrase matching)."""
    return tuple(stem(w) for w in words(text))


def content_terms(text: str) -> frozenset[str]:
    """The stems of the words that carry meaning: stop words, one-letter words and numbers left out."""
    return frozenset(
        stem(w) for w in words(text) if w not in STOP_WORDS and len(w) > 1 and not any(c.isdigit() for c in w)
    )


# Who said or published a statement is its source, not its topic.
_ATTRIBUTION = re.compile(
    r"\baccording\s+to\s+[^,;]+|"
    r"[,\"”’]\s*(?:said|says|told\s+\w+)\s+[^\"“]+$|"
    r"[\"”’]\s*(?:[A-Z][\w’'.-]*\s+){1,5}(?:said|says|told\s+\w+)[^\"“]*$|"
    r",\s*(?:the\s+|a\s+)?[^,\"“”]{2,80}?\s(?:said|says|found|reported|announced)(?:\s+on\s+\w+|\s+(?:last|this)\s+\w+)?(?=[.!]\W*$)|"
    r"^(?:[A-Z][\w’'.-]*\s*,?\s+){1,6}(?:[\w’'-]+,?\s+){0,4}?(?:said|says|stated)(?::|,|\s+that)?\s"
)


def topical_text(text: str) -> str:
    """The text without its attribution ("..., Nationwide said on Friday.", "according to the ONS")."""
    return _ATTRIBUTION.sub(" ", text)


# A trailing clause that elaborates on the main statement: what a sentence is about is said before it.
_ASIDE = re.compile(r",\s+(?:with|while|including|leaving|taking|bringing|making)\s")


def aside_terms(text: str) -> frozenset[str]:
    """The content terms found only in a trailing side clause of `text` (none when it has no such clause)."""
    match = _ASIDE.search(text)
    if match is None:
        return frozenset()
    return content_terms(text[match.start():]) - content_terms(text[:match.start()])


def word_count(text: str) -> int:
    return len(WORD_TOKEN.findall(text))


def figures(text: str) -> frozenset[str]:
    """The numbers a text states, each as one canonical value, so that two outlets writing one amount
    differently agree: "£1.2bn" and "£1.2 billion" are "£1,200,000,000", "2.5 per cent" is "2.5%";
    units are dropped ("9.6GW" and "9.6 gigawatts" are "9.6")."""
    found = set()
    for match in _FIGURE.finditer(text):
        currency, number, suffix = match[1], match[2].replace(",", "").rstrip("."), (match[3] or "").lower()
        suffix = re.sub(r"\s+", "", suffix)
        try:
            value = Decimal(number) * _MAGNITUDES.get(suffix, 1)
        except InvalidOperation:  # "1.2.3": not one number
            continue
        value = value.normalize()
        whole = value == value.to_integral_value()
        # A bare four-digit number may be a year; one written "2,000" or "2 thousand" is an amount.
        written = f"{int(value):,}" if whole and ("," in match[2] or suffix or value >= 10000) else format(value, "f")
        found.add(currency + written + ("%" if suffix in ("%", "percent") else ""))
    return frozenset(found)


def is_year(figure: str) -> bool:
    return _YEAR.match(figure) is not None


def split_sentences(text: str) -> tuple[str, ...]:
    """The sentences of `text`, each stripped but otherwise exactly as written."""
    return tuple(
        sentence
        for paragraph in text.split("\n\n")
        for block in _blocks(paragraph)
        for sentence in (part.strip() for part in segment("en", block))
        if sentence
    )


def _blocks(paragraph: str) -> Iterator[str]:
    """The lines of a paragraph; a line starting in lower case continues the one before (a wrapped line)."""
    block: list[str] = []
    for line in paragraph.split("\n"):
        if block and line.lstrip()[:1].islower():
            block.append(line)
            continue
        if block:
            yield "\n".join(block)
        block = [line] if line.strip() else []
    if block:
        yield "\n".join(block)


def is_bullet_material(sentence: str, max_words: int = MAX_WORDS) -> bool:
    """Whether a text can be a bullet: a finished statement of 6 to `max_words` words, not boilerplate."""
    count = word_count(sentence)
    first = WORD_TOKEN.search(sentence)
    return (
        MIN_WORDS <= count <= max_words
        and first is not None
        and (first[0][0].isupper() or first[0][0].isdigit() or first[0][1:2].isupper())  # "iPhone" too
        and _TERMINAL.search(sentence) is not None
        and _QUESTION.search(sentence) is None
        and _URL.search(sentence) is None
        and _BOILERPLATE_START.search(sentence) is None
        and _BOILERPLATE_ANYWHERE.search(sentence) is None
    )


def is_dangling(text: str) -> bool:
    """Whether a text opens by leaning on what came before ("However,", "He said", "This", "In light of this,")."""
    opening = text.lstrip("\"'“‘ ")
    if _DANGLING_CONNECTIVE.match(opening) or _DANGLING_SUBJECT.match(opening):
        return True
    if _PRONOUN_SPEAKER.search(text):
        return True
    lead_in = _lead_in(text)
    return lead_in is not None and _points_back(lead_in)


def _points_back(lead_in: str) -> bool:
    return _LEAD_IN_START.match(lead_in) is not None and _BACK_REFERENCE.search(lead_in) is not None


def _lead_in(text: str) -> str | None:
    """The phrase before the first comma, when it is short enough to be a lead-in and not inside a quote."""
    head, comma, _ = text.partition(",")
    if not comma or word_count(head) > MAX_LEAD_IN_WORDS or re.search(r"[\"“”]", head):
        return None
    return head


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of one article, where it stands, and what it may be shown as."""

    article: int  # index into the articles given
    paragraph: int  # paragraph index within its article
    position: int  # sentence index within its article
    depth: int  # how far into the story: paragraphs holding a statement before this one (bylines do not count)
    lede: bool  # the article's first statement: news puts its main fact there
    text: str  # the sentence exactly as written
    shown: str | None  # what a bullet shows: the sentence, or it joined with the one before; None when neither stands alone
    terms: frozenset[str]  # content stems of `text` without its attribution
    stems: tuple[str, ...]  # every stem of the same, in order
    aside: frozenset[str]  # those of `terms` found only in a trailing side clause (", with most going to ...")


def article_sentences(article_index: int, paragraphs: tuple[str, ...]) -> list[Sentence]:
    """Every sentence of an article, each with the verbatim text a bullet may show of it."""
    found: list[Sentence] = []
    position = 0
    depth = 0
    seen_statement = False
    for paragraph_index, paragraph in enumerate(paragraphs):
        previous: tuple[int, int] | None = None  # (start, end) of the sentence before, in this paragraph
        cursor = 0
        holds_statement = False
        for sentence in split_sentences(paragraph):
            start = paragraph.find(sentence, cursor)
            end = start + len(sentence)
            cursor = end
            statement = is_bullet_material(sentence)
            found.append(
                Sentence(
                    article=article_index,
                    paragraph=paragraph_index,
                    position=position,
                    depth=depth,
                    lede=statement and not seen_statement,
                    text=sentence,
                    shown=_shown(sentence, paragraph, previous, start),
                    terms=content_terms(topical_text(sentence)),
                    stems=stems(topical_text(sentence)),
                    aside=aside_terms(topical_text(sentence)),
                )
            )
            position += 1
            previous = (start, end)
            holds_statement = holds_statement or statement
            seen_statement = seen_statement or statement
        depth += holds_statement
    return found


def _shown(sentence: str, paragraph: str, previous: tuple[int, int] | None, start: int) -> str | None:
    """The verbatim text a bullet shows for this sentence, or None when it does not stand alone.

    A sentence that leans on the one before is joined with it when the two make one readable
    bullet (at most MAX_JOINED_WORDS). Failing that, a sentence that leans only through a short
    opening phrase ("In light of this shifting landscape, Starmer and Macron have agreed ...") is
    shown from its main clause on, when that clause is a whole statement starting with a capital:
    still a verbatim slice, never cut at the end. Otherwise it is not used.
    """
    if is_bullet_material(sentence) and not is_dangling(sentence):
        return sentence
    if previous is not None and is_dangling(sentence) and paragraph[previous[1]:start].isspace():
        joined = paragraph[previous[0]:start + len(sentence)]
        if is_bullet_material(joined, MAX_JOINED_WORDS) and not is_dangling(joined) and "\n" not in joined:
            return joined
    return _main_clause(sentence)


def _main_clause(sentence: str) -> str | None:
    """What follows a leaning opening phrase ("However,", "In light of this,"), when it stands alone."""
    lead_in = _lead_in(sentence)
    if lead_in is None or not (_DANGLING_CONNECTIVE.match(lead_in) or _points_back(lead_in)):
        return None
    rest = sentence[len(lead_in) + 1:].lstrip()
    if not rest[:1].isupper() or is_dangling(rest) or not is_bullet_material(rest):
        return None
    return rest
