"""Condensing 200 pages: time per page, and how it grows from 20 pages to 200.

Each page is ~1,000 words of real news prose: paragraphs drawn (seeded) from the ground truth of
the extraction benchmark (data/article-extraction), so pages share some copy as syndicated news
does. digest's public condense() builds one edition with the bundled sample's sections from the first 20
pages (the baseline), then from all 200; the figure is milliseconds per page, the best of three.

    python benchmarks/condense_pages.py [--smoke]
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime

from harness import BENCHMARKS, Row, best_of, floors, main_for

from digest.condense import condense
from digest.config import load_config
from digest.models import Article

WORDS_PER_PAGE = 1000
SECTIONS = load_config(None).sections  # the bundled sample's sections
NOW = datetime(2026, 11, 26, 7, tzinfo=UTC)


def pages(count: int, *, seed: int = 7) -> list[Article]:
    """`count` articles of about WORDS_PER_PAGE words each."""
    truth = json.loads((BENCHMARKS / "data" / "article-extraction" / "ground-truth.json").read_text(encoding="utf-8"))
    paragraphs = [
        p.strip() for page in sorted(truth) for p in truth[page].get("articleBody", "").split("\n") if len(p.split()) >= 8
    ]
    rng = random.Random(seed)
    articles = []
    for number in range(count):
        chosen: list[str] = []
        while sum(len(p.split()) for p in chosen) < WORDS_PER_PAGE:
            chosen.append(rng.choice(paragraphs))
        articles.append(
            Article(url=f"https://news{number % 17}.example.org/2026/11/26/story-{number}", title=f"Story {number}",
                    text="\n\n".join(chosen), date="2026-11-26", sitename=f"News {number % 17}")
        )
    return articles


def ms_per_page(articles: list[Article]) -> float:
    started = time.perf_counter()
    condense(articles, SECTIONS, edition="2026-11-26", title="The Transatlantic Brief", now=NOW)
    return (time.perf_counter() - started) * 1000 / len(articles)


def run(smoke: bool) -> list[Row]:
    target = floors("condense", smoke)
    few, many = int(target["few_pages"]), int(target["pages"])
    max_ms, max_growth = float(target["max_ms_per_page"]), float(target["max_growth"])
    articles = pages(many)
    ms_per_page(articles[:2])  # first use: compiled patterns, lazy imports
    baseline = best_of(3, lambda: ms_per_page(articles[:few]))
    ours = best_of(3, lambda: ms_per_page(articles))
    growth = ours / baseline
    return [
        Row("condense", f"{many} pages of ~{WORDS_PER_PAGE:,} words", ours, baseline, growth,
            f"< {max_ms:g} ms/page, growth <= {max_growth:g}x", ours < max_ms and growth <= max_growth, "ms",
            f"per page at {few} pages"),
    ]


if __name__ == "__main__":
    raise SystemExit(main_for(run))
