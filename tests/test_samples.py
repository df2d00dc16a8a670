"""The bundled sample: three local news pages and an example subscriber list.

`digest preview` with no config builds its edition from these pages, so they must carry the
seed article word for word, link to each other by relative paths, and never reach the internet.
tests/fixtures/samples/pages.json says, per page, where the article body is, its off-topic
paragraph and the boilerplate phrases that must not reach a digest (other tests can use it too).
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup, Tag

from tests.conftest import FIXTURES, REPO

SAMPLES = REPO / "samples"
PAGES = SAMPLES / "pages"
MAIN_PAGE = "starmer-white-house.html"
RELATED_PAGES = ("related/european-defence-budgets.html", "related/uk-us-tech-partnership.html")
PAGE_FACTS: dict[str, dict[str, Any]] = json.loads((FIXTURES / "samples" / "pages.json").read_text(encoding="utf-8"))
ALLOWED_HOST = "example.org"
VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
# SVG shapes may close themselves (<circle ... />); HTML elements may not.
SELF_CLOSING_ALLOWED = frozenset({"circle", "line", "path", "rect", "polygon", "ellipse"})


def seed_article() -> tuple[str, tuple[str, ...]]:
    """The seed article's headline and body paragraphs (its trailing "Related Sources" list excluded)."""
    blocks = [
        block.strip() for block in (FIXTURES / "samples" / "article.txt").read_text(encoding="utf-8").split("\n\n")
    ]
    end = blocks.index("Related Sources:")
    return blocks[0], tuple(blocks[1:end])


def page_soup(name: str) -> BeautifulSoup:
    return BeautifulSoup((PAGES / name).read_text(encoding="utf-8"), "html.parser")


def body_paragraphs(name: str) -> list[str]:
    return [p.get_text() for p in page_soup(name).select(PAGE_FACTS[name]["body"])]


def meta_content(soup: BeautifulSoup, prop: str) -> str:
    tag = soup.find("meta", attrs={"property": prop})
    assert isinstance(tag, Tag), f"no <meta property={prop!r}>"
    return str(tag["content"])


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?”\"])\s+(?=[A-Z“\"])", text) if s]


