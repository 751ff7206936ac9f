"""Regulatory references resolve inside the repository (issue 12, "a dangling reference").

Code comments, docstrings, the rule pack and the docs once cited ``regulations.md``, a research
file that is not in the repository, so a maintainer could not follow them. They now cite anchors
of docs/regulatory-basis.md. These tests keep it that way: nothing under consentkit/, backend/,
tests/, docs/ or templates/ (nor README.md) names the outside file again, and every
``regulatory-basis.md#<anchor>`` cited anywhere exists in the document, so an anchor renamed in
the document breaks the build instead of a reader's link.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from consentkit.enums import WithdrawalScope
from consentkit.policy.jurisdiction import load_rule_pack

ROOT = Path(__file__).resolve().parents[1]
BASIS = ROOT / "docs" / "regulatory-basis.md"
SCANNED_DIRS = ("consentkit", "backend", "tests", "docs", "templates")
SCANNED_FILES = ("README.md",)
#: The research file outside the repository that nothing may cite.
OUTSIDE_NOTES = "regulations.md"
#: The only files allowed to name it: the document that replaced it, and this test.
ALLOWED = {BASIS, Path(__file__).resolve()}
BINARY_SUFFIXES = {
    ".pyc", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".mo", ".woff", ".woff2", ".ttf",
    ".otf", ".zip", ".gz", ".xlsx", ".icc",
}  # fmt: skip
CITED_ANCHOR = re.compile(r"regulatory-basis\.md#([A-Za-z0-9_-]+)")
EXPLICIT_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
INTERNAL_LINK = re.compile(r"\]\(#([A-Za-z0-9_-]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES]
    for folder in SCANNED_DIRS:
        files.extend(
            path
            for path in (ROOT / folder).rglob("*")
            if path.is_file()
            and "__pycache__" not in path.parts
            and path.suffix.lower() not in BINARY_SUFFIXES
        )
    return sorted(files)


def github_slug(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in ("L", "N"))
    return kept.replace(" ", "-")


def basis_anchors() -> set[str]:
    text = BASIS.read_text(encoding="utf-8")
    anchors = set(EXPLICIT_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else HEADING.match(line)
        if match:
            slug = github_slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def citations() -> list[tuple[str, str]]:
    """Every ``regulatory-basis.md#<anchor>`` in the scanned files, as (file:line, anchor)."""
    found = []
    for path in scanned_files():
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for anchor in CITED_ANCHOR.findall(line):
                found.append((f"{path.relative_to(ROOT)}:{number}", anchor))
    return found


def test_docs_links_nothing_cites_the_research_file_outside_the_repository() -> None:
    offenders = []
    for path in scanned_files():
        if path.resolve() in ALLOWED:
            continue
        data = path.read_bytes()
        if OUTSIDE_NOTES.encode() not in data:
            continue
        lines = data.decode("utf-8", errors="replace").splitlines()
        offenders += [
            f"{path.relative_to(ROOT)}:{number}"
            for number, line in enumerate(lines, start=1)
            if OUTSIDE_NOTES in line
        ]
    assert offenders == [], (
        f"cite docs/regulatory-basis.md#<anchor> instead of {OUTSIDE_NOTES}: {offenders}"
    )


def test_docs_links_every_cited_regulatory_basis_anchor_exists() -> None:
    cited = citations()
    assert len({anchor for _, anchor in cited}) > 20, "expected the code to cite the document"
    anchors = basis_anchors()
    missing = [f"{where} #{anchor}" for where, anchor in cited if anchor not in anchors]
    assert missing == [], f"anchors not in docs/regulatory-basis.md: {missing}"


def test_docs_links_regulatory_basis_internal_links_resolve() -> None:
    anchors = basis_anchors()
    links = INTERNAL_LINK.findall(BASIS.read_text(encoding="utf-8"))
    assert links
    assert sorted({link for link in links if link not in anchors}) == []


def test_docs_links_regulatory_basis_has_a_section_per_rule_pack_country() -> None:
    anchors = basis_anchors()
    missing = [
        country
        for country in load_rule_pack().countries()
        if f"country-{country.lower()}" not in anchors
    ]
    assert missing == [], f'add a section with <a id="country-xx"> for: {missing}'


def test_docs_links_regulatory_basis_explains_every_withdrawal_scope() -> None:
    text = BASIS.read_text(encoding="utf-8")
    section = text[
        text.index('<a id="withdrawal-scopes">') : text.index('<a id="several-consenters">')
    ]
    missing = [scope.value for scope in WithdrawalScope if f"| `{scope.value}` |" not in section]
    assert missing == []


#: Design lessons from other consent systems, once cited from a survey outside the repository.
LESSONS = ROOT / "docs" / "design-lessons.md"
CITED_LESSON = re.compile(r"design-lessons\.md#([A-Za-z0-9_-]+)")


def test_docs_links_nothing_cites_the_peer_survey_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in scanned_files()
        if path.resolve() != Path(__file__).resolve()
        for number, line in enumerate(
            path.read_bytes().decode("utf-8", errors="replace").splitlines(), start=1
        )
        if "peers.md" in line
    ]

    assert offenders == [], f"cite docs/design-lessons.md#<anchor> instead: {offenders}"


def test_docs_links_every_cited_design_lesson_anchor_exists() -> None:
    anchors = set(EXPLICIT_ANCHOR.findall(LESSONS.read_text(encoding="utf-8")))
    cited = [
        (f"{path.relative_to(ROOT)}:{number}", anchor)
        for path in scanned_files()
        for number, line in enumerate(
            path.read_bytes().decode("utf-8", errors="replace").splitlines(), start=1
        )
        for anchor in CITED_LESSON.findall(line)
    ]

    assert cited, "expected the code to cite the design lessons"
    assert [f"{where} #{anchor}" for where, anchor in cited if anchor not in anchors] == []


def _mermaid_blocks(path: Path) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_docs_records_diagram_names_every_record_state() -> None:
    from consentkit.enums import RecordState

    [record_diagram, _participant_diagram] = _mermaid_blocks(ROOT / "docs" / "records.md")
    named = set(re.findall(r'state "([^"]+)" as', record_diagram))

    assert named == {state.value for state in RecordState}
