"""``make run``: the embedded database, the demo study, a message worker and the dev server.

Starts ``consentkit db serve`` as a child process unless a database already
answers (then it is left alone), imports the demo study (idempotent), prints a
banner and serves the app. Ctrl-C stops the server and the database it started.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

from consentkit import db as database
from consentkit import settings


def _start_database(data_dir: Path) -> subprocess.Popen[bytes] | None:
    """Start the embedded server unless a database already answers; return the child."""
    uri = database.resolve_uri()
    if settings.mongodb_uri() or database.server_answers(uri, timeout_ms=500):
        return None
    log_path = data_dir / "db.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "consentkit", "db", "serve", "--data-dir", str(data_dir / "db")],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        database.wait_until_ready(uri, timeout_s=60)
    except Exception:
        child.terminate()
        print(f"The embedded database did not start; see {log_path}", file=sys.stderr)
        raise
    return child


def _start_worker(data_dir: Path) -> subprocess.Popen[bytes]:
    """Start one ``consentkit worker`` beside the server (production runs its own; README)."""
    log_path = data_dir / "worker.log"
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "consentkit", "worker"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def _stop(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()


def _load_demo() -> str:
    """Import the demo study if this version has the importer; return what happened."""
    if importlib.util.find_spec("consentkit.services.importing") is None:
        return "no demo study in this version"
    importing = importlib.import_module("consentkit.services.importing")
    from consentkit.errors import ConflictError

    try:
        return str(importing.import_demo_study().summary())
    except ConflictError as exc:
        # A database from an older consentkit holds the demo's texts as published then, and
        # published texts never change: keep serving it, and say how to start afresh.
        return (
            f"kept the demo study already in the database ({exc.code}: {exc}); to load this "
            f"version's demo, stop and delete {settings.data_dir() / 'db'}"
        )


DEMO_STAFF = "investigator@demo.example"


def _demo_staff(base: str) -> str:
    """Make sure a demo investigator (every demo site) exists; say how to sign in.

    Until its setup is finished, each run prints a fresh one-time setup link.
    """
    from consentkit.models.staff import StaffMember
    from consentkit.policy.roles import Grant, StaffRole
    from consentkit.services import forms
    from consentkit.services import staff as staff_service

    member = StaffMember.objects(email=DEMO_STAFF).first()
    if member is not None and member.password_hash:
        return f"{base}/staff/login as {DEMO_STAFF}"
    if member is None:
        sites = tuple(s.code for s in forms.catalog("DEMO-NBL-1").study.sites)
        grant = Grant("DEMO-NBL-1", StaffRole.INVESTIGATOR, sites)
        _, token = staff_service.create_staff(
            email=DEMO_STAFF, name="Demo Investigator", grants=[grant], created_by="make run"
        )
    else:
        token = staff_service.reissue_setup(str(member.id), by="make run")
    return f"set up {DEMO_STAFF} at {base}/staff/setup/{token}"


def main(argv: list[str] | None = None) -> int:
    """Run the development stack."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("CONSENTKIT_ENV", "development")
    # Ctrl-C and SIGTERM both stop the server and the database we start, even when
    # launched in a way that ignores SIGINT (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    data_dir = settings.data_dir()
    child = _start_database(data_dir)
    worker: subprocess.Popen[bytes] | None = None
    try:
        from backend import create_app

        app = create_app()
        demo = _load_demo()
        base = f"http://{args.host}:{args.port}"
        os.environ.setdefault("CONSENTKIT_PUBLIC_URL", base)
        staff_line = _demo_staff(base)
        worker = _start_worker(data_dir)
        bar = "=" * 66
        print(
            f"\n{bar}\n consentkit (development)\n"
            f"   API docs      {base}/api/docs\n"
            f"   OpenAPI       {base}/api/openapi.json\n"
            f"   Health        {base}/api/v1/health\n"
            f"   Database      {database.redacted_uri(database.current_uri())}"
            f"{' (embedded, started here)' if child else ''}\n"
            f"   Data          {data_dir}\n"
            f"   Demo study    {demo}\n"
            f"   Staff pages   {staff_line}\n"
            f"   Family pages  {base}/family/ (invite a signer from the staff pages)\n"
            f"   Messages      one worker sending; log in {data_dir / 'worker.log'}\n"
            f"   Stop          Ctrl-C\n{bar}\n",
            flush=True,
        )
        app.run(host=args.host, port=args.port, debug=False, use_reloader=False)
    finally:
        if worker is not None:
            _stop(worker)  # before the database: it finishes the message in hand
        if child is not None:
            _stop(child)
            print("Embedded database stopped; data kept in", data_dir / "db")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
