"""Condense speed: 200 pages of about 1,000 words, against splitting the same pages into sentences.

The pages are the real article texts of the extraction benchmark's two splits (121 articles, the
ground truth bodies), their paragraphs taken in a fixed order until each page holds about 1,000
words. condense runs on the first 50, 100 and 200 pages with the bundled sample's sections. In
the same run, two references: `split_sentences` over the same pages (the least any sentence picker
must do) and LexRank (`sumy`, under digest's splitter) summarising each page on its own.

    python benchmarks/condense_speed.py

Targets (baseline.json "condense_speed"): at most max_ms_per_page per page at 200 pages, and
time(200 pages) / time(100 pages) at most max_growth_200_vs_100 (roughly linear).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make the checkout and the other benchmarks importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(1, str(Path(__file__).resolve().parent))

from digest.condense import condense, split_sentences
from digest.config import default_sections
from digest.models import Article

HERE = Path(__file__).resolve().parent
SPLITS = (HERE / "data" / "article-extraction", HERE / "data" / "article-extraction-validation")
PAGES = 200
WORDS_PER_PAGE = 1000
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def bodies() -> list[str]:
    found: list[str] = []
    for split in SPLITS:
        truth = json.loads((split / "ground-truth.json").read_text(encoding="utf-8"))
        found.extend(entry["articleBody"].strip() for _, entry in sorted(truth.items()) if entry["articleBody"].strip())
    return found


def pages(texts: list[str]) -> list[Article]:
    """PAGES articles of about WORDS_PER_PAGE words each, every one a different run of the real paragraphs."""
    paragraphs = [p.strip() for text in texts for p in text.split("\n") if len(p.split()) >= 5]
    made = []
    start = 0
    for number in range(PAGES):
        parts: list[str] = []
        index = start
        while sum(len(p.split()) for p in parts) < WORDS_PER_PAGE:
            parts.append(paragraphs[index % len(paragraphs)])
            index += 1
        start += 7 + number % 5
        made.append(Article(url=f"https://bench.example/{number}", title=parts[0].split(".")[0][:80], text="\n\n".join(parts)))
    return made


def lexrank_page(text: str) -> list[str]:
    """The four top sentences of one page by LexRank, under digest's sentence splitter."""
    from eval_condense import SplitterTokenizer
    from sumy.nlp.stemmers import Stemmer
    from sumy.parsers.plaintext import PlaintextParser
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.utils import get_stop_words

    summarizer = LexRankSummarizer(Stemmer("english"))
    summarizer.stop_words = get_stop_words("english")
    document = PlaintextParser.from_string(text, SplitterTokenizer()).document
    return [str(s) for s in summarizer(document, 4)]


def _each(work: Callable[[str], object], articles: list[Article]) -> None:
    for article in articles:
        work(article.text)


def timed(run: Callable[[], object], repeat: int = 3) -> float:
    """The best of `repeat` wall times of `run()`, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def run(smoke: bool) -> list[Any]:
    """For `make bench` (benchmarks/run_all.py): per page at 200 pages beside splitting them, and the
    growth from 100 to 200 pages (smoke: 10 and 20 pages, generous floors)."""
    from harness import Row, floors

    target = floors("condense_speed", smoke)
    few, many = (10, 20) if smoke else (100, 200)
    articles = pages(bodies())
    sections = default_sections()
    small = timed(partial(condense, articles[:20], sections, edition="bench", title="bench", now=NOW)) / 20
    times = {count: timed(partial(condense, articles[:count], sections, edition="bench", title="bench", now=NOW)) for count in (few, many)}
    split = timed(partial(_each, split_sentences, articles[:many]))
    per_page, growth = times[many] * 1000 / many, times[many] / times[few]
    max_ms, max_growth = float(target["max_ms_per_page"]), float(target["max_growth_200_vs_100"])
    return [
        Row("condense: per page", f"{many} pages of ~{WORDS_PER_PAGE:,} words (20 pages: {small * 1000:.1f} ms/page)",
            per_page, split * 1000 / many, per_page / (split * 1000 / many), f"< {max_ms:g} ms/page", per_page < max_ms,
            "ms", "splitting them into sentences"),
        Row("condense: growth", f"{few} to {many} pages (linear: 2x)", times[many], times[few], growth,
            f"<= {max_growth:g}x", growth <= max_growth, "s", f"condense of {few} pages"),
    ]


def main() -> int:
    baseline = json.loads((HERE / "baseline.json").read_text(encoding="utf-8"))["condense_speed"]
    articles = pages(bodies())
    words = sum(len(a.text.split()) for a in articles) / len(articles)
    sections = default_sections()
    print(f"Condense speed: {len(articles)} pages of {words:.0f} words on average (real article bodies)")
    print(f"{'pages':>5} {'condense ms/page':>17} {'split ms/page':>14} {'LexRank ms/page':>16} {'condense/LexRank':>17}")
    per_count = {}
    for count in (50, 100, 200):
        chosen = articles[:count]
        ours = timed(partial(condense, chosen, sections, edition="bench", title="bench", now=NOW))
        split = timed(partial(_each, split_sentences, chosen))
        lexrank = timed(partial(_each, lexrank_page, chosen), repeat=1)
        per_count[count] = ours
        print(f"{count:>5} {ours * 1000 / count:>17.1f} {split * 1000 / count:>14.1f} {lexrank * 1000 / count:>16.1f}"
              f" {ours / lexrank:>17.2f}")
    per_page_ms = per_count[200] * 1000 / 200
    growth = per_count[200] / per_count[100]
    print(f"time(200 pages) / time(100 pages) = {growth:.2f} (linear: 2.00)")
    missed = []
    if per_page_ms > baseline["max_ms_per_page"]:
        missed.append(f"{per_page_ms:.1f} ms/page > {baseline['max_ms_per_page']}")
    if growth > baseline["max_growth_200_vs_100"]:
        missed.append(f"growth {growth:.2f} > {baseline['max_growth_200_vs_100']}")
    for line in missed:
        print(f"target missed: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
