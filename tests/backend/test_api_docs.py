"""/api/docs serves the vendored Swagger UI: nothing from another origin, a strict CSP."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from backend.web import STATIC_DIR


def test_api_docs_reference_no_external_origin(client: Any) -> None:
    response = client.get("/api/docs")
    page = response.get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]*)"', page)

    assert response.status_code == 200
    assert references  # the stylesheet and the scripts
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in references), references
    assert "http://" not in page
    assert "https://" not in page
    for ref in references:
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        asset.close()


def test_api_docs_have_a_strict_content_security_policy(client: Any) -> None:
    policy = client.get("/api/docs").headers["Content-Security-Policy"]

    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "http" not in policy
    assert "frame-ancestors 'none'" in policy


def test_vendored_swagger_ui_matches_the_recorded_hashes() -> None:
    readme = (STATIC_DIR / "vendor" / "README.md").read_text(encoding="utf-8")
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui.LICENSE"):
        digest = hashlib.sha256((STATIC_DIR / "vendor" / name).read_bytes()).hexdigest()
        assert digest in readme, name
