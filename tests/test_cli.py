"""The command line for building and looking: preview, extract, sources check, and bad input."""

from __future__ import annotations

import json
import os
import signal
import socket
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from digest.cli import cli
from digest.config import GatherConfig
from digest.extract import extract_article
from digest.gather import fetch_page
from tests.support.cli import EDITION, NOW, SAMPLE_PAGE, SECRET, invoke, start_digest, write_config
from tests.support.http import HTTPSite

SECTION_TITLES = ["Ukraine peace", "Defence spending", "AI/tech partnership"]
BOILERPLATE = ["We use cookies", "Most read", "Share on", "Sign up"]


def run(args: list[str], cwd: Path, **env: str):  # type: ignore[no-untyped-def]
    """`digest ARGS` in `cwd` with the test clock, in this process."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, args, env={"DIGEST_NOW": NOW, **env}, catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def sample_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where `digest preview` (bundled sample config) has built today's edition once."""
    folder = tmp_path_factory.mktemp("sample")
    old = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(cli, ["preview"], env={"DIGEST_NOW": NOW, "DIGEST_CONFIG": ""}, catch_exceptions=False)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.stderr
    return folder


def test_preview_with_no_config_builds_the_bundled_sample_and_prints_the_path(sample_cwd: Path) -> None:
    html = (sample_cwd / "preview.html").read_text(encoding="utf-8")
    assert (sample_cwd / ".digest" / "editions" / EDITION / "email.html").is_file()
    for title in SECTION_TITLES:
        assert title in html
    for phrase in BOILERPLATE:
        assert phrase not in html
    assert "%%" not in html  # no placeholder left for a reader to see
    # Each headline once, in Sources: bullets credit their publisher in a few words.
    stored = json.loads((sample_cwd / ".digest" / "editions" / EDITION / "digest.json").read_text(encoding="utf-8"))
    shown = BeautifulSoup(html, "html.parser").get_text()
    assert sum(len(section["items"]) for section in stored["sections"]) >= 6
    for source in stored["sources"]:
        assert shown.count(source["title"]) == 1, source["title"]


def test_preview_json_is_the_interface_shape_and_every_bullet_is_from_its_source(sample_cwd: Path) -> None:
    result = run(["preview", "--format", "json", "--out", "-"], sample_cwd)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["edition"] == EDITION
    assert set(data) == {"edition", "title", "generated_at", "sections", "sources"}
    assert [s["title"] for s in data["sections"]] == SECTION_TITLES
    assert [s["status"] for s in data["sources"]] == ["ok", "ok", "ok"]
    texts = {}
    for section in data["sections"]:
        assert section["items"], f"{section['title']} is empty"
        for item in section["items"]:
            url = item["source"]["url"]
            if url not in texts:
                texts[url] = extract_article(fetch_page(url, GatherConfig())).text
            assert item["text"] in texts[url]


def test_preview_reuses_the_stored_edition_so_what_is_previewed_is_what_is_sent(sample_cwd: Path) -> None:
    stored = (sample_cwd / ".digest" / "editions" / EDITION / "email.html").stat().st_mtime_ns
    result = run(["preview", "--format", "text"], sample_cwd)
    assert result.exit_code == 0
    assert f"using stored edition {EDITION}" in result.stderr
    assert result.stdout.strip() == str(sample_cwd / "preview.text")
    assert (sample_cwd / ".digest" / "editions" / EDITION / "email.html").stat().st_mtime_ns == stored
    text = (sample_cwd / "preview.text").read_text(encoding="utf-8")
    for title in SECTION_TITLES:
        assert f"{title}\n{'-' * len(title)}" in text
    assert "Unsubscribe: http://127.0.0.1:8080/unsubscribe/" in text


