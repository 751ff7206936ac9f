"""YAML loading that remembers line numbers, so errors can point at them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, SequenceNode

from consentkit.errors import InvalidDataError


class LineDict(dict[str, Any]):
    """A mapping that knows the line of itself and of each of its keys (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A sequence that knows the line of itself and of each of its items."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader (no arbitrary objects) that records positions."""


def _mapping(loader: _LineLoader, node: MappingNode) -> LineDict:
    result = LineDict({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    result.line = node.start_mark.line + 1
    result.key_lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
    return result


def _sequence(loader: _LineLoader, node: SequenceNode) -> LineList:
    result = LineList(loader.construct_sequence(node, deep=True))
    result.line = node.start_mark.line + 1
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(path: Path, display: str) -> Any:
    """Parse ``path``; a syntax error becomes InvalidDataError naming ``display`` and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDataError(
            "%(file)s: the file is not UTF-8 text (%(reason)s).",
            params={"file": display, "reason": exc.reason},
        ) from exc
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{display}:{mark.line + 1}" if mark else display
        raise InvalidDataError(
            "%(where)s: not valid YAML: %(problem)s.",
            params={"where": where, "problem": exc.problem},
        ) from exc


def line_of(data: Any, path: tuple[str | int, ...]) -> int | None:
    """Return the line of the deepest element of ``path`` found in ``data``."""
    line: int | None = getattr(data, "line", None) or None
    node = data
    for step in path:
        if isinstance(node, LineDict) and isinstance(step, str) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return line
