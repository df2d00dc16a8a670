"""digest.toml (and the environment) -> Config.

The file is found by --config, then $DIGEST_CONFIG, then ./digest.toml; with none of these the
bundled sample config is used, its sources read from the package and its state, outbox and
subscribers.csv kept in the current directory. Relative paths resolve against the config file's
folder. Secrets come only from the environment.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from digest.errors import ConfigError
from digest.models import UNSAFE_CHARACTERS, Source

PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """Folder of bundled data (`templates`, `samples`): inside an installed wheel, or the checkout."""
    for candidate in (PACKAGE_DIR / "_data" / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"bundled folder {name!r} is missing; reinstall digest")


DEFAULT_USER_AGENT = "digest/0.1 (+https://github.com/digest-newsletter/digest; newsletter digest builder)"


@dataclass(frozen=True, slots=True)
class SectionConfig:
    title: str
    keywords: tuple[str, ...]
    max_items: int = 4
    min_score: float = 0.0  # a bullet scoring below this (0-1 scale) is left out (0: no floor)


@dataclass(frozen=True, slots=True)
class NewsletterConfig:
    name: str
    from_email: str
    from_name: str = ""
    reply_to: str | None = None
    postal_address: str | None = None
    base_url: str = "http://127.0.0.1:8080"
    timezone: str = "UTC"
    subject: str = "{name}: {date}"
    alert_email: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    time: str = "07:00"
    misfire_grace_minutes: int = 60
    skip_if_unchanged: bool = True

    @property
    def local_time(self) -> dt.time:
        hour, minute = self.time.split(":")
        return dt.time(int(hour), int(minute))


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    transport: str = "outbox"
    outbox_dir: Path = Path("outbox")
    sendgrid_api_url: str = "https://api.sendgrid.com"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_security: str = "starttls"
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    batch_size: int = 1000
    timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class SubscribersConfig:
    file: Path = Path("subscribers.csv")


@dataclass(frozen=True, slots=True)
class StateConfig:
    dir: Path = Path(".digest")
    keep_days: int = 90


@dataclass(frozen=True, slots=True)
class GatherConfig:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    max_related: int = 10
    concurrency: int = 20  # a day's sources at once: the wall is the slowest one, not their sum
    user_agent: str = DEFAULT_USER_AGENT
    allow_private_links: bool = False  # may links and redirects found on pages reach local networks
    allow_hosts: tuple[str, ...] = ()  # hosts that links found on pages may reach even on a local network
    page_timeout: float = 20.0  # wall-clock seconds for one page, whatever the server does
    total_timeout: float = 35.0  # wall-clock seconds for the whole gather
    feed_max_age_days: int = 3  # feed entries older than this are skipped


@dataclass(frozen=True, slots=True)
class NoveltyConfig:
    window_days: int = 7  # a statement sent in an edition of the last N days is not sent again (0: off)


@dataclass(frozen=True, slots=True)
class EmailConfig:
    accent_color: str = "#b4232a"
    masthead_color: str = "#16243d"
    logo_url: str | None = None
    logo_width: int | None = None
    logo_height: int | None = None
    logo_alt: str | None = None
    template_dir: Path | None = None  # email.mjml.j2 / email.txt.j2 here override the bundled ones


@dataclass(frozen=True, slots=True)
class SignupConfig:
    enabled: bool = True
    confirm_subject: str = "Confirm your subscription to {name}"
    consent_text: str = ""  # empty: a sentence naming the newsletter and how often it comes
    welcome_text: str = ""  # empty: a default welcome


@dataclass(frozen=True, slots=True)
class ServeConfig:
    trust_proxy: bool = False  # trust X-Forwarded-* from one reverse-proxy hop
    max_request_bytes: int = 16_384
    rate_limit_per_minute: int = 10  # POSTs per client address per minute, then 429


@dataclass(frozen=True, slots=True)
class Secrets:
    """Read from the environment only; never printed."""

    sendgrid_api_key: str | None = field(default=None, repr=False)
    smtp_username: str | None = field(default=None, repr=False)
    smtp_password: str | None = field(default=None, repr=False)
    digest_secret: str | None = field(default=None, repr=False)
    dkim_private_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Secrets:
        return cls(
            sendgrid_api_key=env.get("SENDGRID_API_KEY") or None,
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            digest_secret=env.get("DIGEST_SECRET") or None,
            dkim_private_key=env.get("DKIM_PRIVATE_KEY") or None,
        )


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None  # the file read; None for the bundled sample
    newsletter: NewsletterConfig
    sources: tuple[Source, ...]
    sections: tuple[SectionConfig, ...] = ()  # parse_config fills in the bundled sample's when the file has none
    schedule: ScheduleConfig = ScheduleConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    subscribers: SubscribersConfig = SubscribersConfig()
    state: StateConfig = StateConfig()
    gather: GatherConfig = GatherConfig()
    novelty: NoveltyConfig = NoveltyConfig()
    email: EmailConfig = EmailConfig()
    signup: SignupConfig = SignupConfig()
    serve: ServeConfig = ServeConfig()
    secrets: Secrets = Secrets()

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "bundled sample config"


TRANSPORTS = ("outbox", "sendgrid", "smtp")
SMTP_SECURITY = ("starttls", "tls", "none")
_TABLES = (
    "newsletter", "schedule", "sources", "sections", "delivery", "subscribers", "state", "gather",
    "novelty", "email", "signup", "serve",
)


def find_config(explicit: Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file to use, or None for the bundled sample."""
    if explicit is not None:
        return explicit
    if env.get("DIGEST_CONFIG"):
        return Path(env["DIGEST_CONFIG"])
    local = cwd / "digest.toml"
    return local if local.is_file() else None


