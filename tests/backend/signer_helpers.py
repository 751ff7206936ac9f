"""A signer's side of the HTTP API for tests: the console outbox, sign-in, reading a form."""

from __future__ import annotations

import re
from typing import Any

import pytest

from consentkit.models.study import FormVersion


class Outbox:
    """Captures what the console sender prints, like a family reading their messages."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def last_code(self) -> str:
        printed = self.capsys.readouterr().out
        return re.findall(r"one-time code\] to .*: (\d{6})", printed)[-1]


def sign_in(client: Any, outbox: Outbox, code: str, device: str = "device-0001") -> dict[str, Any]:
    sent = client.post("/api/v1/auth/invitations/redeem", json={"code": code.lower()})
    assert sent.status_code == 202, sent.get_json()
    tokens = client.post(
        f"/api/v1/auth/challenges/{sent.get_json()['challenge_id']}/verify",
        json={"code": outbox.last_code(), "device_id": device},
    )
    assert tokens.status_code == 200, tokens.get_json()
    body: dict[str, Any] = tokens.get_json()
    return body


def content(record: Any, locale: str) -> dict[str, Any]:
    version = FormVersion.objects.get(form_id=record.form_id, version=record.version)
    return {"sha": version.content_sha256[locale], **version.content[locale]}


def read_and_prepare(phone: Any, locale: str = "fr") -> dict[str, Any]:
    text = content(phone.rec, locale)
    base = f"/api/v1/me/records/{phone.rec.record_id}"
    assert (
        phone.post(
            f"{base}/views",
            json={
                "locale": locale,
                "sections": [{"id": s["id"], "seconds": 20} for s in text["sections"]],
            },
        ).status_code
        == 200
    )
    quiz = phone.post(
        f"{base}/answers",
        json={"locale": locale, "answers": {q["id"]: q["correct"] for q in text["questions"]}},
    )
    assert quiz.get_json()["passed"] is True
    assert (
        phone.post(
            f"{base}/choices", json={"choices": {i["id"]: True for i in text["items"]}}
        ).status_code
        == 200
    )
    return text
