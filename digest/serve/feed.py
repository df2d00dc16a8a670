"""The Atom feed (RFC 4287) of the latest published editions, at {base_url}/feed.xml.

Each entry holds the edition's HTML as a reader sees it ("Hello reader,", no unsubscribe token).
Built with ElementTree, so every title and body is escaped as XML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree

from digest.config import NewsletterConfig
from digest.deliver.base import Recipient
from digest.deliver.message import personalise
from digest.models import Edition

ATOM = "http://www.w3.org/2005/Atom"
FEED_EDITIONS = 30
# What an archived copy's unsubscribe link points to: nowhere, since it belongs to no one.
NO_UNSUBSCRIBE_URL = "#"
# Characters XML 1.0 cannot hold at all, even escaped (most C0 controls, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def archive_copy(edition: Edition) -> str:
    """An edition's HTML as the archive and the feed show it: greeting "reader", no token."""
    html, _ = personalise(edition.email, Recipient("", "", NO_UNSUBSCRIBE_URL))
    return html


def atom_feed(newsletter: NewsletterConfig, editions: Sequence[Edition], *, updated: datetime) -> bytes:
    """The feed document of `editions` (newest first). `updated` is used when there is none."""
    ElementTree.register_namespace("", ATOM)
    base = newsletter.base_url.rstrip("/")
    feed = ElementTree.Element(f"{{{ATOM}}}feed")

    def add(parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
        element.text = None if text is None else _NOT_XML.sub("", text)
        return element

    add(feed, "id", f"{base}/feed.xml")
    add(feed, "title", newsletter.name)
    add(feed, "updated", max((e.built_at for e in editions), default=updated).isoformat())
    author = add(feed, "author")
    add(author, "name", newsletter.from_name or newsletter.name)
    add(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/feed.xml")
    add(feed, "link", rel="alternate", type="text/html", href=f"{base}/")
    add(feed, "generator", "digest")
    for edition in editions:
        url = f"{base}/editions/{edition.id}"
        entry = add(feed, "entry")
        add(entry, "id", url)
        add(entry, "title", edition.email.subject)
        add(entry, "updated", edition.built_at.isoformat())
        add(entry, "published", edition.built_at.isoformat())
        add(entry, "link", rel="alternate", type="text/html", href=url)
        if edition.email.preheader:
            add(entry, "summary", edition.email.preheader)
        add(entry, "content", archive_copy(edition), type="html")
    document: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
