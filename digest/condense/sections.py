"""Which section a sentence belongs to, from a title and a few keywords, on any topic.

1. Seeds. A section's title words and keywords, stemmed ("satellites" matches "satellite"); a
   keyword of several words matches as a phrase, and found only in part its best word counts half
   (never as a seed that decides alone, nor as an example the expansion learns from). A seed weighs its idf over the day's sentences
   (rare words say more), divided by the number of sections sharing it.
2. Expansion (pseudo-relevance feedback). The sentences that match one section's seeds clearly
   (and no other section's as well) are read as examples of it: words found in at least two of
   them join the section's vocabulary, weighted by how often they occur there, their idf, and the
   square of their share among all sections' examples, so a word common to two sections'
   examples counts for little.
3. Relevance. A sentence's own relevance to a section sums the weights of the seeds and expansion
   words it holds, strongest first, the k-th divided by sqrt(k); a word found only in a trailing
   side clause (", with most of the rise going to ...") counts half. Half of the average of its
   paragraph's other sentences and 0.45 of its article's average are added.
4. Assignment, in order:
   - by its own words: the section it is most relevant to, when that relevance reaches a floor,
     owes something to a seed or to two expansion words (never to one word shared with the
     runner-up alone), and beats the runner-up by a margin;
   - else by its paragraph: the section the paragraph's other sentences are clearly about, when
     its relevance with context agrees and its own words make no case for another section;
   - else by its article: the section the article's headline and first paragraph are clearly
     about (a headline fact needs no keyword of its own), when the sentence hangs together with
     the article (shares a word with its headline, first paragraph or neighbouring paragraphs)
     and its own words make no case for another section;
   - else none.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from digest.condense.text import STOP_WORDS, Sentence, content_terms, stem, stems, topical_text, words

# "this week", "on Monday": every story has them, so sharing one says nothing about what it is about.
CALENDAR_WORDS = frozenset(stem(w) for w in (
    "day", "days", "today", "yesterday", "tomorrow", "week", "weeks", "weekend", "month", "months", "year", "years",
    "morning", "afternoon", "evening", "night", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday",
))
TITLE_WORD_SHARE = 0.5
PART_WORD_SHARE = 0.5  # one word of a keyword of several words, found without the rest
FEEDBACK_SENTENCES = 12  # at most this many clear examples per section feed the expansion
FEEDBACK_MIN_DF = 2  # a word must occur in this many examples to join the vocabulary
EXPANSION_TERMS = 25
EXPANSION_CAP = 0.6  # one expansion word is worth at most this fraction of an average seed
PARAGRAPH_CONTEXT = 0.5  # a paragraph is the unit of one topic in news copy: it weighs as half a sentence's own words
ARTICLE_CONTEXT = 0.45
ASIDE_SHARE = 0.5  # a word only in a trailing side clause (", with most going to ...") counts half
RELEVANCE_FLOOR = 0.75  # in units of an average seed match
MARGIN = 1.25  # the winner must beat the runner-up by this factor


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """One section's weighted words: single stems and phrases (tuples of stems)."""

    terms: dict[str, float]
    phrases: dict[tuple[str, ...], float]
    seeds: frozenset[str]  # stems that came from the title or keywords (phrase words included)
    # A keyword of several words, when only part of it is found: its best content word counts half
    # ("waiting" of "waiting list" in "patients waiting more than a year"), never two of them.
    partials: dict[tuple[str, ...], dict[str, float]] = field(default_factory=dict)


def seed_phrases(title: str, keywords: Sequence[str]) -> dict[tuple[str, ...], float]:
    """The section's keywords and title as stem sequences, each with its share of a full seed's weight.

    A keyword and the whole title count fully; a single word of a longer title counts half, as it is
    often a general word ("market" in "Housing market"). Stop words in the title are skipped. A
    phrase's last word also stands in its singular and plural forms, where the stemmer keeps them
    apart ("Buses" stems to "buse", "bus" to "bus").
    """
    phrases: dict[tuple[str, ...], float] = {}

    def add(word_list: list[str], share: float) -> None:
        head = tuple(stem(w) for w in word_list[:-1])
        for last in _number_forms(word_list[-1]):
            phrases[(*head, last)] = max(share, phrases.get((*head, last), 0.0))

    title_words = [w for w in words(title) if w not in STOP_WORDS and len(w) > 1]
    for word in title_words:
        add([word], TITLE_WORD_SHARE)
    if title_words:
        add(words(title), 1.0)
    for keyword in keywords:
        if words(keyword):
            add(words(keyword), 1.0)
    return phrases


