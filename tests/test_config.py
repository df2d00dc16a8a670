"""digest.toml: what a user gets for good and bad config files."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest
import tomli_w
from click.testing import Result
from hypothesis import example, given, settings
from hypothesis import strategies as st

from digest.config import Config, default_sections, load_config
from digest.errors import ConfigError
from tests.support.cli import SAMPLE_PAGE, invoke
from tests.support.fuzz import budget, values_for

MINIMAL = """\
[newsletter]
name = "Brief"
from_email = "brief@example.org"

[[sources]]
url = "pages/a.html"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={}, cwd=tmp_path)
    return str(info.value)


def test_minimal_config_gets_defaults_and_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={}, cwd=Path("/"))
    assert config.sources[0].url == str(tmp_path / "pages/a.html")
    assert config.state.dir == tmp_path / ".digest"
    assert config.delivery.outbox_dir == tmp_path / "outbox"
    assert config.subscribers.file == tmp_path / "subscribers.csv"
    assert config.sections == default_sections()
    assert [s.title for s in config.sections] == ["Ukraine peace", "Defence spending", "AI/tech partnership"]
    assert config.newsletter.from_name == "Brief"
    assert config.delivery.transport == "outbox"


def test_unknown_key_names_the_file_line_and_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL.replace('from_email = "brief@example.org"', 'from_email = "brief@example.org"\nfrom_adress = "x"'))
    assert message.startswith(f"{tmp_path / 'digest.toml'}:4: [newsletter] unknown key 'from_adress'")


def test_unknown_table_is_named(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL + "\n[delivry]\ntransport = 'smtp'\n")
    assert ":8: unknown table or key 'delivry'" in message


def test_wrong_type_names_key_and_expected_type(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL + "\n[delivery]\nsmtp_port = \"587\"\n")
    assert message == f"{tmp_path / 'digest.toml'}:9: [delivery] smtp_port: expected an integer, got str '587'"


def test_missing_required_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL.replace('from_email = "brief@example.org"\n', ""))
    assert "[newsletter] missing required key 'from_email'" in message


def test_invalid_toml_reports_the_parser_line(tmp_path: Path) -> None:
    message = error_for(tmp_path, MINIMAL + "\n[schedule]\ntime = 07:00:00:00\n")
    assert message.startswith(f"{tmp_path / 'digest.toml'}: invalid TOML:") and "line 9" in message


def test_bad_values_are_named(tmp_path: Path) -> None:
    assert "unknown IANA time zone 'Europe/Londn'" in error_for(tmp_path, MINIMAL.replace('name = "Brief"', 'name = "Brief"\ntimezone = "Europe/Londn"'))
    assert "[schedule] time: expected HH:MM" in error_for(tmp_path, MINIMAL + '\n[schedule]\ntime = "7am"\n')
    assert "[delivery] transport: expected one of outbox, sendgrid, smtp" in error_for(tmp_path, MINIMAL + '\n[delivery]\ntransport = "pigeon"\n')
    assert "no [[sources]] configured" in error_for(tmp_path, MINIMAL.split("[[sources]]")[0])


def test_the_novelty_window_and_feed_age_are_checked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "\n[novelty]\nwindow_days = 0\n"), env={}, cwd=tmp_path)
    assert config.novelty.window_days == 0
    assert error_for(tmp_path, MINIMAL + "\n[novelty]\nwindow_days = -1\n").endswith("[novelty] window_days: must be at least 0, got -1")
    assert error_for(tmp_path, MINIMAL + "\n[state]\nkeep_days = 5\n\n[novelty]\nwindow_days = 7\n") == (
        f"{tmp_path / 'digest.toml'}:12: [novelty] window_days: must not exceed [state] keep_days (5), since older editions are removed, got 7"
    )
    assert error_for(tmp_path, MINIMAL + "\n[gather]\nfeed_max_age_days = 0\n").endswith("[gather] feed_max_age_days: must be at least 1, got 0")


