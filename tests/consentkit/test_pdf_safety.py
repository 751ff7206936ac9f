"""PDF rendering fetches nothing but ``data:`` URIs and renders nothing people wrote as markup.

A form author (Markdown section bodies) or a signer (printed name) who writes
``<img src="file:///etc/passwd">`` or an ``http://`` image must get neither a fetch
nor an element (consentkit.rendering.pdf, consentkit.rendering.markdown; Indico's
hardened receipts are the model). Raw HTML handed to ``write_pdf`` shows that the
fetcher itself refuses, and remembers, every other URL.

"Not fetched" is proved with files that would show up in the PDF if they were read: an
SVG and a stylesheet that each print a marker.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import mongoengine
import pytest
from pypdf import PdfReader

from consentkit import db as database
from consentkit.rendering import pdf as pdf_rendering
from consentkit.rendering.markdown import to_html
from consentkit.services import documents, records
from consentkit.services.forms import forget_catalogs
from consentkit.services.importing import DEMO_STUDY_DIR, import_study
from tests.consentkit.records_helpers import STAFF, T0, make_family, prepare, sign

SIGNED = T0 + timedelta(hours=25)
PASSWD = "file:///etc/passwd"
REMOTE = "http://example.invalid/x.png"
HOSTILE_BODY = f"""![passwd]({PASSWD}) and ![remote]({REMOTE})

<img src="{PASSWD}"> and <img src="{REMOTE}">