def load_config(
    explicit: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Find, read and validate the config. Raises ConfigError naming the file, key and line."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    path = find_config(explicit, env, cwd)
    if path is None:
        sample = bundled_dir("samples") / "digest.toml"
        return parse_config(_read(sample), sample, sources_dir=sample.parent, state_dir=cwd, env=env, bundled=True)
    path = path if path.is_absolute() else cwd / path
    return parse_config(_read(path), path, sources_dir=path.parent, state_dir=path.parent, env=env)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (give --config PATH or create digest.toml)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc


def parse_config(
    text: str,
    path: Path,
    *,
    sources_dir: Path,
    state_dir: Path,
    env: Mapping[str, str],
    bundled: bool = False,
) -> Config:
    """Validate TOML text into a Config. Raises ConfigError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    where = _Locator(path, text)
    for key in data:
        if key not in _TABLES:
            raise ConfigError(f"{where.at(None, key)}unknown table or key '{key}' (expected one of: {', '.join(_TABLES)})")
    if "newsletter" not in data:
        raise ConfigError(f"{path}: missing required table [newsletter]")

    newsletter = _table(NewsletterConfig, data["newsletter"], "newsletter", where)
    if not newsletter.from_name:
        newsletter = _replace(newsletter, from_name=newsletter.name)
    newsletter = _replace(newsletter, **{
        key: _address(getattr(newsletter, key), "newsletter", key, where)
        for key in ("from_email", "reply_to", "alert_email")
        if getattr(newsletter, key) is not None
    })
    try:
        ZoneInfo(newsletter.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where.at('newsletter', 'timezone')}[newsletter] timezone: unknown IANA time zone {_shown(newsletter.timezone)} (e.g. \"Europe/London\")") from None
    _check_template(newsletter.subject, ("name", "date"), "newsletter", "subject", where)
    if not re.fullmatch(r"https?://[^\s/?#@]+(/\S*)?", newsletter.base_url, re.IGNORECASE):
        raise ConfigError(
            f"{where.at('newsletter', 'base_url')}[newsletter] base_url: expected an http(s) URL like "
            f"https://news.example.org, got {_shown(newsletter.base_url)}"
        )

    schedule = _table(ScheduleConfig, data.get("schedule", {}), "schedule", where)
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", schedule.time):
        raise ConfigError(f"{where.at('schedule', 'time')}[schedule] time: expected HH:MM in 24-hour time, got {_shown(schedule.time)}")

    raw_sources = data.get("sources")
    if not raw_sources:
        raise ConfigError(f"{path}: no [[sources]] configured; add at least one with url = \"...\"")
    if not isinstance(raw_sources, list):
        raise ConfigError(f"{where.at(None, 'sources')}sources must be an array of tables ([[sources]])")
    sources = tuple(
        _source(_table(_SourceTable, raw, f"sources[{i}]", where, table_name="sources"), sources_dir, where)
        for i, raw in enumerate(raw_sources)
    )

    raw_sections = data.get("sections")
    sections = default_sections() if raw_sections is None else _sections(raw_sections, where)

    delivery = _table(DeliveryConfig, data.get("delivery", {}), "delivery", where)
    if delivery.transport not in TRANSPORTS:
        raise ConfigError(f"{where.at('delivery', 'transport')}[delivery] transport: expected one of {', '.join(TRANSPORTS)}, got {_shown(delivery.transport)}")
    if delivery.smtp_security not in SMTP_SECURITY:
        raise ConfigError(f"{where.at('delivery', 'smtp_security')}[delivery] smtp_security: expected one of {', '.join(SMTP_SECURITY)}, got {_shown(delivery.smtp_security)}")
    delivery = _replace(
        delivery,
        outbox_dir=_resolve(delivery.outbox_dir, state_dir),
        sendgrid_api_url=env.get("SENDGRID_API_URL") or delivery.sendgrid_api_url,
    )

    subscribers = _table(SubscribersConfig, data.get("subscribers", {}), "subscribers", where)
    subscribers = _replace(subscribers, file=_resolve(subscribers.file, state_dir))
    state = _table(StateConfig, data.get("state", {}), "state", where)
    state = _replace(state, dir=_resolve(state.dir, state_dir))
    gather = _gather(_table(GatherConfig, data.get("gather", {}), "gather", where), where)
    if not (gather.user_agent.strip() and gather.user_agent.isascii() and gather.user_agent.isprintable()):
        raise ConfigError(f"{where.at('gather', 'user_agent')}[gather] user_agent: must be printable ASCII text (it is sent as an HTTP header)")
    novelty = _table(NoveltyConfig, data.get("novelty", {}), "novelty", where)
    if novelty.window_days > state.keep_days:
        raise ConfigError(
            f"{where.at('novelty', 'window_days')}[novelty] window_days: must not exceed [state] keep_days ({state.keep_days}), "
            f"since older editions are removed, got {novelty.window_days}"
        )
    email = _email(_table(EmailConfig, data.get("email", {}), "email", where), sources_dir, where)
    signup = _table(SignupConfig, data.get("signup", {}), "signup", where)
    _check_template(signup.confirm_subject, ("name",), "signup", "confirm_subject", where)
    serve = _table(ServeConfig, data.get("serve", {}), "serve", where)

    return Config(
        path=None if bundled else path,
        newsletter=newsletter,
        sources=sources,
        sections=sections,
        schedule=schedule,
        delivery=delivery,
        subscribers=subscribers,
        state=state,
        gather=gather,
        novelty=novelty,
        email=email,
        signup=signup,
        serve=serve,
        secrets=Secrets.from_env(env),
    )


def _sections(raw_sections: Any, where: _Locator) -> tuple[SectionConfig, ...]:
    if not isinstance(raw_sections, list) or not raw_sections:
        raise ConfigError(f"{where.at(None, 'sections')}sections must be a non-empty array of tables ([[sections]])")
    sections = tuple(
        _table(SectionConfig, raw, f"sections[{i}]", where, table_name="sections") for i, raw in enumerate(raw_sections)
    )
    for section in sections:
        if not section.title.strip():
            raise ConfigError(f"{where.at('sections', 'title')}[[sections]] title must not be empty")
        if not section.keywords:
            raise ConfigError(f"{where.at('sections', 'keywords')}[[sections]] {_shown(section.title)}: keywords must not be empty")
        if not 0.0 <= section.min_score < 1.0:
            raise ConfigError(
                f"{where.at('sections', 'min_score')}[[sections]] {_shown(section.title)}: min_score must be from 0 to "
                f"below 1 (0.5 keeps plain statements, 0.7 only strong ones), got {section.min_score}"
            )
    return sections


def default_sections() -> tuple[SectionConfig, ...]:
    """The sections of the bundled sample config, for a config file that has no [[sections]]."""
    sample = bundled_dir("samples") / "digest.toml"
    text = _read(sample)
    return _sections(tomllib.loads(text)["sections"], _Locator(sample, text))


@dataclass(frozen=True, slots=True)
class _SourceTable:
    url: str
    follow_related: bool = True


def _source(table: _SourceTable, base: Path, where: _Locator) -> Source:
    url = table.url.strip()
    if not url:
        raise ConfigError(f"{where.at('sources', 'url')}[[sources]] url: must not be empty; give a page, feed or file")
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        return Source(url, table.follow_related)
    return Source(str(_resolve(Path(url).expanduser(), base)), table.follow_related)


def _shown(value: object, limit: int = 60) -> str:
    """A value as an error message quotes it: its repr, cut short so the message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_template(template: str, allowed: tuple[str, ...], table: str, key: str, where: _Locator) -> None:
    """A str.format template may name only `allowed` fields: no attribute or index lookups
    ({name.__class__}), conversions or format specs ({date:>9999}). Raises ConfigError."""
    try:
        fields_used = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template) if name is not None]
    except ValueError:
        fields_used = [("", "", None)]
    if any(name not in allowed or spec or conversion for name, spec, conversion in fields_used):
        only = " and ".join(f"{{{name}}}" for name in allowed)
        raise ConfigError(f"{where.at(table, key)}[{table}] {key}: only {only} may be used")


