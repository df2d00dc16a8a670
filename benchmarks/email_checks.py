"""What mail providers and clients make of the email: size, SpamAssassin score, caniemail features.

Two editions, each sent as a complete message (`build_message`, as `digest send` builds it):
the bundled sample (built from samples/ as `make demo` does) and the stress edition of the tests
(tests/fixtures/render/stress.json: long titles, 8 sources, a failed one, non-ASCII names).
The baseline, measured in the same run, is the bare MJML email: the same subject, sections and
bullets in plain <mj-text> blocks, with nothing of our template around them.

- Size of the HTML part a subscriber gets (Gmail clips above 102 KB). Target: under 102 KB.
- SpamAssassin (Debian `spamassassin`, offline: `spamassassin -L -t`). Target: under 2 points.
- caniemail features (npm `@jsx-email/doiuse-email`) the template uses beyond what MJML emits,
  with the clients that do not support them (the README lists them).

    python benchmarks/email_checks.py

Exits 1 when a target is missed; a missing tool is reported and skipped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from markupsafe import escape
from mjml import mjml2html

from digest.config import load_config
from digest.deliver.base import Recipient
from digest.deliver.message import build_message, message_bytes
from digest.editions import build_edition
from digest.models import Digest, Edition, Email
from digest.render import render_email

REPO = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO / ".venv" / "node_modules"
NOW = datetime(2026, 11, 26, 7, tzinfo=UTC)
MAX_HTML_BYTES = 102 * 1024
MAX_SPAM_SCORE = 2.0
RECIPIENT = Recipient("ann.reader@example.net", "Ann", "https://news.example.org/unsubscribe/" + "t" * 56)
# doiuse-email, from .venv/node_modules: every file named on the command line, as JSON.
_DOIUSE = """
import { readFileSync } from 'node:fs';
import { DoIUseEmail, doIUseEmail } from '@jsx-email/doiuse-email';
const out = {};
for (const file of process.argv.slice(2)) {
  const r = doIUseEmail(readFileSync(file, 'utf8'), { emailClients: ['*'] });
  out[file] = { errors: r.errors || [], warnings: r.warnings };
}
const named = new DoIUseEmail({ emailClients: ['*'] });
named.checkFeaturesSupport(JSON.parse(process.argv[1]));
out['named'] = { errors: named.errors, warnings: named.warnings };
console.log(JSON.stringify(out));
"""
# doiuse-email finds features by parsing HTML and CSS, but not these, which the template uses:
# the dark-mode media query and the color-scheme declarations (caniemail has them).
NAMED_FEATURES = ("@media (prefers-color-scheme)", "color-scheme CSS property", "color-scheme meta tag")
_VERDICT = re.compile(r"^`(?P<feature>[^`]+)` is (?P<how>not|only partially) supported by `(?P<client>[^`]+)`")


def bare_mjml(edition: Edition) -> Email:
    """The baseline: the edition's words in the plainest MJML, none of our template's features."""
    blocks = "".join(
        f"<mj-text><h2>{escape(section.title)}</h2>"
        + "".join(f"<p>{escape(b.text)} <a href=\"{escape(b.source.url)}\">{escape(b.source.site or b.source.title)}</a></p>" for b in section.bullets)
        + "</mj-text>"
        for section in edition.digest.sections
    )
    source = (
        f'<mjml lang="en"><mj-head><mj-title>{escape(edition.email.subject)}</mj-title>'
        f"<mj-preview>{escape(edition.email.preheader)}</mj-preview></mj-head>"
        '<mj-body background-color="#eeeeee"><mj-wrapper background-color="#eeeeee">'
        '<mj-section background-color="#ffffff"><mj-column>'
        f"<mj-text><h1>{escape(edition.digest.title)}</h1></mj-text>{blocks}"
        '<mj-text><p>1 Example Street, London</p><a href="%%unsubscribe_url%%">Unsubscribe</a></mj-text>'
        "</mj-column></mj-section></mj-wrapper></mj-body></mjml>"
    )
    html = mjml2html(source, fonts={}, disable_comments=True)
    return replace(edition.email, html=html)


def editions() -> dict[str, Edition]:
    config = load_config(None, env={"DIGEST_SECRET": "benchmark"}, cwd=Path(tempfile.mkdtemp()))
    sample = build_edition(config, "2026-11-26", NOW)
    stress = Digest.from_json(json.loads((REPO / "tests" / "fixtures" / "render" / "stress.json").read_text(encoding="utf-8")))
    return {
        "sample": sample,
        "stress": Edition(stress.edition, stress, render_email(stress, config.newsletter), NOW),
    }


def spam_score(message: bytes) -> float | None:
    if shutil.which("spamassassin") is None:
        return None
    report = subprocess.run(["spamassassin", "-L", "-t"], input=message, capture_output=True, timeout=120, check=False).stdout
    found = re.search(rb"Content analysis details:\s+\((-?[\d.]+) points", report)
    if found is None:
        raise RuntimeError("spamassassin gave no score")
    rules = re.findall(rb"^\s*(-?\d+\.\d) (\w+)", report.split(b"Content analysis details", 1)[1], re.M)
    for points, rule in rules:
        if float(points) != 0:
            print(f"    {rule.decode()}: {float(points):+.1f}")
    return float(found.group(1))


def caniemail(files: list[Path]) -> dict[Path, dict[str, dict[str, set[str]]]] | None:
    """Per file (and Path("named") for NAMED_FEATURES): feature -> {"not": clients, "only partially": clients}."""
    if not (NODE_MODULES / "@jsx-email" / "doiuse-email").is_dir() or shutil.which("node") is None:
        return None
    output = subprocess.run(
        ["node", "--input-type=module", "-e", _DOIUSE, json.dumps(NAMED_FEATURES), *map(str, files)],
        cwd=NODE_MODULES.parent, capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    result: dict[Path, dict[str, dict[str, set[str]]]] = {}
    for file, verdicts in json.loads(output).items():
        features: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"not": set(), "only partially": set()})
        for line in verdicts["errors"] + verdicts["warnings"]:
            match = _VERDICT.match(line)
            if match:
                features[match["feature"]][match["how"]].add(match["client"])
        result[Path(file)] = features
    return result


def main() -> int:
    missed = []
    scratch = Path(tempfile.mkdtemp())
    print(f"{'edition':<8} {'email':<9} {'HTML part':>10} {'SpamAssassin':>13}")
    html_files = []
    for name, edition in editions().items():
        for label, variant in (("bare MJML", replace(edition, email=bare_mjml(edition))), ("digest", edition)):
            print(f"{name:<8} {label:<9}")
            message = build_message(variant, RECIPIENT, load_config(None, env={}, cwd=scratch), now=NOW)
            html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
            size = len(html.encode("utf-8"))
            score = spam_score(message_bytes(message))
            shown = "not installed" if score is None else f"{score:.1f}"
            print(f"{'':<8} {'':<9} {size / 1024:>8.1f} KB {shown:>13}")
            path = scratch / f"{name}-{label.replace(' ', '-')}.html"
            path.write_text(html, encoding="utf-8")
            html_files.append(path)
            if label == "digest":
                if size >= MAX_HTML_BYTES:
                    missed.append(f"{name}: HTML part {size} bytes, target under {MAX_HTML_BYTES}")
                if score is not None and score >= MAX_SPAM_SCORE:
                    missed.append(f"{name}: SpamAssassin {score}, target under {MAX_SPAM_SCORE}")
    features = caniemail(html_files)
    if features is None:
        print("\ncaniemail: @jsx-email/doiuse-email not installed (make email-checks installs it)")
    else:
        ours: dict[str, dict[str, set[str]]] = {}
        baseline: dict[str, dict[str, set[str]]] = {}
        for path, found in features.items():
            target = ours if path.name.endswith("-digest.html") or path.name == "named" else baseline
            for feature, verdicts in found.items():
                for how, clients in verdicts.items():
                    target.setdefault(feature, {"not": set(), "only partially": set()})[how] |= clients
        print("\ncaniemail features the template adds beyond bare MJML (clients that miss them):")
        for feature in sorted(set(ours) - set(baseline)):
            print(f"  {feature}")
            for how in ("not", "only partially"):
                if ours[feature][how]:
                    print(f"    {how} supported: {', '.join(sorted(ours[feature][how]))}")
    for line in missed:
        print(f"MISSED: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
