"""Articles -> Digest: pick whole sentences from the articles as the bullets of each section.

Extractive only: a bullet is one sentence exactly as it stands in its article (stripped of
surrounding whitespace), credited to that article. Nothing is rewritten or invented.

1. Split. Each paragraph (a blank-line separated block) is cut into sentences by `sentencex`,
   which knows abbreviations ("U.S.", "Dr."), decimals ("2.5%") and quotes. A single line break
   inside a paragraph separates blocks too, unless the next line starts in lower case (a
   wrapped line).
2. Filter. A sentence is bullet material only if it has 6 to 60 words, starts with a capital
   letter or a digit ("iPhone" passes too), ends with "." or "!" (possibly inside a closing
   quote or bracket) but not with "..." (a teaser), is not a question, holds no URL, and is not
   boilerplate: bylines ("Reporting by"), "Read more", "Related:", "Source 1", "Photo:",
   credits, copyright lines.
3. Assign. Each section's keywords, plus the words of its title, are matched case-insensitively
   as whole words (so "ai" never matches "said"), multi-word keywords as phrases (spaces or
   hyphens between words), with simple plural tolerance ("ceasefire" matches "ceasefires",
   "technology" matches "technologies", "sanctions" matches "sanction"). A keyword weighs
   idf = ln(1 + sections / sections having it), so a keyword shared by two sections counts
   less. Each distinct keyword a sentence matches is worth weight * (1 + 0.25 per repeat, at
   most 2 repeats); a match inside a longer matched keyword ("data" in "data centre") does not
   count again. The sentence's relevance to a section sums these, strongest first, the k-th
   divided by sqrt(k) (diminishing returns). The sentence goes to the section it is most
   relevant to; on a tie, to the section listed first. A sentence matching no keyword is
   left out.
4. Rank. score = relevance
            + 0.25 per distinct number (at most 3)
            + 0.15 per distinct capitalised word after the first word, a named entity (at most 4)
            + 0.25 when it quotes someone
            + 0.6 / (1 + 0.5 * paragraph index), favouring the lead of an article.
   Ties go to the earlier article, then the earlier sentence.
5. De-duplicate. Going down the ranking of all assigned sentences, one is dropped when it is a
   near-duplicate of a better-ranked one: their sets of content words (lower case, stop words
   removed, plural "s" cut) have a Jaccard similarity of at least 0.5, or at least 80% of the
   smaller set is in the larger one.
6. Select. Each section takes up to `max_items` sentences greedily by score, less 0.6 for every
   bullet the section already took from the same article, so one source does not fill a
   section when others have good sentences. Bullets keep the order they were picked in.

Sections come out in config order, empty ones included. Digest.sources lists every article
("ok") and then every failure ("error", with its reason; its URL stands as its title). An
article without a title is credited by its URL.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sentencex import segment

from digest.config import SectionConfig
from digest.models import Article, Bullet, Digest, Section, SourceFailure, SourceRef, SourceReport

logger = logging.getLogger(__name__)

MIN_WORDS = 6
MAX_WORDS = 60
REPEAT_BONUS = 0.25
MAX_REPEATS = 2
NUMBER_BONUS = 0.25
MAX_NUMBERS = 3
ENTITY_BONUS = 0.15
MAX_ENTITIES = 4
QUOTE_BONUS = 0.25
LEAD_BONUS = 0.6
SAME_SOURCE_PENALTY = 0.6
DUPLICATE_JACCARD = 0.5
DUPLICATE_CONTAINMENT = 0.8

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
_WORD_TOKEN = re.compile(r"[^\W_]\S*")  # one match per whitespace-separated token holding a letter or digit
_NUMBER = re.compile(r"\d[\d.,]*%?")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_QUOTE = re.compile(r"[\"“”]")
_KEYWORD_SPLIT = re.compile(r"[\s\-]+")

_STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had", "has",
    "have", "he", "her", "his", "in", "into", "is", "it", "its", "of", "on", "or", "our", "she",
    "so", "than", "that", "the", "their", "them", "there", "they", "this", "to", "was", "we",
    "were", "which", "while", "who", "will", "with", "would", "you", "news",
})


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


def _is_bullet_material(sentence: str) -> bool:
    """Whether a sentence can stand alone as a bullet (see step 2 of the module docstring)."""
    words = len(_WORD_TOKEN.findall(sentence))
    first = _WORD_TOKEN.search(sentence)
    return (
        MIN_WORDS <= words <= MAX_WORDS
        and first is not None
        and (first[0][0].isupper() or first[0][0].isdigit() or first[0][1:2].isupper())  # "iPhone" too
        and _TERMINAL.search(sentence) is not None
        and _QUESTION.search(sentence) is None
        and _URL.search(sentence) is None
        and _BOILERPLATE_START.search(sentence) is None
        and _BOILERPLATE_ANYWHERE.search(sentence) is None
    )


def _word_pattern(word: str) -> str:
    """A keyword word as a regex tolerating a simple plural: ceasefire(s), technolog(y|ies)."""
    if len(word) <= 3:
        return re.escape(word)
    if word.endswith("ies"):
        return re.escape(word[:-3]) + "(?:y|ies)"
    if word.endswith("y") and word[-2] not in "aeiou":
        return re.escape(word[:-1]) + "(?:y|ies)"
    if len(word) >= 5 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]  # not for short words: "news" must not match "new"
    return re.escape(word) + "(?:s|es)?"


def _keyword_pattern(keyword: str) -> str:
    return r"[\s\-]+".join(_word_pattern(w) for w in _KEYWORD_SPLIT.split(keyword.lower()) if w)


def _section_keywords(section: SectionConfig) -> tuple[str, ...]:
    """The section's keywords and title words, one regex each (plural variants merged)."""
    title_words = [w for w in re.split(r"[^\w]+", section.title.lower()) if len(w) > 1 and w not in _STOP_WORDS]
    patterns = dict.fromkeys(_keyword_pattern(k) for k in (*section.keywords, *title_words) if re.search(r"\w", k))
    return tuple(patterns)