def _number_forms(word: str) -> dict[str, None]:
    """The stems of a word as given, its singular and its plural (ordered, without repeats)."""
    sibilant = ("s", "x", "z", "ch", "sh")
    forms = [word]
    if not word.endswith("s"):
        forms.append(f"{word}es" if word.endswith(sibilant) else f"{word}s")
    elif word.endswith("es") and word[:-2].endswith(sibilant) and len(word) >= 5:
        forms.append(word[:-2])  # buses -> bus, taxes -> tax
    elif not word.endswith("ss") and len(word) >= 5:
        forms.append(word[:-1])  # flights -> flight; never news -> new
    return dict.fromkeys(stem(form) for form in forms)


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


def _partials(
    phrases: dict[tuple[str, ...], float], weight_of: Callable[[str], float]
) -> dict[tuple[str, ...], dict[str, float]]:
    """Per keyword of several words, the weight each of its content words has when found alone."""
    return {
        phrase: {part: PART_WORD_SHARE * weight_of(part) for part in phrase if part not in STOP_WORDS and len(part) > 1}
        for phrase in phrases
        if len(phrase) > 1
    }


def _partial_matches(
    terms: frozenset[str], sequence: tuple[str, ...], vocabulary: Vocabulary
) -> list[tuple[str, float]]:
    """For each keyword of several words found only in part, its best word found and that word's weight."""
    found = []
    for phrase, parts in vocabulary.partials.items():
        if _phrase_in(phrase, sequence):
            continue
        held = [(weight, part) for part, weight in parts.items() if part in terms and part not in vocabulary.terms]
        if held:
            weight, part = max(held)
            found.append((part, weight))
    return found


def _diminishing(values: list[float]) -> float:
    values.sort(reverse=True)
    return sum(value / math.sqrt(rank) for rank, value in enumerate(values, start=1))


