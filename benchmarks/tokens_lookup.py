"""Opaque tokens at scale: minting one per recipient at send time, and `digest serve` mapping them back.

- **Minting** 200,000 unsubscribe tokens (opaque id + signature) against the previous release's
  token (the address itself, signed with itsdangerous' URLSafeTimedSerializer), in this process.
  Target: no dearer than the old token (the send path mints one per recipient), and no memory
  that grows with the number minted.
- **Mapping back** on a list of 1,000,000 rows, each task in its own process (wall time, peak
  RSS from os.wait4): `digest serve`'s AddressBook built from subscribers.csv and 1,000 lookups,
  against a plain `iter_subscribers` pass over the same file (what reading the list costs anyway).

    python benchmarks/tokens_lookup.py [--rows N] [--tokens N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from itsdangerous import URLSafeTimedSerializer  # noqa: E402

from digest.tokens import make_token  # noqa: E402

SECRET = "benchmark-secret-0123456789abcdef"
TARGETS = json.loads(Path(__file__).with_name("baseline.json").read_text())["tokens_lookup"]

_READ_ONLY = """
import sys
from pathlib import Path
from digest.subscribers import iter_subscribers
print(sum(1 for _ in iter_subscribers(Path(sys.argv[1]))))
"""
_BOOK = """
import sys, time
from pathlib import Path
from digest.serve.lookup import AddressBook
from digest.tokens import subscriber_id
secret, rows = sys.argv[2], int(sys.argv[3])
book = AddressBook(Path(sys.argv[1]), secret)
probes = [subscriber_id(f"reader{i}@example{i % 97}.org", secret) for i in range(0, rows, max(1, rows // 1000))]
assert book.address_of(probes[0]) is not None  # builds the map
start = time.perf_counter()
found = sum(book.address_of(p) is not None for p in probes)
assert found == len(probes), found
print(f"{(time.perf_counter() - start) / len(probes) * 1e6:.1f}")
"""


def write_list(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("email,name,status,subscribed_at,unsubscribed_at,source,confirmed_at\r\n")
        for i in range(rows):
            handle.write(f"reader{i}@example{i % 97}.org,Reader {i},active,2026-01-01T00:00:00+00:00,,cli,\r\n")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mint(count: int) -> tuple[float, float, float]:
    """Microseconds per token, new and old, and how much peak RSS grew while minting the new ones."""
    addresses = [f"reader{i}@example{i % 97}.org" for i in range(count)]
    old = URLSafeTimedSerializer(SECRET, salt="digest.unsubscribe.v1")
    make_token(addresses[0], SECRET)  # build the cached signer first, as a send does on its first recipient
    before = rss_mb()
    start = time.perf_counter()
    for address in addresses:
        make_token(address, SECRET)
    new_us = (time.perf_counter() - start) / count * 1e6
    grown = rss_mb() - before
    start = time.perf_counter()
    for address in addresses:
        old.dumps(address.lower())
    old_us = (time.perf_counter() - start) / count * 1e6
    return new_us, old_us, grown


def run_task(code: str, *args: str) -> tuple[float, float, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark task failed: {code.strip().splitlines()[-1]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, output.strip()


def run(smoke: bool) -> list[Any]:
    """For `make bench` (benchmarks/run_all.py): the minting row, beside the previous release's token."""
    from harness import Row

    count = 5_000 if smoke else 200_000
    new_us, old_us, grown = mint(count)
    max_ratio, max_growth = float(TARGETS["max_mint_ratio_vs_old"]) * (10 if smoke else 1), float(TARGETS["max_mint_rss_growth_mb"])
    return [
        Row("unsubscribe token minting", f"{count:,} tokens, opaque id + signature (RSS grew {grown:.1f} MB)", new_us, old_us,
            new_us / old_us, f"<= {max_ratio:g}x previous, RSS growth <= {max_growth:g} MB",
            new_us / old_us <= max_ratio and grown <= max_growth, "us", "the previous release's signed address"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tokens", type=int, default=200_000)
    args = parser.parse_args()

    new_us, old_us, grown = mint(args.tokens)
    print(f"\nminting {args.tokens:,} unsubscribe tokens")
    print(f"  opaque id + signature (digest)        {new_us:6.1f} us/token   peak RSS grew {grown:.1f} MB")
    print(f"  signed address (previous release)     {old_us:6.1f} us/token")
    print(f"  ratio digest / previous               {new_us / old_us:6.2f}   (target <= {TARGETS['max_mint_ratio_vs_old']})")

    with tempfile.TemporaryDirectory(prefix="digest-bench-tokens-") as folder:
        listing = Path(folder) / "subscribers.csv"
        write_list(listing, args.rows)
        read_s, read_mb, _ = run_task(_READ_ONLY, str(listing))
        book_s, book_mb, lookup_us = run_task(_BOOK, str(listing), SECRET, str(args.rows))
    print(f"\nmapping ids back on {args.rows:,} rows (own process each)")
    print(f"  baseline: iter_subscribers pass        {read_s:6.1f} s   peak RSS {read_mb:6.1f} MB")
    print(f"  AddressBook build + 1,000 lookups      {book_s:6.1f} s   peak RSS {book_mb:6.1f} MB   lookup {lookup_us} us")
    print(f"  ratio build / plain pass               {book_s / read_s:6.2f}")

    failed = new_us / old_us > TARGETS["max_mint_ratio_vs_old"] or grown > TARGETS["max_mint_rss_growth_mb"]
    if failed:
        print("FAIL: minting is dearer than the previous token, or its memory grew")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
