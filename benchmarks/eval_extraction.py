"""Article extraction quality: digest's extract_article against plain trafilatura, same pages, same run.

Two splits of the Article Extraction Benchmark: `dev` (data/article-extraction, 60 pages, what the
rules of digest/extract.py were tuned on) and `validation` (data/article-extraction-validation,
61 other pages, never tuned on: a rule stays only if it gains there too).

The metric is the benchmark's (data/article-extraction/SOURCE.md): each text and its ground truth
become multisets of 4-token shingles over \\w+ tokens; per page TP, FP and FN are normalised by
their sum; precision and recall are averaged over the pages where they are defined; F1 is their
harmonic mean.

    python benchmarks/eval_extraction.py [--data DIR]

Exits 1 when our F1 on a split is below plain trafilatura's measured in this run, or below the
split's floor in baseline.json.
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

DATA_ROOT = Path(__file__).resolve().parent / "data"
SPLITS = {"dev": DATA_ROOT / "article-extraction", "validation": DATA_ROOT / "article-extraction-validation"}
DATA_DIR = SPLITS["dev"]
_BASELINE = json.loads((Path(__file__).with_name("baseline.json")).read_text())["extraction"]
F1_FLOOR: float = _BASELINE["f1_floor"]
FLOORS: dict[str, float] = {"dev": F1_FLOOR, "validation": _BASELINE["validation_f1_floor"]}
PLAIN = "trafilatura (plain)"
OURS = "digest extract_article"
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


EXTRACTORS: Mapping[str, Extractor] = {PLAIN: plain_trafilatura, OURS: digest_extract}


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
    slowdown = float(target["max_slowdown"])
    rows = []
    for split, folder in SPLITS.items() if not smoke else ():  # the quality floors need every page: tests/test_extract.py
        scores = evaluate(folder)
        plain, ours = scores[PLAIN], scores[OURS]
        rows.append(Row(f"extraction: F1 ({split})", f"{ours.pages} pages, Article Extraction Benchmark", ours.f1, plain.f1,
                        ours.f1 / plain.f1, f">= {FLOORS[split]} and >= plain", ours.f1 >= FLOORS[split] and ours.f1 >= plain.f1,
                        "F1", "plain trafilatura"))
    scores = evaluate(DATA_DIR, limit=int(target["pages"]))
    plain, ours = scores[PLAIN], scores[OURS]
    speed = ours.seconds_per_page / plain.seconds_per_page
    rows.append(Row("extraction: time per page", f"{ours.pages} pages (dev)", ours.seconds_per_page * 1000,
                    plain.seconds_per_page * 1000, speed, f"<= {slowdown:g}x plain", speed <= slowdown, "ms", "plain trafilatura"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="one benchmark folder (ground-truth.json, html/) instead of both splits")
    args = parser.parse_args(argv)
    splits = {args.data.name: args.data} if args.data else SPLITS
    print(f"{'split':<11} {'extractor':<24} {'pages':>5} {'precision':>9} {'recall':>7} {'F1':>6} {'ms/page':>8}")
    failed = False
    for split, folder in splits.items():
        scores = evaluate(folder)
        for score in scores.values():
            print(
                f"{split:<11} {score.name:<24} {score.pages:>5} {score.precision:>9.4f} {score.recall:>7.4f}"
                f" {score.f1:>6.4f} {score.seconds_per_page * 1000:>8.1f}"
            )
        plain, ours = scores[PLAIN].f1, scores[OURS].f1
        floor = FLOORS.get(split, F1_FLOOR)
        print(f"{split:<11} {'ours - plain':<24} {'':>5} {'':>9} {'':>7} {ours - plain:>+6.4f}")
        if ours < plain or ours < floor:
            print(f"FAIL: {split}: digest F1 {ours:.4f} is below plain trafilatura ({plain:.4f}) or the floor {floor}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
