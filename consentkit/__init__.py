"""consentkit: e-consent and assent for paediatric clinical trials.

The library is framework-free: it never imports Flask. Embedders call the plain
functions in :mod:`consentkit.services` after :func:`consentkit.db.connect`.
"""

__version__ = "0.1.0"
