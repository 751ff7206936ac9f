"""Fixtures shared by the backend tests: staff members, a signed-in phone, the console outbox.

Plain helpers live in ``staff_helpers.py`` and ``signer_helpers.py``; a test module
never imports from another test module (``tests/test_architecture.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mongoengine
import pytest

from backend.auth import ACCESS_TOKEN_TTL_S
from consentkit import db as database
from consentkit.policy.roles import StaffRole
from consentkit.services import access, participants, records
from tests.backend.signer_access_world import API, World, build_side, sign_in
from tests.backend.signer_helpers import Outbox
from tests.backend.staff_helpers import Member, colleague, make_member
from tests.consentkit.records_helpers import STAFF, make_family


@pytest.fixture
def nl(client: Any, demo_study: Any) -> Member:
    return make_member(client, "inv.nl@example.org", StaffRole.INVESTIGATOR, ("NL-01",))


@pytest.fixture
def fr(demo_study: Any) -> Member:
    return colleague("inv.fr@example.org", StaffRole.INVESTIGATOR, ("FR-01",))


@pytest.fixture
def outbox(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Outbox:
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")
    return Outbox(capsys)


@pytest.fixture
def invited(demo_study: Any) -> tuple[Any, str]:
    family = make_family()
    code = access.create_invitation(family.participant, family.guardians[0], actor=STAFF)
    return family, code


@pytest.fixture
def phone(
    client: Any,
    demo_study: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """A guardian signed in on a phone, with an open parental-consent record (no reflection)."""
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")
    family = make_family()
    record = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    code = access.create_invitation(family.participant, family.guardians[0], actor=STAFF)

    def last_code() -> str:
        return re.findall(r"one-time code\] to .*: (\d{6})", capsys.readouterr().out)[-1]

    sent = client.post("/api/v1/auth/invitations/redeem", json={"code": code}).get_json()
    tokens = client.post(
        f"/api/v1/auth/challenges/{sent['challenge_id']}/verify",
        json={"code": last_code(), "device_id": "phone-0001"},
    ).get_json()

    class Phone:
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        rec = record
        fam = family
        #: The guardian's name as the study team registered it: the name a signature carries.
        name = participants.signer_identity(family.guardians[0])["name"]

        def get(self, url: str, **kw: Any) -> Any:
            return client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

        def post(self, url: str, **kw: Any) -> Any:
            return client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

        def step_up(self) -> None:
            sent = self.post("/api/v1/auth/step-up").get_json()
            ok = self.post(
                f"/api/v1/auth/step-up/{sent['challenge_id']}/verify", json={"code": last_code()}
            )
            assert ok.status_code == 200

    return Phone()


@pytest.fixture(scope="module")
def world(
    connected: str, db_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Two families at the same site, built once for the module on an emptied database."""
    from backend import create_app
    from consentkit.services.forms import forget_catalogs
    from consentkit.services.importing import import_demo_study

    database.connect(connected, db_name=db_name)
    forget_catalogs()
    db = mongoengine.get_db()
    for name in db.list_collection_names():
        if not name.startswith("system."):
            db[name].delete_many({})
    import_demo_study()
    with pytest.MonkeyPatch.context() as patch:
        data_dir: Path = tmp_path_factory.mktemp("access-matrix")
        patch.setenv("CONSENTKIT_OTP_SENDER", "console")
        patch.setenv("CONSENTKIT_DATA_DIR", str(data_dir))
        app = create_app(
            {
                "TESTING": True,
                "MONGODB_URI": connected,
                "MONGODB_DB": db_name,
                "DATA_DIR": str(data_dir),
            }
        )
        client = app.test_client()
        a = build_side(client, "P-A01")
        b = build_side(client, "P-B01")
        b.child = sign_in(client, b.family, b.family.child)
        revoked = sign_in(client, a.family, a.family.guardians[0])
        assert client.post(f"{API}/auth/logout", headers=revoked.headers).status_code == 204
        world = World(app, client, a, b, revoked, "", a.phone.step_up())
        world.expired_token = world.forge_token(a.phone.session_id, ACCESS_TOKEN_TTL_S + 60)
        yield world