def test_preview_eml_is_a_complete_message_to_the_preview_address(sample_cwd: Path) -> None:
    out = sample_cwd / "edition.eml"
    result = run(["preview", "--format", "eml", "--out", str(out)], sample_cwd, DIGEST_SECRET=SECRET)
    assert result.exit_code == 0, result.stderr
    message = message_from_bytes(out.read_bytes(), policy=policy.default)
    assert message["To"].addresses[0].addr_spec == "preview@example.org"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    for header in ("From", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe"):
        assert message[header], header


def test_preview_rebuild_with_a_config_of_any_sources_and_sections(tmp_path: Path, http_site: HTTPSite) -> None:
    config = tmp_path / "my.toml"
    config.write_text(
        "[newsletter]\nname = \"Energy Brief\"\nfrom_email = \"e@example.org\"\ntimezone = \"America/New_York\"\n"
        f"[[sources]]\nurl = \"{http_site.url('/gather/article.html')}\"\nfollow_related = false\n"
        "[[sections]]\ntitle = \"Anything\"\nkeywords = [\"the\", \"a\"]\nmax_items = 2\n",
        encoding="utf-8",
    )
    result = run(["--config", str(config), "preview", "--format", "json", "--out", "-", "--rebuild"], tmp_path)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["title"] == "Energy Brief"
    assert data["edition"] == "2026-11-26"  # 08:00 UTC is 03:00 in New York
    assert [s["title"] for s in data["sections"]] == ["Anything"]
    assert 1 <= len(data["sections"][0]["items"]) <= 2


def test_a_failing_source_is_a_warning_and_listed_as_error(tmp_path: Path, http_site: HTTPSite) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        "[newsletter]\nname = \"B\"\nfrom_email = \"b@example.org\"\n"
        f"[[sources]]\nurl = \"{SAMPLE_PAGE}\"\n[[sources]]\nurl = \"{http_site.url('/missing.html')}\"\n",
        encoding="utf-8",
    )
    result = run(["--config", str(config), "preview", "--format", "json", "--out", "-"], tmp_path)
    assert result.exit_code == 0
    assert f"{http_site.url('/missing.html')}: HTTP 404" in result.stderr
    failed = [s for s in json.loads(result.stdout)["sources"] if s["status"] == "error"]
    assert failed == [{"url": http_site.url("/missing.html"), "title": http_site.url("/missing.html"), "status": "error", "reason": "HTTP 404"}]
    for shown in ("html", "text"):  # readers see news; the fetch error is for the operator
        part = run(["--config", str(config), "preview", "--format", shown, "--out", "-"], tmp_path).stdout
        assert "/missing.html" not in part and "HTTP 404" not in part


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_only_source_exits_1_and_builds_nothing(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/news"
    config = tmp_path / "digest.toml"
    config.write_text(f"[newsletter]\nname = \"B\"\nfrom_email = \"b@example.org\"\n[[sources]]\nurl = \"{url}\"\n", encoding="utf-8")
    result = run(["--config", str(config), "preview"], tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: no source could be fetched: {url}: connection refused"
    assert not (tmp_path / ".digest" / "editions").exists()
    assert not (tmp_path / "preview.html").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[newsletter\nname = 1\n", "invalid TOML"),
        ("[newsletter]\nname = \"B\"\nfrom_email = \"b@example.org\"\ncolour = \"red\"\n[[sources]]\nurl = \"x\"\n", "digest.toml:4: [newsletter] unknown key 'colour'"),
        ("[newsletter]\nname = \"B\"\n[[sources]]\nurl = \"x\"\n", "[newsletter] missing required key 'from_email'"),
    ],
    ids=["bad-toml", "unknown-key", "missing-key"],
)
def test_bad_config_is_one_line_and_exit_1(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "digest.toml").write_text(text, encoding="utf-8")
    result = run(["preview"], tmp_path)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ") and expected in result.stderr


def test_missing_config_file_and_usage_errors(tmp_path: Path) -> None:
    result = run(["--config", str(tmp_path / "nope.toml"), "preview"], tmp_path)
    assert (result.exit_code, result.stderr.strip()) == (1, f"error: {tmp_path / 'nope.toml'}: config file not found (give --config PATH or create digest.toml)")
    assert run(["preview", "--format", "pdf"], tmp_path).exit_code == 2
    assert run(["no-such-command"], tmp_path).exit_code == 2


def test_bad_digest_now_is_named(tmp_path: Path) -> None:
    result = run(["preview"], tmp_path, DIGEST_NOW="yesterday")
    assert result.exit_code == 1 and "DIGEST_NOW: expected an ISO 8601 time" in result.stderr


def test_extract_prints_article_json_with_related_links(tmp_path: Path) -> None:
    result = run(["extract", str(SAMPLE_PAGE)], tmp_path)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"title", "text", "date", "author", "url", "related"}
    assert data["title"].startswith("Keir Starmer's Diplomatic Mission")
    assert data["date"] == "2026-11-25" and data["author"] == "Helen Carter"
    assert [Path(u).name for u in data["related"]] == ["european-defence-budgets.html", "uk-us-tech-partnership.html"]
    assert "We use cookies" not in data["text"]
    text = run(["extract", str(SAMPLE_PAGE), "--format", "text"], tmp_path).stdout
    assert text.startswith(data["title"] + "\n\n") and data["text"] in text


