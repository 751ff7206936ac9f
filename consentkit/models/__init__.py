"""MongoEngine Documents: persistence and single-document invariants.

Only :mod:`consentkit.services` writes through these classes.
"""

from __future__ import annotations

import importlib
import pkgutil

from consentkit.models.base import BaseDocument


def all_documents() -> list[type[BaseDocument]]:
    """Return every concrete Document class of consentkit (importing all model modules)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    found: list[type[BaseDocument]] = []
    pending: list[type[BaseDocument]] = list(BaseDocument.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls._meta.get("abstract"):
            found.append(cls)
    return sorted(found, key=lambda c: c.__name__)
