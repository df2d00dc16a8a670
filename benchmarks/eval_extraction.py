"""Article extraction quality: digest's extract_article against plain trafilatura, same pages, same run.

The metric is the Article Extraction Benchmark's (data/article-extraction/SOURCE.md): each text and
its ground truth become multisets of 4-token shingles over \\w+ tokens; per page TP, FP and FN are
normalised by their sum; precision and recall are averaged over the pages where they are defined;
F1 is their harmonic mean.

    python benchmarks/eval_extraction.py [--data DIR]

Exits 1 when our F1 is below plain trafilatura's or below the floor.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import trafilatura

if __name__ == "__main__":  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digest.errors import ExtractError
from digest.extract import extract_article
from digest.models import Page

if TYPE_CHECKING:
    from harness import Row

DATA_DIR = Path(__file__).resolve().parent / "data" / "article-extraction"
F1_FLOOR = json.loads((Path(__file__).with_name("baseline.json")).read_text())["extraction"]["f1_floor"]
SHINGLE_SIZE = 4
_TOKEN = re.compile(r"\w+")

Extractor = Callable[[str, str], str]  # (html, url) -> text
Counts = tuple[float, float, float]  # normalised TP, FP, FN of one page


@dataclass(frozen=True, slots=True)
class Score:
    name: str
    pages: int
    precision: float
    recall: float
    f1: float
    seconds_per_page: float


def plain_trafilatura(html: str, url: str) -> str:
    """The benchmark's reference: trafilatura's defaults, comments left out."""
    return trafilatura.extract(html, include_comments=False) or ""


def digest_extract(html: str, url: str) -> str:
    """digest's extract_article on the page as gather would hand it over."""
    page = Page(
        url=url,
        body=html.encode("utf-8"),
        content_type="text/html",
        status=200,
        elapsed=0.0,
        fetched_at=datetime.now(UTC),
        charset="utf-8",
        requested_url=url,
    )
    try:
        return extract_article(page).text
    except ExtractError:
        return ""


EXTRACTORS: Mapping[str, Extractor] = {"trafilatura (plain)": plain_trafilatura, "digest extract_article": digest_extract}


def evaluate(
    data_dir: Path = DATA_DIR, extractors: Mapping[str, Extractor] = EXTRACTORS, *, limit: int | None = None
) -> dict[str, Score]:
    """Score every extractor on every page of the benchmark (the first `limit`), keyed by extractor name."""
    ground_truth: dict[str, dict[str, str]] = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {
        page_id: gzip.decompress((data_dir / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8")
        for page_id in sorted(ground_truth)[:limit]
    }
    scores: dict[str, Score] = {}
    for name, extractor in extractors.items():
        counts: list[Counts] = []
        started = time.perf_counter()
        for page_id, html in pages.items():
            truth = ground_truth[page_id]
            predicted = extractor(html, truth["url"])
            counts.append(shingle_counts(truth.get("articleBody", ""), predicted))
        elapsed = time.perf_counter() - started
        precision, recall, f1 = metrics(counts)
        scores[name] = Score(name, len(pages), precision, recall, f1, elapsed / len(pages))
    return scores


def shingle_counts(truth: str, predicted: str) -> Counts:
    """TP, FP, FN over the two texts' shingle multisets, normalised by their sum."""
    true_shingles, predicted_shingles = _shingles(truth), _shingles(predicted)
    tp = fp = fn = 0.0
    for shingle in true_shingles.keys() | predicted_shingles.keys():
        true_count, predicted_count = true_shingles[shingle], predicted_shingles[shingle]
        tp += min(true_count, predicted_count)
        fp += max(0, predicted_count - true_count)
        fn += max(0, true_count - predicted_count)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total > 0 else (tp, fp, fn)


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    # A text shorter than one shingle still counts as one (shorter) shingle, as in the benchmark.
    return Counter(
        tuple(tokens[i : i + SHINGLE_SIZE])
        for i in range(max(1, len(tokens) - SHINGLE_SIZE + 1))
        if tokens[i : i + SHINGLE_SIZE]
    )


def metrics(counts: list[Counts]) -> tuple[float, float, float]:
    """Mean precision and recall over the pages where each is defined, and their harmonic mean."""
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    return precision, recall, 2 * precision * recall / (precision + recall)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


def run(smoke: bool) -> list[Row]:
    """For `make bench`: quality and speed beside plain trafilatura (smoke: the first pages only)."""
    from harness import Row, floors  # beside this file; run_all puts it on the path
    target = floors("extraction", smoke)
    scores = evaluate(limit=int(target["pages"]))
    plain, ours = scores["trafilatura (plain)"], scores["digest extract_article"]
    workload = f"{ours.pages} pages of the Article Extraction Benchmark"
    slowdown = float(target["max_slowdown"])
    speed = ours.seconds_per_page / plain.seconds_per_page
    return [
        Row("extraction: F1", workload, ours.f1, plain.f1, ours.f1 / plain.f1, f">= {F1_FLOOR} and >= plain",
            ours.f1 >= F1_FLOOR and ours.f1 >= plain.f1, "F1", "plain trafilatura"),
        Row("extraction: time per page", workload, ours.seconds_per_page * 1000, plain.seconds_per_page * 1000, speed,
            f"<= {slowdown:g}x plain", speed <= slowdown, "ms", "plain trafilatura"),
    ][int(smoke):]  # the quality floor needs every page; tests/test_extract.py checks it in CI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="benchmark folder (ground-truth.json, html/)")
    args = parser.parse_args(argv)
    scores = evaluate(args.data)
    print(f"{'extractor':<24} {'pages':>5} {'precision':>9} {'recall':>7} {'F1':>6} {'ms/page':>8}")
    for score in scores.values():
        print(
            f"{score.name:<24} {score.pages:>5} {score.precision:>9.4f} {score.recall:>7.4f}"
            f" {score.f1:>6.4f} {score.seconds_per_page * 1000:>8.1f}"
        )
    plain, ours = scores["trafilatura (plain)"].f1, scores["digest extract_article"].f1
    if ours < plain or ours < F1_FLOOR:
        print(f"FAIL: digest F1 {ours:.4f} is below plain trafilatura ({plain:.4f}) or the floor {F1_FLOOR}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
