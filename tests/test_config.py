"""digest.toml: what a user gets for good and bad config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import default_sections, load_config
from digest.errors import ConfigError

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
