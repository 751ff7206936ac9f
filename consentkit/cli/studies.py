"""``consentkit import``: load a study authoring folder."""

from __future__ import annotations

from pathlib import Path

import click

from consentkit import db
from consentkit.errors import ConflictError, DatabaseUnavailableError, InvalidDataError
from consentkit.services.importing import DEMO_STUDY_DIR, import_study


@click.command("import")
@click.argument(
    "folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--demo", is_flag=True, help="Import the shipped fictional demo study DEMO-NBL-1.")
@click.option("--check", is_flag=True, help="Only validate the folder; write nothing.")
def import_command(folder: Path | None, demo: bool, check: bool) -> None:
    """Validate a study folder and load it (re-importing unchanged files is a no-op).

    Every problem is listed as FILE:LINE: MESSAGE. The format is described in
    docs/authoring-format.md. Exit status: 0 imported, 1 refused, 2 bad usage.
    """
    if demo == (folder is not None):
        raise click.UsageError("Give a study FOLDER or --demo (not both).")
    target = DEMO_STUDY_DIR if demo else folder
    assert target is not None
    try:
        if check:
            from consentkit.authoring.reader import read_study_folder

            bundle = read_study_folder(target)
            click.echo(f"{bundle.study['trial_id']}: {len(bundle.forms)} forms, no problems found.")
            return
        db.connect()
        report = import_study(target)
    except InvalidDataError as exc:
        for problem in exc.details.get("errors", [exc.message]):
            click.echo(problem, err=True)
        raise click.ClickException(f"import refused ({exc.code}): fix the problems above.") from exc
    except ConflictError as exc:
        for problem in exc.details.get("errors", [exc.message]):
            click.echo(problem, err=True)
        raise click.ClickException("import refused: nothing was changed.") from exc
    except DatabaseUnavailableError as exc:
        raise click.ClickException(
            f"{exc.message} Start it with `consentkit db serve` or set CONSENTKIT_MONGODB_URI."
        ) from exc
    click.echo(report.summary())
