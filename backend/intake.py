r"""What the app accepts as a request body, checked before any route parses it.

* **Size, per route class.** Every body is capped at :data:`JSON_MAX_BYTES`
  except on the few upload routes in :data:`UPLOAD_ROUTES`. A larger
  ``Content-Length`` is refused before the route runs; a
  ``Transfer-Encoding: chunked`` body (no length; gunicorn and the dev server
  de-chunk it and set ``wsgi.input_terminated``) is counted while anything reads
  it, JSON parser, form parser or route, and refused the moment it passes the
  cap. Either way the answer is 413 problem+json and nothing was parsed.
* **JSON the parser or the database cannot take.** A JSON body nested deeper
  than :data:`MAX_JSON_DEPTH` (Python's parser raises ``RecursionError`` long
  before memory runs out, which used to be a 500), and text with a lone UTF-16
  surrogate (``"\\ud800"`` is valid JSON but not Unicode; BSON cannot store it),
  are refused with 400 here, once for every JSON route. Malformed JSON is left to
  webargs, which answers 400 with its own field details.

Lone surrogates cannot arrive any other way: werkzeug decodes query strings,
paths and form fields as UTF-8 with replacement characters.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from consentkit.i18n import N_

#: JSON bodies of this API are small (the largest is a signature's strokes).
JSON_MAX_BYTES = 1024 * 1024
#: Room for the multipart envelope and form fields around an uploaded file.
MULTIPART_OVERHEAD = 64 * 1024
#: Deeper JSON is refused; no body of this API nests more than a few levels.
MAX_JSON_DEPTH = 32

TOO_DEEP = N_("The JSON body is nested too deeply.")
NOT_UNICODE = N_("The request contains text that is not valid Unicode.")


# Each upload route owns its documented limit; these read it when a request comes
# (late imports: the resources import this package while it is being built).
def _folder_zip() -> int:
    from consentkit.services.publishing import MAX_UPLOAD_BYTES

    return MAX_UPLOAD_BYTES


def _verify_pdf() -> int:
    from backend.resources.documents.routes import MAX_PDF_BYTES

    return MAX_PDF_BYTES


def _paper_scan() -> int:
    from backend.config import paper_scan_limit

    return paper_scan_limit()


#: Endpoint -> the largest body it accepts; every other route takes JSON_MAX_BYTES.
UPLOAD_ROUTES: dict[str, Callable[[], int]] = {
    "documents.VerifyViews": _verify_pdf,
    "forms_admin.ImportViews": _folder_zip,
    "staff_web.import_forms": lambda: _folder_zip() + MULTIPART_OVERHEAD,
    "sites.PaperConsentViews": lambda: _paper_scan() + MULTIPART_OVERHEAD,
    "staff_web.paper": lambda: _paper_scan() + MULTIPART_OVERHEAD,
}


def body_limit(endpoint: str | None) -> int:
    """Return the largest body ``endpoint`` accepts, in bytes."""
    limit = UPLOAD_ROUTES.get(endpoint or "")
    return limit() if limit else JSON_MAX_BYTES


def _refuse(message: str, error: str) -> BadRequest:
    exc = BadRequest()
    exc.data = {"message": message, "error": error}  # type: ignore[attr-defined]
    return exc


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_parsed(value: Any) -> None:
    """Walk a parsed JSON value without recursion; raise 400 on depth or bad Unicode."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                raise _refuse(NOT_UNICODE, "invalid-unicode")
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _refuse(TOO_DEEP, "bad-request")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


class _CappedInput(io.RawIOBase):
    """A body of unknown length (chunked) that refuses with 413 past ``limit`` bytes.

    werkzeug's own cap for such bodies (``max_content_length`` on a
    ``wsgi.input_terminated`` stream) stops reading at the limit without an
    error when the whole body is read at once (``LimitedStream.readall``), so a
    larger body would reach the route cut short instead of being refused.
    """

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            raise RequestEntityTooLarge()
        buffer[: len(data)] = data
        return len(data)


def check_request_body() -> None:
    """Cap the body at this route's limit; refuse JSON it cannot safely handle.

    Raises:
        RequestEntityTooLarge: the body is over the route's limit (413).
        BadRequest: JSON nested too deeply or carrying a lone surrogate (400).

    """
    limit = body_limit(request.endpoint)
    if request.content_length is None:
        # Chunked (or no body): count what is read. Before anything touches request.stream.
        request.environ["wsgi.input"] = _CappedInput(request.environ["wsgi.input"], limit)
    elif request.content_length > limit:
        raise RequestEntityTooLarge()  # said up front: refuse before any other work
    else:
        request.max_content_length = limit
    if not request.is_json:
        return
    data = request.get_data(cache=True)  # kept for the route's parser; 413 past the limit
    if not data:
        return
    try:
        parsed = json.loads(data)
    except RecursionError:
        raise _refuse(TOO_DEEP, "bad-request") from None
    except ValueError:
        return  # malformed: webargs answers 400 with its details
    _check_parsed(parsed)


def install(app: Flask) -> None:
    """Run :func:`check_request_body` before every request (and before any route parses)."""
    app.before_request(check_request_body)
