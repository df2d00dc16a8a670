"""Which section a sentence belongs to, from a title and a few keywords, on any topic.

1. Seeds. A section's title words and keywords, stemmed ("satellites" matches "satellite"); a
   keyword of several words matches as a phrase. A seed weighs its idf over the day's sentences
   (rare words say more), divided by the number of sections sharing it.
2. Expansion (pseudo-relevance feedback). The sentences that match one section's seeds clearly
   (and no other section's as well) are read as examples of it: words found in at least two of
   them join the section's vocabulary, weighted by how often they occur there, their idf, and the
   square of their share among all sections' examples, so a word common to two sections'
   examples counts for little.
3. Relevance. A sentence's relevance to a section sums the weights of the seeds and expansion
   words it holds, strongest first, the k-th divided by sqrt(k); a little of its paragraph's
   and article's relevance is added, so a sentence leans towards the topic of its neighbours.
4. Assignment. The sentence goes to the section it is most relevant to, when that relevance
   reaches a floor, owes something to a seed or to two expansion words (never to one word shared
   with the runner-up alone), and beats the runner-up by a margin. Otherwise it goes nowhere.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from digest.condense.text import STOP_WORDS, Sentence, stem, words

TITLE_WORD_SHARE = 0.5
FEEDBACK_SENTENCES = 12  # at most this many clear examples per section feed the expansion
FEEDBACK_MIN_DF = 2  # a word must occur in this many examples to join the vocabulary
EXPANSION_TERMS = 25
EXPANSION_CAP = 0.6  # one expansion word is worth at most this fraction of an average seed
PARAGRAPH_CONTEXT = 0.25
ARTICLE_CONTEXT = 0.45
RELEVANCE_FLOOR = 0.75  # in units of an average seed match
MARGIN = 1.25  # the winner must beat the runner-up by this factor


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """One section's weighted words: single stems and phrases (tuples of stems)."""

    terms: dict[str, float]
    phrases: dict[tuple[str, ...], float]
    seeds: frozenset[str]  # stems that came from the title or keywords (phrase words included)


def seed_phrases(title: str, keywords: Sequence[str]) -> dict[tuple[str, ...], float]:
    """The section's keywords and title as stem sequences, each with its share of a full seed's weight.

    A keyword and the whole title count fully; a single word of a longer title counts half, as it is
    often a general word ("market" in "Housing market"). Stop words in the title are skipped.
    """
    title_words = [stem(w) for w in words(title) if w not in STOP_WORDS and len(w) > 1]
    phrases: dict[tuple[str, ...], float] = {(w,): TITLE_WORD_SHARE for w in title_words}
    if title_words:
        phrases[tuple(stem(w) for w in words(title))] = 1.0
    for keyword in keywords:
        stemmed = tuple(stem(w) for w in words(keyword))
        if stemmed:
            phrases[stemmed] = 1.0
    return phrases


def _is_term(phrase: tuple[str, ...]) -> bool:
    """One content word; a stop word given as a keyword is matched like a phrase, against every word."""
    return len(phrase) == 1 and phrase[0] not in STOP_WORDS


def _idf(sentences: Sequence[Sentence]) -> dict[str, float]:
    df: Counter[str] = Counter()
    for sentence in sentences:
        df.update(sentence.terms)
    total = len(sentences)
    return {term: math.log((1 + total) / (1 + count)) + 1.0 for term, count in df.items()}