@dataclass(frozen=True, slots=True)
class _Matcher:
    """One section's keywords as a single whole-word regex, a named group per keyword."""

    pattern: re.Pattern[str]  # alternatives longest first, so "data centre" wins over "data"
    weights: tuple[float, ...]  # the idf of group k{i}

    def relevance(self, sentence: str) -> float:
        counts = Counter(match.lastgroup for match in self.pattern.finditer(sentence))
        matched = sorted(
            (self.weights[int(group[1:])] * (1 + REPEAT_BONUS * min(count - 1, MAX_REPEATS))
             for group, count in counts.items() if group),
            reverse=True,
        )
        # Diminishing returns: a sentence naming six keywords is on topic, not three times more so.
        return sum(value / math.sqrt(rank) for rank, value in enumerate(matched, start=1))


def _matchers(sections: Sequence[SectionConfig]) -> tuple[_Matcher, ...]:
    per_section = [sorted(_section_keywords(s), key=len, reverse=True) for s in sections]
    frequency = Counter(p for patterns in per_section for p in patterns)
    matchers = []
    for patterns in per_section:
        alternatives = "|".join(f"(?P<k{i}>{p})" for i, p in enumerate(patterns))
        matchers.append(
            _Matcher(
                pattern=re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE),
                weights=tuple(math.log(1 + len(sections) / frequency[p]) for p in patterns),
            )
        )
    return tuple(matchers)


def _informativeness(sentence: str) -> float:
    numbers = len(set(_NUMBER.findall(sentence)))
    words = _WORD.findall(sentence)
    entities = len({w for w in words[1:] if w[0].isupper() and w != "I"})
    quoted = _QUOTE.search(sentence) is not None
    return (
        NUMBER_BONUS * min(numbers, MAX_NUMBERS)
        + ENTITY_BONUS * min(entities, MAX_ENTITIES)
        + (QUOTE_BONUS if quoted else 0.0)
    )


def _content_words(sentence: str) -> frozenset[str]:
    words = (w.lower() for w in re.findall(r"\w+", sentence))
    return frozenset(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in _STOP_WORDS)