"""
HOSTILE_NAMES = (f'<img src="{PASSWD}">Ελένη', f'<img src="{REMOTE}">Иван')
SVG_MARKER, CSS_MARKER = "SVGMARKER42", "CSSMARKER42"


# ---------------------------------------------------------------- helpers and fixtures


@pytest.fixture(scope="module", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory of this module's own: the development seal is generated under it."""
    directory = tmp_path_factory.mktemp("pdf-safety-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONSENTKIT_DATA_DIR", str(directory))
        yield directory


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files a hostile document would like to read: each prints a marker if it is read."""
    directory = tmp_path_factory.mktemp("secrets")
    (directory / "secret.svg").write_text(_svg(SVG_MARKER), encoding="utf-8")
    (directory / "secret.css").write_text(
        f'body::after {{ content: "{CSS_MARKER}"; }}', encoding="utf-8"
    )
    return directory


def _svg(text: str, inner: str = "") -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="300" height="60"><text x="5" y="30" font-size="20">{text}</text>{inner}</svg>'
    )


def _data_uri(content: str, media_type: str) -> str:
    return f"data:{media_type};base64," + base64.b64encode(content.encode()).decode()


def _write(html: str, fetcher: pdf_rendering.DataOnlyFetcher) -> bytes:
    return pdf_rendering.write_pdf(
        f"<!DOCTYPE html><html><body><p>visible</p>{html}</body></html>",
        attachment_json="{}",
        attachment_name="test.json",
        created=T0,
        fetcher=fetcher,
    )


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@dataclass(frozen=True)
class Hostile:
    """What rendering a consent with hostile body and names produced."""

    html: str
    pdf: bytes
    fetchers: list[pdf_rendering.DataOnlyFetcher]


@pytest.fixture(scope="module")
def hostile(
    connected: str, db_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hostile]:
    """Import a demo-study copy with a hostile section body, sign with hostile names, render.

    Built once per module in a database of its own (``clean_db`` never empties it),
    capturing the HTML and every fetcher that rendering used.
    """
    folder = tmp_path_factory.mktemp("hostile") / "study"
    shutil.copytree(DEMO_STUDY_DIR, folder)
    french = folder / "forms" / "parental-consent" / "v2" / "fr.yaml"
    text = french.read_text(encoding="utf-8")
    body = "".join(f"      {line}\n" if line else "\n" for line in HOSTILE_BODY.splitlines())
    french.write_text(text.replace("    body: |\n", "    body: |\n" + body, 1), encoding="utf-8")

    own_db = f"{db_name}_pdf_safety"
    database.connect(connected, db_name=own_db)
    forget_catalogs()
    try:
        database.ensure_indexes()
        import_study(folder)
        family = make_family(names=HOSTILE_NAMES)
        record = records.open_record(
            family.participant, form_id="parental-consent", actor=STAFF, now=T0
        )
        for guardian in family.guardians:
            prepare(family, record, guardian, locale="fr")
        for signer in (*family.guardians, family.investigator):
            sign(family, record, signer, locale="fr", at=SIGNED)

        captured: list[str] = []
        fetchers: list[pdf_rendering.DataOnlyFetcher] = []
        render_html = pdf_rendering.render_html

        class RecordingFetcher(pdf_rendering.DataOnlyFetcher):
            def __init__(self) -> None:
                super().__init__()
                fetchers.append(self)

        def capturing(template: str, doc: Any) -> str:
            html = render_html(template, doc)
            captured.append(html)
            return html

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pdf_rendering, "render_html", capturing)
            patch.setattr(pdf_rendering, "DataOnlyFetcher", RecordingFetcher)
            pdf = documents.consent_document(
                family.participant, record.record_id, locale="fr"
            ).content
        (html,) = captured
        yield Hostile(html=html, pdf=pdf, fetchers=fetchers)
    finally:
        mongoengine.get_connection().drop_database(own_db)
        database.connect(connected, db_name=db_name)
        forget_catalogs()


# ---------------------------------------------------------------- Markdown of section bodies


@pytest.mark.parametrize("url", [PASSWD, REMOTE])
def test_to_html_renders_no_markdown_image(url: str) -> None:
    assert "<img" not in to_html(f"Look: ![picture]({url})")


@pytest.mark.parametrize("url", [PASSWD, REMOTE])
def test_to_html_escapes_a_raw_img_tag(url: str) -> None:
    html = to_html(f'<img src="{url}">\n\nText <img src="{url}"> inline.')

    assert "<img" not in html
    assert html.count("&lt;img") == 2


def test_to_html_makes_no_javascript_link() -> None:
    assert "href" not in to_html("[click](javascript:alert(1))")


# ---------------------------------------------------------------- a consent rendered end to end


def test_consent_html_has_only_data_uri_images(hostile: Hostile) -> None:
    sources = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]*)\"", hostile.html)

    assert sources  # the drawn signatures
    assert all(src.startswith("data:image/svg+xml;base64,") for src in sources)


def test_consent_html_escapes_img_tags_in_the_section_body(hostile: Hostile) -> None:
    assert f"&lt;img src=&quot;{PASSWD}&quot;&gt;" in hostile.html
    assert f"&lt;img src=&quot;{REMOTE}&quot;&gt;" in hostile.html


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["file", "http"])
def test_consent_html_escapes_img_tags_in_printed_names(hostile: Hostile, name: str) -> None:
    escaped = name.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")

    assert escaped in hostile.html
    assert name not in hostile.html


def test_consent_document_fetches_nothing_but_data_uris(hostile: Hostile) -> None:
    assert hostile.fetchers
    assert [f.refused for f in hostile.fetchers] == [[] for _ in hostile.fetchers]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["file", "http"])
def test_consent_document_prints_a_hostile_name_as_text(hostile: Hostile, name: str) -> None:
    text = _text(hostile.pdf)

    assert name in text
    assert "root:x:0:0" not in text


# ---------------------------------------------------------------- the fetcher, with raw HTML


def test_write_pdf_refuses_a_file_url_image_and_renders_nothing_of_it() -> None:
    fetcher = pdf_rendering.DataOnlyFetcher()

    pdf = _write(f'<img src="{PASSWD}">', fetcher)

    assert fetcher.refused == [PASSWD]
    assert "root:x:0:0" not in _text(pdf)


@pytest.mark.parametrize(
    ("html", "url"),
    [
        ('<img src="{secrets}/secret.svg">', "{secrets}/secret.svg"),
        (f'<img src="{REMOTE}">', REMOTE),
        ('<object data="{secrets}/secret.svg"></object>', "{secrets}/secret.svg"),
        ('<link rel="stylesheet" href="{secrets}/secret.css">', "{secrets}/secret.css"),
        ('<style>@import url("{secrets}/secret.css");</style>', "{secrets}/secret.css"),
        (
            '<div style="background-image: url({secrets}/secret.svg)">x</div>',
            "{secrets}/secret.svg",
        ),
        (
            '<svg><image href="{secrets}/secret.svg" width="300" height="60"/></svg>',
            "{secrets}/secret.svg",
        ),
    ],
    ids=["img-file", "img-http", "object", "link-css", "import-css", "css-url", "inline-svg"],
)
def test_write_pdf_refuses_a_url_and_shows_nothing_it_points_to(
    secrets_dir: Path, html: str, url: str
) -> None:
    secrets = secrets_dir.as_uri()
    fetcher = pdf_rendering.DataOnlyFetcher()

    text = _text(_write(html.format(secrets=secrets), fetcher))

    assert url.format(secrets=secrets) in fetcher.refused
    assert SVG_MARKER not in text
    assert CSS_MARKER not in text


def test_write_pdf_refuses_a_url_inside_an_allowed_data_uri_svg(secrets_dir: Path) -> None:
    url = (secrets_dir / "secret.svg").as_uri()
    outer = _svg("outer", f'<image xlink:href="{url}" width="300" height="60"/>')
    fetcher = pdf_rendering.DataOnlyFetcher()

    text = _text(_write(f'<img src="{_data_uri(outer, "image/svg+xml")}">', fetcher))

    assert url in fetcher.refused
    assert SVG_MARKER not in text


def test_write_pdf_refuses_a_relative_url_without_reading_it(
    secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(secrets_dir)
    fetcher = pdf_rendering.DataOnlyFetcher()

    text = _text(_write('<img src="secret.svg"><link rel="stylesheet" href="secret.css">', fetcher))

    assert SVG_MARKER not in text
    assert CSS_MARKER not in text


def test_write_pdf_refuses_an_uppercase_file_scheme(secrets_dir: Path) -> None:
    url = (secrets_dir / "secret.svg").as_uri().replace("file:", "FILE:")
    fetcher = pdf_rendering.DataOnlyFetcher()

    text = _text(_write(f'<img src="{url}">', fetcher))

    assert url in fetcher.refused
    assert SVG_MARKER not in text


def test_write_pdf_allows_a_data_uri_image() -> None:
    fetcher = pdf_rendering.DataOnlyFetcher()

    text = _text(_write(f'<img src="{_data_uri(_svg(SVG_MARKER), "image/svg+xml")}">', fetcher))

    assert fetcher.refused == []
    assert SVG_MARKER in text  # the control: a fetched image does show its marker


def test_write_pdf_allows_a_data_uri_stylesheet() -> None:
    css = f'body::after {{ content: "{CSS_MARKER}"; }}'
    fetcher = pdf_rendering.DataOnlyFetcher()

    text = _text(_write(f'<link rel="stylesheet" href="{_data_uri(css, "text/css")}">', fetcher))

    assert fetcher.refused == []
    assert CSS_MARKER in text


# ---------------------------------------------------------------- templates escape people's words


def test_render_html_escapes_a_hostile_withdrawal_reason() -> None:
    doc = {
        "lang": "fr",
        "direction": "ltr",
        "study_title": "Study",
        "trial_id": "DEMO-NBL-1",
        "eu_ct_number": None,
        "participant_code": "P-001",
        "site_code": "FR-01",
        "at_utc": "2026-03-12T09:00:00.000+00:00",
        "at_local": "12 mars 2026",
        "channel": "app",
        "recorded_by": "signer:guardian",
        "scopes": ["full"],
        "reason": f'<img src="{PASSWD}">',
        "reason_declined": False,
        "event_hash": "0" * 64,
        "record_sha256": "0" * 64,
        "verification_code": "AAAA-BBBB-CCCC",
        "is_development_seal": True,
    }

    html = pdf_rendering.render_html("withdrawal.html", doc)

    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
    assert "<img" not in html