def _address(value: str, table: str, key: str, where: _Locator) -> str:
    """A mail address as headers and SendGrid need it: one valid addr-spec, domain lowercased."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ConfigError(f"{where.at(table, key)}[{table}] {key}: {_shown(value)} is not a mail address ({exc})") from None


_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# The email's content column is 600 px with 24 px padding on each side.
MAX_LOGO_WIDTH = 552


def _email(email: EmailConfig, base: Path, where: _Locator) -> EmailConfig:
    """[email] checked: hex colours made #rrggbb, a logo with its size, an existing template folder."""
    colors = {}
    for key in ("accent_color", "masthead_color"):
        value = getattr(email, key).strip()
        if not _HEX_COLOR.fullmatch(value):
            raise ConfigError(f"{where.at('email', key)}[email] {key}: expected a hex colour like \"#1a2b3c\", got {_shown(value)}")
        digits = value[1:].lower()
        colors[key] = "#" + (digits if len(digits) == 6 else "".join(d * 2 for d in digits))
    if email.logo_url is None:
        for key in ("logo_width", "logo_height", "logo_alt"):
            if getattr(email, key) is not None:
                raise ConfigError(f"{where.at('email', key)}[email] {key}: only used with logo_url; set logo_url or remove it")
    else:
        if not re.fullmatch(r"https?://[^\s/?#]+\S*", email.logo_url):
            raise ConfigError(f"{where.at('email', 'logo_url')}[email] logo_url: expected an http(s) URL of an image, got {_shown(email.logo_url)}")
        for key, maximum in (("logo_width", MAX_LOGO_WIDTH), ("logo_height", 400)):
            value = getattr(email, key)
            if value is None:
                raise ConfigError(f"{where.at('email', 'logo_url')}[email] {key}: required with logo_url (the image's size in pixels)")
            if not 1 <= value <= maximum:
                raise ConfigError(f"{where.at('email', key)}[email] {key}: must be between 1 and {maximum} pixels, got {value}")
    template_dir = email.template_dir
    if template_dir is not None:
        template_dir = _resolve(template_dir, base)
        if not template_dir.is_dir():
            raise ConfigError(f"{where.at('email', 'template_dir')}[email] template_dir: folder {template_dir} not found")
    checked: EmailConfig = _replace(email, template_dir=template_dir, **colors)
    return checked


