"""``python -m consentkit`` runs the command line."""

from consentkit.cli import main

main()
