"""Benchmark: resolving and rendering the forms a participant must see, over HTTP.

Compares GET /api/v1/studies/DEMO-NBL-1/participant-forms (negotiation + age
policy + versions in force + content) with a bare Flask JSON endpoint served by
the same app and server, and times the demo study import (first and repeated).

Run: .venv/bin/python bench/forms.py   (starts its own embedded database process)
Goal from the forms issue: participant-forms <= 2x the bare endpoint.
"""

from __future__ import annotations

import logging
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support import running_database

from backend import create_app
from consentkit.models.study import ConsentForm, FormVersion, Study
from consentkit.services.importing import import_demo_study

REQUESTS = 400


def _time_get(url: str, headers: dict[str, str]) -> list[float]:
    timings = []
    for _ in range(REQUESTS):
        request = urllib.request.Request(url, headers=headers)
        started = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            response.read()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    with running_database(27997) as (uri, tmp):
        app = create_app(
            {
                "TESTING": True,
                "MONGODB_URI": uri,
                "MONGODB_DB": "bench",
                "LOG_LEVEL": "WARNING",
                "DATA_DIR": tmp,
            }
        )

        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        @app.get("/bare")
        def bare() -> dict[str, str]:
            return {"status": "ok"}

        same_payload: dict[str, object] = {}

        @app.get("/bare-same-size")
        def bare_same_size() -> dict[str, object]:
            return same_payload

        started = time.perf_counter()
        first = import_demo_study()
        first_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        again = import_demo_study()
        again_ms = (time.perf_counter() - started) * 1000
        assert first.changed and not again.changed

        http = make_server("127.0.0.1", 0, app, threaded=False)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{http.server_port}"
        forms_url = (
            f"{base}/api/v1/studies/DEMO-NBL-1/participant-forms"
            "?site=FR-01&birth_date=2017-05-04&on=2026-11-24"
        )
        headers = {"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}
        _time_get(f"{base}/bare", {})  # warm up both paths
        _time_get(forms_url, headers)
        with urllib.request.urlopen(urllib.request.Request(forms_url, headers=headers)) as r:
            import json

            same_payload.update(json.loads(r.read()))
        bare_ms = _time_get(f"{base}/bare", {})
        forms_ms = _time_get(forms_url, headers)
        same_ms = _time_get(f"{base}/bare-same-size", {})
        with urllib.request.urlopen(urllib.request.Request(forms_url, headers=headers)) as r:
            size = len(r.read())
        http.shutdown()

        b, f = statistics.median(bare_ms), statistics.median(forms_ms)
        print(
            f"demo study: {Study.objects.count()} study, {ConsentForm.objects.count()} forms,"
            f" {FormVersion.objects.count()} versions"
        )
        print(f"import demo study (first):   {first_ms:8.1f} ms")
        print(f"import demo study (again):   {again_ms:8.1f} ms  (no-op)")
        print(
            f"bare JSON endpoint:          median {b:6.2f} ms  p95 "
            f"{sorted(bare_ms)[int(REQUESTS * 0.95)]:6.2f} ms"
        )
        print(
            f"participant-forms (3 forms, {size / 1024:.0f} KiB): median {f:6.2f} ms  p95 "
            f"{sorted(forms_ms)[int(REQUESTS * 0.95)]:6.2f} ms"
        )
        same = statistics.median(same_ms)
        print(f"bare endpoint, same body:    median {same:6.2f} ms")
        print(f"ratio participant-forms / bare: {f / b:.2f}x (goal <= 2x)")
        print(f"ratio participant-forms / bare with the same body: {f / same:.2f}x")


if __name__ == "__main__":
    main()