def _phrase_in(phrase: tuple[str, ...], sequence: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(sequence[i:i + size] == phrase for i in range(len(sequence) - size + 1))


def _diminishing(values: list[float]) -> float:
    values.sort(reverse=True)
    return sum(value / math.sqrt(rank) for rank, value in enumerate(values, start=1))


class SectionAssigner:
    """Built once from the day's sentences; tells each sentence's section (or None)."""

    def __init__(self, sentences: Sequence[Sentence], sections: Sequence[tuple[str, Sequence[str]]]) -> None:
        self.sentences = sentences
        self.idf = _idf(sentences)
        default_idf = math.log(1 + len(sentences)) + 1.0
        seeds = [seed_phrases(title, keywords) for title, keywords in sections]
        sharing = Counter(phrase for phrases in seeds for phrase in set(phrases))

        def phrase_idf(phrase: tuple[str, ...]) -> float:
            content = [s for s in phrase if s not in STOP_WORDS] or list(phrase)
            return max(self.idf.get(s, default_idf) for s in content)

        all_seed_idfs = [phrase_idf(p) for phrases in seeds for p in phrases]
        self.unit = sum(all_seed_idfs) / len(all_seed_idfs) if all_seed_idfs else 1.0
        seed_vocabularies = [
            Vocabulary(
                terms={p[0]: share * phrase_idf(p) / sharing[p] / self.unit for p, share in phrases.items() if _is_term(p)},
                phrases={p: share * phrase_idf(p) / sharing[p] / self.unit for p, share in phrases.items() if not _is_term(p)},
                seeds=frozenset(s for p in phrases for s in p),
            )
            for phrases in seeds
        ]
        seed_scores = [[self._own(sentence, v) for v in seed_vocabularies] for sentence in sentences]
        self.vocabularies = self._expand(seed_vocabularies, seed_scores)
        own = [[self._own(sentence, v) for v in self.vocabularies] for sentence in sentences]
        self.relevance = self._with_context(own)
        self.evidence = [self._evidence(sentence) for sentence in sentences]

    def _own(self, sentence: Sentence, vocabulary: Vocabulary) -> float:
        matched = [weight for term, weight in vocabulary.terms.items() if term in sentence.terms]
        matched += [weight for phrase, weight in vocabulary.phrases.items() if _phrase_in(phrase, sentence.stems)]
        return _diminishing(matched) if matched else 0.0

    def _expand(self, seeded: list[Vocabulary], scores: list[list[float]]) -> list[Vocabulary]:
        """Each section's vocabulary grown from the sentences that clearly match its seeds."""
        sections = len(seeded)
        examples: list[list[Sentence]] = []
        for index in range(sections):
            clear = [
                (row[index], sentence.position, sentence)
                for sentence, row in zip(self.sentences, scores, strict=True)
                if row[index] > 0 and row[index] >= 2 * max((v for i, v in enumerate(row) if i != index), default=0.0)
            ]
            clear.sort(key=lambda item: (-item[0], item[2].article, item[1]))
            examples.append([sentence for _, _, sentence in clear[:FEEDBACK_SENTENCES]])
        mass: list[dict[str, float]] = []
        for chosen in examples:
            df: Counter[str] = Counter(term for sentence in chosen for term in sentence.terms)
            mass.append({t: n / len(chosen) for t, n in df.items() if n >= FEEDBACK_MIN_DF} if chosen else {})
        total_mass: defaultdict[str, float] = defaultdict(float)
        for masses in mass:
            for term, value in masses.items():
                total_mass[term] += value
        expanded = []
        for index, vocabulary in enumerate(seeded):
            gains = {
                term: min(EXPANSION_CAP, value * (value / total_mass[term]) ** 2 * self.idf[term] / self.unit)
                for term, value in mass[index].items()
                if term not in vocabulary.seeds and not term.isdigit()
            }
            best = sorted(gains.items(), key=lambda item: (-item[1], item[0]))[:EXPANSION_TERMS]
            expanded.append(Vocabulary({**dict(best), **vocabulary.terms}, vocabulary.phrases, vocabulary.seeds))
        return expanded

    def _with_context(self, own: list[list[float]]) -> list[list[float]]:
        """Own relevance plus a little of the paragraph's and the article's."""
        sections = len(self.vocabularies)
        paragraph_sum: defaultdict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0] * sections)
        paragraph_size: Counter[tuple[int, int]] = Counter()
        article_sum: defaultdict[int, list[float]] = defaultdict(lambda: [0.0] * sections)
        article_size: Counter[int] = Counter()
        for sentence, row in zip(self.sentences, own, strict=True):
            key = (sentence.article, sentence.paragraph)
            paragraph_size[key] += 1
            article_size[sentence.article] += 1
            for i, value in enumerate(row):
                paragraph_sum[key][i] += value
                article_sum[sentence.article][i] += value
        combined = []
        for sentence, row in zip(self.sentences, own, strict=True):
            key = (sentence.article, sentence.paragraph)
            others = max(paragraph_size[key] - 1, 1)
            combined.append([
                value
                + PARAGRAPH_CONTEXT * (paragraph_sum[key][i] - value) / others
                + ARTICLE_CONTEXT * article_sum[sentence.article][i] / article_size[sentence.article]
                for i, value in enumerate(row)
            ])
        return combined

    def _evidence(self, sentence: Sentence) -> list[set[str]]:
        """Per section, the seeds and expansion words the sentence holds (phrases as their stems)."""
        found = []
        for vocabulary in self.vocabularies:
            held = {term for term in vocabulary.terms if term in sentence.terms}
            held |= {" ".join(p) for p in vocabulary.phrases if _phrase_in(p, sentence.stems)}
            found.append(held)
        return found

    def section_of(self, index: int) -> int | None:
        """The section of the index-th sentence, or None when it belongs to none."""
        row = self.relevance[index]
        if not row:
            return None
        best = max(range(len(row)), key=lambda i: (row[i], -i))
        runner_up = max((v for i, v in enumerate(row) if i != best), default=0.0)
        if row[best] < RELEVANCE_FLOOR or row[best] < MARGIN * runner_up:
            return None
        evidence = self.evidence[index]
        vocabulary = self.vocabularies[best]
        own = evidence[best]
        seeds = {term for term in own if term in vocabulary.seeds or " " in term}
        shared = set().union(*(evidence[i] for i in range(len(row)) if i != best))
        distinct = own - shared
        if not distinct:
            return None  # only words another section holds too: no word decides alone
        if not seeds and len(own) < 2:
            return None
        return best

    def relevance_of(self, index: int, section: int) -> float:
        return self.relevance[index][section]
