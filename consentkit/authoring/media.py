"""Pictures of a form (a section's ``media``): found in the study folder, checked, fingerprinted.

A picture is a file inside the study folder (``ref`` is its path there, e.g.
``media/assent-6-9/doctor-and-child.svg``). It is read once at import, its
type is taken from its bytes (not its name), and an SVG is refused when it could
do anything but draw: no scripts, no ``on*`` event attributes, no references to
anything outside the file (a ``href`` other than ``#id``, ``url(...)`` in a
style other than ``url(#id)``), no DTD or entities. The pages and the PDF then
show it as a ``data:`` URL, so nothing is ever fetched from elsewhere.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: The largest picture accepted: a form is read on a phone.
MAX_MEDIA_BYTES = 512 * 1024

#: The file types a picture may be, by the name's ending (checked against the bytes).
MEDIA_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}

_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
_SVG_NS = "{http://www.w3.org/2000/svg}"
#: Elements that run code or pull in other documents.
_FORBIDDEN_ELEMENTS = {"script", "foreignobject", "iframe", "embed", "object", "handler"}
_URL = re.compile(r"url\(\s*['\"]?\s*([^)'\"\s]*)", re.IGNORECASE)


@dataclass(frozen=True)
class MediaFile:
    """A checked picture: where it was in the folder, its type and bytes, its SHA-256."""

    ref: str
    content_type: str
    data: bytes
    sha256: str


class MediaProblem(ValueError):
    """A picture that cannot be used; ``code`` says why (``media-missing``, ``media-unsafe``)."""

    def __init__(self, code: str, message: str) -> None:
        """Remember the machine-readable ``code`` beside the message for people."""
        super().__init__(message)
        self.code = code


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _external(reference: str) -> bool:
    """Return True unless ``reference`` points inside the same file (``#id``)."""
    return not reference.strip().startswith("#")


def svg_problems(data: bytes) -> list[str]:
    """Return why an SVG is unsafe to show (empty when it only draws)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ["it is not UTF-8 text"]
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        return ["it declares a DTD or entities"]
    if "<?XML-STYLESHEET" in upper:
        return ["it links a style sheet"]
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DTD, so no entity expansion
    except ET.ParseError as exc:
        return [f"it is not well-formed XML ({exc})"]
    if root.tag not in (f"{_SVG_NS}svg", "svg"):
        return ["its root element is not <svg>"]
    found: list[str] = []
    for element in root.iter():
        name = _local(element.tag) if isinstance(element.tag, str) else ""
        if name in _FORBIDDEN_ELEMENTS:
            found.append(f"it contains <{name}>")
        for attribute, value in element.attrib.items():
            local = _local(attribute)
            if local.startswith("on"):
                found.append(f"<{name}> has an event attribute {local}")
            elif local == "href" and _external(value):
                found.append(f"<{name}> refers to {value[:60]!r} outside the file")
            elif local == "style":
                found.extend(_style_problems(name, value))
        if name == "style" and element.text:
            found.extend(_style_problems(name, element.text))
            if "@import" in element.text.lower():
                found.append("<style> imports another style sheet")
    return sorted(set(found))


def _style_problems(name: str, css: str) -> list[str]:
    return [
        f"<{name}> style refers to {target[:60]!r} outside the file"
        for target in _URL.findall(css)
        if _external(target)
    ]


def read_media(root: Path, ref: str) -> MediaFile:
    """Read and check the picture ``ref`` (a path inside the study folder ``root``).

    Raises:
        MediaProblem: the file is missing, outside the folder, of another type,
            too large, or an SVG that could do more than draw.
    """
    parts = PurePosixPath(ref).parts
    if not ref or ref.startswith("/") or "\\" in ref or ".." in parts:
        raise MediaProblem("media-unsafe", f"media '{ref}' must be a path inside the study folder")
    content_type = MEDIA_TYPES.get(PurePosixPath(ref).suffix.lower())
    if content_type is None:
        raise MediaProblem(
            "media-unsafe",
            f"media '{ref}' must be a picture: {', '.join(sorted(MEDIA_TYPES))}",
        )
    path = root.joinpath(*parts)
    if not path.is_file() or path.is_symlink():
        raise MediaProblem("media-missing", f"media file '{ref}' is missing from the study folder")
    data = path.read_bytes()
    if len(data) > MAX_MEDIA_BYTES:
        raise MediaProblem(
            "media-unsafe", f"media file '{ref}' is larger than {MAX_MEDIA_BYTES // 1024} KB"
        )
    if content_type == "image/svg+xml":
        problems = svg_problems(data)
        if problems:
            raise MediaProblem(
                "media-unsafe", f"media file '{ref}' is refused: {'; '.join(problems)}"
            )
    elif not data.startswith(_MAGIC[content_type]):
        raise MediaProblem("media-unsafe", f"media file '{ref}' is not a {content_type} file")
    return MediaFile(
        ref=ref, content_type=content_type, data=data, sha256=hashlib.sha256(data).hexdigest()
    )
