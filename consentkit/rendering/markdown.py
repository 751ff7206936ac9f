"""Markdown of consent texts to safe HTML.

Raw HTML in a form is escaped, never rendered, and images are not rendered at
all: a form author must not be able to make a phone or the PDF renderer fetch
a URL (``file:``, ``http:``...). markdown-it also refuses ``javascript:``-style
links. Pictures are referenced through a section's ``media`` instead.
"""

from __future__ import annotations

import functools

from markdown_it import MarkdownIt


@functools.cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).disable("image")


def to_html(markdown: str) -> str:
    """Render Markdown to HTML with raw HTML escaped and images dropped."""
    html: str = _parser().render(markdown)
    return html
