"""What every handler of `digest serve` shares: the config, the clock, the limits, and the pages.

Pages are Jinja templates under templates/serve/ (autoescaped; `[email] template_dir` may
override them), with no JavaScript, no cookies and no third-party requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Response, request, url_for

from digest.config import Config
from digest.render import template_environment
from digest.serve.limits import RateLimiter, client_key
from digest.serve.lookup import AddressBook

# The whole policy of every answer. No scripts and no third-party requests except images (the
# archived emails show the newsletter's logo and pictures); forms post only here; no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# No Referer: an unsubscribe or confirmation token in the URL must not leak to linked sites.
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Site:
    """The state every handler uses. `clock` gives seconds since the epoch (tests inject it)."""

    config: Config
    secret: str
    clock: Callable[[], float]
    book: AddressBook
    limiter: RateLimiter

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def client(self) -> str:
        """Whom this request counts against (its address, after [serve] trust_proxy)."""
        return client_key(request.remote_addr)

    def public_url(self, path: str) -> str:
        """`path` under [newsletter] base_url: for links that leave this server (in emails, in the feed)."""
        return self.config.newsletter.base_url.rstrip("/") + path

    def page(self, template: str, title: str, status: int = 200, *, indexable: bool = False, **values: Any) -> Response:
        """Render templates/serve/TEMPLATE with the links every page has."""
        context = {
            "newsletter": self.config.newsletter,
            "title": title,
            "indexable": indexable,
            "archive_url": url_for("archive"),
            "feed_url": url_for("feed"),
            "subscribe_url": url_for("subscribe_form") if self.config.signup.enabled else None,
        } | values
        html = template_environment(self.config.email.template_dir).get_template(f"serve/{template}").render(context)
        return Response(html, status=status, mimetype="text/html")

    def notice(self, title: str, *paragraphs: str, status: int = 200, link: tuple[str, str] | None = None) -> Response:
        """A page that only says something (an error, a limit, a result)."""
        return self.page("notice.html.j2", title, status, paragraphs=paragraphs, link=link)

    def too_many(self, retry_after: float) -> Response:
        seconds = int(retry_after + 0.999)
        response = self.notice(
            "Too many requests",
            f"Too many requests came from your address in the last minute. Please try again in {seconds} seconds.",
            status=429,
        )
        response.headers["Retry-After"] = str(seconds)
        return response
