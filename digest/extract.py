"""Page -> Article: the readable text of a page, its metadata and its related-source links.

Pure: no network, disk or clock. trafilatura finds the main text and metadata; before it runs,
blocks introduced by a boilerplate heading ("Most read", "Comments", "Newsletter"...) are
removed, and after it, short boilerplate lines (cookie notices, share prompts) are dropped.
A copyright line inside the article text stays: the benchmark's ground truth counts it as
article text (wire stories end with one), and condense never makes a bullet of it. When
trafilatura finds nothing, a BeautifulSoup pass over the main block takes over. Related-source lists are read with BeautifulSoup, since trafilatura drops them.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Iterator
from urllib.parse import urldefrag, urljoin, urlsplit

import trafilatura
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag, XMLParsedAsHTMLWarning
from lxml.html import HtmlElement

from digest.errors import ExtractError
from digest.models import Article, Page, safe_text

logger = logging.getLogger(__name__)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)

# Headings that introduce site furniture rather than the article.
_BOILERPLATE_HEADING = re.compile(
    r"(most (read|popular|viewed|shared|commented)( this week| today| now)?|trending( now| stories)?|popular( now| stories)?"
    r"|related( articles| stories| content| links| posts| coverage| reading| sources| topics)?"
    r"|see also|further reading|read (more|next)|more (from|on|stories|news)\b.*"
    r"|you (may|might) (also )?(like|enjoy)|recommended( for you| stories| reading)?"
    r"|(\d+ )?comments?( \(\d+\))?|leave a (comment|reply)|join the (conversation|discussion)"
    r"|newsletters?|sign up\b.*|subscribe\b.*|share( this( article| story| page)?)?|follow us\b.*"
    r"|sources?|advertisement)[\s:.!]*",
    re.IGNORECASE,
)

# Short lines that are site furniture wherever they appear.
_BOILERPLATE_LINE = re.compile(
    r"\b(we|this (site|website)|our (site|website)) uses? cookies\b|\baccept (all )?cookies\b"
    r"|\bcookie (policy|settings|preferences|notice)\b"
    r"|\b(sign up|subscribe)\b.*\b(newsletter|inbox|email|updates|briefing)\b"
    r"|\bnewsletter\b.*\b(sign up|subscribe)\b"
    r"|^(share|tweet|pin|email|print|whatsapp|facebook|twitter|linkedin|reddit)( (on|via|this|to)\b.*)?$"
    r"|\bshare (it|this)( story| article| page)? with\b"
    r"|^(advertisement|(skip|jump) to (main )?content|back to top|read more|see more|don't miss|related|tags?"
    r"|home|menu|search|log ?in|sign ?in|register)\b[\s:.!]*$"
    r"|^(\d+ )?comments?[\s:.!]*$|^(leave|post|add) a (comment|reply)\b",
    re.IGNORECASE,
)
_BOILERPLATE_LINE_MAX_WORDS = 20
_HEADING_MAX_WORDS = 8
_HEADLINE_MAX_INDEX = 2
_KICKER_MAX_WORDS = 6

# Headings and attributes that mark a list of related-source links.
_RELATED_HEADING = re.compile(
    r"(related( sources| articles| stories| links| reading| coverage)?|see also|sources?|further reading)[\s:]*",
    re.IGNORECASE,
)
_RELATED_ATTRIBUTE = re.compile(r"related|see[-_ ]?also", re.IGNORECASE)
_LINK_SCHEMES = ("http", "https", "file")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")

# Dropped wholesale by the fallback, as trafilatura does.
_FALLBACK_DROP_TAGS = (
    "script", "style", "noscript", "template", "iframe", "svg", "canvas", "object", "embed",
    "nav", "aside", "form", "button", "select", "input", "textarea", "dialog", "menu",
)
_FALLBACK_DROP_ATTRIBUTE = re.compile(
    r"cookie|consent|gdpr|newsletter|subscribe|signup|share|sharing|social|most-?read|most-?popular"
    r"|trending|comment|related|promo|advert|sponsor|breadcrumb|menu|navbar|paywall|modal|popup",
    re.IGNORECASE,
)
_FALLBACK_BLOCKS = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "figcaption", "td")


def decode_html(page: Page) -> str:
    """The page body as text: charset from the header, else <meta charset>, else UTF-8 with replacement."""
    body = page.body
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace")
    candidates = [page.charset]
    declared = _META_CHARSET.search(body[:4096])
    if declared:
        candidates.append(declared.group(1).decode("ascii"))
    for charset in candidates:
        if not charset:
            continue
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            logger.debug("%s: unknown charset %r, trying the next one", page.url, charset)
    return body.decode("utf-8", errors="replace")


def extract_article(page: Page) -> Article:
    """The article text, title, author, date and related links of a page. Raises ExtractError."""
    html = decode_html(page)
    title: str | None = None
    author = date = sitename = None
    text = ""
    tree = trafilatura.load_html(html) if html.strip() else None
    if tree is not None:
        _drop_boilerplate_blocks(tree)
        try:
            document = trafilatura.bare_extraction(
                tree,
                url=page.url,
                with_metadata=True,
                include_comments=False,
                include_tables=True,
                favor_precision=True,
                date_extraction_params={"original_date": True, "extensive_search": False},
            )
        except Exception as exc:
            # trafilatura and htmldate assert on some malformed trees (`<svg><p><p>` drops its own
            # root); a hostile page must not stop the edition, and the fallback below reads it.
            logger.warning("%s: trafilatura failed (%s); using the fallback extractor", page.url, type(exc).__name__)
            document = None
        if document is not None and not isinstance(document, dict):
            title, author, date, sitename = document.title, document.author, document.date, document.sitename
            text = _clean_lines((document.text or "").splitlines(), title)
    soup = _soup(html)
    related = _related_links(soup, page.url)
    title = title or _fallback_title(soup)
    if not text:
        logger.debug("%s: trafilatura found no text, using the fallback", page.url)
        text = _fallback_text(soup, title)  # consumes the soup
    text = safe_text(text).strip()  # character references (&#27;, &#xFFFE;) survive the parsers
    if not text:
        raise ExtractError(f"{page.url}: no readable article text found")
    return Article(
        url=page.url,
        title=safe_text(title or "").strip() or page.url,
        text=text,
        date=date,
        author=safe_text(author) if author else author,
        sitename=safe_text(sitename) if sitename else sitename,
        related=related,
        via=page.via,
    )


def find_related(html: str, base_url: str) -> tuple[str, ...]:
    """Absolute URLs of the page's "Related"/"See also"/"Sources" links, in order, without duplicates."""
    return _related_links(_soup(html), base_url)