def test_custom_sections_replace_the_defaults(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[sections]]\ntitle = "Energy"\nkeywords = ["oil", "gas"]\nmax_items = 2\n'
    config = load_config(write(tmp_path, text), env={}, cwd=tmp_path)
    assert [(s.title, s.keywords, s.max_items) for s in config.sections] == [("Energy", ("oil", "gas"), 2)]
    assert "keywords: expected a list of non-empty strings" in error_for(tmp_path, MINIMAL + '\n[[sections]]\ntitle = "E"\nkeywords = "oil"\n')


def test_missing_config_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_config(tmp_path / "nope.toml", env={}, cwd=tmp_path)


def test_lookup_order_flag_then_env_then_local_then_bundled(tmp_path: Path) -> None:
    bundled = load_config(None, env={}, cwd=tmp_path)
    assert bundled.path is None
    assert bundled.state.dir == tmp_path / ".digest"  # state of the bundled sample lives in the cwd
    assert Path(bundled.sources[0].url).is_file()
    local = write(tmp_path, MINIMAL)
    assert load_config(None, env={}, cwd=tmp_path).path == local
    other = tmp_path / "other.toml"
    other.write_text(MINIMAL.replace("Brief", "Other"), encoding="utf-8")
    assert load_config(None, env={"DIGEST_CONFIG": str(other)}, cwd=tmp_path).newsletter.name == "Other"


def test_secrets_come_from_env_and_are_never_shown(tmp_path: Path) -> None:
    env = {"SENDGRID_API_KEY": "SG.secret-key", "DIGEST_SECRET": "hush", "SENDGRID_API_URL": "http://127.0.0.1:9"}
    config = load_config(write(tmp_path, MINIMAL), env=env, cwd=tmp_path)
    assert config.secrets.sendgrid_api_key == "SG.secret-key"
    assert config.delivery.sendgrid_api_url == "http://127.0.0.1:9"
    assert "secret-key" not in repr(config) and "hush" not in repr(config)


def test_gather_limits_and_allowed_hosts_are_checked(tmp_path: Path) -> None:
    gather = MINIMAL + "\n[gather]\n"
    config_file = tmp_path / "digest.toml"
    assert error_for(tmp_path, gather + "page_timeout = 0\n") == f"{config_file}:9: [gather] page_timeout: must be more than 0 seconds, got 0"
    assert error_for(tmp_path, gather + "total_timeout = -5\n") == f"{config_file}:9: [gather] total_timeout: must be more than 0 seconds, got -5"
    assert error_for(tmp_path, gather + "feed_max_age_days = 0\n") == f"{config_file}:9: [gather] feed_max_age_days: must be at least 1, got 0"
    assert error_for(tmp_path, gather + 'allow_hosts = ["http://intranet:8080/"]\n') == (
        f"{config_file}:9: [gather] allow_hosts: 'http://intranet:8080/' is not a host name "
        '(write the name alone, without scheme, port or path, e.g. "intranet.example.org")'
    )
    config = load_config(write(tmp_path, gather + 'allow_hosts = ["Intranet.Example.org", "10.0.0.7", "[fd00::1]"]\npage_timeout = 2.5\n'), env={}, cwd=tmp_path)
    assert config.gather.allow_hosts == ("intranet.example.org", "10.0.0.7", "fd00::1")
    assert config.gather.page_timeout == 2.5


def test_section_min_score_is_a_fraction_below_one(tmp_path: Path) -> None:
    section = '\n[[sections]]\ntitle = "Energy"\nkeywords = ["oil", "gas"]\nmin_score = {}\n'

    assert load_config(write(tmp_path, MINIMAL + section.format("0.6")), env={}, cwd=tmp_path).sections[0].min_score == 0.6
    message = error_for(tmp_path, MINIMAL + section.format("1.5"))
    assert message.startswith(f"{tmp_path / 'digest.toml'}:11: [[sections]] 'Energy': min_score must be from 0 to below 1")
    assert "min_score: expected a number" in error_for(tmp_path, MINIMAL + section.format('"high"'))


def test_email_colours_are_checked_and_normalised(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + '\n[email]\naccent_color = "#0A7"\nmasthead_color = " #16243D"\n'), env={}, cwd=tmp_path)
    assert (config.email.accent_color, config.email.masthead_color) == ("#00aa77", "#16243d")
    message = error_for(tmp_path, MINIMAL + '\n[email]\naccent_color = "red"\n')
    assert message == f"{tmp_path / 'digest.toml'}:9: [email] accent_color: expected a hex colour like \"#1a2b3c\", got 'red'"


