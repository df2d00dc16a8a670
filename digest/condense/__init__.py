"""Articles -> Digest: the day's most newsworthy statements per section, each once, with all its sources.

Extractive only: a bullet shows words of its article exactly as written, credited to it.

1. Split (text.py). Paragraphs are cut into sentences by `sentencex`. A sentence can be a bullet
   when it is a finished statement of 6 to 60 words, not a question, teaser, caption, byline or
   link. One that leans on the sentence before ("However,", "He said", "In light of this, ...") is
   joined with it when the two make one bullet of at most 50 words; else, when it leans only
   through a short opening phrase, shown from its main clause if that is a whole statement; else
   not used. A bullet is never cut at its end.
2. Assign (sections.py). Each sentence goes to the section its own words point to (title,
   keywords and words learnt from the day's text); when they do not decide, to the one the rest
   of its paragraph, or else its article's headline and first paragraph, clearly point to; or to
   none.
3. Keep news (news.py). Background (biography, history told through old years, what an
   institution is, a recap of another story) and statements with no element of news (no amount,
   act, claim credited to someone or date of the day: scene-setting, transitions) go in no section.
4. Rank (news.py). Newsworthiness: figures, names, acts and decisions, quotes with their speaker,
   the article's first statement and its first paragraph on the section's topic, the lead article.
   score = news + 0.3 * relevance (capped at 1.5), shown on a 0-1 scale as score / (score + 1).
   A related page's passing mention of another section's topic comes after that section's own
   statements. Statements of articles that went unchanged into a sent edition (`stale_urls`) are yesterday's
   story: they never fill a section (one with nothing new comes out empty and says so), though
   they are credited in `also` when a new statement says the same.
5. Leave out what was sent (repeats.py). A candidate saying what a statement of a recent edition
   said (`history`), with no new figure, is dropped; a section may come out empty. The shortlist
   below is filled with candidates not sent before.
6. Choose. Going down the ranking, each section takes up to `max_items` statements scoring at
   least `min_score` (and 0.5 raw, below which a statement is filler). Each step takes the best
   score less its share already said by the section's bullets (MMR). One that says the same as a
   chosen bullet becomes one of that bullet's `also` sources instead; one that is mostly said
   already (80%; 50% for a related page's passing mention of another section's topic, most often
   a recap) is dropped.

Only the best 3 * max_items (at least 12) candidates of each section are compared with each
other and with the history, so the work grows with the number of sentences, not its square.
Sections come out in config order, empty ones included. Digest.sources lists every article
("ok") and then every failure ("error", with its reason; its URL stands as its title).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from digest.condense.news import is_background, newsworthiness, states_news
from digest.condense.repeats import Fingerprint, History, Similarity, fingerprint
from digest.condense.sections import SectionAssigner
from digest.condense.text import Sentence, article_sentences, split_sentences
from digest.config import SectionConfig
from digest.models import Article, Bullet, Digest, Section, SourceFailure, SourceRef, SourceReport, host_label

__all__ = ["condense", "publisher_name", "source_ref", "split_sentences", "statement_sections"]

logger = logging.getLogger(__name__)

RELEVANCE_WEIGHT = 0.3
RELEVANCE_CAP = 1.5
REDUNDANCY_PENALTY = 1.0
MOSTLY_SAID = 0.8
# A related page's passing mention of another section's topic is most often a recap of the story that
# section already tells in other words: it needs to be mostly new to earn a place.
SIDE_MENTION_SAID = 0.5
SHORTLIST_PER_ITEM = 3
SHORTLIST_MIN = 12
QUALITY_FLOOR = 0.5  # raw score below which a statement is filler, whatever min_score says


@dataclass(frozen=True, slots=True)
class _Candidate:
    text: str  # what the bullet shows
    sentence: Sentence
    section: int
    score: float  # raw score, see the module docstring
    print: Fingerprint
    stale: bool  # from an article that went unchanged into a sent edition
    side_mention: bool  # a related page's passing mention of a section other than its own topic

    @property
    def article(self) -> int:
        return self.sentence.article

    @property
    def tier(self) -> int:
        """What comes first in a section: statements on its topic, then passing mentions; stale ones last (only as `also`)."""
        return 2 * self.stale + self.side_mention

    @property
    def rank_key(self) -> tuple[int, float, int, int]:
        return (self.tier, -self.score, self.sentence.article, self.sentence.position)


@dataclass(slots=True)
class _Chosen:
    candidate: _Candidate
    also: list[int] = field(default_factory=list)  # article indexes of other sources saying the same


def display_score(raw: float) -> float:
    """A raw score on the 0-1 scale that `min_score` uses."""
    return raw / (raw + 1) if raw > 0 else 0.0


def _sentences(articles: Sequence[Article]) -> list[Sentence]:
    return [s for index, article in enumerate(articles) for s in article_sentences(index, article.paragraphs)]


def statement_sections(articles: Sequence[Article], sections: Sequence[SectionConfig]) -> dict[tuple[int, str], int]:
    """Which section each sentence of the articles goes to: {(article index, sentence): section index}.

    For comparing other ways of choosing sentences under the same assignment (benchmarks).
    """
    sentences = _sentences(articles)
    assigner = SectionAssigner(sentences, [(s.title, s.keywords) for s in sections], [a.title for a in articles])
    found = {}
    for index, sentence in enumerate(sentences):
        section = assigner.section_of(index)
        if section is not None:
            found[(sentence.article, sentence.text)] = section
    return found


def _candidates(
    articles: Sequence[Article], sentences: list[Sentence], assigner: SectionAssigner, year: int, stale_urls: frozenset[str]
) -> list[_Candidate]:
    found = []
    earlier: defaultdict[tuple[int, int], set[int]] = defaultdict(set)  # (article, section) -> paragraphs with candidates
    for index, sentence in enumerate(sentences):
        if sentence.shown is None or is_background(sentence.shown, year) or not states_news(sentence.shown):
            continue
        joined = index > 0 and sentence.shown != sentence.text and sentence.shown.endswith(sentence.text)
        section = assigner.section_of(index)
        if section is None and joined:
            section = assigner.section_of(index - 1)  # joined with the sentence before: its topic too
        if section is None:
            continue
        lead = articles[sentence.article].via is None
        relevance = assigner.relevance_of(index, section)
        if joined:
            relevance = max(relevance, assigner.relevance_of(index - 1, section))
        relevance = min(relevance, RELEVANCE_CAP)
        # The inverted pyramid holds per topic: the lead article's first paragraph on a section's topic
        # holds its main fact on it, even deep in the article. A related page is about its own topic: what
        # it says in passing on another section's (often a recap of the lead story) ranks by its place.
        paragraphs_before = earlier[(sentence.article, section)] - {sentence.paragraph}
        earlier[(sentence.article, section)].add(sentence.paragraph)
        home = assigner.home_of(sentence.article)
        side_mention = not lead and home is not None and home != section
        depth = sentence.depth if side_mention else len(paragraphs_before)
        score = newsworthiness(sentence.shown, depth=depth, lede=sentence.lede, lead_article=lead)
        found.append(
            _Candidate(
                text=sentence.shown,
                sentence=sentence,
                section=section,
                score=score + RELEVANCE_WEIGHT * relevance,
                print=fingerprint(sentence.shown),
                stale=articles[sentence.article].url in stale_urls,
                side_mention=side_mention,
            )
        )
    return found


def _shortlist(candidates: list[_Candidate], sections: Sequence[SectionConfig], sent: History) -> list[_Candidate]:
    """The best few candidates of each section not sent before, unique texts only, in ranking order."""
    by_section: list[list[_Candidate]] = [[] for _ in sections]
    seen: set[str] = set()
    for candidate in sorted(candidates, key=lambda c: c.rank_key):
        section = sections[candidate.section]
        if candidate.text in seen or len(by_section[candidate.section]) >= max(
            SHORTLIST_PER_ITEM * section.max_items, SHORTLIST_MIN
        ):
            continue
        seen.add(candidate.text)
        if not sent.repeats(candidate.text, candidate.print):
            by_section[candidate.section].append(candidate)
    return sorted((c for shortlist in by_section for c in shortlist), key=lambda c: c.rank_key)


def _choose(
    shortlist: list[_Candidate], sections: Sequence[SectionConfig], similarity: Similarity
) -> list[list[_Chosen]]:
    chosen: list[list[_Chosen]] = [[] for _ in sections]
    remaining = [
        c for c in shortlist if c.score >= QUALITY_FLOOR and display_score(c.score) >= sections[c.section].min_score
    ]
    leftovers: list[_Candidate] = []
    while remaining:
        def adjusted(c: _Candidate) -> float:
            picked = chosen[c.section]
            said_terms = frozenset().union(*(p.candidate.print.terms for p in picked))
            said_figures = frozenset().union(*(p.candidate.print.figures for p in picked))
            return c.score - REDUNDANCY_PENALTY * similarity.covered(c.print, said_terms, said_figures)

        open_sections = [c for c in remaining if len(chosen[c.section]) < sections[c.section].max_items]
        if not open_sections:
            leftovers.extend(remaining)
            break
        best = max(open_sections, key=lambda c: (-c.tier, adjusted(c), -c.article, -c.sentence.position))
        remaining.remove(best)
        twin = _same_as(best, chosen, similarity)
        if twin is not None:
            if best.article != twin.candidate.article and best.article not in twin.also:
                twin.also.append(best.article)
            continue
        if best.stale:
            continue  # yesterday's story: it may credit a new bullet (above), never fill a section
        picked = chosen[best.section]
        said_terms = frozenset().union(*(p.candidate.print.terms for p in picked))
        said_figures = frozenset().union(*(p.candidate.print.figures for p in picked))
        mostly = SIDE_MENTION_SAID if best.side_mention else MOSTLY_SAID
        if picked and similarity.covered(best.print, said_terms, said_figures) >= mostly:
            continue
        chosen[best.section].append(_Chosen(best))
    for candidate in leftovers:
        twin = _same_as(candidate, chosen, similarity)
        if twin is not None and candidate.article != twin.candidate.article and candidate.article not in twin.also:
            twin.also.append(candidate.article)
    return chosen


def _same_as(candidate: _Candidate, chosen: list[list[_Chosen]], similarity: Similarity) -> _Chosen | None:
    for picked in chosen:
        for item in picked:
            headlines = candidate.sentence.lede and item.candidate.sentence.lede and candidate.article != item.candidate.article
            if similarity.same_statement(candidate.print, item.candidate.print, headlines=headlines):
                return item
    return None


def _title(article: Article) -> str:
    return article.title.strip() or article.url


def publisher_name(article: Article) -> str:
    """The outlet to credit: the page's own site name, else its host without "www."; "" for a local file."""
    if article.sitename and article.sitename.strip():
        return " ".join(article.sitename.split())
    return host_label(article.url)


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
    stale_urls: frozenset[str] = frozenset(),
    past_sections: Mapping[str, Sequence[str]] | None = None,
) -> Digest:
    """Build the digest of one edition from its articles. Pure; raises nothing of its own.

    `history` holds the statements (bullet texts) already sent in recent editions: a sentence
    saying the same again is left out unless its figures changed, so a section may come out empty.
    `stale_urls` names the articles that went unchanged into a sent edition: their statements are
    not news any more and are shown only as `also` sources of a new statement saying the same, so a
    section with no new statement comes out empty. `past_sections` holds, per section title, the
    statements sent under it lately: they teach the section its words, as the day's clear matches do.
    """
    sentences = _sentences(articles)
    past = past_sections or {}
    assigner = SectionAssigner(
        sentences,
        [(s.title, s.keywords) for s in sections],
        [a.title for a in articles],
        past=[past.get(s.title, ()) for s in sections],
    )
    similarity = Similarity(assigner.idf)
    candidates = _candidates(articles, sentences, assigner, now.year, stale_urls)
    shortlist = _shortlist(candidates, sections, History(history, similarity))
    chosen = _choose(shortlist, sections, similarity)
    logger.debug(
        "condense: %d articles, %d sentences, %d candidates, %d shortlisted (not sent before)",
        len(articles), len(sentences), len(candidates), len(shortlist),
    )
    built = []
    for index, section in enumerate(sections):
        bullets = tuple(
            Bullet(
                item.candidate.text,
                source_ref(articles[item.candidate.article]),
                tuple(source_ref(articles[a]) for a in item.also),
            )
            for item in chosen[index]
        )
        built.append(Section(title=section.title, bullets=bullets))
    reports = tuple(SourceReport(url=a.url, title=_title(a), status="ok") for a in articles) + tuple(
        SourceReport(url=f.url, title=f.url, status="error", reason=f.reason) for f in failures
    )
    return Digest(edition=edition, title=title, generated_at=now, sections=tuple(built), sources=reports)