def _soup(html: str) -> BeautifulSoup:
    # XHTML and URL-like snippets are still pages to read: bs4's hints about them are noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        return BeautifulSoup(html, "lxml")


def _drop_boilerplate_blocks(tree: HtmlElement) -> None:
    """Remove the blocks that a boilerplate heading introduces ("Most read", "Comments"...)."""
    body_length = len(tree.text_content())
    for heading in tree.xpath("//h2|//h3|//h4|//h5|//h6"):
        if heading.getparent() is None or not _BOILERPLATE_HEADING.fullmatch(_squash(heading.text_content())):
            continue
        block = heading.getparent()
        heads_block = block.tag in ("div", "section", "aside", "footer", "header", "nav") and next(
            (child for child in block if isinstance(child.tag, str)), None
        ) is heading
        # A heading that opens a block owns it, unless the block holds most of the page (the article).
        if heads_block and block.getparent() is not None and len(block.text_content()) < body_length / 3:
            block.drop_tree()
            continue
        following = heading.getnext()
        while following is not None and (following.tag in ("ul", "ol", "dl") or _is_link_list(following)):
            after = following.getnext()
            following.drop_tree()
            following = after
        heading.drop_tree()


def _is_link_list(element: HtmlElement | None) -> bool:
    if element is None or not isinstance(element.tag, str) or element.tag in _HEADINGS:
        return False
    text = len(_squash(element.text_content()))
    linked = sum(len(_squash(a.text_content())) for a in element.iter("a"))
    return text > 0 and linked >= 0.8 * text


def _clean_lines(lines: Iterable[str], title: str | None) -> str:
    """Paragraphs joined by a blank line, without boilerplate lines or a repeat of the title."""
    kept = [_squash(line) for line in lines]
    kept = [line for line in kept if line and not _is_boilerplate_line(line)]
    if title:
        # The headline repeats Article.title; short lines above it are kickers and breadcrumbs.
        for index, line in enumerate(kept[:_HEADLINE_MAX_INDEX + 1]):
            if _same_text(line, title):
                if all(len(above.split()) <= _KICKER_MAX_WORDS for above in kept[:index]):
                    kept = kept[index + 1 :]
                break
    return "\n\n".join(kept)


def _is_boilerplate_line(line: str) -> bool:
    words = len(line.split())
    if words <= _HEADING_MAX_WORDS and _BOILERPLATE_HEADING.fullmatch(line):
        return True
    return words <= _BOILERPLATE_LINE_MAX_WORDS and bool(_BOILERPLATE_LINE.search(line))