def test_email_logo_needs_its_size_and_template_dir_must_exist(tmp_path: Path) -> None:
    logo = MINIMAL + '\n[email]\nlogo_url = "https://example.org/logo.png"\nlogo_width = 120\n'
    assert error_for(tmp_path, logo).endswith("[email] logo_height: required with logo_url (the image's size in pixels)")
    assert "[email] logo_width: must be between 1 and 552 pixels, got 900" in error_for(tmp_path, logo.replace("120", "900") + "logo_height = 40\n")
    assert "[email] logo_alt: only used with logo_url" in error_for(tmp_path, MINIMAL + '\n[email]\nlogo_alt = "Logo"\n')
    message = error_for(tmp_path, MINIMAL + '\n[email]\ntemplate_dir = "my-templates"\n')
    assert message == f"{tmp_path / 'digest.toml'}:9: [email] template_dir: folder {tmp_path / 'my-templates'} not found"
    (tmp_path / "my-templates").mkdir()
    config = load_config(write(tmp_path, MINIMAL + '\n[email]\ntemplate_dir = "my-templates"\n'), env={}, cwd=Path("/"))
    assert config.email.template_dir == tmp_path / "my-templates"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('name = "Brief\\r\\nBcc: evil@example.com"', "[newsletter] name: holds the control character U+000D at position 6; remove it"),
        ('from_name = "Brief\\u0000"', "[newsletter] from_name: holds the control character U+0000 at position 6; remove it"),
        ('subject = "\\u202e{date}"', "[newsletter] subject: holds the control character U+202E at position 1; remove it"),
        ('subject = "{name.__class__}"', "[newsletter] subject: only {name} and {date} may be used"),
        ('subject = "{date:>9999}"', "[newsletter] subject: only {name} and {date} may be used"),
        ('reply_to = "editor@example.org\\r\\nBcc: evil@example.com"', "[newsletter] reply_to: holds the control character U+000D at position 19; remove it"),
        ('reply_to = "editor@example.org, evil@example.com"', "[newsletter] reply_to: 'editor@example.org, evil@example.com' is not a mail address"),
        ('base_url = "javascript:alert(1)//"', "[newsletter] base_url: expected an http(s) URL like https://news.example.org, got 'javascript:alert(1)//'"),
    ],
)
def test_values_that_could_break_a_header_or_markup_are_refused_naming_the_line(tmp_path: Path, line: str, message: str) -> None:
    text = MINIMAL.replace('from_email = "brief@example.org"\n', f'from_email = "brief@example.org"\n{line}\n')
    if line.startswith("name ="):
        text = text.replace('name = "Brief"\n', "")
    error = error_for(tmp_path, text)
    assert error.startswith(f"{tmp_path / 'digest.toml'}:") and message in error, error


# -- fuzzing ---------------------------------------------------------------------------------------

def _config_keys() -> list[tuple[str, str, Any]]:
    """(table, key, type) of every config key, read off the Config dataclasses: new keys are fuzzed too."""
    keys = []
    for table, hint in get_type_hints(Config).items():
        if table in ("path", "secrets"):
            continue
        cls = get_args(hint)[0] if get_origin(hint) is tuple else hint
        keys += [(table, key, key_hint) for key, key_hint in get_type_hints(cls).items()]
    return keys


CONFIG_KEYS = _config_keys()
_REMOVE = object()


def _reaches_network(table: str, key: str, value: Any) -> bool:
    """A source URL or transport the fuzzer must not produce: the suite never leaves the machine."""
    if (table, key) == ("sources", "url"):
        return isinstance(value, str) and "://" in value and not value.lower().startswith("file:")
    return (table, key) == ("delivery", "transport") and value in ("smtp", "sendgrid")


def _mutation(key: tuple[str, str, Any]) -> st.SearchStrategy[tuple[str, str, Any]]:
    table, name, hint = key
    values = values_for(hint)
    values = values.filter(lambda value: not _reaches_network(table, name, value))
    return st.tuples(st.just(table), st.just(name), st.one_of(values, st.just(_REMOVE)))