class SectionAssigner:
    """Built once from the day's sentences; tells each sentence's section (or None)."""

    def __init__(
        self,
        sentences: Sequence[Sentence],
        sections: Sequence[tuple[str, Sequence[str]]],
        titles: Sequence[str] = (),
        past: Sequence[Sequence[str]] = (),
    ) -> None:
        """`past`, per section, the statements sent under it lately: examples to learn its words from."""
        self.sentences = sentences
        self.idf = _idf(sentences)
        default_idf = math.log(1 + len(sentences)) + 1.0
        seeds = [seed_phrases(title, keywords) for title, keywords in sections]
        sharing = Counter(phrase for phrases in seeds for phrase in set(phrases))

        def phrase_idf(phrase: tuple[str, ...]) -> float:
            content = [s for s in phrase if s not in STOP_WORDS] or list(phrase)
            return max(self.idf.get(s, default_idf) for s in content)

        sharing_of_part = Counter(stem for phrases in seeds for stem in {s for p in phrases if len(p) > 1 for s in p})
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
        # Only whole seeds pick the examples that vocabulary is learnt from; a keyword's part is weaker evidence.
        seed_scores = [[self._own(sentence, v) for v in seed_vocabularies] for sentence in sentences]
        past_terms = [[content_terms(topical_text(text)) for text in said] for said in past] or [[] for _ in sections]
        self.vocabularies = [
            replace(v, partials=_partials(phrases, lambda s: self.idf.get(s, default_idf) / sharing_of_part[s] / self.unit))
            for v, phrases in zip(self._expand(seed_vocabularies, seed_scores, past_terms), seeds, strict=True)
        ]
        own = [[self._own(sentence, v) for v in self.vocabularies] for sentence in sentences]
        self.own = own
        self.topics = self._topics(own, titles)
        self.homes = {article: self._clear_winner(row) for article, row in self.topics.items()}
        self.paragraph_topics = self._paragraph_topics()
        self.cohesive = self._cohesion(titles)
        self.relevance = self._with_context(own)
        self.evidence = [self._evidence(sentence) for sentence in sentences]

    def _own(self, sentence: Sentence, vocabulary: Vocabulary) -> float:
        return self._match(sentence.terms, sentence.stems, vocabulary, sentence.aside)

    @staticmethod
    def _match(
        terms: frozenset[str], sequence: tuple[str, ...], vocabulary: Vocabulary, aside: frozenset[str] = frozenset()
    ) -> float:
        matched = [weight * (ASIDE_SHARE if term in aside else 1.0) for term, weight in vocabulary.terms.items() if term in terms]
        matched += [weight for phrase, weight in vocabulary.phrases.items() if _phrase_in(phrase, sequence)]
        matched += [weight for _, weight in _partial_matches(terms, sequence, vocabulary)]
        return _diminishing(matched) if matched else 0.0

    def _expand(
        self, seeded: list[Vocabulary], scores: list[list[float]], past: Sequence[Sequence[frozenset[str]]]
    ) -> list[Vocabulary]:
        """Each section's vocabulary grown from the sentences that clearly match its seeds, and from the
        statements sent under it lately (the editor's own past choices), words of today's text only."""
        sections = len(seeded)
        examples: list[list[frozenset[str]]] = []
        for index in range(sections):
            clear = [
                (row[index], sentence.position, sentence)
                for sentence, row in zip(self.sentences, scores, strict=True)
                if row[index] > 0 and row[index] >= 2 * max((v for i, v in enumerate(row) if i != index), default=0.0)
            ]
            clear.sort(key=lambda item: (-item[0], item[2].article, item[1]))
            today = [sentence.terms for _, _, sentence in clear[:FEEDBACK_SENTENCES]]
            examples.append(today + [terms & self.idf.keys() for terms in past[index][:FEEDBACK_SENTENCES]])
        mass: list[dict[str, float]] = []
        for chosen in examples:
            df: Counter[str] = Counter(term for terms in chosen for term in terms)
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

    def _topics(self, own: list[list[float]], titles: Sequence[str]) -> dict[int, list[float]]:
        """What each article is about: the relevance of its headline plus the average of its first paragraph's."""
        sections = len(self.vocabularies)
        lead_sum: defaultdict[int, list[float]] = defaultdict(lambda: [0.0] * sections)
        lead_size: Counter[int] = Counter()
        for sentence, row in zip(self.sentences, own, strict=True):
            if sentence.depth == 0:
                lead_size[sentence.article] += 1
                for i, value in enumerate(row):
                    lead_sum[sentence.article][i] += value
        topics = {}
        for article in {sentence.article for sentence in self.sentences}:
            title = titles[article] if article < len(titles) else ""
            terms, sequence = content_terms(title), stems(title)
            title_row = [self._match(terms, sequence, v) for v in self.vocabularies]
            size = max(lead_size[article], 1)
            topics[article] = [t + lead / size for t, lead in zip(title_row, lead_sum[article], strict=True)]
        return topics

    def _cohesion(self, titles: Sequence[str]) -> list[bool]:
        """Per sentence: whether it shares a word with its article's headline, first paragraph, own paragraph
        or the paragraphs either side (all its words count here, who said it included)."""
        words_of = [content_terms(sentence.text) - CALENDAR_WORDS for sentence in self.sentences]
        in_paragraph: defaultdict[tuple[int, int], Counter[str]] = defaultdict(Counter)
        first_paragraph: dict[int, int] = {}
        for sentence, terms in zip(self.sentences, words_of, strict=True):
            in_paragraph[(sentence.article, sentence.paragraph)].update(terms)
            if sentence.depth == 0:
                first_paragraph.setdefault(sentence.article, sentence.paragraph)
        found = []
        for sentence, terms in zip(self.sentences, words_of, strict=True):
            article, paragraph = sentence.article, sentence.paragraph
            own_paragraph = in_paragraph[(article, paragraph)]
            nearby = {term for term in terms if own_paragraph[term] > 1}  # another sentence there has it
            nearby |= content_terms(titles[article]) if article < len(titles) else frozenset()
            for other in (first_paragraph.get(article), paragraph - 1, paragraph + 1):
                if other is not None and other != paragraph:
                    nearby |= set(in_paragraph.get((article, other), ()))
            found.append(bool(terms & nearby))
        return found

    def _clear_winner(self, row: list[float]) -> int | None:
        if not row:
            return None
        best = max(range(len(row)), key=lambda i: (row[i], -i))
        runner_up = max((v for i, v in enumerate(row) if i != best), default=0.0)
        if row[best] < RELEVANCE_FLOOR or row[best] < MARGIN * runner_up:
            return None
        return best

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
            held |= {f"~{part}" for part, _ in _partial_matches(sentence.terms, sentence.stems, vocabulary)}
            found.append(held)
        return found

    def section_of(self, index: int) -> int | None:
        """The section of the index-th sentence, or None when it belongs to none."""
        row = self.relevance[index]
        best = self._clear_winner(row)
        found = self._by_own_words(index, best) if best is not None else None
        if found is not None:
            return found
        paragraph = self.paragraph_topics[index]
        if paragraph is not None and best == paragraph and self._leans_nowhere_else(index, paragraph):
            return paragraph  # its own words do not decide: the rest of its paragraph clearly does
        home = self.homes[self.sentences[index].article]
        if home is not None and best in (None, home) and self._inherits(index, home):
            return home
        return None

    def _by_own_words(self, index: int, best: int) -> int | None:
        """`best` when the sentence's own words back it: a seed, or two learnt words, not all shared with another section."""
        row = self.relevance[index]
        evidence = self.evidence[index]
        vocabulary = self.vocabularies[best]
        own = evidence[best]
        seeds = {term for term in own if term in vocabulary.seeds or " " in term}
        shared = set().union(*(evidence[i] for i in range(len(row)) if i != best))
        distinct = own - shared
        if not distinct:
            return None  # only words another section holds too: no word decides alone
        learnt = {term for term in own if not term.startswith("~")}  # a part of a keyword is no learnt word
        if not seeds and len(learnt) < 2:
            return None
        return best

    def _inherits(self, index: int, section: int) -> bool:
        """Whether the sentence may take its article's topic `section`.

        A headline fact needs no keyword of its own, but the sentence must hang together with its article
        (share a word with its headline, its first paragraph or the paragraphs around it: an unrelated
        paragraph dropped into a page does not), and its own words must make no case for another section.
        """
        return self._leans_nowhere_else(index, section) and self.cohesive[index]

    def _leans_nowhere_else(self, index: int, section: int) -> bool:
        """Whether the sentence's own words make no case for a section other than `section`."""
        return all(value < RELEVANCE_FLOOR for other, value in enumerate(self.own[index]) if other != section)

    def _paragraph_topics(self) -> list[int | None]:
        """Per sentence: the section the other sentences of its paragraph are clearly about, on average."""
        sums: defaultdict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0] * len(self.vocabularies))
        sizes: Counter[tuple[int, int]] = Counter()
        for sentence, row in zip(self.sentences, self.own, strict=True):
            key = (sentence.article, sentence.paragraph)
            sizes[key] += 1
            for i, value in enumerate(row):
                sums[key][i] += value
        found: list[int | None] = []
        for sentence, row in zip(self.sentences, self.own, strict=True):
            key = (sentence.article, sentence.paragraph)
            others = sizes[key] - 1
            found.append(
                self._clear_winner([(total - value) / others for total, value in zip(sums[key], row, strict=True)])
                if others else None
            )
        return found

    def home_of(self, article: int) -> int | None:
        """The section an article is clearly about, from its headline and first paragraph; None when unclear."""
        return self.homes.get(article)

    def relevance_of(self, index: int, section: int) -> float:
        return self.relevance[index][section]