def _same_text(line: str, title: str) -> bool:
    def words(text: str) -> list[str]:
        return re.findall(r"\w+", text.casefold())

    return words(line) == words(title)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _fallback_text(soup: BeautifulSoup, title: str | None) -> str:
    """Text of the main block (article, main, or the block with most paragraph text), boilerplate removed."""
    for element in soup(_FALLBACK_DROP_TAGS):
        element.decompose()
    for element in soup.find_all(_has_boilerplate_attribute):
        if not element.decomposed:
            element.decompose()
    block = _main_block(soup)
    if block is None:
        return ""
    for element in block.find_all(["header", "footer"]):
        if not element.decomposed and element.find_parent("article") is None:
            element.decompose()
    for heading in block.find_all(_HEADINGS):
        if _BOILERPLATE_HEADING.fullmatch(_squash(heading.get_text(" "))):
            for sibling in heading.find_next_siblings(["ul", "ol", "dl"], limit=1):
                sibling.decompose()
            heading.decompose()
    blocks = [
        element.get_text(" ")
        for element in block.find_all(("h1", *_FALLBACK_BLOCKS))
        if not element.find(_FALLBACK_BLOCKS)
    ]
    if not blocks:
        blocks = block.get_text("\n").splitlines()
    return _clean_lines(blocks, title)


def _has_boilerplate_attribute(element: Tag) -> bool:
    if element.name in ("html", "body", "main", "article"):
        return False
    marks = " ".join(
        value if isinstance(value, str) else " ".join(value)
        for value in (element.get("class"), element.get("id"), element.get("aria-label"), element.get("role"))
        if value
    )
    return bool(marks) and (bool(_FALLBACK_DROP_ATTRIBUTE.search(marks)) or "navigation" in marks)


def _main_block(soup: BeautifulSoup) -> Tag | None:
    articles = soup.find_all("article") or soup.find_all("main")
    if articles:
        return max(articles, key=lambda element: len(element.get_text(" ", strip=True)))
    body = soup.body
    if body is None:
        return None
    for element in body.find_all(["header", "footer"]):
        element.decompose()
    best, best_length = body, 0
    for element in body.find_all(["div", "section", "td"]):
        length = sum(len(p.get_text(" ", strip=True)) for p in element.find_all("p", recursive=False))
        if length > best_length:
            best, best_length = element, length
    return best


def _fallback_title(soup: BeautifulSoup) -> str | None:
    for candidate in (soup.find("h1"), soup.title):
        if candidate is not None and _squash(candidate.get_text(" ")):
            return _squash(candidate.get_text(" "))
    return None


def _related_links(soup: BeautifulSoup, base_url: str) -> tuple[str, ...]:
    self_url = urldefrag(base_url).url
    links: list[str] = []
    for container in _related_containers(soup):
        anchors = [container] if container.name == "a" else container.find_all("a", href=True)
        for anchor in anchors:
            href = anchor.get("href")
            if not isinstance(href, str) or not href.strip():
                continue
            url = urldefrag(urljoin(base_url, href.strip())).url
            if urlsplit(url).scheme in _LINK_SCHEMES and url != self_url and url not in links:
                links.append(url)
    return tuple(links)


def _related_containers(soup: BeautifulSoup) -> Iterator[Tag]:
    """Elements holding related links: marked by class/id/aria-label, or following a related heading."""
    for element in soup.find_all(True):
        if element.name in ("html", "body", "main", "article", "head", "link", "meta"):
            continue
        marks = " ".join(
            value if isinstance(value, str) else " ".join(value)
            for value in (element.get("class"), element.get("id"), element.get("aria-label"))
            if value
        )
        if marks and _RELATED_ATTRIBUTE.search(marks):
            yield element
        elif _is_related_heading(element):
            yield from _links_after(element)


def _is_related_heading(element: Tag) -> bool:
    if element.name not in (*_HEADINGS, "p", "strong", "b", "dt", "span", "div", "summary", "caption"):
        return False
    text = _squash(element.get_text(" "))
    return len(text) <= 40 and bool(_RELATED_HEADING.fullmatch(text)) and element.find("a") is None


def _links_after(heading: Tag) -> Iterator[Tag]:
    """The first block after a related heading that holds links (climbing out of <p><strong>...)."""
    parent = heading.parent
    if parent is not None and parent.name in ("p", "li", "dd") and parent.find("a", href=True) is not None:
        yield parent  # "<p><b>Sources:</b> <a>..</a>, <a>..</a></p>"
        return
    anchor: Tag = heading
    while anchor.find_next_sibling() is None and anchor.parent is not None and anchor.parent.name not in ("body", "html"):
        anchor = anchor.parent
    for sibling in anchor.find_next_siblings():
        if sibling.name in _HEADINGS:
            return
        if sibling.name == "a" or sibling.find("a", href=True) is not None:
            yield sibling
            return
