"""Messages to families and staff: subject, plain text and HTML from one Jinja template.

``templates/messages/<kind>.html`` defines three blocks, ``subject``, ``text`` and
``html``, with ``{% trans %}`` strings translated into the recipient's language
(the system catalog, :mod:`consentkit.i18n`). The text blocks are rendered
without HTML escaping, the HTML block with it. Takes plain data, never Documents.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

from consentkit.i18n import translations
from consentkit.paths import templates_dir


@dataclass(frozen=True)
class RenderedMessage:
    """One message in one language, ready for any channel."""

    subject: str
    text: str
    html: str
    locale: str | None


@functools.cache
def _environment(autoescape: bool, locale: str | None) -> jinja2.Environment:
    """One environment per language (the gettext callables are bound to it), cached."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "messages")),
        # The HTML block is escaped; the text blocks (subject, plain text) must not be.
        autoescape=autoescape,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalog = translations(locale)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        catalog.gettext, catalog.ngettext, newstyle=True
    )
    return env


def _block(
    autoescape: bool, kind: str, block: str, context: Mapping[str, Any], locale: str | None
) -> str:
    template = _environment(autoescape, locale).get_template(f"{kind}.html")
    render = template.blocks[block]
    return "".join(render(template.new_context(dict(context)))).strip()


def render_message(kind: str, params: Mapping[str, Any], *, locale: str | None) -> RenderedMessage:
    """Render the message ``kind`` in ``locale`` (English when there is no catalog).

    Raises:
        jinja2.TemplateNotFound: no template for ``kind``.
    """
    return RenderedMessage(
        subject=" ".join(_block(False, kind, "subject", params, locale).split()),
        text=_block(False, kind, "text", params, locale),
        html=_block(True, kind, "html", params, locale),
        locale=locale,
    )


def known_kinds() -> list[str]:
    """Return the message kinds that have a template."""
    folder = templates_dir() / "messages"
    return sorted(p.stem for p in folder.glob("*.html") if not p.name.startswith("_"))
