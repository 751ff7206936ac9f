"""Phone numbers as a site's families write them. Pure, no I/O.

The example shown in an enrolment form's phone field and in its error comes from
libphonenumber's metadata (the ``phonenumbers`` package) for the site's country,
so a nurse in Vilnius sees a Lithuanian mobile number, not a Dutch one.
"""

from __future__ import annotations

import phonenumbers

#: When a country has no example mobile number in the metadata.
FALLBACK_EXAMPLE = "+31 6 12345678"


def example_mobile(country: str) -> str:
    """Return an example mobile number of ``country`` (ISO 3166 alpha-2), international form."""
    number = phonenumbers.example_number_for_type(
        (country or "").upper(), phonenumbers.PhoneNumberType.MOBILE
    )
    if number is None:
        return FALLBACK_EXAMPLE
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