def test_extract_missing_file_and_http_error(tmp_path: Path, http_site: HTTPSite) -> None:
    result = run(["extract", str(tmp_path / "gone.html")], tmp_path)
    assert result.exit_code == 1 and result.stderr.strip().endswith("gone.html: file not found")
    result = run(["extract", http_site.url("/nothing-here")], tmp_path)
    assert result.exit_code == 1 and result.stderr.strip() == f"error: {http_site.url('/nothing-here')}: HTTP 404"


def test_sources_check_reports_each_source_and_its_related_links(tmp_path: Path, http_site: HTTPSite) -> None:
    result = run(["sources", "check"], tmp_path)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SOURCE", "STATUS", "HTTP", "BYTES", "TIME", "RELATED", "REASON"]
    source, status, _http, _bytes, _time, related = lines[1].split()
    assert (Path(source).name, status, related) == ("starmer-white-house.html", "ok", "2")
    assert sum("↳" in line and " ok " in line for line in lines) == 2
    assert lines[-1] == "1 of 1 sources ok"

    config = tmp_path / "bad.toml"
    config.write_text(
        f"[newsletter]\nname = \"B\"\nfrom_email = \"b@example.org\"\n[[sources]]\nurl = \"{http_site.url('/gone')}\"\n", encoding="utf-8"
    )
    result = run(["--config", str(config), "sources", "check"], tmp_path)
    assert result.exit_code == 1
    assert "HTTP 404" in result.stdout and result.stderr.strip() == "error: no configured source could be fetched"


def test_preview_serve_serves_the_edition_until_interrupted(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    first = invoke(config, "preview")
    assert first.exit_code == 0
    port = closed_port()
    process = start_digest(config, "preview", "--serve", "--port", str(port))
    try:
        line = ""
        while "serving" not in line:
            line = process.stderr.readline()  # type: ignore[union-attr]
            assert line, "digest preview --serve exited early"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "Ukraine peace" in page.text
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "stopped" in stderr


def test_a_broken_custom_template_is_one_line_naming_it_and_nothing_is_stored(tmp_path: Path) -> None:
    templates = tmp_path / "my-templates"
    templates.mkdir()
    (templates / "email.txt.j2").write_text("{{ newsletter.nmae }}\n", encoding="utf-8")
    config = tmp_path / "digest.toml"
    config.write_text(
        f"[newsletter]\nname = \"B\"\nfrom_email = \"b@example.org\"\n[[sources]]\nurl = \"{SAMPLE_PAGE}\"\n"
        "[email]\ntemplate_dir = \"my-templates\"\n",
        encoding="utf-8",
    )
    result = run(["--config", str(config), "preview"], tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {templates / 'email.txt.j2'}: template failed: 'digest.config.NewsletterConfig object' has no attribute 'nmae'"
    )
    assert not (tmp_path / ".digest" / "editions" / EDITION).exists()
