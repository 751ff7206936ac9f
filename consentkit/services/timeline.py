"""A participant's events told in one line each, for inspectors and staff."""

from __future__ import annotations

import json
from typing import Any


def summary(event: dict[str, Any]) -> str:
    """Return one line saying what an event did (for the CLI history and the staff timeline)."""
    data = event["payload"]
    kind = event["type"]
    details = {
        "information.viewed": lambda: f"{len(data['sections'])} section(s) in {data['locale']}",
        "comprehension.answered": lambda: (
            f"score {data['score']}, " + ("passed" if data["passed"] else "not passed")
        ),
        "items.chosen": lambda: ", ".join(
            f"{k}={'yes' if v else 'no'}" for k, v in data["choices"].items()
        ),
        "signature.added": lambda: (
            f"{data['role']} '{data['printed_name']}' signed "
            f"{data['form_id']} v{data['version']} ({data['locale']}, "
            f"text {data['content_sha256'][:12]}) meaning: {data['meaning']}"
            + (f"; confirmed by {data['auth']['method']}" if data.get("auth") else "")
        ),
        "record.opened": lambda: (
            f"{data['form_id']} v{data['version']} for "
            + ", ".join(s["role"] for s in data["required_signers"])
        ),
        "withdrawal.recorded": lambda: (
            f"scopes {', '.join(data['scopes'])}; reason: "
            + ("declined to say" if data["reason_declined"] else (data["reason"] or "none given"))
        ),
        "assent.dissent": lambda: f"the child said no ({data['channel']})",
    }
    return details.get(kind, lambda: json.dumps(data, ensure_ascii=False, default=str))()