def _resolve(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else base / path


def _replace(obj: Any, **changes: Any) -> Any:
    values = {f.name: getattr(obj, f.name) for f in fields(obj)}
    values.update(changes)
    return type(obj)(**values)


# Inclusive bounds of numeric keys. A key not listed here must still be finite and within
# ±NUMBER_LIMIT, so that no value can overflow a timedelta, a C int or a buffer size. (The
# timeouts' lower bound, more than 0, is checked by _gather.)
NUMBER_LIMIT = 1_000_000_000
NUMBER_BOUNDS: dict[tuple[str, str], tuple[float, float]] = {
    ("sections", "max_items"): (1, 100),
    ("schedule", "misfire_grace_minutes"): (0, 1440),
    ("delivery", "smtp_port"): (1, 65535),
    ("delivery", "batch_size"): (1, 1000),
    ("delivery", "timeout_seconds"): (0.1, 3600),
    ("state", "keep_days"): (1, 36500),
    ("gather", "connect_timeout"): (-NUMBER_LIMIT, 600),
    ("gather", "read_timeout"): (-NUMBER_LIMIT, 600),
    ("gather", "page_timeout"): (-NUMBER_LIMIT, 3600),
    ("gather", "total_timeout"): (-NUMBER_LIMIT, 86400),
    ("gather", "max_bytes"): (1, 1 << 31),
    ("gather", "max_redirects"): (0, 50),
    ("gather", "max_related"): (0, 1000),
    ("gather", "concurrency"): (1, 64),
    ("gather", "feed_max_age_days"): (1, 36500),
    ("novelty", "window_days"): (0, 3650),
    ("serve", "max_request_bytes"): (1024, NUMBER_LIMIT),
    ("serve", "rate_limit_per_minute"): (1, NUMBER_LIMIT),
}


def _check_number(value: float, table: str, name: str, key: str, where: _Locator) -> None:
    low, high = NUMBER_BOUNDS.get((table, key), (-NUMBER_LIMIT, NUMBER_LIMIT))
    if low <= value <= high:
        return
    def number(bound: float) -> str:
        return str(int(bound)) if float(bound).is_integer() else str(bound)

    limit = "a finite number" if value != value else f"at least {number(low)}" if value < low else f"at most {number(high)}"
    raise ConfigError(f"{where.at(table, key)}[{name}] {key}: must be {limit}, got {_shown(value)}")


def _gather(gather: GatherConfig, where: _Locator) -> GatherConfig:
    """Check [gather] values; host names in allow_hosts are compared in lower case."""
    for key in ("connect_timeout", "read_timeout", "page_timeout", "total_timeout"):
        if not getattr(gather, key) > 0:
            raise ConfigError(f"{where.at('gather', key)}[gather] {key}: must be more than 0 seconds, got {getattr(gather, key):g}")
    hosts = []
    for host in gather.allow_hosts:
        bare = host.strip("[]").lower().rstrip(".")
        if not re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*|[0-9a-f:.]*:[0-9a-f:.]*", bare):
            raise ConfigError(
                f"{where.at('gather', 'allow_hosts')}[gather] allow_hosts: {_shown(host)} is not a host name "
                '(write the name alone, without scheme, port or path, e.g. "intranet.example.org")'
            )
        hosts.append(bare)
    checked: GatherConfig = _replace(gather, allow_hosts=tuple(hosts))
    return checked


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", Path: "a path string"}


def _table(cls: type, raw: Any, name: str, where: _Locator, table_name: str | None = None) -> Any:
    """Build dataclass `cls` from one TOML table, checking keys and types."""
    table_name = table_name or name
    if not isinstance(raw, dict):
        raise ConfigError(f"{where.at(None, table_name)}[{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{where.at(table_name, key)}[{name}] unknown key '{key}' (known: {', '.join(known)})")
        values[key] = _coerce(value, known[key].type, name, key, where.at(table_name, key))
        if isinstance(values[key], (int, float)) and not isinstance(values[key], bool):
            _check_number(values[key], table_name, name, key, where)
    missing = [f.name for f in fields(cls) if f.name not in values and _required(cls, f.name)]
    if missing:
        raise ConfigError(f"{where.at(None, table_name)}[{name}] missing required key '{missing[0]}'")
    return cls(**values)


def _required(cls: type, name: str) -> bool:
    from dataclasses import MISSING

    f = {f.name: f for f in fields(cls)}[name]
    return f.default is MISSING and f.default_factory is MISSING


def _coerce(value: Any, annotation: Any, table: str, key: str, loc: str) -> Any:
    kind = str(annotation)
    if kind.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{loc}[{table}] {key}: expected a list of non-empty strings")
        for item in value:
            _check_characters(item, table, key, loc)
        return tuple(v.strip() for v in value)
    optional = "None" in kind
    base = kind.replace(" | None", "")
    expected: type = {"str": str, "int": int, "float": float, "bool": bool, "Path": Path}[base]
    if optional and value == "":
        return None
    ok = (
        isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected not in (float, Path)
        else (isinstance(value, (int, float)) and not isinstance(value, bool)) if expected is float
        else isinstance(value, str)
    )
    if not ok:
        raise ConfigError(f"{loc}[{table}] {key}: expected {_TYPE_NAMES[expected]}, got {type(value).__name__} {_shown(value)}")
    if isinstance(value, str):
        _check_characters(value, table, key, loc)
    if expected is Path:
        if not value.strip():
            raise ConfigError(f"{loc}[{table}] {key}: must not be empty; give a path")
        return Path(value).expanduser()
    if expected is float:
        return float(value)
    return value


# Keys whose text may run over several lines; every other string is one line.
_MULTILINE_KEYS = frozenset({("newsletter", "postal_address"), ("signup", "consent_text"), ("signup", "welcome_text")})
_LINE_BREAK = re.compile("[\r\n\u2028\u2029]")


def _check_characters(value: str, table: str, key: str, loc: str) -> None:
    """Refuse control characters in any value, and line breaks in one-line values. Raises ConfigError."""
    found = UNSAFE_CHARACTERS.search(value)
    if found is None and (table, key) not in _MULTILINE_KEYS:
        found = _LINE_BREAK.search(value)
    if found is not None:
        raise ConfigError(
            f"{loc}[{table}] {key}: holds the control character U+{ord(found.group()):04X} "
            f"at position {found.start() + 1}; remove it"
        )


class _Locator:
    """Turns (table, key) into 'file:line: ' by scanning the TOML text (tomllib gives no positions)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def at(self, table: str | None, key: str) -> str:
        current: str | None = None
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            header = re.match(r"^\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?", stripped)
            if header:
                current = header.group(1)
                if table is None and current == key:
                    return f"{self.path}:{number}: "
                continue
            if current == table and re.match(rf"^{re.escape(key)}\s*=", stripped):
                return f"{self.path}:{number}: "
            if table is None and current is None and re.match(rf"^{re.escape(key)}\s*=", stripped):
                return f"{self.path}:{number}: "
        return f"{self.path}: "
