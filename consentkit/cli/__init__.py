"""The ``consentkit`` command line.

Each group of commands lives in its own module and is registered here.
"""

from __future__ import annotations

import logging

import click

from consentkit import __version__
from consentkit.cli.audit import audit
from consentkit.cli.dashboard import dashboard
from consentkit.cli.database import db
from consentkit.cli.doctor import doctor
from consentkit.cli.documents import documents, verify_pdf
from consentkit.cli.participants import history, profile
from consentkit.cli.requirements import requirements
from consentkit.cli.staff import staff
from consentkit.cli.studies import import_command
from consentkit.cli.tasks import due
from consentkit.cli.wallet import wallet
from consentkit.cli.worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="consentkit")
@click.option("-v", "--verbose", is_flag=True, help="Log more detail to stderr.")
def main(verbose: bool) -> None:
    """E-consent for paediatric clinical trials.

    Without CONSENTKIT_MONGODB_URI, commands use the embedded database, which
    must be running: start it with `consentkit db serve` (make run does this).
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("weasyprint", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


main.add_command(audit)
main.add_command(dashboard)
main.add_command(db)
main.add_command(doctor)
main.add_command(documents)
main.add_command(due)
main.add_command(history)
main.add_command(import_command)
main.add_command(profile)
main.add_command(requirements)
main.add_command(staff)
main.add_command(verify_pdf)
main.add_command(wallet)
main.add_command(worker)