def _fuzzed_config(mutations: list[tuple[str, str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "newsletter": {
            "name": "Brief", "from_email": "brief@example.org", "reply_to": "editor@example.org",
            "postal_address": "1 Example Street, London", "base_url": "https://news.example.org",
            "timezone": "Europe/London",
        },
        "sources": [{"url": str(SAMPLE_PAGE), "follow_related": False}],
        "sections": [{"title": "Ukraine peace", "keywords": ["ceasefire", "ukraine", "peace"]}],
        "delivery": {"transport": "outbox", "outbox_dir": "outbox"},
        "subscribers": {"file": "subscribers.csv"},
        "state": {"dir": "state"},
    }
    for table, name, value in mutations:
        target = data.setdefault(table, [{}] if table in ("sources", "sections") else {})
        target = target[0] if isinstance(target, list) else target
        if value is _REMOVE:
            target.pop(name, None)
        else:
            target[name] = value
    return data


def _assert_one_line_error_or_success(result: Result, folder: Path, before: set[Path], config: Path) -> None:
    state = folder / "state"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.stderr
    if result.exit_code == 0:
        assert not errors
        return
    assert result.exit_code == 1, result.stderr
    assert len(errors) == 1, result.stderr
    assert len(errors[0]) < 1_000
    # Named: the config file (with its line), a field ("[delivery] dkim_domain"), or the source that failed.
    assert str(config) in errors[0] or re.search(r"\[\w+\] \w+", errors[0]) or errors[0].startswith(
        "error: no source could be fetched: "
    ), errors[0]
    # The state dir records the run (a built edition, a failed outcome); the user's files stay as they were.
    written = {path for path in set(folder.rglob("*")) - before if path != state and state not in path.parents}
    assert not written, f"a failed command wrote {written}"


@pytest.mark.fuzz
@settings(max_examples=budget(50))
@example(mutations=[("newsletter", "from_email", "")])  # was blamed on the recipient at send time
@example(mutations=[("newsletter", "from_email", "A" * 10_240)])  # the error line quoted all 10 KB
@example(mutations=[("sources", "url", "")])  # read the config's own folder as the page
@example(mutations=[("newsletter", "name", "\ufffe")])  # MJML refused the template, blamed on the template
@example(mutations=[("newsletter", "subject", "{name}\r\nBcc: evil@example.com")])
@example(mutations=[("state", "keep_days", 2**63 - 1)])  # OverflowError in housekeeping after the send
@example(mutations=[("gather", "max_bytes", 2**63 - 1)])  # OverflowError reading the page
@example(mutations=[("delivery", "timeout_seconds", float("nan"))])
@example(mutations=[("subscribers", "file", "")])  # the config's folder read as the subscriber list
@example(mutations=[("gather", "user_agent", "\xa0")])  # UnicodeEncodeError from httpx
@given(mutations=st.lists(st.sampled_from(CONFIG_KEYS).flatmap(_mutation), min_size=1, max_size=3))
def test_any_value_of_any_key_builds_or_is_one_line_error_naming_the_file(
    tmp_path: Path, mutations: list[tuple[str, str, Any]]
) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as name:
        folder = Path(name)
        config = folder / "digest.toml"
        config.write_text(tomli_w.dumps(_fuzzed_config(mutations)), encoding="utf-8")
        (folder / "subscribers.csv").write_text(
            "email,name,status,subscribed_at,unsubscribed_at,source\nann@example.org,Ann,active,,,test\n", encoding="utf-8"
        )
        before = set(folder.rglob("*"))
        commands = (("schedule", "--next", "2"), ("run",), ("status",))
        for args in commands:
            result = invoke(config, "-q", *args)
            _assert_one_line_error_or_success(result, folder, before, config)
            if result.exit_code:
                break
            before = set(folder.rglob("*"))


@pytest.mark.fuzz
@settings(max_examples=budget(40))
@given(content=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_bytes_as_the_config_file_are_a_one_line_error_naming_it(tmp_path: Path, content: bytes) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as name:
        folder = Path(name)
        config = folder / "digest.toml"
        config.write_bytes(content)
        result = invoke(config, "-q", "schedule", "--next", "1")
        _assert_one_line_error_or_success(result, folder, {config}, config)
