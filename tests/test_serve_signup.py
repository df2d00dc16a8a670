"""Sign-up on `digest serve` over real HTTP on loopback, with the outbox transport: the form, the
same answer for every address, the confirmation link, and every abuse limit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from digest.config import Config
from digest.deliver.outbox import outbox_path
from digest.subscribers import read_subscribers, unsubscribe_subscriber
from tests.support.cli import load_test_config, write_config
from tests.support.serve import Clock, Served, confirmation_link, hidden_inputs, read_eml, serve_in_thread

START = datetime(2026, 11, 26, 7, 0, tzinfo=UTC).timestamp()
MINUTE = 60
DAY = 24 * 3600
BASE_URL = "https://news.example.org"
LIST = (
    "email,name,status,subscribed_at,unsubscribed_at,source,confirmed_at\n"
    "active@example.org,Ann,active,2026-01-01T00:00:00+00:00,,cli,\n"
    "gone@example.org,Gus,unsubscribed,2026-01-01T00:00:00+00:00,2026-06-01T00:00:00+00:00,cli,\n"
    "bounced@example.org,,bounced,2026-01-01T00:00:00+00:00,,cli,\n"
    "waiting@example.org,,pending,2026-11-25T07:00:00+00:00,,form,\n"
)


@dataclass
class Desk:
    served: Served
    config: Config
    clock: Clock

    @property
    def url(self) -> str:
        return self.served.url

    def form(self) -> dict[str, str]:
        page = httpx.get(f"{self.url}/subscribe")
        assert page.status_code == 200
        return hidden_inputs(page.text)

    def subscribe(self, email: str, name: str = "", **extra: str) -> httpx.Response:
        return httpx.post(f"{self.url}/subscribe", data={**self.form(), "email": email, "name": name, **extra})

    def mailed(self, email: str) -> Path:
        return outbox_path(self.config.delivery.outbox_dir, "signup", email)

    def message_id(self, email: str) -> str | None:
        self.served.drain()
        path = self.mailed(email)
        return str(read_eml(path)["Message-ID"]) if path.exists() else None

    def local(self, link: str) -> str:
        assert link.startswith(BASE_URL + "/confirm/"), link
        return self.url + link[len(BASE_URL):]


@contextmanager
def open_desk(tmp_path: Path, clock: Clock, **settings: str) -> Iterator[Desk]:
    config_path = write_config(tmp_path)
    if settings:
        config_path.write_text(
            config_path.read_text(encoding="utf-8") + "\n[signup]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()),
            encoding="utf-8",
        )
    config = load_test_config(config_path)
    if not config.subscribers.file.exists():
        config.subscribers.file.write_text(LIST, encoding="utf-8")
    with serve_in_thread(config, clock=clock) as served:
        yield Desk(served, config, clock)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    with open_desk(tmp_path, Clock(START)) as opened:
        yield opened


def test_the_form_is_plain_html_with_consent_and_a_honeypot(desk: Desk) -> None:
    page = httpx.get(f"{desk.url}/subscribe")
    assert page.status_code == 200
    assert '<form method="post" action="/subscribe">' in page.text
    assert '<input type="email" id="email" name="email"' in page.text
    assert '<input type="text" id="name" name="name"' in page.text
    assert "You will get The Transatlantic Brief by email once a day, at 07:00 (Europe/London time)." in page.text
    assert "<script" not in page.text and "set-cookie" not in page.headers
    assert set(hidden_inputs(page.text)) == {"form"}
    assert 'name="website"' in page.text


def test_every_address_state_gets_the_same_answer_and_only_new_or_unsubscribed_are_mailed(desk: Desk) -> None:
    before = {s.email: s for s in read_subscribers(desk.config.subscribers.file)}
    answers = {
        email: desk.subscribe(email)
        for email in ("new@example.org", "active@example.org", "gone@example.org", "bounced@example.org", "waiting@example.org")
    }
    assert {r.status_code for r in answers.values()} == {200}
    assert len({r.text for r in answers.values()}) == 1
    assert "Check your inbox" in answers["active@example.org"].text
    desk.served.drain()

    mailed = sorted(p.name for p in (desk.config.delivery.outbox_dir / "signup").iterdir())
    assert mailed == ["gone_at_example.org.eml", "new_at_example.org.eml", "waiting_at_example.org.eml"]
    after = {s.email: s for s in read_subscribers(desk.config.subscribers.file)}
    assert (after["new@example.org"].status, after["new@example.org"].source) == ("pending", "form")
    assert after["new@example.org"].subscribed_at == "2026-11-26T07:00:00+00:00"
    assert after["gone@example.org"].status == "pending"
    for unchanged in ("active@example.org", "bounced@example.org", "waiting@example.org"):
        assert after[unchanged] == before[unchanged]


def test_the_confirmation_link_confirms_on_post_only(desk: Desk) -> None:
    assert desk.subscribe("New@Example.org", "Nina").status_code == 200
    desk.served.drain()
    message = read_eml(desk.mailed("New@example.org"))
    assert (message["To"], message["Subject"]) == ("New@example.org", "Confirm your subscription to The Transatlantic Brief")
    assert message["Auto-Submitted"] == "auto-generated" and "List-Unsubscribe" not in message
    link = desk.local(confirmation_link(desk.mailed("New@example.org")))
    listing = desk.config.subscribers.file.read_bytes()

    shown = httpx.get(link)  # what a mail scanner does
    assert shown.status_code == 200
    assert f'<form method="post" action="{link[len(desk.url):]}">' in shown.text
    assert desk.config.subscribers.file.read_bytes() == listing

    desk.clock.now += 6 * DAY
    confirmed = httpx.post(link)
    assert confirmed.status_code == 200
    assert "Welcome to The Transatlantic Brief." in confirmed.text and 'href="/"' in confirmed.text
    new = read_subscribers(desk.config.subscribers.file)[-1]
    assert (new.email, new.name, new.status, new.source, new.confirmed_at) == (
        "New@example.org", "Nina", "active", "form", "2026-12-02T07:00:00+00:00",
    )
    assert httpx.post(link).status_code == 200  # pressing twice is no error


def test_an_expired_or_tampered_confirmation_link_gets_400_and_changes_nothing(desk: Desk) -> None:
    desk.subscribe("new@example.org")
    desk.served.drain()
    link = desk.local(confirmation_link(desk.mailed("new@example.org")))
    listing = desk.config.subscribers.file.read_bytes()

    for bad in (link[:-3] + "xyz", desk.url + "/confirm/garbage"):
        for method in (httpx.get, httpx.post):
            answer = method(bad)
            assert answer.status_code == 400
            assert "does not work" in answer.text and '<a href="/subscribe">Subscribe again</a>' in answer.text
    desk.clock.now += 7 * DAY + MINUTE
    expired = httpx.post(link)
    assert expired.status_code == 400
    assert "This confirmation link has expired: links work for 7 days." in expired.text
    assert desk.config.subscribers.file.read_bytes() == listing


def test_a_confirmation_link_cannot_undo_an_unsubscribe(desk: Desk) -> None:
    desk.subscribe("new@example.org")
    desk.served.drain()
    link = desk.local(confirmation_link(desk.mailed("new@example.org")))
    assert httpx.post(link).status_code == 200
    unsubscribe_subscriber(desk.config.subscribers.file, "new@example.org", datetime(2026, 11, 27, tzinfo=UTC))
    assert httpx.post(link).status_code == 400
    assert read_subscribers(desk.config.subscribers.file)[-1].status == "unsubscribed"


def test_one_confirmation_per_10_minutes_and_3_a_day_even_across_a_restart(tmp_path: Path) -> None:
    clock = Clock(START)
    seen = []
    with open_desk(tmp_path, clock) as desk:
        for step in (0, 1, 10, 10, 10):  # minutes after the previous request
            clock.now += step * MINUTE
            assert desk.subscribe("new@example.org").status_code == 200
            seen.append(desk.message_id("new@example.org"))
    # Sent at 0, (1 min: no), 11, 21, (31: the 4th today: no)
    assert seen[1] == seen[0] and len({seen[0], seen[2], seen[3]}) == 3 and seen[4] == seen[3]

    clock.now += 20 * MINUTE
    with serve_in_thread(desk.config, clock=clock) as served:
        again = Desk(served, desk.config, clock)
        again.subscribe("new@example.org")
        assert again.message_id("new@example.org") == seen[3]  # the limit survived the restart
        clock.now = START + DAY + MINUTE
        again.subscribe("new@example.org")
        assert again.message_id("new@example.org") != seen[3]


def test_eleven_quick_posts_from_one_client_get_429(desk: Desk) -> None:
    form = desk.form()
    statuses = [
        httpx.post(f"{desk.url}/subscribe", data={**form, "email": f"reader{i}@example.org"}).status_code for i in range(11)
    ]
    assert statuses == [200] * 10 + [429]
    desk.served.drain()
    assert len(list((desk.config.delivery.outbox_dir / "signup").iterdir())) == 10
    desk.clock.now += MINUTE
    assert httpx.post(f"{desk.url}/subscribe", data={**form, "email": "later@example.org"}).status_code == 200


def test_a_filled_honeypot_gets_the_same_answer_and_nothing_happens(desk: Desk) -> None:
    normal = desk.subscribe("someone@example.org")
    desk.served.drain()
    listing = desk.config.subscribers.file.read_bytes()
    trapped = desk.subscribe("victim@example.org", website="http://spam.example")
    desk.served.drain()
    assert (trapped.status_code, trapped.text) == (200, normal.text)
    assert desk.config.subscribers.file.read_bytes() == listing
    assert not desk.mailed("victim@example.org").exists()


@pytest.mark.parametrize("age", [2 * 3600 + 1, None], ids=["expired", "forged"])
def test_an_old_or_forged_form_token_gets_a_fresh_form(desk: Desk, age: int | None) -> None:
    listing = desk.config.subscribers.file.read_bytes()
    form = desk.form() if age is not None else {"form": "forged.token.value"}
    desk.clock.now += age or 0
    answer = httpx.post(f"{desk.url}/subscribe", data={**form, "email": "bot@example.org", "name": "B"})
    assert answer.status_code == 400
    assert "This form was open too long" in answer.text
    assert 'value="bot@example.org"' in answer.text
    assert hidden_inputs(answer.text)["form"] != form["form"]
    desk.served.drain()
    assert desk.config.subscribers.file.read_bytes() == listing


def test_an_invalid_address_gets_400_with_the_reason(desk: Desk) -> None:
    answer = desk.subscribe("not an address")
    assert answer.status_code == 400
    assert "is not a valid email address" in answer.text
    assert "&#39;not an address&#39;" in answer.text


def test_sign_up_switched_off_answers_404(tmp_path: Path) -> None:
    with open_desk(tmp_path, Clock(START), enabled="false") as desk:
        assert httpx.get(f"{desk.url}/subscribe").status_code == 404
        assert httpx.post(f"{desk.url}/subscribe", data={"email": "a@example.org"}).status_code == 404
        assert httpx.get(f"{desk.url}/confirm/anything").status_code == 404
        assert 'href="/subscribe"' not in httpx.get(f"{desk.url}/").text


def test_texts_and_subject_come_from_the_config(tmp_path: Path) -> None:
    with open_desk(
        tmp_path, Clock(START),
        confirm_subject='"Please confirm: {name}"', consent_text='"Weekly-ish, no spam."', welcome_text='"Glad to have you."',
    ) as desk:
        assert "Weekly-ish, no spam." in httpx.get(f"{desk.url}/subscribe").text
        desk.subscribe("new@example.org")
        desk.served.drain()
        assert read_eml(desk.mailed("new@example.org"))["Subject"] == "Please confirm: The Transatlantic Brief"
        assert "Glad to have you." in httpx.post(desk.local(confirmation_link(desk.mailed("new@example.org")))).text
