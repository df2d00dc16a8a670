"""When two statements say the same thing: across today's sources, and against recent editions.

Two statements are compared on their content words (stemmed, weighted by idf over the day's
sentences) and their figures. They are the same statement when they share an amount (not a bare
year) and 35% of the smaller one's weight (20% for two articles' first statements, where each outlet
puts the day's main fact), whatever other figures each adds (two outlets rarely quote the same side
figures); or when their figures agree (one's set of figures holds the other's)
and they share 45% of their joint weight, or 70% of the smaller one's.
A statement sent in a recent edition is a repeat when a candidate says the same, states no figure
the sent one did not ("rose to 5.2%, up from 5.1%" is news after "rose to 5.1%") and, when it
states no amount, half of its weight was in the sent statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from digest.condense.text import content_terms, figures, is_year

SHARED_AMOUNT_OVERLAP = 0.35
# Two articles' first statements sharing an amount are the day's headline fact told by two outlets,
# each in its own words ("2,000 homes were flooded" / "flooded more than 2,000 properties").
HEADLINE_SHARED_AMOUNT_OVERLAP = 0.2
SAME_JACCARD = 0.45
SAME_OVERLAP = 0.70
# With no amount to tie it to a sent statement, a candidate repeats it only when at least half of what
# it says (by weight) was said: topic words alone make a new act on the same subject look the same.
REPEAT_SAID = 0.5
FIGURE_WEIGHT = 2.0  # a shared figure weighs this many times the rarest word's idf


@dataclass(frozen=True, slots=True)
class Fingerprint:
    terms: frozenset[str]
    figures: frozenset[str]

    @property
    def amounts(self) -> frozenset[str]:
        return frozenset(f for f in self.figures if not is_year(f))


def fingerprint(text: str) -> Fingerprint:
    return Fingerprint(content_terms(text), figures(text))


class Similarity:
    """Compares statements with the day's idf weights; unknown words weigh as the rarest."""

    def __init__(self, idf: Mapping[str, float]) -> None:
        self.idf = idf
        self.rare = max(idf.values(), default=1.0)

    def weight(self, terms: Iterable[str]) -> float:
        return sum(self.idf.get(term, self.rare) for term in terms)

    def _weights(self, a: Fingerprint, b: Fingerprint) -> tuple[float, float, float, float]:
        figure = FIGURE_WEIGHT * self.rare
        shared = self.weight(a.terms & b.terms) + figure * len(a.figures & b.figures)
        total_a = self.weight(a.terms) + figure * len(a.figures)
        total_b = self.weight(b.terms) + figure * len(b.figures)
        union = total_a + total_b - shared
        return shared, total_a, total_b, union

    def same_statement(self, a: Fingerprint, b: Fingerprint, *, headlines: bool = False) -> bool:
        """Whether two statements report the same thing (see the module docstring); `headlines` when both
        are the first statements of their articles."""
        shared, total_a, total_b, union = self._weights(a, b)
        if shared == 0:
            return False
        overlap = shared / min(total_a, total_b)
        enough = HEADLINE_SHARED_AMOUNT_OVERLAP if headlines else SHARED_AMOUNT_OVERLAP
        if a.amounts & b.amounts and overlap >= enough:
            return True  # the same amount said of the same things, whatever else each adds
        if not (a.figures <= b.figures or b.figures <= a.figures):
            return False
        return shared / union >= SAME_JACCARD or overlap >= SAME_OVERLAP

    def covered(self, a: Fingerprint, terms: frozenset[str], stated: frozenset[str]) -> float:
        """The share of a statement's weight already said by others (their words and figures)."""
        figure = FIGURE_WEIGHT * self.rare
        total = self.weight(a.terms) + figure * len(a.figures)
        if total == 0:
            return 1.0
        return (self.weight(a.terms & terms) + figure * len(a.figures & stated)) / total


class History:
    """The statements of recent editions, indexed by word so a candidate meets only its likely matches."""

    def __init__(self, statements: Sequence[str], similarity: Similarity) -> None:
        self.similarity = similarity
        self.sent = [fingerprint(text) for text in statements]
        self.exact = frozenset(" ".join(text.split()) for text in statements)
        self.by_term: defaultdict[str, list[int]] = defaultdict(list)
        for index, sent in enumerate(self.sent):
            for term in sent.terms:
                self.by_term[term].append(index)

    def repeats(self, text: str, candidate: Fingerprint) -> bool:
        """Whether the candidate says what a sent statement said, with no new figure."""
        if " ".join(text.split()) in self.exact:
            return True
        nearby = {index for term in candidate.terms for index in self.by_term.get(term, ())}
        return any(
            candidate.figures <= self.sent[index].figures
            and self.similarity.same_statement(candidate, self.sent[index])
            and (
                bool(candidate.amounts)
                or self.similarity.covered(candidate, self.sent[index].terms, self.sent[index].figures) >= REPEAT_SAID
            )
            for index in sorted(nearby)
        )