def _near_duplicates(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return a == b
    shared = len(a & b)
    return shared / len(a | b) >= DUPLICATE_JACCARD or shared / min(len(a), len(b)) >= DUPLICATE_CONTAINMENT


def _figures(sentence: str) -> frozenset[str]:
    """The numbers a sentence states, without the punctuation that may follow them ("2027," is 2027)."""
    return frozenset(number.rstrip(".,") for number in _NUMBER.findall(sentence))


def _already_sent(sentence: str, history: Sequence[str]) -> bool:
    words, figures = _content_words(sentence), _figures(sentence)
    return any(_near_duplicates(words, _content_words(sent)) and figures == _figures(sent) for sent in history)


@dataclass(frozen=True, slots=True)
class _Candidate:
    text: str
    article: int  # index into the articles given
    position: int  # sentence index within its article, for tie-breaks
    section: int  # index into the sections given
    score: float
    words: frozenset[str]

    @property
    def rank_key(self) -> tuple[float, int, int]:
        return (-self.score, self.article, self.position)


def _candidates(articles: Sequence[Article], matchers: Sequence[_Matcher]) -> Iterator[_Candidate]:
    for article_index, article in enumerate(articles):
        position = 0
        for paragraph_index, paragraph in enumerate(article.paragraphs):
            lead = LEAD_BONUS / (1 + 0.5 * paragraph_index)
            for sentence in split_sentences(paragraph):
                position += 1
                if not _is_bullet_material(sentence):
                    continue
                relevance = [m.relevance(sentence) for m in matchers]
                best = max(relevance, default=0.0)
                if best <= 0:
                    continue
                yield _Candidate(
                    text=sentence,
                    article=article_index,
                    position=position,
                    section=relevance.index(best),
                    score=best + _informativeness(sentence) + lead,
                    words=_content_words(sentence),
                )


def _deduplicate(candidates: Sequence[_Candidate]) -> list[_Candidate]:
    kept: list[_Candidate] = []
    for candidate in sorted(candidates, key=lambda c: c.rank_key):
        if not any(_near_duplicates(candidate.words, k.words) for k in kept):
            kept.append(candidate)
    return kept


def _select(ranked: Sequence[_Candidate], max_items: int) -> list[_Candidate]:
    remaining = list(ranked)
    picked: list[_Candidate] = []
    per_article: Counter[int] = Counter()
    while remaining and len(picked) < max_items:
        best = min(
            remaining,
            key=lambda c: (-(c.score - SAME_SOURCE_PENALTY * per_article[c.article]), c.article, c.position),
        )
        remaining.remove(best)
        picked.append(best)
        per_article[best.article] += 1
    return picked


def _title(article: Article) -> str:
    return article.title.strip() or article.url


def publisher_name(article: Article) -> str:
    """The outlet to credit: the page's own site name, else its host without "www."; "" for a local file."""
    if article.sitename and article.sitename.strip():
        return " ".join(article.sitename.split())
    host = urlsplit(article.url).hostname or ""
    return host.removeprefix("www.")


def source_ref(article: Article) -> SourceRef:
    """How a bullet credits its article: URL, headline and publisher."""
    return SourceRef(url=article.url, title=_title(article), site=publisher_name(article))


def condense(
    articles: Sequence[Article],
    sections: Sequence[SectionConfig],
    *,
    edition: str,
    title: str,
    now: datetime,
    failures: Sequence[SourceFailure] = (),
    history: Sequence[str] = (),
) -> Digest:
    """Build the digest of one edition from its articles. Pure; raises nothing of its own.

    `history` holds the statements (bullet texts) already sent in recent editions: a sentence
    saying the same again is left out unless its figures changed, so a section may come out empty.
    """
    candidates = [c for c in _candidates(articles, _matchers(sections)) if not _already_sent(c.text, history)]
    unique = _deduplicate(candidates)
    logger.debug(
        "condense: %d articles, %d candidate sentences, %d after de-duplication",
        len(articles), len(candidates), len(unique),
    )
    built = []
    for index, section in enumerate(sections):
        chosen = _select([c for c in unique if c.section == index], section.max_items)
        bullets = tuple(Bullet(c.text, source_ref(articles[c.article])) for c in chosen)
        built.append(Section(title=section.title, bullets=bullets))
    reports = tuple(SourceReport(url=a.url, title=_title(a), status="ok") for a in articles) + tuple(
        SourceReport(url=f.url, title=f.url, status="error", reason=f.reason) for f in failures
    )
    return Digest(edition=edition, title=title, generated_at=now, sections=tuple(built), sources=reports)
