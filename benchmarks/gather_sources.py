"""Gathering 20 sources at once: digest's gather() beside fetching them one after another.

A local HTTP server answers every page after a fixed delay (200 ms: a slow news site). The
baseline fetches the 20 pages one after another with one httpx client; digest's public gather()
fetches the same 20 configured sources (no related links) with the default [gather] settings.
One page is fetched untimed first, so that neither side pays for the first use of httpx (its
lazy imports) that a process pays once.

    python benchmarks/gather_sources.py [--smoke]
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
from harness import Row, floors, main_for

from digest.config import GatherConfig
from digest.gather import gather
from digest.models import Source

_PAGE = (
    "<!doctype html><html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
    + "<p>The Prime Minister told the President that any ceasefire must come with guarantees.</p>" * 20
    + "</article></body></html>"
)


class SlowSite(ThreadingHTTPServer):
    """Every GET answers 200 with a small article page, `delay` seconds after it arrived."""

    daemon_threads = True
    request_queue_size = 128  # all sources connect at once: no SYN may wait in a full backlog

    def __init__(self, delay: float) -> None:
        self.delay = delay
        super().__init__(("127.0.0.1", 0), _SlowPage)
        self._thread = Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> SlowSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)

    def url(self, number: int) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/story-{number}.html"


class _SlowPage(BaseHTTPRequestHandler):
    server: SlowSite

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        time.sleep(self.server.delay)  # the site's own slowness, which is what is measured
        body = _PAGE.format(n=self.path).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def fetch_one_by_one(urls: list[str]) -> float:
    started = time.perf_counter()
    with httpx.Client() as client:
        for url in urls:
            client.get(url).raise_for_status()
    return time.perf_counter() - started


def fetch_with_gather(urls: list[str]) -> float:
    started = time.perf_counter()
    gathered = gather([Source(url, follow_related=False) for url in urls], GatherConfig())
    seconds = time.perf_counter() - started
    if len(gathered.pages) != len(urls):
        raise RuntimeError(f"gather got {len(gathered.pages)} of {len(urls)} pages: {gathered.failures}")
    return seconds


def run(smoke: bool) -> list[Row]:
    target = floors("gather", smoke)
    sources, delay, speedup = int(target["sources"]), float(target["delay_seconds"]), float(target["min_speedup"])
    with SlowSite(delay) as site:
        urls = [site.url(n) for n in range(sources)]
        fetch_one_by_one(urls[:1])
        serial = fetch_one_by_one(urls)
        ours = fetch_with_gather(urls)
    return [
        Row("gather", f"{sources} sources, each answering in {delay * 1000:.0f} ms", ours, serial, serial / ours,
            f">= {speedup:g}x faster", serial / ours >= speedup, "s", "one after another"),
    ]


if __name__ == "__main__":
    raise SystemExit(main_for(run))