class TagBalanceChecker(HTMLParser):
    """Records every end tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open_tags: list[tuple[str, tuple[int, int]]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_ELEMENTS:
            self.open_tags.append((tag, self.getpos()))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_ELEMENTS and tag not in SELF_CLOSING_ALLOWED:
            self.problems.append(f"line {self.getpos()[0]}: <{tag}/> is not a void element")

    def handle_endtag(self, tag: str) -> None:
        if not self.open_tags or self.open_tags[-1][0] != tag:
            expected = self.open_tags[-1] if self.open_tags else ("nothing", (0, 0))
            self.problems.append(f"line {self.getpos()[0]}: </{tag}> closes <{expected[0]}> from line {expected[1][0]}")
            return
        self.open_tags.pop()


ALL_PAGES = (MAIN_PAGE, *RELATED_PAGES)


def test_every_sample_page_is_described_in_the_fixture() -> None:
    on_disk = sorted(path.relative_to(PAGES).as_posix() for path in PAGES.rglob("*.html"))
    assert on_disk == sorted(ALL_PAGES) == sorted(PAGE_FACTS)


@pytest.mark.parametrize("name", ALL_PAGES)
def test_page_is_well_formed_utf8_html(name: str) -> None:
    raw = (PAGES / name).read_bytes()
    text = raw.decode("utf-8")
    assert text.lower().startswith("<!doctype html>")
    # Browsers and extractors only look for the charset declaration in the first 1024 bytes.
    assert re.search(rb'<meta charset="utf-8">', raw[:1024], re.IGNORECASE)
    checker = TagBalanceChecker()
    checker.feed(text)
    checker.close()
    assert checker.problems == []
    assert [tag for tag, _ in checker.open_tags] == []
    soup = BeautifulSoup(text, "html.parser")
    assert soup.html is not None and str(soup.html.get("lang", "")).startswith("en")
    assert len(soup.find_all("title")) == 1
    assert len(soup.find_all("h1")) == 1


@pytest.mark.parametrize("name", ALL_PAGES)
def test_page_carries_title_date_and_byline(name: str) -> None:
    soup = page_soup(name)
    facts = PAGE_FACTS[name]
    headline = soup.h1.get_text(strip=True) if soup.h1 else ""
    assert meta_content(soup, "og:title") == headline
    assert soup.title is not None and soup.title.get_text().startswith(headline)
    assert meta_content(soup, "article:published_time").startswith(facts["published"])
    assert facts["byline"] in [tag.get_text(strip=True) for tag in soup.select(".byline, .author")]


def test_main_page_carries_the_seed_article_word_for_word() -> None:
    headline, paragraphs = seed_article()
    soup = page_soup(MAIN_PAGE)
    assert soup.h1 is not None and soup.h1.get_text() == headline
    assert tuple(body_paragraphs(MAIN_PAGE)) == paragraphs
    assert len(paragraphs) == 10


def test_main_page_lists_both_related_pages_under_related_sources() -> None:
    section = page_soup(MAIN_PAGE).select_one("section.related")
    assert section is not None and section.h2 is not None
    assert section.h2.get_text() == "Related Sources"
    hrefs = [str(a["href"]) for a in section.select("ul > li > a")]
    assert hrefs == list(RELATED_PAGES)
    for link in section.select("a"):
        target = page_soup(str(link["href"]))
        assert target.h1 is not None and link.get_text() == target.h1.get_text()


@pytest.mark.parametrize("name", ALL_PAGES)
def test_relative_links_resolve_to_sample_files(name: str) -> None:
    relative = [str(a["href"]) for a in page_soup(name).find_all("a", href=True) if not urlsplit(str(a["href"])).scheme]
    assert relative, "each page links to at least one other sample page"
    for href in relative:
        target = ((PAGES / name).parent / href).resolve()
        assert target.is_file(), f"{name}: {href} does not exist"
        assert target.is_relative_to(PAGES.resolve()), f"{name}: {href} leaves samples/pages"


@pytest.mark.parametrize("name", ALL_PAGES)
def test_no_page_refers_to_a_host_outside_example_org(name: str) -> None:
    soup = page_soup(name)
    urls = [value for tag in soup.find_all(True) for value in (str(v) for v in tag.attrs.values()) if "//" in value]
    urls += [url for style in soup.find_all("style") for url in re.findall(r"url\(([^)]*)\)", style.get_text())]
    assert urls, "pages carry realistic absolute boilerplate links"
    for url in urls:
        parts = urlsplit(url.strip("'\""))
        if parts.netloc:
            host = parts.hostname or ""
            assert host == ALLOWED_HOST or host.endswith("." + ALLOWED_HOST), f"{name}: {url}"


@pytest.mark.parametrize("name", ALL_PAGES)
def test_boilerplate_is_on_the_page_but_outside_the_article_body(name: str) -> None:
    page_text = page_soup(name).get_text()
    body = "\n".join(body_paragraphs(name))
    for phrase in PAGE_FACTS[name]["boilerplate"]:
        assert phrase in page_text, f"{name}: {phrase!r} missing"
        assert phrase not in body, f"{name}: {phrase!r} is inside the article body"


@pytest.mark.parametrize("name", RELATED_PAGES)
def test_related_page_covers_the_three_topics_and_one_unrelated_paragraph(name: str) -> None:
    paragraphs = body_paragraphs(name)
    assert 6 <= len(paragraphs) <= 9
    text = "\n".join(paragraphs)
    assert sum(1 for s in sentences(text) if re.search(r"\b(Ukraine|Kyiv)\b", s)) >= 2
    config = tomllib.loads((SAMPLES / "digest.toml").read_text(encoding="utf-8"))
    keywords = {section["title"]: section["keywords"] for section in config["sections"]}
    for title, words in keywords.items():
        hits = [p for p in paragraphs if any(re.search(rf"\b{re.escape(w)}\b", p, re.IGNORECASE) for w in words)]
        assert hits, f"{name}: no paragraph for section {title!r}"
    off_topic = PAGE_FACTS[name]["off_topic"]
    assert off_topic in paragraphs
    matched = [
        w for words in keywords.values() for w in words if re.search(rf"\b{re.escape(w)}\b", off_topic, re.IGNORECASE)
    ]
    assert matched == [], f"{name}: the off-topic paragraph matches section keywords"


def test_pages_share_no_sentence() -> None:
    """Each page brings its own facts, so a digest built from all three has no duplicates to hide."""
    seen: dict[str, str] = {}
    for name in ALL_PAGES:
        for sentence in sentences("\n".join(body_paragraphs(name))):
            assert sentence not in seen, f"{name} repeats a sentence of {seen.get(sentence)}: {sentence!r}"
            seen[sentence] = name


def test_example_subscriber_list_is_valid() -> None:
    path = REPO / "subscribers.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        assert handle.readline() == "email,name,status,subscribed_at,unsubscribed_at,source\n"
        handle.seek(0)
        rows = list(csv.DictReader(handle))
    assert 4 <= len(rows) <= 5
    emails = [row["email"] for row in rows]
    assert len(set(emails)) == len(emails)
    assert all(email == email.lower() and email.endswith("@example.org") for email in emails)
    statuses = [row["status"] for row in rows]
    assert statuses.count("unsubscribed") == 1
    assert statuses.count("active") == len(rows) - 1
    for row in rows:
        subscribed = datetime.fromisoformat(row["subscribed_at"])
        assert subscribed.utcoffset() == timedelta(0)
        if row["status"] == "unsubscribed":
            unsubscribed = datetime.fromisoformat(row["unsubscribed_at"])
            assert unsubscribed.utcoffset() == timedelta(0) and unsubscribed > subscribed
        else:
            assert row["unsubscribed_at"] == ""
        assert row["name"] and row["source"]
