"""The CDISC export through the API: CSV and SAS transport read back with pyreadstat."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyreadstat
import pytest

from consentkit.services import participation
from consentkit.services.evidence import Actor
from tests.backend.permission_helpers import bearer
from tests.consentkit.records_helpers import T0, consented_family, make_family

URL = "/api/v1/studies/DEMO-NBL-1/cdisc"
WITHDRAWN_AT = T0 + timedelta(days=10)


@pytest.fixture
def families(demo_study: Any) -> Any:
    family, record = consented_family("P-001", site="FR-01")
    guardian = family.guardians[0]
    participation.withdraw(
        family.participant,
        scopes=["samples-destroy"],
        actor=Actor(kind="signer", id=str(guardian.id), role="guardian"),
        expressed_by=str(guardian.id),
        now=WITHDRAWN_AT,
    )
    make_family("P-002", site="NL-01")
    return family, record


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_ds_csv_has_the_consent_with_date_and_version_and_the_guardians_withdrawal(
    client: Any, families: Any
) -> None:
    _family, record = families
    rows = _csv(client.get(f"{URL}/ds", headers=bearer(client, scopes=("export:read",))))

    assert [
        (r["USUBJID"], r["DSDECOD"], r["DSSTDTC"], r["FORMVER"], r["WDSCOPE"]) for r in rows
    ] == [
        ("DEMO-NBL-1-P-001", "INFORMED CONSENT OBTAINED", "2026-03-03", str(record.version), ""),
        ("DEMO-NBL-1-P-001", "WITHDRAWAL BY PARENT/GUARDIAN", "2026-03-12", "", "samples-destroy"),
    ]


def test_dm_gives_rficdtc_per_subject(client: Any, families: Any) -> None:
    rows = _csv(client.get(f"{URL}/dm", headers=bearer(client, scopes=("export:read",))))

    assert [(r["SUBJID"], r["SITEID"], r["RFICDTC"]) for r in rows] == [
        ("P-001", "FR-01", "2026-03-03"),
        ("P-002", "NL-01", ""),
    ]


def test_xpt_reads_back_with_pyreadstat(client: Any, families: Any, tmp_path: Path) -> None:
    response = client.get(
        f"{URL}/ds", query_string={"format": "xpt"}, headers=bearer(client, scopes=("export:read",))
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('.xpt"')
    path = tmp_path / "ds.xpt"
    path.write_bytes(response.get_data())

    frame, meta = pyreadstat.read_xport(str(path))

    assert meta.table_name == "DS"
    assert meta.column_names_to_labels["DSDECOD"] == "Standardized Disposition Term"
    assert list(frame["DSDECOD"]) == ["INFORMED CONSENT OBTAINED", "WITHDRAWAL BY PARENT/GUARDIAN"]
    assert list(frame["DSSEQ"]) == [1, 2]
    assert list(frame["DSSTDTC"]) == ["2026-03-03", "2026-03-12"]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"scopes": ("permissions:read",)}, 403),
        ({"scopes": ("export:read",), "trial_id": "OTHER-1"}, 403),
        ({"scopes": ("export:read",)}, 200),
    ],
)
def test_cdisc_needs_export_read_for_the_study(
    client: Any, families: Any, kwargs: dict[str, Any], status: int
) -> None:
    assert client.get(f"{URL}/dm").status_code == 401
    response = client.get(f"{URL}/dm", headers=bearer(client, **kwargs))
    assert response.status_code == status


def test_account_for_one_site_exports_only_that_sites_subjects(client: Any, families: Any) -> None:
    rows = _csv(
        client.get(f"{URL}/dm", headers=bearer(client, scopes=("export:read",), sites=("NL-01",)))
    )

    assert [r["SUBJID"] for r in rows] == ["P-002"]


def test_unknown_format_is_422(client: Any, families: Any) -> None:
    response = client.get(
        f"{URL}/ds",
        query_string={"format": "xlsx"},
        headers=bearer(client, scopes=("export:read",)),
    )
    assert response.status_code == 422
