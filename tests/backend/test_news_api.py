"""Study news and results by API and on the pages: publish, read in their language, counts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from consentkit.models.outbox import OutboxMessage
from consentkit.rendering.messages import render_message
from consentkit.worker import Worker
from tests.backend.signer_access_world import Phone, sign_in
from tests.backend.staff_helpers import auth, csrf_of, make_member, signed_in, token_for
from tests.consentkit.records_helpers import Family, consented_family

BASE = "/api/v1/staff/studies/DEMO-NBL-1"
NEWS = {
    "kind": "news",
    "texts": {
        "fr": {"title": "Le recrutement est terminé", "body": "Merci à toutes les familles."},
        "en": {"title": "Recruitment is complete", "body": "Thank you, families."},
    },
}


def _run_worker() -> None:
    """Run the worker until nothing is due: the job that tells the families, its messages."""
    worker = Worker({})
    while worker.run_once():
        pass


@pytest.fixture
def family(demo_study: Any) -> Family:
    return consented_family("P-001")[0]


@pytest.fixture
def admin(client: Any, family: Family) -> dict[str, str]:
    member = make_member(client, "admin@example.org", "sponsor-admin")
    return auth(token_for(client.application, member))


@pytest.fixture
def phone(client: Any, family: Family) -> Phone:
    return sign_in(client, family, family.guardians[0])


def test_admin_publishes_and_the_family_reads_it_once_counted(
    client: Any, admin: dict[str, str], phone: Phone
) -> None:
    published = client.post(f"{BASE}/publications", json=NEWS, headers=admin)
    assert published.status_code == 201, published.get_json()
    _run_worker()

    [item] = client.get("/api/v1/me/news?lang=en", headers=phone.headers).get_json()
    assert (item["title"], item["locale"], item["is_read"]) == (
        "Recruitment is complete",
        "en",
        False,
    )
    url = f"/api/v1/me/news/{item['id']}/read"
    first = client.post(url, headers=phone.headers).get_json()
    again = client.post(url, headers=phone.headers).get_json()

    assert (first, again) == ({"is_new": True}, {"is_new": False})
    [listed] = client.get(f"{BASE}/publications", headers=admin).get_json()
    assert (listed["queued"], listed["read"]) == (3, 1)  # two parents and the child were told
    assert client.get("/api/v1/me/news", headers=phone.headers).get_json()[0]["is_read"] is True


def test_results_missing_a_language_are_refused_and_nobody_is_told(
    client: Any, admin: dict[str, str], family: Family
) -> None:
    response = client.post(f"{BASE}/publications", json={**NEWS, "kind": "results"}, headers=admin)

    assert response.status_code == 422
    assert response.get_json()["error"] == "publication-languages-missing"
    assert OutboxMessage.objects(kind="study-news").count() == 0
    assert client.get(f"{BASE}/publications", headers=admin).get_json() == []


def test_marking_an_unknown_publication_read_is_404(client: Any, phone: Phone) -> None:
    response = client.post(f"/api/v1/me/news/{'0' * 24}/read", headers=phone.headers)

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_the_message_says_there_is_news_in_the_family_language_without_the_text() -> None:
    params = {"study": "DEMO-NBL-1", "kind": "results", "link": "https://x.example/family/news"}

    message = render_message(
        "study-news", {**params, "unsubscribe_link": None, "locale": "en"}, locale="en"
    )

    assert message.subject == "The results of DEMO-NBL-1"
    assert "https://x.example/family/news" in message.text
    assert "summary of the study's results" in message.text


def test_insight_api_and_csv_hide_small_groups(
    client: Any, admin: dict[str, str], family: Family
) -> None:
    body = client.get(f"{BASE}/insight", headers=admin).get_json()
    csv_response = client.get(f"{BASE}/insight/export", headers=admin)

    assert body["min_group"] == 5
    assert body["sections"] and all(s["suppressed"] for s in body["sections"])
    assert csv_response.mimetype == "text/csv"
    text = csv_response.get_data(as_text=True)
    assert text.startswith("measure,form_id,version,locale")
    assert family.participant.code not in text


# ---------------------------------------------------------------- the pages


def test_publications_page_publishes_escaped_text_with_counts(client: Any, family: Family) -> None:
    member = make_member(client, "admin@example.org", "sponsor-admin")
    signed_in(client.application, client, member)
    page = client.get("/staff/studies/DEMO-NBL-1/publications")
    form = {
        "csrf_token": csrf_of(page),
        "kind": "news",
        "title-fr": "<b>Nouvelles</b>",
        "body-fr": "Premier paragraphe.\n\nSecond.",
    }

    published = client.post("/staff/studies/DEMO-NBL-1/publications", data=form)

    html = published.get_data(as_text=True)
    assert published.status_code == 201
    assert 'id="published"' in html
    assert "&lt;b&gt;Nouvelles&lt;/b&gt;" in html and "<b>Nouvelles</b>" not in html
    _run_worker()
    later = client.get("/staff/studies/DEMO-NBL-1/publications").get_data(as_text=True)
    assert 'data-count="queued">3<' in later


def test_publications_page_offers_no_form_to_a_monitor(client: Any, family: Family) -> None:
    member = make_member(client, "monitor@example.org", "monitor", ("FR-01",))
    signed_in(client.application, client, member)

    html = client.get("/staff/studies/DEMO-NBL-1/publications").get_data(as_text=True)

    assert "News and results" in html
    assert 'name="kind"' not in html


def test_insight_page_says_small_groups_are_hidden(client: Any, family: Family) -> None:
    member = make_member(client, "monitor@example.org", "monitor", ("FR-01",))
    signed_in(client.application, client, member)

    html = client.get("/staff/studies/DEMO-NBL-1/insight").get_data(as_text=True)

    assert "fewer than 5" in html
    assert "insight/export.csv" in html


def test_family_news_page_is_linked_from_the_family_pages(client: Any) -> None:
    tasks = client.get("/family/tasks").get_data(as_text=True)
    news = client.get("/family/news")

    assert 'href="/family/news"' in tasks
    assert news.status_code == 200
    assert 'id="news-list"' in news.get_data(as_text=True)


def test_dashboard_counts_who_opened_the_latest_publication(
    client: Any, admin: dict[str, str], phone: Phone
) -> None:
    published = client.post(f"{BASE}/publications", json=NEWS, headers=admin).get_json()
    _run_worker()
    client.post(f"/api/v1/me/news/{published['id']}/read", headers=phone.headers)
    member = make_member(client, "monitor@example.org", "monitor", ("FR-01",))
    signed_in(client.application, client, member)

    html = client.get("/staff/studies/DEMO-NBL-1/?lang=en").get_data(as_text=True)

    assert "Recruitment is complete" in html
    assert re.search(r'data-count="news-queued">\s*<span class="count">3<', html)
    assert re.search(r'data-count="news-read">\s*<span class="count">1<', html)


def test_insight_page_shows_the_figures_of_a_large_enough_group(
    client: Any, family: Family
) -> None:
    for code in ("P-002", "P-003"):
        consented_family(code)  # with P-001: six parents read and answered in French
    member = make_member(client, "monitor@example.org", "monitor", ("FR-01",))
    signed_in(client.application, client, member)

    html = client.get("/staff/studies/DEMO-NBL-1/insight?site=FR-01").get_data(as_text=True)

    assert re.search(r'<td class="num">6</td>\s*<td class="num">30\.0</td>', html)
    assert "0 %" in html
    assert "P-001" not in html
